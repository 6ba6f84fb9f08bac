// Small DOM and text helpers shared by every view. Text from the network goes into the page as
// text nodes only (textContent), never parsed as HTML, anywhere in the console.
import nl from './i18n/nl.js';
import en from './i18n/en.js';

export const LANGS = { nl, en };
let T = nl;
let lang = 'nl';

export function setLanguage(code) {
  lang = LANGS[code] ? code : 'nl';
  T = LANGS[lang];
  document.documentElement.lang = lang;
  return lang;
}

export function currentLanguage() {
  return lang;
}

/** A translated string; {name} placeholders filled from vars. A dotted key reads a nested table. */
export function t(key, vars) {
  let value = T;
  for (const part of key.split('.')) value = value?.[part];
  if (value == null) {
    let fallback = nl;
    for (const part of key.split('.')) fallback = fallback?.[part];
    value = fallback ?? key.split('.').pop();
  }
  if (typeof value !== 'string') return value;
  return value.replace(/\{(\w+)\}/g, (_, name) => String(vars?.[name] ?? ''));
}

/** Build an element. Strings among the children become text nodes; nothing is parsed as HTML. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === 'text') el.textContent = value;
    else if (key === 'class') el.className = value;
    else if (key === 'value') el.value = value;
    else if (key === 'checked' || key === 'selected' || key === 'disabled' || key === 'hidden' || key === 'required'
      || key === 'multiple') el[key] = Boolean(value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

let uid = 0;
export function nextId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A duration in seconds as a short readable text ("45 s", "3:07 min", "1 u 05 min"). */
export function duration(seconds) {
  const total = Math.max(0, Math.floor(seconds || 0));
  if (total < 60) return t('secondsShort', { n: total });
  if (total < 3600) {
    return t('minutesShort', { m: Math.floor(total / 60), s: String(total % 60).padStart(2, '0') });
  }
  return t('hoursShort', { h: Math.floor(total / 3600), m: String(Math.floor((total % 3600) / 60)).padStart(2, '0') });
}

export function clock(iso) {
  const date = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleTimeString(t('locale'), { hour: '2-digit', minute: '2-digit' });
}

export function dateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString(t('locale'), { dateStyle: 'short', timeStyle: 'short' });
}

/** Say something to screen-reader users; `urgent` interrupts. */
export function announce(text, urgent = false) {
  const region = document.getElementById(urgent ? 'announce-urgent' : 'announce');
  if (!region) return;
  region.textContent = '';
  // A fresh text after a tick is read even when it repeats the last one.
  setTimeout(() => { region.textContent = text; }, 30);
}

/** A new random client_id for a message this console sends. */
export function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return 'k-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function queueName(audience, language) {
  return `${t(`audiences.${audience}`)} · ${t(`languages.${language}`)}`;
}

/** Why triage flagged a chat: the labels of its categories ("suicide_selfharm,violence"), never the text. */
export function reasonText(category) {
  return String(category || '').split(',').filter(Boolean).map((c) => t(`triage.${c}`)).join(', ');
}
