// The chat panel: the log and the input line.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export class ChatPanel {
  /** `onSend(text)` returns false when the message could not be sent. */
  constructor({ log, form, input, onSend, onUnsent }) {
    this.log = log;
    this.input = input;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      if (onSend(text)) input.value = '';
      else onUnsent();
    });
  }

  /** Append one entry: `li.chat-msg[data-from][data-self]`. Text only: chat is never parsed as HTML. */
  add(entry) {
    const nearBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    const li = document.createElement('li');
    li.className = 'chat-msg';
    li.dataset.from = entry.from || '';
    li.dataset.self = String(!!entry.self);
    const meta = document.createElement('div');
    meta.className = 'meta';
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = entry.self ? 'You' : entry.display_name;
    const when = document.createElement('time');
    const date = new Date(entry.ts_ms || Date.now());
    when.dateTime = date.toISOString();
    when.textContent = timeFormat.format(date);
    meta.append(who, when);
    const text = document.createElement('div');
    text.className = 'text';
    text.textContent = entry.text;
    li.append(meta, text);
    this.log.append(li);
    if (nearBottom || entry.self) li.scrollIntoView({ block: 'end' });
  }
}
