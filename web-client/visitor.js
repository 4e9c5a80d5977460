// Brug visitor page: an anonymous chat over wss://HOST/ws/visitor
// (subprotocol brug-visitor.v1), as a full page or inside the iframe that
// embed.js puts on a partner helpline's site (index.html?embed).
//
// Nothing about the visitor is kept in the browser: no cookie, no Web
// Storage, no IndexedDB, no Cache API, no service worker. The resume token
// lives only in a variable of this module. The quick exit (button, or Shift
// pressed on its own three times within 5 s) blanks the page, ends the chat
// on the server and replaces the top window's history entry with a neutral
// site, so Back does not lead to the chat.

import { fetchBundle, fetchConfig, firstBundle, browserLanguages, applyLabels, setDocumentLanguage, fmt } from './labels.js';
import { createSocket } from './socket.js';

// Every text this page shows comes from the daemon's bundle for the chosen
// language (labels.js); this page holds none of its own. `UI` is the bundle's
// `visitor` part, empty until the first bundle arrives.
let UI = {};
let bundle = null;
let config = null;         // the daemon's public settings (/api/config.json)

// Until the config has arrived (or if it never does): a blank page, which
// needs no network and names nothing.
const FALLBACK_NEUTRAL_URL = 'about:blank';
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 10000;
const SOCKET_URL = `wss://${location.host}/ws/visitor`;
const SOCKET_PROTOCOL = 'brug-visitor.v1';
const STATUS_POLL_MS = 15000;
const SHIFT_WINDOW_MS = 5000;
const SHIFT_PRESSES = 3;
const FRAME_EXIT_FALLBACK_MS = 1500;
const MISSED_WINDOW_MS = 2000;

// Inside an iframe (embed.js, or anyone's frame), and inside embed.js's
// frame in particular (it answers our messages and can hide us).
const framed = window.top !== window.self;
const embedded = framed && new URLSearchParams(location.search).has('embed');
const parentOrigin = (framed && location.ancestorOrigins && location.ancestorOrigins.length)
  ? location.ancestorOrigins[0] : '*';

const $ = (id) => document.getElementById(id);
const el = {
  startView: $('start-view'),
  startForm: $('start-form'),
  chatView: $('chat-view'),
  status: $('status'),
  queue: $('queue'),
  nextOpen: $('next-open'),
  alternatives: $('alternatives'),
  emergencyList: $('emergency-list'),
  emergencyTitle: $('emergency-title'),
  messages: $('messages'),
  typing: $('typing'),
  composerForm: $('composer-form'),
  composer: $('composer'),
  send: $('send'),
  end: $('end'),
  newChat: $('new-chat'),
  quickExit: $('quick-exit'),
  minimize: $('minimize'),
  langs: $('langs'),
  availability: $('availability'),
  topic: $('topic'),
  heading: $('chat-heading'),
  emergency: $('emergency'),
  endConfirm: $('end-confirm'),
  endYes: $('end-yes'),
  endNo: $('end-no'),
};

// ---- connection state ------------------------------------------------------
let token = null;          // resume token from `welcome`; memory only
let lastSeq = 0;           // highest chat `seq` shown
let chosenLang = null;     // from the language choice
let chosenTopic = null;    // from the topic choice, or null
// start | connecting | queue | closed | chat | ended; also the screen shown.
let phase = 'start';
let resuming = false;      // the hello on the current socket carried `resume`
let reconnecting = false;  // the socket dropped during a chat or the queue
let missedUntil = 0;       // messages before this time came with the resume
let missedShown = false;
let nextId = 1;
let exiting = false;       // the quick exit has begun: nothing more happens
let closedFrame = null;    // the last `closed` frame, for the closed screen
const pending = new Map(); // id -> text of a msg not yet acknowledged
const staffHere = new Set(); // aliases of the staff in the chat
let staffBefore = new Set(); // ... before a resume, not announced again
let typingSent = false;
let typingTimer = null;
let typingHideTimer = null;
let uiLang = 'en';         // language of the labels shown (set with the bundle)
let wantedLang = null;     // the language whose bundle was asked for last

// Availability per language (/api/status/LANG.json), polled on the start
// and closed screens while someone can see them.
let availability = null;   // {code: {open, next_open, next_open_text}} or null
let statusTimer = null;
let statusSeq = 0;
let panelOpen = !embedded; // embed.js shows us only after the launcher

// The socket (socket.js): each new one says hello, resuming the chat when
// there is a token. The device going offline lets it go at once, and a
// retry waiting its turn goes at once when the network is back or the page
// is seen again.
const link = createSocket({
  greeting: hello,
  onMessage: handle,
  onState(state, detail) {
    if (state === 'open') link.resetBackoff();
    else if (state === 'closed') onSocketClosed(detail.code);
  },
  dropWhenOffline: true,
  retryWhenVisible: true,
});

function send(obj) {
  return link.send(obj);
}

function hello() {
  const m = { type: 'hello' };
  // With the language too: a token the daemon no longer knows starts a new
  // chat, and that should be in the language the visitor chose.
  if (chosenLang) m.lang = chosenLang;
  if (chosenTopic) m.topic = chosenTopic;
  resuming = Boolean(token);
  if (token) {
    m.resume = token;
    m.last_seq = lastSeq;
  }
  return m;
}

function onSocketClosed(code) {
  // The visitor may go on writing (and keeps the focus); sending waits for
  // the connection.
  el.send.disabled = true;
  stopTyping(false);
  if (phase === 'start' || phase === 'ended' || exiting) return;
  if (code === 4003) {           // resumed elsewhere: that window has the chat
    token = null;
    finish(UI.replaced);
    return;
  }
  reconnecting = true;
  setStatus(UI.reconnecting);
  link.retry();
}

document.addEventListener('visibilitychange', () => {
  pollStatus();
});

// ---- inbound ---------------------------------------------------------------
function handle(m) {
  if (exiting) return;
  switch (m.type) {
    case 'welcome': onWelcome(m); break;
    case 'queue': onQueue(m); break;
    case 'closed': onClosed(m); break;
    case 'joined': onJoined(m); break;
    case 'left': onLeft(m); break;
    case 'msg': onMsg(m); break;
    case 'typing': onTyping(m); break;
    case 'ended': onEnded(m); break;
    case 'notice': if (typeof m.text === 'string' && m.text) addNotice(m.text); break;
    case 'error': onError(m); break;
    default: break; // unknown types are ignored so the server can extend
  }
}

function onWelcome(m) {
  if (typeof m.session === 'string') token = m.session;
  const wasReconnecting = reconnecting;
  reconnecting = false;
  if (resuming && m.resumed !== true) {
    // The daemon did not know the token any more and started afresh.
    lastSeq = 0;
    pending.clear();
    staffHere.clear();
    setComposerEnabled(false);
    hideTyping();
    addNotice(UI.resumeLost);
    showScreen('connecting');
  }
  const resumed = resuming && m.resumed === true;
  resuming = false;
  if (typeof m.lang === 'string' && m.lang !== uiLang) {
    // The daemon's texts come in this language; the labels should too.
    switchLanguage(m.lang);
  }
  document.documentElement.dir = m.dir === 'rtl' ? 'rtl' : 'ltr';
  if (resumed) {
    // The daemon now repeats who is in the chat (announced only if new)
    // and what the staff wrote meanwhile.
    staffBefore = new Set(staffHere);
    staffHere.clear();
    missedUntil = Date.now() + MISSED_WINDOW_MS;
    missedShown = false;
    if (phase === 'chat' && typeof UI.resumed === 'string') addNotice(UI.resumed);
  }
  if (phase === 'chat') setComposerEnabled(true);
  if (wasReconnecting) setStatus(UI.reconnected || '');
  else if (phase === 'connecting') setStatus('');
}

function onQueue(m) {
  // Also after a chat: a staff member who dropped puts the visitor back here.
  staffHere.clear();
  staffBefore.clear();
  setComposerEnabled(false);
  hideTyping();
  let text = typeof m.text === 'string' ? m.text : '';
  if (!text) {
    const parts = [];
    if (Number.isInteger(m.position)) parts.push(fmt(UI.position, { position: formatNumber(m.position) }));
    if (Number.isFinite(m.wait_s)) {
      parts.push(fmt(UI.waitMinutes, { minutes: formatNumber(Math.max(1, Math.round(m.wait_s / 60))) }));
    }
    text = parts.join(' · ') || UI.queueWaiting || '';
  }
  if (Number.isInteger(m.position)) el.queue.dataset.position = String(m.position);
  else delete el.queue.dataset.position;
  // Only a change is announced (the region is polite and atomic).
  if (el.queue.textContent !== text) el.queue.textContent = text;
  if (statusKind === 'chatting') setStatus('');
  showScreen('queue');
}

function onClosed(m) {
  closedFrame = m;
  setComposerEnabled(false);
  if (statusKind === 'chatting') setStatus('');
  // The daemon's text already names 112, Veilig Thuis and the helpline's
  // own alternatives, in the visitor's language: shown once, as it is. The
  // labels' list stands in only when the daemon said nothing.
  const text = typeof m.text === 'string' ? m.text.trim() : '';
  el.alternatives.textContent = text;
  el.alternatives.hidden = !text;
  el.emergencyList.hidden = Boolean(text);
  showScreen('closed');
}

function onJoined(m) {
  const alias = m.staff && typeof m.staff.alias === 'string' ? m.staff.alias : '';
  // After a resume the daemon repeats `joined` for who is already here.
  const fresh = alias && !staffHere.has(alias) && !staffBefore.has(alias);
  if (alias) staffHere.add(alias);
  if (fresh) addNotice(fmt(UI.joined, { alias }));
  showChattingWith();
  setComposerEnabled(true);
  const wasChat = phase === 'chat';
  showScreen('chat', { focus: false });
  if (!wasChat) el.composer.focus();
}

function onLeft(m) {
  const alias = m.staff && typeof m.staff.alias === 'string' ? m.staff.alias : '';
  if (alias) {
    staffHere.delete(alias);
    addNotice(fmt(UI.left, { alias }));
    showChattingWith();
  }
}

function showChattingWith() {
  if (staffHere.size && !reconnecting) setStatus(fmt(UI.chattingWith, { alias: [...staffHere].join(', ') }), 'chatting');
}

function onMsg(m) {
  if (typeof m.text !== 'string') return;
  if (Number.isInteger(m.seq)) {
    if (m.seq <= lastSeq) return;          // already shown (resume replay)
    lastSeq = m.seq;
  }
  if (typeof m.id === 'string') pending.delete(m.id);
  const mine = m.from === 'visitor';
  if (!mine) hideTyping();
  if (!mine && !missedShown && Date.now() < missedUntil && typeof UI.missedMessages === 'string') {
    missedShown = true;
    addNotice(UI.missedMessages);
  }
  addMessage(mine ? UI.you : (m.alias || UI.helper || ''), m.text, mine, m.ts);
}

function onTyping(m) {
  if (phase !== 'chat') return;
  if (m.on) {
    el.typing.textContent = typeof m.alias === 'string' && m.alias
      ? fmt(UI.typing, { alias: m.alias }) : (UI.typingIndicator || UI.typingAnon);
    el.typing.hidden = false;
    clearTimeout(typingHideTimer);
    typingHideTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
  } else {
    hideTyping();
  }
}

function onEnded(m) {
  const text = typeof m.text === 'string' && m.text ? m.text : UI.ended;
  addNotice(text);
  finish('');
}

function onError(m) {
  const message = typeof m.message === 'string' ? m.message : m.code || '';
  if (m.code === 'not_available') {
    // The daemon will not take a chat from this connection now: show its
    // (neutral) text with the emergency numbers, and do not keep retrying.
    addNotice(message, 'error');
    finish('');
    return;
  }
  if (typeof m.id === 'string' && pending.has(m.id)) {
    // Give the visitor their words back instead of losing them.
    if (!el.composer.value) el.composer.value = pending.get(m.id);
    pending.delete(m.id);
  }
  if (message) addNotice(message, 'error');
}

// ---- screens ---------------------------------------------------------------
const HEADINGS = { connecting: 'connecting', queue: 'queueTitle', closed: 'closedTitle', chat: 'chatTitle', ended: 'ended' };

// Show one screen. A new screen moves the focus to its heading (or where
// the caller puts it), so keyboard and screen reader users arrive there.
function showScreen(screen, { focus = true } = {}) {
  const changed = screen !== phase;
  phase = screen;
  document.body.dataset.screen = screen;
  const inChat = screen !== 'start';
  el.startView.hidden = inChat;
  el.chatView.hidden = !inChat;
  el.queue.hidden = screen !== 'queue' || !el.queue.textContent;
  el.emergency.hidden = screen !== 'closed';
  if (screen !== 'closed') el.nextOpen.hidden = true;
  else renderNextOpen();
  el.composerForm.hidden = screen !== 'chat';
  if (screen !== 'chat') hideTyping();
  el.messages.hidden = !(screen === 'chat' || screen === 'ended' || el.messages.childElementCount > 0);
  el.newChat.hidden = screen !== 'ended';
  if (screen === 'ended' || screen === 'start') hideEndConfirm();
  el.end.hidden = !el.endConfirm.hidden || screen === 'ended' || screen === 'start';
  setHeading(HEADINGS[screen] || '');
  if (screen === 'start' || screen === 'closed') pollStatus();
  else stopStatusPoll();
  if (changed && focus && inChat) {
    if (!el.heading.hidden) el.heading.focus();
    else if (screen === 'ended') el.newChat.focus();
  }
  tellParent({ type: 'screen', screen });
}

function start(lang, topic) {
  chosenLang = lang;
  chosenTopic = topic || null;
  token = null;
  lastSeq = 0;
  link.resetBackoff();
  reconnecting = false;
  closedFrame = null;
  pending.clear();
  staffHere.clear();
  staffBefore.clear();
  el.messages.replaceChildren();
  el.queue.textContent = '';
  hideTyping();
  hideEndConfirm();
  el.composer.value = '';
  setComposerEnabled(false);
  setStatus('');
  showScreen('connecting');
  link.open(SOCKET_URL, SOCKET_PROTOCOL);
}

// The chat is over (ended, or taken over elsewhere): forget the token and
// let the socket go.
function finish(statusText) {
  staffHere.clear();
  token = null;
  reconnecting = false;
  stopTyping(false);
  hideTyping();
  setComposerEnabled(false);
  pending.clear();
  setStatus(statusText);
  showScreen('ended');
  link.close(1000);
}

function backToStart() {
  el.messages.replaceChildren();
  el.queue.textContent = '';
  el.composer.value = '';
  setStatus('');
  showScreen('start');
  const checked = el.startForm.querySelector('input[name="lang"]:checked');
  const first = checked || el.startForm.querySelector('input[name="lang"]');
  if (first) first.focus();
}

// The end button asks first; a chat ended by mistake cannot be taken back.
function askEnd() {
  el.endConfirm.hidden = false;
  el.end.hidden = true;
  el.endNo.focus();
}

function hideEndConfirm() {
  el.endConfirm.hidden = true;
  if (phase !== 'ended' && phase !== 'start') el.end.hidden = false;
}

function endChat() {
  hideEndConfirm();
  if (!send({ type: 'end' })) {
    // Not connected: nothing left to tell the server; just stop.
    finish('');
  }
}

// ---- quick exit --------------------------------------------------------------
function neutralUrl() {
  if (config && typeof config.neutral_url === 'string') {
    try {
      const u = new URL(config.neutral_url);
      if (u.protocol === 'https:') return u.href;
    } catch { /* the fallback below */ }
  }
  return FALLBACK_NEUTRAL_URL;
}

// Empty the page: nothing of the chat stays on screen or in the DOM.
function blank() {
  document.title = '';
  for (const node of [el.messages, el.queue, el.alternatives, el.typing, el.status]) node.replaceChildren();
  el.composer.value = '';
  document.body.replaceChildren();
  document.documentElement.classList.add('blank');
}

function quickExit() {
  if (exiting) return;
  exiting = true;
  const url = neutralUrl();
  const sessionLive = phase !== 'start' && phase !== 'ended';
  blank();
  clearTimeout(statusTimer);
  stopTyping(false);
  pending.clear();
  staffHere.clear();
  if (sessionLive) {
    // End the chat (or the wait) on the server before navigating, so the
    // staff see that the visitor had to leave.
    if (link.isOpen()) {
      try { link.send({ type: 'end', quick_exit: true }); } catch { /* leaving anyway */ }
    } else if (token) {
      endElsewhere(token, lastSeq);
    }
  }
  token = null;
  // No retry, and a socket still connecting goes; an open one stays until
  // the page goes: closing it now could overtake the `end` frame.
  link.halt();
  // In embed.js's frame the embedding page hides us and leaves: it can
  // always navigate its own window, even without a user activation here
  // (Shift alone gives none).
  if (embedded) {
    tellParent({ type: 'exit', url });
    // Should embed.js not have left within a moment, the frame tries itself.
    setTimeout(() => leaveFrame(url), FRAME_EXIT_FALLBACK_MS);
  } else if (framed) {
    leaveFrame(url);
  } else {
    location.replace(url);
  }
}

// From a frame: the top window goes (a cross-origin frame may do that with
// the user activation of the click or key press), and if it may not, at
// least the frame leaves the chat behind.
function leaveFrame(url) {
  try { window.top.location.replace(url); } catch { /* not allowed */ }
  setTimeout(() => location.replace(url), FRAME_EXIT_FALLBACK_MS);
}

// The socket was down: take the session back on a new one, only to end it.
function endElsewhere(resumeToken, seq) {
  try {
    const sock = new WebSocket(SOCKET_URL, SOCKET_PROTOCOL);
    sock.addEventListener('open', () => {
      sock.send(JSON.stringify({ type: 'hello', resume: resumeToken, last_seq: seq }));
      sock.send(JSON.stringify({ type: 'end', quick_exit: true }));
    });
  } catch { /* the grace period ends it */ }
}

// Shift pressed on its own three times within 5 s. A Shift used for a
// capital letter does not count, and any other key starts the count anew,
// so typing never sets it off.
const shiftPresses = [];
let shiftAlone = false;
window.addEventListener('keydown', (ev) => {
  if (ev.key === 'Shift') {
    if (!ev.repeat) shiftAlone = true;
    return;
  }
  shiftAlone = false;
  shiftPresses.length = 0;
}, true);
window.addEventListener('keyup', (ev) => {
  if (ev.key !== 'Shift' || !shiftAlone) return;
  shiftAlone = false;
  const now = ev.timeStamp || performance.now();
  shiftPresses.push(now);
  while (shiftPresses.length && now - shiftPresses[0] > SHIFT_WINDOW_MS) shiftPresses.shift();
  if (shiftPresses.length >= SHIFT_PRESSES) {
    shiftPresses.length = 0;
    quickExit();
  }
}, true);

// Leaving the page by any way: nothing of the chat stays in the DOM for a
// back-forward cache to show again; and if a browser restores the page
// anyway, it shows nothing and starts afresh.
window.addEventListener('pagehide', () => {
  if (phase !== 'start') blank();
});
window.addEventListener('pageshow', (ev) => {
  if (!ev.persisted) return;
  blank();
  if (!exiting) location.reload();
});

// ---- the embedding page (embed.js) -------------------------------------------
function tellParent(msg) {
  if (!embedded) return;
  try { window.parent.postMessage({ brug: 1, ...msg }, parentOrigin); } catch { /* gone */ }
}

function tellParentLabels() {
  if (!bundle) return;
  tellParent({
    type: 'labels',
    lang: bundle.lang,
    dir: bundle.dir,
    open: UI.launcher || UI.title || '',
    title: UI.title || '',
    neutral_url: neutralUrl(),
  });
}

if (embedded) {
  window.addEventListener('message', (ev) => {
    if (ev.source !== window.parent || !ev.data || ev.data.brug !== 1) return;
    if (parentOrigin !== '*' && ev.origin !== parentOrigin) return;
    switch (ev.data.type) {
      case 'opened':
        panelOpen = true;
        pollStatus();
        focusScreen();
        break;
      case 'hidden':
        panelOpen = false;
        stopStatusPoll();
        break;
      case 'exit':    // Shift three times on the embedding page
        quickExit();
        break;
      default: break;
    }
  });
  el.minimize.hidden = false;
  el.minimize.addEventListener('click', () => tellParent({ type: 'minimize' }));
}

// Where the focus goes when the panel is shown.
function focusScreen() {
  if (phase === 'start') {
    const checked = el.startForm.querySelector('input[name="lang"]:checked');
    (checked || el.startForm.querySelector('input[name="lang"]') || el.quickExit).focus();
  } else if (phase === 'chat' && !el.composer.disabled) {
    el.composer.focus();
  } else if (!el.heading.hidden) {
    el.heading.focus();
  } else {
    el.quickExit.focus();
  }
}

// ---- availability --------------------------------------------------------------
function statusWanted() {
  return !exiting && panelOpen && document.visibilityState === 'visible'
    && (phase === 'start' || phase === 'closed');
}

function stopStatusPoll() {
  clearTimeout(statusTimer);
  statusTimer = null;
}

// Ask now, then every STATUS_POLL_MS while the start or closed screen shows.
async function pollStatus() {
  stopStatusPoll();
  if (!statusWanted() || !bundle) return;
  const lang = uiLang;
  const seq = ++statusSeq;
  let doc = null;
  try {
    const resp = await fetch(`/api/status/${encodeURIComponent(lang)}.json`, {
      cache: 'no-store',
      credentials: 'omit',
      headers: { Accept: 'application/json' },
    });
    if (resp.ok) doc = await resp.json();
  } catch { /* offline: say nothing rather than something stale */ }
  if (seq !== statusSeq) return;   // a newer request is under way
  availability = doc && typeof doc === 'object' && doc.languages && typeof doc.languages === 'object'
    ? doc.languages : null;
  renderAvailability();
  if (phase === 'closed') renderNextOpen();
  stopStatusPoll();
  if (statusWanted()) statusTimer = setTimeout(pollStatus, STATUS_POLL_MS);
}

function langName(code) {
  const names = bundle && bundle.langName;
  if (names && typeof names[code] === 'string') return names[code];
  return (bundle && typeof bundle.languages[code] === 'string') ? bundle.languages[code] : code;
}

// "Open again: Tuesday 19:00": the daemon's own words when it has them,
// else the browser's, when it knows the language.
function whenText(info) {
  if (!info) return '';
  if (typeof info.next_open_text === 'string' && info.next_open_text) return info.next_open_text;
  if (typeof info.next_open === 'string') {
    const when = new Date(info.next_open);
    const f = dateFormat({ weekday: 'long', hour: 'numeric', minute: '2-digit' });
    if (!Number.isNaN(when.getTime()) && f) return f.format(when);
  }
  return '';
}

function selectedLang() {
  const checked = el.langs.querySelector('input[name="lang"]:checked');
  return checked ? checked.value : uiLang;
}

function renderAvailability() {
  const code = selectedLang();
  const info = availability && availability[code];
  let text = '';
  if (info && typeof info === 'object' && typeof info.open === 'boolean') {
    const language = langName(code);
    if (info.open) {
      text = fmt(UI.availableNow, { language });
    } else {
      text = fmt(UI.availableNone, { language });
      const when = whenText(info);
      if (when) text += ` ${fmt(UI.nextOpen, { when })}`;
    }
    el.availability.dataset.open = String(info.open);
  } else {
    delete el.availability.dataset.open;
  }
  if (el.availability.textContent !== text) el.availability.textContent = text;
  el.availability.hidden = !text;
}

function renderNextOpen() {
  const when = whenText(availability && chosenLang && availability[chosenLang])
    || whenText(closedFrame && { next_open: closedFrame.next_open, next_open_text: closedFrame.next_open_text });
  el.nextOpen.textContent = when ? fmt(UI.nextOpen, { when }) : '';
  el.nextOpen.hidden = phase !== 'closed' || !when;
}

// ---- composer --------------------------------------------------------------
function sendMessage() {
  const text = el.composer.value;
  if (!text.trim() || phase !== 'chat' || el.send.disabled) return;
  const id = `m${nextId++}`;
  if (!send({ type: 'msg', text, id })) return;
  pending.set(id, text);
  el.composer.value = '';
  stopTyping(true);
  el.composer.focus();
}

function onComposerInput() {
  if (phase !== 'chat') return;
  if (!el.composer.value) { stopTyping(true); return; }
  if (!typingSent) typingSent = send({ type: 'typing', on: true });
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => stopTyping(true), TYPING_IDLE_MS);
}

function stopTyping(tell) {
  clearTimeout(typingTimer);
  typingTimer = null;
  if (typingSent && tell) send({ type: 'typing', on: false });
  typingSent = false;
}

// ---- rendering -------------------------------------------------------------
// kind: 'chatting' for "You are chatting with …", which a queue or closed
// screen replaces; other texts stay until the next one.
let statusKind = '';
function setStatus(text, kind = '') {
  statusKind = text ? kind : '';
  if (el.status.textContent !== (text || '')) el.status.textContent = text || '';
}

function hideTyping() {
  clearTimeout(typingHideTimer);
  el.typing.hidden = true;
  el.typing.textContent = '';
}

function setComposerEnabled(on) {
  el.composer.disabled = !on;
  el.send.disabled = !on;
}

function formatNumber(n) {
  try { return new Intl.NumberFormat(uiLang).format(n); } catch { return String(n); }
}

// A date format in the labels' language, or null when this browser has no
// data for it (it would fall back to another language's month and day names).
function dateFormat(options) {
  try {
    if (!Intl.DateTimeFormat.supportedLocalesOf([uiLang]).length) return null;
    return new Intl.DateTimeFormat(uiLang, options);
  } catch { return null; }
}

// Hours and minutes only: without data for the language, a 24-hour clock
// in digits says the same in every language.
function formatTime(ts) {
  if (!Number.isFinite(ts)) return '';
  const opts = { hour: '2-digit', minute: '2-digit' };
  const f = dateFormat(opts) || new Intl.DateTimeFormat('en-GB', { ...opts, hourCycle: 'h23' });
  try { return f.format(new Date(ts)); } catch { return ''; }
}

function scrollToEnd() {
  el.messages.scrollTop = el.messages.scrollHeight;
}

// A message: always text (textContent), never markup, in elements with
// dir="auto" so each line takes the direction of its first strong letter and
// is isolated from its neighbours: an Arabic line with Dutch words in it
// reads right, in a Dutch page as in an Arabic one.
function addMessage(who, text, mine, ts) {
  const li = document.createElement('li');
  li.className = mine ? 'msg msg-mine' : 'msg msg-theirs';
  const meta = document.createElement('span');
  meta.className = 'msg-meta';
  const name = document.createElement('bdi');
  name.textContent = who;
  meta.append(name);
  const time = formatTime(ts);
  if (time) meta.append(` · ${time}`);
  const body = document.createElement('p');
  body.className = 'msg-text';
  body.dir = 'auto';
  body.textContent = text;
  li.append(meta, body);
  el.messages.append(li);
  el.messages.hidden = false;
  scrollToEnd();
}

function addNotice(text, kind) {
  if (!text) return;
  const li = document.createElement('li');
  li.className = kind === 'error' ? 'notice notice-error' : 'notice';
  // System texts are in the page's language: its direction, not guessed
  // from the first letter (an Arabic sentence may start with a name).
  li.textContent = text;
  el.messages.append(li);
  el.messages.hidden = false;
  scrollToEnd();
}

function setHeading(key) {
  if (key) el.heading.dataset.i18n = key; else delete el.heading.dataset.i18n;
  el.heading.textContent = key && typeof UI[key] === 'string' ? UI[key] : '';
  // Not twice the same words under each other (the page title says it).
  el.heading.hidden = !el.heading.textContent || el.heading.textContent === UI.title;
}

// ---- labels and the start screen -------------------------------------------
// Show a bundle: every data-i18n label, the language and topic choices, the
// title, and <html lang dir> so an Arabic page mirrors at once.
function useBundle(b) {
  if (exiting) return;
  bundle = b;
  UI = b.visitor;
  uiLang = b.lang;
  renderLanguages();
  renderTopics();
  applyLabels(document.body, UI);
  setHeading(el.heading.dataset.i18n || '');
  // Labels the bundles may not have yet are set here, not by data-i18n,
  // so that a missing one leaves the element as it was.
  if (typeof UI.quickExitLabel === 'string' && UI.quickExitLabel !== UI.quickExit) el.quickExit.title = UI.quickExitLabel;
  else el.quickExit.removeAttribute('title');
  if (typeof UI.closedAlternatives === 'string') el.emergencyTitle.textContent = UI.closedAlternatives;
  const minimize = typeof UI.minimize === 'string' ? UI.minimize : (b.staff && b.staff.close) || '';
  el.minimize.textContent = minimize;
  document.title = typeof UI.title === 'string' ? UI.title : '';
  setDocumentLanguage(b);
  renderAvailability();
  if (phase === 'closed') renderNextOpen();
  // Marks the page as labelled (and in which language) for tests.
  document.body.dataset.labels = b.lang;
  tellParentLabels();
}

async function switchLanguage(lang) {
  wantedLang = lang;
  let b = null;
  try { b = await fetchBundle(lang); } catch { /* offline: keep the labels shown */ }
  if (b && wantedLang === lang) {
    useBundle(b);
    pollStatus();
  }
}

// Codes of a bundle's part (languages, topics) in the order the config
// lists them, else the bundle's.
function ordered(part, configured) {
  const have = (k) => typeof part[k] === 'string';
  return Array.isArray(configured) ? configured.filter(have) : Object.keys(part).filter(have);
}

// One radio button per language, each shown by its own name in its own
// script (the `languages` of the bundle). The buttons are kept when only
// their names change, so a keyboard user choosing with the arrow keys keeps
// the focus.
function renderLanguages() {
  const codes = ordered(bundle.languages, config && config.languages);
  const current = el.langs.querySelector('input[name="lang"]:checked')?.value || uiLang;
  const existing = [...el.langs.querySelectorAll('.lang-choice input')].map((i) => i.value);
  if (existing.join() === codes.join()) {
    for (const label of el.langs.querySelectorAll('.lang-choice')) {
      label.querySelector('span').textContent = bundle.languages[label.lang];
    }
    return;
  }
  const focused = document.activeElement && document.activeElement.name === 'lang'
    ? document.activeElement.value : null;
  for (const old of el.langs.querySelectorAll('.lang-choice')) old.remove();
  for (const code of codes) {
    const label = document.createElement('label');
    label.className = 'lang-choice';
    label.lang = code;
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'lang';
    input.value = code;
    input.dataset.testid = `lang-${code}`;
    input.checked = code === current;
    const name = document.createElement('span');
    name.dir = 'auto';
    name.textContent = bundle.languages[code];
    label.append(input, name);
    el.langs.append(label);
    if (code === focused) input.focus();
  }
}

function renderTopics() {
  const current = el.topic.value;
  const ids = ordered(bundle.topics, config && config.topics);
  const existing = [...el.topic.options].slice(1).map((o) => o.value);
  if (existing.join() !== ids.join()) {
    for (const old of [...el.topic.options].slice(1)) old.remove();
    for (const id of ids) {
      const opt = document.createElement('option');
      opt.value = id;
      el.topic.append(opt);
    }
  }
  for (const opt of [...el.topic.options].slice(1)) opt.textContent = bundle.topics[opt.value];
  el.topic.value = current && bundle.topics[current] ? current : '';
}

// ---- wiring ----------------------------------------------------------------
el.langs.addEventListener('change', (ev) => {
  if (ev.target.name !== 'lang' || phase !== 'start') return;
  renderAvailability();
  switchLanguage(ev.target.value);
});

el.startForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (!bundle || phase !== 'start') return;
  start(selectedLang(), el.topic.value);
});

el.composerForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  sendMessage();
});

el.composer.addEventListener('keydown', (ev) => {
  // Enter sends, Shift+Enter makes a new line; never interrupt an input method.
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
    ev.preventDefault();
    sendMessage();
  }
});

el.composer.addEventListener('input', onComposerInput);
el.end.addEventListener('click', askEnd);
el.endYes.addEventListener('click', endChat);
el.endNo.addEventListener('click', () => { hideEndConfirm(); el.end.focus(); });
el.endConfirm.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') { hideEndConfirm(); el.end.focus(); }
});
el.newChat.addEventListener('click', backToStart);
el.quickExit.addEventListener('click', quickExit);

// The first bundle: the browser's most preferred language the daemon has.
{
  const wanted = browserLanguages();
  wantedLang = wanted[0] || null;
  firstBundle(wanted).then(async (b) => {
    config = await fetchConfig();
    // The visitor may have picked another language meanwhile.
    if (!bundle) useBundle(b);
    else tellParentLabels();
    pollStatus();
  });
}
