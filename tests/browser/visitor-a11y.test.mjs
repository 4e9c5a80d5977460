// Browser test: accessibility of the visitor page. axe-core (from npm,
// pinned in package.json) finds no violations of WCAG 2.1 A/AA or its best
// practices on the start, closed, queue, chat and ended screens in each of
// the five languages, at 360 px. Then a chat done with the keyboard alone
// (page.keyboard only): choose a language and a topic, start, write, send,
// end with the confirmation, and start over. A helper is driven over the
// staff socket from Node. Screenshots of every screen go to
// test-results/visitor/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrugd, loginStaff } from '../lib/brugd.mjs';
import {
  launch, watch, logRequests, assertOrigins, bundles, norm, expectText, until, axe, shot, STEP_MS,
} from './visitor-lib.mjs';

const LANGS = ['nl', 'ar', 'ti', 'tr', 'en'];
const amal = { user: 'amal', alias: 'Amal', roles: ['volunteer'], langs: LANGS, maxChats: 1, password: 'a long enough test password 6' };

let brug;
let browser;
let labels;
let staff;
const problems = [];

before(async () => {
  brug = await startBrugd({ staff: [amal], config: { chat: { offer_timeout_seconds: 60 } } });
  browser = await launch(brug);
  labels = await bundles(brug, LANGS);
});

after(async () => {
  staff?.close();
  await browser?.close();
  if (brug) {
    const info = await brug.stop();
    if (process.exitCode) console.log(`brugd exited ${JSON.stringify(info)}; log:\n${brug.logs().join('\n')}`);
    await brug.cleanup();
  }
});

// A fresh staff socket per test: the daemon counts messages per connection
// (at most 20 in 10 s), and a test sends a handful.
async function freshStaff() {
  staff?.close();
  staff = await loginStaff(brug, amal.user, amal.password);
}

let statusId = 0;
async function setAvailable(on) {
  const id = `a11y-${++statusId}`;
  staff.send({ type: 'status', available: on, id });
  const reply = await staff.waitFor((f) => f.id === id, STEP_MS);
  assert.equal(reply.available, on, JSON.stringify(reply));
}

// No axe violations, and nothing wider than the 360 px screen.
async function noViolations(page, what) {
  const violations = await axe(page);
  assert.deepEqual(violations, [], `axe on ${what}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${what} scrolls sideways by ${overflow}px`);
}

async function focusedId(page) {
  return page.evaluate(() => document.activeElement?.id || document.activeElement?.dataset?.testid || document.activeElement?.tagName);
}

for (const lang of LANGS) {
  test(`no axe violations on every screen in ${lang}`, async (t) => {
    const v = labels[lang].visitor;
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: lang });
    const page = await ctx.newPage();
    watch(page, `visitor ${lang}`, problems);
    const requests = logRequests(page);
    try {
      await freshStaff();
      await page.goto(`${brug.origin}/`);
      await page.locator(`body[data-labels="${lang}"]`).waitFor({ timeout: STEP_MS });
      await page.getByTestId('availability').waitFor({ timeout: STEP_MS });
      await noViolations(page, `${lang} start`);
      await shot(page, `a11y-${lang}-start`);

      // Nobody available: the closed screen.
      await page.getByTestId('start').click();
      await page.getByTestId('chat-heading').filter({ hasText: v.closedTitle }).waitFor({ timeout: STEP_MS });
      await noViolations(page, `${lang} closed`);
      await shot(page, `a11y-${lang}-closed`);
      await page.getByTestId('end').click();
      await page.getByTestId('end-confirm').waitFor({ timeout: STEP_MS });
      await noViolations(page, `${lang} end confirmation`);
      await page.getByTestId('end-yes').click();
      await page.getByTestId('new-chat').waitFor({ timeout: STEP_MS });
      await page.getByTestId('new-chat').click();
      await page.getByTestId('start').waitFor({ timeout: STEP_MS });

      // The helper is there but has not taken the chat yet: the queue.
      await setAvailable(true);
      await page.getByTestId('start').click();
      const offer = await staff.next('offer', STEP_MS);
      await page.getByTestId('queue').waitFor({ timeout: STEP_MS });
      await noViolations(page, `${lang} queue`);
      await shot(page, `a11y-${lang}-queue`);

      // The chat, with a message each way and the typing indicator.
      staff.send({ type: 'accept', offer: offer.offer });
      const { chat } = await staff.next('chat', STEP_MS);
      const composer = page.getByTestId('composer');
      await until(async () => composer.isEnabled(), 'the composer');
      await composer.fill(`${v.send} 1`);
      await composer.press('Enter');
      await staff.next('msg', STEP_MS);
      staff.send({ type: 'msg', chat, text: labels[lang].canned?.general?.listening ?? 'OK' });
      staff.send({ type: 'typing', chat, on: true });
      await page.getByTestId('typing').waitFor({ timeout: STEP_MS });
      await noViolations(page, `${lang} chat`);
      await shot(page, `a11y-${lang}-chat`);

      staff.send({ type: 'end', chat });
      await page.getByTestId('new-chat').waitFor({ timeout: STEP_MS });
      await noViolations(page, `${lang} ended`);
      await shot(page, `a11y-${lang}-ended`);
      await setAvailable(false);

      assertOrigins(requests, [brug.origin], 'visitor page requests');
      assert.deepEqual(problems, [], 'no page errors, CSP violations or missing labels');
    } catch (e) {
      await shot(page, `a11y-${lang}-failed`).catch(() => {});
      t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
      throw e;
    } finally {
      await ctx.close();
    }
  });
}

test('a whole chat with the keyboard alone', async (t) => {
  const en = labels.en.visitor;
  const nl = labels.nl.visitor;
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  watch(page, 'visitor keyboard', problems);
  const kb = page.keyboard;
  try {
    await freshStaff();
    await setAvailable(true);
    await page.goto(`${brug.origin}/`);
    await page.locator('body[data-labels="en"]').waitFor({ timeout: STEP_MS });

    // The quick exit comes first, then the languages.
    await kb.press('Tab');
    assert.equal(await focusedId(page), 'quick-exit');
    assert.equal(norm(await page.evaluate(() => document.activeElement.textContent)), norm(en.quickExit));
    await kb.press('Tab');
    assert.equal(await focusedId(page), 'lang-en', 'the browser\'s language, chosen');
    // Arrow keys choose: from the last (English) round to the first (Dutch).
    await kb.press('ArrowDown');
    await page.locator('body[data-labels="nl"]').waitFor({ timeout: STEP_MS });
    assert.equal(await focusedId(page), 'lang-nl', 'the focus stays on the choice when the labels change');
    await kb.press('Tab');
    assert.equal(await focusedId(page), 'topic');
    await kb.press('ArrowDown');
    const topic = await page.evaluate(() => document.activeElement.value);
    assert.ok(topic, 'a topic chosen');
    await kb.press('Tab');
    assert.equal(await focusedId(page), 'start');
    await kb.press('Enter');

    const offer = await staff.next('offer', STEP_MS);
    assert.equal(offer.lang, 'nl');
    assert.equal(offer.topic, topic);
    await until(async () => (await focusedId(page)) === 'chat-heading', 'the focus on the new screen\'s heading');
    staff.send({ type: 'accept', offer: offer.offer });
    const { chat } = await staff.next('chat', STEP_MS);
    await until(async () => (await focusedId(page)) === 'composer', 'the focus in the composer once someone joined');

    await kb.type('Hallo, ik typ alleen met het toetsenbord.');
    await kb.press('Enter');
    assert.equal((await staff.next('msg', STEP_MS)).text, 'Hallo, ik typ alleen met het toetsenbord.');
    // Shift+Enter is a new line; the Send button sends.
    await kb.type('Regel een');
    await kb.press('Shift+Enter');
    await kb.type('regel twee');
    await kb.press('Tab');
    assert.equal(await focusedId(page), 'send');
    await kb.press('Enter');
    assert.equal((await staff.next('msg', STEP_MS)).text, 'Regel een\nregel twee');
    staff.send({ type: 'msg', chat, text: 'Dank je, ik lees mee.' });
    await expectText(page.getByTestId('messages'), /ik lees mee/);

    // End, with the confirmation: Escape keeps the chat, then end for real.
    assert.equal(await focusedId(page), 'composer', 'back in the composer after sending');
    await kb.press('Tab');
    await kb.press('Tab');
    assert.equal(await focusedId(page), 'end');
    await kb.press('Enter');
    assert.equal(await focusedId(page), 'end-no', 'the safe answer has the focus');
    await kb.press('Escape');
    assert.equal(await focusedId(page), 'end', 'Escape keeps the chat');
    await kb.press('Enter');
    await kb.press('Shift+Tab');
    assert.equal(await focusedId(page), 'end-yes');
    assert.equal(norm(await page.evaluate(() => document.activeElement.textContent)), norm(nl.endConfirmYes));
    await kb.press('Enter');
    assert.equal((await staff.next('ended', STEP_MS)).by, 'visitor');
    await until(async () => (await focusedId(page)) === 'chat-heading', 'the focus on the end');
    await shot(page, 'keyboard-ended');

    // And back to the start.
    await kb.press('Tab');
    await kb.press('Tab');
    assert.equal(await focusedId(page), 'new-chat');
    await kb.press('Enter');
    assert.equal(await focusedId(page), 'lang-nl', 'the start screen, focus on the chosen language');
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    await shot(page, 'keyboard-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    await setAvailable(false).catch(() => {});
    await ctx.close();
  }
});
