// The video grid: one tile per participant, us included, sized to fill the stage.
//
// Two layouts. With someone else in the room the page is a *stage*: one participant large
// (the one pinned by a click, else the dominant speaker the bridge announces) and everyone
// else in a strip below it. Alone, or with the stage turned off, equal tiles.
// Each remote tile's drawn height is what we ask the bridge for (room-view.js), and a tile
// whose video the bridge does not send (outside our last-N) shows the initials, not the
// frame it froze on.
//
// Remote audio plays through its own <audio> element while every <video> stays muted:
// muted video may always autoplay, so pictures appear even when the browser blocks sound
// until the user clicks (that case is reported through `onAudioBlocked`).

import { avatarFor } from './avatar.js';

const GAP_PX = 8;
const ASPECT = 16 / 9;
/** The strip under the stage: tiles at most this wide, and at most this share of the height. */
const STRIP_MAX_W = 240;
const STRIP_MAX_SHARE = 0.25;

export class Grid {
  /**
   * `onLayout()` is called after tiles were resized or the stage changed; `onPin(key)` when a
   * tile is clicked (the participant id, or 'self').
   */
  constructor(root, { onAudioBlocked, onLayout = () => {}, onPin = () => {} }) {
    this.root = root;
    this.onAudioBlocked = onAudioBlocked;
    this.onLayout = onLayout;
    this.onPin = onPin;
    /** Tiles by key: the participant id, or 'self' for us (our id changes on every reconnect). */
    this.tiles = new Map();
    this.speaker = null;
    /** The key of the tile on stage, or null for equal tiles. */
    this.stage = null;
    /** Whether the bridge sends a participant's video (its last-N); all until it says. */
    this.forwarded = () => true;
    /** Drawn tile heights by key (CSS pixels), from the last layout. */
    this.heights = new Map();
    new ResizeObserver(() => this.layout()).observe(root);
  }

  /** Make the tiles match the participant list (us first), creating and removing as needed. */
  sync(participants) {
    const keep = new Set();
    for (const p of participants) {
      const key = p.self ? 'self' : p.id;
      keep.add(key);
      const tile = this.tiles.get(key) || this.create(key, p);
      tile.participant = p;
      tile.el.dataset.participantId = p.self && p.id === 'self' ? '' : p.id;
      tile.name.textContent = p.self ? `${p.display_name} (you)` : p.display_name;
      tile.el.dataset.audioMuted = String(!!p.audio_muted);
      tile.el.dataset.videoMuted = String(!!p.video_muted);
      if (tile.avatarName !== p.display_name) {
        tile.avatarName = p.display_name;
        tile.avatar.replaceWith((tile.avatar = avatarFor(p.display_name, 'avatar')));
      }
      this.refreshVideo(tile);
    }
    for (const [key, tile] of this.tiles) {
      if (!keep.has(key)) this.remove(key, tile);
    }
    this.layout();
  }

  create(key, p) {
    const el = document.createElement('div');
    el.className = 'tile';
    el.dataset.self = String(!!p.self);
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true;
    video.addEventListener('resize', () => fitVideo(video));
    const label = document.createElement('div');
    label.className = 'label';
    const mic = document.createElement('span');
    mic.className = 'icon icon-mic-off mic-state';
    const name = document.createElement('span');
    name.className = 'name';
    label.append(mic, name);
    const avatar = avatarFor(p.display_name, 'avatar');
    el.append(video, avatar, label);
    el.addEventListener('click', () => this.onPin(key));
    const tile = { key, el, video, avatar, avatarName: p.display_name, name, audio: null, videoTrack: null, audioTrack: null, participant: p };
    if (!p.self) {
      tile.audio = document.createElement('audio');
      tile.audio.autoplay = true;
      el.append(tile.audio);
    }
    this.root.append(el);
    this.tiles.set(key, tile);
    return tile;
  }

  remove(key, tile) {
    tile.video.srcObject = null;
    if (tile.audio) tile.audio.srcObject = null;
    tile.el.remove();
    this.tiles.delete(key);
  }

  /** Our own picture: the camera (mirrored, as people expect a mirror) or the shared screen. */
  setLocalVideo(track, { mirrored }) {
    const tile = this.tiles.get('self');
    if (!tile) return;
    tile.el.classList.toggle('mirrored', mirrored);
    this.attachVideo(tile, track);
  }

  /** Remote tracks from the meeting: `[{ participant_id, kind, track }]`. */
  setRemote(list) {
    for (const [key, tile] of this.tiles) {
      if (key === 'self') continue;
      const mine = list.filter((t) => t.participant_id === key);
      this.attachVideo(tile, mine.find((t) => t.kind === 'video')?.track || null);
      this.attachAudio(tile, mine.find((t) => t.kind === 'audio')?.track || null);
    }
  }

  attachVideo(tile, track) {
    if (tile.videoTrack === track) return this.refreshVideo(tile);
    tile.videoTrack = track;
    tile.video.srcObject = track ? new MediaStream([track]) : null;
    if (track) {
      // A remote track is 'muted' while no frames arrive (publisher's camera off, layer paused).
      track.addEventListener('mute', () => this.refreshVideo(tile));
      track.addEventListener('unmute', () => this.refreshVideo(tile));
      track.addEventListener('ended', () => this.refreshVideo(tile));
      tile.video.play().catch(() => {});
    }
    this.refreshVideo(tile);
  }

  attachAudio(tile, track) {
    if (tile.audioTrack === track) return;
    tile.audioTrack = track;
    tile.audio.srcObject = track ? new MediaStream([track]) : null;
    if (track) {
      tile.audio.play().catch((e) => {
        if (e.name === 'NotAllowedError') this.onAudioBlocked();
      });
    }
  }

  /** Show the picture only when there is one to show; otherwise the initials. */
  refreshVideo(tile) {
    const t = tile.videoTrack;
    const sent = tile.key === 'self' || this.forwarded(tile.key);
    tile.el.dataset.forwarded = String(sent);
    const live = !!t && t.readyState === 'live' && !tile.participant.video_muted && sent && (tile.key === 'self' || !t.muted);
    tile.el.dataset.video = live ? 'on' : 'off';
  }

  /** `forwarded(id)`: whether the bridge sends that participant's video now. */
  setForwarded(forwarded) {
    this.forwarded = forwarded;
    for (const tile of this.tiles.values()) this.refreshVideo(tile);
  }

  /** Put a tile on stage (`key`: a participant id or 'self'), or none (null: equal tiles). */
  setStage(key) {
    const stage = key && this.tiles.has(key) ? key : null;
    if (stage === this.stage) return;
    this.stage = stage;
    this.layout();
  }

  /** Try every blocked <audio> again; call from a user gesture. */
  resumeAudio() {
    for (const tile of this.tiles.values()) {
      if (tile.audio?.srcObject) tile.audio.play().catch(() => {});
    }
  }

  setSpeaker(participantId, selfId) {
    const key = participantId && participantId === selfId ? 'self' : participantId;
    for (const [k, tile] of this.tiles) {
      const on = k === key;
      tile.el.classList.toggle('speaking', on);
      tile.el.dataset.speaking = String(on);
    }
  }

  /** Stage: the stage tile as large as fits above a strip of the others. Tiles: the column
   * count that makes 16:9 tiles largest in the space we have. */
  layout() {
    const n = this.tiles.size;
    this.root.dataset.count = String(n);
    if (this.stage && !this.tiles.has(this.stage)) this.stage = null;
    this.root.dataset.layout = this.stage ? 'stage' : 'tiles';
    for (const [key, tile] of this.tiles) {
      tile.el.classList.toggle('on-stage', key === this.stage);
      tile.el.dataset.onStage = String(key === this.stage);
    }
    if (!n) return;
    const { width, height } = this.root.getBoundingClientRect();
    if (!width || !height) return;
    if (this.stage) {
      const k = n - 1;
      let stripW = Math.min(STRIP_MAX_W, (width - GAP_PX * (k - 1)) / k, height * STRIP_MAX_SHARE * ASPECT);
      stripW = Math.max(Math.floor(stripW), 0);
      const stageH = k ? height - stripW / ASPECT - GAP_PX : height;
      const stageW = Math.floor(Math.max(Math.min(width, stageH * ASPECT), 0));
      this.root.style.setProperty('--tile-w', `${stripW}px`);
      this.root.style.setProperty('--stage-w', `${stageW}px`);
      this.heights = new Map([...this.tiles.keys()].map((key) => [key, (key === this.stage ? stageW : stripW) / ASPECT]));
      this.onLayout();
      return;
    }
    let best = { cols: 1, w: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = Math.min((width - GAP_PX * (cols - 1)) / cols, ((height - GAP_PX * (rows - 1)) / rows) * ASPECT);
      if (w > best.w) best = { cols, w };
    }
    this.root.style.setProperty('--tile-w', `${Math.floor(best.w)}px`);
    this.root.style.setProperty('--cols', String(best.cols));
    this.heights = new Map([...this.tiles.keys()].map((key) => [key, Math.floor(best.w) / ASPECT]));
    this.onLayout();
  }
}

/** Screens and phone cameras are not 16:9: show them whole instead of cropping. */
function fitVideo(video) {
  const { videoWidth: w, videoHeight: h } = video;
  if (!w || !h) return;
  video.classList.toggle('contain', Math.abs(w / h - ASPECT) > 0.25);
}
