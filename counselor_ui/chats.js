// The chats view: the queue with "accept next", one tab per open chat, the messages, the
// snippet picker, the wrap-up form and the transfer form.
//
// Every event is kept by its seq, so a replay after a reconnect (the server sends `assigned`
// and every event again) shows nothing twice. A message this console sends is shown at once as
// "sending", keyed by its client_id, and kept until the server has stored it; after a reconnect
// it is sent again with the same client_id, which the server does not store twice.
import { S, sendFrame } from './state.js';
import { h, t, clear, replace, nextId, duration, clock, announce, newClientId, queueName, reasonText } from './dom.js';
import { get } from './api.js';
import { beep } from './attention.js';

const TYPING_SEND_EVERY = 3000; // ms between our own typing:true frames while the counselor types
const TYPING_IDLE = 4000; // ms after the last key press: typing:false
const VISITOR_TYPING_TIMEOUT = 8000; // ms: a typing indicator without news goes away

const WRAPUP = {
  category: ['sexual_exploitation', 'criminal_exploitation', 'abuse_at_home', 'online_abuse', 'sexual_violence',
    'worry_about_child', 'mental_health', 'information', 'other', 'not_a_real_chat'],
  risk: ['none', 'low', 'medium', 'high', 'acute'],
  referral: ['none', '112', 'police', 'veilig_thuis', 'kindertelefoon', '113', 'gp', 'own_service', 'other'],
};
const WRAPUP_LABELS = { category: 'categories', risk: 'risks', referral: 'referrals' };

let V = null; // this view's elements
const hooks = { changed: () => {}, colleagues: async () => [] };

/** The app tells this module what to call when counts change (title, badge) and where colleagues come from. */
export function configure(options) {
  Object.assign(hooks, options);
}

// -- the model ---------------------------------------------------------------------------------

function newChat(frame) {
  return {
    sid: frame.session_id,
    audience: frame.audience,
    language: frame.language,
    topic: frame.topic || '',
    urgent: Boolean(frame.urgent),
    category: frame.category || null,
    waited: Number(frame.waited_seconds) || 0,
    visitor: frame.visitor === 'offline' ? 'offline' : 'online',
    typing: false,
    typingTimer: 0,
    events: new Map(), // seq -> event
    notes: new Map(), // note_id -> staff-only whisper
    own: new Map(), // client_id -> {kind, text|snippet, state: sending|sent|failed, seq, error}
    unread: 0,
    // The end reason once ended ('ended' until the `ended` event names one; 'gone' when no longer ours).
    // An `assigned` with status "ended" (after a reload or reconnect) is a chat awaiting its wrap-up.
    ended: frame.status === 'ended' ? 'ended' : null,
    settled: false, // ended, and the server no longer waits for its wrap-up (saved elsewhere, or archived)
    transfer: frame.transfer || null,
    confirmed: true, // the server named it ours since the last (re)connect
    myTyping: { sentAt: 0, timer: 0, active: false },
    draft: '',
    el: null, // its DOM (built lazily, rebuilt when the language changes)
    tab: null,
    rows: [], // [{key, seq, el}] in display order
  };
}

export function activeChats() {
  return [...S.chats.values()].filter((c) => !c.ended);
}

/** Ended, and the wrap-up can (and should) still be filled in. */
export function awaitingWrapup(chat) {
  return Boolean(chat.ended) && chat.ended !== 'gone' && !chat.settled;
}

export function totalUnread() {
  let n = 0;
  for (const chat of S.chats.values()) n += chat.unread;
  return n;
}

// -- frames from the server -----------------------------------------------------------------------

/** Triage found danger in one of my open chats: flag it, with the reason, and say so at once. */
export function onRisk(frame) {
  const chat = S.chats.get(frame.session_id);
  if (!chat || chat.ended) return false;
  const fresh = !chat.urgent;
  chat.urgent = true;
  chat.category = frame.category || chat.category;
  renderTab(chat);
  renderHead(chat);
  if (fresh) announce(t('riskRaised', { n: position(chat), why: reasonText(chat.category) }), true);
  return fresh;
}

/** Where a staff note sits in a chat's log: after the event it followed, notes in their own order. */
export function noteOrder(note) {
  return (Number(note.after_seq) || 0) + 0.5 + (Number(note.note_id) || 0) / 1e6;
}

/** A whisper (staff-only note) in one of my chats: shown in the log, never anything the visitor sees. */
export function onWhisper(frame) {
  const chat = S.chats.get(frame.session_id);
  if (!chat) return false;
  if (!chat.notes.has(frame.note_id)) {
    chat.notes.set(frame.note_id, frame);
    putRow(chat, `n${frame.note_id}`, noteOrder(frame), noteRow(frame));
    if (frame.sender === 'supervisor') {
      announce(t('whisperFrom', { name: frame.name || t('roles.supervisor') }));
      if (S.current !== chat.sid) {
        chat.unread += 1;
        renderTab(chat);
        hooks.changed();
      }
    }
  }
  return true;
}

function sendWhisper(chat) {
  const box = chat.el.whisperInput;
  const text = box.value.trim();
  if (!text || chat.ended) return;
  if (!sendFrame({ type: 'whisper', session_id: chat.sid, client_id: newClientId(), text })) {
    flash(t('whisperOffline'));
    return;
  }
  box.value = '';
}

export function onAssigned(frame) {
  let chat = S.chats.get(frame.session_id);
  const fresh = !chat;
  if (fresh) {
    chat = newChat(frame);
    S.chats.set(chat.sid, chat);
  } else {
    chat.visitor = frame.visitor === 'offline' ? 'offline' : 'online';
    chat.urgent = Boolean(frame.urgent);
    chat.category = frame.category || chat.category;
    chat.confirmed = true;
    if (frame.transfer) chat.transfer = frame.transfer;
    chat.settled = false;
    if (frame.status === 'ended') {
      if (!chat.ended || chat.ended === 'gone') chat.ended = 'ended';
    } else if (chat.ended === 'gone') {
      chat.ended = null;
    }
  }
  chat.confirmed = true;
  mountChat(chat);
  const mine = S.pendingAccept && (frame.for === 'accept' || !frame.transfer);
  if (mine) S.pendingAccept = false;
  if (mine || !S.current || !S.chats.has(S.current)) select(chat.sid, { focus: mine });
  if (fresh && !S.restoring) {
    announce(t('newChat', { audience: t(`audienceOne.${chat.audience}`), language: t(`languages.${chat.language}`) }));
  }
  // Whatever was not stored before a drop goes again, under the same client_id; into a chat that
  // ended meanwhile it cannot go any more.
  for (const [clientId, item] of chat.own) {
    if (item.state !== 'sending') continue;
    if (frame.status === 'ended') {
      item.state = 'failed';
      item.error = t('notSentEnded');
      updateOwnRow(chat, clientId, item);
    } else {
      transmit(chat, clientId, item);
    }
  }
  renderTab(chat);
  renderHead(chat);
  renderEmpty();
  hooks.changed();
}

/** A sequenced event (message, resource, ended, handover…) of one of our chats. */
export function onEvent(frame) {
  const chat = S.chats.get(frame.session_id);
  if (!chat) return false;
  const seq = Number(frame.seq);
  if (!Number.isInteger(seq) || chat.events.has(seq)) return true;
  chat.events.set(seq, frame);
  const own = frame.client_id ? chat.own.get(frame.client_id) : null;
  if (own && frame.sender === 'counselor') {
    own.state = 'sent';
    own.seq = seq;
  }
  putRow(chat, `s${seq}`, seq, renderEvent(chat, frame));
  if (own) dropRow(chat, `c${frame.client_id}`);
  if (frame.type === 'ended') {
    const wasActive = !chat.ended;
    // Focus in a composer or action that is about to be hidden goes to the wrap-up button instead.
    const focusInside = chat.el?.panel.contains(document.activeElement)
      && !chat.el.endedBox.contains(document.activeElement);
    chat.ended = frame.reason || 'counselor';
    chat.settled = false;
    chat.typing = false;
    stopMyTyping(chat);
    renderHead(chat);
    renderTab(chat);
    if (focusInside && !chat.el.wrapupBtn.hidden) chat.el.wrapupBtn.focus();
    if (wasActive && !S.restoring && frame.reason !== 'counselor') announce(t('chatEndedIn', { n: position(chat) }));
  }
  if (frame.sender === 'visitor') {
    chat.typing = false;
    renderTyping(chat);
    const unseen = S.current !== chat.sid || document.hidden || S.view !== 'chats';
    if (unseen && !S.restoring) {
      chat.unread += 1;
      renderTab(chat);
      announce(t('newMessageIn', { n: position(chat) }));
      if (S.sound && (document.hidden || S.view !== 'chats')) beep(false);
    }
    receipt(chat);
  }
  hooks.changed();
  return true;
}

/**
 * Receipts (docs/protocol.md): the visitor's messages that reached this screen are delivered, those shown
 * in the selected chat of a visible, focused console are read. Sent as high-water marks, when they rise.
 */
export function receipt(chat = currentChat()) {
  if (!chat || chat.ended) return;
  let last = 0;
  for (const [seq, e] of chat.events) if (e.sender === 'visitor' && seq > last) last = seq;
  const seen = S.current === chat.sid && S.view === 'chats' && !document.hidden && document.hasFocus();
  const read = seen ? last : chat.readSent || 0;
  if (last <= (chat.deliveredSent || 0) && read <= (chat.readSent || 0)) return;
  if (sendFrame({ type: 'receipt', session_id: chat.sid, delivered: last, read })) {
    chat.deliveredSent = last;
    chat.readSent = read;
  }
}
addEventListener('focus', () => receipt());
document.addEventListener('visibilitychange', () => receipt());

export function onAck(frame) {
  const chat = S.chats.get(frame.session_id);
  const item = chat?.own.get(frame.client_id);
  if (!item) return;
  if (item.state !== 'sent') {
    item.state = 'sent';
    item.seq = frame.seq;
    updateOwnRow(chat, frame.client_id, item);
  }
}

export function onTyping(frame) {
  const chat = S.chats.get(frame.session_id);
  if (!chat || frame.sender !== 'visitor') return;
  chat.typing = Boolean(frame.active) && !chat.ended;
  clearTimeout(chat.typingTimer);
  if (chat.typing) {
    chat.typingTimer = setTimeout(() => {
      chat.typing = false;
      renderTyping(chat);
    }, VISITOR_TYPING_TIMEOUT);
  }
  renderTyping(chat);
}

export function onPresence(frame) {
  const chat = S.chats.get(frame.session_id);
  if (!chat) return;
  chat.visitor = frame.visitor === 'offline' ? 'offline' : 'online';
  if (chat.visitor === 'offline') chat.typing = false;
  renderHead(chat);
  renderTab(chat);
  renderTyping(chat);
}

export function onTransferred(frame) {
  const chat = S.chats.get(frame.session_id);
  if (!chat) return;
  // counselor_lost: every socket of ours was gone past the counselor grace; a colleague takes it from the queue.
  const text = frame.reason === 'counselor_lost' ? t('transferLost')
    : frame.to ? t('transferDone', { to: frame.to }) : t('transferDoneQueue');
  closeDialog('transfer');
  removeChat(chat);
  flash(text);
}

export function onWrapupSaved(frame) {
  const chat = S.chats.get(frame.session_id);
  closeDialog('wrapup');
  if (chat) removeChat(chat);
  flash(t('wrapupSaved'));
}

/**
 * An error frame: the message it belongs to is marked, an open form shows it, an accept tells the
 * queue panel. Returns false when it concerns none of this view's business.
 */
export function onError(frame) {
  if (frame.for === 'accept') {
    S.pendingAccept = false;
    let text = frame.message || frame.code;
    if (frame.code === 'queue_empty') text = t('errQueueEmpty');
    else if (frame.code === 'forbidden' && frame.reason === 'at_capacity') text = t('errAtCapacity');
    else if (frame.code === 'forbidden' && frame.reason === 'unavailable') text = t('unavailableHint');
    else if (frame.code === 'forbidden') text = t('errForbidden', { message: frame.message || '' });
    queueMessage(text, frame.code !== 'queue_empty');
    return true;
  }
  const chat = frame.session_id ? S.chats.get(frame.session_id) : null;
  if (chat && !chat.ended && frame.code === 'unknown_session') {
    // The store lost this chat (Redis came back empty): nothing of it can be sent any more, so it leaves
    // the list instead of sitting there dead. The server then reconnects the socket (1013). (An ended
    // chat keeps its place: a supervisor's `monitor` of it gets unknown_session too, and its wrap-up waits.)
    if (dialogs.open?.sid === chat.sid) closeDialog();
    removeChat(chat);
    flash(t('chatLost'));
    return true;
  }
  if (chat && frame.client_id && chat.own.has(frame.client_id)) {
    const item = chat.own.get(frame.client_id);
    item.state = 'failed';
    item.error = frame.message || frame.code;
    updateOwnRow(chat, frame.client_id, item);
    return true;
  }
  if (frame.session_id && dialogs.open && dialogs.open.sid === frame.session_id) {
    dialogs.open.error(frame.code === 'forbidden' ? t('errForbidden', { message: frame.message }) : frame.message);
    return true;
  }
  return false;
}

/**
 * After the server's replay on a (re)connect: active chats it did not name are no longer ours, and
 * ended ones it did not name no longer wait for a wrap-up (saved from elsewhere, or archived).
 */
export function restoreDone() {
  for (const chat of S.chats.values()) {
    if (chat.confirmed) continue;
    if (!chat.ended) {
      chat.ended = 'gone';
      putRow(chat, 'gone', Infinity, h('li', { class: 'sys' }, t('ended.gone')));
    } else if (chat.ended !== 'gone' && !chat.wrapupSent) {
      chat.settled = true;
    } else {
      continue;
    }
    renderHead(chat);
    renderTab(chat);
  }
  hooks.changed();
}

/** A new socket: every chat must be named by the server again. */
export function restoreStarted() {
  for (const chat of S.chats.values()) chat.confirmed = false;
}

// -- actions ---------------------------------------------------------------------------------------

export function acceptNext(audience, language) {
  const frame = { type: 'accept' };
  if (audience) frame.audience = audience;
  if (language) frame.language = language;
  if (!sendFrame(frame)) {
    queueMessage(t('connOffline', { seconds: '…' }), true);
    return;
  }
  S.pendingAccept = true;
  queueMessage('');
}

function transmit(chat, clientId, item) {
  const frame = item.kind === 'resource'
    ? { type: 'resource', session_id: chat.sid, client_id: clientId, snippet_id: item.snippet.id }
    : { type: 'message', session_id: chat.sid, client_id: clientId, text: item.text };
  sendFrame(frame); // when offline it stays "sending" and goes again after the reconnect
}

function sendOwn(chat, item) {
  const clientId = newClientId();
  chat.own.set(clientId, item);
  putRow(chat, `c${clientId}`, Infinity, renderOwn(chat, clientId, item));
  transmit(chat, clientId, item);
  stopMyTyping(chat);
  scrollDown(chat, true);
}

function sendText(chat) {
  const box = chat.el.input;
  const text = box.value.trim();
  if (!text || chat.ended) return;
  sendOwn(chat, { kind: 'message', text, state: 'sending' });
  box.value = '';
  chat.draft = '';
}

export function sendSnippet(chat, snippet) {
  if (!chat || chat.ended) return;
  sendOwn(chat, { kind: 'resource', snippet, state: 'sending' });
}

function myTyping(chat) {
  if (chat.ended) return;
  const now = Date.now();
  const my = chat.myTyping;
  if (!my.active || now - my.sentAt > TYPING_SEND_EVERY) {
    if (sendFrame({ type: 'typing', session_id: chat.sid, active: true })) {
      my.active = true;
      my.sentAt = now;
    }
  }
  clearTimeout(my.timer);
  my.timer = setTimeout(() => stopMyTyping(chat), TYPING_IDLE);
}

function stopMyTyping(chat) {
  const my = chat.myTyping;
  clearTimeout(my.timer);
  if (my.active) {
    my.active = false;
    sendFrame({ type: 'typing', session_id: chat.sid, active: false });
  }
}

export function select(sid, { focus = false } = {}) {
  const chat = S.chats.get(sid);
  if (!chat) return;
  S.current = sid;
  chat.unread = 0;
  for (const other of S.chats.values()) {
    if (!other.el) continue;
    other.el.panel.hidden = other.sid !== sid;
    renderTab(other);
  }
  scrollDown(chat, true);
  receipt(chat);
  if (focus) (chat.ended ? (awaitingWrapup(chat) ? chat.el.wrapupBtn : chat.tab) : chat.el.input).focus();
  hooks.changed();
}

export function currentChat() {
  return S.current ? S.chats.get(S.current) || null : null;
}

export function cycle(step) {
  const sids = [...S.chats.keys()];
  if (!sids.length) return;
  const index = Math.max(0, sids.indexOf(S.current));
  const next = sids[(index + step + sids.length) % sids.length];
  select(next);
  S.chats.get(next).tab.focus();
}

export function focusComposer() {
  const chat = currentChat();
  if (chat && !chat.ended) chat.el.input.focus();
}

function removeChat(chat) {
  clearTimeout(chat.typingTimer);
  stopMyTyping(chat);
  const sids = [...S.chats.keys()];
  const index = sids.indexOf(chat.sid);
  S.chats.delete(chat.sid);
  chat.el?.panel.remove();
  chat.tab?.remove();
  if (S.current === chat.sid) {
    S.current = null;
    const rest = [...S.chats.keys()];
    if (rest.length) select(rest[Math.min(index, rest.length - 1)]);
  }
  renderEmpty();
  hooks.changed();
  // Focus must not fall to <body>: on to the next chat, or to "accept next".
  if (!document.activeElement || document.activeElement === document.body) {
    const next = currentChat();
    (next?.tab || V?.acceptBtn)?.focus();
  }
}

// -- the view --------------------------------------------------------------------------------------

/** Build the chats view in `root` (again after a language switch), keeping every chat's state. */
export function mount(root) {
  const acceptBtn = h('button', { type: 'button', class: 'primary accept-next', 'aria-describedby': 'accept-hint',
    onclick: () => acceptNext() }, t('acceptNext'));
  V = {
    root,
    acceptBtn,
    queueBody: h('tbody'),
    queueTotal: h('p', { class: 'queue-total' }),
    queueMsg: h('p', { class: 'queue-msg', role: 'status' }),
    tablist: h('div', { class: 'tabs', role: 'tablist', 'aria-label': t('chatsTitle'), onkeydown: tabKeys }),
    panels: h('div', { class: 'panels' }),
    empty: h('p', { class: 'empty' }, t('chatsNone')),
    flash: h('p', { class: 'flash', role: 'status' }),
    unavailable: h('p', { class: 'warn', hidden: true }, t('unavailableHint')),
    skills: h('div', { class: 'skills' }),
  };
  const queuePanel = h('section', { class: 'queue-panel', 'aria-labelledby': 'queue-h' },
    h('h2', { id: 'queue-h' }, t('queueTitle')),
    V.queueTotal,
    h('table', { class: 'queues' },
      h('caption', { class: 'sr-only' }, t('queueTable')),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('colQueue')), h('th', { scope: 'col' }, t('colWaiting')),
        h('th', { scope: 'col' }, t('colUrgent')), h('th', { scope: 'col' }, t('colLongest')),
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('colActions'))))),
      V.queueBody),
    acceptBtn,
    h('p', { class: 'hint', id: 'accept-hint' }, t('acceptNextHint')),
    V.unavailable,
    V.queueMsg,
    V.skills);
  const chatArea = h('section', { class: 'chat-area', 'aria-labelledby': 'chats-h' },
    h('h2', { id: 'chats-h', class: 'sr-only' }, t('chatsTitle')),
    V.tablist, V.flash, V.empty, V.panels);
  replace(root, h('div', { class: 'chats-view' }, queuePanel, chatArea));
  renderSkills();
  for (const chat of S.chats.values()) {
    chat.el = null;
    chat.tab = null;
    chat.rows = [];
    mountChat(chat);
    for (const seq of [...chat.events.keys()].sort((a, b) => a - b)) {
      putRow(chat, `s${seq}`, seq, renderEvent(chat, chat.events.get(seq)));
    }
    for (const note of chat.notes.values()) putRow(chat, `n${note.note_id}`, noteOrder(note), noteRow(note));
    for (const [clientId, item] of chat.own) {
      if (item.state !== 'sent' || !chat.events.has(item.seq)) putRow(chat, `c${clientId}`, Infinity, renderOwn(chat, clientId, item));
    }
    renderTab(chat);
    renderHead(chat);
  }
  if (S.current && S.chats.has(S.current)) select(S.current);
  renderQueues();
  renderEmpty();
}

function renderEmpty() {
  if (!V) return;
  V.empty.hidden = S.chats.size > 0;
  V.tablist.hidden = S.chats.size === 0;
}

export function renderStatus() {
  if (!V) return;
  V.unavailable.hidden = S.status.available;
  // Without a connection the numbers are the last ones heard: shown dimmed, not as the truth.
  V.root.querySelector('.queue-panel')?.classList.toggle('stale', S.conn !== 'online');
}

function queueMessage(text, isError = false) {
  if (!V) return;
  V.queueMsg.textContent = text;
  V.queueMsg.classList.toggle('error', Boolean(isError));
}

let flashTimer = 0;
function flash(text) {
  if (!V) return;
  V.flash.textContent = text;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { if (V) V.flash.textContent = ''; }, 6000);
}

/** Seconds the longest in a queue has waited now, counted on from the last `queues` frame. */
export function liveWait(q) {
  if (!q.waiting) return 0;
  return (q.longest_wait_seconds || 0) + Math.max(0, (Date.now() - S.queuesAt) / 1000);
}

/** Whether this counselor takes a queue (their skills). */
export function takes(q) {
  return (S.status.audiences || []).includes(q.audience) && (S.status.languages || []).includes(q.language);
}

function setSkills(kind, value, on) {
  const chosen = new Set(S.status[kind] || []);
  if (on) chosen.add(value);
  else chosen.delete(value);
  if (!chosen.size) {
    renderSkills(); // at least one audience and one language
    return;
  }
  const frame = { type: 'status', available: S.status.available, capacity: S.status.capacity,
    audiences: S.status.audiences, languages: S.status.languages, [kind]: [...chosen].sort() };
  if (!sendFrame(frame)) renderSkills();
}

/** The queues I take: two audiences and two languages, each group keeping at least one choice. */
export function renderSkills() {
  if (!V) return;
  const group = (kind, values, label) => h('fieldset', { class: 'skills-group' },
    h('legend', {}, t(label)),
    values.map((value) => {
      const id = nextId('skill');
      const on = (S.status[kind] || []).includes(value);
      const last = on && (S.status[kind] || []).length === 1;
      return h('span', { class: 'check' },
        h('input', { type: 'checkbox', id, checked: on, disabled: last, 'data-skill': `${kind}/${value}`,
          onchange: (event) => setSkills(kind, value, event.target.checked) }),
        h('label', { for: id }, t(`${kind}.${value}`)));
    }));
  replace(V.skills, group('audiences', ['parent', 'youth'], 'skillsAudiences'),
    group('languages', ['nl', 'en'], 'skillsLanguages'));
}

export function renderQueues() {
  if (!V) return;
  const queues = [...S.queues].sort((a, b) => (b.urgent || 0) - (a.urgent || 0) || liveWait(b) - liveWait(a)
    || a.audience.localeCompare(b.audience) || a.language.localeCompare(b.language));
  const waiting = queues.reduce((n, q) => n + (q.waiting || 0), 0);
  const urgent = queues.reduce((n, q) => n + (q.urgent || 0), 0);
  V.queueTotal.textContent = waiting ? t('queueTotal', { n: waiting, urgent }) : t('queueNobody');
  V.queueTotal.classList.toggle('has-urgent', urgent > 0);
  clear(V.queueBody);
  for (const q of queues) {
    const name = queueName(q.audience, q.language);
    const categories = (q.urgent_categories || []).map((c) => t(`triage.${c}`)).join(', ');
    const mine = takes(q);
    const unstaffed = q.waiting > 0 && q.skilled_online === 0;
    V.queueBody.appendChild(h('tr', { class: [q.urgent ? 'urgent' : '', q.waiting ? 'waiting' : 'idle',
      mine ? '' : 'not-mine', unstaffed ? 'unstaffed' : ''].join(' '),
      'data-queue': `${q.audience}/${q.language}` },
    h('th', { scope: 'row' }, name,
      mine ? null : h('span', { class: 'queue-note' }, t('notMyQueue')),
      unstaffed ? h('span', { class: 'queue-note warn-note' }, t('nobodyForQueue')) : null),
    h('td', { class: 'num' }, String(q.waiting || 0)),
    h('td', { class: 'urgent-cell' }, q.urgent ? h('span', { class: 'badge urgent' }, String(q.urgent)) : '0',
      categories ? h('span', { class: 'categories' }, ` ${categories}`) : null),
    h('td', { class: 'num wait', 'data-wait': `${q.audience}/${q.language}` }, q.waiting ? duration(liveWait(q)) : '–'),
    h('td', {}, q.waiting && mine ? h('button', { type: 'button', class: 'small', 'aria-label': t('acceptThis', { queue: name }),
      onclick: () => acceptNext(q.audience, q.language) }, '+') : null)));
  }
}

/** Once a second: the waits go on counting. */
export function tick() {
  if (!V) return;
  for (const q of S.queues) {
    const cell = V.queueBody.querySelector(`[data-wait="${q.audience}/${q.language}"]`);
    if (cell) cell.textContent = q.waiting ? duration(liveWait(q)) : '–';
  }
}

function mountChat(chat) {
  if (!V || chat.el) return;
  const panelId = nextId('panel');
  const tabId = nextId('tab');
  const inputId = nextId('msg');
  const hintId = nextId('hint');
  const tab = h('button', { type: 'button', role: 'tab', id: tabId, 'aria-controls': panelId, 'aria-selected': 'false',
    tabindex: '-1', class: 'tab', 'data-sid': chat.sid, onclick: () => select(chat.sid, { focus: false }) });
  const input = h('textarea', { id: inputId, rows: '2', maxlength: '4000', 'aria-describedby': hintId,
    onkeydown: (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        sendText(chat);
      }
    },
    oninput: () => {
      chat.draft = input.value;
      if (input.value.trim()) myTyping(chat);
      else stopMyTyping(chat);
    } });
  input.value = chat.draft;
  // A list inside the live region: role=log on the <ol> itself would take its list semantics away.
  const list = h('ol', { class: 'rows' });
  // Focusable, so that a keyboard can scroll back through the chat.
  const log = h('div', { class: 'log', role: 'log', tabindex: '0',
    'aria-label': t('chatFor', { who: t(`audienceOne.${chat.audience}`) }) }, list);
  const el = {
    panel: h('section', { role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, class: 'chat', hidden: true,
      'data-sid': chat.sid }),
    title: h('h3', { class: 'chat-title' }),
    meta: h('p', { class: 'chat-meta' }),
    presence: h('span', { class: 'presence' }),
    note: h('div', { class: 'transfer-note', hidden: true }),
    log,
    list,
    typing: h('p', { class: 'typing', 'aria-live': 'polite' }),
    endedBox: h('div', { class: 'ended-box', hidden: true }),
    endedTitle: h('p', { class: 'ended-title' }, h('strong', {}, t('endedTab'))),
    endedText: h('p', { class: 'ended-text' }),
    endedHint: h('p', { class: 'ended-hint' }, t('endedNeedsWrapup')),
    wrapupBtn: h('button', { type: 'button', class: 'primary', onclick: () => openWrapup(chat) }, t('wrapupButton')),
    closeBtn: h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => removeChat(chat) },
      t('close')),
    input,
    composer: null,
    actions: null,
    whisperInput: null,
    whisper: null,
  };
  el.endedBox.append(el.endedTitle, el.endedText, el.endedHint, h('div', { class: 'buttons' }, el.wrapupBtn, el.closeBtn));
  el.actions = h('div', { class: 'chat-actions' },
    h('button', { type: 'button', class: 'secondary', onclick: () => openPicker(chat) }, t('snippetsButton')),
    h('button', { type: 'button', class: 'secondary', onclick: () => openTransfer(chat) }, t('transferButton')),
    h('button', { type: 'button', class: 'danger', onclick: () => openWrapup(chat) }, t('endChat')));
  el.composer = h('form', { class: 'composer', onsubmit: (event) => { event.preventDefault(); sendText(chat); } },
    h('label', { for: inputId }, t('messageLabel')),
    input,
    h('p', { class: 'hint', id: hintId }, t('messagePlaceholder')),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, t('send'))));
  const whisperId = nextId('whisper');
  el.whisperInput = h('textarea', { id: whisperId, rows: '1', maxlength: '4000',
    onkeydown: (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        sendWhisper(chat);
      }
    } });
  // A private line to supervisors, folded away so that it is never mistaken for the visitor's composer.
  el.whisper = h('details', { class: 'whisper-box' },
    h('summary', {}, t('whisperOpen')),
    h('form', { class: 'whisper-form', onsubmit: (event) => { event.preventDefault(); sendWhisper(chat); } },
      h('label', { for: whisperId }, t('whisperLabel')),
      el.whisperInput,
      h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'secondary' }, t('whisperSend')))));
  el.panel.append(
    h('header', { class: 'chat-head' }, h('div', {}, el.title, el.meta), el.actions),
    el.note, log, el.typing, el.endedBox, el.composer, el.whisper);
  chat.el = el;
  chat.tab = tab;
  V.tablist.appendChild(tab);
  V.panels.appendChild(el.panel);
  renderHead(chat);
  renderTab(chat);
}

function position(chat) {
  return [...S.chats.keys()].indexOf(chat.sid) + 1;
}

function renderTab(chat) {
  const tab = chat.tab;
  if (!tab) return;
  const selected = S.current === chat.sid;
  tab.setAttribute('aria-selected', String(selected));
  tab.tabIndex = selected ? 0 : -1;
  tab.classList.toggle('urgent', chat.urgent);
  tab.classList.toggle('ended', Boolean(chat.ended));
  tab.classList.toggle('awaiting-wrapup', awaitingWrapup(chat));
  replace(tab,
    h('span', { class: `dot ${chat.ended ? 'ended' : chat.visitor}`, 'aria-hidden': 'true' }),
    h('span', { class: 'tab-title' }, `${position(chat)}. ${t(`audienceOne.${chat.audience}`)} · ${t(`languages.${chat.language}`)}`),
    chat.urgent ? h('span', { class: 'badge urgent' }, t('urgent')) : null,
    chat.topic ? h('span', { class: 'tab-topic' }, chat.topic) : null,
    awaitingWrapup(chat) ? [h('span', { class: 'sr-only' }, ', '), h('span', { class: 'badge ended-mark' }, t('endedTab'))] : null,
    h('span', { class: 'sr-only' }, `, ${chat.ended ? t(`ended.${chat.ended}`) : t(chat.visitor === 'online' ? 'visitorOnline' : 'visitorOffline')}`),
    h('span', { class: 'tab-wait' }, t('waited', { wait: duration(chat.waited) })),
    chat.unread ? h('span', { class: 'badge unread' }, String(chat.unread),
      h('span', { class: 'sr-only' }, ` ${t('unread')}`)) : null);
}

function renderHead(chat) {
  const el = chat.el;
  if (!el) return;
  replace(el.title, `${t(`audienceOne.${chat.audience}`)} · ${t(`languageNames.${chat.language}`)}`,
    chat.urgent ? h('span', { class: 'badge urgent', 'data-reason': chat.category || '' }, chat.category
      ? t('urgentWhy', { category: reasonText(chat.category) }) : t('urgent')) : null);
  replace(el.presence, chat.visitor === 'online' ? t('visitorOnline') : t('visitorOffline'));
  el.presence.className = `presence ${chat.visitor}`;
  replace(el.meta,
    h('span', {}, `${t('topic')}: `, h('span', { class: 'topic' }, chat.topic || t('noTopic'))),
    ' · ', h('span', {}, t('waited', { wait: duration(chat.waited) })),
    chat.ended ? null : [' · ', el.presence]); // after the end, whether the visitor is online no longer matters
  if (chat.transfer) {
    el.note.hidden = false;
    replace(el.note, h('p', { class: 'note-from' }, t('transferredIn', { from: chat.transfer.from || '' })),
      chat.transfer.note ? h('p', {}, h('span', { class: 'sr-only' }, `${t('transferNoteLabel')}: `), chat.transfer.note) : null,
      h('p', { class: 'hint' }, t('transferNoteLabel')));
  } else {
    el.note.hidden = true;
  }
  const ended = Boolean(chat.ended);
  el.endedBox.hidden = !ended;
  el.composer.hidden = ended;
  el.actions.hidden = ended;
  const open = awaitingWrapup(chat);
  el.endedTitle.hidden = !open;
  el.endedHint.hidden = !open;
  el.wrapupBtn.hidden = !open;
  el.closeBtn.hidden = open && !chat.wrapupSent;
  if (ended) el.endedText.textContent = chat.settled ? `${t(`ended.${chat.ended}`)} ${t('endedSettled')}` : t(`ended.${chat.ended}`);
  renderTyping(chat);
}

function renderTyping(chat) {
  if (!chat.el) return;
  chat.el.typing.textContent = chat.typing && !chat.ended ? t('visitorTyping') : '';
}

function tabKeys(event) {
  const keys = { ArrowRight: 1, ArrowLeft: -1, Home: 'first', End: 'last' };
  if (!(event.key in keys) || event.altKey || event.ctrlKey) return;
  event.preventDefault();
  const sids = [...S.chats.keys()];
  if (!sids.length) return;
  let target;
  if (keys[event.key] === 'first') target = sids[0];
  else if (keys[event.key] === 'last') target = sids[sids.length - 1];
  else {
    const index = Math.max(0, sids.indexOf(S.current));
    target = sids[(index + keys[event.key] + sids.length) % sids.length];
  }
  select(target);
  S.chats.get(target).tab.focus();
}

// -- rows in a chat's log --------------------------------------------------------------------------

function putRow(chat, key, seq, el) {
  if (!chat.el || !el) return;
  if (Number.isFinite(seq)) el.dataset.seq = String(seq);
  dropRow(chat, key);
  const rows = chat.rows;
  let i = rows.length;
  while (i > 0 && rows[i - 1].seq > seq) i -= 1;
  const stick = nearBottom(chat);
  const before = rows[i]?.el || null;
  chat.el.list.insertBefore(el, before);
  rows.splice(i, 0, { key, seq, el });
  if (stick) scrollDown(chat, true);
}

function dropRow(chat, key) {
  const i = chat.rows.findIndex((r) => r.key === key);
  if (i >= 0) {
    chat.rows[i].el.remove();
    chat.rows.splice(i, 1);
  }
}

function nearBottom(chat) {
  const log = chat.el.log;
  return log.scrollHeight - log.scrollTop - log.clientHeight < 60;
}

function scrollDown(chat, force) {
  if (!chat.el) return;
  if (force || nearBottom(chat)) chat.el.log.scrollTop = chat.el.log.scrollHeight;
}

function who(sender, own) {
  if (sender === 'visitor') return t('visitor');
  if (sender === 'system') return t('system');
  return own ? t('you') : (t('roles.counselor'));
}

function stateText(item) {
  if (item.state === 'sending') return t('sending');
  if (item.state === 'failed') return t('notSent', { message: item.error || '' });
  return t('sent');
}

function snippetCard(snippet) {
  const url = typeof snippet.url === 'string' && /^https?:\/\//i.test(snippet.url) ? snippet.url : null;
  return h('div', { class: 'card' },
    h('p', { class: 'card-title' }, snippet.title || ''),
    snippet.body ? h('p', { class: 'card-body' }, snippet.body) : null,
    snippet.phone ? h('p', {}, `${t('phone')}: `, h('span', { class: 'phone' }, snippet.phone)) : null,
    url ? h('p', {}, `${t('website')}: `, h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, url)) : null);
}

function bubble(kind, sender, own, ts, body, state) {
  return h('li', { class: `msg from-${sender}${kind === 'resource' ? ' resource' : ''}${own ? ' own' : ''}` },
    h('p', { class: 'msg-meta' },
      h('span', { class: 'who' }, who(sender, own)),
      ts ? h('time', { datetime: ts }, clock(ts)) : null,
      kind === 'resource' ? h('span', { class: 'kind' }, t('resourceSent')) : null,
      state),
    body);
}

/** A staff-only note: who wrote it and that the visitor does not see it. */
export function noteRow(note) {
  return h('li', { class: 'msg whisper', 'data-note': String(note.note_id) },
    h('p', { class: 'msg-meta' },
      h('span', { class: 'who' }, t(note.sender === 'supervisor' ? 'whisperBySupervisor' : 'whisperByCounselor',
        { name: note.name || '' })),
      note.ts ? h('time', { datetime: note.ts }, clock(note.ts)) : null,
      h('span', { class: 'kind' }, t('whisperOnlyStaff'))),
    h('p', { class: 'text' }, note.text || ''));
}

function renderEvent(chat, ev, watching = false) {
  const own = Boolean(ev.client_id && chat.own.has(ev.client_id));
  const state = own ? h('span', { class: 'state sent' }, t('sent')) : null;
  if (ev.type === 'message') {
    return bubble('message', ev.sender || 'system', own, ev.ts, h('p', { class: 'text' }, ev.text || ''), state);
  }
  if (ev.type === 'resource') {
    return bubble('resource', ev.sender || 'counselor', own, ev.ts, snippetCard(ev.snippet || {}), state);
  }
  if (ev.type === 'ended') {
    const text = watching && ev.reason === 'counselor' ? t('endedByCounselor') : t(`ended.${ev.reason}`);
    return h('li', { class: 'sys ended' }, `${clock(ev.ts)} · ${text}`);
  }
  if (ev.type === 'handover') {
    return h('li', { class: 'sys' }, `${clock(ev.ts)} · ${ev.counselor_name
      ? t('handoverTo', { name: ev.counselor_name }) : t('handoverQueue')}`);
  }
  return null; // an event type this console does not show
}

function renderOwn(chat, clientId, item) {
  const state = h('span', { class: `state ${item.state}`, 'data-client-id': clientId }, stateText(item));
  const body = item.kind === 'resource' ? snippetCard(item.snippet) : h('p', { class: 'text' }, item.text);
  const row = bubble(item.kind, 'counselor', true, null, body, state);
  if (item.state === 'failed' && !chat.ended) {
    row.appendChild(h('button', { type: 'button', class: 'small', onclick: () => {
      item.state = 'sending';
      updateOwnRow(chat, clientId, item);
      transmit(chat, clientId, item);
    } }, t('retry')));
  }
  return row;
}

function updateOwnRow(chat, clientId, item) {
  if (!chat.el) return;
  if (item.state === 'sent' && chat.events.has(item.seq)) return; // the stored event shows it already
  putRow(chat, `c${clientId}`, Infinity, renderOwn(chat, clientId, item));
}

// -- dialogs ---------------------------------------------------------------------------------------

const dialogs = { open: null };

function closeDialog(kind) {
  if (dialogs.open && (!kind || dialogs.open.kind === kind)) dialogs.open.close();
}

/** A modal <dialog> that gives focus back where it came from when it closes. */
function modal(kind, chat, titleText, build) {
  closeDialog();
  const titleId = nextId('dlg');
  const errorBox = h('p', { class: 'error', role: 'alert' });
  const dialog = h('dialog', { class: `dialog ${kind}`, 'aria-labelledby': titleId });
  const back = document.activeElement;
  const handle = {
    kind,
    sid: chat?.sid || null,
    dialog,
    error(text) { errorBox.textContent = text || ''; },
    close() {
      if (dialog.open) dialog.close();
    },
  };
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (dialogs.open === handle) dialogs.open = null;
    const target = chat && S.chats.has(chat.sid) && !chat.ended ? chat.el.input : back;
    if (target && target.isConnected) target.focus();
    else (currentChat()?.tab || V?.acceptBtn)?.focus();
  });
  dialog.append(h('h2', { id: titleId }, titleText), ...build(handle), errorBox);
  document.body.appendChild(dialog);
  dialogs.open = handle;
  dialog.showModal();
  return handle;
}

// The snippet picker: type to filter, arrows to choose, Enter to send, with a preview.
export function openPicker(chat = currentChat()) {
  if (!chat || chat.ended) return;
  const listId = nextId('list');
  const helpId = nextId('help');
  const input = h('input', { type: 'text', role: 'combobox', 'aria-expanded': 'true', 'aria-controls': listId,
    'aria-autocomplete': 'list', 'aria-describedby': helpId, autocomplete: 'off', spellcheck: 'false', id: nextId('q') });
  const all = h('input', { type: 'checkbox', id: nextId('all') });
  const list = h('ul', { id: listId, role: 'listbox', class: 'picker-list', 'aria-label': t('adminSnippets') });
  const preview = h('div', { class: 'preview', 'aria-live': 'polite' });
  const count = h('p', { class: 'count', role: 'status' });
  const filterNote = h('p', { class: 'hint' });
  let items = [];
  let active = 0;
  let pending = null;
  let seq = 0;

  function show() {
    clear(list);
    items.forEach((s, i) => {
      const option = h('li', { role: 'option', id: `${listId}-${i}`, 'aria-selected': String(i === active),
        class: i === active ? 'active' : '', 'data-id': s.id,
        onclick: () => { active = i; show(); input.focus(); },
        ondblclick: () => { active = i; send(); } },
      h('span', { class: 'opt-title' }, s.title),
      s.phone ? h('span', { class: 'opt-phone' }, ` · ${s.phone}`) : null,
      h('span', { class: 'opt-meta' }, ` · ${t(`languages.${s.language}`)} · ${t(`audiences.${s.audience}`)}`));
      list.appendChild(option);
    });
    if (items.length) input.setAttribute('aria-activedescendant', `${listId}-${active}`);
    else input.removeAttribute('aria-activedescendant');
    count.textContent = items.length ? t('pickerCount', { n: items.length }) : t('pickerNone');
    const chosen = items[active];
    replace(preview, h('h3', {}, t('pickerPreview')), chosen ? snippetCard(chosen) : h('p', {}, t('pickerNone')));
    list.querySelector('.active')?.scrollIntoView({ block: 'nearest' });
  }

  function search() {
    const params = new URLSearchParams();
    if (!all.checked) {
      params.set('language', chat.language);
      params.set('audience', chat.audience);
    }
    if (input.value.trim()) params.set('q', input.value.trim());
    filterNote.textContent = all.checked ? '' : t('pickerFilter', {
      language: t(`languageNames.${chat.language}`), audience: t(`audiences.${chat.audience}`) });
    const mine = ++seq;
    pending = get(`/api/snippets?${params}`).then((rows) => {
      if (mine !== seq) return;
      items = Array.isArray(rows) ? rows : [];
      active = 0;
      handle.error('');
      show();
    }).catch(() => {
      if (mine === seq) handle.error(t('pickerFailed'));
    });
    return pending;
  }

  let debounce = 0;
  async function send() {
    clearTimeout(debounce);
    if (debounce) {
      debounce = 0;
      await search();
    }
    await pending;
    const chosen = items[active];
    if (!chosen) return;
    handle.close();
    sendSnippet(chat, chosen);
  }

  input.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { debounce = 0; search(); }, 120);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      if (!items.length) return;
      active = (active + (event.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
      show();
    } else if (event.key === 'Enter') {
      event.preventDefault();
      send();
    }
  });
  all.addEventListener('change', () => search());

  const handle = modal('picker', chat, t('pickerTitle'), () => [
    h('p', { class: 'hint', id: helpId }, t('pickerHelp')),
    h('label', { for: input.id }, t('pickerSearch')), input,
    h('p', { class: 'check' }, all, h('label', { for: all.id }, t('pickerAll'))),
    filterNote,
    h('div', { class: 'picker-body' }, list, preview),
    count,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'primary', onclick: () => send() }, t('pickerSend')),
      h('button', { type: 'button', class: 'secondary', onclick: () => handle.close() }, t('cancel'))),
  ]);
  input.focus();
  search();
}

// End and wrap-up: three fixed choices, then the chat leaves the tab bar.
export function openWrapup(chat = currentChat()) {
  if (!chat || (chat.ended && !awaitingWrapup(chat))) return;
  const selects = {};
  const fields = Object.keys(WRAPUP).map((name) => {
    const id = nextId(name);
    selects[name] = h('select', { id, required: true, name },
      h('option', { value: '' }, t('wrapupChoose')),
      WRAPUP[name].map((value) => h('option', { value }, t(`${WRAPUP_LABELS[name]}.${value}`))));
    const label = { category: 'wrapupCategory', risk: 'wrapupRisk', referral: 'wrapupReferral' }[name];
    return h('p', { class: 'field' }, h('label', { for: id }, t(label)), selects[name]);
  });
  const active = !chat.ended;
  const abusiveId = nextId('abusive');
  const abusive = h('input', { type: 'checkbox', id: abusiveId, name: 'abusive' });
  const handle = modal('wrapup', chat, t('wrapupTitle'), (self) => [
    h('p', {}, t('wrapupIntro')),
    h('form', { class: 'form', onsubmit: (event) => {
      event.preventDefault();
      const values = Object.fromEntries(Object.entries(selects).map(([k, s]) => [k, s.value]));
      if (Object.values(values).some((v) => !v)) {
        self.error(t('wrapupMissing'));
        return;
      }
      const end = { type: 'end', session_id: chat.sid };
      if (abusive.checked) end.abusive = true;
      if (active && !chat.ended && !sendFrame(end)) {
        self.error(t('connOffline', { seconds: '…' }));
        return;
      }
      if (!sendFrame({ type: 'wrapup', session_id: chat.sid, ...values })) {
        self.error(t('connOffline', { seconds: '…' }));
        return;
      }
      // Until wrapup_saved arrives; should it never (an archived chat), the tab can still be closed.
      chat.wrapupSent = true;
      renderHead(chat);
      self.error('');
    } },
    ...fields,
    active ? h('p', { class: 'field check' }, abusive, ' ', h('label', { for: abusiveId }, t('wrapupAbusive'))) : null,
    h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: active ? 'danger' : 'primary' }, active ? t('wrapupEndAndSave') : t('wrapupSave')),
      h('button', { type: 'button', class: 'secondary', onclick: () => self.close() }, t('cancel')))),
  ]);
  selects.category.focus();
  return handle;
}

// Transfer: to a colleague who is available, or back to the head of the queue, with an internal note.
export async function openTransfer(chat = currentChat()) {
  if (!chat || chat.ended) return;
  const name = 'to-' + nextId('r');
  const toQueue = h('input', { type: 'radio', name, value: 'queue', id: nextId('q'), checked: true });
  const toColleague = h('input', { type: 'radio', name, value: 'colleague', id: nextId('c') });
  const colleagueBox = h('div', { class: 'colleague' });
  const noteId = nextId('note');
  const note = h('textarea', { id: noteId, maxlength: '500', rows: '3' });
  let picker = null;
  const colleagues = await hooks.colleagues();
  if (Array.isArray(colleagues)) {
    const id = nextId('who');
    picker = colleagues.length
      ? h('select', { id }, colleagues.map((c) => h('option', { value: c.username },
        t('transferColleagueOption', { name: c.name, active: c.active, capacity: c.capacity }))))
      : null;
    replace(colleagueBox, picker ? [h('label', { for: id }, t('transferChooseColleague')), picker]
      : h('p', { class: 'hint' }, t('transferNoneAvailable')));
  } else {
    const id = nextId('who');
    picker = h('input', { id, type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: '64' });
    replace(colleagueBox, h('label', { for: id }, t('transferUsername')), picker);
  }
  const sync = () => { colleagueBox.hidden = !toColleague.checked; };
  toQueue.addEventListener('change', sync);
  toColleague.addEventListener('change', sync);
  sync();
  modal('transfer', chat, t('transferTitle'), (self) => [
    h('form', { class: 'form', onsubmit: (event) => {
      event.preventDefault();
      let to = null;
      if (toColleague.checked) {
        to = picker ? picker.value.trim() : '';
        if (!to) {
          self.error(t('transferNeedName'));
          picker?.focus();
          return;
        }
      }
      if (!sendFrame({ type: 'transfer', session_id: chat.sid, to, note: note.value.slice(0, 500) })) {
        self.error(t('connOffline', { seconds: '…' }));
        return;
      }
      self.error('');
    } },
    h('fieldset', {}, h('legend', {}, t('transferTo')),
      h('p', { class: 'check' }, toQueue, h('label', { for: toQueue.id }, t('transferQueue'))),
      h('p', { class: 'check' }, toColleague, h('label', { for: toColleague.id }, t('transferColleague'))),
      colleagueBox),
    h('p', { class: 'field' }, h('label', { for: noteId }, t('transferNote')), note),
    h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary' }, t('transferSubmit')),
      h('button', { type: 'button', class: 'secondary', onclick: () => self.close() }, t('cancel')))),
  ]);
  toQueue.focus();
}

export function dialogOpen() {
  return Boolean(dialogs.open);
}

/** A read-only row for an event of someone else's chat (supervisor monitoring). */
export function eventRow(ev) {
  return renderEvent({ own: new Map() }, ev, true);
}
