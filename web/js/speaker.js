// Active speaker detection from WebRTC statistics.
//
// The browser already measures the level of every incoming audio track (inbound-rtp
// `audioLevel`, fed by the RFC 6464 header extension or the decoder) and of our microphone
// (media-source `audioLevel`). Polling getStats is far cheaper than a WebAudio analyser per
// remote stream, and it works while the page's audio is still blocked by autoplay rules.

const POLL_MS = 300;
/** audioLevel is linear 0..1; quiet speech sits around 0.02–0.05, room noise below 0.01. */
const SPEAKING_LEVEL = 0.03;
/** Keep the highlight through the short pauses between words so it does not flicker. */
const HOLD_MS = 1200;

/**
 * `sources()` returns what to measure now: `[{ id, receiver }]` for remote audio and
 * `{ id, sender, local: true }` for our own microphone (left out while muted).
 * `onChange(id | null)` is called when the active speaker changes.
 */
export class SpeakerDetector {
  constructor(sources, onChange) {
    this.sources = sources;
    this.onChange = onChange;
    this.active = null;
    this.lastLoudAt = 0;
    /** Last measured level per participant id, exposed for tests and the level meters. */
    this.levels = new Map();
    this.timer = 0;
    this.busy = false;
  }

  start() {
    if (!this.timer) this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
    this.levels.clear();
    this.set(null);
  }

  async poll() {
    if (this.busy) return; // a slow getStats must not pile up calls
    this.busy = true;
    try {
      const list = this.sources();
      const measured = await Promise.all(list.map((s) => measure(s).then((level) => [s.id, level])));
      this.levels = new Map(measured);
      this.pick(measured);
    } finally {
      this.busy = false;
    }
  }

  pick(measured) {
    let loudest = null;
    let best = SPEAKING_LEVEL;
    for (const [id, level] of measured) {
      if (level > best) {
        best = level;
        loudest = id;
      }
    }
    const now = Date.now();
    if (loudest) {
      this.lastLoudAt = now;
      this.set(loudest);
    } else if (now - this.lastLoudAt > HOLD_MS) {
      this.set(null);
    }
  }

  set(id) {
    if (id === this.active) return;
    this.active = id;
    this.onChange(id);
  }
}

async function measure(source) {
  try {
    const report = await (source.local ? source.sender : source.receiver).getStats();
    const wanted = source.local ? 'media-source' : 'inbound-rtp';
    for (const s of report.values()) {
      if (s.type === wanted && s.kind === 'audio' && typeof s.audioLevel === 'number') return s.audioLevel;
    }
  } catch {
    /* the transceiver was stopped between listing and measuring */
  }
  return 0;
}
