// Brug visitor page: an anonymous chat over wss://HOST/ws/visitor
// (subprotocol brug-visitor.v1). Nothing about the visitor is kept in the
// browser: the resume token lives only in a variable of this module, never in
// storage or a cookie, and the quick exit leaves no history entry behind.

// Every text this page shows. A later change localizes these; keep them here.
const UI = {
  title: 'Chat',
  quickExit: 'Quick exit',
  chooseLanguage: 'Choose your language',
  anonymousHint: 'You do not need to give your name.',
  start: 'Start chat',
  messagesLabel: 'Messages',
  messageLabel: 'Message',
  send: 'Send',
  end: 'End chat',
  newChat: 'New chat',
  you: 'You',
  connecting: 'Connecting…',
  reconnecting: 'Connection lost. Reconnecting…',
  position: 'Your place in the queue: {position}',
  waitMinutes: 'Expected wait: about {minutes} min',
  nextOpen: 'Open again: {when}',
  joined: '{alias} joined',
  left: '{alias} left',
  chattingWith: 'You are chatting with {alias}',
  typing: '{alias} is typing…',
  typingAnon: 'Typing…',
  ended: 'The chat has ended.',
  replaced: 'This chat continues in another window.',
  resumeFailed: 'The earlier conversation could not be continued. You can start a new chat.',
  resumeLost: 'The earlier conversation could not be continued. You are waiting for a new chat.',
  connectFailed: 'No connection. Check your internet connection.',
};

const DEFAULT_NEUTRAL_URL = 'https://www.google.com/';
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 10000;
const MAX_BACKOFF_MS = 30000;

const $ = (id) => document.getElementById(id);
const el = {
  startView: $('start-view'),
  startForm: $('start-form'),
  chatView: $('chat-view'),
  status: $('status'),
  position: $('position'),
  messages: $('messages'),
  typing: $('typing'),
  composerForm: $('composer-form'),
  composer: $('composer'),
  send: $('send'),
  end: $('end'),
  newChat: $('new-chat'),
  quickExit: $('quick-exit'),
};

function fmt(template, vars) {
  return template.replace(/\{(\w+)\}/g, (all, key) => (key in vars ? String(vars[key]) : all));
}

// ---- connection state ------------------------------------------------------
let ws = null;             // the current socket, or null
let token = null;          // resume token from `welcome`; memory only
let lastSeq = 0;           // highest chat `seq` shown
let chosenLang = null;     // from the language choice
let phase = 'start';       // start | connecting | waiting | chatting | ended
let resuming = false;      // the hello on the current socket carried `resume`
let attempts = 0;          // reconnects since the last good connection
let reconnectTimer = null;
let nextId = 1;
const pending = new Map(); // id -> text of a msg not yet acknowledged
const staffHere = new Set(); // aliases of the staff in the chat
let typingSent = false;
let typingTimer = null;
let typingHideTimer = null;
let uiLang = document.documentElement.lang || 'en';

function send(obj) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(obj));
  return true;
}

function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  let sock;
  try {
    sock = new WebSocket(`wss://${location.host}/ws/visitor`, 'brug-visitor.v1');
  } catch {
    scheduleReconnect();
    return;
  }
  ws = sock;
  sock.addEventListener('open', () => {
    if (sock !== ws) return;
    attempts = 0;
    const hello = { type: 'hello' };
    // With the language too: a token the daemon no longer knows starts a new
    // chat, and that should be in the language the visitor chose.
    if (chosenLang) hello.lang = chosenLang;
    resuming = Boolean(token);
    if (token) {
      hello.resume = token;
      hello.last_seq = lastSeq;
    }
    send(hello);
  });
  sock.addEventListener('message', (ev) => {
    if (sock !== ws || typeof ev.data !== 'string') return;
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    if (m && typeof m.type === 'string') handle(m);
  });
  sock.addEventListener('close', (ev) => {
    if (sock !== ws) return;
    ws = null;
    onSocketClosed(ev.code);
  });
}

function onSocketClosed(code) {
  setComposerEnabled(false);
  stopTyping(false);
  if (phase === 'start' || phase === 'ended') return;
  if (code === 4003) {           // resumed elsewhere: that window has the chat
    token = null;
    finish(UI.replaced);
    return;
  }
  if (code === 4002) {           // grace period over
    resumeFailed();
    return;
  }
  setStatus(UI.reconnecting);
  scheduleReconnect();
}

function scheduleReconnect() {
  if (reconnectTimer) return;
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempts);
  attempts += 1;
  const delay = base / 2 + Math.random() * (base / 2);
  reconnectTimer = setTimeout(() => { reconnectTimer = null; connect(); }, delay);
}

// Come back at once when the device says the network is back.
window.addEventListener('online', () => {
  if (reconnectTimer) { clearTimeout(reconnectTimer); reconnectTimer = null; connect(); }
});

// ---- inbound ---------------------------------------------------------------
function handle(m) {
  switch (m.type) {
    case 'welcome': onWelcome(m); break;
    case 'queue': onQueue(m); break;
    case 'closed': onClosedNotice(m); break;
    case 'joined': onJoined(m); break;
    case 'left': onLeft(m); break;
    case 'msg': onMsg(m); break;
    case 'typing': onTyping(m); break;
    case 'ended': onEnded(m); break;
    case 'notice': if (typeof m.text === 'string') addNotice(m.text); break;
    case 'error': onError(m); break;
    default: break; // unknown types are ignored so the server can extend
  }
}

function onWelcome(m) {
  if (typeof m.session === 'string') token = m.session;
  if (resuming && m.resumed !== true) {
    // The daemon did not know the token any more and started afresh.
    lastSeq = 0;
    pending.clear();
    staffHere.clear();
    phase = 'waiting';
    setComposerEnabled(false);
    hideTyping();
    addNotice(UI.resumeLost);
  }
  resuming = false;
  if (typeof m.lang === 'string') {
    uiLang = m.lang;
    document.documentElement.lang = m.lang;
  }
  document.documentElement.dir = m.dir === 'rtl' ? 'rtl' : 'ltr';
  if (phase === 'connecting') phase = 'waiting';
  if (phase === 'chatting') setComposerEnabled(true);
  if (el.status.textContent === UI.reconnecting || el.status.textContent === UI.connecting) setStatus('');
}

function onQueue(m) {
  // Also after a chat: a staff member who dropped puts the visitor back here.
  phase = 'waiting';
  staffHere.clear();
  setComposerEnabled(false);
  setStatus(typeof m.text === 'string' ? m.text : '');
  const parts = [];
  if (Number.isInteger(m.position)) parts.push(fmt(UI.position, { position: formatNumber(m.position) }));
  if (Number.isFinite(m.wait_s) && !(typeof m.text === 'string' && m.text)) {
    parts.push(fmt(UI.waitMinutes, { minutes: formatNumber(Math.max(1, Math.round(m.wait_s / 60))) }));
  }
  showPosition(parts.join(' · '));
}

function onClosedNotice(m) {
  phase = 'waiting';
  setComposerEnabled(false);
  let text = typeof m.text === 'string' ? m.text : '';
  if (typeof m.next_open === 'string') {
    const when = new Date(m.next_open);
    if (!Number.isNaN(when.getTime())) {
      const f = new Intl.DateTimeFormat(uiLang, { weekday: 'long', hour: 'numeric', minute: '2-digit' });
      text += (text ? ' ' : '') + fmt(UI.nextOpen, { when: f.format(when) });
    }
  }
  setStatus(text);
  showPosition('');
}

function onJoined(m) {
  const alias = m.staff && typeof m.staff.alias === 'string' ? m.staff.alias : '';
  phase = 'chatting';
  showPosition('');
  // After a resume the daemon repeats `joined` for who is already here.
  const fresh = alias && !staffHere.has(alias);
  if (fresh) {
    staffHere.add(alias);
    addNotice(fmt(UI.joined, { alias }));
  }
  if (staffHere.size) setStatus(fmt(UI.chattingWith, { alias: [...staffHere].join(', ') }));
  setComposerEnabled(true);
  if (fresh) el.composer.focus();
}

function onLeft(m) {
  const alias = m.staff && typeof m.staff.alias === 'string' ? m.staff.alias : '';
  if (alias) {
    staffHere.delete(alias);
    addNotice(fmt(UI.left, { alias }));
    if (staffHere.size) setStatus(fmt(UI.chattingWith, { alias: [...staffHere].join(', ') }));
  }
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
  addMessage(mine ? UI.you : (m.alias || ''), m.text, mine, m.ts);
}

function onTyping(m) {
  if (m.on) {
    el.typing.textContent = m.alias ? fmt(UI.typing, { alias: m.alias }) : UI.typingAnon;
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
  if (resuming) {                 // the resume token was not accepted
    resumeFailed();
    return;
  }
  if (typeof m.id === 'string' && pending.has(m.id)) {
    // Give the visitor their words back instead of losing them.
    if (!el.composer.value) el.composer.value = pending.get(m.id);
    pending.delete(m.id);
  }
  if (message) addNotice(message, 'error');
}

// ---- phases ----------------------------------------------------------------
function start(lang) {
  chosenLang = lang;
  token = null;
  lastSeq = 0;
  attempts = 0;
  pending.clear();
  staffHere.clear();
  el.messages.replaceChildren();
  hideTyping();
  showPosition('');
  phase = 'connecting';
  el.startView.hidden = true;
  el.chatView.hidden = false;
  el.end.hidden = false;
  el.newChat.hidden = true;
  setComposerEnabled(false);
  setStatus(UI.connecting);
  connect();
}

// The chat is over (ended, or taken over elsewhere): forget the token and
// let the socket go.
function finish(statusText) {
  phase = 'ended';
  staffHere.clear();
  token = null;
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  stopTyping(false);
  hideTyping();
  setComposerEnabled(false);
  showPosition('');
  setStatus(statusText);
  el.end.hidden = true;
  el.newChat.hidden = false;
  const sock = ws;
  ws = null;
  if (sock) sock.close(1000);
}

function resumeFailed() {
  finish(UI.resumeFailed);
}

function backToStart() {
  phase = 'start';
  el.messages.replaceChildren();
  setStatus('');
  el.chatView.hidden = true;
  el.startView.hidden = false;
  const checked = el.startForm.querySelector('input[name="lang"]:checked');
  (checked || el.startForm.querySelector('input[name="lang"]')).focus();
}

function endChat() {
  if (!send({ type: 'end' })) {
    // Not connected: nothing left to tell the server; just stop.
    finish(UI.ended);
  }
}

function quickExit() {
  let url = DEFAULT_NEUTRAL_URL;
  const meta = document.querySelector('meta[name="brug-neutral-url"]');
  if (meta) {
    try {
      const u = new URL(meta.content, location.href);
      if (u.protocol === 'https:' || u.protocol === 'http:') url = u.href;
    } catch { /* keep the default */ }
  }
  phase = 'ended';
  token = null;
  clearTimeout(reconnectTimer);
  if (ws && ws.readyState === WebSocket.OPEN) {
    try {
      ws.send(JSON.stringify({ type: 'end', quick_exit: true }));
      ws.close(1000);
    } catch { /* leaving anyway */ }
  }
  ws = null;
  document.title = '';
  document.body.replaceChildren();
  location.replace(url);
}

// ---- composer --------------------------------------------------------------
function sendMessage() {
  const text = el.composer.value;
  if (!text.trim() || phase !== 'chatting') return;
  const id = `m${nextId++}`;
  if (!send({ type: 'msg', text, id })) return;
  pending.set(id, text);
  el.composer.value = '';
  stopTyping(true);
  el.composer.focus();
}

function onComposerInput() {
  if (phase !== 'chatting') return;
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
function setStatus(text) {
  el.status.textContent = text;
}

function showPosition(text) {
  el.position.textContent = text;
  el.position.hidden = !text;
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

function formatTime(ts) {
  if (!Number.isFinite(ts)) return '';
  try {
    return new Intl.DateTimeFormat(uiLang, { hour: 'numeric', minute: '2-digit' }).format(new Date(ts));
  } catch { return ''; }
}

function scrollToEnd() {
  el.messages.scrollTop = el.messages.scrollHeight;
}

function addMessage(who, text, mine, ts) {
  const li = document.createElement('li');
  li.className = mine ? 'msg msg-mine' : 'msg msg-theirs';
  const meta = document.createElement('span');
  meta.className = 'msg-meta';
  meta.dir = 'auto';
  const time = formatTime(ts);
  meta.textContent = time ? `${who} · ${time}` : who;
  const body = document.createElement('p');
  body.className = 'msg-text';
  body.dir = 'auto';
  body.textContent = text;
  li.append(meta, body);
  el.messages.append(li);
  scrollToEnd();
}

function addNotice(text, kind) {
  const li = document.createElement('li');
  li.className = kind === 'error' ? 'notice notice-error' : 'notice';
  li.dir = 'auto';
  li.textContent = text;
  el.messages.append(li);
  scrollToEnd();
}

function applyStrings() {
  document.title = UI.title;
  for (const node of document.querySelectorAll('[data-ui]')) {
    const text = UI[node.dataset.ui];
    if (typeof text === 'string') node.textContent = text;
  }
  for (const node of document.querySelectorAll('[data-ui-label]')) {
    const text = UI[node.dataset.uiLabel];
    if (typeof text === 'string') node.setAttribute('aria-label', text);
  }
}

// ---- wiring ----------------------------------------------------------------
applyStrings();

// Preselect the browser's language when it is one we offer.
{
  const offered = [...el.startForm.querySelectorAll('input[name="lang"]')];
  for (const pref of navigator.languages || []) {
    const base = pref.toLowerCase().split('-')[0];
    const hit = offered.find((input) => input.value === base);
    if (hit) { hit.checked = true; break; }
  }
}

el.startForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const checked = el.startForm.querySelector('input[name="lang"]:checked');
  start(checked ? checked.value : null);
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
el.end.addEventListener('click', endChat);
el.newChat.addEventListener('click', backToStart);
el.quickExit.addEventListener('click', quickExit);
