// Browser test: the console reloads in the middle of a chat. Within the
// daemon's reconnect grace it logs in again with its token (sessionStorage)
// and gets everything back: its availability, the offer that was waiting,
// and the chat with its transcript, including what the visitor wrote while
// the console was away. The visitor is never put back in the queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectVisitor } from '../lib/brugd.mjs';
import {
  startEnv, loginConsole, becomeAvailable, assertText, until, shot, messageTexts, STEP_MS,
} from './staff-harness.mjs';

const vera = {
  user: 'vera', alias: 'Vera', roles: ['volunteer'], langs: ['nl', 'tr'], maxChats: 2, password: 'a long test password 3',
};

let env;
let failed = false;

before(async () => {
  env = await startEnv({ staff: [vera], config: { staff: { reconnect_grace_seconds: 30 } } });
});

after(async () => {
  if (env) await env.close(failed);
});

async function newVisitor(lang) {
  const v = await connectVisitor(env.brug);
  v.send({ type: 'hello', lang });
  await v.next('welcome');
  return v;
}

test('a reload keeps the chat, its transcript and the waiting offer', async (t) => {
  const { browser, bundles } = env;
  const en = bundles.en.staff;
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 900 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  env.watch(page, 'staff');
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.type()); d.dismiss().catch(() => {}); });
  let v1;
  let v2;
  try {
    await loginConsole(env, page, vera, 'en');
    await becomeAvailable(page);

    v1 = await newVisitor('nl');
    await page.getByTestId('offer-accept').click();
    await v1.waitFor({ type: 'joined' });
    const panel = page.getByTestId('chat');
    await panel.waitFor({ state: 'visible', timeout: STEP_MS });
    const chatId = await panel.getAttribute('data-chat');
    const title = await panel.getByTestId('chat-title').textContent();

    v1.send({ type: 'msg', text: 'Eerste bericht van de bezoeker' });
    await panel.getByTestId('chat-composer').fill('Antwoord voor de herlading');
    await panel.getByTestId('chat-send').click();
    await until(async () => (await messageTexts(panel)).length === 2, 'two messages before the reload');

    // A second visitor (Turkish) waits with an offer on the console.
    v2 = await newVisitor('tr');
    await page.getByTestId('offer').waitFor({ state: 'visible', timeout: STEP_MS });

    // The token is the only thing kept (and no "leave the page?" prompt).
    assert.ok(await page.evaluate(() => sessionStorage.getItem('brug.staff.token')), 'token in sessionStorage');
    const framesBefore = v1.frames.length;
    await page.reload();
    // While the console is away, the visitor writes on.
    v1.send({ type: 'msg', text: 'Geschreven tijdens de herlading' });

    // Back: the chat with its whole transcript, the offer, the availability.
    const again = page.locator(`[data-testid="chat"][data-chat="${chatId}"]`);
    await again.waitFor({ state: 'visible', timeout: STEP_MS });
    await until(async () => {
      const texts = await messageTexts(again);
      return ['Eerste bericht van de bezoeker', 'Antwoord voor de herlading', 'Geschreven tijdens de herlading']
        .every((x) => texts.includes(x));
    }, async () => `transcript after the reload: ${JSON.stringify(await messageTexts(again))}`);
    assert.equal(await again.getByTestId('chat-title').textContent(), title, 'the same visitor label');
    await assertText(page.getByTestId('status'), en.reconnectedChats);
    await page.getByTestId('offer').waitFor({ state: 'visible', timeout: STEP_MS });
    await assertText(page.getByTestId('offers'), bundles.en.langName?.tr ?? 'Turkish');
    await page.waitForSelector('[data-testid="available"][data-confirmed="true"]', { timeout: STEP_MS });
    assert.equal(await page.getByTestId('whoami').textContent().then((s) => /Vera/.test(s)), true);
    await shot(page, 'reload-resumed');

    // The visitor was never requeued and the chat goes on both ways.
    const after = v1.frames.slice(framesBefore);
    assert.ok(!after.some((f) => f.type === 'notice' || f.type === 'queue' || f.type === 'ended'),
      `visitor frames during the reload: ${JSON.stringify(after)}`);
    await again.getByTestId('chat-composer').fill('Ik ben er weer');
    await again.getByTestId('chat-composer').press('Enter');
    await v1.waitFor({ type: 'msg', text: 'Ik ben er weer' }, STEP_MS);
    v1.send({ type: 'msg', text: 'Fijn' });
    await until(async () => (await messageTexts(again)).includes('Fijn'), 'visitor message after the reload');
    assert.equal((await messageTexts(again)).filter((x) => x === 'Eerste bericht van de bezoeker').length, 1,
      'no message twice');

    // The waiting offer can still be taken.
    await page.getByTestId('offer-accept').click();
    await v2.waitFor({ type: 'joined' }, STEP_MS);
    await until(async () => (await page.getByTestId('chat').count()) === 2, 'second chat opens');
    assert.deepEqual(dialogs, [], 'no prompt on reload');
    await shot(page, 'reload-two-chats');

    // Logging out ends the session: a reload shows the login form.
    await page.getByTestId('logout').click();
    await page.getByTestId('login-form').waitFor({ state: 'visible', timeout: STEP_MS });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('brug.staff.token')), null, 'token gone');
    await page.reload();
    await page.getByTestId('login-form').waitFor({ state: 'visible', timeout: STEP_MS });
    assert.deepEqual(env.problems, [], 'no page errors, CSP violations or missing labels');
  } catch (e) {
    failed = true;
    await shot(page, 'reload-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${env.brug.logs().join('\n')}`);
    throw e;
  } finally {
    v1?.close();
    v2?.close();
    await ctx.close();
  }
});
