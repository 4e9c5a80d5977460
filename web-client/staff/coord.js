// The console's pages beyond the chats: "My shifts" with the handover notes
// (every staff member), and for coordinators the live dashboard, the shift
// roster, staff accounts and the anonymous statistics.
//
// staff.js owns the socket and the labels; it calls initCoord() once with
// what this module needs, coordSession() after each `session`,
// coordHandle() with every frame it does not handle itself (and every
// error), coordRelabel() when the console's language changes and
// coordReset() on logout. Nothing here is kept beyond the page.

import { chart, legend } from './charts.js';
import { importSvg } from './svg.js';

const $ = (id) => document.getElementById(id);
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']; // ISO 1..7
const ROLES = ['volunteer', 'keyperson', 'professional', 'coordinator'];
const OUTCOMES = ['answered', 'left_queue', 'arrived_closed', 'quick_exit'];
const DEFAULT_TZ = 'Europe/Amsterdam';

let api = null;         // from staff.js: send, t, bundle, langName, ...
let me = null;
let isCoord = false;
let page = 'chats';
const pending = new Map(); // request id -> {kind, onError}

// What the daemon told us last, to re-render on a change of language.
const state = {
  dashboard: null,
  dashWaiting: null,
  roster: null,
  staff: [],
  audit: [],
  stats: null,
  shifts: null,
  ical: null,
  notes: [],
  handout: null,
  coverageLang: null,
};

const el = {};
for (const id of ['pages', 'console', 'page-shifts', 'page-dashboard', 'page-roster', 'page-accounts',
  'page-statistics', 'shifts-none', 'shifts-list', 'shifts-ical', 'shifts-feed', 'shifts-feed-hint', 'shifts-feed-url', 'handover-none', 'handover-list',
  'handover-form', 'handover-text', 'handover-clear', 'dash-summary', 'dash-rows', 'onshift-none',
  'onshift-list', 'missing-none', 'missing-list', 'roster-tz', 'week', 'pattern-new', 'coverage-lang',
  'coverage', 'gaps-list', 'exceptions-list', 'exception-form', 'exception-pattern', 'exception-date',
  'closures-list', 'closure-form', 'closure-from', 'closure-to', 'closure-note', 'account-new',
  'accounts-rows', 'handout', 'handout-title', 'handout-code', 'handout-qr-box', 'handout-qr',
  'handout-uri-box', 'handout-uri', 'handout-done', 'audit-rows', 'stats-form', 'stats-from', 'stats-to',
  'stats-csv', 'stats-note', 'stats-charts', 'account-dialog', 'account-form', 'account-title',
  'account-user', 'account-alias', 'account-roles', 'account-langs', 'account-topics', 'account-max',
  'account-disabled', 'account-disabled-box', 'account-error', 'account-cancel', 'pattern-dialog',
  'pattern-form', 'pattern-title', 'pattern-weekly', 'pattern-once', 'pattern-weekday-field',
  'pattern-weekday', 'pattern-date-field', 'pattern-date', 'pattern-start', 'pattern-end', 'pattern-langs',
  'pattern-staff', 'pattern-staff-none', 'pattern-error', 'pattern-delete', 'pattern-cancel']) {
  el[id.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = $(id);
}

const t = (key, vars) => api.t(`coord.${key}`, vars);
const ts = (key, vars) => api.t(key, vars); // a label of the console itself

function request(obj, kind, onError) {
  const id = api.send(obj);
  if (id !== null) pending.set(id, { kind, onError });
  return id;
}

// ---- wiring from staff.js ---------------------------------------------------
export function initCoord(deps) {
  api = deps;
  for (const b of el.pages.querySelectorAll('button[data-page]')) {
    b.addEventListener('click', () => showPage(b.dataset.page, true));
  }
  wireShifts();
  wireRoster();
  wireAccounts();
  wireStats();
}

export function coordSession(user) {
  me = user || {};
  isCoord = Array.isArray(me.roles) && me.roles.includes('coordinator');
  for (const li of el.pages.querySelectorAll('[data-coord]')) li.hidden = !isCoord;
  el.pages.hidden = false;
  document.body.dataset.coord = String(isCoord);
  if (!isCoord && page !== 'chats' && page !== 'shifts') page = 'chats';
  // Nothing is asked for until a page needs it: every message counts
  // against the socket's rate limit, which the chats need more.
  showPage(page, false);
}

export function coordReset() {
  me = null;
  isCoord = false;
  page = 'chats';
  el.pages.hidden = true;
  for (const id of ['pageShifts', 'pageDashboard', 'pageRoster', 'pageAccounts', 'pageStatistics']) el[id].hidden = true;
  for (const d of [el.accountDialog, el.patternDialog]) if (d.open) d.close();
  Object.assign(state, {
    dashboard: null, dashWaiting: null, roster: null, staff: [], audit: [], stats: null, shifts: null,
    ical: null, notes: [], handout: null,
  });
  pending.clear();
  renderAll();
}

export function coordRelabel() {
  renderAll();
}

// Frames for this module; true when it took the frame.
export function coordHandle(m) {
  const req = typeof m.id === 'string' ? pending.get(m.id) : null;
  if (req) pending.delete(m.id);
  switch (m.type) {
    case 'dashboard': state.dashboard = m; renderDashboard(); return true;
    case 'handover': state.notes = Array.isArray(m.notes) ? m.notes : []; renderNotes(); return true;
    case 'my_shifts':
      state.shifts = Array.isArray(m.shifts) ? m.shifts : [];
      state.ical = typeof m.ical === 'string' ? m.ical : null;
      renderShifts();
      return true;
    case 'ical_feed':
      if (typeof m.path === 'string') {
        // Shown, not stored: the link is as private as a password.
        el.shiftsFeedUrl.textContent = `${location.origin}${m.path}`;
        el.shiftsFeedHint.hidden = false;
      }
      return true;
    case 'roster': state.roster = m; renderRoster(); return true;
    case 'staff_list':
      state.staff = Array.isArray(m.staff) ? m.staff : [];
      renderAccounts();
      if (state.handout) renderHandout();
      if (el.patternDialog.open) renderPatternStaff();
      if (req && req.kind === 'staff_update') { el.accountDialog.close(); loadAudit(); }
      return true;
    case 'staff_created':
      el.accountDialog.close();
      showHandout('created', m);
      request({ type: 'staff_list' }, 'staff_list');
      loadAudit();
      return true;
    case 'staff_reset': showHandout('reset', m); loadAudit(); return true;
    case 'totp_reset': showHandout('totp', m); loadAudit(); return true;
    case 'audit': state.audit = Array.isArray(m.entries) ? m.entries : []; renderAudit(); return true;
    case 'stats': state.stats = m; renderStats(); return true;
    case 'stats_csv': download(m.filename || 'brug-statistics.csv', m.csv, 'text/csv'); return true;
    case 'error':
      if (!req) return false;
      if (req.onError) req.onError(m);
      else api.setStatus(typeof m.message === 'string' && m.message ? m.message : String(m.code || ''));
      return true;
    default:
      return false;
  }
}

// ---- pages --------------------------------------------------------------------
const PAGES = {
  chats: 'console', shifts: 'pageShifts', dashboard: 'pageDashboard', roster: 'pageRoster',
  accounts: 'pageAccounts', statistics: 'pageStatistics',
};

function showPage(name, focus) {
  if (!PAGES[name]) return;
  page = name;
  for (const [n, key] of Object.entries(PAGES)) el[key].hidden = n !== name;
  for (const b of el.pages.querySelectorAll('button[data-page]')) {
    if (b.dataset.page === name) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  }
  // Quiet when it fails: the page then just has no shifts to show.
  if (name === 'shifts') request({ type: 'my_shifts' }, 'my_shifts', () => {});
  if (name === 'roster') { loadRoster(); request({ type: 'staff_list' }, 'staff_list'); }
  if (name === 'accounts') { request({ type: 'staff_list' }, 'staff_list'); loadAudit(); }
  if (name === 'statistics' && !state.stats) loadStats();
  if (focus) {
    const h = el[PAGES[name]].querySelector('h2[tabindex="-1"]');
    if (h) h.focus();
  }
}

function renderAll() {
  renderNotes();
  renderShifts();
  renderDashboard();
  renderRoster();
  renderAccounts();
  renderAudit();
  renderHandout();
  renderStats();
  if (el.accountDialog.open) renderAccountChoices();
  if (el.patternDialog.open) { renderPatternChoices(); renderPatternStaff(); }
}

// ---- formatting ---------------------------------------------------------------
function lang() { return api.bundle() ? api.bundle().lang : 'en'; }

// Intl in the console's language; a 24-hour clock and digits where this
// browser has no data for it (never another language's words).
function dateFormat(opts) {
  const l = lang();
  try {
    if (Intl.DateTimeFormat.supportedLocalesOf([l]).length) return new Intl.DateTimeFormat(l, opts);
  } catch { /* below */ }
  const { weekday, month, ...rest } = opts;
  return new Intl.DateTimeFormat('en-GB', { ...rest, ...(month ? { month: '2-digit' } : {}), hourCycle: 'h23' });
}

function tz() {
  return (state.roster && typeof state.roster.tz === 'string' && state.roster.tz) || DEFAULT_TZ;
}

function fmtTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  try { return dateFormat({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: tz() }).format(d); } catch { return ''; }
}

function fmtDateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso || '');
  try {
    return dateFormat({ day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: tz() }).format(d);
  } catch { return String(iso); }
}

// A calendar date "2026-12-01" with its weekday from the labels.
function parseDay(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(s || ''));
  return m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
}

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

function weekdayOf(d) {
  return ((d.getUTCDay() + 6) % 7) + 1; // ISO: Monday 1 .. Sunday 7
}

function fmtDay(s) {
  const d = typeof s === 'string' ? parseDay(s) : s;
  if (!d) return String(s || '');
  let date;
  try { date = dateFormat({ day: 'numeric', month: 'short', timeZone: 'UTC' }).format(d); } catch { date = isoDay(d); }
  return t('dayDate', { day: t(`weekdays.${WEEKDAYS[weekdayOf(d) - 1]}`), date });
}

function num(n) { return api.formatNumber(n); }

function duration(s) {
  if (!Number.isFinite(s)) return '';
  if (s < 60) return ts('seconds', { n: num(Math.round(s)) });
  return t('minutes', { n: num(Math.floor(s / 60)) });
}

function clear(node) { node.replaceChildren(); }

function elt(tag, props = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') n.textContent = v;
    else if (k === 'class') n.className = v;
    else if (k === 'testid') n.dataset.testid = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'scope' || k === 'for') n.setAttribute(k, v);
    else n[k] = v;
  }
  n.append(...kids.filter((k) => k !== null && k !== undefined));
  return n;
}

function langList(codes) {
  return (Array.isArray(codes) ? codes : []).map((c) => api.langShort(c)).join(', ');
}

function configuredLangs() {
  const c = api.config();
  if (c && Array.isArray(c.languages)) return c.languages;
  return Object.keys((api.bundle() && api.bundle().languages) || {});
}

function configuredTopics() {
  const c = api.config();
  if (c && Array.isArray(c.topics)) return c.topics;
  return Object.keys((api.bundle() && api.bundle().topics) || {});
}

function download(name, text, mime) {
  if (typeof text !== 'string') return;
  const safe = String(name).replace(/[^A-Za-z0-9._-]/g, '_') || 'download';
  const url = URL.createObjectURL(new Blob([text], { type: `${mime};charset=utf-8` }));
  const a = elt('a', { href: url, download: safe });
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// ---- my shifts and handover notes -------------------------------------------
function wireShifts() {
  el.shiftsIcal.addEventListener('click', () => {
    if (state.ical) download('brug-shifts.ics', state.ical, 'text/calendar');
  });
  // A private feed URL for calendar apps; asking again retires the old one.
  el.shiftsFeed.addEventListener('click', () => request({ type: 'ical_feed' }, 'ical_feed'));
  el.handoverForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = el.handoverText.value.trim();
    if (!text) return;
    if (request({ type: 'handover_set', text }, 'handover') !== null) {
      el.handoverText.value = '';
      api.setStatus(() => t('saved'));
    }
  });
  el.handoverClear.addEventListener('click', () => {
    if (request({ type: 'handover_set', text: '' }, 'handover') !== null) api.setStatus(() => t('noteRemoved'));
  });
}

function renderShifts() {
  clear(el.shiftsList);
  const list = state.shifts || [];
  el.shiftsNone.hidden = list.length > 0;
  for (const s of list) {
    el.shiftsList.append(elt('li', { testid: 'shift', dir: 'auto' }, t('shiftItem', {
      when: fmtDateTime(s.start), end: fmtTime(s.end), langs: langList(s.langs),
    })));
  }
  el.shiftsIcal.disabled = !state.ical;
}

function renderNotes() {
  clear(el.handoverList);
  el.handoverNone.hidden = state.notes.length > 0;
  for (const n of state.notes) {
    if (!n || typeof n.text !== 'string') continue;
    const li = elt('li', { testid: 'handover-note' },
      elt('p', { class: 'note-meta muted', dir: 'auto', text: t('noteBy', { alias: String(n.alias || ''), time: fmtDateTime(n.ts) }) }),
      elt('p', { class: 'note-text', dir: 'auto', text: n.text }));
    el.handoverList.append(li);
  }
}

// ---- dashboard ------------------------------------------------------------------
const DASH_FIELDS = ['waiting', 'longest_wait_s', 'online', 'available', 'busy', 'chats', 'offers'];

function renderDashboard() {
  const d = state.dashboard;
  clear(el.dashRows);
  const langs = d && d.languages && typeof d.languages === 'object' ? d.languages : {};
  const order = [...configuredLangs().filter((l) => l in langs), ...Object.keys(langs).filter((l) => !configuredLangs().includes(l))];
  let waiting = 0;
  let longest = 0;
  for (const code of order) {
    const row = langs[code] || {};
    const tr = elt('tr', { testid: 'dash-row', 'data-lang': code }, elt('th', { scope: 'row', text: api.langName(code) }));
    for (const f of DASH_FIELDS) {
      const v = Number.isFinite(row[f]) ? row[f] : 0;
      const td = elt('td', { 'data-field': f, text: f === 'longest_wait_s' ? (v ? duration(v) : '–') : num(v) });
      if (f === 'waiting' && v > 0) td.classList.add('attention');
      tr.append(td);
    }
    el.dashRows.append(tr);
    waiting += Number.isFinite(row.waiting) ? row.waiting : 0;
    longest = Math.max(longest, Number.isFinite(row.longest_wait_s) ? row.longest_wait_s : 0);
  }
  // The live region changes only when the number of waiting visitors does,
  // not every second with the longest wait.
  if (!d) el.dashSummary.textContent = t('dashNoData');
  else if (waiting !== state.dashWaiting || !el.dashSummary.textContent) {
    el.dashSummary.textContent = t('dashSummary', { n: num(waiting) });
  }
  state.dashWaiting = d ? waiting : null;
  el.dashSummary.dataset.waiting = String(waiting);

  clear(el.onshiftList);
  const on = d && Array.isArray(d.on_shift) ? d.on_shift : [];
  el.onshiftNone.hidden = on.length > 0;
  for (const s of on) {
    const state2 = s.online ? t('online') : t('notOnline');
    el.onshiftList.append(elt('li', { testid: 'onshift', dir: 'auto', 'data-online': String(Boolean(s.online)) },
      t('onShiftItem', { alias: String(s.alias || s.user || ''), langs: langList(s.langs), until: fmtTime(s.until), state: state2 })));
  }
  clear(el.missingList);
  const missing = d && Array.isArray(d.missing) ? d.missing : [];
  el.missingNone.hidden = missing.length > 0;
  for (const s of missing) {
    // A flag in words and a symbol, not by colour alone.
    el.missingList.append(elt('li', { testid: 'missing', dir: 'auto' },
      elt('span', { class: 'flag', 'aria-hidden': 'true', text: '⚑ ' }),
      t('missingItem', { alias: String(s.alias || s.user || '') })));
  }
}

// ---- roster -----------------------------------------------------------------------
function loadRoster() {
  request({ type: 'roster_get', days: 14 }, 'roster');
}

function wireRoster() {
  el.patternNew.addEventListener('click', () => openPattern(null));
  el.patternWeekly.addEventListener('change', syncPatternMode);
  el.patternOnce.addEventListener('change', syncPatternMode);
  el.patternCancel.addEventListener('click', () => el.patternDialog.close());
  el.patternDelete.addEventListener('click', () => {
    const p = patternEditing;
    if (!p) return;
    request({ type: 'pattern_delete', pattern: p.id }, 'roster', patternError);
    el.patternDialog.close();
  });
  el.patternForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const msg = { type: patternEditing ? 'pattern_update' : 'pattern_add' };
    // The request's own `id` is the reply's tag: the shift goes by `pattern`.
    if (patternEditing) msg.pattern = patternEditing.id;
    if (el.patternOnce.checked) {
      if (!el.patternDate.value) { el.patternDate.focus(); return; }
      msg.date = el.patternDate.value;
    } else {
      msg.weekday = Number(el.patternWeekday.value);
    }
    msg.start = el.patternStart.value;
    msg.end = el.patternEnd.value;
    msg.langs = [...el.patternLangs.querySelectorAll('input:checked')].map((i) => i.value);
    msg.staff = [...el.patternStaff.querySelectorAll('input:checked')].map((i) => i.value);
    if (!msg.langs.length) {
      el.patternError.textContent = t('chooseLanguage');
      el.patternLangs.querySelector('input')?.focus();
      return;
    }
    el.patternError.textContent = '';
    const id = request(msg, 'roster', patternError);
    if (id !== null) patternWaiting = id;
  });
  el.patternDialog.addEventListener('close', () => {
    patternEditing = null;
    patternWaiting = null;
    if (patternOpener && patternOpener.isConnected) patternOpener.focus();
    patternOpener = null;
  });
  el.coverageLang.addEventListener('change', () => {
    state.coverageLang = el.coverageLang.value;
    renderCoverage();
  });
  el.exceptionForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    request({ type: 'exception_add', pattern: Number(el.exceptionPattern.value), date: el.exceptionDate.value }, 'roster');
  });
  el.closureForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const msg = { type: 'closure_add', from: el.closureFrom.value, to: el.closureTo.value };
    const note = el.closureNote.value.trim();
    if (note) msg.note = note;
    if (request(msg, 'roster') !== null) el.closureNote.value = '';
  });
}

let patternEditing = null;
let patternWaiting = null;
let patternOpener = null;

function patternError(m) {
  el.patternError.textContent = typeof m.message === 'string' && m.message ? m.message : String(m.code || '');
  if (!el.patternDialog.open) api.setStatus(el.patternError.textContent);
}

function openPattern(p) {
  patternEditing = p;
  patternOpener = document.activeElement;
  el.patternError.textContent = '';
  renderPatternChoices();
  el.patternTitle.textContent = t(p ? 'patternEdit' : 'patternAdd');
  el.patternDelete.hidden = !p;
  const once = Boolean(p && p.date);
  el.patternOnce.checked = once;
  el.patternWeekly.checked = !once;
  el.patternWeekday.value = String(p && p.weekday ? p.weekday : 1);
  el.patternDate.value = p && p.date ? p.date : '';
  el.patternStart.value = p ? p.start : '';
  el.patternEnd.value = p ? p.end : '';
  for (const i of el.patternLangs.querySelectorAll('input')) i.checked = Boolean(p && p.langs && p.langs.includes(i.value));
  // A fresh list: the shift's own staff, nobody from the last dialog.
  clear(el.patternStaff);
  renderPatternStaff();
  syncPatternMode();
  el.patternDialog.showModal();
  el.patternWeekly.focus();
}

function syncPatternMode() {
  el.patternWeekdayField.hidden = el.patternOnce.checked;
  el.patternDateField.hidden = !el.patternOnce.checked;
}

function renderPatternChoices() {
  const day = el.patternWeekday.value;
  clear(el.patternWeekday);
  WEEKDAYS.forEach((k, i) => el.patternWeekday.append(elt('option', { value: String(i + 1), text: t(`weekdays.${k}`) })));
  if (day) el.patternWeekday.value = day;
  const checked = new Set([...el.patternLangs.querySelectorAll('input:checked')].map((i) => i.value));
  clear(el.patternLangs);
  for (const code of configuredLangs()) {
    el.patternLangs.append(checkItem('pattern-lang', code, api.langName(code), checked.has(code), renderPatternStaff));
  }
}

// Staff to put on the shift: those who speak a chosen language first.
function renderPatternStaff() {
  const p = patternEditing;
  const chosen = new Set([...el.patternStaff.querySelectorAll('input:checked')].map((i) => i.value));
  if (!el.patternStaff.childElementCount && p && Array.isArray(p.staff)) for (const u of p.staff) chosen.add(u);
  const langs = [...el.patternLangs.querySelectorAll('input:checked')].map((i) => i.value);
  const speaks = (s) => Array.isArray(s.langs) && s.langs.some((l) => langs.includes(l));
  const people = state.staff.filter((s) => s && !s.disabled)
    .sort((a, b) => (speaks(b) - speaks(a)) || String(a.alias).localeCompare(String(b.alias)));
  clear(el.patternStaff);
  for (const s of people) {
    const item = checkItem('pattern-person', s.user, `${s.alias || s.user}`, chosen.has(s.user), null, langList(s.langs));
    el.patternStaff.append(item);
  }
  el.patternStaffNone.hidden = people.length > 0;
}

let checkSerial = 0;
function checkItem(testid, value, label, checked, onChange, details) {
  const id = `chk-${++checkSerial}`;
  const input = elt('input', { type: 'checkbox', id, value, checked, testid });
  input.dataset.value = value;
  if (onChange) input.addEventListener('change', onChange);
  const lab = elt('label', { for: id }, elt('span', { dir: 'auto', text: label }));
  if (details) lab.append(' ', elt('span', { class: 'muted person-details', text: details }));
  return elt('li', {}, input, lab);
}

function patternLabel(p) {
  const when = p.date ? fmtDay(p.date) : t(`weekdays.${WEEKDAYS[(p.weekday || 1) - 1]}`);
  const names = (Array.isArray(p.staff) ? p.staff : []).map((u) => {
    const s = state.staff.find((x) => x.user === u);
    return s && s.alias ? s.alias : u;
  });
  return t('patternItem', {
    when, from: p.start, to: p.end, langs: langList(p.langs), staff: names.length ? names.join(', ') : t('nobody'),
  });
}

function renderRoster() {
  const r = state.roster;
  el.rosterTz.textContent = t('timeZone', { tz: tz() });
  // Week view: one column per weekday, the shifts in it by start time; shifts
  // on a single date below.
  clear(el.week);
  const patterns = r && Array.isArray(r.patterns) ? r.patterns : [];
  WEEKDAYS.forEach((k, i) => {
    const day = i + 1;
    const list = patterns.filter((p) => p.weekday === day && !p.date).sort((a, b) => String(a.start).localeCompare(String(b.start)));
    const hId = `week-${k}`;
    const col = elt('section', { class: 'week-day', 'aria-labelledby': hId, 'data-weekday': String(day), testid: 'week-day' },
      elt('h3', { id: hId, text: t(`weekdays.${k}`) }));
    const ul = elt('ul', { class: 'shift-list' });
    for (const p of list) ul.append(patternButton(p));
    if (!list.length) ul.append(elt('li', { class: 'muted', text: t('noShiftsDay') }));
    col.append(ul);
    el.week.append(col);
  });
  const dated = patterns.filter((p) => p.date).sort((a, b) => String(a.date + a.start).localeCompare(String(b.date + b.start)));
  if (dated.length) {
    const col = elt('section', { class: 'week-day week-dated', 'aria-labelledby': 'week-dated' }, elt('h3', { id: 'week-dated', text: t('singleDates') }));
    const ul = elt('ul', { class: 'shift-list' });
    for (const p of dated) ul.append(patternButton(p));
    col.append(ul);
    el.week.append(col);
  }
  // Exceptions and closures.
  clear(el.exceptionsList);
  const exceptions = r && Array.isArray(r.exceptions) ? r.exceptions : [];
  for (const x of exceptions) {
    const p = patterns.find((q) => q.id === x.pattern);
    const b = elt('button', { type: 'button', class: 'small', text: t('remove'), testid: 'exception-delete' });
    b.addEventListener('click', () => request({ type: 'exception_delete', pattern: x.pattern, date: x.date }, 'roster'));
    el.exceptionsList.append(elt('li', { testid: 'exception' },
      elt('span', { dir: 'auto', text: t('exceptionItem', { date: fmtDay(x.date), shift: p ? patternLabel(p) : String(x.pattern) }) }), ' ', b));
  }
  if (!exceptions.length) el.exceptionsList.append(elt('li', { class: 'muted', text: t('noExceptions') }));
  const keepPattern = el.exceptionPattern.value;
  clear(el.exceptionPattern);
  for (const p of patterns) el.exceptionPattern.append(elt('option', { value: String(p.id), text: patternLabel(p) }));
  if (keepPattern) el.exceptionPattern.value = keepPattern;
  clear(el.closuresList);
  const closures = r && Array.isArray(r.closures) ? r.closures : [];
  for (const c of closures) {
    const b = elt('button', { type: 'button', class: 'small', text: t('remove'), testid: 'closure-delete' });
    b.addEventListener('click', () => request({ type: 'closure_delete', closure: c.id }, 'roster'));
    el.closuresList.append(elt('li', { testid: 'closure' },
      elt('span', { dir: 'auto', text: t('closureItem', { from: fmtDay(c.from), to: fmtDay(c.to), note: c.note || '' }) }), ' ', b));
  }
  if (!closures.length) el.closuresList.append(elt('li', { class: 'muted', text: t('noClosures') }));
  renderCoverage();
  if (patternWaiting && el.patternDialog.open) el.patternDialog.close();
}

function patternButton(p) {
  const b = elt('button', { type: 'button', class: 'shift', testid: 'pattern', 'data-id': String(p.id), dir: 'auto' });
  b.append(elt('span', { class: 'shift-time', dir: 'ltr', text: `${p.start}–${p.end}` }), ' ',
    elt('span', { class: 'shift-langs', text: langList(p.langs) }));
  const names = (Array.isArray(p.staff) ? p.staff : []).map((u) => (state.staff.find((x) => x.user === u) || {}).alias || u);
  b.append(' ', elt('span', { class: 'shift-staff muted', text: names.length ? names.join(', ') : t('nobody') }));
  b.setAttribute('aria-label', `${t('patternEdit')}: ${patternLabel(p)}`);
  b.addEventListener('click', () => openPattern(p));
  return elt('li', {}, b);
}

// Coverage for the next 14 days, one language at a time: a table of days by
// hours with the number of staff rostered; the hours the daemon calls gaps
// carry a ✕ and a hatching as well as a colour, and are listed in words.
function renderCoverage() {
  const r = state.roster;
  // Per language 14 rows of 24 counts: under coverage.langs, or (as the
  // daemon sends them) next to from and days in coverage itself.
  const raw = r && r.coverage && typeof r.coverage === 'object' ? (r.coverage.langs || r.coverage) : {};
  const cov = Object.fromEntries(Object.entries(raw).filter(([, v]) => Array.isArray(v)));
  const langs = configuredLangs().filter((l) => l in cov).concat(Object.keys(cov).filter((l) => !configuredLangs().includes(l)));
  const keep = state.coverageLang && langs.includes(state.coverageLang) ? state.coverageLang : langs[0];
  state.coverageLang = keep || null;
  clear(el.coverageLang);
  for (const l of langs) el.coverageLang.append(elt('option', { value: l, text: api.langName(l) }));
  if (keep) el.coverageLang.value = keep;
  clear(el.coverage);
  clear(el.gapsList);
  if (!keep) return;
  const start = parseDay(r.coverage.from) || parseDay(isoDay(new Date()));
  const gaps = r.gaps && Array.isArray(r.gaps[keep]) ? r.gaps[keep] : [];
  const inGap = (day, hour) => gaps.some((g) => g.date === day && hourOf(g.from) <= hour && hour < (hourOf(g.to) || 24));
  el.coverage.append(elt('caption', { class: 'visually-hidden', text: t('coverageCaption', { lang: api.langName(keep) }) }));
  const head = elt('tr', {}, elt('th', { scope: 'col', text: t('day') }));
  for (let h = 0; h < 24; h++) head.append(elt('th', { scope: 'col', class: 'hour', text: String(h).padStart(2, '0') }));
  el.coverage.append(elt('thead', {}, head));
  const body = elt('tbody');
  (cov[keep] || []).forEach((counts, i) => {
    const d = new Date(start.getTime() + i * 86400000);
    const day = isoDay(d);
    const tr = elt('tr', { 'data-date': day, testid: 'coverage-day' }, elt('th', { scope: 'row', class: 'cov-day', text: fmtDay(d) }));
    for (let h = 0; h < 24; h++) {
      const n = Array.isArray(counts) && Number.isFinite(counts[h]) ? counts[h] : 0;
      const gap = inGap(day, h);
      const td = elt('td', { class: gap ? 'cov gap' : n ? 'cov staffed' : 'cov', 'data-hour': String(h), 'data-gap': String(gap) });
      if (gap) {
        td.append(elt('span', { 'aria-hidden': 'true', text: '✕' }), elt('span', { class: 'visually-hidden', text: t('gap') }));
      } else {
        td.textContent = num(n);
      }
      tr.append(td);
    }
    body.append(tr);
  });
  el.coverage.append(body);
  for (const g of gaps) {
    el.gapsList.append(elt('li', { testid: 'gap', 'data-date': g.date, dir: 'auto' },
      elt('span', { class: 'flag', 'aria-hidden': 'true', text: '✕ ' }),
      t('gapItem', { date: fmtDay(g.date), from: g.from, to: g.to })));
  }
  if (!gaps.length) el.gapsList.append(elt('li', { class: 'muted', testid: 'no-gaps', text: t('noGaps') }));
}

function hourOf(hhmm) {
  const m = /^(\d{1,2}):(\d{2})$/.exec(String(hhmm || ''));
  return m ? Number(m[1]) + Number(m[2]) / 60 : 0;
}

// ---- accounts ----------------------------------------------------------------------
let accountEditing = null;
let accountOpener = null;

function wireAccounts() {
  el.accountNew.addEventListener('click', () => openAccount(null));
  el.accountCancel.addEventListener('click', () => el.accountDialog.close());
  el.accountDialog.addEventListener('close', () => {
    accountEditing = null;
    if (accountOpener && accountOpener.isConnected) accountOpener.focus();
    accountOpener = null;
  });
  el.handoutDone.addEventListener('click', () => {
    state.handout = null;
    renderHandout();
    el.accountNew.focus();
  });
  el.accountForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const roles = [...el.accountRoles.querySelectorAll('input:checked')].map((i) => i.value);
    const langs = [...el.accountLangs.querySelectorAll('input:checked')].map((i) => i.value);
    const topics = [...el.accountTopics.querySelectorAll('input:checked')].map((i) => i.value);
    if (!roles.length) { el.accountError.textContent = t('chooseRole'); return; }
    el.accountError.textContent = '';
    const onError = (m) => { el.accountError.textContent = typeof m.message === 'string' && m.message ? m.message : String(m.code || ''); };
    const maxChats = Number(el.accountMax.value) || 1;
    if (accountEditing) {
      request({
        type: 'staff_update', user: accountEditing.user, alias: el.accountAlias.value.trim(), roles, langs, topics,
        max_chats: maxChats, disabled: el.accountDisabled.checked,
      }, 'staff_update', onError);
    } else {
      request({
        type: 'staff_create', user: el.accountUser.value.trim(), alias: el.accountAlias.value.trim(), roles, langs, topics,
        max_chats: maxChats,
      }, 'staff_create', onError);
    }
  });
}

function openAccount(s) {
  accountEditing = s;
  accountOpener = document.activeElement;
  el.accountError.textContent = '';
  el.accountTitle.textContent = s ? t('accountEdit', { alias: s.alias || s.user }) : t('accountAdd');
  el.accountUser.value = s ? s.user : '';
  el.accountUser.readOnly = Boolean(s);
  el.accountAlias.value = s ? s.alias || '' : '';
  el.accountMax.value = String(s && Number.isInteger(s.max_chats) ? s.max_chats : 2);
  el.accountDisabled.checked = Boolean(s && s.disabled);
  el.accountDisabledBox.hidden = !s;
  renderAccountChoices(s);
  el.accountDialog.showModal();
  (s ? el.accountAlias : el.accountUser).focus();
}

function renderAccountChoices(s) {
  const pick = (list, key) => {
    if (s !== undefined) return new Set(s && Array.isArray(s[key]) ? s[key] : (key === 'roles' && !s ? ['volunteer'] : []));
    return new Set([...list.querySelectorAll('input:checked')].map((i) => i.value));
  };
  const roles = pick(el.accountRoles, 'roles');
  const langs = pick(el.accountLangs, 'langs');
  const topics = pick(el.accountTopics, 'topics');
  clear(el.accountRoles);
  for (const r of ROLES) el.accountRoles.append(checkItem('account-role', r, ts(`roles.${r}`), roles.has(r)));
  clear(el.accountLangs);
  for (const l of configuredLangs()) el.accountLangs.append(checkItem('account-lang', l, api.langName(l), langs.has(l)));
  clear(el.accountTopics);
  for (const tp of configuredTopics()) el.accountTopics.append(checkItem('account-topic', tp, api.topicName(tp), topics.has(tp)));
}

function renderAccounts() {
  clear(el.accountsRows);
  const list = [...state.staff].sort((a, b) => String(a.alias || a.user).localeCompare(String(b.alias || b.user)));
  for (const s of list) {
    if (!s || typeof s.user !== 'string') continue;
    const roles = (Array.isArray(s.roles) ? s.roles : []).map((r) => ts(`roles.${r}`) || r).join(', ');
    const flags = [s.disabled ? t('disabled') : t('active'), s.totp ? t('totpOn') : t('totpOff')].join(' · ');
    const name = String(s.alias || s.user);
    const mk = (key, testid, fn) => {
      const b = elt('button', { type: 'button', class: 'small', text: t(key), testid });
      b.setAttribute('aria-label', `${t(key)}: ${name}`);
      b.addEventListener('click', fn);
      return b;
    };
    const actions = elt('div', { class: 'row-actions' },
      mk('edit', 'account-edit', () => openAccount(s)),
      mk('resetCode', 'account-reset', () => request({ type: 'staff_reset', user: s.user }, 'staff_reset')),
      mk('newTotp', 'account-totp', () => request({ type: 'totp_reset', user: s.user }, 'totp_reset')));
    el.accountsRows.append(elt('tr', { testid: 'account-row', 'data-user': s.user, class: s.disabled ? 'is-disabled' : '' },
      elt('th', { scope: 'row', dir: 'auto', text: name }),
      elt('td', { dir: 'ltr', text: s.user }),
      elt('td', { text: roles }),
      elt('td', { text: langList(s.langs) }),
      elt('td', { text: Number.isInteger(s.max_chats) ? num(s.max_chats) : '' }),
      elt('td', { text: flags }),
      elt('td', {}, actions)));
  }
}

function loadAudit() {
  request({ type: 'audit_list', limit: 50 }, 'audit');
}

function renderAudit() {
  clear(el.auditRows);
  for (const e of state.audit) {
    if (!e) continue;
    const when = typeof e.ts === 'number' ? new Date(e.ts).toISOString() : e.ts;
    el.auditRows.append(elt('tr', { testid: 'audit-row' },
      elt('td', { text: fmtDateTime(when) }),
      elt('td', { dir: 'auto', text: String(e.actor || '') }),
      elt('td', { text: t(`auditActions.${e.action}`) || String(e.action || '') }),
      elt('td', { dir: 'auto', text: String(e.target || '') }),
      elt('td', { dir: 'auto', text: typeof e.detail === 'string' ? e.detail : e.detail ? JSON.stringify(e.detail) : '' })));
  }
}

// What a coordinator hands to a new member (or after a reset): the one-time
// code, and the authenticator's QR code (made by the daemon, imported here
// element by element, never as markup) with its otpauth URI.
function showHandout(kind, m) {
  state.handout = {
    kind,
    user: String(m.user || ''),
    code: typeof m.reset_code === 'string' ? m.reset_code : '',
    otpauth: typeof m.otpauth === 'string' ? m.otpauth : '',
    svg: typeof m.qr_svg === 'string' ? m.qr_svg : '',
  };
  renderHandout();
  el.handoutTitle.focus();
}

function renderHandout() {
  const h = state.handout;
  el.handout.hidden = !h;
  if (!h) { el.handoutCode.textContent = ''; el.handoutUri.textContent = ''; clear(el.handoutQr); return; }
  const s = state.staff.find((x) => x.user === h.user);
  const name = s && s.alias ? s.alias : h.user;
  el.handoutTitle.textContent = t(`handout.${h.kind}`, { alias: name });
  el.handoutCode.textContent = h.code;
  el.handoutCode.parentElement.hidden = !h.code;
  document.getElementById('handout-code-label').hidden = !h.code;
  clear(el.handoutQr);
  const svg = h.svg ? importSvg(h.svg) : null;
  if (svg) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', t('qrLabel'));
    el.handoutQr.append(svg);
  }
  el.handoutQrBox.hidden = !svg;
  el.handoutUri.textContent = h.otpauth;
  el.handoutUriBox.hidden = !h.otpauth;
}

// ---- statistics ------------------------------------------------------------------
function wireStats() {
  const today = new Date();
  const from = new Date(today.getTime() - 29 * 86400000);
  el.statsTo.value = isoDay(today);
  el.statsFrom.value = isoDay(from);
  el.statsForm.addEventListener('submit', (ev) => { ev.preventDefault(); loadStats(); });
  el.statsCsv.addEventListener('click', () => {
    request({ type: 'stats_csv', from: el.statsFrom.value, to: el.statsTo.value }, 'stats_csv');
  });
}

function loadStats() {
  request({ type: 'stats_get', from: el.statsFrom.value, to: el.statsTo.value }, 'stats');
}

// A suppressed count ("<10") stays a string; numbers are numbers.
function countOf(v) {
  if (Number.isFinite(v)) return { n: v, hidden: 0 };
  if (typeof v === 'string' && /^\d+$/.test(v)) return { n: Number(v), hidden: 0 };
  return { n: 0, hidden: 1, text: typeof v === 'string' ? v : '' };
}

function addCount(a, v) {
  const c = countOf(v);
  return { n: a.n + c.n, hidden: a.hidden + c.hidden, text: c.text || a.text };
}

const ZERO = { n: 0, hidden: 0, text: '' };

// How a (possibly summed) count reads: a number, the daemon's "<10" when
// all of it was suppressed and small, else "at least N".
function countText(c, threshold) {
  if (!c.hidden) return num(c.n);
  if (c.n === 0 && c.hidden === 1) return c.text || `<${threshold}`;
  if (c.n === 0) return `<${num(threshold * c.hidden)}`;
  return t('atLeast', { n: num(c.n) });
}

function summary(obj) {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return null;
  const out = new Map();
  for (const [k, v] of Object.entries(obj)) out.set(k, addCount(ZERO, v));
  return out;
}

function histogram(list) {
  if (!Array.isArray(list)) return [];
  return list.filter((x) => x && x.bucket !== undefined).map((x) => ({ key: String(x.bucket), count: addCount(ZERO, x.count) }));
}

// A bucket's name from the daemon ("<1m", "1-5m", "30m+") in words.
function bucketLabel(b) {
  const mins = (n) => t('minutes', { n: num(Number(n)) });
  let m = /^<(\d+)m$/.exec(b);
  if (m) return t('bucketBelow', { to: mins(m[1]) });
  m = /^(\d+)-(\d+)m$/.exec(b);
  if (m) return t('bucketRange', { from: num(Number(m[1])), to: mins(m[2]) });
  m = /^(\d+)m\+$/.exec(b);
  if (m) return t('bucketFrom', { from: mins(m[1]) });
  return b;
}

// {key: {outcome: count}} as chart groups with one bar per outcome.
function nested(obj, outcomes, label) {
  if (!obj || typeof obj !== 'object') return [];
  return Object.entries(obj).map(([k, v]) => ({
    key: k,
    label: label(k),
    values: outcomes.map((o) => addCount(ZERO, v && typeof v === 'object' && o in v ? v[o] : 0)),
  }));
}

function renderStats() {
  const s = state.stats;
  clear(el.statsCharts);
  if (!s) { el.statsNote.textContent = ''; return; }
  const threshold = Number.isFinite(s.threshold) ? s.threshold : 10;
  el.statsNote.textContent = t('smallNote', { n: num(threshold) });
  const txt = (c) => countText(c, threshold);
  const outcomeName = (o) => t(`outcomes.${o}`) || o;
  const byDay = Array.isArray(s.by_day) ? s.by_day : [];
  const byOutcome = summary(s.by_outcome) || new Map();
  const total = [...byOutcome.values()].reduce((a, c) => ({ n: a.n + c.n, hidden: a.hidden + c.hidden, text: a.text || c.text }), ZERO);
  if (!byDay.length && total.n === 0 && total.hidden === 0) {
    el.statsCharts.append(elt('section', { class: 'panel' }, elt('p', { class: 'muted', testid: 'stats-empty', text: t('noStats') })));
    return;
  }
  const outcomes = [...new Set([...OUTCOMES, ...byOutcome.keys()])];
  const series = outcomes.map(outcomeName);
  const table = (groups) => groups.map((g) => [g.label, ...g.values.map(txt)]);
  // Per day, by outcome.
  const perDay = byDay.filter((d) => d && typeof d.day === 'string').map((d) => ({
    key: d.day, label: fmtDay(d.day), values: outcomes.map((o) => addCount(ZERO, o in d ? d[o] : 0)),
  }));
  addChart('perDay', chart({ groups: perDay, series, threshold, text: txt, title: t('perDay') }), [t('day'), ...series], table(perDay));
  // Per language and per topic, by outcome.
  const langs = nested(s.by_lang, outcomes, (k) => api.langShort(k));
  addChart('perLang', chart({ groups: langs, series, threshold, text: txt, title: t('perLang') }), [t('language'), ...series], table(langs));
  const topics = nested(s.by_topic, outcomes, (k) => (k && k !== '-' ? api.topicName(k) : ts('noTopic')));
  if (topics.length) addChart('perTopic', chart({ groups: topics, series, threshold, text: txt, title: t('perTopic') }), [t('topics'), ...series], table(topics));
  // All chats by outcome.
  const outGroups = outcomes.map((o) => ({ key: o, label: outcomeName(o), values: [byOutcome.get(o) || ZERO] }));
  addChart('perOutcome', chart({ groups: outGroups, series: [t('chatsCount')], threshold, text: txt, title: t('perOutcome') }),
    [t('outcome'), t('chatsCount')], table(outGroups));
  for (const [key, list] of [['waitHist', s.wait], ['durationHist', s.duration]]) {
    const h = histogram(list).map((b) => ({ key: b.key, label: bucketLabel(b.key), values: [b.count] }));
    if (!h.length) continue;
    addChart(key, chart({ groups: h, series: [t('chatsCount')], threshold, text: txt, title: t(key) }),
      [t('bucket'), t('chatsCount')], table(h));
  }
}

// One chart: a heading, the SVG, and the same figures as a table.
function addChart(key, svg, header, rows) {
  const hId = `chart-${key}`;
  const section = elt('section', { class: 'panel chart', 'aria-labelledby': hId, testid: `chart-${key}` }, elt('h3', { id: hId, text: t(key) }));
  // Scrolls sideways on a narrow screen: reachable by keyboard.
  const wrap = elt('div', { class: 'chart-wrap', tabIndex: 0, role: 'group', 'aria-labelledby': hId });
  svg.setAttribute('aria-labelledby', hId);
  wrap.append(svg);
  if (header.length > 2) section.append(legend(header.slice(1)));
  const table = elt('table', { class: 'data' });
  table.append(elt('thead', {}, elt('tr', {}, ...header.map((h) => elt('th', { scope: 'col', text: h })))));
  const body = elt('tbody');
  for (const r of rows) body.append(elt('tr', {}, elt('th', { scope: 'row', dir: 'auto', text: r[0] }), ...r.slice(1).map((c) => elt('td', { text: c, 'data-testid': 'stat-cell' }))));
  table.append(body);
  const details = elt('details', { class: 'figures' }, elt('summary', { text: t('figures') }), elt('div', { class: 'table-wrap' }, table));
  section.append(wrap, details);
  el.statsCharts.append(section);
}
