// The WebSocket client for the signaling protocol (proto/src/signal.rs): JSON text frames,
// one message per frame, tagged by "type".
//
// One SignalingClient is one connection. Reconnecting means making a new one (session.js
// does that), because a new connection is also a new join and a new participant id: keeping
// the object across connections would blur which messages belong to which session.

/** How often we ping. The server closes idle connections; 15 s keeps well inside any sane limit. */
const PING_INTERVAL_MS = 15_000;
/** No frame at all for this long means the connection is dead even if the socket says open
 * (a laptop lid closed, a NAT dropped the mapping): close it so the reconnect logic runs. */
const SILENCE_LIMIT_MS = 40_000;
/** A server that accepts TCP but never finishes the WebSocket handshake counts as unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The `/ws` URL on the host that served this page, with ws: or wss: to match http: or https:. */
export function signalingUrl(loc = window.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws`;
}

/** Why a connection could not be opened; the UI words it as "server unreachable". */
export class UnreachableError extends Error {
  constructor(url) {
    super(`cannot reach the meeting server at ${url}`);
    this.name = 'UnreachableError';
    this.url = url;
  }
}

/**
 * Events (all CustomEvent):
 * - `message`: detail is a parsed server message.
 * - `close`: detail is `{ code, reason, expected }`; `expected` is true when we closed it.
 * - `statechange`: detail is the new `state`.
 */
export class SignalingClient extends EventTarget {
  constructor(url = signalingUrl()) {
    super();
    this.url = url;
    this.ws = null;
    this.closingOnPurpose = false;
    this.pingTimer = 0;
    this.lastFrameAt = 0;
    this.pingId = 0;
  }

  /** 'connecting' | 'open' | 'closing' | 'closed', as the WebSocket readyState names it. */
  get state() {
    if (!this.ws) return 'closed';
    return ['connecting', 'open', 'closing', 'closed'][this.ws.readyState];
  }

  /** Open the socket. Resolves once open; rejects with UnreachableError if it never opens. */
  connect() {
    return new Promise((resolve, reject) => {
      let settled = false;
      const ws = new WebSocket(this.url);
      this.ws = ws;
      this.emit('statechange', this.state);
      const timeout = setTimeout(() => {
        if (!settled) ws.close();
      }, CONNECT_TIMEOUT_MS);

      ws.addEventListener('open', () => {
        settled = true;
        clearTimeout(timeout);
        this.lastFrameAt = Date.now();
        this.startKeepalive();
        this.emit('statechange', this.state);
        resolve();
      });
      ws.addEventListener('message', (ev) => this.onFrame(ev));
      ws.addEventListener('close', (ev) => {
        clearTimeout(timeout);
        this.stopKeepalive();
        this.emit('statechange', 'closed');
        if (!settled) {
          settled = true;
          reject(new UnreachableError(this.url));
          return;
        }
        this.emit('close', { code: ev.code, reason: ev.reason, expected: this.closingOnPurpose });
      });
      // 'error' is always followed by 'close', which does the work; the event itself carries no detail.
      ws.addEventListener('error', () => {});
    });
  }

  send(msg) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Close on purpose: the `close` event then says `expected: true` and nobody reconnects. */
  close(code = 1000, reason = 'client closed') {
    this.closingOnPurpose = true;
    this.stopKeepalive();
    if (this.ws && this.ws.readyState < WebSocket.CLOSING) this.ws.close(code, reason);
  }

  onFrame(ev) {
    this.lastFrameAt = Date.now();
    if (typeof ev.data !== 'string') return; // the protocol is text only
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      console.warn('signaling: dropping a frame that is not JSON', ev.data.slice(0, 200));
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    this.emit('message', msg);
  }

  startKeepalive() {
    this.stopKeepalive();
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
        // Not `close()`: this is not on purpose, so listeners must see `expected: false`.
        console.warn('signaling: no frame for', SILENCE_LIMIT_MS, 'ms; dropping the connection');
        this.ws?.close(4000, 'keepalive timeout');
        return;
      }
      this.send({ type: 'ping', id: ++this.pingId });
    }, PING_INTERVAL_MS);
  }

  stopKeepalive() {
    clearInterval(this.pingTimer);
    this.pingTimer = 0;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
