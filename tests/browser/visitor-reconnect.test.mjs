// Browser test: the network drops during a chat. First the device goes
// offline (CDP network emulation: the page gets `offline`, then `online`),
// then the socket is cut with no warning at all (the test closes it in the
// middle, through Playwright's WebSocket routing). Each time the visitor
// reconnects by itself, keeps the chat (same helper, same messages, one
// notice of who joined) and sees what the helper wrote meanwhile, marked as
// missed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrugd, availableStaff } from '../lib/brugd.mjs';
import {
  launch, watch, logRequests, assertOrigins, bundles, fill, norm, escapeRe, expectText, enabled, startAs, shot, STEP_MS,
} from './visitor-lib.mjs';

const vera = { user: 'vera', alias: 'Vera', roles: ['volunteer'], langs: ['nl'], password: 'a long enough test password 4' };

let brug;
let browser;
let labels;
const problems = [];

before(async () => {
  // A grace period long enough for the backoff, short enough for a test.
  brug = await startBrugd({ staff: [vera], config: { chat: { grace_seconds: 30 } } });
  browser = await launch(brug);
  labels = await bundles(brug, ['nl']);
});

after(async () => {
  await browser?.close();
  if (brug) {
    const info = await brug.stop();
    if (process.exitCode) console.log(`brugd exited ${JSON.stringify(info)}; log:\n${brug.logs().join('\n')}`);
    await brug.cleanup();
  }
});

test('the visitor reconnects, keeps the chat and sees what was missed', async (t) => {
  const v = labels.nl.visitor;
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'nl-NL' });
  const page = await ctx.newPage();
  watch(page, 'visitor', problems);
  const requests = logRequests(page);
  // Every visitor socket goes through the test, which can cut it.
  const routes = [];
  await page.routeWebSocket(/\/ws\/visitor$/, (ws) => {
    const server = ws.connectToServer();
    routes.push({ ws, server });
  });
  let staff;
  try {
    staff = await availableStaff(brug, vera.user, vera.password);
    await page.goto(`${brug.origin}/`);
    await page.locator('body[data-labels="nl"]').waitFor({ timeout: STEP_MS });
    await startAs(page, 'nl');
    const offer = await staff.next('offer', STEP_MS);
    staff.send({ type: 'accept', offer: offer.offer });
    const { chat } = await staff.next('chat', STEP_MS);
    const composer = page.getByTestId('composer');
    await enabled(composer);
    await composer.fill('Eerste bericht');
    await composer.press('Enter');
    await staff.next('msg', STEP_MS);
    staff.send({ type: 'msg', chat, text: 'Eerste antwoord' });
    await expectText(page.getByTestId('messages'), /Eerste antwoord/);
    const messages = page.getByTestId('messages');
    const joinedText = norm(fill(v.joined, { alias: 'Vera' }));

    // 1. The device goes offline: the page lets the socket go and says so.
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await expectText(page.getByTestId('status'), new RegExp(escapeRe(norm(v.reconnecting))));
    assert.ok(await page.getByTestId('send').isDisabled(), 'no sending into a dead connection');
    assert.ok(await composer.isEnabled(), 'but the visitor may go on writing');
    const away = await staff.waitFor({ type: 'presence', visitor: 'away' }, STEP_MS);
    assert.equal(away.chat, chat);
    await shot(page, 'reconnect-offline');
    // The helper writes while the visitor is away.
    staff.send({ type: 'msg', chat, text: 'Ben je er nog? (gemist 1)' });
    staff.send({ type: 'msg', chat, text: 'Ik wacht op je. (gemist 2)' });
    await staff.waitFor((f) => f.type === 'msg' && /gemist 2/.test(f.text), STEP_MS);

    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await staff.waitFor({ type: 'presence', visitor: 'back' }, STEP_MS);
    await expectText(messages, /gemist 2/);
    const text = norm(await messages.textContent());
    assert.ok(text.indexOf(norm(v.missedMessages)) >= 0 && text.indexOf(norm(v.missedMessages)) < text.indexOf('gemist 1'),
      `the missed messages are marked: ${text}`);
    assert.ok(text.indexOf('gemist 1') < text.indexOf('gemist 2'), 'in order');
    assert.equal(text.split('Eerste antwoord').length - 1, 1, 'nothing twice');
    assert.equal(text.split(joinedText).length - 1, 1, 'the helper is not announced again');
    await enabled(composer);
    await expectText(page.getByTestId('status'), new RegExp(escapeRe(norm(fill(v.chattingWith, { alias: 'Vera' })))));
    await composer.fill('Ik ben er weer');
    await composer.press('Enter');
    assert.match((await staff.waitFor((f) => f.type === 'msg' && f.from === 'visitor' && /weer/.test(f.text), STEP_MS)).text, /weer/);
    await shot(page, 'reconnect-back');

    // 2. The connection is cut without a word (no offline event): the page
    // notices the close and comes back by its backoff.
    const before = routes.length;
    const { ws, server } = routes[routes.length - 1];
    // (1006 cannot be sent; 4000 is as unexplained to both sides.)
    await server.close({ code: 4000, reason: 'cut' });
    await ws.close({ code: 4000, reason: 'cut' });
    await staff.waitFor((f) => f.type === 'presence' && f.visitor === 'away', STEP_MS);
    staff.send({ type: 'msg', chat, text: 'Nog een gemist bericht (gemist 3)' });
    await staff.waitFor((f) => f.type === 'presence' && f.visitor === 'back', STEP_MS);
    assert.ok(routes.length > before, 'a new socket');
    await expectText(messages, /gemist 3/);
    await enabled(composer);
    const after = norm(await messages.textContent());
    assert.equal(after.split('gemist 1').length - 1, 1, 'nothing twice after the second drop');
    assert.equal(after.split(joinedText).length - 1, 1, 'the helper is still not announced again');

    assertOrigins(requests, [brug.origin], 'visitor page requests');
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    await shot(page, 'reconnect-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    staff?.close();
    await ctx.close();
  }
});
