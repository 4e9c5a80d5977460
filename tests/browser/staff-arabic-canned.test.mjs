// Browser test: a whole chat in Arabic between the visitor page and the
// staff console. The console (in Dutch) gets the offer with the chat's
// language and topic, opens a right-to-left composer for it, and answers
// with prepared answers from the *Arabic* bundle: one by its keyword
// ("/welcome" and Tab), one by a click in the topic's group. The visitor
// receives exactly the bundle's texts. The visitor's quick exit shows in
// the console's panel.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEnv, loginConsole, becomeAvailable, assertText, until, shot, messageTexts, norm, STEP_MS,
} from './staff-harness.mjs';

const samira = {
  user: 'samira', alias: 'Samira', roles: ['volunteer'], langs: ['ar', 'nl'], password: 'a long test password 1',
};
const TOPIC = 'forced_marriage';

let env;
let failed = false;

before(async () => {
  env = await startEnv({ staff: [samira] });
});

after(async () => {
  if (env) await env.close(failed);
});

test('an Arabic chat answered with prepared answers', async (t) => {
  const { brug, browser, bundles } = env;
  const ar = bundles.ar;
  const nl = bundles.nl;
  assert.equal(typeof ar.canned, 'object', 'the ar bundle has canned answers');
  assert.equal(typeof ar.canned.general?.welcome, 'string', 'ar canned general/welcome');
  const topicAnswers = ar.canned[TOPIC];
  assert.equal(typeof topicAnswers, 'object', `ar canned has the ${TOPIC} group`);

  const staffCtx = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: 'nl-NL' });
  const visitorCtx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'ar' });
  const staff = await staffCtx.newPage();
  const visitor = await visitorCtx.newPage();
  env.watch(staff, 'staff');
  env.watch(visitor, 'visitor');
  try {
    await loginConsole(env, staff, samira, 'nl');
    await becomeAvailable(staff);

    // The visitor, in Arabic, with a topic.
    await visitor.goto(`${brug.origin}/`);
    await visitor.waitForSelector('body[data-labels="ar"]', { timeout: STEP_MS });
    assert.equal(await visitor.evaluate(() => document.documentElement.dir), 'rtl', 'visitor page is right-to-left');
    await visitor.getByTestId('topic').selectOption(TOPIC);
    await visitor.getByTestId('start').click();

    // The offer names the language and topic in the console's language.
    const offer = staff.getByTestId('offer');
    await offer.waitFor({ state: 'visible', timeout: STEP_MS });
    await assertText(offer, nl.langName?.ar ?? nl.languages.ar, 'offer language');
    await assertText(offer, nl.topics[TOPIC], 'offer topic');
    await shot(staff, 'arabic-offer');
    await staff.getByTestId('offer-accept').click();

    const panel = staff.getByTestId('chat');
    await panel.waitFor({ state: 'visible', timeout: STEP_MS });
    const composer = panel.getByTestId('chat-composer');
    assert.equal(await composer.getAttribute('dir'), 'rtl', 'composer follows the chat\'s direction');
    assert.equal(await composer.getAttribute('lang'), 'ar', 'composer in the chat\'s language');
    assert.match(await panel.getByTestId('chat-title').textContent(), /\S/, 'chat title');
    const title = await panel.getByTestId('chat-title').textContent();
    assert.match(title, /\d/, `the visitor shown as "Visitor N": ${title}`);

    // The visitor writes, mixing Arabic and Dutch.
    const vComposer = visitor.getByTestId('composer');
    await until(() => vComposer.isEnabled(), 'visitor composer stays disabled');
    const question = 'مرحبا، ik heet Sara en أحتاج مساعدة';
    await vComposer.fill(question);
    await vComposer.press('Enter');
    await until(async () => (await messageTexts(panel)).includes(question),
      async () => `console never showed the visitor's message: ${JSON.stringify(await messageTexts(panel))}`);

    // The visitor's typing shows in the console.
    await vComposer.fill('...');
    await panel.getByTestId('chat-typing').waitFor({ state: 'visible', timeout: STEP_MS });
    await vComposer.fill('');

    // "/welcome" and Tab put in the Arabic welcome; Enter sends it.
    const welcome = ar.canned.general.welcome;
    await composer.click();
    await composer.pressSequentially('/wel');
    await panel.getByTestId('canned-hint').waitFor({ state: 'visible', timeout: STEP_MS });
    await composer.pressSequentially('come');
    await composer.press('Tab');
    assert.equal(await composer.inputValue(), welcome, 'the keyword became the ar bundle\'s text');
    assert.ok(await composer.evaluate((e) => e === document.activeElement), 'focus stays in the composer');
    await shot(staff, 'arabic-canned-inserted');
    await composer.press('Enter');
    await until(async () => (await messageTexts(panel)).includes(welcome), 'welcome not in the console');
    const visitorTexts = () => visitor.getByTestId('messages').locator('.msg-text').allTextContents();
    await until(async () => (await visitorTexts()).includes(welcome),
      async () => `visitor did not get the welcome: ${JSON.stringify(await visitorTexts())}`);

    // The prepared answers: the chat's topic first, then the general ones.
    const canned = panel.getByTestId('canned');
    await canned.locator('summary').click();
    const groups = await canned.locator('.canned-group h3').allTextContents();
    assert.equal(norm(groups[0]), norm(nl.cannedGroup?.[TOPIC] ?? ''), `first group is the chat's topic: ${groups}`);
    assert.equal(norm(groups[1]), norm(nl.cannedGroup?.general ?? ''), `then general: ${groups}`);
    // Their texts are the Arabic ones, marked as Arabic.
    const [keyword, text] = Object.entries(topicAnswers)[0];
    const answerButton = canned.locator(`button[data-keyword="${keyword}"]`).first();
    assert.equal(await answerButton.locator('.canned-text').getAttribute('lang'), 'ar');
    await answerButton.click();
    assert.equal(await composer.inputValue(), text, 'a click inserts the answer');
    await panel.getByTestId('chat-send').click();
    await until(async () => (await visitorTexts()).includes(text),
      async () => `visitor did not get the topic answer: ${JSON.stringify(await visitorTexts())}`);

    // An unknown keyword and Enter sends the text as it is.
    await composer.fill('/nosuchkeyword');
    await composer.press('Enter');
    await until(async () => (await visitorTexts()).includes('/nosuchkeyword'), 'plain "/word" not sent');

    // The console's typing shows on the visitor page.
    await composer.fill('أكتب');
    await visitor.getByTestId('typing').waitFor({ state: 'visible', timeout: STEP_MS });
    await composer.fill('');

    assert.ok(!/[\u0600-\u06FF]/.test(await staff.title()), 'no message text in the title');
    await shot(staff, 'arabic-chat');
    await shot(visitor, 'arabic-visitor');

    // The visitor leaves by the quick exit: the panel says so plainly.
    await visitor.getByTestId('quick-exit').click();
    await assertText(panel.getByTestId('chat-state'), nl.staff.quickExitEnded, 'quick-exit end in the panel');
    assert.ok(await composer.isDisabled(), 'no more writing in an ended chat');
    await shot(staff, 'arabic-quick-exit');
    assert.deepEqual(env.problems, [], 'no page errors, CSP violations or missing labels');
  } catch (e) {
    failed = true;
    await shot(staff, 'arabic-failed-staff').catch(() => {});
    await shot(visitor, 'arabic-failed-visitor').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    await staffCtx.close();
    await visitorCtx.close();
  }
});
