// The data channel to the media bridge (docs/protocol.md §11): the bridge tells us who speaks
// (`dominant_speaker`) and whose video it sends us (`last_n`); we tell it what we show and
// how big (`constraints`), so it sends each picture at the size it is drawn.
//
// The channel is created before our first offer (so the offer has its m=application line)
// and opens once the bridge has answered. Constraints set before that are sent on open.

/** Heights we ask for: the bridge sends the tallest layer at or below the asked height, so
 * a tile is asked for at the next step up from its drawn height (as Jitsi Meet does). */
const HEIGHT_STEPS = [180, 360, 720, 1080, 2160];

/** The height to ask for a tile drawn `px` device pixels tall (0: not shown, no video). */
export function heightFor(px) {
  if (!(px > 0)) return 0;
  return HEIGHT_STEPS.find((h) => h >= px) ?? HEIGHT_STEPS[HEIGHT_STEPS.length - 1];
}

/**
 * Events (CustomEvent):
 * - `dominant`: detail is the dominant speaker's participant id.
 * - `lastn`: detail is the participant ids whose video the bridge sends us, most relevant first.
 * - `open`: the channel is open.
 */
export class BridgeChannel extends EventTarget {
  /** `pc`: the RTCPeerConnection, before its first offer. */
  constructor(pc) {
    super();
    this.dc = pc.createDataChannel('ponte');
    /** The constraints last asked for, as JSON text (sent again on open, never twice). */
    this.wanted = null;
    this.sent = null;
    this.dc.addEventListener('open', () => {
      this.flush();
      this.emit('open');
    });
    this.dc.addEventListener('message', (ev) => this.onMessage(ev.data));
  }

  get open() {
    return this.dc.readyState === 'open';
  }

  onMessage(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('bridge channel: not JSON', data);
      return;
    }
    if (msg.type === 'dominant_speaker' && typeof msg.participant_id === 'string') {
      this.emit('dominant', msg.participant_id);
    } else if (msg.type === 'last_n' && Array.isArray(msg.participant_ids)) {
      this.emit('lastn', msg.participant_ids.filter((id) => typeof id === 'string'));
    }
  }

  /**
   * Replace our constraints: `{ on_stage, max_height: { id: px }, default_max_height, last_n }`
   * (absent fields are left out). Sent only when they differ from the last ones sent.
   */
  setConstraints(c) {
    const msg = { type: 'constraints' };
    for (const k of ['on_stage', 'max_height', 'default_max_height', 'last_n']) {
      if (c[k] !== undefined && c[k] !== null) msg[k] = c[k];
    }
    this.wanted = JSON.stringify(msg);
    this.flush();
  }

  flush() {
    if (!this.open || !this.wanted || this.wanted === this.sent) return;
    try {
      this.dc.send(this.wanted);
      this.sent = this.wanted;
    } catch (e) {
      console.warn('bridge channel: send failed', e);
    }
  }

  close() {
    try {
      this.dc.close();
    } catch {
      /* already closed */
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
