/*
 * Helpline chat: the loader. A host page includes it with one tag:
 *
 *   <script src="https://chat.example.org/widget.js" data-language="nl" defer></script>
 *
 * Options (data- attributes): language ("nl" or "en"), exit-url (where a quick exit goes;
 * http(s) only). It draws a launcher button in a shadow root and puts the chat frame, served by
 * the chat server, in an iframe. The chat itself never enters this page's DOM. Messages to and
 * from the frame go to its exact origin and are checked on receipt. The one global it sets is
 * window.HelplineChat = { open, close, quickExit }.
 */
(() => {
  'use strict';
  if (window.HelplineChat) return;
  const me = document.currentScript || Array.from(document.scripts).find((s) => /\/widget\.js(?:[?#]|$)/.test(s.src));
  if (!me || !me.src || !window.postMessage) return;

  const ORIGIN = new URL(me.src, location.href).origin;
  const lang = me.dataset.language === 'en' ? 'en' : 'nl';
  // Somewhere ordinary to land on, away from this site; every helpline should set its own.
  const EXITS = { nl: 'https://www.google.com/search?q=weer', en: 'https://www.google.com/search?q=weather' };
  const exitUrl = httpUrl(me.dataset.exitUrl) || EXITS[lang];
  const ESC_WINDOW = 1000;

  function httpUrl(value) {
    if (!value) return null;
    try {
      const url = new URL(value, location.href);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch {
      return null;
    }
  }

  const CSS = `
:host { all: initial !important; }
[hidden] { display: none !important; }
.launch {
  position: fixed; right: 16px; bottom: 16px; z-index: 2147483000;
  font: 600 16px/1.2 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: #fff; background: #4a2377; border: 2px solid #fff; border-radius: 999px;
  padding: 12px 20px; min-height: 48px; cursor: pointer; box-shadow: 0 2px 10px rgba(0,0,0,.35);
}
.launch:hover { background: #351858; }
.launch:focus-visible { outline: 3px solid #1b1b1f; outline-offset: 3px; box-shadow: 0 0 0 3px #fff; }
.launch .dot { display: inline-block; width: 10px; height: 10px; margin-left: 8px; border-radius: 50%;
  background: #ffbf47; border: 2px solid #fff; vertical-align: middle; }
.panel {
  position: fixed; right: 16px; bottom: 16px; z-index: 2147483001;
  width: 400px; max-width: calc(100vw - 32px); height: 640px; max-height: calc(100vh - 32px);
  border-radius: 12px; overflow: hidden; background: #fff; box-shadow: 0 4px 24px rgba(0,0,0,.35);
}
.panel iframe { display: block; width: 100%; height: 100%; border: 0; }
@media (max-width: 480px), (max-height: 560px) {
  .panel { inset: 0; width: 100%; height: 100%; max-width: none; max-height: none; border-radius: 0; }
}
@media (prefers-reduced-motion: no-preference) { .launch { transition: background-color .15s; } }`;

  const host = document.createElement('helpline-chat');
  host.style.setProperty('all', 'initial', 'important');
  const root = host.attachShadow({ mode: 'open' });
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS); // a constructed sheet is not an inline <style>: strict host CSPs allow it
    root.adoptedStyleSheets = [sheet];
  } catch {
    const style = document.createElement('style');
    style.textContent = CSS;
    root.append(style);
  }

  const launch = document.createElement('button');
  launch.type = 'button';
  launch.className = 'launch';
  launch.hidden = true; // until the frame is there and has said what the button is called
  const label = document.createElement('span');
  const dot = document.createElement('span');
  dot.className = 'dot';
  dot.hidden = true;
  launch.append(label, dot);

  const panel = document.createElement('div');
  panel.className = 'panel';
  panel.hidden = true;
  const frame = document.createElement('iframe');
  frame.title = 'Chat';
  frame.referrerPolicy = 'no-referrer';
  frame.src = `${ORIGIN}/widget/frame.html#${new URLSearchParams({ lang, o: location.origin })}`;
  panel.append(frame);
  root.append(launch, panel);

  let ready = false;
  let open = false;
  let active = false;
  let leaving = false;
  let left = false;
  let lastEscape = -Infinity;
  let labels = { label: 'Chat', labelNew: 'Chat' };

  function post(type, extra) {
    if (frame.contentWindow) frame.contentWindow.postMessage({ hlc: 1, type, ...extra }, ORIGIN);
  }

  function setLabel() {
    const fresh = !dot.hidden;
    label.textContent = labels.label;
    launch.setAttribute('aria-label', fresh ? labels.labelNew : labels.label);
  }

  function show(focus = true) {
    if (!ready || leaving) return;
    open = true;
    panel.hidden = false;
    launch.hidden = true;
    dot.hidden = true;
    setLabel();
    post('open', { focus });
    if (focus) frame.focus();
  }

  function hide() {
    if (!open) return;
    open = false;
    panel.hidden = true;
    launch.hidden = false;
    post('hidden');
    launch.focus();
  }

  function leave() {
    // The chat leaves this page's DOM first; then this history entry is replaced, so Back skips it.
    if (left) return;
    left = leaving = true;
    host.remove();
    location.replace(exitUrl);
  }

  function quickExit() {
    if (leaving) return;
    leaving = true;
    panel.hidden = true;
    launch.hidden = true;
    // The frame ends the chat and clears its storage, then answers 'exit'; leave anyway if it cannot.
    post('quick-exit');
    setTimeout(leave, 400);
  }

  launch.addEventListener('click', () => show());

  window.addEventListener('message', (e) => {
    if (e.source !== frame.contentWindow || e.origin !== ORIGIN) return;
    const d = e.data;
    if (!d || d.hlc !== 1 || typeof d.type !== 'string') return;
    switch (d.type) {
      case 'ready':
      case 'label':
        if (typeof d.label === 'string') labels = { label: d.label, labelNew: String(d.labelNew || d.label) };
        setLabel();
        if (d.type === 'ready') {
          ready = true;
          active = Boolean(d.active);
          if (active) show(false); // a chat of this tab goes on after a reload
          else if (!open) launch.hidden = false;
        }
        break;
      case 'state':
        active = Boolean(d.active);
        break;
      case 'close':
        hide();
        break;
      case 'notify':
        if (!open) {
          dot.hidden = false;
          setLabel();
        }
        break;
      case 'exit':
        leave();
        break;
    }
  });

  // Escape twice on the host page, while the chat is open or running, is a quick exit too.
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !(open || active)) return;
    if (e.timeStamp - lastEscape <= ESC_WINDOW) {
      e.preventDefault();
      quickExit();
    } else {
      lastEscape = e.timeStamp;
    }
  }, true);

  (document.body || document.documentElement).append(host);
  window.HelplineChat = Object.freeze({ open: () => show(), close: hide, quickExit });
})();
