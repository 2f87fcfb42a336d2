// Errors in words a person can act on. Every message says what happened and what to do;
// the raw code goes to the console and to `window.ponte.state().lastError` for whoever debugs.

/** A SessionError (server refusal or connection failure) as a sentence for the user. */
export function describeSessionError(err, { host = window.location.host, hasToken = true } = {}) {
  switch (err.code) {
    case 'room_full':
      return 'This room is full. Try again later, or pick another room.';
    case 'unauthorized':
      if (!hasToken) {
        return 'This server only admits people with an invitation link. Ask whoever invited you for the full link (it ends in ?token=…).';
      }
      // The server says which: expired, wrong room, bad signature. Worth passing on.
      return `Your meeting link is not valid or has expired (${err.message}). Ask whoever invited you for a new link.`;
    case 'unavailable':
      return 'No media server can take this room right now.';
    case 'unsupported_version':
      return 'This page is older than the server. Reload the page to get the current version.';
    case 'rate_limited':
      return 'Too many messages at once — wait a moment and try again.';
    case 'invalid_field':
    case 'missing_field':
      return describeFieldError(err);
    case 'already_joined':
      return 'This connection has already joined a room. Reload the page to join again.';
    case 'unreachable':
      return `Can’t reach the meeting server at ${host}. Check your network connection.`;
    case 'disconnected':
      return 'The connection to the meeting server was lost.';
    case 'media_lost':
      return 'The audio and video connection was lost; the media server may have restarted.';
    case 'media_failed':
      return 'Audio and video could not connect. A firewall may be blocking UDP to the media server.';
    case 'negotiation_failed':
      return 'Setting up audio and video failed.';
    case 'timeout':
      return 'The meeting server did not answer in time.';
    case 'server_bye':
      return `The server ended the session (${err.message}).`;
    case 'ended':
      return `The meeting ended: ${err.message}`;
    default:
      return err.message || 'Something went wrong.';
  }
}

function describeFieldError(err) {
  if (err.field === 'room') {
    return 'That room name is not allowed. Use up to 64 letters, digits, dots, dashes or underscores.';
  }
  if (err.field === 'display_name') {
    return 'That name is not allowed. Use 1 to 64 characters, with no control characters.';
  }
  if (err.field === 'text') return `Your message was not sent: ${err.message}`;
  return err.message;
}

/** Whether this error is about the user's link or input rather than the network. */
export function isUserFixable(err) {
  return ['room_full', 'unauthorized', 'invalid_field', 'missing_field'].includes(err.code);
}

/**
 * MediaErrors (one per kind that could not be captured) as words for the user.
 * `where` says what the user can do next: 'lobby' (they may join without it), 'joined'
 * (they already joined without it), 'meeting' (they pressed a button in the meeting).
 * Returns '' when there is nothing to say.
 */
export function describeMediaErrors(errors, where = 'lobby') {
  if (!errors.length) return '';
  const kinds = errors.map((e) => e.kind);
  const what =
    kinds.includes('audio') && kinds.includes('video')
      ? 'camera and microphone'
      : kinds[0] === 'video'
        ? 'camera'
        : 'microphone';
  const [problem, remedy] = mediaProblem(errors[0].reason, what);
  const next = {
    lobby: `${remedy}, or join without it.`,
    joined: `You joined without it. ${remedy}, then turn it on with the buttons below.`,
    meeting: `${remedy}, then try again.`,
  }[where];
  return `${problem} ${next}`;
}

/** [what went wrong, what fixes it] for a getUserMedia error name. */
function mediaProblem(reason, what) {
  switch (reason) {
    case 'NotAllowedError':
      return [
        `Access to your ${what} was refused.`,
        'Allow it in the browser’s site settings (the icon left of the address)',
      ];
    case 'NotFoundError':
    case 'OverconstrainedError':
      return [`No ${what} was found.`, 'Plug one in'];
    case 'NotReadableError':
    case 'AbortError':
      return [`Your ${what} could not start; another app may be using it.`, 'Close the other app'];
    case 'SecurityError':
      return [
        `The browser only allows the ${what} on a secure page.`,
        'Open this page over https:// (or on localhost)',
      ];
    default:
      return [`Could not start your ${what} (${reason}).`, 'Check your device'];
  }
}

/** Room names as the server accepts them (proto/src/names.rs, RoomName). */
export const ROOM_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** Check a display name as the server does (proto DisplayName); returns an error sentence or ''. */
export function checkDisplayName(name) {
  const n = name.trim();
  if (!n) return 'Enter your name so others know who you are.';
  if ([...n].length > 64) return 'Your name can be at most 64 characters.';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(n)) return 'Your name contains characters that are not allowed.';
  return '';
}

export function checkRoom(room) {
  if (!room) return 'Enter a room name.';
  if (!ROOM_RE.test(room)) return 'Room names use up to 64 letters, digits, dots, dashes or underscores.';
  return '';
}
