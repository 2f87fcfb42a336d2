// Ponte's meeting page. Served at `/` (pick a room) and `/{room}` (that room's lobby);
// `/{room}?name=NAME` joins straight away, for links and browser tests, and also takes
// `token=` (a JWT when the server requires one) and `audio=0` / `video=0` (start with the
// microphone / camera off; they can be turned on in the meeting).
//
// Module map: signaling.js (WebSocket) → session.js (one join + one peer connection) →
// meeting.js (roster, chat, reconnect) → room-view.js (the screen); media.js owns local
// tracks, lobby.js the pre-join screen; peer.js also opens bridge-channel.js (the data
// channel to the media bridge: who speaks, whose video is sent, what size we want).
// `window.ponte` is a read-only hook for tests.

import { LocalMedia } from './js/media.js';
import { Lobby } from './js/lobby.js';
import { Meeting } from './js/meeting.js';
import { RoomView } from './js/room-view.js';
import { checkDisplayName, checkRoom, describeMediaErrors, describeSessionError, isUserFixable } from './js/errors.js';
import { toast } from './js/status.js';

const $ = (id) => document.getElementById(id);

/** What the address asks for: `{ room, name, token, audio, video }` (absent parts are null). */
export function parseLocation(loc) {
  let room = loc.pathname.replace(/^\/+|\/+$/g, '');
  try {
    room = decodeURIComponent(room);
  } catch {
    /* a broken %-escape: keep it raw, the room check will refuse it with a message */
  }
  if (room === 'index.html') room = '';
  const q = new URLSearchParams(loc.search);
  // A token may also come after '#', which keeps it out of server logs and Referer headers.
  const h = new URLSearchParams(loc.hash.replace(/^#/, ''));
  const flag = (v) => (v === null ? null : !['0', 'false', 'off', 'no'].includes(v.toLowerCase()));
  return {
    room: room || null,
    name: q.get('name'),
    token: q.get('token') || h.get('token') || null,
    audio: flag(q.get('audio')),
    video: flag(q.get('video')),
  };
}

const params = parseLocation(window.location);
const media = new LocalMedia();
if (params.audio === false) media.audioOn = false;
if (params.video === false) media.videoOn = false;

let meeting = null;
let lastJoin = null;

const view = new RoomView(media, { onFatal, onEnded });
const lobby = new Lobby(media, { room: params.room, name: params.name }, join);

function join({ room, name }) {
  lastJoin = { room, name };
  // Make the address the room's, so a reload or a copied link lands in the same room.
  if (params.name === null) history.replaceState(null, '', `/${encodeURIComponent(room)}${window.location.hash}`);
  meeting = new Meeting({ room, displayName: name, token: params.token, media });
  view.attach(meeting);
  lobby.hide();
  $('ended').hidden = true;
  view.show();
  meeting.start();
}

/** The server refused us for good (room full, bad token, bad name): back to the lobby, saying why. */
function onFatal(err) {
  console.warn('join refused', err.code, err.message);
  view.hide();
  lobby.show();
  const hint = isUserFixable(err) ? '' : ' Reload the page to try again.';
  lobby.fail(describeSessionError(err, { hasToken: !!params.token }) + hint);
}

function onEnded({ reason, byUser }) {
  view.hide();
  // Nobody expects the camera light to stay on after leaving.
  media.stopAll();
  $('ended-title').textContent = byUser ? 'You left the meeting' : 'The meeting ended';
  $('ended-text').textContent = byUser ? `Room “${meeting.room}”.` : reason;
  $('ended').hidden = false;
  $('rejoin').focus();
}

$('rejoin').addEventListener('click', async () => {
  if (!lastJoin) return;
  $('rejoin').disabled = true;
  const errors = await media.start();
  $('rejoin').disabled = false;
  if (errors.length) toast(describeMediaErrors(errors, 'joined'), 'warn', 10000);
  join(lastJoin);
});

// Closing the tab: say goodbye so the others see us leave now, not after a timeout.
window.addEventListener('pagehide', () => meeting?.leaveNow());

/** Straight into the room from a link: `/{room}?name=NAME`. */
async function directJoin() {
  const problem = checkRoom(params.room) || checkDisplayName(params.name);
  if (problem) {
    lobby.show();
    lobby.fail(problem);
    return;
  }
  const errors = await media.start();
  if (errors.length) {
    // Joining anyway is what a link promises; the meeting's buttons can retry the devices.
    toast(describeMediaErrors(errors, 'joined'), 'warn', 10000);
  }
  join({ room: params.room, name: params.name.trim() });
}

/** The test hook: plain data, nothing here changes the meeting. */
window.ponte = Object.freeze({
  version: 1,
  state() {
    if (!meeting) {
      return {
        participantId: null,
        room: params.room,
        phase: 'lobby',
        connected: false,
        wsState: 'closed',
        iceState: 'new',
        connectionState: 'new',
        roster: [],
        chat: [],
        remote: [],
      };
    }
    return meeting.snapshot();
  },
  /** The current RTCPeerConnection (a new one after each reconnect), for getStats(). */
  get pc() {
    return meeting?.session?.peer?.pc ?? null;
  },
});

if (params.room && params.name !== null) directJoin();
else lobby.show();
