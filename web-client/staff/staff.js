// Brug staff console: log in over wss://HOST/ws/staff (subprotocol
// brug-staff.v1), take offered chats, answer several side by side, invite or
// transfer to a colleague, end with tags. Only the staff session token is
// kept (sessionStorage, so a reload resumes the session; logging out clears
// it), and the console's language once someone picks one (sessionStorage).

import { fetchBundle, firstBundle, browserLanguages, applyLabels, setDocumentLanguage, lookup, fmt } from '../labels.js';

// Every text this page shows comes from the daemon's bundle for the
// console's language (labels.js); this page holds none of its own. `UI` is
// the bundle's `staff` part, empty until the first bundle arrives.
let UI = {};
let bundle = null;

// A label, with {name} placeholders filled; '' when the bundle lacks it
// (never another language's words).
function t(key, vars) {
  const v = lookup(UI, key);
  return typeof v === 'string' ? fmt(v, vars) : '';
}

// Protocol role names, in the order the colleague chooser offers them.
const ROLE_ORDER = ['professional', 'keyperson', 'volunteer', 'coordinator'];
const TOKEN_KEY = 'brug.staff.token';
const LANG_KEY = 'brug.staff.lang';  // only once someone picks a language
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 10000;
const MAX_BACKOFF_MS = 30000;

const $ = (id) => document.getElementById(id);
const el = {
  tools: $('tools'),
  uiLang: $('ui-lang'),
  whoami: $('whoami'),
  available: $('available'),
  logout: $('logout'),
  status: $('status'),
  loginForm: $('login-form'),
  loginUser: $('login-user'),
  loginPassword: $('login-password'),
  loginTotp: $('login-totp'),
  loginError: $('login-error'),
  loginSubmit: $('login-submit'),
  console: $('console'),
  noOffers: $('no-offers'),
  offers: $('offers'),
  chats: $('chats'),
};

// sessionStorage may be unavailable (privacy settings); then the token just
// lives for this page.
const store = {
  get(key = TOKEN_KEY) { try { return sessionStorage.getItem(key); } catch { return null; } },
  set(v, key = TOKEN_KEY) { try { sessionStorage.setItem(key, v); } catch { /* memory only */ } },
  clear() { try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* nothing stored */ } },
};

// ---- state -----------------------------------------------------------------
let ws = null;
let token = store.get();
let me = null;              // `user` from `session`
let loggedIn = false;       // a `session` arrived on the current socket
let credentials = null;     // {user, password, totp} for the next socket only
let wantOpen = false;
let attempts = 0;
let reconnectTimer = null;
let nextId = 1;
const requests = new Map(); // id -> {chat, kind, text}
const offers = new Map();   // offer id -> {li, deadline, info}
const chats = new Map();    // chat id -> chat view state

function send(obj) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return null;
  const id = `c${nextId++}`;
  ws.send(JSON.stringify({ ...obj, id }));
  return id;
}

function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  wantOpen = true;
  loggedIn = false;
  setStatus(() => t(attempts ? 'reconnecting' : 'connecting'));
  let sock;
  try {
    sock = new WebSocket(`wss://${location.host}/ws/staff`, 'brug-staff.v1');
  } catch {
    scheduleReconnect();
    return;
  }
  ws = sock;
  sock.addEventListener('open', () => {
    if (sock !== ws) return;
    let login;
    if (credentials) {
      login = { type: 'login', user: credentials.user, password: credentials.password };
      if (credentials.totp) login.totp = credentials.totp;
      credentials = null;
    } else if (token) {
      login = { type: 'login', token };
    } else {
      sock.close(1000);
      return;
    }
    sock.send(JSON.stringify(login));
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
  const wasLoggedIn = loggedIn;
  loggedIn = false;
  setChatsConnected(false);
  if (!wantOpen) return;
  if (code === 4001 || code === 4002) {
    // Credentials or token refused, or the session is over.
    const hadToken = Boolean(token);
    forgetSession();
    showLogin(wasLoggedIn || (hadToken && code === 4002) ? t('sessionExpired') : null);
    return;
  }
  if (code === 4003) {
    wantOpen = false;
    setStatus(() => t('replaced'));
    return;
  }
  if (!token) {                // never got in: back to the form
    wantOpen = false;
    showLogin(null);
    return;
  }
  setStatus(() => t('reconnecting'));
  scheduleReconnect();
}

function scheduleReconnect() {
  if (reconnectTimer) return;
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempts);
  attempts += 1;
  reconnectTimer = setTimeout(() => { reconnectTimer = null; connect(); }, base / 2 + Math.random() * (base / 2));
}

window.addEventListener('online', () => {
  if (reconnectTimer) { clearTimeout(reconnectTimer); reconnectTimer = null; connect(); }
});

function forgetSession() {
  token = null;
  me = null;
  store.clear();
}

// ---- inbound ---------------------------------------------------------------
function handle(m) {
  switch (m.type) {
    case 'session': onSession(m); break;
    case 'status': onStatus(m); break;
    case 'offer': onOffer(m); break;
    case 'offer_gone': removeOffer(String(m.offer)); break;
    case 'chat': onChat(m); break;
    case 'msg': onMsg(m); break;
    case 'typing': onTyping(m); break;
    case 'joined': onJoined(m); break;
    case 'left': onLeft(m); break;
    case 'ended': onEnded(m); break;
    case 'presence': onPresence(m); break;
    case 'request_failed': onRequestFailed(m); break;
    case 'notice': if (typeof m.text === 'string') setStatus(m.text); break;
    case 'error': onError(m); break;
    default: break;
  }
  if (typeof m.id === 'string') requests.delete(m.id);
}

function onSession(m) {
  loggedIn = true;
  attempts = 0;
  if (typeof m.token === 'string') {
    token = m.token;
    store.set(token);
  }
  if (m.user && typeof m.user === 'object') me = m.user;
  renderWhoami();
  el.loginForm.hidden = true;
  el.loginError.textContent = '';
  el.console.hidden = false;
  el.tools.hidden = false;
  setStatus('');
  setChatsConnected(true);
}

function onStatus(m) {
  if (typeof m.available !== 'boolean') return;
  el.available.checked = m.available;
  el.available.dataset.confirmed = String(m.available);
  setStatus(typeof m.text === 'string' && m.text ? m.text : t(m.available ? 'nowAvailable' : 'nowUnavailable'));
}

function onOffer(m) {
  const id = String(m.offer);
  removeOffer(id);
  const li = document.createElement('li');
  li.className = 'offer';
  li.dataset.offer = id;
  li.dataset.testid = 'offer';
  const info = document.createElement('p');
  info.className = 'offer-info';
  const acceptBtn = button('accept', 'primary', 'offer-accept', () => answerOffer(id, 'accept'));
  const declineBtn = button('decline', '', 'offer-decline', () => answerOffer(id, 'decline'));
  const actions = document.createElement('div');
  actions.className = 'offer-actions';
  actions.append(acceptBtn, declineBtn);
  li.append(info, actions);
  const expires = Number.isFinite(m.expires_s) ? m.expires_s : 30;
  const offer = {
    li, info,
    kind: m.kind === 'transfer' || m.kind === 'invite' ? m.kind : 'chat',
    from: typeof m.from === 'string' ? m.from : '',
    lang: typeof m.lang === 'string' ? m.lang : '',
    topic: typeof m.topic === 'string' ? m.topic : '',
    waitedAt: Date.now() - (Number.isFinite(m.waited_s) ? m.waited_s : 0) * 1000,
    deadline: Date.now() + expires * 1000,
  };
  offers.set(id, offer);
  renderOffer(offer);
  el.offers.append(li);
  updateOffersChrome();
  // The list itself is not a live region (its countdown changes every
  // second); announce the new offer once instead.
  setStatus(() => t('newOffer', { lang: langName(offer.lang) }), 'offer');
}

function renderOffer(o) {
  const now = Date.now();
  const left = Math.max(0, Math.ceil((o.deadline - now) / 1000));
  const waited = Math.max(0, Math.round((now - o.waitedAt) / 1000));
  let text = t('offer', {
    lang: langName(o.lang),
    topic: o.topic ? topicName(o.topic) : t('noTopic'),
    waited: t('seconds', { n: formatNumber(waited) }),
    left: t('seconds', { n: formatNumber(left) }),
  });
  if (o.kind === 'transfer') text = `${t('offerTransfer', { from: o.from })} · ${text}`;
  if (o.kind === 'invite') text = `${t('offerInvite', { from: o.from })} · ${text}`;
  o.info.textContent = text;
  return left;
}

function answerOffer(id, kind) {
  const o = offers.get(id);
  if (!o) return;
  for (const b of o.li.querySelectorAll('button')) b.disabled = true;
  send({ type: kind, offer: id });
  if (kind === 'decline') removeOffer(id);
  // An accepted offer goes when its `chat` (or an `offer_gone`) arrives; the
  // countdown removes it in any case.
}

function removeOffer(id) {
  const o = offers.get(id);
  if (!o) return;
  o.li.remove();
  offers.delete(id);
  updateOffersChrome();
  if (offers.size === 0 && el.status.dataset.kind === 'offer') setStatus('');
}

function updateOffersChrome() {
  el.noOffers.hidden = offers.size > 0;
  document.title = offers.size ? t('offersCount', { n: formatNumber(offers.size), title: t('title') }) : t('title');
}

setInterval(() => {
  for (const [id, o] of offers) {
    if (renderOffer(o) <= 0 && Date.now() > o.deadline + 1000) removeOffer(id);
  }
}, 1000);

function onChat(m) {
  const id = String(m.chat);
  const c = ensureChat(id);
  if (typeof m.lang === 'string') c.lang = m.lang;
  if (m.dir === 'rtl' || m.dir === 'ltr') c.dir = m.dir;
  if (typeof m.visitor === 'string') c.visitor = m.visitor;
  if (typeof m.topic === 'string') c.topic = m.topic;
  renderChatHeader(c);
  // The offer that led here is settled: drop any accepted offers still shown.
  for (const [oid, o] of offers) {
    if (o.li.querySelector('button[data-testid="offer-accept"]').disabled) removeOffer(oid);
  }
  if (!c.ended) c.composer.focus();
}

function onMsg(m) {
  const c = chatFor(m);
  if (!c || typeof m.text !== 'string') return;
  if (Number.isInteger(m.seq)) {
    if (m.seq <= c.lastSeq) return;
    c.lastSeq = m.seq;
  }
  if (typeof m.id === 'string') requests.delete(m.id);
  const fromVisitor = m.from === 'visitor';
  const who = fromVisitor ? c.visitor || t('visitor') : m.alias || '';
  const mine = !fromVisitor && me && m.alias === me.alias;
  if (fromVisitor) hideTyping(c);
  addMessage(c, who, m.text, mine ? 'msg msg-mine' : 'msg msg-theirs', m.ts);
}

function onTyping(m) {
  const c = chatFor(m);
  if (!c) return;
  if (m.on) {
    const who = m.alias || (m.from === 'staff' ? '' : c.visitor || t('visitor'));
    c.typing.textContent = t('typing', { who });
    c.typing.hidden = false;
    clearTimeout(c.typingHide);
    c.typingHide = setTimeout(() => hideTyping(c), TYPING_SHOW_MS);
  } else {
    hideTyping(c);
  }
}

function onJoined(m) {
  const c = chatFor(m);
  const alias = m.staff && typeof m.staff.alias === 'string' ? m.staff.alias : m.alias;
  if (c && typeof alias === 'string') addNotice(c, t('joined', { alias }));
}

function onLeft(m) {
  const c = chatFor(m);
  if (!c) return;
  // `you`: it is us who left (our transfer went through); the chat is no
  // longer ours.
  if (m.you === true) {
    markEnded(c, t('youLeft'));
    return;
  }
  const alias = m.staff && typeof m.staff.alias === 'string' ? m.staff.alias : m.alias;
  if (typeof alias === 'string') addNotice(c, t('left', { alias }));
}

function onEnded(m) {
  const c = chatFor(m);
  if (!c) return;
  const by = m.quick_exit ? t('endedBy.quick_exit') : t(`endedBy.${m.by}`) || String(m.by || '');
  markEnded(c, t('ended', { by }));
}

function onPresence(m) {
  // The visitor of a chat went away (connection dropped) or came back.
  const c = chatFor(m);
  if (!c || c.ended) return;
  if (m.visitor === 'away') c.state.textContent = t('visitorAway');
  else if (m.visitor === 'back') c.state.textContent = t('visitorBack');
}

function onRequestFailed(m) {
  const c = chatFor(m) || chatForRequest(m.id);
  const what = typeof m.kind === 'string' ? t(`requestFailedKind.${m.kind}`) : '';
  const why = typeof m.reason === 'string' ? t(`requestFailedReason.${m.reason}`) : '';
  const text = what ? (why ? `${what}: ${why}.` : `${what}.`) : t('requestFailed');
  if (c) addNotice(c, text, true); else setStatus(text);
}

function onError(m) {
  const message = typeof m.message === 'string' && m.message ? m.message : String(m.code || '');
  if (!loggedIn) {
    el.loginError.textContent = message;
    return;
  }
  const req = typeof m.id === 'string' ? requests.get(m.id) : null;
  if (req) requests.delete(m.id);
  const c = chatFor(m) || (req && chats.get(req.chat));
  if (c) {
    if (req && req.kind === 'msg' && !c.composer.value) c.composer.value = req.text;
    addNotice(c, message, true);
  } else {
    setStatus(message);
  }
  if (req && req.kind === 'status') el.available.checked = !el.available.checked;
}

function chatFor(m) {
  if (m.chat === undefined || m.chat === null) return null;
  const id = String(m.chat);
  return chats.get(id) || (m.type === 'msg' ? ensureChat(id) : null);
}

function chatForRequest(id) {
  const req = typeof id === 'string' ? requests.get(id) : null;
  return req ? chats.get(req.chat) : null;
}

// ---- chat panels -----------------------------------------------------------
function ensureChat(id) {
  let c = chats.get(id);
  if (c) return c;
  c = { id, lang: '', dir: 'ltr', visitor: '', topic: '', lastSeq: 0, ended: false, typingSent: false };
  const n = chats.size + 1;
  const headId = `chat-${n}-title`;
  const inputId = `chat-${n}-text`;
  const roleId = `chat-${n}-role`;

  const panel = document.createElement('section');
  panel.className = 'panel chat-panel';
  panel.dataset.chat = id;
  panel.dataset.testid = 'chat';
  panel.setAttribute('aria-labelledby', headId);

  const head = document.createElement('div');
  head.className = 'chat-head';
  const h = document.createElement('h2');
  h.id = headId;
  h.dataset.testid = 'chat-title';
  const topic = document.createElement('span');
  topic.className = 'muted';
  head.append(h, topic);

  const state = document.createElement('p');
  state.className = 'chat-state';
  state.setAttribute('role', 'status');

  const list = document.createElement('ol');
  list.className = 'messages';
  list.dataset.testid = 'chat-messages';
  list.setAttribute('aria-live', 'polite');
  list.setAttribute('aria-relevant', 'additions');
  list.setAttribute('aria-labelledby', headId);

  const typing = document.createElement('p');
  typing.className = 'typing';
  typing.hidden = true;

  const form = document.createElement('form');
  form.className = 'composer';
  const label = document.createElement('label');
  label.className = 'visually-hidden';
  label.htmlFor = inputId;
  label.dataset.i18n = 'messageLabel';
  const composer = document.createElement('textarea');
  composer.id = inputId;
  composer.rows = 2;
  composer.autocomplete = 'off';
  composer.dataset.testid = 'chat-composer';
  const sendBtn = document.createElement('button');
  sendBtn.type = 'submit';
  sendBtn.className = 'primary';
  sendBtn.dataset.testid = 'chat-send';
  sendBtn.dataset.i18n = 'send';
  form.append(label, composer, sendBtn);

  const tools = document.createElement('div');
  tools.className = 'chat-tools';
  const roleField = document.createElement('div');
  roleField.className = 'field';
  const roleLabel = document.createElement('label');
  roleLabel.htmlFor = roleId;
  roleLabel.dataset.i18n = 'roleLabel';
  const role = document.createElement('select');
  role.id = roleId;
  role.dataset.testid = 'chat-role';
  const roles = Object.keys(UI.roles || {});
  roles.sort((a, b) => (ROLE_ORDER.indexOf(a) + 1 || 99) - (ROLE_ORDER.indexOf(b) + 1 || 99));
  for (const value of roles) {
    const opt = document.createElement('option');
    opt.value = value;
    opt.dataset.i18n = `roles.${value}`;
    role.append(opt);
  }
  roleField.append(roleLabel, role);
  const ask = (kind, note) => {
    const rid = send({ type: kind, chat: id, to: { role: role.value } });
    if (rid === null) return;
    track(rid, { chat: id, kind });
    addNotice(c, note);
  };
  const invite = button('invite', '', 'chat-invite', () => ask('invite', t('invited')));
  const transfer = button('transfer', '', 'chat-transfer', () => ask('transfer', t('transferring')));
  const end = button('end', 'danger', 'chat-end', () => {
    if (c.ended) closeChat(c); else track(send({ type: 'end', chat: id, tags: [] }), { chat: id, kind: 'end' });
  });
  tools.append(roleField, invite, transfer, end);

  panel.append(head, state, list, typing, form, tools);
  applyLabels(panel, UI);
  el.chats.append(panel);

  Object.assign(c, { panel, h, topicEl: topic, state, list, typing, form, composer, sendBtn, invite, transfer, end, role });

  form.addEventListener('submit', (ev) => { ev.preventDefault(); sendChatMessage(c); });
  composer.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      sendChatMessage(c);
    }
  });
  composer.addEventListener('input', () => {
    if (c.ended) return;
    if (!composer.value) { stopTyping(c, true); return; }
    if (!c.typingSent) c.typingSent = send({ type: 'typing', chat: id, on: true }) !== null;
    clearTimeout(c.typingTimer);
    c.typingTimer = setTimeout(() => stopTyping(c, true), TYPING_IDLE_MS);
  });

  chats.set(id, c);
  renderChatHeader(c);
  return c;
}

function renderChatHeader(c) {
  c.h.textContent = t('chatHeader', { visitor: c.visitor || t('visitor'), lang: langName(c.lang) });
  c.topicEl.textContent = c.topic ? topicName(c.topic) : '';
  c.composer.dir = c.dir;
  if (c.lang) c.composer.lang = c.lang;
}

function sendChatMessage(c) {
  const text = c.composer.value;
  if (c.ended || !text.trim()) return;
  const id = send({ type: 'msg', chat: c.id, text });
  if (id === null) return;
  track(id, { chat: c.id, kind: 'msg', text });
  c.composer.value = '';
  stopTyping(c, true);
  c.composer.focus();
}

function stopTyping(c, tell) {
  clearTimeout(c.typingTimer);
  if (c.typingSent && tell) send({ type: 'typing', chat: c.id, on: false });
  c.typingSent = false;
}

function hideTyping(c) {
  clearTimeout(c.typingHide);
  c.typing.hidden = true;
  c.typing.textContent = '';
}

function markEnded(c, text) {
  c.ended = true;
  stopTyping(c, false);
  hideTyping(c);
  c.panel.classList.add('chat-ended');
  if (text) c.state.textContent = text;
  for (const node of [c.composer, c.sendBtn, c.invite, c.transfer, c.role]) node.disabled = true;
  c.end.dataset.i18n = 'close';
  c.end.textContent = t('close');
  c.end.classList.remove('danger');
  c.end.disabled = false;
}

function closeChat(c) {
  c.panel.remove();
  chats.delete(c.id);
}

function setChatsConnected(on) {
  for (const c of chats.values()) {
    if (c.ended) continue;
    c.composer.disabled = !on;
    c.sendBtn.disabled = !on;
  }
}

function addMessage(c, who, text, cls, ts) {
  const li = document.createElement('li');
  li.className = cls;
  const meta = document.createElement('span');
  meta.className = 'msg-meta';
  meta.dir = 'auto';
  const time = formatTime(ts);
  meta.textContent = time ? `${who} · ${time}` : who;
  const body = document.createElement('p');
  body.className = 'msg-text';
  body.dir = 'auto';
  if (c.lang) body.lang = c.lang;
  body.textContent = text;
  li.append(meta, body);
  c.list.append(li);
  c.list.scrollTop = c.list.scrollHeight;
}

function addNotice(c, text, error) {
  const li = document.createElement('li');
  li.className = error ? 'notice notice-error' : 'notice';
  li.dir = 'auto';
  li.textContent = text;
  c.list.append(li);
  c.list.scrollTop = c.list.scrollHeight;
}

// ---- helpers ---------------------------------------------------------------
// A button labelled by key (relabelled when the console's language changes).
function button(key, cls, testid, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  if (cls) b.className = cls;
  b.dataset.testid = testid;
  b.dataset.i18n = key;
  b.textContent = t(key);
  b.addEventListener('click', onClick);
  return b;
}

function track(id, info) {
  if (id !== null) requests.set(id, info);
}

// text is a string (from the daemon, already in some language) or a function
// giving the text from the labels, so it follows a change of language.
let statusLabel = null;
function setStatus(text, kind) {
  statusLabel = typeof text === 'function' ? text : null;
  el.status.textContent = statusLabel ? statusLabel() : text;
  el.status.dataset.kind = kind || '';
}

function showLogin(message) {
  el.console.hidden = true;
  el.tools.hidden = true;
  el.loginForm.hidden = false;
  el.loginSubmit.disabled = false;
  el.loginError.textContent = message || el.loginError.textContent;
  setStatus('');
  el.loginUser.focus();
}

function resetConsole() {
  for (const id of [...offers.keys()]) removeOffer(id);
  for (const c of [...chats.values()]) closeChat(c);
  el.available.checked = false;
  delete el.available.dataset.confirmed;
  el.whoami.textContent = '';
}

function formatNumber(n) {
  try { return new Intl.NumberFormat(bundle ? bundle.lang : undefined).format(n); } catch { return String(n); }
}

// Hours and minutes in the console's language; a 24-hour clock in digits
// when this browser has no data for it (no other language's words).
function formatTime(ts) {
  if (!Number.isFinite(ts)) return '';
  const opts = { hour: '2-digit', minute: '2-digit' };
  const lang = bundle ? bundle.lang : 'en';
  try {
    const f = Intl.DateTimeFormat.supportedLocalesOf([lang]).length
      ? new Intl.DateTimeFormat(lang, opts)
      : new Intl.DateTimeFormat('en-GB', { ...opts, hourCycle: 'h23' });
    return f.format(new Date(ts));
  } catch { return ''; }
}

// A language by its own name, a topic and a role by their labels.
function langName(code) {
  const name = bundle && bundle.languages[code];
  return typeof name === 'string' ? name : code || '';
}

function topicName(id) {
  const name = bundle && bundle.topics[id];
  return typeof name === 'string' ? name : id;
}

function renderWhoami() {
  if (!me) { el.whoami.textContent = ''; return; }
  const roles = Array.isArray(me.roles) ? me.roles.map((r) => t(`roles.${r}`) || r).join(', ') : '';
  el.whoami.textContent = t('signedIn', { alias: me.alias || '', roles });
}

// ---- labels ----------------------------------------------------------------
// Show a bundle: every data-i18n label (also in open chats and offers), the
// texts made from labels, the title, and <html lang dir>.
function useBundle(b) {
  bundle = b;
  UI = b.staff;
  setDocumentLanguage(b);
  renderLangSelect();
  applyLabels(document.body, UI);
  renderWhoami();
  for (const o of offers.values()) renderOffer(o);
  for (const c of chats.values()) renderChatHeader(c);
  if (statusLabel) el.status.textContent = statusLabel();
  updateOffersChrome();
  // Marks the page as labelled (and in which language) for tests.
  document.body.dataset.labels = b.lang;
}

// The console's language, each shown by its own name.
function renderLangSelect() {
  const sel = el.uiLang;
  sel.replaceChildren();
  for (const [code, autonym] of Object.entries(bundle.languages)) {
    if (typeof autonym !== 'string') continue;
    const opt = document.createElement('option');
    opt.value = code;
    opt.lang = code;
    opt.textContent = autonym;
    sel.append(opt);
  }
  sel.value = bundle.lang;
}

let wantedLang = null;
el.uiLang.addEventListener('change', async () => {
  const lang = el.uiLang.value;
  wantedLang = lang;
  store.set(lang, LANG_KEY);
  let b = null;
  try { b = await fetchBundle(lang); } catch { /* offline: keep the labels shown */ }
  if (b && wantedLang === lang) useBundle(b);
  else if (bundle) el.uiLang.value = bundle.lang;
});

// ---- wiring ----------------------------------------------------------------
el.loginForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  el.loginError.textContent = '';
  credentials = {
    user: el.loginUser.value.trim(),
    password: el.loginPassword.value,
    totp: el.loginTotp.value.trim(),
  };
  el.loginPassword.value = '';
  el.loginTotp.value = '';
  el.loginSubmit.disabled = true;
  attempts = 0;
  if (ws) { const old = ws; ws = null; old.close(1000); }
  connect();
});

el.available.addEventListener('change', () => {
  delete el.available.dataset.confirmed;
  const id = send({ type: 'status', available: el.available.checked });
  if (id === null) el.available.checked = !el.available.checked; else track(id, { kind: 'status' });
});

el.logout.addEventListener('click', () => {
  send({ type: 'logout' });
  wantOpen = false;
  forgetSession();
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  const sock = ws;
  ws = null;
  if (sock) sock.close(1000);
  resetConsole();
  showLogin(null);
  setStatus(() => t('loggedOut'));
});

// Leaving or reloading the page drops the socket, and the daemon then puts
// the visitors of open chats back in the queue: ask first.
window.addEventListener('beforeunload', (ev) => {
  if ([...chats.values()].some((c) => !c.ended)) {
    ev.preventDefault();
    ev.returnValue = '';
  }
});

// First the labels (the language picked earlier in this tab, else the
// browser's), then the session or the login form.
{
  const picked = store.get(LANG_KEY);
  firstBundle([...(picked ? [picked] : []), ...browserLanguages()]).then((b) => {
    useBundle(b);
    if (token) connect(); else showLogin(null);
  });
}
