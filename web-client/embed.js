/*
 * Brug on a partner helpline's site, with one tag:
 *
 *   <script src="https://BRUG-HOST/embed.js" async></script>
 *
 * It adds a launcher button and, behind it, an iframe with the visitor page
 * from the same origin as this script (index.html?embed). Everything the
 * visitor sees and types stays inside that iframe, on brugd's origin: this
 * script never sees a message, stores nothing and loads nothing else.
 *
 * The partner site must allow it: brugd's config lists the partner's origin
 * in [server] frame_ancestors (and origins), and a partner page with its own
 * Content-Security-Policy allows this origin in script-src and frame-src.
 *
 * A classic script, not a module, so that the one tag above works anywhere;
 * styles are set through the CSSOM, which a page's style-src does not block.
 * Talks to the iframe with postMessage, both ways checked by origin and
 * source:
 *   frame -> page  {brug:1, type:'labels', open, title, lang, dir, neutral_url}
 *                  {brug:1, type:'minimize'}  {brug:1, type:'exit', url}
 *                  {brug:1, type:'screen', screen}
 *   page -> frame  {brug:1, type:'opened'}  {brug:1, type:'hidden'}
 *                  {brug:1, type:'exit'} (Shift three times on this page)
 */
(function () {
  'use strict';

  var script = document.currentScript;
  if (!script || !script.src) return;
  var origin;
  try {
    origin = new URL(script.src).origin;
  } catch (e) {
    return;
  }
  if (origin.indexOf('https://') !== 0) return;
  // Once per page, however often the tag appears.
  if (document.getElementById('brug-chat-frame')) return;

  var Z = '2147483000';
  var NARROW = '(max-width: 40rem), (max-height: 34rem)';
  var SHIFT_WINDOW_MS = 5000;
  var EXIT_FALLBACK_MS = 400;

  var launcher = document.createElement('button');
  var frame = document.createElement('iframe');
  var narrow = window.matchMedia ? window.matchMedia(NARROW) : null;
  var isOpen = false;
  var leaving = false;
  var labelled = false;
  var screen = 'start';
  var neutralUrl = 'about:blank';

  function css(node, props) {
    for (var k in props) {
      if (Object.prototype.hasOwnProperty.call(props, k)) node.style.setProperty(k, props[k], 'important');
    }
  }

  // Only an https address (from brugd's config) or a blank page.
  function safeUrl(url) {
    try {
      var u = new URL(String(url));
      if (u.protocol === 'https:') return u.href;
    } catch (e) { /* below */ }
    return 'about:blank';
  }

  function post(msg) {
    if (!frame.contentWindow) return;
    msg.brug = 1;
    try {
      frame.contentWindow.postMessage(msg, origin);
    } catch (e) { /* not loaded */ }
  }

  // ---- the launcher --------------------------------------------------------
  launcher.type = 'button';
  launcher.id = 'brug-chat-launcher';
  launcher.hidden = true;
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('aria-controls', 'brug-chat-frame');
  css(launcher, {
    position: 'fixed',
    'inset-block-end': '1rem',
    'inset-inline-end': '1rem',
    'z-index': Z,
    margin: '0',
    'min-block-size': '2.75rem',
    'min-inline-size': '2.75rem',
    padding: '0.6rem 1.25rem',
    border: '2px solid #ffffff',
    'border-radius': '1.5rem',
    background: '#1f5d8c',
    color: '#ffffff',
    font: '600 1rem/1.3 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Naskh Arabic", "Noto Sans Ethiopic", sans-serif',
    'letter-spacing': 'normal',
    'text-transform': 'none',
    'box-shadow': '0 2px 8px rgba(0, 0, 0, 0.35)',
    cursor: 'pointer',
    outline: 'none',
  });
  // The hidden attribute alone would lose against the important display.
  function showLauncher(on) {
    launcher.hidden = !on;
    css(launcher, { display: on ? 'inline-block' : 'none' });
  }
  showLauncher(false);
  function focusRing(on) {
    css(launcher, { outline: on ? '3px solid #c35a00' : 'none', 'outline-offset': '2px' });
  }
  launcher.addEventListener('focus', function () {
    focusRing(!launcher.matches || launcher.matches(':focus-visible'));
  });
  launcher.addEventListener('blur', function () { focusRing(false); });
  launcher.addEventListener('click', function () {
    if (isOpen) hide(); else open();
  });

  // ---- the iframe ----------------------------------------------------------
  frame.id = 'brug-chat-frame';
  frame.src = origin + '/?embed';
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.setAttribute('title', '');
  css(frame, {
    display: 'none',
    position: 'fixed',
    'z-index': Z,
    margin: '0',
    padding: '0',
    border: '1px solid #c9cbd0',
    background: '#f6f6f4',
    'color-scheme': 'light',
    'box-shadow': '0 4px 24px rgba(0, 0, 0, 0.3)',
    'max-inline-size': 'none',
    'max-block-size': 'none',
  });

  // Full screen on a narrow (or low) viewport, a panel above the launcher
  // otherwise.
  function layout() {
    var full = narrow ? narrow.matches : false;
    if (full) {
      css(frame, {
        top: '0', left: '0', right: 'auto', bottom: 'auto',
        width: '100%', height: '100%',
        'border-radius': '0', border: '0',
      });
    } else {
      css(frame, {
        top: 'auto', bottom: '5rem', left: 'auto', right: 'auto',
        'inset-inline-end': '1rem',
        width: 'min(26rem, calc(100vw - 2rem))',
        height: 'min(44rem, calc(100vh - 6.5rem))',
        'border-radius': '0.5rem', border: '1px solid #c9cbd0',
      });
    }
    // Over the full-screen frame the launcher would cover the chat; the
    // frame has its own button to hide it.
    showLauncher(labelled && !leaving && !(isOpen && full));
  }
  if (narrow) {
    if (narrow.addEventListener) narrow.addEventListener('change', layout);
    else if (narrow.addListener) narrow.addListener(layout);
  }

  function open() {
    if (leaving) return;
    isOpen = true;
    launcher.setAttribute('aria-expanded', 'true');
    css(frame, { display: 'block' });
    layout();
    frame.focus();
    post({ type: 'opened' });
  }

  function hide() {
    isOpen = false;
    launcher.setAttribute('aria-expanded', 'false');
    css(frame, { display: 'none' });
    layout();
    post({ type: 'hidden' });
    launcher.focus();
  }

  // The quick exit: nothing shows any more, and this page's history entry
  // becomes the neutral site, so Back does not come here.
  function leave(url) {
    if (leaving) return;
    leaving = true;
    css(frame, { display: 'none' });
    showLauncher(false);
    css(document.documentElement, { visibility: 'hidden' });
    document.title = '';
    window.location.replace(safeUrl(url || neutralUrl));
  }

  window.addEventListener('message', function (ev) {
    if (ev.origin !== origin || ev.source !== frame.contentWindow) return;
    var m = ev.data;
    if (!m || typeof m !== 'object' || m.brug !== 1 || typeof m.type !== 'string') return;
    switch (m.type) {
      case 'labels':
        if (typeof m.neutral_url === 'string') neutralUrl = safeUrl(m.neutral_url);
        if (typeof m.open === 'string' && m.open) {
          launcher.textContent = m.open;
          if (typeof m.lang === 'string') launcher.lang = m.lang;
          launcher.dir = m.dir === 'rtl' ? 'rtl' : 'ltr';
          frame.setAttribute('title', typeof m.title === 'string' && m.title ? m.title : m.open);
          labelled = true;
          layout();
        }
        break;
      case 'minimize':
        hide();
        break;
      case 'exit':
        leave(typeof m.url === 'string' ? m.url : neutralUrl);
        break;
      case 'screen':
        if (typeof m.screen === 'string') screen = m.screen;
        break;
      default:
        break;
    }
  });

  // Shift pressed on its own three times within 5 s on this page too, while
  // the chat is open or under way: the frame ends the chat and answers with
  // 'exit'; should it not, the page leaves anyway.
  var presses = [];
  var alone = false;
  window.addEventListener('keydown', function (ev) {
    if (ev.key === 'Shift') {
      if (!ev.repeat) alone = true;
      return;
    }
    alone = false;
    presses.length = 0;
  }, true);
  window.addEventListener('keyup', function (ev) {
    if (ev.key !== 'Shift' || !alone) return;
    alone = false;
    if (!isOpen && (screen === 'start' || screen === 'ended')) return;
    var now = ev.timeStamp || Date.now();
    presses.push(now);
    while (presses.length && now - presses[0] > SHIFT_WINDOW_MS) presses.shift();
    if (presses.length >= 3) {
      presses.length = 0;
      css(frame, { display: 'none' });
      post({ type: 'exit' });
      setTimeout(function () { leave(neutralUrl); }, EXIT_FALLBACK_MS);
    }
  }, true);

  function attach() {
    document.body.appendChild(frame);
    document.body.appendChild(launcher);
    layout();
  }
  if (document.body) attach();
  else document.addEventListener('DOMContentLoaded', attach);
})();
