// The visitor's connection (docs/protocol.md): hello or resume, reconnect with backoff, every
// message kept until the server has stored it, every event passed on once and in seq order.
// Over a websocket, or where none can be opened or one stops carrying frames, over the fallback
// transport (stream.js), and back to a websocket once one works again.
// No DOM here: the frame learns what happens through emit(kind, data).
import { StreamSocket } from './stream.js';

const KEY = 'hlc';
const PING_EVERY = 20000;
const MAX_FRAME = 15000; // bytes; the server closes at 16 KiB
const OPEN_WAIT = 6000; // ms for a new connection to answer hello or resume, else it does not carry
const PROBE_FIRST = 30000; // ms on the fallback before trying a websocket again (doubling, at most PROBE_MAX)
const PROBE_MAX = 300000;
const PROBE_WAIT = 5000; // ms for a trial websocket to answer a ping

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
   * @param {{stream: string, send: string}} fallback  the fallback transport's two paths
   */
  constructor(url, exitUrl, emit, fallback) {
    this.url = url;
    this.exitUrl = exitUrl;
    this.emit = emit;
    this.fallback = fallback;
    this.transport = 'websocket'; // or 'sse', the fallback
    this.preferred = 'websocket'; // the transport that last carried: where a reconnect starts
    this.ws = null; // the connection: a WebSocket or a StreamSocket
    this.carried = false; // this connection answered hello or resume
    this.opening = 0;
    this.trial = null; // a websocket tried while on the fallback
    this.trialTimer = 0;
    this.probeAfter = PROBE_FIRST;
    this.resumeSent = false;
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
      if (!this.ws || (!this.online && this.transport !== this.preferred)) {
        // Start again at once, over the transport that carried last (not a trial of the other one).
        if (this.ws) this.drop(this.ws);
        this.ws = null;
        this.attempt = 0;
        this.transport = this.preferred;
        this.connect();
      } else if (this.online) {
        // On the fallback, a network that changed may let a websocket through now.
        if (this.transport === 'sse') this.tryWebSocket();
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
      ws = this.transport === 'sse' ? new StreamSocket(this.fallback.stream, this.fallback.send) : new WebSocket(this.url);
    } catch {
      this.switchTransport();
      this.schedule(1006);
      return;
    }
    this.ws = ws;
    this.carried = false;
    // A connection that does not answer hello or resume in time (a proxy that holds the upgrade, a
    // websocket that opens and then carries nothing) is given up, and the other transport tried.
    clearTimeout(this.opening);
    this.opening = setTimeout(() => this.carried || this.dead(ws), OPEN_WAIT);
    ws.onopen = () => this.opened(ws);
    this.listen(ws);
  }

  listen(ws) {
    ws.onmessage = (m) => {
      if (ws !== this.ws) return;
      this.heard = true;
      this.receive(m.data);
    };
    ws.onclose = (e) => this.closed(ws, e.code);
  }

  /** Say hello, or resume from the last event seen. */
  opened(ws) {
    this.resuming = Boolean(this.token);
    this.resumeSent = Boolean(this.token);
    const first = this.token
      ? { type: 'resume', token: this.token, last_seq: this.lastSeq }
      : { type: 'hello', ...this.hello };
    ws.send(JSON.stringify(first));
    this.heard = true;
    clearInterval(this.pinger);
    this.pinger = setInterval(() => this.beat(), PING_EVERY);
  }

  switchTransport() {
    this.transport = this.transport === 'sse' ? 'websocket' : 'sse';
  }

  /** On the fallback: open a websocket on the side; when it answers a ping, move the chat onto it. */
  tryWebSocket() {
    clearTimeout(this.trialTimer);
    if (this.done || this.trial || this.transport !== 'sse') return;
    let trial;
    try {
      trial = new WebSocket(this.url);
    } catch {
      this.probeLater();
      return;
    }
    this.trial = trial;
    const giveUp = () => {
      if (this.trial !== trial) return;
      this.trial = null;
      trial.onopen = trial.onmessage = trial.onclose = null;
      try {
        trial.close();
      } catch {
        // never opened
      }
      this.probeLater();
    };
    const timer = setTimeout(giveUp, PROBE_WAIT + OPEN_WAIT);
    trial.onopen = () => trial.send(JSON.stringify({ type: 'ping' }));
    trial.onclose = () => {
      clearTimeout(timer);
      giveUp();
    };
    trial.onmessage = () => {
      clearTimeout(timer);
      if (this.trial !== trial) return;
      if (this.done || this.transport !== 'sse' || !this.token) {
        giveUp();
        return;
      }
      this.trial = null;
      // The websocket carries: resume on it from the last event seen, then let the stream go. Events that
      // come twice meanwhile are dropped by seq, and unacknowledged messages are sent again by client_id.
      const old = this.ws;
      this.transport = 'websocket';
      this.probeAfter = PROBE_FIRST;
      this.ws = trial;
      this.online = false;
      this.carried = false;
      this.listen(trial);
      this.opened(trial);
      this.resuming = false; // the same chat to the visitor: nothing to tell them
      clearTimeout(this.opening);
      this.opening = setTimeout(() => this.carried || this.dead(trial), OPEN_WAIT);
      if (old) {
        old.onopen = old.onmessage = old.onclose = null;
        old.close();
      }
    };
  }

  probeLater() {
    clearTimeout(this.trialTimer);
    if (this.done || this.transport !== 'sse') return;
    this.trialTimer = setTimeout(() => this.tryWebSocket(), this.probeAfter);
    this.probeAfter = Math.min(PROBE_MAX, this.probeAfter * 2);
  }

  /** Given up on this connection: treat it as closed. */
  dead(ws) {
    if (ws !== this.ws) return;
    this.drop(ws);
    this.closed(ws, 1006, true);
  }

  drop(ws) {
    ws.onopen = ws.onclose = ws.onmessage = null;
    try {
      ws.close();
    } catch {
      // already closing
    }
  }

  /** No frame since the last ping: the connection is dead even if the socket has not noticed. */
  beat() {
    if (!this.heard) {
      if (this.ws) this.dead(this.ws);
      return;
    }
    this.heard = false;
    this.raw({ type: 'ping' });
  }

  closed(ws, code, silent = false) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.online = false;
    clearInterval(this.pinger);
    clearTimeout(this.opening);
    if (this.done) return;
    // It never carried, or stopped carrying: the next attempt goes over the other transport. (Both fail
    // while the network is gone, and take turns until one works.)
    if ((!this.carried || silent) && code !== 1012 && code !== 1008) this.switchTransport();
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
        this.carried = true;
        this.preferred = this.transport;
        this.attempt = 0;
        this.emit('session', { ...f, reconnect: this.lost, resuming: this.resuming, transport: this.transport });
        this.lost = false;
        if (this.resumeSent && f.resumed === false) this.emit('missing');
        if (this.transport === 'sse') this.probeLater();
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
    clearTimeout(this.opening);
    clearTimeout(this.trialTimer);
    if (this.trial) {
      this.trial.onopen = this.trial.onmessage = this.trial.onclose = null;
      this.trial.close();
      this.trial = null;
    }
    removeEventListener('online', this.wake);
    removeEventListener('pageshow', this.wake);
    document.removeEventListener('visibilitychange', this.wake);
  }
}
