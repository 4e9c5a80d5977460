// Browser test: the console's Block action. It asks first (Cancel keeps the
// chat), then ends the chat and says the visitor is blocked; the next
// visitor socket from that address gets the neutral not_available; the
// dialog has no accessibility violations. And the widget of a blocked
// visitor shows the neutral text and does not keep reconnecting.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectVisitor, availableStaff } from '../lib/brugd.mjs';
import { startEnv, loginConsole, becomeAvailable, assertText, axe, shot, until, STEP_MS } from './staff-harness.mjs';
import { startAs } from './visitor-lib.mjs';

const vera = {
  user: 'vera', alias: 'Vera', roles: ['volunteer'], langs: ['nl'], maxChats: 2, password: 'a long test password 9',
};
const ABUSER = '127.0.0.7';

let env;
let failed = false;

before(async () => {
  env = await startEnv({ staff: [vera] });
});

after(async () => {
  if (env) await env.close(failed);
});

test('Block asks, ends the chat and refuses the address', async () => {
  const { browser, bundles } = env;
  const en = bundles.en.staff;
  // bypassCSP only so that axe can be injected as a script (as staff-a11y).
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 900 }, locale: 'en-GB', bypassCSP: true });
  const page = await ctx.newPage();
  env.watch(page, 'staff');
  let v;
  try {
    await loginConsole(env, page, vera, 'en');
    await becomeAvailable(page);
    v = await connectVisitor(env.brug, { localAddress: ABUSER });
    v.send({ type: 'hello', lang: 'nl' });
    await v.next('welcome');
    await page.getByTestId('offer-accept').click();
    await v.waitFor({ type: 'joined' });
    const panel = page.getByTestId('chat');
    await panel.waitFor({ state: 'visible', timeout: STEP_MS });
    const block = panel.getByTestId('chat-block');
    await assertText(block, en.block, 'the Block button');

    // Cancel: nothing happens.
    await block.click();
    const dialog = page.getByTestId('block-dialog');
    await dialog.waitFor({ state: 'visible', timeout: STEP_MS });
    await assertText(dialog, en.blockTitle, 'the confirmation');
    const violations = await axe(page);
    assert.deepEqual(violations.map((x) => x.id), [], JSON.stringify(violations, null, 1));
    await page.getByTestId('block-cancel').click();
    await dialog.waitFor({ state: 'hidden', timeout: STEP_MS });
    assert.equal(v.frames.filter((f) => f.type === 'ended').length, 0, 'cancel ended nothing');

    // Confirm: the chat ends for the visitor as a staff end.
    await block.click();
    await page.getByTestId('block-confirm').click();
    assert.equal((await v.waitFor({ type: 'ended' })).by, 'staff');
    await assertText(panel.getByTestId('chat-state'), en.blocked, 'the chat state');
    assert.ok(await block.isDisabled(), 'Block is off in an ended chat');
    await shot(page, 'staff-block');

    // The next socket from that address gets the neutral error.
    const again = await connectVisitor(env.brug, { localAddress: ABUSER });
    assert.equal((await again.next('error')).code, 'not_available');
    assert.equal((await again.closed()).code, 1013);
    assert.deepEqual(env.problems, []);
  } catch (e) {
    failed = true;
    await shot(page, 'staff-block-failed').catch(() => {});
    throw e;
  } finally {
    if (v) v.close();
    await ctx.close();
  }
});

// Last: it blocks the browser's own address (127.0.0.1) for visitor sockets.
test('the widget of a blocked visitor shows the neutral text and stops', async () => {
  const ctx = await env.browser.newContext({ viewport: { width: 400, height: 800 }, locale: 'nl-NL' });
  const page = await ctx.newPage();
  env.watch(page, 'visitor');
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const staff = await availableStaff(env.brug, vera.user, vera.password);
  try {
    await page.goto(`${env.brug.origin}/`);
    await page.locator('body[data-labels]:not([data-labels="loading"])').waitFor({ timeout: STEP_MS });
    await startAs(page, 'nl');
    const offer = await staff.next('offer', STEP_MS);
    staff.send({ type: 'accept', offer: offer.offer });
    const { chat } = await staff.next('chat', STEP_MS);
    staff.send({ type: 'block', chat, id: 'b' });
    await staff.waitFor({ type: 'blocked', id: 'b' });
    await page.getByTestId('new-chat').waitFor({ state: 'visible', timeout: STEP_MS });

    // A new chat from the same address: the daemon's neutral text, in
    // Dutch, and the ended screen; no retries.
    await page.getByTestId('new-chat').click();
    await startAs(page, 'nl');
    await until(async () => /niet beschikbaar/.test(await page.getByTestId('messages').textContent()),
      async () => `no refusal shown: ${await page.getByTestId('messages').textContent()}`);
    const text = await page.getByTestId('messages').textContent();
    assert.match(text, /112/);
    assert.doesNotMatch(text, /blokk/i);
    await page.getByTestId('new-chat').waitFor({ state: 'visible', timeout: STEP_MS });
    const opened = sockets.length;
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(sockets.length, opened, `the widget reconnected: ${sockets.length - opened} more sockets`);
    await shot(page, 'visitor-blocked');
    assert.deepEqual(env.problems, []);
  } catch (e) {
    failed = true;
    await shot(page, 'visitor-blocked-failed').catch(() => {});
    throw e;
  } finally {
    staff.close();
    await ctx.close();
  }
});
