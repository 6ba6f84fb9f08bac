// Staffing at a glance (admin view, "Bezetting"): when visitors come, how many gave up waiting and
// the longest wait, per hour of the week over the last four weeks and per day over the last 30
// days, in Europe/Amsterdam time. Drawn here as inline SVG (no chart library) and given as tables
// with the same numbers. The data (GET /api/admin/staffing) are counts from the text-free summaries.
import { h, t, replace, duration } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) if (value != null) el.setAttribute(key, String(value));
  for (const child of children.flat()) {
    if (child == null) continue;
    el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

const fmtWait = (v) => (v == null ? '–' : duration(v));

/**
 * A bar chart: chats answered and abandoned stacked per slot, the longest wait as a mark on its own
 * scale (right). `tick(row, i)` names the slots that get a label under the axis.
 */
function chart({ id, rows, slot, tick, separator, title, desc }) {
  const left = 36;
  const right = 56;
  const top = 12;
  const plotH = 150;
  const width = left + rows.length * slot + right;
  const height = top + plotH + 30;
  const maxChats = Math.max(1, ...rows.map((r) => r.chats));
  const maxWait = Math.max(0, ...rows.map((r) => r.longest_wait_seconds || 0));
  const y = (n) => top + plotH - (n / maxChats) * plotH;
  const yWait = (s) => top + plotH - (maxWait ? (s / maxWait) * plotH : 0);
  const parts = [
    svg('title', { id: `${id}-title` }, title),
    svg('desc', { id: `${id}-desc` }, desc),
    svg('line', { class: 'axis', x1: left, y1: top + plotH, x2: left + rows.length * slot, y2: top + plotH }),
    svg('text', { class: 'tick', x: left - 4, y: top + 4, 'text-anchor': 'end' }, String(maxChats)),
    svg('text', { class: 'tick', x: left - 4, y: top + plotH, 'text-anchor': 'end' }, '0'),
  ];
  rows.forEach((r, i) => {
    const x = left + i * slot;
    if (separator && separator(r, i) && i) {
      parts.push(svg('line', { class: 'sep', x1: x, y1: top, x2: x, y2: top + plotH }));
    }
    const answered = r.chats - r.abandoned;
    if (answered > 0) {
      parts.push(svg('rect', { class: 'bar-chats', x: x + 0.5, y: y(answered), width: Math.max(1, slot - 1),
        height: top + plotH - y(answered) }));
    }
    if (r.abandoned > 0) {
      parts.push(svg('rect', { class: 'bar-abandoned', x: x + 0.5, y: y(r.chats), width: Math.max(1, slot - 1),
        height: y(answered) - y(r.chats) }));
    }
    const label = tick(r, i);
    if (label) parts.push(svg('text', { class: 'tick', x: x + 1, y: top + plotH + 14 }, label));
  });
  // The longest wait of each slot as a mark across it, not a line between slots: an hour without
  // chats has no wait, and a line would draw one.
  rows.forEach((r, i) => {
    if (r.longest_wait_seconds == null || !r.chats) return;
    const x = left + i * slot;
    const yw = yWait(r.longest_wait_seconds);
    parts.push(svg('line', { class: 'wait-mark', x1: x - 1, y1: yw, x2: x + slot + 1, y2: yw }));
  });
  if (maxWait) {
    parts.push(svg('text', { class: 'tick wait', x: left + rows.length * slot + 4, y: top + 4 }, fmtWait(maxWait)));
  }
  return svg('svg', { class: 'chart', id, role: 'img', viewBox: `0 0 ${width} ${height}`,
    'aria-labelledby': `${id}-title ${id}-desc`, preserveAspectRatio: 'xMinYMin meet' }, parts);
}

function legend() {
  const key = (cls, text) => h('li', {}, h('span', { class: `key ${cls}`, 'aria-hidden': 'true' }), text);
  return h('ul', { class: 'legend' }, key('chats', t('staffingAnswered')), key('abandoned', t('staffingAbandoned')),
    key('wait', t('staffingLongest')));
}

function table(caption, cols, rows) {
  return h('details', { class: 'as-table' }, h('summary', {}, t('staffingAsTable', { what: caption })),
    // It scrolls by itself: focusable, so that it scrolls from the keyboard too.
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
      h('table', { class: 'grid small' }, h('caption', { class: 'sr-only' }, caption),
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows))));
}

const cells = (r) => [h('td', { class: 'num' }, String(r.chats)), h('td', { class: 'num' }, String(r.abandoned)),
  h('td', { class: 'num' }, fmtWait(r.longest_wait_seconds))];

/** The staffing section into `el`, from the API's answer. */
export function render(el, data) {
  if (!data) {
    replace(el, h('p', {}, t('loading')));
    return;
  }
  const days = t('weekdays');
  const short = t('weekdaysShort');
  const hours = data.hours || [];
  const perDay = data.days || [];
  const sum = (rows, key) => rows.reduce((n, r) => n + (r[key] || 0), 0);
  const weekChart = chart({ id: 'staff-week', rows: hours, slot: 5,
    tick: (r) => (r.hour === 0 ? short[r.weekday] : r.hour === 12 ? '12' : null),
    separator: (r) => r.hour === 0,
    title: t('staffingWeekTitle', { weeks: data.weeks || 4 }),
    desc: t('staffingDesc', { chats: sum(hours, 'chats'), abandoned: sum(hours, 'abandoned') }) });
  const dayChart = chart({ id: 'staff-days', rows: perDay, slot: 24,
    tick: (r, i) => (i % 5 === 0 || i === perDay.length - 1 ? r.day.slice(5) : null),
    separator: null,
    title: t('staffingDaysTitle', { days: perDay.length }),
    desc: t('staffingDesc', { chats: sum(perDay, 'chats'), abandoned: sum(perDay, 'abandoned') }) });
  const cols = [t('staffingChats'), t('colAbandoned'), t('staffingLongest')];
  replace(el, h('section', { class: 'staffing', 'aria-labelledby': 'adm-staff' },
    h('div', { class: 'view-head' }, h('h3', { id: 'adm-staff' }, t('adminStaffing'))),
    h('p', { class: 'hint' }, t('staffingNote')),
    legend(),
    h('figure', { class: 'chart-box', 'data-chart': 'week' }, weekChart,
      h('figcaption', {}, t('staffingWeekTitle', { weeks: data.weeks || 4 }))),
    table(t('staffingWeekTitle', { weeks: data.weeks || 4 }), [t('staffingDay'), t('staffingHour'), ...cols],
      hours.map((r) => h('tr', { 'data-slot': `${r.weekday}-${r.hour}` }, h('th', { scope: 'row' }, days[r.weekday]),
        h('td', {}, `${String(r.hour).padStart(2, '0')}:00–${String((r.hour + 1) % 24).padStart(2, '0')}:00`),
        ...cells(r)))),
    h('figure', { class: 'chart-box', 'data-chart': 'days' }, dayChart,
      h('figcaption', {}, t('staffingDaysTitle', { days: perDay.length }))),
    table(t('staffingDaysTitle', { days: perDay.length }), [t('colDay'), ...cols],
      perDay.map((r) => h('tr', { 'data-day': r.day }, h('th', { scope: 'row' }, r.day), ...cells(r))))));
}
