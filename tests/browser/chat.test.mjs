// Browser test: a real chat between the visitor page and the staff console in
// headless Chromium, against a real brugd over TLS. The browser trusts
// exactly the daemon's key (by its SPKI hash), not "any certificate".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../lib/browser.mjs';
import { startBrugd, repoRoot, totpCode } from '../lib/brugd.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(repoRoot ?? path.resolve(here, '..', '..'), 'test-results');
const STEP_MS = 15000;

const volunteer = {
  user: 'vera',
  alias: 'Vera',
  roles: ['volunteer'],
  langs: ['nl'],
  password: 'correct horse battery staple 42',
};

let brug;
let browser;
const problems = []; // page errors and CSP violations, checked at the end

function watch(page, name) {
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) {
      problems.push(`${name}: ${text}`);
    }
  });
}

before(async () => {
  brug = await startBrugd({ staff: [volunteer] });
  browser = await launchChromium(brug);
  mkdirSync(resultsDir, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  if (brug) {
    const info = await brug.stop();
    if (process.exitCode || problems.length) {
      console.log(`brugd exited ${JSON.stringify(info)}; log:\n${brug.logs().join('\n')}`);
    }
    await brug.cleanup?.();
  }
});

test('a visitor and a volunteer chat through the pages', async (t) => {
  const staffCtx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const visitorCtx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'en-GB' });
  const staff = await staffCtx.newPage();
  const visitor = await visitorCtx.newPage();
  watch(staff, 'staff');
  watch(visitor, 'visitor');
  const shots = async (suffix) => {
    await staff.screenshot({ path: path.join(resultsDir, `chat-staff${suffix}.png`), fullPage: true });
    await visitor.screenshot({ path: path.join(resultsDir, `chat-visitor${suffix}.png`), fullPage: true });
  };

  try {
    // The staff console: log in and become available.
    const staffResp = await staff.goto(`${brug.origin}/staff/`);
    assert.equal(staffResp.status(), 200, 'GET /staff/');
    // The pages' labels come from the daemon's bundles; so do the expected
    // texts here.
    const labels = async (lang) => staff.evaluate(async (l) => (await fetch(`/i18n/${l}.json`)).json(), lang);
    const en = await labels('en');
    const nl = await labels('nl');
    await staff.waitForSelector('body[data-labels="en"]', { timeout: STEP_MS });
    await staff.getByTestId('login-user').fill(volunteer.user);
    await staff.getByTestId('login-password').fill(volunteer.password);
    await staff.getByTestId('login-totp').fill(await totpCode(brug, volunteer.user));
    await staff.getByTestId('login-submit').click();
    const available = staff.getByTestId('available');
    await available.waitFor({ state: 'visible', timeout: STEP_MS });
    await assertText(staff.getByTestId('whoami'), /Vera/);
    await available.check();
    // The daemon answers `status` with the resulting availability; the page
    // marks the checkbox once it has (so the visitor cannot arrive first).
    await staff.waitForSelector('[data-testid="available"][data-confirmed="true"]', { timeout: STEP_MS });
    assert.equal(await staff.evaluate(() => sessionStorage.length), 1, 'staff keeps only its token');

    // The visitor page: pick Nederlands and start.
    const visitorResp = await visitor.goto(`${brug.origin}/`);
    assert.equal(visitorResp.status(), 200, 'GET /');
    await visitor.waitForSelector('body[data-labels="en"]', { timeout: STEP_MS });
    assert.equal(await visitor.title(), en.visitor.title);
    await visitor.getByLabel(nl.languages.nl).check();
    await visitor.waitForSelector('body[data-labels="nl"]', { timeout: STEP_MS });
    assert.equal(await visitor.title(), nl.visitor.title);
    await visitor.getByTestId('start').click();

    // The volunteer gets the offer and accepts it.
    const accept = staff.getByTestId('offer-accept');
    await accept.waitFor({ state: 'visible', timeout: STEP_MS }).catch(async (e) => {
      throw new Error(`no offer on the staff page; visitor status: ${JSON.stringify(await visitor.getByTestId('status').textContent())}; ${e.message}`);
    });
    await assertText(staff.getByTestId('offers'), new RegExp(escape(en.languages.nl)));
    await accept.click();
    const panel = staff.getByTestId('chat');
    await panel.waitFor({ state: 'visible', timeout: STEP_MS });
    await assertText(panel.getByTestId('chat-title'), new RegExp(escape(en.languages.nl)));

    // The visitor sees who joined and can write.
    await assertText(visitor.getByTestId('messages'), new RegExp(escape(nl.visitor.joined.replace('{alias}', 'Vera'))));
    const composer = visitor.getByTestId('composer');
    await composer.waitFor({ state: 'visible', timeout: STEP_MS });
    assert.equal(await visitor.evaluate(() => document.documentElement.lang), 'nl');
    assert.equal(await visitor.evaluate(() => document.documentElement.dir), 'ltr');

    // Visitor -> volunteer (Enter sends).
    const question = 'Hallo, ik wil graag iets vragen.';
    await enabled(composer);
    await composer.fill(question);
    await composer.press('Enter');
    await assertText(panel.getByTestId('chat-messages'), new RegExp(escape(question)));
    await assertText(visitor.getByTestId('messages'), new RegExp(escape(question)));

    // Volunteer -> visitor (Send button).
    const answer = 'Goedemiddag, ik ben er voor je. Wat is er aan de hand?';
    await panel.getByTestId('chat-composer').fill(answer);
    await panel.getByTestId('chat-send').click();
    await assertText(visitor.getByTestId('messages'), new RegExp(escape(answer)));
    await assertText(panel.getByTestId('chat-messages'), new RegExp(escape(answer)));

    // Text stays text: no markup is interpreted.
    const markup = '<b>vet</b> & <img src=x>';
    await composer.fill(markup);
    await visitor.getByTestId('send').click();
    await assertText(panel.getByTestId('chat-messages'), new RegExp(escape(markup)));
    assert.equal(await panel.getByTestId('chat-messages').locator('b, img').count(), 0, 'no markup in the transcript');

    // The visitor leaves no trace in the browser.
    const state = await visitorCtx.storageState();
    assert.deepEqual(state.cookies, [], 'visitor has no cookies');
    assert.ok(state.origins.every((o) => o.localStorage.length === 0), 'visitor has no localStorage');
    assert.equal(await visitor.evaluate(() => sessionStorage.length), 0, 'visitor has no sessionStorage');

    // The page works at 360 px: nothing wider than the viewport.
    const overflow = await visitor.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `visitor page scrolls sideways by ${overflow}px at 360px`);

    await shots('');
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    await shots('-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    await staffCtx.close();
    await visitorCtx.close();
  }
});

function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function enabled(locator) {
  const deadline = Date.now() + STEP_MS;
  while (!(await locator.isEnabled())) {
    if (Date.now() > deadline) throw new Error('composer stayed disabled');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Wait until the locator's text matches re; fail with what it showed.
async function assertText(locator, re) {
  const deadline = Date.now() + STEP_MS;
  let last = '';
  for (;;) {
    last = (await locator.first().textContent().catch(() => '')) ?? '';
    if (re.test(last)) return;
    if (Date.now() > deadline) assert.fail(`expected ${re} in ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
