// The meeting screen: draws a Meeting (grid, people, chat, status) and turns clicks into
// meeting actions. All state lives in the Meeting; this file only reads it and reacts.

import { Grid } from './grid.js';
import { renderParticipants, markSpeaker } from './participants.js';
import { ChatPanel } from './chat.js';
import { Banner, renderConnection, toast } from './status.js';
import { describeMediaErrors, describeSessionError } from './errors.js';
import { fillDeviceSelect } from './media.js';
import { setPressed } from './lobby.js';
import { heightFor } from './bridge-channel.js';

const $ = (id) => document.getElementById(id);

export class RoomView {
  /**
   * One view for the page's lifetime: DOM listeners are wired once, and each new Meeting
   * (a join after a refusal, a rejoin) is attached to it.
   * `onFatal(err)` and `onEnded({ reason, byUser })` hand control back to the app.
   */
  constructor(media, { onFatal, onEnded }) {
    this.m = null;
    this.media = media;
    this.handlers = { onFatal, onEnded };
    this.unread = 0;
    this.side = null; // 'people' | 'chat' | null
    /** The participant the user clicked to keep on stage, or null (the dominant speaker). */
    this.pinned = null;
    /** Who was on stage last: kept there while nobody newer speaks. */
    this.staged = null;
    this.grid = new Grid($('grid'), {
      onAudioBlocked: () => ($('enable-sound').hidden = false),
      onLayout: () => this.sendConstraints(),
      onPin: (key) => this.pin(key),
    });
    this.banner = new Banner($('banner'));
    this.chat = new ChatPanel({
      log: $('chat-log'),
      form: $('chat-form'),
      input: $('chat-input'),
      onSend: (text) => !!this.m?.sendChat(text),
      onUnsent: () => toast('Not connected — your message was not sent. It is still in the box.', 'warn'),
    });
    this.wireControls();
    this.media.addEventListener('trackchange', () => this.m && this.renderLocal());
    this.media.addEventListener('screenended', () => {
      this.m?.stopShare();
      if (this.m) this.renderControls();
    });
    this.media.addEventListener('devicechange', () => this.renderDevices());
  }

  attach(meeting) {
    this.m = meeting;
    this.unread = 0;
    this.pinned = null;
    this.staged = null;
    this.grid.setForwarded((id) => meeting.forwarded(id));
    this.grid.sync([]);
    this.listen(meeting);
  }

  show() {
    $('meeting').hidden = false;
    $('room-name').textContent = this.m.room;
    document.title = `${this.m.room} · Ponte`;
    $('chat-log').replaceChildren();
    this.m.chat.forEach((c) => this.chat.add(c));
    this.renderAll();
    // Narrow screens have no room for a side panel next to the videos.
    if (window.matchMedia('(min-width: 900px)').matches) this.openSide('people');
  }

  hide() {
    $('meeting').hidden = true;
    this.banner.hide();
  }

  listen(m) {
    const { onFatal, onEnded } = this.handlers;
    // A meeting that is no longer attached (left, refused) may still emit its last events.
    const on = (type, fn) => m.addEventListener(type, (ev) => this.m === m && fn(ev.detail));
    on('roster', () => this.renderPeople());
    on('dominant', () => this.renderStage());
    on('lastn', () => this.grid.setForwarded((id) => m.forwarded(id)));
    on('remote', () => this.grid.setRemote(m.remote));
    on('state', () => this.renderStatus());
    on('speaker', (id) => {
      this.grid.setSpeaker(id, m.participantId);
      markSpeaker($('participants'), id);
    });
    on('chat', (entry) => this.onChat(entry));
    on('phase', (p) => this.onPhase(p));
    on('backagain', () => toast('Reconnected — you are back in the meeting.', 'info'));
    on('notice', ({ text, level, error }) => toast(error ? describeSessionError(error) : text, level));
    on('fatal', (err) => onFatal(err));
    on('ended', (info) => onEnded(info));
  }

  onPhase({ phase, error, retryAt }) {
    this.renderStatus();
    if (phase === 'reconnecting') {
      const why = describeSessionError(error);
      const lead = this.m.everJoined ? 'Reconnecting…' : 'Could not join yet.';
      this.banner.show(`${lead} ${why}`, { until: retryAt });
    } else {
      this.banner.hide();
    }
    if (phase === 'joined') this.renderAll();
  }

  onChat(entry) {
    this.chat.add(entry);
    if (this.side === 'chat' || entry.self) return;
    this.unread += 1;
    this.renderUnread();
  }

  wireControls() {
    $('mute-audio').addEventListener('click', () => this.toggle('audio'));
    $('mute-video').addEventListener('click', () => this.toggle('video'));
    $('share').addEventListener('click', () => this.toggleShare());
    $('leave').addEventListener('click', () => this.m?.leave());
    $('toggle-people').addEventListener('click', () => this.openSide(this.side === 'people' ? null : 'people'));
    $('toggle-chat').addEventListener('click', () => this.openSide(this.side === 'chat' ? null : 'chat'));
    $('tab-people').addEventListener('click', () => this.openSide('people'));
    $('tab-chat').addEventListener('click', () => this.openSide('chat'));
    $('side-close').addEventListener('click', () => this.openSide(null));
    $('enable-sound').addEventListener('click', () => {
      this.grid.resumeAudio();
      $('enable-sound').hidden = true;
    });
    $('settings').addEventListener('click', () => {
      this.renderDevices();
      $('settings-dialog').showModal();
    });
    for (const select of [$('settings-camera'), $('settings-mic')]) {
      select.addEventListener('change', async () => {
        const err = await this.media.useDevice(select.dataset.kind, select.value);
        if (err) toast(describeMediaErrors([err], 'meeting'), 'error');
      });
    }
    document.addEventListener('keydown', (ev) => {
      if ($('meeting').hidden || !this.m || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.target.closest?.('input, textarea, select, dialog')) return;
      if (ev.key === 'm' || ev.key === 'M') this.toggle('audio');
      if (ev.key === 'v' || ev.key === 'V') this.toggle('video');
    });
  }

  async toggle(kind) {
    if (!this.m) return;
    const on = kind === 'audio' ? this.m.audioMuted : !this.media.videoOn || !this.media.cameraTrack;
    const err = await this.m.setEnabled(kind, on);
    if (err) toast(describeMediaErrors([err], 'meeting'), 'error');
    this.renderControls();
    this.renderLocal();
  }

  async toggleShare() {
    if (!this.m) return;
    if (this.media.sharing) {
      this.m.stopShare();
    } else {
      try {
        await this.m.startShare();
      } catch (e) {
        // Cancelling the browser's picker is a NotAllowedError too; that needs no message.
        if (e.name !== 'NotAllowedError' && e.name !== 'AbortError') {
          toast(`Screen sharing did not start: ${e.message || e.name}`, 'error');
        }
      }
    }
    this.renderControls();
    this.renderLocal();
  }

  openSide(which) {
    this.side = which;
    $('side').hidden = !which;
    $('panel-people').hidden = which !== 'people';
    $('panel-chat').hidden = which !== 'chat';
    $('tab-people').setAttribute('aria-selected', String(which === 'people'));
    $('tab-chat').setAttribute('aria-selected', String(which === 'chat'));
    setPressed($('toggle-people'), which === 'people');
    setPressed($('toggle-chat'), which === 'chat');
    if (which === 'chat') {
      this.unread = 0;
      this.renderUnread();
      $('chat-input').focus({ preventScroll: true });
    }
    this.grid.layout();
  }

  renderAll() {
    this.renderPeople();
    this.grid.setRemote(this.m.remote);
    this.renderLocal();
    this.renderStatus();
    this.renderControls();
  }

  /** Click on a tile: keep that participant on stage; a second click lets the speaker back. */
  pin(key) {
    if (!this.m || key === 'self') return;
    this.pinned = this.pinned === key ? null : key;
    this.renderStage();
  }

  /**
   * Who is large: the pinned participant, else the dominant speaker the bridge announced
   * (never us: nobody needs to see themselves large), else whoever was large before, else
   * the first other participant. Nobody else in the room: equal tiles.
   */
  renderStage() {
    const others = new Set(this.m.roster.keys());
    if (this.pinned && !others.has(this.pinned)) this.pinned = null;
    const dominant = this.m.dominantSpeaker;
    let stage = this.pinned;
    if (!stage && dominant && others.has(dominant)) stage = dominant;
    if (!stage && this.staged && others.has(this.staged)) stage = this.staged;
    if (!stage) stage = others.values().next().value ?? null;
    this.staged = stage;
    $('grid').dataset.pinned = String(!!this.pinned);
    this.grid.setStage(stage);
    this.sendConstraints();
  }

  /** Ask the bridge for each remote picture at the size it is drawn, the stage one first. */
  sendConstraints() {
    if (!this.m) return;
    const scale = window.devicePixelRatio || 1;
    const maxHeight = {};
    for (const [key, h] of this.grid.heights) {
      if (key !== 'self') maxHeight[key] = heightFor(h * scale);
    }
    this.m.setConstraints({ on_stage: this.grid.stage, max_height: maxHeight });
  }

  renderPeople() {
    const people = this.m.participants();
    this.grid.sync(people);
    this.renderStage();
    this.grid.setRemote(this.m.remote);
    this.renderLocal();
    renderParticipants($('participants'), people, this.m.activeSpeaker);
    $('people-count').textContent = String(people.length);
  }

  renderLocal() {
    this.grid.sync(this.m.participants());
    const track = this.media.outgoingVideo;
    this.grid.setLocalVideo(track, { mirrored: !this.media.sharing });
    this.renderControls();
  }

  renderControls() {
    const audioMuted = this.m.audioMuted;
    const videoOff = !(this.media.videoOn && this.media.cameraTrack);
    setPressed($('mute-audio'), audioMuted);
    $('mute-audio').querySelector('.label').textContent = audioMuted ? 'Unmute' : 'Mute';
    setPressed($('mute-video'), videoOff);
    $('mute-video').querySelector('.label').textContent = videoOff ? 'Start video' : 'Stop video';
    $('share').setAttribute('aria-pressed', String(this.media.sharing));
    $('share').querySelector('.label').textContent = this.media.sharing ? 'Stop sharing' : 'Share';
    // getDisplayMedia is missing on most phones; hide what cannot work.
    $('share').hidden = !navigator.mediaDevices?.getDisplayMedia;
  }

  renderStatus() {
    renderConnection($('conn-state'), $('conn-text'), this.m);
  }

  renderUnread() {
    const badge = $('chat-badge');
    badge.hidden = this.unread === 0;
    badge.textContent = this.unread > 99 ? '99+' : String(this.unread);
    $('chat-unread').hidden = this.unread === 0;
    $('chat-unread').textContent = badge.textContent;
  }

  renderDevices() {
    fillDeviceSelect($('settings-camera'), this.media.devices, this.media.deviceIds.videoinput);
    fillDeviceSelect($('settings-mic'), this.media.devices, this.media.deviceIds.audioinput);
  }
}
