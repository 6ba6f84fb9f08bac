// The admin view: counselor accounts, the safety-resource snippets, and statistics. Everything
// here goes through the admin HTTP APIs, which refuse other roles with 403 whatever the page does.
// The statistics come from the archived, text-free summaries: there is no message text to show.
import { S } from './state.js';
import { h, t, clear, replace, nextId, duration } from './dom.js';
import { get, post, patch, del, detailText } from './api.js';
import * as staffingView from './staffing.js';

const ROLES = ['counselor', 'supervisor', 'admin'];
const SNIPPET_CATEGORIES = ['emergency', 'exploitation', 'abuse_at_home', 'suicide_prevention', 'online_abuse', 'police',
  'other'];

let V = null;
let section = 'counselors';
let counselors = [];
let snippets = [];
let stats = null;
let staffing = null;
let snippetLanguage = '';

function problem(err) {
  if (err.status === 403) return t('forbidden');
  if (err.status === 409) return t('usernameTaken');
  if (err.status === 422) return t('invalidInput', { message: detailText(err.detail) });
  return t('requestFailed', { message: detailText(err.detail) || err.message });
}

export function mount(root) {
  V = { root, body: h('div', { class: 'admin-body' }), msg: h('p', { class: 'flash', role: 'status' }),
    err: h('p', { class: 'error', role: 'alert' }), nav: null };
  const sections = [['counselors', 'adminCounselors'], ['snippets', 'adminSnippets'], ['stats', 'adminStats'],
    ['staffing', 'adminStaffing']];
  V.nav = h('div', { class: 'subnav', role: 'group', 'aria-label': t('adminTitle') },
    sections.map(([key, label]) => h('button', { type: 'button', class: 'subnav-btn', 'data-section': key,
      'aria-pressed': String(section === key), onclick: () => go(key) }, t(label))));
  replace(root, h('div', { class: 'admin-view' },
    h('div', { class: 'view-head' }, h('h2', {}, t('adminTitle')), V.nav), V.err, V.msg, V.body));
  render();
}

export function show(active) {
  if (active) load();
}

function go(key) {
  section = key;
  for (const button of V.nav.querySelectorAll('button')) {
    button.setAttribute('aria-pressed', String(button.dataset.section === key));
  }
  say('');
  load();
}

function say(text, isError = false) {
  if (!V) return;
  V.err.textContent = isError ? text : '';
  V.msg.textContent = isError ? '' : text;
}

async function load() {
  try {
    if (section === 'counselors') counselors = await get('/api/admin/counselors');
    else if (section === 'snippets') snippets = await get('/api/snippets?include_inactive=true');
    else if (section === 'staffing') staffing = await get('/api/admin/staffing');
    else stats = await get('/api/admin/stats?days=30');
  } catch (err) {
    say(problem(err), true);
  }
  render();
}

function render() {
  if (!V) return;
  if (section === 'counselors') renderCounselors();
  else if (section === 'snippets') renderSnippets();
  else if (section === 'staffing') staffingView.render(V.body, staffing);
  else renderStats();
}

// -- counselors ----------------------------------------------------------------------------------

function roleSelect(id, value, onchange) {
  return h('select', { id, onchange }, ROLES.map((r) => h('option', { value: r, selected: r === value }, t(`roles.${r}`))));
}

function field(label, control) {
  return h('p', { class: 'field' }, h('label', { for: control.id }, label), control);
}

function renderCounselors() {
  const rows = counselors.map((c) => {
    const roleId = nextId('role');
    const self = c.username === S.me?.username;
    return h('tr', { 'data-username': c.username, class: c.active ? '' : 'inactive' },
      h('th', { scope: 'row', class: 'mono' }, c.username),
      h('td', {}, c.display_name),
      h('td', {}, h('label', { for: roleId, class: 'sr-only' }, t('roleChangeFor', { name: c.display_name })),
        roleSelect(roleId, c.role, async (event) => {
          try {
            await patch(`/api/admin/counselors/${encodeURIComponent(c.username)}`, { role: event.target.value });
            say(t('counselorSaved', { name: c.display_name }));
          } catch (err) {
            say(problem(err), true);
          }
          load();
        })),
      h('td', {}, c.active ? t('yes') : t('no')),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'small', disabled: self, onclick: async () => {
          try {
            await patch(`/api/admin/counselors/${encodeURIComponent(c.username)}`, { active: !c.active });
            say(t('counselorSaved', { name: c.display_name }));
          } catch (err) {
            say(problem(err), true);
          }
          load();
        } }, c.active ? t('disable') : t('enable')),
        h('button', { type: 'button', class: 'small', onclick: () => resetPassword(c) }, t('resetPassword'))));
  });
  const ids = { user: nextId('u'), name: nextId('n'), role: nextId('r'), pass: nextId('p') };
  const user = h('input', { id: ids.user, required: true, maxlength: '64', pattern: '[A-Za-z0-9._\\-]+', autocomplete: 'off' });
  const name = h('input', { id: ids.name, required: true, maxlength: '64', autocomplete: 'off' });
  const role = roleSelect(ids.role, 'counselor');
  const pass = h('input', { id: ids.pass, type: 'password', required: true, minlength: '10', autocomplete: 'new-password' });
  const form = h('form', { class: 'form inline-form', onsubmit: async (event) => {
    event.preventDefault();
    try {
      await post('/api/admin/counselors', { username: user.value.trim(), display_name: name.value.trim(),
        role: role.value, password: pass.value });
      say(t('counselorAdded', { name: name.value.trim() }));
      form.reset();
    } catch (err) {
      say(problem(err), true);
    }
    load();
  } },
  field(t('username'), user), field(t('displayName'), name), field(t('role'), role), field(t('newPassword'), pass),
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, t('add'))));
  replace(V.body,
    h('section', { 'aria-labelledby': 'adm-c' }, h('h3', { id: 'adm-c' }, t('adminCounselors')),
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid' }, h('caption', { class: 'sr-only' }, t('adminCounselors')),
        h('thead', {}, h('tr', {}, [t('colUsername'), t('colDisplayName'), t('colRole'), t('colActive'), t('colActions')]
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows)))),
    h('section', { 'aria-labelledby': 'adm-add' }, h('h3', { id: 'adm-add' }, t('addCounselor')), form));
}

function resetPassword(c) {
  const id = nextId('pw');
  const input = h('input', { id, type: 'password', required: true, minlength: '10', autocomplete: 'new-password' });
  const error = h('p', { class: 'error', role: 'alert' });
  const titleId = nextId('t');
  const back = document.activeElement;
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, t('resetPasswordFor', { name: c.display_name })),
    h('form', { class: 'form', onsubmit: async (event) => {
      event.preventDefault();
      try {
        await post(`/api/admin/counselors/${encodeURIComponent(c.username)}/password`, { password: input.value });
        dialog.close();
        say(t('passwordReset', { name: c.display_name }));
      } catch (err) {
        error.textContent = problem(err);
      }
    } },
    field(t('newPassword'), input),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, t('save')),
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, t('cancel')))),
    error);
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (back?.isConnected) back.focus();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  input.focus();
}

// -- snippets ---------------------------------------------------------------------------------------

function renderSnippets() {
  const langId = nextId('sl');
  const shown = snippets.filter((s) => !snippetLanguage || s.language === snippetLanguage);
  const rows = shown.map((s, i) => h('tr', { 'data-id': s.id, class: s.active ? '' : 'inactive' },
    h('td', { class: 'order' },
      h('button', { type: 'button', class: 'small', disabled: i === 0, 'aria-label': t('snippetUp', { title: s.title }),
        onclick: () => move(s, -1, shown) }, '↑'),
      h('button', { type: 'button', class: 'small', disabled: i === shown.length - 1,
        'aria-label': t('snippetDown', { title: s.title }), onclick: () => move(s, 1, shown) }, '↓')),
    h('th', { scope: 'row' }, s.title, s.active ? null : h('span', { class: 'badge muted' }, t('snippetInactive'))),
    h('td', {}, t(`languages.${s.language}`)),
    h('td', {}, t(`audiences.${s.audience}`)),
    h('td', {}, t(`snippetCategories.${s.category}`)),
    h('td', {}, s.phone || '–'),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'small', 'aria-label': t('editThing', { title: s.title }),
        onclick: () => editSnippet(s) }, t('edit')),
      h('button', { type: 'button', class: 'small', onclick: async () => {
        try {
          if (s.active) await del(`/api/snippets/${encodeURIComponent(s.id)}`);
          else await patch(`/api/snippets/${encodeURIComponent(s.id)}`, { active: true });
          say(s.active ? t('snippetDeactivated') : t('snippetSaved'));
        } catch (err) {
          say(problem(err), true);
        }
        load();
      } }, s.active ? t('deactivate') : t('activate')))));
  const filter = h('select', { id: langId, onchange: (event) => { snippetLanguage = event.target.value; render(); } },
    h('option', { value: '', selected: !snippetLanguage }, t('all')),
    ['nl', 'en'].map((l) => h('option', { value: l, selected: snippetLanguage === l }, t(`languageNames.${l}`))));
  replace(V.body, h('section', { 'aria-labelledby': 'adm-s' },
    h('div', { class: 'view-head' }, h('h3', { id: 'adm-s' }, t('adminSnippets')),
      h('p', { class: 'field inline' }, h('label', { for: langId }, t('snippetFilterLanguage')), filter),
      h('button', { type: 'button', class: 'primary', onclick: () => editSnippet(null) }, t('snippetNew'))),
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid' }, h('caption', { class: 'sr-only' }, t('adminSnippets')),
      h('thead', {}, h('tr', {}, ['↑↓', t('snippetTitle'), t('snippetLanguage'), t('snippetAudience'), t('snippetCategory'),
        t('phone'), t('colActions')].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)))));
}

async function move(snippet, step, shown) {
  // The whole order, with this snippet swapped with its neighbour among those shown.
  const ids = snippets.map((s) => s.id);
  const neighbour = shown[shown.indexOf(snippet) + step];
  if (!neighbour) return;
  const a = ids.indexOf(snippet.id);
  const b = ids.indexOf(neighbour.id);
  [ids[a], ids[b]] = [ids[b], ids[a]];
  try {
    await post('/api/snippets/order', { ids });
    say(t('snippetSaved'));
  } catch (err) {
    say(problem(err), true);
  }
  await load();
  V.body.querySelector(`tr[data-id="${CSS.escape(snippet.id)}"] button[aria-label="${CSS.escape(
    t(step < 0 ? 'snippetUp' : 'snippetDown', { title: snippet.title }))}"]`)?.focus();
}

function editSnippet(snippet) {
  const s = snippet || { language: 'nl', audience: 'both', category: 'other', title: '', body: '', phone: '', url: '',
    active: true };
  const control = (tag, props, ...children) => h(tag, { id: nextId('f'), ...props }, ...children);
  const language = control('select', {}, ['nl', 'en'].map((l) => h('option', { value: l, selected: s.language === l },
    t(`languageNames.${l}`))));
  const audience = control('select', {}, ['parent', 'youth', 'both'].map((a) => h('option', { value: a,
    selected: s.audience === a }, t(`audiences.${a}`))));
  const category = control('select', {}, SNIPPET_CATEGORIES.map((c) => h('option', { value: c,
    selected: s.category === c }, t(`snippetCategories.${c}`))));
  const title = control('input', { required: true, maxlength: '120', value: s.title });
  const body = control('textarea', { required: true, maxlength: '1000', rows: '5' });
  body.value = s.body || '';
  const phone = control('input', { maxlength: '32', value: s.phone || '', inputmode: 'tel' });
  const url = control('input', { type: 'url', maxlength: '500', value: s.url || '' });
  const active = control('input', { type: 'checkbox', checked: s.active });
  const error = h('p', { class: 'error', role: 'alert' });
  const titleId = nextId('t');
  const back = document.activeElement;
  const dialog = h('dialog', { class: 'dialog wide', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, snippet ? t('snippetEdit') : t('snippetNew')),
    h('form', { class: 'form', onsubmit: async (event) => {
      event.preventDefault();
      const data = { language: language.value, audience: audience.value, category: category.value,
        title: title.value.trim(), body: body.value.trim(), phone: phone.value.trim() || null,
        url: url.value.trim() || null, active: active.checked };
      try {
        if (snippet) await patch(`/api/snippets/${encodeURIComponent(snippet.id)}`, data);
        else await post('/api/snippets', data);
        dialog.close();
        say(t('snippetSaved'));
        load();
      } catch (err) {
        error.textContent = problem(err);
      }
    } },
    h('div', { class: 'field-row' }, field(t('snippetLanguage'), language), field(t('snippetAudience'), audience),
      field(t('snippetCategory'), category)),
    field(t('snippetTitle'), title), field(t('snippetBody'), body),
    h('div', { class: 'field-row' }, field(t('snippetPhone'), phone), field(t('snippetUrl'), url)),
    h('p', { class: 'check' }, active, h('label', { for: active.id }, t('snippetActive'))),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, t('save')),
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, t('cancel')))),
    error);
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (back?.isConnected) back.focus();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  title.focus();
}

// -- statistics --------------------------------------------------------------------------------------

function countTable(caption, table, labels) {
  const entries = Object.entries(table || {}).sort((a, b) => b[1] - a[1]);
  return h('table', { class: 'grid small' }, h('caption', {}, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('colValue')), h('th', { scope: 'col' }, t('colCount')))),
    h('tbody', {}, entries.length ? entries.map(([key, n]) => h('tr', {},
      h('th', { scope: 'row' }, key === 'none' ? t('none') : t(`${labels}.${key}`)), h('td', { class: 'num' }, String(n))))
      : h('tr', {}, h('td', { colspan: '2' }, '–'))));
}

function renderStats() {
  if (!stats) {
    replace(V.body, h('p', {}, t('loading')));
    return;
  }
  const w = stats.wait_seconds || {};
  const fmt = (v) => (v == null ? '–' : duration(v));
  const total = stats.total ?? (stats.days || []).reduce((n, d) => n + d.chats, 0);
  const abandoned = stats.abandoned_rate == null ? '–'
    : `${stats.abandoned ?? ''} (${Math.round(stats.abandoned_rate * 1000) / 10}%)`;
  replace(V.body, h('section', { 'aria-labelledby': 'adm-st', class: 'stats' },
    h('div', { class: 'view-head' }, h('h3', { id: 'adm-st' }, t('adminStats')),
      h('p', { class: 'hint' }, t('statsPeriod', { days: 30 })),
      h('button', { type: 'button', class: 'secondary', onclick: () => load() }, t('refresh'))),
    h('p', { class: 'hint' }, t('statsNote')),
    h('dl', { class: 'figures' },
      h('div', {}, h('dt', {}, t('statsTotal')), h('dd', { 'data-stat': 'total' }, String(total))),
      h('div', {}, h('dt', {}, t('statsAbandoned')), h('dd', { 'data-stat': 'abandoned' }, abandoned)),
      h('div', {}, h('dt', {}, t('statsUrgent')), h('dd', { 'data-stat': 'urgent' }, String(stats.urgent ?? '–'))),
      h('div', {}, h('dt', {}, t('statsWait')), h('dd', { 'data-stat': 'wait' },
        `${fmt(w.p50)} / ${fmt(w.p90)} / ${fmt(w.p99)}`))),
    total ? null : h('p', {}, t('statsNone')),
    h('div', { class: 'stat-tables' },
      h('table', { class: 'grid small' }, h('caption', {}, t('statsPerDay')),
        h('thead', {}, h('tr', {}, [t('colDay'), t('colChats'), t('colAbandoned')].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, (stats.days || []).length ? stats.days.map((d) => h('tr', {},
          h('th', { scope: 'row' }, d.day), h('td', { class: 'num' }, String(d.chats)),
          h('td', { class: 'num' }, String(d.abandoned ?? 0)))) : h('tr', {}, h('td', { colspan: '3' }, '–')))),
      countTable(t('statsByAudience'), stats.by_audience, 'audiences'),
      countTable(t('statsByLanguage'), stats.by_language, 'languageNames'),
      countTable(t('statsByCategory'), stats.by_category, 'categories'),
      countTable(t('statsByRisk'), stats.by_risk, 'risks'))));
}

export function clearData() {
  counselors = [];
  snippets = [];
  stats = null;
  staffing = null;
  clear(V?.body || document.createElement('div'));
}
