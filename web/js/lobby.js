// The lobby: room and name, a camera and microphone check, and device choice.

import { fillDeviceSelect } from './media.js';
import { avatarFor } from './avatar.js';
import { checkDisplayName, checkRoom, describeMediaErrors } from './errors.js';

const NAME_KEY = 'ponte.name';
const $ = (id) => document.getElementById(id);

export class Lobby {
  /** `onJoin({ room, name })` is called when the user joins; it may throw to show an error. */
  constructor(media, { room, name }, onJoin) {
    this.media = media;
    this.onJoin = onJoin;
    this.meter = null;
    this.started = false;
    /** What the error line shows: 'media' (capture failed), 'join' (a refusal or bad input), or null. */
    this.errorKind = null;

    $('room-input').value = room || '';
    $('name-input').value = name || rememberedName();
    if (room) {
      $('lobby-title').textContent = `Join “${room}”`;
    } else {
      $('room-input').placeholder = suggestRoom();
    }

    $('join-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    $('join-without-media').addEventListener('click', async () => {
      await media.setCaptured('audio', false);
      await media.setCaptured('video', false);
      this.renderPreview();
      this.submit();
    });
    $('retry-media').addEventListener('click', () => {
      media.audioOn = true;
      media.videoOn = true;
      this.startMedia();
    });
    $('preview-audio').addEventListener('click', () => this.toggle('audio'));
    $('preview-video-toggle').addEventListener('click', () => this.toggle('video'));
    for (const select of [$('camera-select'), $('mic-select')]) {
      select.addEventListener('change', async () => {
        const err = await media.useDevice(select.dataset.kind, select.value);
        this.showMediaErrors(err ? [err] : []);
        this.renderPreview();
      });
    }
    media.addEventListener('devicechange', () => this.renderDevices());
    media.addEventListener('trackchange', () => this.renderPreview());
  }

  show() {
    document.getElementById('lobby').hidden = false;
    this.renderPreview();
    if (!this.started) {
      this.started = true;
      this.startMedia();
    }
    const empty = ['room-input', 'name-input'].map($).find((i) => !i.value);
    (empty || $('join')).focus();
  }

  hide() {
    document.getElementById('lobby').hidden = true;
    this.stopMeter();
  }

  async startMedia() {
    this.setBusy(true, 'Starting camera…');
    const errors = await this.media.start();
    this.setBusy(false);
    this.showMediaErrors(errors);
    this.renderPreview();
    await this.media.refreshDevices();
  }

  async toggle(kind) {
    const on = kind === 'audio' ? !this.media.audioOn : !this.media.videoOn;
    const err = await this.media.setCaptured(kind, on);
    this.showMediaErrors(err ? [err] : []);
    this.renderPreview();
  }

  submit() {
    const room = $('room-input').value.trim() || $('room-input').placeholder;
    const name = $('name-input').value.trim();
    const problem = checkRoom(room) || checkDisplayName(name);
    if (problem) {
      this.showError(problem);
      return;
    }
    rememberName(name);
    this.showError('');
    this.setBusy(true, 'Joining…');
    this.onJoin({ room, name });
  }

  /** Back from a failed join: show why, and let the user try again. */
  fail(message, { mediaActions = false } = {}) {
    this.setBusy(false);
    this.showError(message, mediaActions);
  }

  /** Media errors replace each other, but never hide a refusal from the server. */
  showMediaErrors(errors) {
    const text = describeMediaErrors(errors);
    if (!text && this.errorKind !== 'media') return;
    this.showError(text, !!text);
    this.errorKind = text ? 'media' : null;
  }

  showError(text, mediaActions = false) {
    this.errorKind = text ? 'join' : null;
    $('lobby-error').textContent = text;
    $('lobby-error').hidden = !text;
    $('lobby-error-actions').hidden = !mediaActions;
  }

  setBusy(busy, label) {
    $('join').disabled = busy;
    $('join').textContent = busy ? label : 'Join';
  }

  renderPreview() {
    const m = this.media;
    const video = $('preview-video');
    const camOn = m.videoOn && !!m.cameraTrack;
    video.srcObject = camOn ? new MediaStream([m.cameraTrack]) : null;
    $('preview-avatar').hidden = camOn;
    const name = $('name-input').value.trim() || '?';
    $('preview-avatar').replaceChildren(avatarFor(name, 'avatar big'));
    setPressed($('preview-audio'), !(m.audioOn && m.audioTrack));
    setPressed($('preview-video-toggle'), !camOn);
    this.renderDevices();
    this.runMeter(m.audioOn ? m.audioTrack : null);
  }

  renderDevices() {
    fillDeviceSelect($('camera-select'), this.media.devices, this.media.deviceIds.videoinput);
    fillDeviceSelect($('mic-select'), this.media.devices, this.media.deviceIds.audioinput);
  }

  /** A microphone level bar, so people see they are heard before they join. */
  runMeter(track) {
    if (this.meter?.track === track) return;
    this.stopMeter();
    if (!track || !window.AudioContext) return;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    const bar = $('preview-level').firstElementChild;
    const tick = () => {
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      const rms = Math.sqrt(sum / data.length);
      bar.style.transform = `scaleX(${Math.min(1, rms * 6).toFixed(3)})`;
      this.meter.raf = requestAnimationFrame(tick);
    };
    this.meter = { track, ctx, raf: requestAnimationFrame(tick) };
    // Browsers start an AudioContext suspended until the page is clicked.
    if (ctx.state === 'suspended') {
      document.addEventListener('pointerdown', () => ctx.resume(), { once: true });
    }
  }

  stopMeter() {
    if (!this.meter) return;
    cancelAnimationFrame(this.meter.raf);
    this.meter.ctx.close();
    this.meter = null;
    $('preview-level').firstElementChild.style.transform = 'scaleX(0)';
  }
}

export function setPressed(button, pressed) {
  button.setAttribute('aria-pressed', String(pressed));
  button.dataset.muted = String(pressed);
}

function rememberedName() {
  try {
    return localStorage.getItem(NAME_KEY) || '';
  } catch {
    return '';
  }
}

function rememberName(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    /* not remembered: fine */
  }
}

/** A readable, hard-to-guess room name for people who just want a room. */
function suggestRoom() {
  const words = ['amber', 'brisk', 'cedar', 'delta', 'ember', 'fjord', 'gale', 'harbor', 'iris', 'juniper', 'kite', 'lumen'];
  const pick = () => words[Math.floor(Math.random() * words.length)];
  return `${pick()}-${pick()}-${Math.floor(1000 + Math.random() * 9000)}`;
}
