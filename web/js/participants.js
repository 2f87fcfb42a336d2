// The participant list in the side panel: who is here and whether they are muted.

import { avatarFor } from './avatar.js';

/**
 * Redraw the list. It is short and changes rarely, so a full redraw is simpler than a diff.
 * Each item: `li[data-participant-id][data-self][data-audio-muted][data-video-muted]`.
 */
export function renderParticipants(ul, participants, speakerId) {
  const items = participants.map((p) => {
    const li = document.createElement('li');
    li.dataset.participantId = p.id;
    li.dataset.self = String(!!p.self);
    li.dataset.audioMuted = String(!!p.audio_muted);
    li.dataset.videoMuted = String(!!p.video_muted);
    li.classList.toggle('speaking', !!speakerId && p.id === speakerId);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = p.self ? `${p.display_name} (you)` : p.display_name;
    const state = document.createElement('span');
    state.className = 'states';
    state.append(
      icon(p.audio_muted ? 'icon-mic-off' : 'icon-mic', p.audio_muted ? 'microphone off' : 'microphone on', 'audio'),
      icon(p.video_muted ? 'icon-cam-off' : 'icon-cam', p.video_muted ? 'camera off' : 'camera on', 'video'),
    );
    li.append(avatarFor(p.display_name, 'avatar small'), name, state);
    return li;
  });
  ul.replaceChildren(...items);
}

/** Mark the speaker without redrawing (this changes several times a second). */
export function markSpeaker(ul, speakerId) {
  for (const li of ul.children) li.classList.toggle('speaking', !!speakerId && li.dataset.participantId === speakerId);
}

function icon(cls, label, kind) {
  const s = document.createElement('span');
  s.className = `icon ${cls}`;
  s.dataset.kind = kind;
  s.title = label;
  s.setAttribute('role', 'img');
  s.setAttribute('aria-label', label);
  return s;
}
