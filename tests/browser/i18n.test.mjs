// Browser test: the visitor page and the staff login in each of the five
// languages, labelled from the daemon's bundles (GET /i18n/LANG.json). For
// each language: a screenshot at 360×740 into test-results/i18n/, the writing
// direction (Arabic mirrors), no visible text that falls back to the English
// bundle or comes from anywhere but the language's own bundle, and Arabic and
// Ge'ez drawn with fonts that have those scripts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../lib/browser.mjs';
import { startBrugd, repoRoot } from '../lib/brugd.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(repoRoot ?? path.resolve(here, '..', '..'), 'test-results', 'i18n');
const STEP_MS = 15000;
const LANGS = ['nl', 'ar', 'ti', 'tr', 'en'];
const RTL = new Set(['ar']);
// Fonts that draw the script well; the page's stacks name them (brug.css) and
// scripts/setup.sh --tests installs them.
const SCRIPT_FONTS = {
  ar: { re: /\p{Script=Arabic}/u, fonts: /Noto (Naskh|Sans) Arabic/i },
  ti: { re: /[\u1200-\u137F]/u, fonts: /Noto (Sans|Serif) Ethiopic|Abyssinica SIL/i },
};

// The keys of the contract: what the pages had as their own labels before
// they were served, plus the ones added with the languages issue.
const VISITOR_KEYS = [
  'title', 'quickExit', 'chooseLanguage', 'anonymousHint', 'start', 'messagesLabel', 'messageLabel',
  'send', 'end', 'newChat', 'you', 'connecting', 'reconnecting', 'position', 'waitMinutes', 'nextOpen',
  'joined', 'left', 'chattingWith', 'typing', 'typingAnon', 'ended', 'replaced', 'resumeFailed',
  'resumeLost', 'connectFailed',
  'languageLabel', 'topicLabel', 'topicNone', 'privacyTitle', 'privacyText', 'availableNow',
  'availableNone', 'closedTitle', 'emergencyTitle', 'emergency112', 'veiligThuis', 'endConfirm',
  'endConfirmYes', 'endConfirmNo', 'quickExitHint', 'queueTitle', 'chatTitle', 'typingIndicator',
  'helper', 'reconnected',
];
const STAFF_KEYS = [
  'title', 'loginTitle', 'user', 'password', 'totp', 'login', 'logout', 'available', 'offersTitle',
  'noOffers', 'chatsTitle', 'connecting', 'reconnecting', 'signedIn', 'nowAvailable', 'nowUnavailable',
  'offer', 'offerTransfer', 'offerInvite', 'noTopic', 'seconds', 'accept', 'decline', 'offersCount',
  'newOffer', 'chatHeader', 'messageLabel', 'send', 'roleLabel', 'roles', 'invite', 'transfer', 'end',
  'close', 'joined', 'left', 'typing', 'visitor', 'ended', 'endedBy', 'requestFailed',
  'requestFailedKind', 'requestFailedReason', 'youLeft', 'visitorAway', 'visitorBack', 'invited',
  'transferring', 'sessionExpired', 'replaced', 'loggedOut',
  'languageLabel', 'cannedTitle', 'cannedInsert', 'tagsLabel', 'endWithTags', 'inviteTitle',
  'transferTitle', 'byRole', 'byPerson', 'onlineColleagues', 'unread', 'waited', 'notifyNewOffer',
  'notifyNewMessage', 'dashboard', 'roster', 'accounts', 'statistics',
];
const NESTED = {
  staff: {
    roles: ['professional', 'keyperson', 'volunteer', 'coordinator'],
    endedBy: ['visitor', 'staff', 'timeout', 'shutdown', 'quick_exit'],
    requestFailedKind: ['transfer', 'invite'],
    requestFailedReason: ['declined', 'lapsed', 'withdrawn', 'nobody'],
    // The coordinator pages (coord.js): a table of its own, with tables
    // inside; a few of its texts stand for the rest.
    coord: ['chats', 'myShifts', 'haveCode', 'dashSummary', 'gap', 'handoutHint', 'smallNote'],
  },
};

let brug;
let browser;
const bundles = {};  // lang -> the served JSON
let config;          // /api/config.json: languages, default_language, topics
const problems = []; // page errors and CSP violations, checked per test

// GET a JSON document from the daemon, trusting only its test CA.
function getJSON(url) {
  const ca = readFileSync(brug.caPath);
  return new Promise((resolve, reject) => {
    https.get(url, { ca, timeout: STEP_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${url}: HTTP ${res.statusCode}`));
          return;
        }
        try { resolve({ json: JSON.parse(body), type: res.headers['content-type'] || '' }); } catch (e) { reject(new Error(`GET ${url}: ${e.message}`)); }
      });
    }).on('error', reject).on('timeout', function onTimeout() { this.destroy(new Error(`GET ${url}: timeout`)); });
  });
}

function watch(page, name) {
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) problems.push(`${name}: ${text}`);
    if (msg.type() === 'warning' && /labels missing|not a label bundle/.test(text)) problems.push(`${name}: ${text}`);
  });
}

// Every string in a bundle (labels, language names, topics), whitespace
// collapsed.
function strings(value, out = new Set()) {
  if (typeof value === 'string') out.add(norm(value));
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

function norm(s) {
  return s.replace(/\s+/g, ' ').trim();
}

// Labels with {name} placeholders, as patterns for the filled-in text.
function templates(set) {
  const out = [];
  for (const s of set) {
    if (!/\{\w+\}/.test(s)) continue;
    const re = s.split(/\{\w+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+?');
    out.push(new RegExp(`^${re}$`, 'su'));
  }
  return out;
}

// Digits, punctuation and symbols only ("112", "0800-2000", "·"): the same in
// every language.
const NEUTRAL = /^[\p{N}\p{P}\p{S}\s]*$/u;

// Check what the page shows against the bundles: nothing equals an English
// label unless the language's bundle has the same words, and (strict) every
// text is a label of the language's bundle.
function checkTexts(texts, lang, { strict = true } = {}) {
  const own = strings(bundles[lang]);
  const ownTemplates = templates(own);
  const english = strings(bundles.en);
  const fromOwn = (s) => own.has(s) || NEUTRAL.test(s) || ownTemplates.some((re) => re.test(s));
  const fallbacks = [];
  const foreign = [];
  for (const raw of texts) {
    const s = norm(raw);
    if (!s) continue;
    if (lang !== 'en' && english.has(s) && !own.has(s)) fallbacks.push(s);
    else if (strict && !fromOwn(s)) foreign.push(s);
  }
  assert.deepEqual(fallbacks, [], `${lang}: visible text from the English bundle`);
  assert.deepEqual(foreign, [], `${lang}: visible text not from the ${lang} bundle`);
}

// Every text a person can see or hear on the page: rendered text nodes
// (visually hidden ones for screen readers too), the options of visible
// selects, accessible names given by attributes, and the title.
async function visibleTexts(page) {
  return page.evaluate(() => {
    const out = [];
    const shown = (e) => e.checkVisibility({ visibilityProperty: true, opacityProperty: true });
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.nodeValue.trim();
      const p = n.parentElement;
      if (!text || !p || p.closest('script, style, template')) continue;
      const select = p.closest('select');
      if (select ? shown(select) : shown(p)) out.push(text);
    }
    for (const e of document.body.querySelectorAll('[aria-label], [title], [placeholder], [alt]')) {
      if (!shown(e)) continue;
      for (const a of ['aria-label', 'title', 'placeholder', 'alt']) if (e.getAttribute(a)) out.push(e.getAttribute(a));
    }
    out.push(document.title);
    return out;
  });
}

// The fonts Chromium actually used for an element's text.
async function platformFonts(page, selector) {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const { root } = await cdp.send('DOM.getDocument', { depth: -1 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    assert.ok(nodeId, `no ${selector}`);
    const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
    return fonts;
  } finally {
    await cdp.detach();
  }
}

// The main labels are in the language's script and drawn by a font that has
// it (not as boxes).
async function checkScript(page, lang, selectors) {
  const script = SCRIPT_FONTS[lang];
  if (!script) return;
  for (const sel of selectors) {
    const text = await page.locator(sel).first().textContent();
    assert.match(text, script.re, `${lang}: ${sel} ${JSON.stringify(text)} is not in the language's script`);
    const fonts = await platformFonts(page, sel);
    const names = fonts.map((f) => `${f.familyName} (${f.glyphCount})`);
    assert.ok(fonts.some((f) => script.fonts.test(f.familyName) && f.glyphCount > 0),
      `${lang}: ${sel} drawn with ${names.join(', ') || 'no font'}`);
    assert.ok(fonts.every((f) => !/last ?resort/i.test(f.familyName)), `${lang}: ${sel} drawn with ${names.join(', ')}`);
  }
}

async function checkDirection(page, lang) {
  const want = RTL.has(lang) ? 'rtl' : 'ltr';
  const got = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    dir: document.documentElement.dir,
    body: getComputedStyle(document.body).direction,
  }));
  assert.deepEqual(got, { lang, dir: want, body: want }, `${lang}: <html lang dir> and the body's direction`);
}

async function noSidewaysScroll(page, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${what} scrolls sideways by ${overflow}px`);
}

before(async () => {
  brug = await startBrugd();
  browser = await launchChromium(brug);
  mkdirSync(resultsDir, { recursive: true });
  config = (await getJSON(`${brug.origin}/api/config.json`)).json;
  for (const lang of LANGS) {
    const { json, type } = await getJSON(`${brug.origin}/i18n/${lang}.json`);
    assert.match(type, /^application\/json/, `/i18n/${lang}.json content type`);
    bundles[lang] = json;
  }
});

after(async () => {
  if (browser) await browser.close();
  if (brug) {
    const info = await brug.stop();
    if (process.exitCode) console.log(`brugd exited ${JSON.stringify(info)}; log:\n${brug.logs().join('\n')}`);
    await brug.cleanup?.();
  }
});

test('the bundles follow the contract', () => {
  for (const lang of LANGS) {
    const b = bundles[lang];
    assert.equal(b.lang, lang, `${lang}: lang`);
    assert.equal(b.dir, RTL.has(lang) ? 'rtl' : 'ltr', `${lang}: dir`);
    assert.deepEqual(Object.keys(b.languages).sort(), [...LANGS].sort(), `${lang}: languages`);
    assert.deepEqual(Object.keys(b.languages).sort(), [...config.languages].sort(), `${lang}: the configured languages`);
    assert.deepEqual(b.languages, bundles.en.languages, `${lang}: every language by its own name`);
    assert.ok(Object.keys(b.topics).length > 0, `${lang}: topics`);
    assert.deepEqual(Object.keys(b.topics).sort(), [...config.topics].sort(), `${lang}: the configured topics`);
    for (const [part, keys] of [['visitor', VISITOR_KEYS], ['staff', STAFF_KEYS]]) {
      const missing = keys.filter((k) => b[part][k] === undefined);
      assert.deepEqual(missing, [], `${lang}: ${part} keys missing`);
      for (const [k, sub] of Object.entries(NESTED[part] || {})) {
        assert.equal(typeof b[part][k], 'object', `${lang}: ${part}.${k} is an object`);
        assert.deepEqual(sub.filter((s) => typeof b[part][k][s] !== 'string'), [], `${lang}: ${part}.${k} keys missing`);
      }
      for (const [k, v] of Object.entries(b[part])) {
        if (NESTED[part]?.[k]) continue;
        assert.equal(typeof v, 'string', `${lang}: ${part}.${k} is a string`);
        assert.notEqual(v.trim(), '', `${lang}: ${part}.${k} is empty`);
      }
    }
  }
});

for (const lang of LANGS) {
  test(`visitor page in ${lang}`, async (t) => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: lang });
    const page = await ctx.newPage();
    const before = problems.length;
    watch(page, `visitor ${lang}`);
    const v = bundles[lang].visitor;
    try {
      const resp = await page.goto(`${brug.origin}/`);
      assert.equal(resp.status(), 200, 'GET /');
      await page.waitForSelector(`body[data-labels="${lang}"]`, { timeout: STEP_MS });
      assert.ok(await page.getByTestId(`lang-${lang}`).isChecked(), `${lang} preselected from the browser`);
      await page.screenshot({ path: path.join(resultsDir, `visitor-${lang}.png`), fullPage: true });

      await checkDirection(page, lang);
      const box = await page.getByTestId('start').boundingBox();
      const middle = box.x + box.width / 2;
      const where = `x ${Math.round(box.x)}..${Math.round(box.x + box.width)}`;
      if (RTL.has(lang)) assert.ok(middle > 180, `${lang}: the start button sits on the right half (${where})`);
      else assert.ok(middle < 180, `${lang}: the start button sits on the left half (${where})`);

      assert.equal(await page.title(), v.title, 'title from the labels');
      assert.equal(norm(await page.getByTestId('start').textContent()), norm(v.start));
      const autonyms = await page.locator('.lang-choice').allTextContents();
      assert.deepEqual(autonyms.map(norm), Object.values(bundles[lang].languages).map(norm), 'languages by their own names');
      const topics = await page.getByTestId('topic').locator('option').allTextContents();
      const want = [v.topicNone, ...config.topics.map((id) => bundles[lang].topics[id])];
      assert.deepEqual(topics.map(norm), want.map(norm), 'topics, in the config\'s order');
      assert.equal(norm(await page.locator('#privacy-title').textContent()), norm(v.privacyTitle));
      assert.equal(norm(await page.locator('.privacy-text').textContent()), norm(v.privacyText));

      checkTexts(await visibleTexts(page), lang);
      await checkScript(page, lang, ['#start', '#lang-legend', '#privacy-title', '.privacy-text']);
      await noSidewaysScroll(page, `visitor page in ${lang} at 360px`);
      assert.deepEqual(problems.slice(before), [], 'no page errors, CSP violations or missing labels');
    } catch (e) {
      await page.screenshot({ path: path.join(resultsDir, `visitor-${lang}-failed.png`), fullPage: true }).catch(() => {});
      t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
      throw e;
    } finally {
      await ctx.close();
    }
  });

  test(`staff login in ${lang}`, async (t) => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: lang });
    const page = await ctx.newPage();
    const before = problems.length;
    watch(page, `staff ${lang}`);
    const s = bundles[lang].staff;
    try {
      const resp = await page.goto(`${brug.origin}/staff/`);
      assert.equal(resp.status(), 200, 'GET /staff/');
      await page.waitForSelector(`body[data-labels="${lang}"]`, { timeout: STEP_MS });
      await page.getByTestId('login-form').waitFor({ state: 'visible', timeout: STEP_MS });
      await page.screenshot({ path: path.join(resultsDir, `staff-${lang}.png`), fullPage: true });

      await checkDirection(page, lang);
      assert.equal(await page.title(), s.title, 'title from the labels');
      assert.equal(await page.getByTestId('ui-lang').inputValue(), lang, 'language chosen from the browser');
      assert.equal(norm(await page.getByTestId('login-submit').textContent()), norm(s.login));
      checkTexts(await visibleTexts(page), lang);
      await checkScript(page, lang, ['#login-submit', '.login h2', 'label[for="login-password"]']);
      await noSidewaysScroll(page, `staff login in ${lang} at 360px`);
      assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'nothing stored without a choice');
      assert.deepEqual(problems.slice(before), [], 'no page errors, CSP violations or missing labels');
    } catch (e) {
      await page.screenshot({ path: path.join(resultsDir, `staff-${lang}-failed.png`), fullPage: true }).catch(() => {});
      t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
      throw e;
    } finally {
      await ctx.close();
    }
  });
}

test('the visitor switches language and starts with a topic', async (t) => {
  // German is not offered: the page takes the configured default language.
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'de-DE' });
  const page = await ctx.newPage();
  const before = problems.length;
  watch(page, 'visitor switch');
  try {
    await page.goto(`${brug.origin}/`);
    const fallback = config.default_language;
    await page.waitForSelector(`body[data-labels="${fallback}"]`, { timeout: STEP_MS });
    assert.ok(await page.getByTestId(`lang-${fallback}`).isChecked(), 'the default language preselected');

    for (const lang of ['ar', 'ti', 'en', 'ar']) {
      await page.getByTestId(`lang-${lang}`).check();
      await page.waitForSelector(`body[data-labels="${lang}"]`, { timeout: STEP_MS });
      await checkDirection(page, lang);
      assert.equal(await page.title(), bundles[lang].visitor.title);
      checkTexts(await visibleTexts(page), lang);
    }

    // Start in Arabic with a topic: the daemon accepts it (hello.topic) and,
    // with nobody online, the closed screen comes in Arabic.
    const topic = Object.keys(bundles.ar.topics)[0];
    await page.getByTestId('topic').selectOption(topic);
    await page.getByTestId('start').click();
    const v = bundles.ar.visitor;
    await page.getByTestId('chat-heading').filter({ hasText: v.closedTitle }).waitFor({ timeout: STEP_MS });
    await page.getByTestId('emergency').waitFor({ state: 'visible', timeout: STEP_MS });
    assert.equal(await page.locator('.notice-error').count(), 0, 'no error from the daemon');
    await checkDirection(page, 'ar');
    // The status is the daemon's own text (its bundles); the rest is labels.
    checkTexts(await visibleTexts(page), 'ar', { strict: false });
    await page.screenshot({ path: path.join(resultsDir, 'visitor-ar-closed.png'), fullPage: true });

    // Ending asks first.
    await page.getByTestId('end').click();
    await page.getByTestId('end-confirm').waitFor({ state: 'visible', timeout: STEP_MS });
    assert.equal(norm(await page.getByTestId('end-yes').textContent()), norm(v.endConfirmYes));
    await page.getByTestId('end-no').click();
    assert.ok(await page.getByTestId('end-confirm').isHidden(), 'confirm closes');
    assert.ok(await page.getByTestId('end').isVisible(), 'end button back');

    const state = await ctx.storageState();
    assert.deepEqual(state.cookies, [], 'no cookies');
    assert.ok(state.origins.every((o) => o.localStorage.length === 0), 'no localStorage');
    assert.deepEqual(problems.slice(before), [], 'no page errors, CSP violations or missing labels');
  } catch (e) {
    await page.screenshot({ path: path.join(resultsDir, 'visitor-switch-failed.png'), fullPage: true }).catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    await ctx.close();
  }
});

test('the staff console switches language for this tab only', async (t) => {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  const before = problems.length;
  watch(page, 'staff switch');
  try {
    await page.goto(`${brug.origin}/staff/`);
    await page.waitForSelector('body[data-labels="en"]', { timeout: STEP_MS });
    await page.getByTestId('ui-lang').selectOption('ar');
    await page.waitForSelector('body[data-labels="ar"]', { timeout: STEP_MS });
    await checkDirection(page, 'ar');
    checkTexts(await visibleTexts(page), 'ar');
    assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage)), ['brug.staff.lang'], 'only the choice, in this tab');
    await page.reload();
    await page.waitForSelector('body[data-labels="ar"]', { timeout: STEP_MS });
    assert.equal(await page.getByTestId('ui-lang').inputValue(), 'ar', 'kept across a reload');
    const state = await ctx.storageState();
    assert.deepEqual(state.cookies, [], 'no cookies');
    assert.ok(state.origins.every((o) => o.localStorage.length === 0), 'no localStorage');
    assert.deepEqual(problems.slice(before), [], 'no page errors, CSP violations or missing labels');
  } catch (e) {
    await page.screenshot({ path: path.join(resultsDir, 'staff-switch-failed.png'), fullPage: true }).catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    await ctx.close();
  }
});
