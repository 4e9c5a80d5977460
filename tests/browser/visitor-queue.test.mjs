// Browser test: the queue and the closed screen. Two visitors wait for one
// volunteer (driven over the staff socket from Node): the second sees
// place 2, then place 1 once the first is taken. A visitor who picks a
// language nobody speaks now is told so before starting and gets the closed
// screen, with the next opening when known and the emergency alternatives
// once, not twice. Requests go only to brugd's own origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrugd, availableStaff } from '../lib/brugd.mjs';
import {
  launch, watch, logRequests, assertOrigins, bundles, fill, norm, escapeRe, expectText, until, startAs, shot, STEP_MS,
} from './visitor-lib.mjs';

const vera = { user: 'vera', alias: 'Vera', roles: ['volunteer'], langs: ['nl'], maxChats: 1, password: 'a long enough test password 2' };

let brug;
let browser;
let labels;
const problems = [];

before(async () => {
  // Offers stay open long enough to watch the queue.
  brug = await startBrugd({ staff: [vera], config: { chat: { offer_timeout_seconds: 60 } } });
  browser = await launch(brug);
  labels = await bundles(brug, ['nl', 'ti']);
});

after(async () => {
  await browser?.close();
  if (brug) {
    const info = await brug.stop();
    if (process.exitCode) console.log(`brugd exited ${JSON.stringify(info)}; log:\n${brug.logs().join('\n')}`);
    await brug.cleanup();
  }
});

async function visitorPage(name, locale = 'nl-NL') {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale });
  const page = await ctx.newPage();
  watch(page, name, problems);
  const requests = logRequests(page);
  await page.goto(`${brug.origin}/`);
  await page.locator('body[data-labels]:not([data-labels="loading"])').waitFor({ timeout: STEP_MS });
  return { ctx, page, requests };
}

const position = (page) => page.getByTestId('queue').getAttribute('data-position');

test('two visitors wait: the second is number 2, then number 1', async (t) => {
  const v = labels.nl.visitor;
  let staff;
  const pages = [];
  try {
    staff = await availableStaff(brug, vera.user, vera.password);
    const a = await visitorPage('visitor A');
    const b = await visitorPage('visitor B');
    pages.push(a, b);
    await expectText(a.page.getByTestId('availability'), new RegExp(escapeRe(norm(fill(v.availableNow, { language: labels.nl.langName.nl })))));

    // A starts: the volunteer is offered A's chat but does not take it yet.
    await startAs(a.page, 'nl');
    const offerA = await staff.next('offer', STEP_MS);
    await a.page.getByTestId('chat-heading').filter({ hasText: v.queueTitle }).waitFor({ timeout: STEP_MS });
    assert.equal(await a.page.evaluate(() => document.activeElement?.id), 'chat-heading', 'the focus moves to the new screen');
    await until(async () => (await position(a.page)) === '1', 'A at place 1');

    // B starts behind A.
    await startAs(b.page, 'nl');
    await until(async () => (await position(b.page)) === '2', 'B at place 2');
    const queueText = norm(await b.page.getByTestId('queue').textContent());
    t.diagnostic(`B's queue text: ${queueText}`);
    assert.match(queueText, /2/, 'the daemon\'s sentence names the place');
    assert.equal(await b.page.getByTestId('queue').getAttribute('aria-live'), 'polite', 'announced when it changes');
    assert.ok(await b.page.getByTestId('composer').isHidden(), 'no composer while waiting');
    assert.ok(await b.page.getByTestId('end').isVisible(), 'waiting can be given up');
    await shot(b.page, 'queue-2');

    // The volunteer takes A: B moves up.
    staff.send({ type: 'accept', offer: offerA.offer });
    await staff.next('chat', STEP_MS);
    await a.page.getByTestId('composer').waitFor({ timeout: STEP_MS });
    await until(async () => (await position(b.page)) === '1', 'B at place 1', 10000);
    assert.notEqual(norm(await b.page.getByTestId('queue').textContent()), queueText, 'the sentence changed too');
    await shot(b.page, 'queue-1');

    // B gives up waiting; A's chat is not touched.
    await b.page.getByTestId('end').click();
    await b.page.getByTestId('end-yes').click();
    await b.page.getByTestId('new-chat').waitFor({ timeout: STEP_MS });

    for (const p of pages) assertOrigins(p.requests, [brug.origin], 'visitor page requests');
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    for (const [i, p] of pages.entries()) await shot(p.page, `queue-failed-${i}`).catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    staff?.close();
    for (const p of pages) await p.ctx.close();
  }
});

test('nobody speaks the language now: told before starting, then the closed screen', async (t) => {
  const v = labels.ti.visitor;
  const { ctx, page, requests } = await visitorPage('visitor ti', 'ti');
  try {
    await page.locator('body[data-labels="ti"]').waitFor({ timeout: STEP_MS });
    // On the start screen, in Tigrinya, with the language's name in Tigrinya.
    const none = norm(fill(v.availableNone, { language: labels.ti.langName.ti }));
    await expectText(page.getByTestId('availability'), new RegExp(escapeRe(none)));
    assert.equal(await page.getByTestId('availability').getAttribute('data-open'), 'false');

    await page.getByTestId('start').click();
    await page.getByTestId('chat-heading').filter({ hasText: v.closedTitle }).waitFor({ timeout: STEP_MS });
    const emergency = page.getByTestId('emergency');
    await emergency.waitFor({ state: 'visible', timeout: STEP_MS });
    const alternatives = norm(await page.getByTestId('alternatives').textContent());
    t.diagnostic(`closed text: ${alternatives}`);
    assert.match(alternatives, /112/, 'the daemon\'s text names 112');
    assert.match(alternatives, /0800-2000/, 'and Veilig Thuis');
    // Said once: the page's own list of numbers is not shown as well.
    const shown = norm(await page.getByTestId('chat-heading').locator('..').innerText());
    assert.equal(shown.split('112').length - 1, 1, `112 named once on the closed screen: ${shown}`);
    assert.equal(shown.split('0800-2000').length - 1, 1, 'Veilig Thuis named once');
    assert.equal(norm(await page.locator('#emergency-title').textContent()), norm(v.closedAlternatives));
    assert.ok(await page.getByTestId('composer').isHidden(), 'no composer while closed');
    // No next opening is known yet (no roster): nothing invented.
    const next = await page.getByTestId('next-open').isVisible();
    if (next) assert.match(norm(await page.getByTestId('next-open').textContent()), new RegExp(escapeRe(norm(v.nextOpen).split('{when}')[0].trim())));
    await shot(page, 'closed-ti');

    assertOrigins(requests, [brug.origin], 'visitor page requests');
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    await shot(page, 'closed-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    await ctx.close();
  }
});
