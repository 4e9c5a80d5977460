// Brug visitor page: an anonymous chat over wss://HOST/ws/visitor
// (subprotocol brug-visitor.v1). Nothing about the visitor is kept in the
// browser: the resume token lives only in a variable of this module, never in
// storage or a cookie, and the quick exit leaves no history entry behind.

import { fetchBundle, fetchConfig, firstBundle, browserLanguages, applyLabels, setDocumentLanguage, fmt } from './labels.js';

// Every text this page shows comes from the daemon's bundle for the chosen
// language (labels.js); this page holds none of its own. `UI` is the bundle's
// `visitor` part, empty until the first bundle arrives.
let UI = {};
let bundle = null;
let config = null;         // the daemon's public settings (/api/config.json)

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
  langs: $('langs'),
  topic: $('topic'),
  heading: $('chat-heading'),
  emergency: $('emergency'),
  endConfirm: $('end-confirm'),
  endYes: $('end-yes'),
  endNo: $('end-no'),
};

// ---- connection state ------------------------------------------------------
let ws = null;             // the current socket, or null
let token = null;          // resume token from `welcome`; memory only
let lastSeq = 0;           // highest chat `seq` shown
let chosenLang = null;     // from the language choice
let chosenTopic = null;    // from the topic choice, or null
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
let uiLang = 'en';         // language of the labels shown (set with the bundle)
let wantedLang = null;     // the language whose bundle was asked for last

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
    if (chosenTopic) hello.topic = chosenTopic;
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
  const wasReconnecting = el.status.textContent === UI.reconnecting;
  resuming = false;
  if (typeof m.lang === 'string') {
    document.documentElement.lang = m.lang;
    // The daemon's texts come in this language; the labels should too.
    if (m.lang !== uiLang) switchLanguage(m.lang);
  }
  document.documentElement.dir = m.dir === 'rtl' ? 'rtl' : 'ltr';
  if (phase === 'connecting') {
    phase = 'waiting';
    setHeading(m.open === false ? 'closedTitle' : 'queueTitle');
  }
  if (phase === 'chatting') setComposerEnabled(true);
  if (wasReconnecting) setStatus(UI.reconnected || '');
  else if (el.status.textContent === UI.connecting) setStatus('');
}

function onQueue(m) {
  // Also after a chat: a staff member who dropped puts the visitor back here.
  phase = 'waiting';
  staffHere.clear();
  setComposerEnabled(false);
  setHeading('queueTitle');
  el.emergency.hidden = true;
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
  setHeading('closedTitle');
  // The daemon's text already names the next opening, formatted by ICU in
  // the visitor's language; say it here only when the daemon did not.
  let text = typeof m.text === 'string' ? m.text : '';
  if (!text && typeof m.next_open === 'string') {
    const when = new Date(m.next_open);
    const f = dateFormat({ weekday: 'long', hour: 'numeric', minute: '2-digit' });
    if (!Number.isNaN(when.getTime()) && f) text = fmt(UI.nextOpen, { when: f.format(when) });
  }
  setStatus(text);
  showPosition('');
  el.emergency.hidden = false;
}

function onJoined(m) {
  const alias = m.staff && typeof m.staff.alias === 'string' ? m.staff.alias : '';
  phase = 'chatting';
  setHeading('chatTitle');
  el.emergency.hidden = true;
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
  addMessage(mine ? UI.you : (m.alias || UI.helper || ''), m.text, mine, m.ts);
}

function onTyping(m) {
  if (m.on) {
    el.typing.textContent = m.alias ? fmt(UI.typing, { alias: m.alias }) : UI.typingIndicator || UI.typingAnon;
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
function start(lang, topic) {
  chosenLang = lang;
  chosenTopic = topic || null;
  token = null;
  lastSeq = 0;
  attempts = 0;
  pending.clear();
  staffHere.clear();
  el.messages.replaceChildren();
  hideTyping();
  showPosition('');
  hideEndConfirm();
  el.emergency.hidden = true;
  setHeading('');
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
  hideEndConfirm();
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
    finish(UI.ended);
  }
}

function quickExit() {
  let url = DEFAULT_NEUTRAL_URL;
  if (config && typeof config.neutral_url === 'string') {
    try {
      const u = new URL(config.neutral_url, location.href);
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
  // System texts are in the page's language: its direction, not guessed
  // from the first letter (an Arabic sentence may start with a name).
  li.textContent = text;
  el.messages.append(li);
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
  bundle = b;
  UI = b.visitor;
  uiLang = b.lang;
  renderLanguages();
  renderTopics();
  applyLabels(document.body, UI);
  setHeading(el.heading.dataset.i18n || '');
  document.title = typeof UI.title === 'string' ? UI.title : '';
  if (phase === 'start' || phase === 'ended') setDocumentLanguage(b);
  // Marks the page as labelled (and in which language) for tests.
  document.body.dataset.labels = b.lang;
}

async function switchLanguage(lang) {
  wantedLang = lang;
  let b = null;
  try { b = await fetchBundle(lang); } catch { /* offline: keep the labels shown */ }
  if (b && wantedLang === lang) useBundle(b);
}

// Codes of a bundle's part (languages, topics) in the order the config
// lists them, else the bundle's.
function ordered(part, configured) {
  const have = (k) => typeof part[k] === 'string';
  return Array.isArray(configured) ? configured.filter(have) : Object.keys(part).filter(have);
}

// One radio button per language, each shown by its own name in its own
// script (the `languages` of the bundle).
function renderLanguages() {
  const current = el.langs.querySelector('input[name="lang"]:checked')?.value || uiLang;
  for (const old of el.langs.querySelectorAll('.lang-choice')) old.remove();
  for (const code of ordered(bundle.languages, config && config.languages)) {
    const autonym = bundle.languages[code];
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
    name.textContent = autonym;
    label.append(input, name);
    el.langs.append(label);
  }
}

function renderTopics() {
  const current = el.topic.value;
  for (const old of [...el.topic.options].slice(1)) old.remove();
  for (const id of ordered(bundle.topics, config && config.topics)) {
    const opt = document.createElement('option');
    opt.value = id;
    opt.textContent = bundle.topics[id];
    el.topic.append(opt);
  }
  el.topic.value = current && bundle.topics[current] ? current : '';
}

// ---- wiring ----------------------------------------------------------------
el.langs.addEventListener('change', (ev) => {
  if (ev.target.name === 'lang' && phase === 'start') switchLanguage(ev.target.value);
});

el.startForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (!bundle) return;
  const checked = el.startForm.querySelector('input[name="lang"]:checked');
  start(checked ? checked.value : uiLang, el.topic.value);
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
  });
}
