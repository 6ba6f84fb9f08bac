// The console's state, shared by the views. Only the login token (and the interface language)
// leave memory, into this tab's sessionStorage; chats live in memory and come back from the
// server after a reload or a reconnect.

const KEY = 'hlc-console';

export const S = {
  token: null,
  me: null, // {name, role, username}
  view: 'chats', // chats | supervisor | admin
  conn: 'connecting', // connecting | online | offline
  retryAt: 0,
  restoring: false, // between `welcome` and the pong that follows the server's replay
  everOnline: false,
  status: { available: true, capacity: 3, active: 0, audiences: ['parent', 'youth'], languages: ['en', 'nl'] },
  queues: [],
  queuesAt: 0,
  chats: new Map(), // session_id -> chat (see chats.js)
  current: null, // the session_id of the chat shown
  monitors: new Map(), // session_id -> monitored chat (supervisor.js)
  alerts: new Map(), // "audience/language" -> alert frame + received time
  overview: null,
  sound: true,
  link: null,
  pendingAccept: false,
};

export const saved = {
  read() {
    try {
      const value = JSON.parse(sessionStorage.getItem(KEY) || '{}');
      return value && typeof value === 'object' ? value : {};
    } catch {
      return {};
    }
  },
  write(patch) {
    try {
      sessionStorage.setItem(KEY, JSON.stringify({ ...this.read(), ...patch }));
    } catch {
      // Storage switched off: the console works, it just cannot survive a reload.
    }
  },
  forgetToken() {
    const { lang, sound } = this.read();
    try {
      sessionStorage.removeItem(KEY);
    } catch {
      return;
    }
    this.write({ lang, sound });
  },
};

export function isSupervisor() {
  return S.me && (S.me.role === 'supervisor' || S.me.role === 'admin');
}

export function isAdmin() {
  return S.me && S.me.role === 'admin';
}

/** Send a frame over the console's socket; false when there is no open socket right now. */
export function sendFrame(frame) {
  return Boolean(S.link && S.link.send(frame));
}
