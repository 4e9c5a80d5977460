// Browser test: the statistics page. After a few chats driven from Node
// (three answered and tagged, one quick exit) the coordinator's console
// draws the charts from the aggregates and shows the small counts as "<10",
// never as the number; the CSV export (captured as the download the page
// makes from a Blob) hides them the same way. axe-core and 360 px wide.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableStaff, loginStaff, startChat, sync } from '../lib/brugd.mjs';
import { startEnv, until, shot, axe, STEP_MS } from './staff-harness.mjs';
import { login, openPage } from './coord-lib.mjs';

const cora = {
  user: 'cora', alias: 'Cora', roles: ['coordinator'], langs: ['nl'], password: 'a long coordinator password 2',
};
const vera = {
  user: 'vera', alias: 'Vera', roles: ['volunteer'], langs: ['nl', 'ar'], maxChats: 2, password: 'a long volunteer password 2',
};

let env;
let failed = false;

before(async () => {
  env = await startEnv({ staff: [cora, vera] });
});

after(async () => {
  if (env) await env.close(failed);
});

const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
// A count the page or the CSV may show: "<10", 0, or 10 and more.
const SMALL = /^[1-9]$/;

test('statistics show small counts as "<10" in the charts and the CSV', async (t) => {
  const { browser } = env;
  const ctx = await browser.newContext({ viewport: { width: 360, height: 800 }, locale: 'en-GB', bypassCSP: true, acceptDownloads: true });
  const page = await ctx.newPage();
  env.watch(page, 'coordinator');
  let staff;
  try {
    staff = await availableStaff(env.brug, vera.user, vera.password);
    for (const [lang, tags] of [['nl', ['domestic_violence']], ['nl', ['domestic_violence', 'other']], ['ar', ['forced_marriage']]]) {
      const { v, chat } = await startChat(env.brug, staff, { lang });
      staff.send({ type: 'end', chat, tags });
      await staff.waitFor((f) => f.type === 'ended' && f.chat === chat);
      v.close();
    }
    {
      const { v, chat } = await startChat(env.brug, staff, { lang: 'nl' });
      v.send({ type: 'end', quick_exit: true });
      await staff.waitFor((f) => f.type === 'ended' && f.chat === chat);
      v.close();
    }
    await sync(staff);

    // Does the daemon count chats yet? (The hub's recording lands
    // separately from the statistics module.)
    const probe = await loginStaff(env.brug, cora.user, cora.password);
    probe.send({ type: 'stats_get', from: day(-1), to: day(1), id: 'probe' });
    const report = await probe.waitFor((f) => f.id === 'probe');
    probe.close();
    const counted = report.type === 'stats' && report.by_outcome && report.by_outcome.answered !== 0;
    if (!counted) t.todo('the hub does not record finished chats in the statistics yet');

    await login(env, page, cora, 'en');
    await openPage(page, 'statistics');
    await page.getByTestId('stats-from').fill(day(-1));
    await page.getByTestId('stats-to').fill(day(1));
    await page.getByTestId('stats-show').click();
    const perOutcome = page.getByTestId('chart-perOutcome');
    await perOutcome.waitFor({ state: 'visible', timeout: STEP_MS });
    await page.getByTestId('chart-perDay').locator('svg').waitFor({ timeout: STEP_MS });
    // The figures behind every chart: "<10" for the few chats, no 1..9.
    const cells = await page.getByTestId('stats-charts').locator('[data-testid="stat-cell"]').allTextContents();
    assert.ok(cells.includes('<10'), `no "<10" among ${JSON.stringify(cells)}`);
    for (const c of cells) assert.doesNotMatch(c.trim(), SMALL, `a small count shown as a number: ${JSON.stringify(cells)}`);
    // The SVG says it too (the value above the hatched bar).
    const svgTexts = await perOutcome.locator('svg text.value').allTextContents();
    assert.ok(svgTexts.includes('<10'), `chart values ${JSON.stringify(svgTexts)}`);
    assert.match(await page.getByTestId('stats-note').textContent(), /<10/);

    // CSV: a download made from a Blob.
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: STEP_MS }),
      page.getByTestId('stats-csv').click(),
    ]);
    assert.match(download.suggestedFilename(), /\.csv$/);
    const csv = readFileSync(await download.path(), 'utf8');
    const lines = csv.split(/\r?\n/).filter(Boolean);
    assert.ok(lines.length > 1, `CSV: ${csv}`);
    assert.ok(lines.slice(1).some((l) => l.endsWith(',<10')), `no "<10" in the CSV:\n${csv}`);
    for (const l of lines.slice(1)) assert.doesNotMatch(l.split(',').pop(), SMALL, `CSV line ${l}`);

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than 360`);
    const violations = await axe(page);
    assert.deepEqual(violations, [], JSON.stringify(violations, null, 2));
    await shot(page, 'coord-stats');
    assert.deepEqual(env.problems, []);
  } catch (e) {
    failed = true;
    await shot(page, 'coord-stats-failed').catch(() => {});
    throw e;
  } finally {
    staff?.close();
    await ctx.close();
  }
});
