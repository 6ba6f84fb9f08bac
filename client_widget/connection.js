// The visitor's websocket (docs/protocol.md): hello or resume, reconnect with backoff, every
// message kept until the server has stored it, every event passed on once and in seq order.
// No DOM here: the frame learns what happens through emit(kind, data).

const KEY = 'hlc';
const PING_EVERY = 20000;
const MAX_FRAME = 15000; // bytes; the server closes at 16 KiB

/** This tab's resume token. sessionStorage holds nothing else, and nothing at all after the end. */
export const saved = {
  token() {
    try {
      const value = JSON.parse(sessionStorage.getItem(KEY));
      return typeof value?.token === 'string' ? value.token : null;
    } catch {
      return null;
    }
  },
  keep(token) {
    try {
      sessionStorage.setItem(KEY, JSON.stringify({ token }));
    } catch {
      // Storage switched off: the chat works, it just cannot survive a reload.
    }
  },
  clear() {
    try {
      sessionStorage.clear();
    } catch {
      // Nothing could be stored either.
    }
  },
};

export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return 'c-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Link {
  /**
   * @param {string} url  the visitor websocket
   * @param {string} exitUrl  where a quick-exit beacon goes
   * @param {(kind: string, data?: any) => void} emit
   */
  constructor(url, exitUrl, emit) {
    this.url = url;
    this.exitUrl = exitUrl;
    this.emit = emit;
    this.ws = null;
    this.token = null;
    this.hello = null;
    this.lastSeq = 0;
    this.outbox = new Map(); // client_id -> text, until the server has stored it
    this.attempt = 0;
    this.retry = 0;
    this.again = 0;
    this.pinger = 0;
    this.probe = 0;
    this.heard = true;
    this.online = false; // true once this socket got its `session` frame
    this.resuming = false;
    this.lost = false; // a socket dropped since the last `session`
    this.done = false;
    this.ending = false;
    // Back in view (a phone unlocked, the app switched back), back online, or out of the back-forward
    // cache: connect at once instead of waiting out the backoff, or check that the socket still carries.
    this.wake = () => {
      if (this.done || document.visibilityState === 'hidden') return;
      if (!this.ws) {
        this.attempt = 0;
        this.connect();
      } else if (this.online) {
        this.heard = false;
        this.raw({ type: 'ping' });
        clearTimeout(this.probe);
        this.probe = setTimeout(() => this.heard || this.beat(), 4000);
      }
    };
    addEventListener('online', this.wake);
    addEventListener('pageshow', this.wake);
    document.addEventListener('visibilitychange', this.wake);
  }

  /** A new chat. */
  start(hello) {
    this.hello = hello;
    this.connect();
  }

  /** Go on with this tab's chat after a reload: from seq 0, so that the page can show all of it again. */
  resume(token) {
    this.token = token;
    this.connect();
  }

  connect() {
    clearTimeout(this.retry);
    if (this.done || this.ws) return;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.schedule(1006);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.resuming = Boolean(this.token);
      const first = this.token
        ? { type: 'resume', token: this.token, last_seq: this.lastSeq }
        : { type: 'hello', ...this.hello };
      ws.send(JSON.stringify(first));
      this.heard = true;
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.beat(), PING_EVERY);
    };
    ws.onmessage = (m) => {
      this.heard = true;
      this.receive(m.data);
    };
    ws.onclose = (e) => this.closed(ws, e.code);
  }

  /** No frame since the last ping: the connection is dead even if the socket has not noticed. */
  beat() {
    if (!this.heard) {
      const ws = this.ws;
      if (ws) {
        ws.onclose = ws.onmessage = null;
        try {
          ws.close();
        } catch {
          // already closing
        }
        this.closed(ws, 1006);
      }
      return;
    }
    this.heard = false;
    this.raw({ type: 'ping' });
  }

  closed(ws, code) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.online = false;
    clearInterval(this.pinger);
    if (this.done) return;
    if (code === 1008) {
      // Refused for good (the reason came in an error frame, if at all).
      this.finish();
      this.emit('stopped');
      return;
    }
    this.lost = true;
    this.emit('offline');
    this.schedule(code);
  }

  schedule(code) {
    const base = code === 1012 ? 250 : Math.min(10000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.connect(), base * (0.5 + Math.random() / 2));
  }

  receive(raw) {
    let f;
    try {
      f = JSON.parse(raw);
    } catch {
      return;
    }
    switch (f.type) {
      case 'session':
        this.token = f.token;
        // An ended session: its token is worth nothing now, and must not stay in this tab.
        if (f.status !== 'ended') saved.keep(f.token);
        else saved.clear();
        this.online = true;
        this.attempt = 0;
        this.emit('session', { ...f, reconnect: this.lost, resuming: this.resuming });
        this.lost = false;
        if (this.resuming && f.resumed === false) this.emit('missing');
        if (f.status !== 'ended') {
          this.flush();
          if (this.ending) this.raw({ type: 'end' });
        }
        break;
      case 'message':
      case 'resource':
      case 'ended':
        // Both sides get every event, their own too; a replay after a reconnect may repeat some.
        if (typeof f.seq !== 'number' || f.seq <= this.lastSeq) break;
        this.lastSeq = f.seq;
        if (f.client_id) this.outbox.delete(f.client_id);
        this.emit('event', f);
        if (f.type === 'ended') this.finish();
        break;
      case 'ack':
        this.outbox.delete(f.client_id);
        this.emit('ack', f);
        break;
      case 'error':
        this.error(f);
        break;
      case 'pong':
        break;
      default:
        this.emit(f.type, f); // queue, paired, typing, and whatever a later server adds
    }
  }

  error(f) {
    const id = f.client_id;
    if (f.code === 'unknown_session') {
      this.finish();
      this.emit('gone');
    } else if (f.code === 'service_closed') {
      this.finish();
      this.emit('closed', f);
    } else if (f.code === 'rate_limited' && id) {
      clearTimeout(this.again);
      this.again = setTimeout(() => this.flush(), 2000);
      this.emit('slow');
    } else if (f.code === 'rate_limited') {
      this.finish();
      this.emit('refused');
    } else if (id && this.outbox.delete(id)) {
      this.emit('failed', f);
    }
  }

  raw(frame) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Send everything the server has not stored yet, oldest first, with the same client_id as before. */
  flush() {
    if (!this.online) return;
    for (const [client_id, text] of this.outbox) this.raw({ type: 'message', client_id, text });
  }

  /** Queue a message; it goes out now or as soon as there is a connection. Null when it is too big. */
  send(text) {
    const id = newId();
    const frame = { type: 'message', client_id: id, text };
    if (new TextEncoder().encode(JSON.stringify(frame)).length > MAX_FRAME) return null;
    this.outbox.set(id, text);
    if (this.online) this.raw(frame);
    return id;
  }

  typing(active) {
    if (this.online) this.raw({ type: 'typing', active });
  }

  end() {
    this.ending = true;
    if (this.online) this.raw({ type: 'end' });
  }

  /** End at once. The beacon still goes out while the page is being replaced; a socket frame might not. */
  quickExit() {
    if (this.done) return;
    this.raw({ type: 'quick_exit' });
    if (this.token && navigator.sendBeacon) {
      try {
        navigator.sendBeacon(this.exitUrl, JSON.stringify({ token: this.token }));
      } catch {
        // The socket frame above is the other way.
      }
    }
    this.finish();
  }

  finish() {
    this.done = true;
    this.outbox.clear();
    saved.clear();
    clearTimeout(this.retry);
    clearTimeout(this.again);
    clearInterval(this.pinger);
    clearTimeout(this.probe);
    removeEventListener('online', this.wake);
    removeEventListener('pageshow', this.wake);
    document.removeEventListener('visibilitychange', this.wake);
  }
}
