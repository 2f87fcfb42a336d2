// The one RTCPeerConnection to the bridge, and its SDP negotiation.
//
// Roles are fixed: we offer once, with our own audio and video (sendonly); afterwards only
// the bridge offers (whenever other participants' tracks come or go) and we answer. The
// bridge is ICE-lite and lists its candidates in its SDP, so there are no ICE servers and no
// trickle: it learns our address from our connectivity checks.
//
// Incoming tracks are mapped to participants by m-line: every bridge offer carries a
// `tracks` list of {mid, participant_id, kind}. The msid stream id is the participant id too,
// which we keep as a fallback if a mid is missing from the list.
//
// The peer connection also carries the data channel to the bridge (bridge-channel.js), and
// our camera goes out as simulcast (three encodings, rids q/h/f at 1/4, 1/2 and full size)
// when it captures at 720p or more, so the bridge can send each receiver the size it shows.

import { BridgeChannel } from './bridge-channel.js';

/** Host candidates gather in milliseconds; never let a slow interface delay the join longer. */
const GATHER_LIMIT_MS = 500;
/** Cameras at least this tall are sent as three layers; below it the small ones are too small. */
const SIMULCAST_MIN_HEIGHT = 720;
/** Lowest first, as docs/protocol.md §11 names them. */
const SIMULCAST_ENCODINGS = [
  { rid: 'q', scaleResolutionDownBy: 4 },
  { rid: 'h', scaleResolutionDownBy: 2 },
  { rid: 'f', scaleResolutionDownBy: 1 },
];

/** The encodings for a camera track: simulcast when it is big enough, else the browser's one. */
export function sendEncodingsFor(track) {
  const height = track?.getSettings?.().height || 0;
  return height >= SIMULCAST_MIN_HEIGHT ? SIMULCAST_ENCODINGS.map((e) => ({ ...e })) : undefined;
}

/**
 * Events (CustomEvent):
 * - `remote`: detail is the live incoming tracks, `[{ mid, participant_id, kind, track, receiver }]`,
 *   sent after every negotiation that may have changed them.
 * - `statechange`: detail `{ ice, connection }` (iceConnectionState, connectionState).
 */
export class Peer extends EventTarget {
  constructor() {
    super();
    this.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    this.audioTx = null;
    this.videoTx = null;
    /** The latest `tracks` list from the bridge, by mid. */
    this.trackInfo = new Map();
    /** Stream ids (msid) seen in `track` events, by mid: the fallback participant id. */
    this.msidByMid = new Map();
    /** Negotiation steps run one at a time, in the order the server sent them. */
    this.queue = Promise.resolve();
    this.closed = false;
    /** Whether our video goes out as simulcast (decided at the first offer). */
    this.simulcast = false;
    // Created before the first offer, so that offer has the m=application line.
    this.channel = new BridgeChannel(this.pc);

    this.pc.addEventListener('track', (ev) => {
      const mid = ev.transceiver?.mid;
      if (mid && ev.streams[0]) this.msidByMid.set(mid, ev.streams[0].id);
    });
    const onState = () =>
      this.emit('statechange', { ice: this.pc.iceConnectionState, connection: this.pc.connectionState });
    this.pc.addEventListener('iceconnectionstatechange', onState);
    this.pc.addEventListener('connectionstatechange', onState);
  }

  /**
   * Add our audio and video and make the first offer. Both m-lines are always offered, even
   * without a track (the user joined with the camera refused or off): a sender without a track
   * sends nothing, and turning the camera on later is a replaceTrack, not a renegotiation.
   * Simulcast is decided here too, from the camera's size: encodings cannot be added later
   * without renegotiating, so a camera turned on after joining goes out as one encoding.
   * Returns the offer's SDP.
   */
  async offer(stream, audioTrack, videoTrack) {
    this.audioTx = this.pc.addTransceiver(audioTrack || 'audio', { direction: 'sendonly', streams: [stream] });
    const sendEncodings = sendEncodingsFor(videoTrack);
    this.simulcast = !!sendEncodings;
    this.videoTx = this.pc.addTransceiver(videoTrack || 'video', {
      direction: 'sendonly',
      streams: [stream],
      ...(sendEncodings ? { sendEncodings } : {}),
    });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.gathered();
    return this.pc.localDescription.sdp;
  }

  /** The bridge's answer to our offer. */
  acceptAnswer(sdp) {
    return this.enqueue(async () => {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
      this.publishRemote();
    });
  }

  /** A renegotiation from the bridge. Resolves to our answer's SDP. */
  answerOffer(sdp, tracks) {
    return this.enqueue(async () => {
      this.trackInfo = new Map((tracks || []).map((t) => [t.mid, t]));
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      this.publishRemote();
      return this.pc.localDescription.sdp;
    });
  }

  /** Swap what a sender carries (device switch, screen share, camera captured late). */
  async setTrack(kind, track) {
    const tx = kind === 'audio' ? this.audioTx : this.videoTx;
    if (!tx || this.closed) return;
    await tx.sender.replaceTrack(track || null);
  }

  /** The incoming tracks that are live now: m-lines neither stopped nor inactive. */
  remoteTracks() {
    const out = [];
    for (const tx of this.pc.getTransceivers()) {
      if (tx === this.audioTx || tx === this.videoTx || !tx.mid) continue;
      // `stopped` is gone from newer Chrome, where a stopped transceiver reports currentDirection 'stopped'.
      if (tx.stopped || tx.currentDirection === 'stopped' || tx.currentDirection === 'inactive') continue;
      if (tx.currentDirection && !tx.currentDirection.includes('recv')) continue;
      const info = this.trackInfo.get(tx.mid);
      const participant = info?.participant_id || this.msidByMid.get(tx.mid);
      if (!participant) continue;
      out.push({
        mid: tx.mid,
        participant_id: participant,
        kind: info?.kind || tx.receiver.track.kind,
        track: tx.receiver.track,
        receiver: tx.receiver,
      });
    }
    return out;
  }

  publishRemote() {
    this.emit('remote', this.remoteTracks());
  }

  close() {
    this.closed = true;
    this.channel.close();
    try {
      this.pc.close();
    } catch {
      /* already closed */
    }
  }

  enqueue(step) {
    const run = this.queue.then(() => (this.closed ? undefined : step()));
    // A failed step must not wedge the queue for the next one; the caller still sees the error.
    this.queue = run.catch(() => {});
    return run;
  }

  gathered() {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (this.pc.iceGatheringState !== 'complete') return;
        this.pc.removeEventListener('icegatheringstatechange', done);
        resolve();
      };
      this.pc.addEventListener('icegatheringstatechange', done);
      setTimeout(resolve, GATHER_LIMIT_MS);
    });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
