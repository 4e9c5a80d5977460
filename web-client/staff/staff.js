// Brug staff console: log in over wss://HOST/ws/staff (subprotocol
// brug-staff.v1), take offered chats, answer several side by side (or in
// tabs on a narrow screen), insert prepared answers, invite or transfer to a
// colleague, end with topic tags.
//
// What the browser keeps: the staff session token in sessionStorage, so a
// reload resumes the session and its chats (the daemon gives them back
// within its grace period); the console's language and the sound setting
// once someone changes them (sessionStorage too). Message texts are shown
// only inside the page: never in the title, never in a system notification.

import {
  fetchBundle, fetchConfig, firstBundle, browserLanguages, applyLabels, setDocumentLanguage, lookup, fmt,
} from '../labels.js';
import { unlockSound, playTone } from './sound.js';
import { cannedGroups, findAnswer, suggestions, keywordAtCaret, insertText } from './canned.js';
import { initCoord, coordSession, coordHandle, coordRelabel, coordReset } from './coord.js';
import { createSocket } from '../socket.js';

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
const LANG_KEY = 'brug.staff.lang';    // only once someone picks a language
const SOUND_KEY = 'brug.staff.sound';  // only once someone turns it off or on
const MAX_TAGS = 8;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 10000;
const SOCKET_URL = `wss://${location.host}/ws/staff`;
const SOCKET_PROTOCOL = 'brug-staff.v1';
// Right after `chat` the daemon sends the transcript so far: history, not
// news (no sound, not unread). It ends with the first other frame, or after
// a short quiet.
const REPLAY_QUIET_MS = 300;
const WIDE = window.matchMedia('(min-width: 50rem)');

const $ = (id) => document.getElementById(id);
const el = {
  tools: $('tools'),
  uiLang: $('ui-lang'),
  whoami: $('whoami'),
  available: $('available'),
  sound: $('sound'),
  logout: $('logout'),
  status: $('status'),
  loginForm: $('login-form'),
  loginUser: $('login-user'),
  loginPassword: $('login-password'),
  loginTotp: $('login-totp'),
  loginError: $('login-error'),
  loginSubmit: $('login-submit'),
  haveCode: $('have-code'),
  codeForm: $('code-form'),
  codeUser: $('code-user'),
  codeCode: $('code-code'),
  codePassword: $('code-password'),
  codeTotp: $('code-totp'),
  codeError: $('code-error'),
  codeSubmit: $('code-submit'),
  codeBack: $('code-back'),
  console: $('console'),
  noOffers: $('no-offers'),
  offers: $('offers'),
  chatSwitch: $('chat-switch'),
  chatTabs: $('chat-tabs'),
  chats: $('chats'),
  chatTemplate: $('chat-template'),
  requestDialog: $('request-dialog'),
  requestForm: $('request-form'),
  requestTitle: $('request-title'),
  requestByRole: $('request-by-role'),
  requestByUser: $('request-by-user'),
  requestRoleField: $('request-role-field'),
  requestRole: $('request-role'),
  requestUserField: $('request-user-field'),
  requestNone: $('request-none'),
  requestPeople: $('request-people'),
  requestSubmit: $('request-submit'),
  requestCancel: $('request-cancel'),
  endDialog: $('end-dialog'),
  endForm: $('end-form'),
  endTags: $('end-tags'),
  endCancel: $('end-cancel'),
  blockDialog: $('block-dialog'),
  blockForm: $('block-form'),
  blockCancel: $('block-cancel'),
};

// sessionStorage may be unavailable (privacy settings); then everything
// just lives for this page.
const store = {
  get(key = TOKEN_KEY) { try { return sessionStorage.getItem(key); } catch { return null; } },
  set(v, key = TOKEN_KEY) { try { sessionStorage.setItem(key, v); } catch { /* memory only */ } },
  clear(key = TOKEN_KEY) { try { sessionStorage.removeItem(key); } catch { /* nothing stored */ } },
};

// ---- state -----------------------------------------------------------------
let token = store.get();
let me = null;              // `user` from `session`
let loggedIn = false;       // a `session` arrived on the current socket
let resuming = false;       // the current socket logged in with the token
let sessionAt = 0;          // when its `session` arrived
let credentials = null;     // {user, password, totp, resetCode} for the next socket only
let codeMode = false;       // the login screen shows "I have a code"
let wantOpen = false;
let nextId = 1;
let soundOn = store.get(SOUND_KEY) !== 'off';
let config = null;          // /api/config.json (topics for the end tags)
let colleagues = [];        // from `colleagues`: everyone else online
let activeChat = null;      // the chat shown on a narrow screen / last used
const requests = new Map(); // id -> {chat, kind, text}
const offers = new Map();   // offer id -> offer view state
const chats = new Map();    // chat id -> chat view state
let chatSerial = 0;         // for element ids only
let replayChat = null;      // the chat whose transcript is arriving
let replayTimer = null;

// The socket (socket.js): each new one logs in, with the credentials just
// typed or else the session token, so a reload or a dropped connection
// resumes the session. The first retry comes at once: the daemon keeps the
// chats for a short grace only. A good connection is a `session`.
const link = createSocket({
  greeting: loginFrame,
  onMessage: handle,
  onState(state, detail) {
    if (state === 'connecting') {
      wantOpen = true;
      loggedIn = false;
      setStatus(() => t(detail.attempt ? 'reconnecting' : 'connecting'));
    } else if (state === 'closed') {
      onSocketClosed(detail.code);
    }
  },
  firstDelayMs: 500,
});

function send(obj) {
  if (!link.isOpen() || !loggedIn) return null;
  const id = `c${nextId++}`;
  link.send({ ...obj, id });
  return id;
}

function connect() {
  link.open(SOCKET_URL, SOCKET_PROTOCOL);
}

// The first frame of a socket, or null (then it closes) with nothing to
// log in with.
function loginFrame() {
  let login;
  if (credentials) {
    login = { type: 'login', user: credentials.user, password: credentials.password };
    if (credentials.totp) login.totp = credentials.totp;
    if (credentials.resetCode) login.reset_code = credentials.resetCode;
    credentials = null;
    resuming = false;
  } else if (token) {
    login = { type: 'login', token };
    resuming = true;
  } else {
    return null;
  }
  // The daemon's own texts (errors) to this socket come in the console's
  // language.
  if (bundle) login.lang = bundle.lang;
  return { ...login, id: 'login' };
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
    resetConsole();
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
  link.retry();
}

function forgetSession() {
  token = null;
  me = null;
  store.clear();
}

// ---- inbound ---------------------------------------------------------------
function handle(m) {
  if (replayChat && !(m.type === 'msg' && String(m.chat) === replayChat.id)) replayChat = null;
  switch (m.type) {
    case 'session': onSession(m); break;
    case 'status': onStatus(m); break;
    case 'offer': onOffer(m); break;
    case 'offer_gone': removeOffer(String(m.offer)); break;
    case 'colleagues': onColleagues(m); break;
    case 'chat': onChat(m); break;
    case 'chats': onChats(m); break;
    case 'msg': onMsg(m); break;
    case 'typing': onTyping(m); break;
    case 'joined': onJoined(m); break;
    case 'left': onLeft(m); break;
    case 'ended': onEnded(m); break;
    case 'blocked': onBlocked(m); break;
    case 'presence': onPresence(m); break;
    case 'request_failed': onRequestFailed(m); break;
    case 'notice': if (typeof m.text === 'string') setStatus(m.text); break;
    case 'error': if (!coordHandle(m)) onError(m); break;
    default: coordHandle(m); break;
  }
  if (typeof m.id === 'string') requests.delete(m.id);
}

// Right after a token login the daemon gives back the session's state.
function resumedRecently() {
  return resuming && Date.now() - sessionAt < 3000;
}

function onSession(m) {
  loggedIn = true;
  sessionAt = Date.now();
  link.resetBackoff();
  if (typeof m.token === 'string') {
    token = m.token;
    store.set(token);
  }
  if (m.user && typeof m.user === 'object') me = m.user;
  renderWhoami();
  el.loginForm.hidden = true;
  el.loginError.textContent = '';
  el.loginSubmit.disabled = false;
  el.codeForm.hidden = true;
  el.codeError.textContent = '';
  el.codeSubmit.disabled = false;
  codeMode = false;
  el.console.hidden = false;
  el.tools.hidden = false;
  setStatus('');
  setChatsConnected(true);
  coordSession(me);
}

function onStatus(m) {
  if (typeof m.available !== 'boolean') return;
  el.available.checked = m.available;
  el.available.dataset.confirmed = String(m.available);
  setStatus(typeof m.text === 'string' && m.text ? m.text : () => t(m.available ? 'nowAvailable' : 'nowUnavailable'));
}

// ---- offers ----------------------------------------------------------------
function onOffer(m) {
  const id = String(m.offer);
  const known = offers.has(id);
  removeOffer(id, true);
  const li = document.createElement('li');
  li.className = 'offer';
  li.dataset.offer = id;
  li.dataset.testid = 'offer';
  li.dataset.kind = m.kind === 'transfer' || m.kind === 'invite' ? m.kind : 'chat';
  const info = document.createElement('p');
  info.className = 'offer-info';
  info.dataset.testid = 'offer-info';
  // A bar that shrinks with the time left: decoration, the text says it.
  const countdown = document.createElement('span');
  countdown.className = 'offer-bar';
  countdown.setAttribute('aria-hidden', 'true');
  const fill = document.createElement('span');
  countdown.append(fill);
  const acceptBtn = button('accept', 'primary', 'offer-accept', () => answerOffer(id, 'accept'));
  const declineBtn = button('decline', '', 'offer-decline', () => answerOffer(id, 'decline'));
  const actions = document.createElement('div');
  actions.className = 'offer-actions';
  actions.append(acceptBtn, declineBtn);
  const text = document.createElement('div');
  text.className = 'offer-text';
  text.append(info, countdown);
  li.append(text, actions);
  const expires = Number.isFinite(m.expires_s) ? m.expires_s : 30;
  const offer = {
    id, li, info, fill, acceptBtn, declineBtn, expires: Math.max(1, expires),
    kind: m.kind === 'transfer' || m.kind === 'invite' ? m.kind : 'chat',
    from: typeof m.from === 'string' ? m.from : '',
    lang: typeof m.lang === 'string' ? m.lang : '',
    topic: typeof m.topic === 'string' ? m.topic : '',
    waitedAt: Date.now() - (Number.isFinite(m.waited_s) ? m.waited_s : 0) * 1000,
    deadline: Date.now() + expires * 1000,
  };
  // Label the buttons with what they are for, for screen readers that
  // list buttons out of context.
  const infoId = `offer-${id}-info`;
  info.id = infoId;
  acceptBtn.setAttribute('aria-describedby', infoId);
  declineBtn.setAttribute('aria-describedby', infoId);
  offers.set(id, offer);
  renderOffer(offer);
  el.offers.append(li);
  updateOffersChrome();
  if (!known) {
    // The list itself is not a live region (its countdown changes every
    // second); announce the new offer once instead.
    setStatus(() => t('newOffer', { lang: langName(offer.lang) }), 'offer');
    notify('offer');
  }
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
  o.li.dataset.urgent = String(left <= 10);
  o.fill.style.inlineSize = `${Math.min(100, (100 * Math.max(0, o.deadline - now)) / (o.expires * 1000))}%`;
  return left;
}

function answerOffer(id, kind) {
  const o = offers.get(id);
  if (!o) return;
  o.acceptBtn.disabled = true;
  o.declineBtn.disabled = true;
  o.answered = kind;
  if (send({ type: kind, offer: id }) === null) {
    o.acceptBtn.disabled = false;
    o.declineBtn.disabled = false;
    o.answered = null;
    return;
  }
  if (kind === 'decline') removeOffer(id);
  // An accepted offer goes when its `chat` (or an `offer_gone`) arrives; the
  // countdown removes it in any case.
}

function removeOffer(id, quiet) {
  const o = offers.get(id);
  if (!o) return;
  const hadFocus = o.li.contains(document.activeElement);
  o.li.remove();
  offers.delete(id);
  if (quiet) return;
  updateOffersChrome();
  if (offers.size === 0 && el.status.dataset.kind === 'offer') setStatus('');
  // Keep the keyboard somewhere sensible.
  if (hadFocus) {
    const next = [...offers.values()][0];
    if (next) next.acceptBtn.focus();
    else if (activeChat && chats.get(activeChat) && !chats.get(activeChat).ended) chats.get(activeChat).composer.focus();
  }
}

function updateOffersChrome() {
  el.noOffers.hidden = offers.size > 0;
  updateTitle();
}

setInterval(() => {
  for (const [id, o] of offers) {
    if (renderOffer(o) <= 0 && Date.now() > o.deadline + 1000) removeOffer(id);
  }
}, 1000);

// ---- colleagues ------------------------------------------------------------
function onColleagues(m) {
  if (!Array.isArray(m.staff)) return;
  colleagues = m.staff.filter((s) => s && typeof s === 'object' && typeof s.user === 'string')
    .map((s) => ({
      user: s.user,
      alias: typeof s.alias === 'string' && s.alias ? s.alias : s.user,
      roles: Array.isArray(s.roles) ? s.roles.filter((r) => typeof r === 'string') : [],
      langs: Array.isArray(s.langs) ? s.langs.filter((l) => typeof l === 'string') : [],
      available: s.available === true,
      chats: Number.isInteger(s.chats) ? s.chats : 0,
    }));
  if (el.requestDialog.open) renderPeople();
}

// ---- chats -------------------------------------------------------------------
function onChat(m) {
  const id = String(m.chat);
  const fresh = !chats.has(id);
  const c = ensureChat(id);
  if (typeof m.lang === 'string') c.lang = m.lang;
  if (m.dir === 'rtl' || m.dir === 'ltr') c.dir = m.dir;
  if (typeof m.visitor === 'string') c.visitor = m.visitor;
  if (Number.isInteger(m.visitor_no)) c.visitorNo = m.visitor_no;
  if (typeof m.topic === 'string') c.topic = m.topic;
  replayChat = c;
  clearTimeout(replayTimer);
  replayTimer = setTimeout(() => { replayChat = null; }, REPLAY_QUIET_MS);
  if (c.ended && !c.closedByUs) reopenChat(c);
  renderChatHeader(c);
  renderTabs();
  loadCanned(c);
  // The offer that led here is settled: drop any accepted offers still shown.
  const accepted = [...offers.values()].some((o) => o.answered === 'accept');
  for (const [oid, o] of offers) if (o.answered === 'accept') removeOffer(oid);
  if (accepted || (fresh && !resumedRecently())) {
    if (el.status.dataset.kind === 'resumed') setStatus('');
    selectChat(c.id);
    c.composer.focus();
  } else if (resumedRecently()) {
    // Our chats, given back after a reload or a dropped connection.
    setStatus(() => t('reconnectedChats'), 'resumed');
  }
}

// After a resume: the chats we are still in. The daemon also re-sends the
// `ended` of chats that ended while we were away; a panel it does not know
// at all (older than the grace) is marked ended here.
function onChats(m) {
  if (!Array.isArray(m.chats)) return;
  const still = new Set(m.chats.map(String));
  for (const c of chats.values()) {
    if (!c.ended && !still.has(c.id)) {
      const text = t('youLeft');
      addNotice(c, text, false, 'ended');
      markEnded(c, text);
    }
  }
}

function onMsg(m) {
  const c = chatFor(m);
  if (!c || typeof m.text !== 'string') return;
  if (Number.isInteger(m.seq)) {
    if (m.seq <= c.lastSeq) return;
    c.lastSeq = m.seq;
  }
  const fromVisitor = m.from === 'visitor';
  const who = fromVisitor ? visitorName(c) : m.alias || '';
  const mine = !fromVisitor && me && m.alias === me.alias;
  if (fromVisitor) hideTyping(c); else if (m.alias) hideTyping(c, m.alias);
  addMessage(c, who, m.text, mine ? 'msg msg-mine' : 'msg msg-theirs', m.ts);
  const history = replayChat === c;
  if (history) {
    clearTimeout(replayTimer);
    replayTimer = setTimeout(() => { replayChat = null; }, REPLAY_QUIET_MS);
  }
  if (!mine && !history && !isSeen(c)) {
    c.unread += 1;
    renderUnread(c);
    notify('message');
  }
}

function onTyping(m) {
  const c = chatFor(m);
  if (!c || c.ended) return;
  const who = typeof m.alias === 'string' && m.alias ? m.alias : visitorName(c);
  if (m.on) {
    clearTimeout(c.typers.get(who));
    c.typers.set(who, setTimeout(() => hideTyping(c, who), TYPING_SHOW_MS));
  } else {
    clearTimeout(c.typers.get(who));
    c.typers.delete(who);
  }
  renderTyping(c);
}

function renderTyping(c) {
  const names = [...c.typers.keys()];
  c.typing.hidden = names.length === 0;
  c.typing.textContent = names.map((who) => t('typing', { who })).join(' ');
}

function hideTyping(c, who) {
  if (who === undefined) {
    for (const timer of c.typers.values()) clearTimeout(timer);
    c.typers.clear();
  } else {
    clearTimeout(c.typers.get(who));
    c.typers.delete(who);
  }
  renderTyping(c);
}

function onJoined(m) {
  const c = chatFor(m);
  const alias = m.staff && typeof m.staff.alias === 'string' ? m.staff.alias : m.alias;
  if (c && typeof alias === 'string') addNotice(c, t('joined', { alias }), false, 'joined');
}

function onLeft(m) {
  const c = chatFor(m);
  if (!c) return;
  // `you`: it is us who left (our transfer went through); the chat is no
  // longer ours.
  if (m.you === true) {
    addNotice(c, t('youLeft'));
    markEnded(c, t('youLeft'));
    return;
  }
  const alias = m.staff && typeof m.staff.alias === 'string' ? m.staff.alias : m.alias;
  if (typeof alias === 'string') {
    hideTyping(c, alias);
    addNotice(c, t('left', { alias }), false, 'left');
  }
}

function onEnded(m) {
  const c = chatFor(m);
  if (!c) return;
  if (m.by === 'quick_exit' || m.quick_exit === true) {
    // The visitor had to leave in a hurry: say so plainly in the panel.
    const text = t('quickExitEnded') || t('ended', { by: t('endedBy.quick_exit') });
    addNotice(c, text, true, 'quick-exit');
    markEnded(c, text);
    c.panel.classList.add('chat-quick-exit');
  } else {
    const by = t(`endedBy.${m.by}`) || String(m.by || '');
    const text = t('ended', { by });
    addNotice(c, text, false, 'ended');
    markEnded(c, text);
  }
  if (!isSeen(c)) {
    c.unread += 1;
    renderUnread(c);
  }
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
    (codeMode ? el.codeError : el.loginError).textContent = message;
    el.loginSubmit.disabled = false;
    el.codeSubmit.disabled = false;
    return;
  }
  const req = typeof m.id === 'string' ? requests.get(m.id) : null;
  if (req) requests.delete(m.id);
  const c = chatFor(m) || (req && chats.get(req.chat));
  if (c) {
    if (req && req.kind === 'msg' && !c.composer.value) c.composer.value = req.text;
    if (req && (req.kind === 'invite' || req.kind === 'transfer') && m.code === 'not_found') {
      // Nobody online matched: say so as for a request that failed later.
      onRequestFailed({ chat: c.id, kind: req.kind, reason: 'nobody' });
      return;
    }
    addNotice(c, message, true);
  } else {
    setStatus(message);
  }
  if (req && req.kind === 'status') el.available.checked = el.available.dataset.confirmed === 'true';
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
  const n = ++chatSerial;
  const panel = el.chatTemplate.content.firstElementChild.cloneNode(true);
  const part = (name) => panel.querySelector(`[data-part="${name}"]`);
  c = {
    id, n, lang: '', dir: 'ltr', visitor: '', topic: '', lastSeq: 0, ended: false, closedByUs: false,
    typingSent: false, unread: 0, typers: new Map(), canned: [],
    panel,
    h: part('title'),
    unreadEl: part('unread'),
    topicEl: part('topic'),
    state: part('state'),
    list: part('list'),
    typing: part('typing'),
    form: part('form'),
    composer: part('composer'),
    sendBtn: part('send'),
    hint: part('hint'),
    cannedBox: part('canned'),
    groups: part('groups'),
    invite: part('invite'),
    transfer: part('transfer'),
    end: part('end'),
    block: part('block'),
  };
  panel.dataset.chat = id;
  panel.id = `chat-${n}`;
  c.h.id = `chat-${n}-title`;
  panel.setAttribute('aria-labelledby', c.h.id);
  c.list.setAttribute('aria-labelledby', c.h.id);
  c.composer.id = `chat-${n}-text`;
  part('composer-label').htmlFor = c.composer.id;
  c.hint.id = `chat-${n}-hint`;
  c.composer.setAttribute('aria-describedby', c.hint.id);
  applyLabels(panel, UI);

  c.form.addEventListener('submit', (ev) => { ev.preventDefault(); sendChatMessage(c); });
  c.composer.addEventListener('keydown', (ev) => onComposerKey(c, ev));
  c.composer.addEventListener('input', () => {
    renderHint(c);
    if (c.ended) return;
    if (!c.composer.value) { stopTyping(c, true); return; }
    if (!c.typingSent) c.typingSent = send({ type: 'typing', chat: id, on: true }) !== null;
    clearTimeout(c.typingTimer);
    c.typingTimer = setTimeout(() => stopTyping(c, true), TYPING_IDLE_MS);
  });
  c.invite.addEventListener('click', () => openRequest(c, 'invite'));
  c.transfer.addEventListener('click', () => openRequest(c, 'transfer'));
  c.end.addEventListener('click', () => {
    if (c.ended) closeChat(c); else openEnd(c);
  });
  c.block.addEventListener('click', () => { if (!c.ended) openBlock(c); });
  // Whatever someone does in a panel makes it the chat they are reading.
  panel.addEventListener('focusin', () => markRead(c));
  panel.addEventListener('pointerdown', () => markRead(c));

  el.chats.append(panel);
  chats.set(id, c);
  if (!activeChat || !chats.has(activeChat)) activeChat = id;
  renderChatHeader(c);
  renderTabs();
  return c;
}

function renderChatHeader(c) {
  c.h.textContent = t('chatHeader', { visitor: visitorName(c), lang: langName(c.lang) });
  c.topicEl.textContent = c.topic ? topicName(c.topic) : '';
  c.composer.dir = c.dir;
  if (c.lang) c.composer.lang = c.lang;
  c.composer.placeholder = t('cannedSearch');
  // The hints hold the chat's language: its direction.
  c.hint.dir = c.dir;
  renderUnread(c);
}

function onComposerKey(c, ev) {
  if (ev.isComposing || ev.keyCode === 229) return;
  const plain = !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey;
  if ((ev.key === 'Tab' || ev.key === 'Enter') && plain) {
    // "/keyword" then Tab or Enter puts in the prepared answer.
    const at = keywordAtCaret(c.composer);
    const answer = at && findAnswer(c.canned, at.word);
    if (answer) {
      ev.preventDefault();
      insertText(c.composer, answer.text, at.start, at.end);
      return;
    }
  }
  if (ev.key === 'Enter' && plain) {
    ev.preventDefault();
    sendChatMessage(c);
  } else if (ev.key === 'Escape' && !c.hint.hidden) {
    c.hint.hidden = true;
  }
}

// Under the composer, while "/wor" is being typed: the answers it may mean.
function renderHint(c) {
  const at = keywordAtCaret(c.composer);
  const list = at ? suggestions(c.canned, at.word) : [];
  c.hint.replaceChildren();
  for (const a of list) {
    const li = document.createElement('li');
    const key = document.createElement('span');
    key.className = 'canned-key';
    key.dir = 'ltr';
    key.textContent = `/${a.keyword}`;
    const text = document.createElement('span');
    text.className = 'canned-preview';
    text.dir = 'auto';
    if (c.lang) text.lang = c.lang;
    text.textContent = a.text;
    li.append(key, ' ', text);
    c.hint.append(li);
  }
  c.hint.hidden = list.length === 0;
}

// The chat's prepared answers come from the bundle of the chat's language.
async function loadCanned(c) {
  if (!c.lang) return;
  let b = null;
  try { b = await fetchBundle(c.lang); } catch { /* offline: none for now */ }
  if (!b || !chats.has(c.id)) return;
  c.canned = cannedGroups(b, c.topic);
  c.cannedBundle = b;
  renderCanned(c);
}

function renderCanned(c) {
  c.groups.replaceChildren();
  c.cannedBox.hidden = c.canned.length === 0;
  for (const g of c.canned) {
    const { answers } = g;
    const section = document.createElement('section');
    section.className = 'canned-group';
    const h = document.createElement('h3');
    h.id = `chat-${c.n}-canned-${g.group}`;
    h.textContent = groupName(g.group, c);
    const ul = document.createElement('ul');
    ul.setAttribute('aria-labelledby', h.id);
    for (const a of answers) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'canned-answer';
      b.dataset.testid = 'canned-answer';
      b.dataset.keyword = a.keyword;
      b.dir = c.dir;
      const key = document.createElement('span');
      key.className = 'canned-key';
      key.dir = 'ltr';
      key.textContent = `/${a.keyword}`;
      const text = document.createElement('span');
      text.className = 'canned-text';
      text.dir = 'auto';
      if (c.lang) text.lang = c.lang;
      text.textContent = a.text;
      b.append(key, ' ', text);
      b.addEventListener('click', () => {
        if (c.ended) return;
        insertText(c.composer, a.text);
      });
      li.append(b);
      ul.append(li);
    }
    section.append(h, ul);
    c.groups.append(section);
  }
}

// A group's title in the console's language, else in the chat's language.
function groupName(group, c) {
  const own = bundle && bundle.cannedGroup && bundle.cannedGroup[group];
  if (typeof own === 'string') return own;
  const theirs = c.cannedBundle && c.cannedBundle.cannedGroup && c.cannedBundle.cannedGroup[group];
  if (typeof theirs === 'string') return theirs;
  return topicName(group);
}

function sendChatMessage(c) {
  const text = c.composer.value;
  if (c.ended || !text.trim()) return;
  const id = send({ type: 'msg', chat: c.id, text });
  if (id === null) return;
  track(id, { chat: c.id, kind: 'msg', text });
  c.composer.value = '';
  c.hint.hidden = true;
  stopTyping(c, true);
  c.composer.focus();
}

function stopTyping(c, tell) {
  clearTimeout(c.typingTimer);
  if (c.typingSent && tell) send({ type: 'typing', chat: c.id, on: false });
  c.typingSent = false;
}

function markEnded(c, text) {
  c.ended = true;
  stopTyping(c, false);
  hideTyping(c);
  c.panel.classList.add('chat-ended');
  c.state.textContent = text || '';
  for (const node of [c.composer, c.sendBtn, c.invite, c.transfer, c.block]) node.disabled = true;
  c.cannedBox.open = false;
  c.hint.hidden = true;
  c.end.dataset.i18n = 'close';
  c.end.textContent = t('close');
  c.end.classList.remove('danger');
  c.end.disabled = false;
  if (el.requestDialog.open && dialogChat === c) el.requestDialog.close();
  if (el.endDialog.open && dialogChat === c) el.endDialog.close();
  if (el.blockDialog.open && dialogChat === c) el.blockDialog.close();
  renderTabs();
}

// A chat we had marked as over came back (a transfer back to us, a resume).
function reopenChat(c) {
  c.ended = false;
  c.panel.classList.remove('chat-ended', 'chat-quick-exit');
  c.state.textContent = '';
  for (const node of [c.composer, c.sendBtn, c.invite, c.transfer, c.block]) node.disabled = false;
  c.end.dataset.i18n = 'end';
  c.end.textContent = t('end');
  c.end.classList.add('danger');
}

function closeChat(c) {
  const hadFocus = c.panel.contains(document.activeElement);
  c.closedByUs = true;
  c.panel.remove();
  c.tab?.remove();
  chats.delete(c.id);
  if (activeChat === c.id) activeChat = chats.size ? [...chats.keys()][0] : null;
  renderTabs();
  updateTitle();
  if (hadFocus) {
    const next = activeChat && chats.get(activeChat);
    if (next) { selectChat(next.id); (next.ended ? next.end : next.composer).focus(); } else $('offers-title').focus();
  }
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

function addNotice(c, text, error, kind) {
  if (!text) return;
  const li = document.createElement('li');
  li.className = error ? 'notice notice-error' : 'notice';
  if (kind) li.dataset.kind = kind;
  li.dir = 'auto';
  li.textContent = text;
  c.list.append(li);
  c.list.scrollTop = c.list.scrollHeight;
}

// ---- tabs, unread counts, title, sound ---------------------------------------
// On a narrow screen one chat shows at a time, chosen with the buttons above
// the chats (each with its unread count); on a wide one they sit side by
// side and the buttons are hidden.
function renderTabs() {
  el.chatSwitch.hidden = chats.size < 2;
  el.chats.dataset.count = String(chats.size);
  for (const c of chats.values()) {
    if (!c.tab) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'chat-tab';
      b.dataset.testid = 'chat-tab';
      b.setAttribute('aria-controls', c.panel.id);
      b.addEventListener('click', () => { selectChat(c.id); (c.ended ? c.end : c.composer).focus(); });
      li.append(b);
      c.tab = li;
      c.tabButton = b;
    }
    el.chatTabs.append(c.tab);
    const name = visitorName(c);
    c.tabButton.textContent = c.unread ? `${name} (${t('unread', { n: formatNumber(c.unread) })})` : name;
    c.tabButton.classList.toggle('has-unread', c.unread > 0);
    c.tabButton.classList.toggle('is-ended', c.ended);
    if (c.id === activeChat) c.tabButton.setAttribute('aria-current', 'true');
    else c.tabButton.removeAttribute('aria-current');
    c.panel.classList.toggle('chat-inactive', c.id !== activeChat);
  }
}

function selectChat(id) {
  if (!chats.has(id)) return;
  activeChat = id;
  renderTabs();
  markRead(chats.get(id));
}

// Is someone looking at this chat right now?
function isSeen(c) {
  if (document.visibilityState !== 'visible' || !document.hasFocus()) return false;
  if (c.id !== activeChat) return false;
  return true;
}

function markRead(c) {
  if (activeChat !== c.id) {
    activeChat = c.id;
    renderTabs();
  }
  if (c.unread) {
    c.unread = 0;
    renderUnread(c);
  }
}

function renderUnread(c) {
  c.unreadEl.hidden = c.unread === 0;
  c.unreadEl.textContent = c.unread ? t('unread', { n: formatNumber(c.unread) }) : '';
  if (c.tabButton) renderTabs();
  updateTitle();
}

// The window's title counts what waits (offers, unread messages); it never
// holds a message's words.
function updateTitle() {
  let n = offers.size;
  for (const c of chats.values()) n += c.unread;
  const title = t('title');
  if (!n) { document.title = title; return; }
  const num = formatNumber(n);
  document.title = t('unreadTitle', { n: num, title }) || t('offersCount', { n: num, title }) || title;
}

window.addEventListener('focus', () => {
  const c = activeChat && chats.get(activeChat);
  if (c) markRead(c);
});
document.addEventListener('visibilitychange', () => {
  const c = activeChat && chats.get(activeChat);
  if (c && document.visibilityState === 'visible' && document.hasFocus()) markRead(c);
});
WIDE.addEventListener('change', () => renderTabs());

let tones = 0;
function notify(kind) {
  if (!soundOn) return;
  if (playTone(kind)) {
    tones += 1;
    // For tests: how many tones were started (no content, just a count).
    document.body.dataset.tones = String(tones);
  }
}

function renderSound() {
  el.sound.textContent = t(soundOn ? 'soundOn' : 'soundOff');
  el.sound.setAttribute('aria-pressed', String(soundOn));
  el.sound.dataset.on = String(soundOn);
}

el.sound.addEventListener('click', () => {
  soundOn = !soundOn;
  store.set(soundOn ? 'on' : 'off', SOUND_KEY);
  renderSound();
  if (soundOn) { unlockSound(); notify('message'); }
});

// Browsers allow sound only after an interaction: any click or key unlocks.
for (const type of ['pointerdown', 'keydown']) {
  document.addEventListener(type, unlockSound, { capture: true, passive: true });
}

// ---- invite and transfer -----------------------------------------------------
let dialogChat = null;
let dialogKind = null;
let dialogOpener = null;

function openRequest(c, kind) {
  if (c.ended) return;
  dialogChat = c;
  dialogKind = kind;
  dialogOpener = document.activeElement;
  renderRequestDialog();
  // By role to begin with; "by person" lists who is online.
  el.requestByRole.checked = true;
  el.requestByUser.checked = false;
  syncRequestMode();
  el.requestDialog.showModal();
  el.requestByRole.focus();
}

function renderRequestDialog() {
  if (!dialogChat) return;
  el.requestTitle.textContent = t(dialogKind === 'invite' ? 'inviteTitle' : 'transferTitle');
  const keep = el.requestRole.value;
  el.requestRole.replaceChildren();
  const roles = Object.keys(UI.roles || {});
  roles.sort((a, b) => (ROLE_ORDER.indexOf(a) + 1 || 99) - (ROLE_ORDER.indexOf(b) + 1 || 99));
  for (const value of roles) {
    const opt = document.createElement('option');
    opt.value = value;
    opt.textContent = t(`roles.${value}`);
    el.requestRole.append(opt);
  }
  if (keep && roles.includes(keep)) el.requestRole.value = keep;
  renderPeople();
}

// Everyone else online, those who speak the chat's language first.
function renderPeople() {
  const c = dialogChat;
  if (!c) return;
  const chosen = el.requestPeople.querySelector('input:checked')?.value;
  el.requestPeople.replaceChildren();
  // Only colleagues who are available can be asked; the others are listed
  // (so one sees who is there) but cannot be chosen.
  const rank = (p) => (p.available ? 0 : 2) + (c.lang && p.langs.includes(c.lang) ? 0 : 1);
  const people = [...colleagues].sort((a, b) => rank(a) - rank(b) || a.alias.localeCompare(b.alias));
  people.forEach((p, i) => {
    const li = document.createElement('li');
    const id = `request-person-${i}`;
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'person';
    input.id = id;
    input.value = p.user;
    input.dataset.testid = 'request-person';
    input.dataset.alias = p.alias;
    input.disabled = !p.available;
    if (p.available && (p.user === chosen || (!chosen && i === 0))) input.checked = true;
    const label = document.createElement('label');
    label.htmlFor = id;
    const name = document.createElement('span');
    name.className = 'person-name';
    name.dir = 'auto';
    name.textContent = p.alias;
    const details = document.createElement('span');
    details.className = 'person-details muted';
    const roles = p.roles.map((r) => t(`roles.${r}`) || r).join(', ');
    const langs = p.langs.map(langShort).join(', ');
    details.textContent = [roles, langs, p.available ? t('available') : ''].filter(Boolean).join(' · ');
    label.append(name, ' ', details);
    li.append(input, label);
    input.addEventListener('change', renderRequestSubmit);
    el.requestPeople.append(li);
  });
  el.requestNone.hidden = people.length > 0;
  renderRequestSubmit();
}

function syncRequestMode() {
  const byUser = el.requestByUser.checked;
  el.requestRoleField.hidden = byUser;
  el.requestUserField.hidden = !byUser;
  renderRequestSubmit();
}

function chosenPerson() {
  const input = el.requestPeople.querySelector('input:checked');
  return input ? colleagues.find((p) => p.user === input.value) || null : null;
}

function renderRequestSubmit() {
  const invite = dialogKind === 'invite';
  const person = el.requestByUser.checked ? chosenPerson() : null;
  let text;
  if (person) text = t(invite ? 'inviteBy' : 'transferTo', { alias: person.alias });
  el.requestSubmit.textContent = text || t(invite ? 'invite' : 'transfer');
  el.requestSubmit.disabled = el.requestByUser.checked && !person;
}

el.requestByRole.addEventListener('change', syncRequestMode);
el.requestByUser.addEventListener('change', syncRequestMode);
// Whether the focus sits on a control other than the dialog's opener,
// outside any dialog: the user has moved on since the dialog closed.
function userMovedOn(opener) {
  const at = document.activeElement;
  return at && at !== document.body && at !== opener && !at.closest('dialog');
}

el.requestCancel.addEventListener('click', () => el.requestDialog.close());
el.requestDialog.addEventListener('close', () => {
  const back = dialogOpener;
  dialogOpener = null;
  // The close event comes a moment after the dialog shut: if the user has
  // already moved on (Tab), leave the focus where they put it.
  if (back && back.isConnected && !back.disabled && !userMovedOn(back)) back.focus();
});
el.requestForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const c = dialogChat;
  if (!c || c.ended) { el.requestDialog.close(); return; }
  let to;
  let note;
  const invite = dialogKind === 'invite';
  if (el.requestByUser.checked) {
    const person = chosenPerson();
    if (!person) return;
    to = { user: person.user };
    note = t(invite ? 'invited' : 'transferring');
  } else {
    to = { role: el.requestRole.value };
    note = t(invite ? 'invited' : 'transferring');
  }
  const rid = send({ type: dialogKind, chat: c.id, to });
  if (rid === null) return;
  track(rid, { chat: c.id, kind: dialogKind });
  addNotice(c, note);
  el.requestDialog.close();
});

// ---- ending with tags --------------------------------------------------------
async function openEnd(c) {
  dialogChat = c;
  dialogOpener = document.activeElement;
  if (!config) config = await fetchConfig();
  const topics = config && Array.isArray(config.topics) ? config.topics : Object.keys((bundle && bundle.topics) || {});
  el.endTags.replaceChildren();
  topics.forEach((id, i) => {
    if (typeof id !== 'string') return;
    const li = document.createElement('li');
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.id = `end-tag-${i}`;
    input.value = id;
    input.dataset.testid = `end-tag-${id}`;
    input.checked = id === c.topic;
    input.addEventListener('change', limitTags);
    const label = document.createElement('label');
    label.htmlFor = input.id;
    label.textContent = topicName(id);
    li.append(input, label);
    el.endTags.append(li);
  });
  limitTags();
  el.endDialog.showModal();
  const first = el.endTags.querySelector('input');
  if (first) first.focus();
}

// The protocol takes at most eight tags.
function limitTags() {
  const boxes = [...el.endTags.querySelectorAll('input')];
  const full = boxes.filter((b) => b.checked).length >= MAX_TAGS;
  for (const b of boxes) b.disabled = full && !b.checked;
}

el.endCancel.addEventListener('click', () => el.endDialog.close());
el.endDialog.addEventListener('close', () => {
  const back = dialogOpener;
  dialogOpener = null;
  // The close event comes a moment after the dialog shut: if the user has
  // already moved on (Tab), leave the focus where they put it.
  if (back && back.isConnected && !back.disabled && !userMovedOn(back)) back.focus();
});
el.endForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const c = dialogChat;
  if (c && !c.ended) {
    const tags = [...el.endTags.querySelectorAll('input:checked')].map((b) => b.value).slice(0, MAX_TAGS);
    track(send({ type: 'end', chat: c.id, tags }), { chat: c.id, kind: 'end' });
  }
  el.endDialog.close();
});

// Block: the visitor abuses the line. Asked once more, as it cannot be
// undone from the console and shuts out everyone on that connection.
function openBlock(c) {
  dialogChat = c;
  dialogOpener = document.activeElement;
  el.blockDialog.showModal();
  el.blockCancel.focus();
}

el.blockCancel.addEventListener('click', () => el.blockDialog.close());
el.blockDialog.addEventListener('close', () => {
  const back = dialogOpener;
  dialogOpener = null;
  if (back && back.isConnected && !back.disabled && !userMovedOn(back)) back.focus();
});
el.blockForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const c = dialogChat;
  if (c && !c.ended) track(send({ type: 'block', chat: c.id }), { chat: c.id, kind: 'block' });
  el.blockDialog.close();
});

function onBlocked(m) {
  const c = chatFor(m);
  if (c) c.state.textContent = t('blocked');
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
  el.loginForm.hidden = codeMode;
  el.codeForm.hidden = !codeMode;
  el.loginSubmit.disabled = false;
  el.codeSubmit.disabled = false;
  const err = codeMode ? el.codeError : el.loginError;
  err.textContent = message || err.textContent;
  setStatus('');
  (codeMode ? el.codeUser : el.loginUser).focus();
}

// "I have a code": the one-time code from a coordinator, a new password and
// the authenticator's code, in one login.
function showCodeForm(on) {
  codeMode = on;
  el.loginError.textContent = '';
  el.codeError.textContent = '';
  if (on && el.loginUser.value && !el.codeUser.value) el.codeUser.value = el.loginUser.value;
  showLogin(null);
}

function resetConsole() {
  for (const id of [...offers.keys()]) removeOffer(id);
  for (const c of [...chats.values()]) closeChat(c);
  colleagues = [];
  el.available.checked = false;
  delete el.available.dataset.confirmed;
  el.whoami.textContent = '';
  if (el.requestDialog.open) el.requestDialog.close();
  if (el.endDialog.open) el.endDialog.close();
  coordReset();
  updateTitle();
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

// A language by its name in the console's language and by its own name
// ("Dutch (Nederlands)"; once when they are the same), a topic by its label.
function langName(code) {
  const named = bundle && bundle.langName && bundle.langName[code];
  const own = bundle && bundle.languages[code];
  if (typeof named === 'string' && typeof own === 'string' && named !== own) return `${named} (${own})`;
  if (typeof named === 'string') return named;
  return typeof own === 'string' ? own : code || '';
}

// The daemon's label for the visitor of a chat ("Visitor 7": a number for
// this chat only) in the console's language: the `visitor` label and the
// number.
function visitorName(c) {
  const raw = c.visitor || '';
  const m = /(\d+)\s*$/.exec(raw);
  const n = Number.isInteger(c.visitorNo) ? c.visitorNo : m ? Number(m[1]) : null;
  const word = t('visitor');
  if (n !== null && word) return `${word} ${formatNumber(n)}`;
  return raw || word;
}

function langShort(code) {
  const named = bundle && bundle.langName && bundle.langName[code];
  const own = bundle && bundle.languages[code];
  return typeof named === 'string' ? named : typeof own === 'string' ? own : code;
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
// Show a bundle: every data-i18n label (also in open chats, offers and the
// dialogs), the texts made from labels, the title, and <html lang dir>.
function useBundle(b) {
  bundle = b;
  UI = b.staff;
  setDocumentLanguage(b);
  renderLangSelect();
  applyLabels(document.body, UI);
  renderWhoami();
  renderSound();
  for (const o of offers.values()) renderOffer(o);
  for (const c of chats.values()) { renderChatHeader(c); renderCanned(c); }
  renderTabs();
  if (dialogChat && el.requestDialog.open) renderRequestDialog();
  if (statusLabel) el.status.textContent = statusLabel();
  updateOffersChrome();
  coordRelabel();
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
  link.resetBackoff();
  connect();
});

el.haveCode.addEventListener('click', () => showCodeForm(true));
el.codeBack.addEventListener('click', () => showCodeForm(false));
el.codeForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  el.codeError.textContent = '';
  credentials = {
    user: el.codeUser.value.trim(),
    password: el.codePassword.value,
    totp: el.codeTotp.value.trim(),
    resetCode: el.codeCode.value.trim(),
  };
  el.codePassword.value = '';
  el.codeTotp.value = '';
  el.codeCode.value = '';
  el.codeSubmit.disabled = true;
  link.resetBackoff();
  connect();
});

el.available.addEventListener('change', () => {
  delete el.available.dataset.confirmed;
  const id = send({ type: 'status', available: el.available.checked });
  if (id === null) el.available.checked = !el.available.checked; else track(id, { kind: 'status' });
});

el.logout.addEventListener('click', () => {
  link.send({ type: 'logout' });
  wantOpen = false;
  forgetSession();
  loggedIn = false;
  link.close(1000);
  resetConsole();
  showLogin(null);
  setStatus(() => t('loggedOut'));
});

// No "leave this page?" prompt: a reload gives the chats back (the daemon
// keeps them for a grace period and the token resumes the session).

initCoord({
  send,
  t,
  setStatus,
  bundle: () => bundle,
  config: () => config,
  langName,
  langShort,
  topicName,
  formatNumber,
});

// First the labels (the language picked earlier in this tab, else the
// browser's), then the session or the login form.
{
  const picked = store.get(LANG_KEY);
  firstBundle([...(picked ? [picked] : []), ...browserLanguages()]).then((b) => {
    useBundle(b);
    if (token) connect(); else showLogin(null);
  });
  fetchConfig().then((c) => { config = c; });
}
