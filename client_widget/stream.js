// The fallback transport (docs/protocol.md, "Fallback transport") for networks that block websockets:
// Server-Sent Events from the server, POST from the client, the same frames. It has the small part of
// the WebSocket interface that connection.js uses (readyState, send, close, onopen, onmessage, onclose),
// so that one Link drives both alike. The stream is read with fetch(), not EventSource: its first frame
// (hello, or resume with the token) goes in the request body and the token in a header, never in a URL.

const SILENCE = 40000; // ms without a byte on the stream (the server sends a keep-alive every 15 s): dead
const { CONNECTING, OPEN, CLOSED } = WebSocket;

export class StreamSocket {
  /**
   * @param {string} streamUrl  POST /sse/visitor: the event stream
   * @param {string} sendUrl  POST /sse/visitor/send: one frame
   */
  constructor(streamUrl, sendUrl) {
    this.streamUrl = streamUrl;
    this.sendUrl = sendUrl;
    this.readyState = CONNECTING;
    this.onopen = this.onmessage = this.onclose = null;
    this.token = null;
    this.started = false;
    this.stop = new AbortController();
    this.posts = Promise.resolve(); // one at a time, in order: a message is not overtaken by the end after it
    this.typing = null; // the latest typing frame not sent yet, while one is on its way
    this.typingBusy = false;
    this.quiet = 0;
    setTimeout(() => {
      if (this.readyState !== CONNECTING) return;
      this.readyState = OPEN;
      this.onopen?.();
    }, 0);
  }

  /** The first frame opens the stream; every later one is a POST. */
  send(text) {
    if (this.readyState !== OPEN) return;
    if (!this.started) {
      this.started = true;
      this.read(text);
      return;
    }
    const type = kind(text);
    if (type === 'ping') {
      this.post(text); // on its own: it only asks whether the way up works
    } else if (type === 'typing') {
      // Never ahead of a message in the line, and only the latest state matters (on a slow network).
      this.typing = text;
      this.sendTyping();
    } else {
      this.posts = this.posts.then(() => this.post(text));
    }
  }

  async sendTyping() {
    if (this.typingBusy || !this.typing) return;
    this.typingBusy = true;
    while (this.typing && this.readyState === OPEN) {
      const text = this.typing;
      this.typing = null;
      await this.post(text);
    }
    this.typingBusy = false;
  }

  close() {
    this.end(1000);
  }

  async read(first) {
    let response;
    try {
      response = await fetch(this.streamUrl, {
        method: 'POST',
        body: first,
        headers: { 'content-type': 'application/json' },
        cache: 'no-store',
        signal: this.stop.signal,
      });
    } catch {
      this.end(1006);
      return;
    }
    if (!response.ok || !response.body) {
      // Refused before the stream began (origin, size, too many connections): the frames say why.
      this.deliver(await frames(response));
      this.end(response.status === 429 ? 1013 : response.status === 413 ? 1009 : 1008);
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    this.alive();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.alive();
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          this.event(block);
          if (this.readyState === CLOSED) return;
        }
      }
    } catch {
      // Cut off (the network, or our own abort).
    }
    this.end(1006);
  }

  event(block) {
    let name = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.onmessage?.({ data: '{"type":"pong"}' }); // a keep-alive: the stream carries
      else if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
    }
    if (name === 'close') {
      let code = 1006;
      try {
        code = Number(JSON.parse(data).code) || 1006;
      } catch {
        // a close without a code is a drop
      }
      this.end(code);
    } else if (data) {
      this.peek(data);
      this.onmessage?.({ data });
    }
  }

  /** The token of this stream's session, for the POSTs. */
  peek(data) {
    if (!data.includes('"session"')) return;
    try {
      const f = JSON.parse(data);
      if (f.type === 'session' && typeof f.token === 'string') this.token = f.token;
    } catch {
      // not a frame
    }
  }

  async post(text) {
    if (this.readyState !== OPEN || !this.token) return;
    let response;
    try {
      response = await fetch(this.sendUrl, {
        method: 'POST',
        body: text,
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + this.token },
        cache: 'no-store',
        signal: this.stop.signal,
      });
    } catch {
      // The network is gone: reconnect and resume; whatever was not acked is sent again, with its client_id.
      this.end(1006);
      return;
    }
    const list = await frames(response);
    if (response.status === 429) {
      // Only a refused message is worth telling (it is sent again); a refused typing or ping is nothing.
      this.deliver(list.filter((f) => f.client_id));
    } else {
      this.deliver(list);
    }
    if (response.status === 401) this.end(1008);
    else if (response.status >= 500) this.end(1013);
  }

  deliver(list) {
    for (const f of list) if (this.readyState !== CLOSED) this.onmessage?.({ data: JSON.stringify(f) });
  }

  alive() {
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.end(1006), SILENCE);
  }

  end(code) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    clearTimeout(this.quiet);
    this.stop.abort();
    this.onclose?.({ code });
  }
}

function kind(text) {
  const m = /^\{"type":"(\w+)"/.exec(text);
  return m ? m[1] : '';
}

async function frames(response) {
  try {
    const list = await response.json();
    return Array.isArray(list) ? list.filter((f) => f && typeof f === 'object') : [];
  } catch {
    return [];
  }
}
