// The review view ("Terugkijken"): the redacted transcripts of ended chats, my own last wrap-ups,
// and (for supervisors and admins) the visitors' ratings per counselor and per day.
// Supervisors search every transcript; a counselor sees only their own chats, for a few days after
// the end (the server decides and refuses the rest with 403). Every opening of a transcript is
// written to the audit log by the server; the search itself shows no text at all.
import { S, isSupervisor } from './state.js';
import { h, t, replace, nextId, duration, dateTime } from './dom.js';
import { get, detailText } from './api.js';
import { eventRow, noteRow } from './chats.js';

const CATEGORIES = ['sexual_exploitation', 'criminal_exploitation', 'abuse_at_home', 'online_abuse', 'sexual_violence',
  'worry_about_child', 'mental_health', 'information', 'other', 'not_a_real_chat'];
const RISKS = ['none', 'low', 'medium', 'high', 'acute'];

let V = null;
let results = [];
let mine = [];
let ratings = null;
let people = [];
let owner = null; // whose data the module holds: another login in this tab starts empty
const filters = { from: '', to: '', counselor: '', category: '', risk: '' };

function problem(err) {
  if (err.status === 403) return t('forbidden');
  if (err.status === 404) return t('reviewGone');
  return t('requestFailed', { message: detailText(err.detail) || err.message });
}

function field(label, control) {
  return h('p', { class: 'field' }, h('label', { for: control.id }, label), control);
}

function choice(key, options) {
  return h('select', { id: nextId(key), onchange: (event) => { filters[key] = event.target.value; } },
    h('option', { value: '', selected: !filters[key] }, t('all')),
    options.map(([value, text]) => h('option', { value, selected: filters[key] === value }, text)));
}

export function mount(root) {
  if (owner !== S.me?.username) {
    clearData();
    owner = S.me?.username;
  }
  V = {
    root,
    err: h('p', { class: 'error', role: 'alert' }),
    results: h('div', { class: 'review-results' }),
    transcript: h('section', { class: 'transcript', hidden: true, 'aria-labelledby': 'rev-open' }),
    mine: h('div', { class: 'review-mine' }),
    ratings: h('div', { class: 'review-ratings' }),
    status: h('p', { class: 'hint', role: 'status' }),
  };
  const from = h('input', { id: nextId('from'), type: 'date', value: filters.from,
    onchange: (e) => { filters.from = e.target.value; } });
  const to = h('input', { id: nextId('to'), type: 'date', value: filters.to, onchange: (e) => { filters.to = e.target.value; } });
  const counselor = isSupervisor()
    ? choice('counselor', people.map((p) => [p.username, p.name]))
    : null;
  V.counselorSelect = counselor;
  const form = h('form', { class: 'form inline-form review-search', 'aria-labelledby': 'rev-search', onsubmit: (event) => {
    event.preventDefault();
    search();
  } },
  field(t('reviewFrom'), from), field(t('reviewTo'), to),
  counselor ? field(t('colCounselor'), counselor) : null,
  field(t('wrapupCategory'), choice('category', CATEGORIES.map((c) => [c, t(`categories.${c}`)]))),
  field(t('wrapupRisk'), choice('risk', RISKS.map((r) => [r, t(`risks.${r}`)]))),
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, t('reviewSearch'))));
  replace(root, h('div', { class: 'review-view' },
    h('div', { class: 'view-head' }, h('h2', {}, t('reviewTitle'))),
    V.err,
    h('section', { 'aria-labelledby': 'rev-search' },
      h('h3', { id: 'rev-search' }, t('reviewTranscripts')),
      h('p', { class: 'hint' }, isSupervisor() ? t('reviewNoteSupervisor') : t('reviewNoteCounselor')),
      form, V.status, V.results),
    V.transcript,
    h('section', { 'aria-labelledby': 'rev-mine' }, h('h3', { id: 'rev-mine' }, t('reviewMine')), V.mine),
    isSupervisor() ? h('section', { 'aria-labelledby': 'rev-ratings' },
      h('h3', { id: 'rev-ratings' }, t('ratingsTitle')), V.ratings) : null));
  render();
}

export function show(active) {
  if (active) load();
}

async function load() {
  try {
    const calls = [get('/api/wrapups/mine?limit=20')];
    if (isSupervisor()) calls.push(get('/api/ratings?days=30'), get('/api/supervisor/overview'));
    const [m, r, overview] = await Promise.all(calls);
    mine = Array.isArray(m) ? m : [];
    if (r) ratings = r;
    if (overview && V?.counselorSelect && !people.length) {
      people = (overview.counselors || []).map((c) => ({ username: c.username, name: c.name }));
      for (const p of people) V.counselorSelect.appendChild(h('option', { value: p.username }, p.name));
    }
    V.err.textContent = '';
  } catch (err) {
    V.err.textContent = problem(err);
  }
  await search(false);
}

async function search(announce = true) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
  try {
    results = await get(`/api/transcripts?${params}`);
    V.err.textContent = '';
    if (announce) V.status.textContent = t('reviewFound', { n: results.length });
  } catch (err) {
    V.err.textContent = problem(err);
  }
  render();
}

function label(group, value) {
  return value ? t(`${group}.${value}`) : '–';
}

function render() {
  if (!V) return;
  const rows = results.map((r) => h('tr', { 'data-sid': r.session_id },
    h('th', { scope: 'row' }, dateTime(r.opened_at)),
    h('td', {}, `${t(`audiences.${r.audience}`)} · ${t(`languages.${r.language}`)}`,
      r.urgent ? [' ', h('span', { class: 'badge urgent' }, t('urgent'))] : null),
    h('td', {}, r.counselor ? r.counselor.name : '–'),
    h('td', {}, label('categories', r.category)),
    h('td', {}, label('risks', r.risk)),
    h('td', { class: 'actions' }, h('button', { type: 'button', class: 'small',
      'aria-label': t('reviewOpenOne', { when: dateTime(r.opened_at) }), onclick: () => open(r.session_id) },
    t('reviewOpen')))));
  replace(V.results, results.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'grid' },
    h('caption', { class: 'sr-only' }, t('reviewTranscripts')),
    h('thead', {}, h('tr', {}, [t('colStarted'), t('colQueue'), t('colCounselor'), t('wrapupCategory'), t('wrapupRisk'),
      t('colActions')].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows))) : h('p', { class: 'hint' }, t('reviewNone')));
  renderMine();
  renderRatings();
}

function renderMine() {
  const rows = mine.map((r) => h('tr', { 'data-sid': r.session_id },
    h('th', { scope: 'row' }, r.opened_hour ? dateTime(r.opened_hour) : r.day),
    h('td', {}, `${t(`audiences.${r.audience}`)} · ${t(`languages.${r.language}`)}`),
    h('td', {}, r.duration_seconds == null ? '–' : duration(r.duration_seconds)),
    h('td', {}, r.wrapup ? label('categories', r.wrapup.category) : h('em', {}, t('reviewNoWrapup'))),
    h('td', {}, r.wrapup ? label('risks', r.wrapup.risk) : '–'),
    h('td', {}, r.wrapup ? label('referrals', r.wrapup.referral) : '–'),
    h('td', { class: 'actions' }, r.transcript ? h('button', { type: 'button', class: 'small',
      'aria-label': t('reviewOpenOne', { when: r.opened_hour ? dateTime(r.opened_hour) : r.day }),
      onclick: () => open(r.session_id) }, t('reviewOpen')) : '–')));
  replace(V.mine, mine.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'grid' },
    h('caption', { class: 'sr-only' }, t('reviewMine')),
    h('thead', {}, h('tr', {}, [t('reviewBegan'), t('colQueue'), t('reviewDuration'), t('wrapupCategory'), t('wrapupRisk'),
      t('wrapupReferral'), t('colActions')].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows))) : h('p', { class: 'hint' }, t('reviewMineNone')));
}

function scoreCells(row) {
  return [h('td', { class: 'num' }, String(row.count)), h('td', { class: 'num' }, row.mean == null ? '–' : String(row.mean)),
    ...['1', '2', '3', '4', '5'].map((s) => h('td', { class: 'num' }, String(row.scores[s] || 0)))];
}

function renderRatings() {
  if (!isSupervisor()) return;
  if (!ratings) {
    replace(V.ratings, h('p', {}, t('loading')));
    return;
  }
  const head = (first) => h('thead', {}, h('tr', {}, [first, t('ratingsCount'), t('ratingsMean'),
    ...[1, 2, 3, 4, 5].map((s) => t('ratingsScore', { n: s }))].map((c) => h('th', { scope: 'col' }, c))));
  const table = (caption, first, rows, key) => h('div', { class: 'table-wrap' }, h('table', { class: 'grid small ratings' },
    h('caption', {}, caption), head(first),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', { [`data-${key}`]: r[key] },
      h('th', { scope: 'row' }, key === 'username' ? r.name : r.day), ...scoreCells(r)))
      : h('tr', {}, h('td', { colspan: '8' }, '–')))));
  replace(V.ratings,
    h('p', { class: 'hint' }, t('ratingsNote', { days: 30 })),
    h('p', { 'data-stat': 'ratings-total' }, t('ratingsTotal', { n: ratings.total.count,
      mean: ratings.total.mean == null ? '–' : ratings.total.mean })),
    h('div', { class: 'stat-tables' },
      table(t('ratingsPerCounselor'), t('colCounselor'), ratings.counselors || [], 'username'),
      table(t('ratingsPerDay'), t('colDay'), ratings.days || [], 'day')));
}

function eventShape(ev) {
  // The transcript keeps a resource's id and title (public text), not the whole card.
  if (ev.type === 'resource') return { ...ev, snippet: { title: ev.title || ev.snippet_id || '' } };
  return ev;
}

async function open(sid) {
  let tr;
  try {
    tr = await get(`/api/transcripts/${encodeURIComponent(sid)}`);
  } catch (err) {
    V.err.textContent = problem(err);
    return;
  }
  V.err.textContent = '';
  // Staff notes (whispers) are kept, redacted, in place; they show as they did in the chat, marked staff only.
  const list = h('ol', { class: 'rows' }, (tr.events || []).map((ev) => (ev.type === 'staff_note'
    ? noteRow({ ...ev, note_id: '' }) : eventRow(eventShape(ev)))).filter(Boolean));
  V.transcript.hidden = false;
  V.transcript.dataset.sid = tr.session_id;
  replace(V.transcript,
    h('div', { class: 'view-head' },
      h('h3', { id: 'rev-open', tabindex: '-1' }, t('reviewTranscriptOf', { when: dateTime(tr.opened_at),
        queue: `${t(`audiences.${tr.audience}`)} · ${t(`languages.${tr.language}`)}` })),
      h('button', { type: 'button', class: 'secondary', onclick: () => {
        V.transcript.hidden = true;
        delete V.transcript.dataset.sid;
        replace(V.transcript);
      } }, t('close'))),
    h('p', { class: 'hint' }, t('reviewRedacted')),
    h('dl', { class: 'figures' },
      h('div', {}, h('dt', {}, t('colCounselor')), h('dd', {}, tr.counselor ? tr.counselor.name : '–')),
      h('div', {}, h('dt', {}, t('wrapupCategory')), h('dd', {}, label('categories', tr.category))),
      h('div', {}, h('dt', {}, t('wrapupRisk')), h('dd', {}, label('risks', tr.risk))),
      h('div', {}, h('dt', {}, t('wrapupReferral')), h('dd', {}, label('referrals', tr.referral))),
      h('div', {}, h('dt', {}, t('reviewTopic')), h('dd', {}, tr.topic || t('noTopic')))),
    h('div', { class: 'log', role: 'log', tabindex: '0', 'aria-labelledby': 'rev-open' }, list));
  V.transcript.querySelector('h3').focus();
}

export function clearData() {
  results = [];
  mine = [];
  ratings = null;
  people = [];
  for (const key of Object.keys(filters)) filters[key] = '';
  if (V) replace(V.root);
  V = null;
}

