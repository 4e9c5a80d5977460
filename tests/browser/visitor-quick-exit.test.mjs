// Browser test: the quick exit, by the button and by Shift pressed three
// times. The page blanks at once, the volunteer (a Node client on the staff
// socket) sees the chat end `by` "quick_exit", the tab is on the neutral
// page from the config (served here on another localhost port with the
// daemon's test certificate), Back does not show the chat, and the browser
// keeps nothing for brugd's origin: no cookie, Web Storage, IndexedDB, Cache
// API entry or service worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrugd, availableStaff } from '../lib/brugd.mjs';
import {
  launch, watch, logRequests, assertOrigins, startSite, html, storageOf, assertNoStorage, selfReport,
  norm, expectText, enabled, startAs, shot, until, STEP_MS,
} from './visitor-lib.mjs';

const vera = { user: 'vera', alias: 'Vera', roles: ['volunteer'], langs: ['nl', 'en'], maxChats: 2, password: 'a long enough test password 3' };

let brug;
let browser;
let site;
let neutralUrl;
const problems = [];

before(async () => {
  site = await startSite({
    '/before.html': html('<h1>Weather</h1><p>Sunny with a light breeze.</p>', { title: 'Weather' }),
    '/neutral.html': html('<h1>News</h1><p>Nothing special today.</p>', { title: 'News' }),
  });
  neutralUrl = `${site.origin}/neutral.html`;
  brug = await startBrugd({ staff: [vera], config: { server: { neutral_url: neutralUrl } } });
  site.useCert(brug);
  browser = await launch(brug);
});

after(async () => {
  await browser?.close();
  await site?.close();
  if (brug) {
    const info = await brug.stop();
    if (process.exitCode) console.log(`brugd exited ${JSON.stringify(info)}; log:\n${brug.logs().join('\n')}`);
    await brug.cleanup();
  }
});

const SECRET = 'Mijn man leest mee, ik ben bang';
const REPLY = 'Ik ben er voor je. Ben je nu veilig?';

// A chat with a message each way; resolves once both are on the page.
async function chatting(page, staff) {
  await page.goto(`${site.origin}/before.html`);
  await page.goto(`${brug.origin}/`);
  await page.locator('body[data-labels]:not([data-labels="loading"])').waitFor({ timeout: STEP_MS });
  await startAs(page, 'nl');
  const offer = await staff.next('offer', STEP_MS);
  staff.send({ type: 'accept', offer: offer.offer });
  const { chat } = await staff.next('chat', STEP_MS);
  const composer = page.getByTestId('composer');
  await enabled(composer);
  await composer.fill(SECRET);
  await composer.press('Enter');
  await staff.next('msg', STEP_MS);
  staff.send({ type: 'msg', chat, text: REPLY });
  await expectText(page.getByTestId('messages'), new RegExp(REPLY.replace(/[?.]/g, '\\$&')));
  return chat;
}

// Resolves with the page's text, element count and title right after the
// page's own handler of the event that makes it leave.
let bindings = 0;
async function blankAfter(page, type) {
  const name = `reportBlank${++bindings}`;
  let resolve;
  const seen = new Promise((r, reject) => {
    resolve = r;
    setTimeout(() => reject(new Error(`the page did not blank after ${type}`)), STEP_MS).unref();
  });
  seen.catch(() => {});
  // The binding's call is a message from the old document: hold the
  // neutral page's request until it has arrived, or a navigation that
  // commits first (on a busy machine) throws the report away.
  await page.route(neutralUrl, async (route) => {
    await seen.catch(() => {});
    await route.continue().catch(() => {});
  }, { times: 1 });
  await page.exposeFunction(name, (state) => resolve(state));
  await page.evaluate(([n, t]) => {
    window.addEventListener(t, () => {
      if (document.body && document.body.children.length && t === 'keyup') return; // not yet
      window[n]({ text: document.body ? document.body.innerText : '', children: document.body ? document.body.children.length : 0, title: document.title });
    });
  }, [name, type]);
  return { seen };  // not the promise itself: an async function would wait for it
}

// After the exit: on the neutral page, and Back shows no chat.
async function leftNoTrace(ctx, page, what) {
  await page.waitForURL(neutralUrl, { timeout: STEP_MS });
  assert.equal(await page.title(), 'News');
  const back = await page.goBack({ timeout: STEP_MS }).catch(() => null);
  const url = page.url();
  const text = await page.evaluate(() => document.documentElement.innerText).catch(() => '');
  assert.ok(!text.includes(SECRET) && !text.includes(REPLY), `${what}: Back shows the chat (${url}): ${text}`);
  assert.ok(!url.startsWith(brug.origin), `${what}: Back leads to brugd's page (${url}) instead of the page before it`);
  assert.equal(url, `${site.origin}/before.html`, `${what}: Back leads to the page before the chat`);
  assert.ok(back === null || back.status() === 200);

  // Nothing for brugd's origin in the browser: asked through CDP, and by a
  // page of that origin itself (the visitor page, freshly opened).
  assertNoStorage(await storageOf(ctx, page, brug.origin), what);
  const probe = await ctx.newPage();
  try {
    await probe.goto(`${brug.origin}/`);
    await probe.locator('body[data-labels]:not([data-labels="loading"])').waitFor({ timeout: STEP_MS });
    assert.deepEqual(await selfReport(probe), {
      localStorage: 0, sessionStorage: 0, cookie: '', serviceWorkers: 0, caches: 0, indexedDB: 0,
    }, `${what}: what brugd's origin holds`);
    assertNoStorage(await storageOf(ctx, probe, brug.origin), `${what} (after a new visit)`);
  } finally {
    await probe.close();
  }
}

test('the quick exit button: blank at once, ended for the volunteer, neutral page, no trace', async (t) => {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'nl-NL' });
  const page = await ctx.newPage();
  watch(page, 'visitor', problems);
  const requests = logRequests(page);
  let staff;
  try {
    staff = await availableStaff(brug, vera.user, vera.password);
    await chatting(page, staff);
    // The button is always there, named for what it does.
    const button = page.getByTestId('quick-exit');
    assert.ok(await button.isVisible());
    assert.ok(norm(await button.getAttribute('title')).length > 0, 'the button says what it does');
    await shot(page, 'quick-exit-before');

    // What the page shows right after the click (a listener after the
    // page's own, reporting through a binding that outlives the page).
    const { seen } = await blankAfter(page, 'click');
    await button.click();
    assert.deepEqual(await seen, { text: '', children: 0, title: '' }, 'the page blanks at once');

    const ended = await staff.next('ended', STEP_MS);
    assert.equal(ended.by, 'quick_exit', 'the volunteer sees that the visitor had to leave');
    await leftNoTrace(ctx, page, 'button');

    // Every request of the visitor page went to brugd; the only other one is
    // the navigation to the neutral page (and the test's page before it).
    const visitorRequests = requests.filter((r) => r.origin === brug.origin || !r.navigation);
    assertOrigins(visitorRequests, [brug.origin], 'visitor page requests');
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    await shot(page, 'quick-exit-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    staff?.close();
    await ctx.close();
  }
});

test('Shift three times: the same; capital letters do not set it off', async (t) => {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'nl-NL' });
  const page = await ctx.newPage();
  watch(page, 'visitor', problems);
  let staff;
  try {
    staff = await availableStaff(brug, vera.user, vera.password);
    await chatting(page, staff);
    const composer = page.getByTestId('composer');
    await composer.focus();
    // Typing with Shift for capitals, and a stray Shift between, is not an exit.
    for (const key of ['Shift+KeyI', 'Shift+KeyK', 'Shift', 'Shift+KeyB', 'Shift+KeyE']) await page.keyboard.press(key);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(page.url(), `${brug.origin}/`, 'still on the chat');
    assert.equal(await composer.inputValue(), 'IKBE');

    const { seen } = await blankAfter(page, 'keyup');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Shift');
    assert.deepEqual(await seen, { text: '', children: 0, title: '' }, 'the page blanks at once');
    const ended = await staff.next('ended', STEP_MS);
    assert.equal(ended.by, 'quick_exit');
    await leftNoTrace(ctx, page, 'Shift×3');
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    await shot(page, 'shift-exit-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    staff?.close();
    await ctx.close();
  }
});

test('the quick exit while waiting ends the wait the same way', async (t) => {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'nl-NL' });
  const page = await ctx.newPage();
  watch(page, 'visitor', problems);
  let staff;
  try {
    staff = await availableStaff(brug, vera.user, vera.password);
    await page.goto(`${site.origin}/before.html`);
    await page.goto(`${brug.origin}/`);
    await page.locator('body[data-labels="nl"]').waitFor({ timeout: STEP_MS });
    await startAs(page, 'nl');
    const offer = await staff.next('offer', STEP_MS);
    await page.getByTestId('queue').waitFor({ timeout: STEP_MS });
    await page.getByTestId('quick-exit').click();
    const gone = await staff.next('offer_gone', STEP_MS);
    assert.equal(gone.offer, offer.offer);
    assert.equal(gone.reason, 'withdrawn', 'the waiting visitor left');
    await page.waitForURL(neutralUrl, { timeout: STEP_MS });
    await until(async () => (await page.goBack().catch(() => null), page.url() === `${site.origin}/before.html`), 'Back to the page before');
  } catch (e) {
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    staff?.close();
    await ctx.close();
  }
});
