// Telling the user how things stand: the connection indicator, the banner, and toasts.

/** The indicator's state from the meeting's phase and transport states. */
export function connectionSummary(m) {
  if (m.phase === 'reconnecting') return { state: 'reconnecting', text: 'Reconnecting…' };
  if (m.phase === 'ended') return { state: 'offline', text: 'Left' };
  if (m.phase === 'failed') return { state: 'failed', text: 'Not connected' };
  if (m.phase !== 'joined') return { state: 'connecting', text: 'Connecting…' };
  if (m.ws !== 'open') return { state: 'reconnecting', text: 'Server connection lost' };
  switch (m.connection) {
    case 'connected':
      return { state: 'connected', text: 'Connected' };
    case 'disconnected':
      return { state: 'unstable', text: 'Media interrupted…' };
    case 'failed':
      return { state: 'failed', text: 'Media failed' };
    default:
      return { state: 'connecting', text: 'Connecting media…' };
  }
}

/** Update `#conn-state` (data-state, data-ws, data-ice) and its text. */
export function renderConnection(el, textEl, m) {
  const { state, text } = connectionSummary(m);
  el.dataset.state = state;
  el.dataset.ws = m.ws;
  el.dataset.ice = m.ice;
  textEl.textContent = text;
  el.title = `Server: ${m.ws} · Media (ICE): ${m.ice}`;
}

/** A banner across the top; `text` null hides it. A countdown refreshes itself until `until`. */
export class Banner {
  constructor(el) {
    this.el = el;
    this.timer = 0;
  }

  show(text, { level = 'warn', until = 0 } = {}) {
    clearInterval(this.timer);
    this.el.dataset.level = level;
    this.el.hidden = false;
    const draw = () => {
      const secs = until ? Math.max(0, Math.ceil((until - Date.now()) / 1000)) : 0;
      this.el.textContent = secs ? `${text} Trying again in ${secs} s.` : text;
    };
    draw();
    if (until) this.timer = setInterval(draw, 500);
  }

  hide() {
    clearInterval(this.timer);
    this.el.hidden = true;
  }
}

/** A short message in the corner; errors stay longer. */
export function toast(text, level = 'info', ms = level === 'error' ? 8000 : 4000) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = document.createElement('div');
  el.className = 'toast';
  el.dataset.level = level;
  el.setAttribute('role', level === 'error' ? 'alert' : 'status');
  el.textContent = text;
  box.append(el);
  // Keep the corner readable when many people join at once.
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => {
    el.classList.add('leaving');
    setTimeout(() => el.remove(), 300);
  }, ms);
}
