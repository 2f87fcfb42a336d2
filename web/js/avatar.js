// Initials on a coloured disc, shown wherever a picture is missing (camera off, no camera).

/** "Ada Lovelace" → "AL", "zoë" → "Z", "山田 太郎" → "山太". */
export function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((w) => [...w][0].toUpperCase()).join('') || '?';
}

/** A stable hue per name, so a person keeps their colour across tiles, lists and reloads. */
export function hueOf(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
  return h;
}

export function avatarFor(name, className = 'avatar') {
  const el = document.createElement('div');
  el.className = className;
  el.textContent = initials(name || '?');
  el.style.setProperty('--hue', String(hueOf(name || '?')));
  el.setAttribute('aria-hidden', 'true');
  return el;
}
