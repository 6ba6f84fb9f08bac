// The counselor console: login, the header (who, availability, capacity, connection, language),
// the views (chats, supervision, admin), the socket's frames, attention and keyboard shortcuts.
// Served at /console under a strict Content-Security-Policy: no inline code, no HTML from strings.
import { S, saved, isSupervisor, isAdmin, sendFrame } from './state.js';
import { h, t, replace, setLanguage, currentLanguage, LANGS, announce, duration, queueName, nextId, reasonText } from './dom.js';
import { api, get, post, setToken, ApiError } from './api.js';
import { Link } from './connection.js';
import { unlockAudio, beep, setBadge, notificationState, askNotifications, notify, closeNotification } from './attention.js';
import * as chats from './chats.js';
import * as supervisor from './supervisor.js';
import * as admin from './admin.js';
import * as review from './review.js';

const BEEP_EVERY = 10000; // ms between beeps while someone waits and this counselor has room for a chat
const URGENT_BEEP_EVERY = 5000; // sooner, and louder, while an urgent visitor waits
const NOTIFY_EVERY = 60000; // ms between notifications for the same wait
const ALERT_KEEP = 5 * 60000; // ms an alert stays up without a new one

const root = document.getElementById('root');
const attn = { since: 0, lastBeep: 0, lastNotify: 0, beeps: 0 };
let U = null; // the shell's elements
let ticker = 0;

// -- boot and login ---------------------------------------------------------------------------------

async function boot() {
  const stored = saved.read();
  setLanguage(stored.lang || 'nl');
  S.sound = stored.sound !== false;
  if (stored.token) {
    setToken(stored.token, expired);
    try {
      const me = await get('/api/auth/me');
      start(stored.token, me);
      return;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) {
        // The server could not be reached: keep the token and try the socket anyway.
        start(stored.token, stored.me || { name: '', role: 'counselor', username: '' });
        return;
      }
      saved.forgetToken();
    }
  }
  showLogin();
}

function languagePicker(onchange) {
  const id = nextId('lang');
  return h('p', { class: 'field inline lang' },
    h('label', { for: id }, t('interfaceLanguage')),
    h('select', { id, onchange: (event) => {
      setLanguage(event.target.value);
      saved.write({ lang: currentLanguage() });
      onchange();
    } }, Object.entries(LANGS).map(([code, table]) => h('option', { value: code, selected: code === currentLanguage(),
      lang: code }, table.languageName))));
}

function showLogin(message = '') {
  document.title = t('appName');
  setBadge(false);
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true,
    autocapitalize: 'none', spellcheck: 'false', maxlength: '64' });
  const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password',
    required: true, maxlength: '1024' });
  const error = h('p', { class: 'error', role: 'alert' }, message && message !== t('loggedOut') ? message : '');
  const info = h('p', { class: 'flash', role: 'status' }, message === t('loggedOut') ? message : '');
  const submit = h('button', { type: 'submit', class: 'primary' }, t('login'));
  const form = h('form', { class: 'form login-form', 'aria-labelledby': 'login-h', onsubmit: async (event) => {
    event.preventDefault();
    unlockAudio(); // a key press or click: the browser lets the console beep from now on
    submit.disabled = true;
    error.textContent = '';
    info.textContent = t('loggingIn');
    try {
      const result = await api('POST', '/api/auth/login', { username: user.value.trim(), password: pass.value });
      pass.value = '';
      saved.write({ token: result.token, me: result.counselor });
      start(result.token, result.counselor);
    } catch (err) {
      info.textContent = '';
      submit.disabled = false;
      if (err.status === 401) error.textContent = t('loginWrong');
      else if (err.status === 429) error.textContent = t('loginLimited', { minutes: Math.ceil((err.retryAfter || 60) / 60) });
      else error.textContent = t('loginFailed');
      pass.focus();
    }
  } },
  h('h2', { id: 'login-h' }, t('loginTitle')),
  h('p', {}, t('loginIntro')),
  h('p', { class: 'field' }, h('label', { for: user.id }, t('username')), user),
  h('p', { class: 'field' }, h('label', { for: pass.id }, t('password')), pass),
  h('div', { class: 'buttons' }, submit), error, info);
  replace(root, h('main', { class: 'login' },
    h('h1', {}, t('appName')),
    form,
    languagePicker(() => showLogin(message))));
  user.focus();
}

function start(token, me) {
  S.token = token;
  S.me = me;
  setToken(token, expired);
  chats.configure({ changed: attention, colleagues: () => (isSupervisor() ? supervisor.colleagues() : null) });
  S.link?.stop();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/counselor`;
  S.link = new Link(url, token, { frame: onFrame, state: onConnState, unauthorized: expired });
  renderShell();
  S.link.connect();
  clearInterval(ticker);
  ticker = setInterval(tick, 1000);
}

function reset() {
  S.link?.stop();
  S.link = null;
  clearInterval(ticker);
  supervisor.show(false);
  S.token = null;
  S.me = null;
  S.chats.clear();
  S.monitors.clear();
  S.alerts.clear();
  S.current = null;
  S.queues = [];
  S.overview = null;
  S.view = 'chats';
  S.everOnline = false;
  setToken(null);
  saved.forgetToken();
  closeNotification();
  for (const dialog of document.querySelectorAll('dialog')) dialog.remove();
}

function expired() {
  if (!S.token) return;
  reset();
  showLogin(t('sessionExpired'));
}

async function logout() {
  const open = chats.activeChats().length;
  if (open && !window.confirm(t('logoutOpenChats', { n: open }))) return;
  try {
    await post('/api/auth/logout');
  } catch {
    // The token dies with its TTL; this tab forgets it either way.
  }
  reset();
  showLogin(t('loggedOut'));
}

// -- the shell ----------------------------------------------------------------------------------------

function renderShell() {
  const availId = nextId('avail');
  const capId = nextId('cap');
  const soundId = nextId('sound');
  U = {
    avail: h('input', { type: 'checkbox', role: 'switch', id: availId, checked: S.status.available,
      onchange: () => setStatus(U.avail.checked, Number(U.cap.value)) }),
    cap: h('select', { id: capId, onchange: () => setStatus(U.avail.checked, Number(U.cap.value)) },
      Array.from({ length: 10 }, (_, i) => h('option', { value: String(i + 1), selected: i + 1 === S.status.capacity },
        String(i + 1)))),
    load: h('span', { class: 'load' }),
    conn: h('span', { class: 'conn', role: 'status' }),
    sound: h('input', { type: 'checkbox', id: soundId, checked: S.sound, onchange: () => {
      S.sound = U.sound.checked;
      saved.write({ sound: S.sound });
      if (S.sound) {
        unlockAudio();
        beep(false);
      }
    } }),
    notif: h('span', { class: 'notif' }),
    alerts: h('div', { class: 'alerts', role: 'region', 'aria-label': t('alertTitle') }),
    nav: h('nav', { class: 'views', 'aria-label': t('navLabel') }),
    views: {
      chats: h('div', { class: 'view', 'data-view': 'chats' }),
      supervisor: h('div', { class: 'view', 'data-view': 'supervisor' }),
      review: h('div', { class: 'view', 'data-view': 'review' }),
      admin: h('div', { class: 'view', 'data-view': 'admin' }),
    },
  };
  const header = h('header', { class: 'top' },
    h('div', { class: 'brand' }, h('h1', {}, t('appName')),
      h('p', { class: 'me' }, h('span', { class: 'me-name' }, S.me?.name || ''), ' ',
        h('span', { class: 'role' }, t(`roles.${S.me?.role || 'counselor'}`)))),
    h('div', { class: 'controls' },
      h('p', { class: 'switch' }, U.avail, h('label', { for: availId }, t('available'))),
      h('p', { class: 'field inline' }, h('label', { for: capId }, t('capacity')), U.cap),
      U.load, U.conn),
    h('div', { class: 'prefs' },
      languagePicker(() => renderShell()),
      h('p', { class: 'check' }, U.sound, h('label', { for: soundId }, t('sound'))),
      U.notif,
      h('button', { type: 'button', class: 'secondary', onclick: showShortcuts }, t('shortcuts')),
      h('button', { type: 'button', class: 'secondary', onclick: logout }, t('logout'))));
  const views = [['chats', 'viewChats', true], ['supervisor', 'viewSupervisor', isSupervisor()],
    ['review', 'viewReview', true], ['admin', 'viewAdmin', isAdmin()]];
  if (!views.some(([key, , ok]) => ok && key === S.view)) S.view = 'chats';
  for (const [key, label, ok] of views) {
    if (!ok) continue;
    U.nav.appendChild(h('button', { type: 'button', class: 'nav-btn', 'data-view': key, onclick: () => showView(key) },
      t(label), key === 'chats' ? h('span', { class: 'badge unread nav-count', hidden: true }) : null));
  }
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
  replace(root, header, U.alerts, U.nav.children.length > 1 ? U.nav : null,
    h('main', { class: 'main', id: 'main' }, U.views.chats, U.views.supervisor, U.views.review, U.views.admin));
  chats.mount(U.views.chats);
  if (isSupervisor()) supervisor.mount(U.views.supervisor);
  review.mount(U.views.review);
  if (isAdmin()) admin.mount(U.views.admin);
  showView(S.view, false);
  renderHeader();
  renderAlerts();
  renderNotif();
  attention();
}

function showView(key, focus = true) {
  S.view = key;
  for (const [name, el] of Object.entries(U.views)) el.hidden = name !== key;
  for (const button of U.nav.querySelectorAll('button')) {
    if (button.dataset.view === key) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  supervisor.show(key === 'supervisor' && isSupervisor());
  admin.show(key === 'admin' && isAdmin());
  review.show(key === 'review');
  if (key === 'chats') chats.receipt();
  if (key === 'chats') {
    const chat = chats.currentChat();
    if (chat) chats.select(chat.sid);
  }
  if (focus) U.views[key].querySelector('h2')?.setAttribute('tabindex', '-1');
  if (focus) U.views[key].querySelector('h2')?.focus();
  attention();
}

function renderHeader() {
  if (!U) return;
  U.avail.checked = S.status.available;
  U.cap.value = String(S.status.capacity);
  U.load.textContent = t('load', { active: chats.activeChats().length, capacity: S.status.capacity });
  let text = t('connOnline');
  if (S.conn === 'connecting') text = t('connConnecting');
  else if (S.conn === 'offline') text = t('connOffline', { seconds: Math.max(0, Math.ceil((S.retryAt - Date.now()) / 1000)) });
  U.conn.textContent = text;
  U.conn.className = `conn ${S.conn}`;
  document.documentElement.dataset.conn = S.conn;
  chats.renderStatus();
}

function renderNotif() {
  if (!U) return;
  const state = notificationState();
  if (state === 'default') {
    replace(U.notif, h('button', { type: 'button', class: 'secondary', onclick: async () => {
      unlockAudio();
      await askNotifications();
      renderNotif();
    } }, t('notificationsEnable')));
  } else if (state === 'granted') {
    replace(U.notif, h('span', { class: 'hint' }, t('notificationsOn')));
  } else if (state === 'denied') {
    replace(U.notif, h('span', { class: 'hint' }, t('notificationsBlocked')));
  } else {
    replace(U.notif);
  }
}

function setStatus(available, capacity) {
  unlockAudio();
  if (!sendFrame({ type: 'status', available, capacity })) {
    renderHeader(); // back to what the server last said
    announce(t('connOffline', { seconds: '…' }));
  }
}

function alertText(alert) {
  if (alert.reason === 'whisper') {
    return t('whisperAlertText', { queue: queueName(alert.audience, alert.language), counselor: alert.counselor_name || '–' });
  }
  if (alert.reason === 'risk') {
    return t('riskAlertText', { queue: queueName(alert.audience, alert.language), why: reasonText(alert.category),
      counselor: alert.counselor_name || '–' });
  }
  return t('alertText', { queue: queueName(alert.audience, alert.language), wait: duration(alert.longest_wait_seconds) });
}

function renderAlerts() {
  if (!U) return;
  const now = Date.now();
  for (const [key, alert] of S.alerts) if (now - alert.at > ALERT_KEEP) S.alerts.delete(key);
  replace(U.alerts, [...S.alerts.entries()].map(([key, alert]) => h('div', { class: 'alert', 'data-queue': key,
    'data-reason': alert.reason || 'wait' },
    h('p', {}, h('strong', {}, `${t(alert.reason === 'risk' || alert.reason === 'whisper'
      ? `${alert.reason}AlertTitle` : 'alertTitle')}: `), alertText(alert)),
    alert.session_id && isSupervisor() ? h('button', { type: 'button', class: 'small', onclick: () => {
      S.alerts.delete(key);
      showView('supervisor');
      supervisor.monitor(alert.session_id);
      renderAlerts();
    } }, t('monitor')) : null,
    h('button', { type: 'button', class: 'small', onclick: () => {
      S.alerts.delete(key);
      renderAlerts();
      attention();
    } }, t('dismiss')))));
  U.alerts.hidden = S.alerts.size === 0;
}

function showShortcuts() {
  const titleId = nextId('keys');
  const back = document.activeElement;
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, t('shortcutsTitle')),
    h('table', { class: 'grid keys' }, h('tbody', {}, t('keys').map(([keys, what]) => h('tr', {},
      h('th', { scope: 'row' }, h('kbd', {}, keys)), h('td', {}, what))))),
    h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'primary', onclick: () => dialog.close() }, t('close'))));
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (back?.isConnected) back.focus();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  dialog.querySelector('button').focus();
}

// -- frames ----------------------------------------------------------------------------------------------

function onConnState(state, info) {
  const was = S.conn;
  S.conn = state;
  if (info?.retryAt) S.retryAt = info.retryAt;
  if (state === 'offline' && was === 'online') announce(t('connOffline', { seconds: Math.ceil((S.retryAt - Date.now()) / 1000) }));
  renderHeader();
  attention();
}

function onFrame(frame) {
  switch (frame.type) {
    case 'welcome':
      S.me = { ...S.me, ...frame.counselor };
      if (Array.isArray(frame.counselor?.audiences)) {
        S.status = { ...S.status, audiences: frame.counselor.audiences, languages: frame.counselor.languages };
        chats.renderSkills();
      }
      saved.write({ me: S.me });
      S.restoring = true;
      document.documentElement.dataset.replay = 'running';
      chats.restoreStarted();
      supervisor.resume();
      // Sent after the replay of every open chat: its pong marks the end of the replay.
      sendFrame({ type: 'ping' });
      break;
    case 'pong':
      if (S.restoring) {
        S.restoring = false;
        document.documentElement.dataset.replay = 'done';
        chats.restoreDone();
        if (S.everOnline) announce(t('connRestored'));
        S.everOnline = true;
      }
      break;
    case 'status':
      S.status = { available: Boolean(frame.available), capacity: Number(frame.capacity) || 1,
        active: Number(frame.active) || 0,
        audiences: Array.isArray(frame.audiences) ? frame.audiences : S.status.audiences,
        languages: Array.isArray(frame.languages) ? frame.languages : S.status.languages };
      renderHeader();
      chats.renderSkills();
      chats.renderQueues();
      attention();
      break;
    case 'queues':
      S.queues = Array.isArray(frame.queues) ? frame.queues : [];
      S.queuesAt = Date.now();
      // An alert ends when its queue is empty again (the server only repeats alerts, never withdraws them).
      for (const q of S.queues) {
        if (!q.waiting && S.alerts.delete(`${q.audience}/${q.language}`)) renderAlerts();
      }
      chats.renderQueues();
      attention();
      break;
    case 'assigned':
      chats.onAssigned(frame);
      renderHeader();
      break;
    case 'monitoring':
      supervisor.onMonitoring(frame);
      break;
    case 'ack':
      chats.onAck(frame);
      break;
    case 'typing':
      chats.onTyping(frame);
      break;
    case 'presence':
      chats.onPresence(frame);
      break;
    case 'transferred':
      chats.onTransferred(frame);
      renderHeader();
      break;
    case 'wrapup_saved':
      chats.onWrapupSaved(frame);
      renderHeader();
      break;
    case 'risk':
      if (chats.onRisk(frame) && S.sound) beep(true);
      break;
    case 'whisper':
      chats.onWhisper(frame);
      supervisor.onWhisper(frame);
      break;
    case 'whisper_ack':
      break; // the note itself comes back to every staff console that follows the chat
    case 'alert':
      if (frame.reason === 'risk' || frame.reason === 'whisper') {
        // A risk raised in someone's active chat, or a counselor asking for help: the queue, the counselor and
        // (for a risk) the reason, never the text; the supervisor opens the chat to read it.
        S.alerts.set(`${frame.reason}/${frame.session_id}`, { ...frame, at: Date.now() });
        renderAlerts();
        announce(alertText(frame), true);
        if (S.sound) beep(frame.reason === 'risk');
        notify(t(`${frame.reason}AlertTitle`), t(`${frame.reason}AlertNotify`), `helpline-${frame.reason}`);
      } else {
        S.alerts.set(`${frame.audience}/${frame.language}`, { ...frame, at: Date.now() });
        renderAlerts();
        announce(alertText(frame), true);
        if (S.sound) beep(true);
        notify(t('alertTitle'), alertText(frame), 'helpline-alert');
      }
      attention();
      break;
    case 'error':
      if (!chats.onError(frame) && !supervisor.onError(frame)) announce(frame.message || frame.code, true);
      break;
    default:
      if (frame.session_id && frame.seq != null) {
        const mine = chats.onEvent(frame);
        const watched = supervisor.onMonitorEvent(frame);
        if ((mine || watched) && frame.type === 'ended') renderHeader();
      }
  }
}

// -- attention ---------------------------------------------------------------------------------------------

function attention() {
  if (!S.me) return;
  const now = Date.now();
  // Only the queues this counselor takes call them.
  const mine = S.queues.filter(chats.takes);
  const waiting = mine.reduce((n, q) => n + (q.waiting || 0), 0);
  const urgent = mine.reduce((n, q) => n + (q.urgent || 0), 0);
  const unread = chats.totalUnread();
  // Whoever is available with room for one more chat is called, however many chats are open already.
  const free = S.status.capacity - chats.activeChats().length;
  const need = waiting > 0 && free > 0 && S.status.available && S.conn === 'online';
  if (need) {
    if (!attn.since) {
      attn.since = now;
      attn.lastBeep = 0;
      attn.lastNotify = 0;
    }
    if (S.sound && now - attn.lastBeep >= (urgent > 0 ? URGENT_BEEP_EVERY : BEEP_EVERY)) {
      attn.lastBeep = now;
      if (beep(urgent > 0)) attn.beeps += 1;
    }
    if (now - attn.lastNotify >= NOTIFY_EVERY) {
      attn.lastNotify = now;
      const longest = Math.max(0, ...S.queues.map((q) => chats.liveWait(q)));
      notify(t('notifyTitle'), t('notifyBody', { n: waiting, wait: duration(longest) }));
    }
  } else if (attn.since) {
    attn.since = 0;
    closeNotification();
  }
  const app = t('appName');
  // The title alternates while someone waits, so that a tab in the background catches the eye; counts only,
  // never a visitor's words or topic.
  const flip = Math.floor((now - (attn.since || now)) / 1000) % 2 === 1;
  const waitingTitle = t(flip ? 'titleWaitingAlt' : 'titleWaiting', { n: waiting, urgent, app });
  document.title = need ? waitingTitle : unread ? t('titleUnread', { n: unread, app }) : app;
  setBadge(need || unread > 0 || S.alerts.size > 0);
  document.documentElement.dataset.attention = need ? 'waiting' : 'none';
  document.documentElement.dataset.beeps = String(attn.beeps);
  const count = U?.nav.querySelector('.nav-count');
  if (count) {
    count.hidden = !unread;
    count.textContent = String(unread);
  }
}

function tick() {
  chats.tick();
  supervisor.tick();
  if (S.conn === 'offline') renderHeader();
  if (S.alerts.size) {
    const before = S.alerts.size;
    renderAlerts();
    if (before !== S.alerts.size) attention();
  }
  attention();
}

// -- keyboard --------------------------------------------------------------------------------------------

document.addEventListener('keydown', (event) => {
  unlockAudio();
  if (!S.me || !U || !event.altKey || event.ctrlKey || event.metaKey) return;
  if (document.querySelector('dialog[open]')) return;
  const actions = {
    KeyN: () => chats.acceptNext(),
    KeyK: () => chats.openPicker(),
    KeyW: () => chats.openWrapup(),
    KeyT: () => chats.openTransfer(),
    KeyM: () => chats.focusComposer(),
    PageDown: () => chats.cycle(1),
    PageUp: () => chats.cycle(-1),
  };
  const action = actions[event.code];
  if (!action) return;
  event.preventDefault();
  if (S.view !== 'chats') showView('chats', false);
  action();
});

document.addEventListener('pointerdown', unlockAudio, { passive: true });

document.addEventListener('visibilitychange', () => {
  if (document.hidden || S.view !== 'chats') return;
  const chat = chats.currentChat();
  if (chat?.unread) chats.select(chat.sid);
});

boot();
