// The meeting as the user sees it: who is here, what they said, what we send, and keeping
// all of that alive across dropped connections. It owns no DOM (room-view.js draws it).
//
// A meeting runs a chain of sessions (session.js). When one fails for a reason that
// waiting can fix (network, server restart, media server lost), the meeting says
// "Reconnecting…" and starts a new one after a backoff; local media, the chat history and
// the mute state carry over, the roster and remote tracks come fresh from the new session.
// When only the server went away (a restart), the session resumes itself: the meeting says
// "Reconnecting…" while media goes on, and nothing is rebuilt.

import { Session, SessionError } from './session.js';
import { SpeakerDetector } from './speaker.js';

/** Backoff between attempts; the last step repeats. Jittered so a room does not stampede back. */
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000];
/** Kept in memory for the chat panel; older lines drop off. */
const MAX_CHAT = 500;

/**
 * Phases: 'idle' → 'joining' → 'joined' ⇄ 'reconnecting' → 'ended' | 'failed'.
 *
 * Events (CustomEvent):
 * - `phase`: `{ phase, error, retryAt }` (error and retryAt while reconnecting).
 * - `roster`: the roster changed (read `meeting.participants()`).
 * - `remote`: the live incoming tracks changed (read `meeting.remote`).
 * - `chat`: detail is a new chat entry.
 * - `state`: WebSocket or ICE state changed (read `meeting.ws`, `meeting.ice`, `meeting.connection`).
 * - `speaker`: detail is the active speaker's participant id, or null.
 * - `dominant`: detail is the bridge's dominant speaker (participant id), or null.
 * - `lastn`: the set of participants whose video the bridge sends changed (read `meeting.lastN`).
 * - `notice`: `{ text, level }` for a toast ('info' | 'warn' | 'error'); `error` carries a server error message.
 * - `fatal`: detail is a SessionError that retrying cannot fix.
 * - `ended`: `{ reason, byUser }`.
 * - `backagain`: a reconnect or a resume succeeded.
 */
export class Meeting extends EventTarget {
  constructor({ room, displayName, token, media }) {
    super();
    this.room = room;
    this.displayName = displayName;
    this.token = token;
    this.media = media;

    this.phase = 'idle';
    this.session = null;
    this.participantId = null;
    /** Everyone else, by participant id, as the server describes them. */
    this.roster = new Map();
    this.chat = [];
    this.remote = [];
    this.ws = 'closed';
    this.ice = 'new';
    this.connection = 'new';
    this.activeSpeaker = null;
    /** Who the bridge says speaks (its data channel); drives the stage. */
    this.dominantSpeaker = null;
    /** Participant ids whose video the bridge sends us, or null before it has said. */
    this.lastN = null;
    /** What we last asked the bridge for, kept across reconnects. */
    this.constraints = null;
    this.attempts = 0;
    this.reconnects = 0;
    /** Signaling connections taken back after the server restarted (same media session). */
    this.resumes = 0;
    this.retryTimer = 0;
    this.lastError = null;
    /** Whether any session got as far as `welcome`: a retry before that is not a "reconnect". */
    this.everJoined = false;
    /** Set by a rejoin until its media connects, when we tell the user they are back. */
    this.awaitingBack = false;
    /** Mute state as the server last heard it in this session; we only send changes. */
    this.sentMute = { audio: null, video: null };

    this.speaker = new SpeakerDetector(
      () => this.speakerSources(),
      (id) => {
        this.activeSpeaker = id;
        this.emit('speaker', id);
      },
    );
    this.onTrackChange = (ev) => {
      this.session?.setTrack(ev.detail.kind, ev.detail.track);
      this.syncMute();
    };
    media.addEventListener('trackchange', this.onTrackChange);
    this.onOnline = () => {
      // Back online: no reason to sit out the rest of a long backoff.
      if (this.phase === 'reconnecting' && this.retryTimer) this.retryNow();
    };
    window.addEventListener('online', this.onOnline);
  }

  // ---- what we send ----

  get audioMuted() {
    return !(this.media.audioOn && this.media.audioTrack);
  }

  get videoMuted() {
    return !(this.media.sharing || (this.media.videoOn && this.media.cameraTrack));
  }

  /** Whether we are in the room with media flowing: what tests and the indicator call connected. */
  get connected() {
    return this.phase === 'joined' && this.ws === 'open' && this.connection === 'connected';
  }

  start() {
    this.attempt();
  }

  async attempt() {
    this.retryTimer = 0;
    this.attempts += 1;
    const mutedNow = () => ({ audioMuted: this.audioMuted, videoMuted: this.videoMuted });
    const s = new Session({ room: this.room, displayName: this.displayName, token: this.token, media: this.media, mutedNow });
    this.session = s;
    const mine = (fn) => (ev) => this.session === s && fn(ev.detail);
    s.addEventListener('state', mine((st) => this.setConnState(st)));
    s.addEventListener('welcome', mine((w) => this.applyWelcome(w)));
    s.addEventListener('message', mine((m) => this.onMessage(m)));
    s.addEventListener('remote', mine((r) => this.setRemote(r)));
    s.addEventListener('dominant', mine((id) => this.setDominant(id)));
    s.addEventListener('lastn', mine((ids) => this.setLastN(ids)));
    if (this.constraints) s.setConstraints(this.constraints);
    s.addEventListener('failed', mine((e) => this.established && this.onFailure(e)));
    // Our bridge died and the session sets up media with the new one: count it as a
    // reconnect once media is back.
    s.addEventListener('renegotiate', mine(() => {
      this.awaitingBack = true;
    }));
    // The server says bye on its own only when it drops us (slow, idle) or shuts down: all
    // passing, so we come back as after any other failure. After our own `leave` this
    // session is no longer ours and the bye is not heard here.
    s.addEventListener('resuming', mine((err) => {
      this.lastError = err;
      this.setPhase('reconnecting', { error: err });
    }));
    s.addEventListener('resumed', mine(({ audioMuted, videoMuted }) => this.onResumed(audioMuted, videoMuted)));
    s.addEventListener('bye', mine((reason) => this.onFailure(new SessionError('server_bye', reason || 'no reason given'))));
    this.established = false;
    if (this.phase !== 'reconnecting') this.setPhase('joining');

    const audioMuted = this.audioMuted;
    const videoMuted = this.videoMuted;
    try {
      await s.start({ audioMuted, videoMuted });
      if (this.session !== s) return;
      this.established = true;
      this.sentMute = { audio: audioMuted, video: videoMuted };
      // "Back" is announced, and the backoff reset, only once media flows (setConnState):
      // a server that welcomes us and then cannot place the room must not be retried every second.
      this.awaitingBack = this.everJoined;
      this.everJoined = true;
      this.setPhase('joined');
      this.speaker.start();
      this.syncMute(); // the user may have toggled while we were joining
      this.noteMediaUp();
    } catch (e) {
      if (this.session !== s) return;
      this.onFailure(e);
    }
  }

  onFailure(err) {
    if (this.phase === 'ended') return;
    this.lastError = err;
    this.setRemote([]);
    this.setLastN(null);
    this.setDominant(null);
    this.speaker.stop();
    if (!err.retryable) {
      this.session?.end();
      this.session = null;
      this.detach();
      this.setPhase('failed', { error: err });
      this.emit('fatal', err);
      return;
    }
    const step = BACKOFF_MS[Math.min(Math.max(this.attempts - 1, 0), BACKOFF_MS.length - 1)];
    const delay = Math.round(step * (0.8 + Math.random() * 0.4));
    this.setPhase('reconnecting', { error: err, retryAt: Date.now() + delay });
    this.retryTimer = setTimeout(() => this.attempt(), delay);
  }

  /** The server took our session back; media never stopped. */
  onResumed(audioMuted, videoMuted) {
    this.sentMute = { audio: audioMuted, video: videoMuted };
    this.resumes += 1;
    this.lastError = null;
    this.setPhase('joined');
    this.syncMute(); // toggled while the server was away
    this.emit('backagain');
  }

  retryNow() {
    if (this.phase !== 'reconnecting') return;
    clearTimeout(this.retryTimer);
    this.attempt();
  }

  applyWelcome(w) {
    this.participantId = w.participant_id;
    this.roster = new Map((w.roster || []).map((p) => [p.id, { ...p }]));
    this.emit('roster');
  }

  onMessage(m) {
    switch (m.type) {
      case 'participant_joined': {
        const p = m.participant;
        if (!p?.id || p.id === this.participantId) return;
        this.roster.set(p.id, { ...p });
        this.emit('roster');
        this.notice(`${p.display_name} joined`);
        return;
      }
      case 'participant_left': {
        const p = this.roster.get(m.participant_id);
        if (!p) return;
        this.roster.delete(m.participant_id);
        // The bridge will renegotiate their m-lines away; drop the tile now rather than wait.
        this.setRemote(this.remote.filter((t) => t.participant_id !== m.participant_id));
        this.emit('roster');
        this.notice(`${p.display_name} left`);
        return;
      }
      case 'mute_changed': {
        const p = this.roster.get(m.participant_id);
        if (!p) return;
        p[m.kind === 'audio' ? 'audio_muted' : 'video_muted'] = !!m.muted;
        this.emit('roster');
        return;
      }
      case 'chat':
        return this.receiveChat(m);
      case 'error':
        this.emit('notice', { level: 'error', error: m, text: m.message });
        return;
      default:
        console.debug('ignoring message', m.type);
    }
  }

  // ---- actions ----

  /** Turn the microphone or camera on/off. Returns a MediaError if capturing failed. */
  async setEnabled(kind, on) {
    const err = await this.media.setEnabled(kind, on);
    this.syncMute();
    this.emit('roster');
    return err;
  }

  async startShare() {
    await this.media.startScreenShare();
    this.syncMute();
    this.emit('roster');
  }

  stopShare() {
    this.media.stopScreenShare();
    this.syncMute();
    this.emit('roster');
  }

  /** Tell the room when what we send changed from what it last heard. */
  syncMute() {
    if (this.phase !== 'joined' || !this.session) return;
    for (const [kind, muted] of [
      ['audio', this.audioMuted],
      ['video', this.videoMuted],
    ]) {
      if (this.sentMute[kind] === muted) continue;
      if (this.session.send({ type: 'mute', kind, muted })) this.sentMute[kind] = muted;
    }
  }

  /** Tell the bridge what we show and how big (docs/protocol.md §11 `constraints`). */
  setConstraints(c) {
    this.constraints = c;
    this.session?.setConstraints(c);
  }

  /** Returns false when the message could not be sent (not connected). */
  sendChat(text) {
    text = text.trim();
    if (!text || this.phase !== 'joined') return false;
    if (!this.session?.send({ type: 'chat', text })) return false;
    // Shown at once; if the server echoes it back to us, the echo confirms this entry instead of repeating it.
    this.pushChat({
      from: this.participantId,
      display_name: this.displayName,
      text,
      ts_ms: Date.now(),
      self: true,
      pending: true,
    });
    return true;
  }

  receiveChat(m) {
    if (m.from === this.participantId) {
      const mine = this.chat.find((c) => c.self && c.pending && c.text === m.text);
      if (mine) {
        mine.pending = false;
        mine.ts_ms = m.ts_ms;
        return;
      }
    }
    this.pushChat({ ...m, self: m.from === this.participantId, pending: false });
  }

  pushChat(entry) {
    this.chat.push(entry);
    if (this.chat.length > MAX_CHAT) this.chat.splice(0, this.chat.length - MAX_CHAT);
    this.emit('chat', entry);
  }

  async leave() {
    if (this.phase === 'ended') return;
    clearTimeout(this.retryTimer);
    const s = this.session;
    this.session = null;
    await s?.leave();
    this.finish('You left the meeting.', true);
  }

  /** Best effort when the tab closes: no time to wait for `bye`. */
  leaveNow() {
    this.session?.send({ type: 'leave' });
  }

  finish(reason, byUser) {
    if (this.phase === 'ended') return;
    clearTimeout(this.retryTimer);
    this.session?.end();
    this.session = null;
    this.speaker.stop();
    this.setRemote([]);
    this.setConnState({ ws: 'closed', ice: 'closed', connection: 'closed' });
    this.detach();
    this.setPhase('ended');
    this.emit('ended', { reason, byUser });
  }

  /** A meeting that is over stops listening to the media and the network it shared. */
  detach() {
    this.media.removeEventListener('trackchange', this.onTrackChange);
    window.removeEventListener('online', this.onOnline);
  }

  // ---- state ----

  /** Everyone including us, us first. */
  participants() {
    const self = {
      id: this.participantId || 'self',
      display_name: this.displayName,
      audio_muted: this.audioMuted,
      video_muted: this.videoMuted,
      self: true,
    };
    return [self, ...this.roster.values()];
  }

  setRemote(list) {
    this.remote = list;
    this.emit('remote', list);
  }

  setDominant(id) {
    if (id === this.dominantSpeaker) return;
    this.dominantSpeaker = id;
    this.emit('dominant', id);
  }

  setLastN(ids) {
    this.lastN = ids;
    this.emit('lastn', ids);
  }

  /** Whether the bridge sends us this participant's video (true until it has said). */
  forwarded(id) {
    return !this.lastN || this.lastN.includes(id);
  }

  setConnState({ ws, ice, connection }) {
    if (ws === this.ws && ice === this.ice && connection === this.connection) return;
    Object.assign(this, { ws, ice, connection });
    this.noteMediaUp();
    this.emit('state');
  }

  /** Media flows in a joined session: reset the backoff, and say we are back if we were away. */
  noteMediaUp() {
    if (this.connection !== 'connected' || this.phase !== 'joined') return;
    this.attempts = 0;
    this.lastError = null;
    if (this.awaitingBack) {
      this.awaitingBack = false;
      this.reconnects += 1;
      this.emit('backagain');
    }
  }

  setPhase(phase, extra = {}) {
    this.phase = phase;
    this.emit('phase', { phase, ...extra });
  }

  speakerSources() {
    const list = this.remote
      .filter((t) => t.kind === 'audio' && !this.roster.get(t.participant_id)?.audio_muted)
      .map((t) => ({ id: t.participant_id, receiver: t.receiver }));
    const sender = this.session?.peer?.audioTx?.sender;
    if (sender && !this.audioMuted) list.push({ id: this.participantId, sender, local: true });
    return list;
  }

  notice(text, level = 'info') {
    this.emit('notice', { text, level });
  }

  /** A plain-data snapshot for `window.ponte.state()`. */
  snapshot() {
    return {
      participantId: this.participantId,
      room: this.room,
      displayName: this.displayName,
      phase: this.phase,
      connected: this.connected,
      wsState: this.ws,
      iceState: this.ice,
      connectionState: this.connection,
      audioMuted: this.audioMuted,
      videoMuted: this.videoMuted,
      sharing: this.media.sharing,
      activeSpeaker: this.activeSpeaker,
      dominantSpeaker: this.dominantSpeaker,
      lastN: this.lastN ? [...this.lastN] : null,
      constraints: this.constraints ? JSON.parse(JSON.stringify(this.constraints)) : null,
      simulcast: !!this.session?.peer?.simulcast,
      audioLevels: Object.fromEntries(this.speaker.levels),
      reconnects: this.reconnects,
      resumes: this.resumes,
      lastError: this.lastError ? { code: this.lastError.code, message: this.lastError.message } : null,
      roster: [...this.roster.values()].map((p) => ({ ...p })),
      chat: this.chat.map((c) => ({
        from: c.from,
        display_name: c.display_name,
        text: c.text,
        ts_ms: c.ts_ms,
        self: c.self,
      })),
      remote: this.remote.map((t) => ({
        participant_id: t.participant_id,
        kind: t.kind,
        mid: t.mid,
        track_id: t.track.id,
        ready_state: t.track.readyState,
        muted: t.track.muted,
      })),
    };
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
