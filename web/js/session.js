// One session: one WebSocket, one join, one RTCPeerConnection, one participant id.
//
// A session either runs until it is left, or fails (ICE failed, the server refused
// something) and is thrown away whole. Reconnecting is the meeting's job (meeting.js): it
// starts a fresh session, because the server gives a rejoin a new participant id and the
// bridge a new endpoint, so nothing of the old one can be reused. Two exceptions:
// - the bridge dies: the server says `renegotiate`, and the session keeps its signaling
//   connection and replaces only its peer connection;
// - the signaling connection closes without `bye` (the server restarted): the media session
//   still runs on its bridge, so the session keeps its peer connection, reconnects and sends
//   `join` with `resume` (docs/protocol.md, "Resuming"). Media never stops.

import { SignalingClient, signalingUrl } from './signaling.js';
import { Peer } from './peer.js';

/** The server may take a moment to place the room on a bridge, but not this long. */
const WELCOME_TIMEOUT_MS = 15_000;
/** Media that has not connected by then will not: usually UDP to the bridge is blocked. */
const MEDIA_CONNECT_TIMEOUT_MS = 20_000;
/** ICE 'disconnected' often heals by itself (a Wi-Fi blip); 'failed' or this long does not. */
const DISCONNECTED_GRACE_MS = 8_000;
/** How long a session whose signaling connection dropped keeps trying to take itself back. */
const RESUME_FOR_MS = 30_000;
/** Waits before each resume attempt; the last step repeats. */
const RESUME_BACKOFF_MS = [200, 400, 800, 1600, 2000];
/** Errors after which another resume attempt may succeed: the server is not back yet. */
const RESUME_RETRY_CODES = new Set(['unreachable', 'disconnected', 'timeout', 'unavailable']);

/** Error codes after which trying again cannot help without the user changing something. */
const FATAL_CODES = new Set([
  'room_full',
  'unauthorized',
  'invalid_field',
  'missing_field',
  'unsupported_version',
  'already_joined',
  'too_large',
  'bad_message',
  'unknown_type',
  'ended',
]);

/** A refusal from the server (an `error` message) or a failure of the session. Our own codes:
 * 'unreachable', 'disconnected', 'timeout', 'media_failed' (never connected), 'media_lost',
 * 'server_bye' (an unasked `bye`), 'ended' (a `bye` instead of `welcome`). */
export class SessionError extends Error {
  constructor(code, message, field) {
    super(message);
    this.name = 'SessionError';
    /** A protocol ErrorCode, or one of ours (see above). */
    this.code = code;
    this.field = field ?? null;
    this.retryable = !FATAL_CODES.has(code);
  }
}

/**
 * Events (CustomEvent):
 * - `welcome`: the server's `welcome`, before any roster message that follows it.
 * - `message`: a roster/chat/mute/error message from the server, for the meeting to apply.
 * - `remote`: the live incoming tracks (see Peer).
 * - `dominant`: the bridge's dominant speaker (a participant id), from its data channel.
 * - `lastn`: the participant ids whose video the bridge sends us now (bridge data channel).
 * - `state`: `{ ws, ice, connection }` whenever any of them changes.
 * - `failed`: detail is a SessionError; the session is dead and closed.
 * - `bye`: detail is the server's reason; the session is over and closed.
 * - `renegotiate`: the bridge died; a new peer connection is being set up (detail: reason).
 * - `resuming`: the signaling connection closed without `bye`; media goes on and the session
 *   reconnects to resume (detail: the SessionError that says why).
 * - `resumed`: the server took the session back: `{ audioMuted, videoMuted }` as the resuming
 *   `join` told it. A `welcome` with the same participant id came just before.
 */
export class Session extends EventTarget {
  /** `mutedNow()` says what we send now, for the `join` that resumes. */
  constructor({ room, displayName, token, media, mutedNow, url = signalingUrl() }) {
    super();
    this.opts = { room, displayName, token };
    this.media = media;
    this.mutedNow = mutedNow;
    this.url = url;
    this.sig = null;
    this.peer = null;
    this.participantId = null;
    this.over = false;
    this.mediaTimer = 0;
    this.graceTimer = 0;
    /** Whether media ever connected: a failure after that is a loss, not a blocked path. */
    this.wasConnected = false;
    /** Why the session failed, once it has. */
    this.failure = null;
    this.pendingWelcome = null;
    this.welcomed = false;
    /** Messages that arrived before `welcome`, replayed right after it. */
    this.early = [];
    this.timers = new Set();
    /** The constraints for the bridge, kept for a peer made after they were set. */
    this.constraints = null;
    /** The ICE password of our last offer: what proves to a restarted server that the
     * media session on the bridge is ours. */
    this.proof = null;
    /** Whether we are reconnecting to resume (the peer connection goes on meanwhile). */
    this.resuming = false;
  }

  get wsState() {
    return this.sig?.state ?? 'closed';
  }

  get iceState() {
    return this.peer?.pc.iceConnectionState ?? 'new';
  }

  get connectionState() {
    return this.peer?.pc.connectionState ?? 'new';
  }

  /**
   * Connect, join, and send our offer. Resolves with the `welcome` message once joined;
   * media connects afterwards (watch `state`). Rejects with a SessionError.
   */
  async start({ audioMuted, videoMuted }) {
    try {
      await this.connectSignaling();
    } catch (e) {
      this.over = true;
      throw e;
    }

    let welcome;
    try {
      welcome = await this.join(audioMuted, videoMuted);
    } catch (e) {
      this.end();
      throw e;
    }
    this.participantId = welcome.participant_id;
    try {
      await this.startMedia();
    } catch (e) {
      if (this.over) throw this.failure || new SessionError('disconnected', 'the session closed while starting');
      // The browser could not even make an offer (no codecs?); this will not get better.
      this.end();
      const err = new SessionError('negotiation_failed', `could not start media: ${e.message || e}`);
      err.retryable = false;
      throw err;
    }
    // The socket may have closed while we made the offer: `failed` was sent, but the caller
    // is still waiting on us, so it hears it here.
    if (this.over) throw this.failure || new SessionError('disconnected', 'the session closed while starting');
    return welcome;
  }

  /** A new signaling connection, which becomes this session's. Rejects with a SessionError. */
  async connectSignaling() {
    this.sig?.close(); // a resume attempt that timed out leaves its connection behind
    const sig = new SignalingClient(this.url);
    this.sig = sig;
    sig.addEventListener('statechange', () => this.sig === sig && this.emitState());
    sig.addEventListener('message', (ev) => this.sig === sig && this.onMessage(ev.detail));
    sig.addEventListener('close', (ev) => this.sig === sig && !ev.detail.expected && this.onSignalingLost(ev.detail));
    try {
      await sig.connect();
    } catch (e) {
      throw new SessionError('unreachable', e.message);
    }
  }

  /** Send `join` (with `resume` to take back a media session); resolves with `welcome`. */
  join(audioMuted, videoMuted, resume) {
    return new Promise((resolve, reject) => {
      const timer = this.after(WELCOME_TIMEOUT_MS, () => {
        this.pendingWelcome = null;
        reject(new SessionError('timeout', 'the server did not answer the join'));
      });
      this.pendingWelcome = {
        resolve: (w) => {
          this.clear(timer);
          resolve(w);
        },
        reject: (e) => {
          this.clear(timer);
          reject(e);
        },
      };
      const join = {
        type: 'join',
        room: this.opts.room,
        display_name: this.opts.displayName,
        audio_muted: audioMuted,
        video_muted: videoMuted,
      };
      if (this.opts.token) join.token = this.opts.token;
      if (resume) join.resume = resume;
      this.sig.send(join);
    });
  }

  async startMedia() {
    const peer = new Peer();
    this.peer = peer;
    peer.addEventListener('remote', (ev) => this.peer === peer && this.dispatch('remote', ev.detail));
    peer.channel.addEventListener('dominant', (ev) => this.peer === peer && this.dispatch('dominant', ev.detail));
    peer.channel.addEventListener('lastn', (ev) => this.peer === peer && this.dispatch('lastn', ev.detail));
    if (this.constraints) peer.channel.setConstraints(this.constraints);
    // A peer replaced by `renegotiate` has no say any more.
    peer.addEventListener('statechange', () => this.peer === peer && this.onPeerState());
    this.mediaTimer = this.after(MEDIA_CONNECT_TIMEOUT_MS, () => {
      if (peer.pc.connectionState !== 'connected') {
        this.fail(new SessionError('media_failed', 'audio and video could not connect to the media server'));
      }
    });
    const m = this.media;
    const sdp = await peer.offer(m.stream, m.audioTrack, m.outgoingVideo);
    this.proof = icePassword(sdp);
    this.sig.send({ type: 'offer', sdp });
  }

  onPeerState() {
    const state = this.peer.pc.connectionState;
    this.emitState();
    if (state === 'connected') {
      this.wasConnected = true;
      this.clear(this.mediaTimer);
      this.clear(this.graceTimer);
      this.graceTimer = 0;
    } else if (state === 'failed') {
      const code = this.wasConnected ? 'media_lost' : 'media_failed';
      this.fail(new SessionError(code, 'the media connection failed'));
    } else if (state === 'disconnected' && this.resuming) {
      // The server and the media path went away together: most likely the bridge is gone
      // too, and nothing is left to resume.
      this.fail(new SessionError('media_lost', 'the media connection was lost while the server was away'));
    } else if (state === 'disconnected' && !this.graceTimer) {
      this.graceTimer = this.after(DISCONNECTED_GRACE_MS, () => {
        this.graceTimer = 0;
        if (this.peer?.pc.connectionState !== 'connected') {
          this.fail(new SessionError('media_lost', 'the media connection was lost'));
        }
      });
    }
  }

  onMessage(msg) {
    switch (msg.type) {
      case 'welcome':
        // Dispatched here, synchronously, not when start() resolves: roster changes that
        // arrive while we make our offer must land on top of this roster, not under it.
        this.welcomed = true;
        this.dispatch('welcome', msg);
        this.early.splice(0).forEach((m) => this.dispatch('message', m));
        this.pendingWelcome?.resolve(msg);
        this.pendingWelcome = null;
        return;
      case 'error':
        return this.onError(msg);
      case 'answer':
        this.peer?.acceptAnswer(msg.sdp).catch((e) => this.negotiationFailed(e));
        return;
      case 'offer':
        this.peer
          ?.answerOffer(msg.sdp, msg.tracks)
          .then((sdp) => sdp && this.sig.send({ type: 'answer', sdp }))
          .catch((e) => this.negotiationFailed(e));
        return;
      case 'bye':
        if (this.pendingWelcome) {
          this.fail(new SessionError('ended', msg.reason || 'the server ended the session'));
          return;
        }
        this.end();
        this.dispatch('bye', msg.reason || '');
        return;
      case 'renegotiate':
        // Our bridge died and the room moved: same signaling session, new media session.
        this.renegotiate(msg.reason || '');
        return;
      case 'pong':
        return;
      default:
        // Nothing should precede `welcome`, but if a server ever lets a roster change
        // overtake it, hold it until the roster it changes exists.
        if (!this.welcomed) this.early.push(msg);
        else this.dispatch('message', msg);
    }
  }

  onError(msg) {
    const err = new SessionError(msg.code, msg.message || msg.code, msg.field);
    if (this.pendingWelcome) {
      // Any error before `welcome` is the answer to our join; whoever sent it decides.
      this.pendingWelcome.reject(err);
      this.pendingWelcome = null;
      return;
    }
    // Our offer could not be placed or answered: this session will never carry media, so
    // start over (the meeting backs off) instead of waiting for the media timeout.
    if (msg.code === 'negotiation_failed' || msg.code === 'unavailable') {
      this.fail(err);
      return;
    }
    // Other errors (rate_limited, a refused chat) leave the session running.
    this.dispatch('message', msg);
  }

  negotiationFailed(e) {
    console.error('negotiation failed', e);
    this.fail(new SessionError('negotiation_failed', `negotiation failed: ${e.message || e}`));
  }

  /** Replace the peer connection with a new one (same local tracks) and offer afresh. */
  async renegotiate(reason) {
    if (this.over) return;
    console.info('renegotiating with a new bridge:', reason);
    this.dispatch('renegotiate', reason);
    this.clear(this.mediaTimer);
    this.clear(this.graceTimer);
    this.graceTimer = 0;
    const old = this.peer;
    this.peer = null;
    old?.close();
    try {
      await this.startMedia();
    } catch (e) {
      this.negotiationFailed(e);
    }
  }

  /** The signaling connection closed without `bye`. */
  onSignalingLost({ code }) {
    const err = new SessionError('disconnected', `the connection to the server closed (${code})`);
    if (this.pendingWelcome) {
      // A join (first or resuming) in flight: its caller hears it.
      this.pendingWelcome.reject(err);
      this.pendingWelcome = null;
      return;
    }
    const state = this.peer?.pc.connectionState;
    if (!this.welcomed || !this.proof || this.resuming || !['new', 'connecting', 'connected'].includes(state)) {
      this.fail(err);
      return;
    }
    this.resume(err);
  }

  /** Reconnect and take our media session back, which runs on meanwhile. */
  async resume(why) {
    console.info('signaling lost; resuming our media session:', why.message);
    this.resuming = true;
    this.dispatch('resuming', why);
    this.emitState();
    const deadline = Date.now() + RESUME_FOR_MS;
    for (let i = 0; ; i += 1) {
      await new Promise((resolve) => this.after(RESUME_BACKOFF_MS[Math.min(i, RESUME_BACKOFF_MS.length - 1)], resolve));
      if (this.over) return;
      if (Date.now() > deadline) {
        this.fail(new SessionError('disconnected', `the server did not take our session back within ${RESUME_FOR_MS / 1000} s`));
        return;
      }
      const { audioMuted, videoMuted } = this.mutedNow?.() ?? { audioMuted: false, videoMuted: false };
      try {
        await this.connectSignaling();
        if (this.over) return;
        const welcome = await this.join(audioMuted, videoMuted, { participant_id: this.participantId, proof: this.proof });
        if (welcome.participant_id !== this.participantId) throw new SessionError('resume_failed', 'the server gave us a new participant id');
      } catch (e) {
        if (this.over) return;
        if (RESUME_RETRY_CODES.has(e.code)) continue;
        // Refused (`resume_failed`: the bridge lost our endpoint, or the server already saw
        // us leave): this media session is over; the meeting joins afresh.
        this.fail(e);
        return;
      }
      this.resuming = false;
      this.emitState();
      // Our incoming tracks never stopped; say so again in case anything forgot them meanwhile.
      this.peer?.publishRemote();
      this.dispatch('resumed', { audioMuted, videoMuted });
      return;
    }
  }

  /** What we show and how big, for the bridge (sent when its data channel is open). */
  setConstraints(c) {
    this.constraints = c;
    this.peer?.channel.setConstraints(c);
  }

  /** A swap of outgoing track, passed to the peer (no renegotiation). */
  setTrack(kind, track) {
    return this.peer?.setTrack(kind, track).catch((e) => console.warn('replaceTrack failed', e));
  }

  send(msg) {
    return !this.over && this.sig.send(msg);
  }

  /** Leave politely: say so, wait briefly for `bye`, then close whatever is left. */
  async leave() {
    if (this.over) return;
    this.sig.send({ type: 'leave' });
    await new Promise((resolve) => {
      this.addEventListener('bye', resolve, { once: true });
      this.sig.addEventListener('close', resolve, { once: true });
      setTimeout(resolve, 1000);
    });
    this.end();
  }

  fail(err) {
    if (this.over) return;
    this.failure = err;
    const pending = this.pendingWelcome;
    this.pendingWelcome = null;
    this.end();
    pending?.reject(err);
    // Before the first `welcome` the caller of start() hears it from the rejection alone.
    if (this.welcomed) this.dispatch('failed', err);
  }

  /** Close everything without telling anyone; idempotent. */
  end() {
    if (this.over) return;
    this.over = true;
    this.timers.forEach(clearTimeout);
    this.timers.clear();
    this.sig?.close();
    this.peer?.close();
    this.emitState();
  }

  after(ms, fn) {
    const id = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    this.timers.add(id);
    return id;
  }

  clear(id) {
    if (!id) return;
    clearTimeout(id);
    this.timers.delete(id);
  }

  emitState() {
    this.dispatch('state', { ws: this.wsState, ice: this.iceState, connection: this.connectionState });
  }

  dispatch(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** The `a=ice-pwd:` of an SDP (bundled: every m-line has the same), or null. */
export function icePassword(sdp) {
  return /^a=ice-pwd:(\S+)/m.exec(sdp)?.[1] ?? null;
}
