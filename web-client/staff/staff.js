// Brug staff console: log in over wss://HOST/ws/staff (subprotocol
// brug-staff.v1), take offered chats, answer several side by side, invite or
// transfer to a colleague, end with tags. Only the staff session token is
// kept (sessionStorage, so a reload resumes the session); logging out clears it.

// Every text this page shows. A later change localizes these; keep them here.
const UI = {
  title: 'Brug staff',
  loginTitle: 'Log in',
  user: 'User name',
  password: 'Password',
  totp: 'One-time code (if you have one)',
  login: 'Log in',
  logout: 'Log out',
  available: 'Available',
  offersTitle: 'Waiting chats',
  noOffers: 'No chats are waiting for you.',
  chatsTitle: 'Chats',
  connecting: 'Connecting…',
  reconnecting: 'Connection lost. Reconnecting…',
  signedIn: '{alias} ({roles})',
  nowAvailable: 'You are available for new chats.',
  nowUnavailable: 'You are not available for new chats.',
  offer: 'Language: {lang} · Topic: {topic} · Waited {waited} · {left} left',
  offerTransfer: 'Transfer from {from}',
  offerInvite: 'Invitation from {from}',
  noTopic: '—',
  seconds: '{n} s',
  accept: 'Accept',
  decline: 'Decline',
  offersCount: '({n}) {title}',
  newOffer: 'A chat is waiting: {lang}',
  chatHeader: '{visitor} · {lang}',
  messageLabel: 'Message',
  send: 'Send',
  roleLabel: 'Colleague',
  roles: { professional: 'Professional', keyperson: 'Key person', volunteer: 'Volunteer', coordinator: 'Coordinator' },
  invite: 'Invite',
  transfer: 'Transfer',
  end: 'End chat',
  close: 'Close',
  joined: '{alias} joined',
  left: '{alias} left',
  typing: '{who} is typing…',
  visitor: 'Visitor',
  ended: 'Chat ended ({by}).',
  endedBy: { visitor: 'by the visitor', staff: 'by staff', timeout: 'timed out', shutdown: 'server shut down', quick_exit: 'quick exit' },
  requestFailed: 'The request could not be completed.',
  requestFailedKind: { transfer: 'The transfer did not happen', invite: 'The invitation did not happen' },
  requestFailedReason: { declined: 'declined', lapsed: 'not answered in time', withdrawn: 'withdrawn', nobody: 'nobody available' },
  youLeft: 'You left this chat.',
  visitorAway: 'The visitor lost the connection.',
  visitorBack: 'The visitor is back.',
  invited: 'Invitation sent.',
  transferring: 'Transfer requested.',
  sessionExpired: 'Your session has ended. Please log in again.',
  replaced: 'The console was opened in another window.',
  loggedOut: 'You are logged out.',
};

const TOKEN_KEY = 'brug.staff.token';
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 10000;
const MAX_BACKOFF_MS = 30000;

const $ = (id) => document.getElementById(id);
const el = {
  tools: $('tools'),
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

function fmt(template, vars) {
  return template.replace(/\{(\w+)\}/g, (all, key) => (key in vars ? String(vars[key]) : all));
}

// sessionStorage may be unavailable (privacy settings); then the token just
// lives for this page.
const store = {
  get() { try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; } },
  set(v) { try { sessionStorage.setItem(TOKEN_KEY, v); } catch { /* memory only */ } },
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
  setStatus(attempts ? UI.reconnecting : UI.connecting);
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
    showLogin(wasLoggedIn || (hadToken && code === 4002) ? UI.sessionExpired : null);
    return;
  }
  if (code === 4003) {
    wantOpen = false;
    setStatus(UI.replaced);
    return;
  }
  if (!token) {                // never got in: back to the form
    wantOpen = false;
    showLogin(null);
    return;
  }
  setStatus(UI.reconnecting);
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
  const roles = me && Array.isArray(me.roles) ? me.roles.join(', ') : '';
  el.whoami.textContent = me ? fmt(UI.signedIn, { alias: me.alias || '', roles }) : '';
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
  setStatus(typeof m.text === 'string' && m.text ? m.text : m.available ? UI.nowAvailable : UI.nowUnavailable);
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
  const acceptBtn = button(UI.accept, 'primary', 'offer-accept', () => answerOffer(id, 'accept'));
  const declineBtn = button(UI.decline, '', 'offer-decline', () => answerOffer(id, 'decline'));
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
  setStatus(fmt(UI.newOffer, { lang: offer.lang }), 'offer');
}

function renderOffer(o) {
  const now = Date.now();
  const left = Math.max(0, Math.ceil((o.deadline - now) / 1000));
  const waited = Math.max(0, Math.round((now - o.waitedAt) / 1000));
  let text = fmt(UI.offer, {
    lang: o.lang,
    topic: o.topic || UI.noTopic,
    waited: fmt(UI.seconds, { n: waited }),
    left: fmt(UI.seconds, { n: left }),
  });
  if (o.kind === 'transfer') text = `${fmt(UI.offerTransfer, { from: o.from })} · ${text}`;
  if (o.kind === 'invite') text = `${fmt(UI.offerInvite, { from: o.from })} · ${text}`;
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
  document.title = offers.size ? fmt(UI.offersCount, { n: offers.size, title: UI.title }) : UI.title;
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
  const who = fromVisitor ? c.visitor || UI.visitor : m.alias || '';
  const mine = !fromVisitor && me && m.alias === me.alias;
  if (fromVisitor) hideTyping(c);
  addMessage(c, who, m.text, mine ? 'msg msg-mine' : 'msg msg-theirs', m.ts);
}

function onTyping(m) {
  const c = chatFor(m);
  if (!c) return;
  if (m.on) {
    const who = m.alias || (m.from === 'staff' ? '' : c.visitor || UI.visitor);
    c.typing.textContent = fmt(UI.typing, { who });
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
  if (c && typeof alias === 'string') addNotice(c, fmt(UI.joined, { alias }));
}

function onLeft(m) {
  const c = chatFor(m);
  if (!c) return;
  // `you`: it is us who left (our transfer went through); the chat is no
  // longer ours.
  if (m.you === true) {
    markEnded(c, UI.youLeft);
    return;
  }
  const alias = m.staff && typeof m.staff.alias === 'string' ? m.staff.alias : m.alias;
  if (typeof alias === 'string') addNotice(c, fmt(UI.left, { alias }));
}

function onEnded(m) {
  const c = chatFor(m);
  if (!c) return;
  const by = m.quick_exit ? UI.endedBy.quick_exit : UI.endedBy[m.by] || String(m.by || '');
  markEnded(c, fmt(UI.ended, { by }));
}

function onPresence(m) {
  // The visitor of a chat went away (connection dropped) or came back.
  const c = chatFor(m);
  if (!c || c.ended) return;
  if (m.visitor === 'away') c.state.textContent = UI.visitorAway;
  else if (m.visitor === 'back') c.state.textContent = UI.visitorBack;
}

function onRequestFailed(m) {
  const c = chatFor(m) || chatForRequest(m.id);
  const what = UI.requestFailedKind[m.kind];
  const why = UI.requestFailedReason[m.reason];
  const text = what ? (why ? `${what}: ${why}.` : `${what}.`) : UI.requestFailed;
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
  label.textContent = UI.messageLabel;
  const composer = document.createElement('textarea');
  composer.id = inputId;
  composer.rows = 2;
  composer.autocomplete = 'off';
  composer.dataset.testid = 'chat-composer';
  const sendBtn = document.createElement('button');
  sendBtn.type = 'submit';
  sendBtn.className = 'primary';
  sendBtn.dataset.testid = 'chat-send';
  sendBtn.textContent = UI.send;
  form.append(label, composer, sendBtn);

  const tools = document.createElement('div');
  tools.className = 'chat-tools';
  const roleField = document.createElement('div');
  roleField.className = 'field';
  const roleLabel = document.createElement('label');
  roleLabel.htmlFor = roleId;
  roleLabel.textContent = UI.roleLabel;
  const role = document.createElement('select');
  role.id = roleId;
  role.dataset.testid = 'chat-role';
  for (const [value, text] of Object.entries(UI.roles)) {
    const opt = document.createElement('option');
    opt.value = value;
    opt.textContent = text;
    role.append(opt);
  }
  roleField.append(roleLabel, role);
  const ask = (kind, note) => {
    const rid = send({ type: kind, chat: id, to: { role: role.value } });
    if (rid === null) return;
    track(rid, { chat: id, kind });
    addNotice(c, note);
  };
  const invite = button(UI.invite, '', 'chat-invite', () => ask('invite', UI.invited));
  const transfer = button(UI.transfer, '', 'chat-transfer', () => ask('transfer', UI.transferring));
  const end = button(UI.end, 'danger', 'chat-end', () => {
    if (c.ended) closeChat(c); else track(send({ type: 'end', chat: id, tags: [] }), { chat: id, kind: 'end' });
  });
  tools.append(roleField, invite, transfer, end);

  panel.append(head, state, list, typing, form, tools);
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
  c.h.textContent = fmt(UI.chatHeader, { visitor: c.visitor || UI.visitor, lang: c.lang });
  c.topicEl.textContent = c.topic;
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
  c.end.textContent = UI.close;
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
  const time = Number.isFinite(ts) ? new Date(ts).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : '';
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
function button(text, cls, testid, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  if (cls) b.className = cls;
  b.dataset.testid = testid;
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

function track(id, info) {
  if (id !== null) requests.set(id, info);
}

function setStatus(text, kind) {
  el.status.textContent = text;
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

function applyStrings() {
  document.title = UI.title;
  for (const node of document.querySelectorAll('[data-ui]')) {
    const text = UI[node.dataset.ui];
    if (typeof text === 'string') node.textContent = text;
  }
}

// ---- wiring ----------------------------------------------------------------
applyStrings();
updateOffersChrome();

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
  setStatus(UI.loggedOut);
});

// Leaving or reloading the page drops the socket, and the daemon then puts
// the visitors of open chats back in the queue: ask first.
window.addEventListener('beforeunload', (ev) => {
  if ([...chats.values()].some((c) => !c.ended)) {
    ev.preventDefault();
    ev.returnValue = '';
  }
});

if (token) {
  connect();
} else {
  showLogin(null);
}
