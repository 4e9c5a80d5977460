// Browser test: the staff console is accessible. axe-core (npm, injected
// into the page) finds no violations on the login screen, on the console
// with a waiting offer and an open chat (prepared answers open), and in the
// invite and end dialogs, in every language at 360 px; nothing scrolls
// sideways. Then a keyboard-only run: log in, become available, accept an
// offer, send a message and a prepared answer, end the chat with a tag.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectVisitor, totpCode } from '../lib/brugd.mjs';
import {
  startEnv, loginConsole, becomeAvailable, until, shot, messageTexts, axe, LANGS, STEP_MS,
} from './staff-harness.mjs';

const PW = 'a long test password 5';
const accounts = Object.fromEntries(LANGS.map((lang) => [lang, {
  user: `vol_${lang}`, alias: `Vol ${lang.toUpperCase()}`, roles: ['volunteer'], langs: [lang], maxChats: 2, password: PW,
}]));
const colleague = { user: 'amal', alias: 'Amal', roles: ['professional'], langs: LANGS, maxChats: 2, password: PW };
const keyboarder = { user: 'kees', alias: 'Kees', roles: ['volunteer'], langs: ['en'], password: PW };

let env;
let failed = false;
let colleagueCtx;

before(async () => {
  env = await startEnv({ staff: [...Object.values(accounts), colleague, keyboarder] });
  // A colleague online, so the invite dialog lists someone.
  colleagueCtx = await env.browser.newContext({ locale: 'en-GB' });
  const page = await colleagueCtx.newPage();
  await loginConsole(env, page, colleague, 'en');
  await becomeAvailable(page);
  // Available colleagues would take visitors too: only now the others log in,
  // and Amal goes back to unavailable.
  await page.getByTestId('available').uncheck();
  await page.waitForSelector('[data-testid="available"][data-confirmed="false"]', { timeout: STEP_MS });
});

after(async () => {
  await colleagueCtx?.close().catch(() => {});
  if (env) await env.close(failed);
});

async function newVisitor(lang) {
  const v = await connectVisitor(env.brug);
  v.send({ type: 'hello', lang });
  await v.next('welcome');
  return v;
}

function report(violations) {
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n');
}

async function noViolations(page, what) {
  const v = await axe(page);
  assert.equal(v.length, 0, `${what}: axe violations:\n${report(v)}`);
}

async function noSidewaysScroll(page, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${what} scrolls sideways by ${overflow}px`);
}

for (const lang of LANGS) {
  test(`axe: login and console in ${lang}`, async (t) => {
    // bypassCSP only so that axe can be injected as a script.
    const ctx = await env.browser.newContext({ viewport: { width: 360, height: 740 }, locale: lang, bypassCSP: true });
    const page = await ctx.newPage();
    env.watch(page, `a11y ${lang}`);
    const before = env.problems.length;
    const visitors = [];
    try {
      await page.goto(`${env.brug.origin}/staff/`);
      await page.waitForSelector(`body[data-labels="${lang}"]`, { timeout: STEP_MS });
      await page.getByTestId('login-form').waitFor({ state: 'visible', timeout: STEP_MS });
      await noViolations(page, `${lang} login`);
      await noSidewaysScroll(page, `${lang} login`);

      await loginConsole(env, page, accounts[lang], lang);
      await becomeAvailable(page);
      const v1 = await newVisitor(lang);
      visitors.push(v1);
      await page.getByTestId('offer-accept').click();
      await v1.waitFor({ type: 'joined' });
      const panel = page.getByTestId('chat');
      await panel.waitFor({ state: 'visible', timeout: STEP_MS });
      v1.send({ type: 'msg', text: 'Hello? مرحبا ሰላም Merhaba Hallo' });
      await panel.getByTestId('chat-composer').fill('Welcome');
      await panel.getByTestId('chat-send').click();
      await until(async () => (await messageTexts(panel)).length === 2, 'two messages');
      // A second visitor: an offer waits.
      const v2 = await newVisitor(lang);
      visitors.push(v2);
      await page.getByTestId('offer').waitFor({ state: 'visible', timeout: STEP_MS });
      await panel.getByTestId('canned').locator('summary').click();
      // A "/" hint under the composer.
      await panel.getByTestId('chat-composer').fill('/');
      await panel.getByTestId('canned-hint').waitFor({ state: 'visible', timeout: STEP_MS });
      await shot(page, `a11y-console-${lang}`);
      await noViolations(page, `${lang} console with an offer and a chat`);
      await noSidewaysScroll(page, `${lang} console`);
      await panel.getByTestId('chat-composer').fill('');

      // The invite dialog, by person (Amal is listed).
      await panel.getByTestId('chat-invite').click();
      const dialog = page.getByTestId('request-dialog');
      await dialog.waitFor({ state: 'visible', timeout: STEP_MS });
      await dialog.getByTestId('request-by-user').check();
      await dialog.getByTestId('request-person').first().waitFor({ state: 'attached', timeout: STEP_MS });
      await shot(page, `a11y-invite-${lang}`);
      await noViolations(page, `${lang} invite dialog`);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden', timeout: STEP_MS });

      // The end dialog with the topics.
      await panel.getByTestId('chat-end').click();
      const end = page.getByTestId('end-dialog');
      await end.waitFor({ state: 'visible', timeout: STEP_MS });
      const tags = await end.getByTestId('end-tags').locator('label').allTextContents();
      assert.deepEqual(tags, env.config.topics.map((id) => env.bundles[lang].topics[id]), 'tags: the configured topics, labelled');
      await shot(page, `a11y-end-${lang}`);
      await noViolations(page, `${lang} end dialog`);
      await end.getByTestId('end-confirm').click();
      await v1.waitFor({ type: 'ended' });
      await panel.getByTestId('chat-state').filter({ hasText: /\S/ }).waitFor({ timeout: STEP_MS });
      await noViolations(page, `${lang} ended chat`);

      await page.getByTestId('logout').click();
      await page.getByTestId('login-form').waitFor({ state: 'visible', timeout: STEP_MS });
      assert.deepEqual(env.problems.slice(before), [], 'no page errors or missing labels');
    } catch (e) {
      failed = true;
      await shot(page, `a11y-failed-${lang}`).catch(() => {});
      t.diagnostic(`brugd log:\n${env.brug.logs().join('\n')}`);
      throw e;
    } finally {
      for (const v of visitors) v.close();
      await ctx.close();
    }
  });
}

// Press Tab (or Shift+Tab) until the focused element has testid; fail after
// max presses.
async function tabTo(page, testid, { back = false, max = 40 } = {}) {
  for (let i = 0; i < max; i++) {
    const at = await page.evaluate(() => document.activeElement?.dataset?.testid || '');
    if (at === testid) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  assert.fail(`Tab never reached ${testid}`);
}

async function focused(page) {
  return page.evaluate(() => document.activeElement?.dataset?.testid || document.activeElement?.tagName);
}

test('keyboard only: accept, write, answer from the prepared ones, end with a tag', async (t) => {
  const en = env.bundles.en;
  const ctx = await env.browser.newContext({ viewport: { width: 1000, height: 900 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  env.watch(page, 'keyboard');
  const sent = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    try { sent.push(JSON.parse(f.payload)); } catch { /* not ours */ }
  }));
  let v;
  try {
    await page.goto(`${env.brug.origin}/staff/`);
    await page.waitForSelector('body[data-labels="en"]', { timeout: STEP_MS });
    await page.getByTestId('login-form').waitFor({ state: 'visible', timeout: STEP_MS });
    // The form has the focus: user, Tab, password, Tab, TOTP code, Enter.
    assert.equal(await focused(page), 'login-user');
    await page.keyboard.type(keyboarder.user);
    await page.keyboard.press('Tab');
    await page.keyboard.type(keyboarder.password);
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'login-totp');
    await page.keyboard.type(await totpCode(env.brug, keyboarder.user));
    await page.keyboard.press('Enter');
    await page.getByTestId('available').waitFor({ state: 'visible', timeout: STEP_MS });

    await tabTo(page, 'available');
    await page.keyboard.press('Space');
    await page.waitForSelector('[data-testid="available"][data-confirmed="true"]', { timeout: STEP_MS });

    v = await newVisitor('en');
    await page.getByTestId('offer').waitFor({ state: 'visible', timeout: STEP_MS });
    await tabTo(page, 'offer-accept');
    await page.keyboard.press('Enter');
    await v.waitFor({ type: 'joined' }, STEP_MS);
    // The new chat's composer has the focus.
    await until(async () => (await focused(page)) === 'chat-composer', async () => `focus on ${await focused(page)}`);
    await page.keyboard.type('Hello, how can I help?');
    await page.keyboard.press('Enter');
    await v.waitFor({ type: 'msg', text: 'Hello, how can I help?' }, STEP_MS);
    await page.keyboard.type('/welcome');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await v.waitFor({ type: 'msg', text: en.canned.general.welcome }, STEP_MS);

    // The invite dialog opens and closes with Escape, focus back on its button.
    await tabTo(page, 'chat-invite');
    await page.keyboard.press('Enter');
    await page.getByTestId('request-dialog').waitFor({ state: 'visible', timeout: STEP_MS });
    await page.keyboard.press('Escape');
    await page.getByTestId('request-dialog').waitFor({ state: 'hidden', timeout: STEP_MS });
    assert.equal(await focused(page), 'chat-invite', 'focus returns to the invite button');

    // End with a tag.
    await tabTo(page, 'chat-end');
    await page.keyboard.press('Enter');
    await page.getByTestId('end-dialog').waitFor({ state: 'visible', timeout: STEP_MS });
    const tag = env.config.topics[1];
    await tabTo(page, `end-tag-${tag}`);
    await page.keyboard.press('Space');
    await tabTo(page, 'end-confirm');
    await shot(page, 'keyboard-end-dialog');
    await page.keyboard.press('Enter');
    await v.waitFor({ type: 'ended' }, STEP_MS);
    const end = sent.find((f) => f.type === 'end');
    assert.deepEqual(end && end.tags, [tag], `end sent with the tag: ${JSON.stringify(end)}`);
    const panel = page.getByTestId('chat');
    await panel.getByTestId('chat-state').filter({ hasText: /\S/ }).waitFor({ timeout: STEP_MS });
    // Close the ended chat, still by keyboard.
    await tabTo(page, 'chat-end', { back: true });
    await page.keyboard.press('Enter');
    await panel.waitFor({ state: 'detached', timeout: STEP_MS });
    assert.notEqual(await focused(page), 'BODY', 'focus is somewhere after closing');
    await shot(page, 'keyboard-done');
    assert.deepEqual(env.problems, [], 'no page errors, CSP violations or missing labels');
  } catch (e) {
    failed = true;
    await shot(page, 'keyboard-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${env.brug.logs().join('\n')}`);
    throw e;
  } finally {
    v?.close();
    await ctx.close();
  }
});
