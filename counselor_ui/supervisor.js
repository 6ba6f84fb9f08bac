// The supervisor view: every active chat and every counselor's load, the queues' longest waits,
// read-only monitoring of a chat (each opening is written to the audit log by the server), and
// the audit log itself. The overview is fetched again every few seconds while the view is shown.
import { S, sendFrame } from './state.js';
import { h, t, clear, replace, duration, clock, dateTime, queueName, nextId, reasonText, newClientId } from './dom.js';
import { get, del, detailText } from './api.js';
import { eventRow, liveWait, noteRow, noteOrder } from './chats.js';

const REFRESH_MS = 4000;

let V = null;
let timer = 0;
let audit = [];
let blocks = { active: 0, blocks: [] };
let lastError = '';

export function mount(root) {
  V = {
    root,
    refreshed: h('p', { class: 'hint', role: 'status' }),
    queues: h('tbody'),
    counselors: h('tbody'),
    chats: h('tbody'),
    noChats: h('p', { class: 'hint' }, t('supNoChats')),
    monitors: h('div', { class: 'monitors' }),
    audit: h('tbody'),
    blocks: h('tbody'),
    blocksCount: h('p', { class: 'hint', role: 'status' }),
    msg: h('p', { class: 'error', role: 'alert' }),
  };
  const table = (caption, cols, body) => h('div', { class: 'table-wrap' }, h('table', { class: 'grid' },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))), body));
  replace(root, h('div', { class: 'sup-view' },
    h('div', { class: 'view-head' }, h('h2', {}, t('supTitle')), V.refreshed,
      h('button', { type: 'button', class: 'secondary', onclick: () => refresh() }, t('refresh'))),
    V.msg,
    h('div', { class: 'sup-grid' },
      h('section', { 'aria-labelledby': 'sup-q' }, h('h3', { id: 'sup-q' }, t('supQueues')),
        table(t('supQueues'), [t('colQueue'), t('colWaiting'), t('colUrgent'), t('colLongest')], V.queues)),
      h('section', { 'aria-labelledby': 'sup-c' }, h('h3', { id: 'sup-c' }, t('supCounselors')),
        table(t('supCounselors'), [t('colName'), t('colRole'), t('colOnline'), t('colAvailable'), t('colLoad')],
          V.counselors))),
    h('section', { 'aria-labelledby': 'sup-chats' }, h('h3', { id: 'sup-chats' }, t('supChats')),
      table(t('supChats'), [t('colQueue'), t('colCategory'), t('colCounselor'), t('colStarted'), t('colWaited'),
        h('span', { class: 'sr-only' }, t('colActions'))], V.chats), V.noChats),
    V.monitors,
    h('section', { 'aria-labelledby': 'sup-blocks' }, h('h3', { id: 'sup-blocks' }, t('supBlocks')), V.blocksCount,
      table(t('supBlocks'), [t('colStarted'), t('colUntil'), t('colBy'), h('span', { class: 'sr-only' }, t('colActions'))],
        V.blocks)),
    h('section', { 'aria-labelledby': 'sup-audit' }, h('h3', { id: 'sup-audit' }, t('supAudit')),
      table(t('supAudit'), [t('colAt'), t('colActor'), t('colAction'), t('colSession')], V.audit))));
  for (const mon of S.monitors.values()) {
    mon.el = null;
    mountMonitor(mon);
  }
  render();
}

export function show(active) {
  clearInterval(timer);
  if (active) {
    refresh();
    timer = setInterval(refresh, REFRESH_MS);
  }
}

export async function refresh() {
  try {
    const [overview, entries, blocked] = await Promise.all([get('/api/supervisor/overview'),
      get('/api/audit?limit=20'), get('/api/supervisor/blocks')]);
    S.overview = overview;
    blocks = blocked || { active: 0, blocks: [] };
    audit = Array.isArray(entries) ? entries : [];
    lastError = '';
    if (V) V.refreshed.textContent = t('supRefreshed', { time: clock(new Date()) });
  } catch (err) {
    lastError = err.status === 403 ? t('forbidden') : t('supRefreshFailed', { message: detailText(err.detail) || err.message });
  }
  render();
}

/** The colleagues a chat may be handed to: online, available, under capacity, not me. */
export async function colleagues() {
  try {
    S.overview = await get('/api/supervisor/overview');
  } catch {
    // Fall back to the last overview we had.
  }
  return (S.overview?.counselors || []).filter((c) => c.online && c.available && c.active < c.capacity
    && c.username !== S.me?.username);
}

function yesNo(value) {
  return h('span', { class: value ? 'yes' : 'no' }, value ? t('yes') : t('no'));
}

function render() {
  if (!V) return;
  V.msg.textContent = lastError;
  const queues = [...(S.queues.length ? S.queues : S.overview?.queues || [])]
    .sort((a, b) => liveWait(b) - liveWait(a));
  clear(V.queues);
  for (const q of queues) {
    V.queues.appendChild(h('tr', { class: q.urgent ? 'urgent' : '' },
      h('th', { scope: 'row' }, queueName(q.audience, q.language)),
      h('td', { class: 'num' }, String(q.waiting || 0)),
      h('td', { class: 'num' }, String(q.urgent || 0)),
      h('td', { class: 'num', 'data-wait': `${q.audience}/${q.language}` }, q.waiting ? duration(liveWait(q)) : '–')));
  }
  const overview = S.overview || { counselors: [], chats: [] };
  clear(V.counselors);
  for (const c of overview.counselors || []) {
    V.counselors.appendChild(h('tr', { 'data-username': c.username },
      h('th', { scope: 'row' }, c.name),
      h('td', {}, t(`roles.${c.role}`)),
      h('td', {}, yesNo(c.online)),
      h('td', {}, yesNo(c.available)),
      h('td', { class: 'num' }, t('load', { active: c.active, capacity: c.capacity }))));
  }
  clear(V.chats);
  const chats = overview.chats || [];
  V.noChats.hidden = chats.length > 0;
  for (const chat of chats) {
    const watching = S.monitors.has(chat.session_id);
    const started = new Date(chat.started_at);
    V.chats.appendChild(h('tr', { class: chat.urgent ? 'urgent' : '', 'data-sid': chat.session_id },
      h('th', { scope: 'row' }, queueName(chat.audience, chat.language)),
      h('td', {}, chat.urgent ? h('span', { class: 'badge urgent' },
        chat.category ? t('urgentWhy', { category: reasonText(chat.category) }) : t('urgent')) : '–'),
      h('td', {}, chat.counselor_name || '–'),
      h('td', {}, clock(started), ' (', duration((Date.now() - started.getTime()) / 1000), ')'),
      h('td', { class: 'num' }, duration(chat.waited_seconds)),
      h('td', {}, h('button', { type: 'button', class: 'small', disabled: watching,
        'aria-label': t('monitorChat', { id: `${queueName(chat.audience, chat.language)}, ${chat.counselor_name || ''}` }),
        onclick: () => monitor(chat.session_id) }, t('monitor')))));
  }
  V.blocksCount.textContent = blocks.active ? t('supBlocksCount', { n: blocks.active }) : t('supNoBlocks');
  clear(V.blocks);
  for (const b of blocks.blocks || []) {
    V.blocks.appendChild(h('tr', { 'data-block': b.id },
      h('td', {}, dateTime(b.since)),
      h('td', {}, dateTime(b.until)),
      h('td', {}, b.by || '–'),
      h('td', {}, h('button', { type: 'button', class: 'small', onclick: () => unblock(b.id) }, t('unblock')))));
  }
  clear(V.audit);
  for (const entry of audit) {
    V.audit.appendChild(h('tr', {},
      h('td', {}, dateTime(entry.at)),
      h('td', {}, entry.actor),
      h('td', {}, t(`auditActions.${entry.action}`)),
      h('td', { class: 'mono' }, entry.session_id || '–')));
  }
}

export function tick() {
  if (!V) return;
  for (const q of S.queues) {
    const cell = V.queues.querySelector(`[data-wait="${q.audience}/${q.language}"]`);
    if (cell) cell.textContent = q.waiting ? duration(liveWait(q)) : '–';
  }
}

// -- monitoring ----------------------------------------------------------------------------------

export function monitor(sid) {
  if (!sendFrame({ type: 'monitor', session_id: sid })) {
    lastError = t('connOffline', { seconds: '…' });
    render();
  }
}

export function onMonitoring(frame) {
  let mon = S.monitors.get(frame.session_id);
  if (!mon) {
    mon = { sid: frame.session_id, info: frame, events: new Map(), notes: new Map(), ended: null, el: null };
    S.monitors.set(mon.sid, mon);
  }
  mon.info = frame;
  mountMonitor(mon, true);
  render();
}

export function onMonitorEvent(frame) {
  const mon = S.monitors.get(frame.session_id);
  if (!mon) return false;
  const seq = Number(frame.seq);
  if (!Number.isInteger(seq) || mon.events.has(seq)) return true;
  mon.events.set(seq, frame);
  if (frame.type === 'ended') mon.ended = frame.reason;
  addRow(mon, seq, frame);
  return true;
}

/** A staff note in a chat I monitor: the counselor asking, or an answer (mine or a colleague's). */
export function onWhisper(frame) {
  const mon = S.monitors.get(frame.session_id);
  if (!mon) return false;
  if (!mon.notes.has(frame.note_id)) {
    mon.notes.set(frame.note_id, frame);
    addRow(mon, noteOrder(frame), frame, noteRow(frame));
  }
  return true;
}

function answer(mon) {
  const box = mon.el?.whisperInput;
  const text = box?.value.trim();
  if (!text) return;
  if (sendFrame({ type: 'whisper', session_id: mon.sid, client_id: newClientId(), text })) box.value = '';
}

/** After a reconnect the server has forgotten what we watched: ask again (the replay is deduplicated). */
export function resume() {
  for (const sid of S.monitors.keys()) sendFrame({ type: 'monitor', session_id: sid });
}

function stop(mon) {
  sendFrame({ type: 'unmonitor', session_id: mon.sid });
  S.monitors.delete(mon.sid);
  mon.el?.box.remove();
  render();
  V?.root.querySelector(`tr[data-sid="${mon.sid}"] button`)?.focus();
}

export function onError(frame) {
  if (!frame.session_id || !(S.monitors.has(frame.session_id) || frame.code === 'forbidden'
    || frame.code === 'unknown_session')) return false;
  if (S.chats.has(frame.session_id)) return false;
  lastError = frame.code === 'forbidden' ? t('forbidden') : frame.message;
  render();
  return true;
}

function mountMonitor(mon, focus = false) {
  if (!V) return;
  if (mon.el) return;
  const titleId = nextId('mon');
  const info = mon.info;
  const list = h('ol', { class: 'rows' });
  const log = h('div', { class: 'log', role: 'log', tabindex: '0', 'aria-labelledby': titleId }, list);
  const box = h('section', { class: 'monitor', 'aria-labelledby': titleId, 'data-sid': mon.sid },
    h('div', { class: 'view-head' },
      h('h3', { id: titleId }, t('monitoringTitle', { queue: queueName(info.audience, info.language),
        name: info.counselor_name || '–' }), info.urgent ? h('span', { class: 'badge urgent' }, t('urgent')) : null),
      h('button', { type: 'button', class: 'secondary', onclick: () => stop(mon) }, t('unmonitor'))),
    h('p', { class: 'hint' }, t('monitoringNote'), info.topic ? ` ${t('topic')}: ` : '', info.topic || ''),
    log);
  // An answer to the counselor alone: the visitor never sees it.
  const answerId = nextId('answer');
  const whisperInput = h('textarea', { id: answerId, rows: '1', maxlength: '4000',
    onkeydown: (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        answer(mon);
      }
    } });
  box.appendChild(h('form', { class: 'whisper-form', onsubmit: (event) => { event.preventDefault(); answer(mon); } },
    h('label', { for: answerId }, t('whisperAnswerLabel', { name: info.counselor_name || '–' })),
    whisperInput,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'secondary' }, t('whisperAnswer')))));
  mon.el = { box, log, list, rows: [], whisperInput };
  V.monitors.appendChild(box);
  for (const seq of [...mon.events.keys()].sort((a, b) => a - b)) addRow(mon, seq, mon.events.get(seq));
  for (const note of mon.notes.values()) addRow(mon, noteOrder(note), note, noteRow(note));
  if (focus) {
    box.tabIndex = -1;
    box.focus();
  }
}

function addRow(mon, seq, ev, made = null) {
  if (!mon.el) return;
  const row = made || eventRow(ev);
  if (!row) return;
  row.dataset.seq = String(seq);
  const rows = mon.el.rows;
  let i = rows.length;
  while (i > 0 && rows[i - 1].seq > seq) i -= 1;
  mon.el.list.insertBefore(row, rows[i]?.el || null);
  rows.splice(i, 0, { seq, el: row });
  mon.el.log.scrollTop = mon.el.log.scrollHeight;
}

async function unblock(id) {
  try {
    await del(`/api/supervisor/blocks/${encodeURIComponent(id)}`);
  } catch (err) {
    lastError = detailText(err.detail) || err.message;
  }
  refresh();
}
