// The counselor's websocket (docs/protocol.md): auth as the first frame, then frames both ways.
// It reconnects on its own with a growing, jittered delay; after every (re)connect the server
// sends `welcome`, `status`, `queues` and, for every chat still ours, `assigned` and all its events.
// No DOM here: the app learns what happens through the callbacks.

const PING_EVERY = 20000; // ms
const SILENCE_LIMIT = 50000; // ms without any frame: the socket is dead even if it looks open
const DELAYS = [500, 1000, 2000, 4000, 8000]; // then 10 s
const MAX_DELAY = 10000;

export class Link {
  /**
   * @param {string} url  the counselor websocket
   * @param {string} token  the login token; sent in the first frame, never in the URL
   * @param {{frame: (f: object) => void, state: (s: string, info?: object) => void, unauthorized: () => void}} on
   */
  constructor(url, token, on) {
    this.url = url;
    this.token = token;
    this.on = on;
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = 0;
    this.pingTimer = 0;
    this.lastHeard = 0;
    this.stopped = false;
    this.ready = false; // after `welcome` on this socket
    this.retryAt = 0;
    this.wake = () => {
      if (!this.stopped && !this.ws) {
        clearTimeout(this.retryTimer);
        this.connect();
      }
    };
    addEventListener('online', this.wake);
  }

  connect() {
    if (this.stopped) return;
    this.retryTimer = 0;
    this.ready = false;
    this.on.state('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      // Closed again before this ran (a proxy or a cut that drops it at once): Chromium would log the send.
      if (this.ws !== ws || ws.readyState !== WebSocket.OPEN) return;
      this.lastHeard = Date.now();
      ws.send(JSON.stringify({ type: 'auth', token: this.token }));
    });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;
      if (frame.type === 'welcome') {
        this.ready = true;
        this.attempt = 0;
        this.on.state('online');
      }
      if (frame.type === 'error' && frame.code === 'unauthorized') {
        this.stop();
        this.on.unauthorized();
        return;
      }
      this.on.frame(frame);
    });
    ws.addEventListener('close', (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      clearInterval(this.pingTimer);
      if (this.stopped) return;
      this.scheduleRetry(event.code);
    });
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(), PING_EVERY / 4);
  }

  ping() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const quiet = Date.now() - this.lastHeard;
    if (quiet > SILENCE_LIMIT) {
      // A half-open socket (a laptop lid, a dropped NAT entry): give up on it and dial again.
      this.ws = null;
      try { ws.close(4000, 'silent'); } catch { /* already closing */ }
      clearInterval(this.pingTimer);
      this.scheduleRetry();
    } else if (quiet > PING_EVERY) {
      ws.send(JSON.stringify({ type: 'ping' }));
    }
  }

  scheduleRetry(code) {
    if (this.stopped) return;
    const base = this.attempt < DELAYS.length ? DELAYS[this.attempt] : MAX_DELAY;
    this.attempt += 1;
    // A server restarting (1012) is back soon; everyone else spreads out a little.
    const delay = Math.round((code === 1012 ? Math.min(base, 1000) : base) * (0.8 + Math.random() * 0.4));
    this.retryAt = Date.now() + delay;
    this.on.state('offline', { retryAt: this.retryAt });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Send a frame; false when the socket is not open (the caller keeps what must not be lost). */
  send(frame) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.ready) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  stop() {
    this.stopped = true;
    removeEventListener('online', this.wake);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try { ws.close(1000, 'logout'); } catch { /* already closed */ }
    }
  }
}
