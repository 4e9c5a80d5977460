// Browser test: the coordinator's live dashboard. A visitor says hello in
// Dutch while a volunteer (a Node client) is available; within about a
// second the dashboard in the console shows one visitor waiting for Dutch
// and the offer that went out, with the key number in a polite live region.
// The page is checked with axe-core and at 360 px wide.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { visitorHello, availableStaff } from '../lib/brugd.mjs';
import {
  startEnv, until, shot, axe, STEP_MS,
} from './staff-harness.mjs';
import { login, openPage, plain } from './coord-lib.mjs';

const cora = {
  user: 'cora', alias: 'Cora', roles: ['coordinator'], langs: ['nl'], password: 'a long coordinator password 1',
};
const vince = {
  user: 'vince', alias: 'Vince', roles: ['volunteer'], langs: ['nl'], password: 'a long volunteer password 1',
};

let env;
let failed = false;

before(async () => {
  env = await startEnv({ staff: [cora, vince] });
});

after(async () => {
  if (env) await env.close(failed);
});

test('the dashboard shows a waiting visitor within a second', async (t) => {
  const { browser, bundles } = env;
  const en = bundles.en.staff;
  // bypassCSP only so that axe can be injected as a script.
  const ctx = await browser.newContext({ viewport: { width: 360, height: 800 }, locale: 'en-GB', bypassCSP: true });
  const page = await ctx.newPage();
  env.watch(page, 'coordinator');
  let staff;
  let visitor;
  try {
    await login(env, page, cora, 'en');
    await openPage(page, 'dashboard');
    assert.equal(await page.getByTestId('page-dashboard').locator('h2').first().textContent(), en.dashboard);
    // The first push: every language with nobody waiting.
    const waiting = page.locator('[data-testid="dash-row"][data-lang="nl"] td[data-field="waiting"]');
    await waiting.waitFor({ state: 'visible', timeout: STEP_MS });
    assert.equal(await waiting.textContent(), '0');

    staff = await availableStaff(env.brug, vince.user, vince.password);
    // Let the volunteer's availability reach the dashboard first.
    await until(async () => (await page.locator('[data-testid="dash-row"][data-lang="nl"] td[data-field="available"]').textContent()) === '1',
      'the dashboard never showed the available volunteer');

    const t0 = Date.now();
    ({ v: visitor } = await visitorHello(env.brug, { lang: 'nl' }));
    await until(async () => (await waiting.textContent()) === '1', 'no waiting visitor on the dashboard', 3000);
    const took = Date.now() - t0;
    t.diagnostic(`waiting visitor shown after ${took} ms`);
    // Pushed at most once a second: the visitor shows within that second
    // (plus a little for the socket and the page).
    assert.ok(took <= 1500, `the dashboard took ${took} ms`);
    const summary = page.getByTestId('dash-summary');
    assert.equal(await summary.getAttribute('aria-live'), 'polite');
    assert.equal(plain(await summary.textContent()), plain(en.coord.dashSummary.replace('{n}', '1')));
    await until(async () => (await page.locator('[data-testid="dash-row"][data-lang="nl"] td[data-field="offers"]').textContent()) === '1',
      'the offer to the volunteer is not on the dashboard');
    const longest = page.locator('[data-testid="dash-row"][data-lang="nl"] td[data-field="longest_wait_s"]');
    await until(async () => /\d/.test(await longest.textContent()), 'no longest wait shown');

    // Narrow screen: nothing wider than the window.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than 360`);
    const violations = await axe(page);
    assert.deepEqual(violations, [], JSON.stringify(violations, null, 2));
    await shot(page, 'coord-dashboard');

    // The visitor leaves: the queue is empty again.
    visitor.send({ type: 'end' });
    await until(async () => (await waiting.textContent()) === '0', 'the visitor who left still counts as waiting', 3000);
    assert.deepEqual(env.problems, []);
  } catch (e) {
    failed = true;
    await shot(page, 'coord-dashboard-failed').catch(() => {});
    throw e;
  } finally {
    visitor?.close();
    staff?.close();
    await ctx.close();
  }
});

