// Local media: which camera and microphone, capturing them, and screen sharing.
//
// LocalMedia owns every local track. It never touches the RTCPeerConnection: it announces a
// change of outgoing track with a `trackchange` event and the peer swaps it in with
// replaceTrack, so switching devices or sharing a screen never needs a renegotiation.

const STORAGE_KEY = 'ponte.devices';

/** A capture failure for one kind ('audio' | 'video'), kept so the UI can word it. */
export class MediaError extends Error {
  constructor(kind, cause) {
    super(`${kind}: ${cause?.name || 'Error'}: ${cause?.message || cause}`);
    this.name = 'MediaError';
    this.kind = kind;
    this.cause = cause;
    /** The DOMException name: NotAllowedError, NotFoundError, NotReadableError, ... */
    this.reason = cause?.name || 'Error';
  }
}

/** Camera access needs a secure context (https: or localhost); without one the API is absent. */
export function mediaSupported() {
  return !!navigator.mediaDevices?.getUserMedia;
}

/**
 * Events (CustomEvent):
 * - `trackchange`: detail `{ kind, track }`, the track that should now go out for that kind
 *   (null for none). For video that is the screen while sharing, else the camera.
 * - `screenended`: the user stopped sharing from the browser's own UI.
 * - `devicechange`: the list of devices changed.
 */
export class LocalMedia extends EventTarget {
  constructor() {
    super();
    /** One stream holding what we capture, used for the local tile and as the msid stream. */
    this.stream = new MediaStream();
    this.audioTrack = null;
    this.cameraTrack = null;
    this.screenTrack = null;
    /** What the user wants: off means muted (track.enabled = false) or not captured at all. */
    this.audioOn = true;
    this.videoOn = true;
    this.deviceIds = loadDeviceChoice();
    this.devices = [];
    navigator.mediaDevices?.addEventListener?.('devicechange', () => this.refreshDevices());
  }

  get sharing() {
    return !!this.screenTrack;
  }

  /** The track the video sender should carry now. */
  get outgoingVideo() {
    return this.screenTrack || this.cameraTrack;
  }

  /**
   * Capture the kinds the user has on. Asks for both in one prompt, and if that fails asks
   * for each alone, so a missing camera does not also cost the microphone.
   * Returns the MediaErrors of the kinds that could not be captured (empty when all went well).
   */
  async start() {
    const want = { audio: this.audioOn && !this.audioTrack, video: this.videoOn && !this.cameraTrack };
    if (!want.audio && !want.video) return [];
    if (!mediaSupported()) {
      const err = new DOMException('camera access needs https:// or localhost', 'SecurityError');
      return kindsOf(want).map((k) => new MediaError(k, err));
    }
    try {
      const s = await navigator.mediaDevices.getUserMedia(this.constraints(want));
      s.getTracks().forEach((t) => this.adopt(t));
      await this.refreshDevices();
      return [];
    } catch (both) {
      if (!(want.audio && want.video)) return [new MediaError(kindsOf(want)[0], both)];
      // A refusal covers both kinds; asking again would only show a second prompt for nothing.
      if (both.name === 'NotAllowedError' || both.name === 'SecurityError') {
        return ['audio', 'video'].map((k) => new MediaError(k, both));
      }
      const errors = [];
      for (const kind of ['audio', 'video']) {
        const e = await this.captureOne(kind);
        if (e) errors.push(e);
      }
      await this.refreshDevices();
      return errors;
    }
  }

  /** Capture one kind (when it is turned on later, or on a device switch). Returns a MediaError or null. */
  async captureOne(kind) {
    if (!mediaSupported()) {
      return new MediaError(kind, new DOMException('camera access needs https:// or localhost', 'SecurityError'));
    }
    try {
      const s = await navigator.mediaDevices.getUserMedia(this.constraints({ [kind]: true }));
      s.getTracks().forEach((t) => this.adopt(t));
      return null;
    } catch (e) {
      return new MediaError(kind, e);
    }
  }

  constraints(want) {
    const c = {};
    if (want.audio) {
      c.audio = {
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true,
        ...(this.deviceIds.audioinput ? { deviceId: { exact: this.deviceIds.audioinput } } : {}),
      };
    }
    if (want.video) {
      c.video = {
        width: { ideal: 1280 },
        height: { ideal: 720 },
        frameRate: { ideal: 30 },
        ...(this.deviceIds.videoinput ? { deviceId: { exact: this.deviceIds.videoinput } } : {}),
      };
    }
    return c;
  }

  /** Take ownership of a fresh track, replacing the previous one of its kind. */
  adopt(track) {
    const kind = track.kind;
    const old = kind === 'audio' ? this.audioTrack : this.cameraTrack;
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    if (kind === 'audio') {
      this.audioTrack = track;
      track.enabled = this.audioOn;
    } else {
      this.cameraTrack = track;
      track.enabled = this.videoOn;
      track.contentHint = 'motion';
    }
    this.stream.addTrack(track);
    // A camera unplugged mid-meeting ends its track; drop it so the UI shows the avatar.
    track.addEventListener('ended', () => {
      if (kind === 'audio' && this.audioTrack === track) this.drop('audio');
      if (kind === 'video' && this.cameraTrack === track) this.drop('video');
    });
    const settings = track.getSettings?.() || {};
    if (settings.deviceId) this.deviceIds[kind === 'audio' ? 'audioinput' : 'videoinput'] = settings.deviceId;
    this.announce(kind);
  }

  drop(kind) {
    const t = kind === 'audio' ? this.audioTrack : this.cameraTrack;
    if (!t) return;
    this.stream.removeTrack(t);
    t.stop();
    if (kind === 'audio') this.audioTrack = null;
    else this.cameraTrack = null;
    this.announce(kind);
  }

  announce(kind) {
    const track = kind === 'audio' ? this.audioTrack : this.outgoingVideo;
    this.emit('trackchange', { kind, track });
  }

  /**
   * Turn a kind on or off. With a track this flips track.enabled (instant, and the camera keeps
   * its light on so turning it back on is instant too); without one, turning on captures.
   * Returns a MediaError when capturing failed, else null.
   */
  async setEnabled(kind, on) {
    if (kind === 'audio') this.audioOn = on;
    else this.videoOn = on;
    const track = kind === 'audio' ? this.audioTrack : this.cameraTrack;
    if (track) {
      track.enabled = on;
      this.emit('trackchange', { kind, track: kind === 'audio' ? track : this.outgoingVideo });
      return null;
    }
    if (!on) return null;
    const err = await this.captureOne(kind);
    if (err) {
      if (kind === 'audio') this.audioOn = false;
      else this.videoOn = false;
    }
    await this.refreshDevices();
    return err;
  }

  /** Lobby toggles stop the capture entirely when off, so the camera light goes out. */
  async setCaptured(kind, on) {
    if (!on) {
      if (kind === 'audio') this.audioOn = false;
      else this.videoOn = false;
      this.drop(kind);
      return null;
    }
    return this.setEnabled(kind, true);
  }

  /** Switch to another device of a kind ('audioinput' | 'videoinput'). */
  async useDevice(deviceKind, deviceId) {
    this.deviceIds[deviceKind] = deviceId;
    saveDeviceChoice(this.deviceIds);
    const kind = deviceKind === 'audioinput' ? 'audio' : 'video';
    const on = kind === 'audio' ? this.audioOn : this.videoOn;
    if (!on) return null; // used the next time it is turned on
    return this.captureOne(kind);
  }

  async refreshDevices() {
    if (!navigator.mediaDevices?.enumerateDevices) return this.devices;
    try {
      this.devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      this.devices = [];
    }
    this.emit('devicechange', this.devices);
    return this.devices;
  }

  /** Share a screen, window or tab. Throws the browser's error if the user cancels. */
  async startScreenShare() {
    const s = await navigator.mediaDevices.getDisplayMedia({
      video: { frameRate: { ideal: 15, max: 30 } },
      audio: false,
    });
    const track = s.getVideoTracks()[0];
    // Text and slides: keep them sharp, let the frame rate drop instead.
    track.contentHint = 'detail';
    this.screenTrack = track;
    track.addEventListener('ended', () => {
      if (this.screenTrack === track) {
        this.stopScreenShare();
        this.emit('screenended');
      }
    });
    this.announce('video');
    return track;
  }

  stopScreenShare() {
    if (!this.screenTrack) return;
    this.screenTrack.stop();
    this.screenTrack = null;
    this.announce('video');
  }

  stopAll() {
    this.stopScreenShare();
    this.drop('audio');
    this.drop('video');
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function kindsOf(want) {
  return ['audio', 'video'].filter((k) => want[k]);
}

function loadDeviceChoice() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY)) || {};
  } catch {
    return {};
  }
}

function saveDeviceChoice(ids) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(ids));
  } catch {
    /* private mode: the choice just is not remembered */
  }
}

/**
 * Fill a <select> with the devices of its `data-kind`. Device labels are empty until the
 * user has granted access once, so unnamed devices get a numbered placeholder.
 */
export function fillDeviceSelect(select, devices, currentId) {
  const kind = select.dataset.kind;
  const list = devices.filter((d) => d.kind === kind && d.deviceId);
  select.replaceChildren();
  if (list.length === 0) {
    select.append(new Option(kind === 'videoinput' ? 'No camera found' : 'No microphone found', ''));
    select.disabled = true;
    return;
  }
  select.disabled = false;
  list.forEach((d, i) => {
    const label = d.label || `${kind === 'videoinput' ? 'Camera' : 'Microphone'} ${i + 1}`;
    select.append(new Option(label, d.deviceId, false, d.deviceId === currentId));
  });
}
