// The chat frame: everything the visitor sees and does. It runs in /widget/frame.html on the
// chat server's own origin, so the host page can neither read nor restyle it. It talks to the
// loader (widget.js) only by postMessage, sent to the host page's origin and checked on receipt.
// Text from the network goes into the page as text nodes only, never as HTML.
import nl from './i18n/nl.js';
import en from './i18n/en.js';
import { Link, saved } from './connection.js';

const LANGS = { nl, en };
const ESC_WINDOW = 1000; // ms between the two Escapes of a quick exit
// Used only when the frame is opened on its own; embedded, the loader's data-exit-url decides.
const STANDALONE_EXIT = 'https://www.google.com/search?q=weer';

const params = new URLSearchParams(location.hash.slice(1));
const embedded = window.parent !== window;
const hostOrigin = embedded ? originOf(params.get('o')) : null;
let lang = LANGS[params.get('lang')] ? params.get('lang') : 'nl';
let T = LANGS[lang];

const $ = (id) => document.getElementById(id);
const ui = { title: $('title'), hide: $('hide'), exit: $('exit'), hint: $('exit-hint'), notice: $('notice'),
  main: $('main'), announce: $('announce') };

const S = {
  view: 'start',
  status: undefined, // undefined: loading, null: unknown, else the /api/status answer
  draft: { audience: '', topic: '', first: '' },
  phase: null, // connecting | queued | active | ended
  queue: null,
  counselor: null,
  link: null,
  open: !embedded,
  exiting: false,
};
const resourceCache = {};
let C = null; // the chat view's elements
const mine = new Map(); // client_id -> the element of a message this page sent

function originOf(value) {
  try {
    const url = new URL(value);
    return /^https?:$/.test(url.protocol) && url.origin === value ? value : null;
  } catch {
    return null;
  }
}

function t(key, vars) {
  return String(T[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars?.[name] ?? ''));
}

/** Build an element. Strings among the children become text nodes; nothing is parsed as HTML. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === 'text') el.textContent = value;
    else if (key === 'class') el.className = value;
    else if (key === 'value') el.value = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child != null && child !== false) el.append(child);
  return el;
}

function api(path) {
  return new URL('../api/' + path, location.href).href;
}

function socketUrl() {
  const url = new URL('../ws/visitor', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

function post(message) {
  if (embedded && hostOrigin) window.parent.postMessage({ hlc: 1, ...message }, hostOrigin);
}

function announce(text) {
  ui.announce.textContent = '';
  setTimeout(() => {
    ui.announce.textContent = text;
  }, 60);
}

let noticeTimer = 0;
function notice(text, forMs) {
  clearTimeout(noticeTimer);
  ui.notice.textContent = text;
  if (forMs) noticeTimer = setTimeout(() => (ui.notice.textContent = ''), forMs);
}

function clock(ts) {
  const date = ts ? new Date(ts) : new Date();
  return new Intl.DateTimeFormat(T.locale, { hour: '2-digit', minute: '2-digit' }).format(date);
}

function when(iso) {
  try {
    return new Intl.DateTimeFormat(T.locale, { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit',
      minute: '2-digit', timeZone: 'Europe/Amsterdam' }).format(new Date(iso));
  } catch {
    return iso;
  }
}

// -- resources -----------------------------------------------------------------------------

function telHref(phone) {
  const text = String(phone || '').trim();
  const digits = text.replace(/\D/g, '');
  return digits ? 'tel:' + (text.startsWith('+') ? '+' : '') + digits : null;
}

function webUrl(value) {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : null;
  } catch {
    return null;
  }
}

function card(snippet, tag) {
  const tel = telHref(snippet.phone);
  const web = snippet.url ? webUrl(snippet.url) : null;
  return h(tag, { class: 'card' },
    h('p', { class: 'card-title', text: snippet.title }),
    snippet.body ? h('p', { class: 'card-body', text: snippet.body }) : null,
    tel || web ? h('p', { class: 'actions' },
      tel ? h('a', { class: 'call', href: tel, text: t('call', { phone: snippet.phone }) }) : null,
      web ? h('a', { class: 'web', href: web.href, target: '_blank', rel: 'noopener noreferrer' },
        web.hostname.replace(/^www\./, ''), h('span', { class: 'sr-only', text: ' ' + t('newWindow') })) : null)
      : null);
}

function resources() {
  resourceCache[lang] ??= fetch(api('resources?language=' + lang), { cache: 'no-store', credentials: 'omit' })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status))))
    .then((list) => (Array.isArray(list) && list.length ? list : T.fallbackResources))
    .catch(() => {
      delete resourceCache[lang];
      return T.fallbackResources;
    });
  return resourceCache[lang];
}

function resourceList() {
  const list = h('ul', { class: 'cards' }, T.fallbackResources.map((s) => card(s, 'li')));
  resources().then((items) => list.replaceChildren(...items.map((s) => card(s, 'li'))));
  return list;
}

function resourceBox(open) {
  return h('details', { class: 'res', open }, h('summary', { text: t('resources') }), resourceList());
}

// -- before the chat -------------------------------------------------------------------------

function statusText() {
  const st = S.status;
  if (st === undefined) return t('statusLoading');
  if (st === null) return t('statusUnknown');
  if (!st.open) return t('statusClosed') + (st.next_opening ? ' ' + t('statusNext', { when: when(st.next_opening) }) : '');
  return st.counselors_online === 0 ? t('statusNobody') : t('statusOpen');
}

function startView() {
  const st = S.status;
  const closed = st?.open === false;
  return h('section', { class: 'view start', 'aria-labelledby': 'view-title' },
    h('h2', { id: 'view-title', tabindex: '-1', text: t('welcome') }),
    h('p', { class: closed ? 'status closed' : 'status', id: 'status', text: statusText() }),
    closed ? null : startForm(),
    resourceBox(closed || st?.counselors_online === 0));
}

function startForm() {
  const d = S.draft;
  const error = h('p', { class: 'error', id: 'who-error', role: 'alert' });
  const choice = (value) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name: 'audience', id: 'aud-' + value, value, checked: d.audience === value,
      onchange: () => {
        d.audience = value;
        error.textContent = '';
      } }),
    ' ', t(value));
  const form = h('form', { class: 'start-form', novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    if (!d.audience) {
      error.textContent = t('chooseWho');
      $('aud-parent').focus();
      return;
    }
    startChat();
  } },
  h('fieldset', { 'aria-describedby': 'who-error' }, h('legend', { text: t('who') }), choice('parent'), choice('youth'),
    error),
  h('p', { class: 'field' }, h('label', { for: 'f-lang', text: t('language') }),
    h('select', { id: 'f-lang', onchange: (e) => setLanguage(e.target.value) },
      Object.entries(LANGS).map(([code, strings]) =>
        h('option', { value: code, lang: code, selected: code === lang, text: strings.languageName })))),
  h('p', { class: 'field' }, h('label', { for: 'f-topic', text: t('topic') }),
    h('input', { id: 'f-topic', type: 'text', maxlength: '200', autocomplete: 'off', value: d.topic,
      oninput: (e) => (d.topic = e.target.value) })),
  h('p', { class: 'field' }, h('label', { for: 'f-first', text: t('firstMessage') }),
    h('textarea', { id: 'f-first', rows: '3', maxlength: '4000', autocomplete: 'off', value: d.first,
      oninput: (e) => (d.first = e.target.value) })),
  h('p', { class: 'note', text: t('anonymous') }),
  h('button', { type: 'submit', class: 'primary', text: t('start') }));
  return form;
}

function render(view) {
  const focused = document.activeElement?.id;
  ui.main.replaceChildren(view);
  if (focused && ui.main.contains(document.activeElement) === false && $(focused)) $(focused).focus();
}

function showStart() {
  S.view = 'start';
  render(startView());
}

async function loadStatus() {
  try {
    const r = await fetch(api('status'), { cache: 'no-store', credentials: 'omit' });
    S.status = r.ok ? await r.json() : null;
  } catch {
    S.status = null;
  }
  if (S.view === 'start') showStart();
}

function setLanguage(code) {
  if (!LANGS[code]) return;
  lang = code;
  T = LANGS[code];
  document.documentElement.lang = code;
  chrome();
  post({ type: 'label', label: T.launcher, labelNew: T.launcherNew });
  if (S.view === 'start') showStart();
}

function chrome() {
  ui.title.textContent = t('title');
  ui.hide.setAttribute('aria-label', t('hide'));
  ui.hide.title = t('hide');
  ui.exit.textContent = t('quickExit');
  ui.hint.textContent = t('quickExitHint');
}

// -- the chat --------------------------------------------------------------------------------

function buildChat() {
  const c = {};
  c.info = h('div', { class: 'info', id: 'info' });
  c.res = resourceBox(true);
  c.list = h('ol', { class: 'list' });
  // Follow new messages while the reader is at the bottom; someone who scrolled up to read is left alone.
  c.stick = true;
  c.log = h('div', { class: 'log', role: 'log', 'aria-label': t('messages'), 'aria-relevant': 'additions',
    tabindex: '0', onscroll: () => {
      if (!c.log.clientHeight) return; // hidden: keep what the reader had
      c.stick = atBottom();
      if (c.stick) c.jump.hidden = true;
    } }, c.list);
  c.jump = h('button', { type: 'button', class: 'jump', hidden: true, text: t('newMessages'), onclick: () => {
    scrollDown();
    c.jump.hidden = true;
  } });
  c.typing = h('p', { class: 'typing' });
  c.input = h('textarea', { id: 'msg', rows: '2', maxlength: '4000', autocomplete: 'off', 'aria-describedby': 'msg-hint',
    onkeydown: (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        sendDraft();
      }
    },
    oninput: typingInput });
  c.form = h('form', { class: 'composer', onsubmit: (e) => {
    e.preventDefault();
    sendDraft();
  } },
  h('label', { for: 'msg', class: 'sr-only', text: t('yourMessage') }), c.input,
  h('button', { type: 'submit', class: 'primary', text: t('send') }),
  h('p', { id: 'msg-hint', class: 'hint', text: t('composerHint') }));
  c.endRow = h('div', { class: 'end-row' });
  c.after = h('div', { class: 'after' });
  c.root = h('section', { class: 'view chat', 'aria-labelledby': 'info' }, c.info, c.res, c.log, c.jump, c.typing,
    c.form, c.endRow, c.after);
  endButton(c.endRow);
  return c;
}

function endButton(row) {
  row.replaceChildren(h('button', { type: 'button', class: 'secondary', id: 'end', text: t('end'), onclick: () => {
    row.replaceChildren(h('p', { text: t('endSure') }),
      h('button', { type: 'button', class: 'danger', id: 'end-yes', text: t('endYes'), onclick: () => {
        row.replaceChildren(h('p', { role: 'status', id: 'ending', tabindex: '-1', text: t('ending') }));
        $('ending').focus();
        S.link.end();
      } }),
      h('button', { type: 'button', class: 'secondary', id: 'end-no', text: t('endNo'), onclick: () => {
        endButton(row);
        $('end').focus();
      } }));
    $('end-yes').focus();
  } }));
}

function openChat(phase) {
  C = buildChat();
  mine.clear();
  Object.assign(S, { view: 'chat', phase, queue: null, counselor: null, delivered: 0, read: 0 });
  S.link = new Link(socketUrl(), api('visitor/quick-exit'), onLink, {
    stream: new URL('../sse/visitor', location.href).href,
    send: new URL('../sse/visitor/send', location.href).href,
  });
  render(C.root);
  showInfo();
}

function startChat() {
  const d = S.draft;
  const hello = { audience: d.audience, language: lang };
  if (d.topic.trim()) hello.topic = d.topic.trim().slice(0, 200);
  if (d.first.trim()) hello.first_message = d.first.trim();
  S.asked = S.draft; // given back if the service turns out to be closed
  S.draft = { audience: '', topic: '', first: '' };
  openChat('connecting');
  S.link.start(hello);
  C.input.focus();
  post({ type: 'state', active: true });
}

function etaText(seconds) {
  if (seconds == null) return t('queueEtaUnknown');
  if (seconds < 45) return t('queueEtaSoon');
  if (seconds < 90) return t('queueEtaOne');
  return t('queueEta', { m: Math.round(seconds / 60) });
}

function showInfo() {
  if (S.phase === 'active') {
    C.info.replaceChildren(h('h2', { class: 'with', text: t('chattingWith', { name: S.counselor || t('counselor') }) }));
    return;
  }
  if (S.phase === 'ended') return;
  const q = S.phase === 'queued' ? S.queue : null;
  C.info.replaceChildren(
    h('h2', { class: 'with', text: S.phase === 'queued' ? t('queueTitle') : t('connecting') }),
    q ? h('p', { class: 'place', text: t('queuePosition', { n: q.position }) }) : null,
    q ? h('p', { text: q.nobody_online ? t('queueNobody') : etaText(q.eta_seconds) }) : null,
    S.phase === 'queued' ? h('p', { class: 'muted', text: t('queueWrite') }) : null);
}

function atBottom() {
  return C.log.scrollHeight - C.log.scrollTop - C.log.clientHeight < 48;
}

function scrollDown() {
  C.stick = true;
  C.log.scrollTop = C.log.scrollHeight;
}

addEventListener('resize', () => {
  if (C?.stick && S.phase !== 'ended') scrollDown();
});

/** Put an element in seq order; messages not yet stored stay at the end, in the order they were written. */
function place(el, order) {
  if (order !== undefined) el.dataset.order = String(order);
  let ref = null;
  if (order !== undefined) {
    for (const other of C.list.children) {
      if (other !== el && (other.dataset.order === undefined || Number(other.dataset.order) > order)) {
        ref = other;
        break;
      }
    }
  }
  if (el.parentNode !== C.list || el.nextElementSibling !== ref) C.list.insertBefore(el, ref);
  if (C.stick || (el.classList.contains('from-visitor') && !el.dataset.order)) scrollDown();
  else C.jump.hidden = false;
}

function systemLine(text, order) {
  place(h('li', { class: 'sys', text }), order ?? S.link.lastSeq + 0.5);
}

function messageEl(sender, text, ts) {
  const name = sender === 'visitor' ? t('you') : S.counselor || t('counselor');
  return h('li', { class: 'msg from-' + sender },
    h('p', { class: 'meta' }, h('span', { class: 'who', text: name }), ' ', h('span', { class: 'time', text: clock(ts) })),
    h('p', { class: 'text', text }),
    sender === 'visitor' ? h('p', { class: 'state' }) : null);
}

function setState(el, state, detail) {
  const line = el.querySelector('.state');
  el.dataset.state = state;
  if (line) line.textContent = t(state) + (detail ? ': ' + detail : '');
}

/** Delivered and read (the counselor's screen acknowledged them) over sent, for the visitor's own messages. */
function marks() {
  for (const el of C.log.querySelectorAll('.from-visitor[data-seq]')) {
    const seq = Number(el.dataset.seq);
    const state = seq <= S.read ? 'read' : seq <= S.delivered ? 'delivered' : null;
    if (state && el.dataset.state !== state) setState(el, state);
  }
}

function receipt(f) {
  const read = S.read, delivered = S.delivered;
  S.delivered = Math.max(delivered, Number(f.delivered) || 0);
  S.read = Math.max(read, Number(f.read) || 0);
  marks();
  if (S.read > read) announce(t('readAnnounce'));
  else if (S.delivered > delivered) announce(t('deliveredAnnounce'));
}

function sendDraft() {
  const text = C.input.value.trim();
  if (!text || S.phase === 'ended') return;
  const id = S.link.send(text);
  if (!id) {
    notice(t('tooLong'), 4000);
    return;
  }
  const el = messageEl('visitor', text);
  el.dataset.cid = id;
  mine.set(id, el);
  setState(el, S.link.online ? 'sending' : 'waiting');
  place(el);
  C.input.value = '';
  stopTyping();
}

function renderEvent(f) {
  if (f.type === 'message') {
    const el = f.client_id && mine.get(f.client_id);
    if (el) {
      setState(el, 'sent');
      el.dataset.seq = f.seq;
      place(el, f.seq);
      marks();
      return;
    }
    if (f.sender === 'system') {
      systemLine(f.text, f.seq);
      return;
    }
    const item = messageEl(f.sender, f.text, f.ts);
    item.dataset.seq = f.seq;
    if (f.sender === 'visitor') setState(item, 'sent');
    else counselorSpoke();
    place(item, f.seq);
    marks();
  } else if (f.type === 'resource' && f.snippet) {
    const item = h('li', { class: 'msg from-counselor resource' },
      h('p', { class: 'meta' }, h('span', { class: 'who', text: S.counselor || t('counselor') }), ' ',
        h('span', { class: 'time', text: clock(f.ts) })),
      card(f.snippet, 'div'));
    item.dataset.seq = f.seq;
    counselorSpoke();
    place(item, f.seq);
  } else if (f.type === 'ended') {
    const line = h('li', { class: 'sys', text: endedText(f.reason) });
    line.dataset.seq = f.seq;
    place(line, f.seq);
    finished(endedText(f.reason), Boolean(S.counselor));
  }
}

function counselorSpoke() {
  showTyping(false);
  if (!S.open) post({ type: 'notify' });
}

function endedText(reason) {
  return t({ visitor: 'endedVisitor', counselor: 'endedCounselor', timeout: 'endedTimeout' }[reason] || 'endedOther');
}

let typingTimer = 0;
function showTyping(active) {
  clearTimeout(typingTimer);
  C.typing.textContent = active ? t('typing', { name: S.counselor || t('counselor') }) : '';
  if (active) typingTimer = setTimeout(() => showTyping(false), 8000);
}

let typingOn = false;
let typingSentAt = 0;
let typingIdle = 0;
function typingInput() {
  const now = Date.now();
  if (!typingOn || now - typingSentAt > 4000) {
    S.link.typing(true);
    typingOn = true;
    typingSentAt = now;
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, 3000);
}

function stopTyping() {
  clearTimeout(typingIdle);
  if (typingOn) {
    typingOn = false;
    S.link?.typing(false);
  }
}

function pending(from, to) {
  for (const el of mine.values()) if (el.dataset.state === from) setState(el, to);
}

/** The chat is over: thanks, the resources, the optional rating. Nothing of it stays in sessionStorage. */
function finished(reasonText, rate) {
  if (S.phase === 'ended') return;
  S.phase = 'ended';
  saved.clear();
  stopTyping();
  post({ type: 'state', active: false });
  C.root.classList.add('done');
  for (const el of [C.info, C.res, C.jump, C.typing, C.form, C.endRow]) el.remove();
  C.log.removeAttribute('tabindex');
  C.after.replaceChildren(h('h2', { id: 'done-title', tabindex: '-1', text: t('endedTitle') }),
    h('p', { text: reasonText }),
    h('p', { text: t('thanks') }),
    rate ? ratingForm() : null,
    h('h3', { text: t('resources') }),
    resourceList(),
    h('button', { type: 'button', class: 'primary', id: 'new-chat', text: t('newChat'), onclick: () => {
      S.status = undefined;
      showStart();
      loadStatus();
      $('view-title').focus();
    } }));
  $('done-title').focus();
}

function ratingForm() {
  const ratingToken = S.link?.token || null;
  const form = h('form', { class: 'rating', onsubmit: (e) => {
    e.preventDefault();
    const chosen = form.querySelector('input:checked');
    if (!chosen) return;
    fetch(api('rating'), { method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'omit',
      // The resume token (in memory only) lets the server count the score for this chat's counselor,
      // once; the server never stores it.
      cache: 'no-store', body: JSON.stringify({ score: Number(chosen.value), language: lang,
        ...(ratingToken ? { token: ratingToken } : {}) }) }).catch(() => {});
    const thanks = h('p', { class: 'thanks', id: 'rated', tabindex: '-1', role: 'status', text: t('rateThanks') });
    form.replaceWith(thanks);
    thanks.focus();
  } },
  h('fieldset', {}, h('legend', { text: t('rateQuestion') }),
    T.rateScores.map((label, i) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'score', value: String(i + 1) }), ' ', label))),
  h('p', { class: 'muted', text: t('rateNote') }),
  h('button', { type: 'submit', class: 'secondary', text: t('rateSend') }));
  return form;
}

function onLink(kind, f) {
  if (S.exiting) return;
  switch (kind) {
    case 'session':
      if (f.counselor_name) S.counselor = f.counselor_name;
      if (f.status === 'queued' || f.status === 'active') S.phase = f.status;
      if (f.status === 'ended') {
        // Found ended (after a reconnect or a reload): nothing of the chat stays on the screen.
        C.log.replaceChildren();
        mine.clear();
      }
      showInfo();
      // Back after a phone in the background (or a reload) while waiting: calmly, the place is kept.
      if (f.status === 'queued' && (f.reconnect || f.resuming)) notice(t('keptPlace'), 8000);
      else if (f.reconnect) notice(t('reconnected'), 3000);
      pending('waiting', 'sending');
      post({ type: 'state', active: f.status !== 'ended' });
      break;
    case 'event':
      renderEvent(f);
      break;
    case 'ack': {
      const el = mine.get(f.client_id);
      if (el && el.dataset.state !== 'delivered' && el.dataset.state !== 'read') {
        setState(el, 'sent');
        el.dataset.seq = f.seq;
        place(el, f.seq);
        marks();
      }
      break;
    }
    case 'receipt':
      receipt(f);
      break;
    case 'queue': {
      const before = S.queue?.position;
      S.queue = f;
      if (S.phase === 'queued') {
        showInfo();
        if (before !== f.position) announce(t('queueAnnounce', { n: f.position }));
      }
      break;
    }
    case 'paired':
      S.phase = 'active';
      S.counselor = f.counselor_name || S.counselor;
      showInfo();
      C.res.open = false;
      systemLine(t('paired', { name: S.counselor || t('counselor') }));
      if (!S.open) post({ type: 'notify' });
      break;
    case 'typing':
      if (f.sender !== 'visitor') showTyping(Boolean(f.active));
      break;
    case 'offline':
      notice(t('reconnecting'));
      pending('sending', 'waiting');
      break;
    case 'missing':
      systemLine(t('missing'));
      notice(t('missing'), 6000);
      break;
    case 'failed': {
      const el = mine.get(f.client_id);
      if (el) setState(el, 'notSent', f.reason === 'session_full' ? t('chatFull') : f.code === 'too_large' ? t('tooLong') : '');
      break;
    }
    case 'slow':
      notice(t('slowDown'), 4000);
      break;
    case 'closed':
      S.status = { open: false, next_opening: f.next_opening ?? null };
      if (S.asked) S.draft = S.asked;
      if (Array.isArray(f.resources) && f.resources.length) resourceCache[lang] = Promise.resolve(f.resources);
      post({ type: 'state', active: false });
      showStart();
      $('view-title').focus();
      break;
    case 'gone':
      finished(t('gone'), false);
      break;
    case 'refused':
      finished(t('refused'), false);
      break;
    case 'stopped':
      finished(t('failed'), false);
      break;
  }
}

// -- quick exit ------------------------------------------------------------------------------

/** End the chat, wipe it from this page and from sessionStorage, and have the top window leave. */
function quickExit() {
  if (S.exiting) return;
  S.exiting = true;
  S.link?.quickExit();
  saved.clear();
  document.body.replaceChildren();
  if (embedded) post({ type: 'exit' });
  else location.replace(STANDALONE_EXIT);
}

let lastEscape = -Infinity;
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  if (e.timeStamp - lastEscape <= ESC_WINDOW) {
    e.preventDefault();
    quickExit();
  } else {
    lastEscape = e.timeStamp;
  }
}, true);

ui.exit.addEventListener('click', quickExit);
ui.hide.addEventListener('click', () => post({ type: 'close' }));

window.addEventListener('message', (e) => {
  if (!embedded || e.source !== window.parent || e.origin !== hostOrigin) return;
  const d = e.data;
  if (!d || d.hlc !== 1) return;
  if (d.type === 'open') {
    // `focus` is false when the loader opens the panel by itself (a chat resumed after a reload).
    S.open = true;
    const focus = (el) => d.focus !== false && el?.focus();
    if (S.view === 'start') loadStatus().then(() => focus($('view-title')));
    else if (S.phase === 'ended') focus($('done-title'));
    else {
      if (C?.stick) scrollDown();
      focus(C?.input);
    }
  } else if (d.type === 'hidden') {
    S.open = false;
  } else if (d.type === 'quick-exit') {
    quickExit();
  }
});

// -- start -----------------------------------------------------------------------------------

document.documentElement.lang = lang;
chrome();
if (!embedded) ui.hide.hidden = true;
const token = saved.token();
if (token) {
  openChat('connecting');
  S.link.resume(token);
} else {
  showStart();
  if (!embedded) loadStatus();
}
post({ type: 'ready', label: T.launcher, labelNew: T.launcherNew, active: Boolean(token) });
