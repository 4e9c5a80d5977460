// Shared by the staff console's browser tests (staff-*.test.mjs): a real
// brugd over TLS, headless Chromium that trusts exactly the daemon's key (by
// its SPKI hash), the label bundles as the daemon serves them, and small
// helpers to drive the console page.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { launchChromium } from '../lib/browser.mjs';
import { startBrugd, repoRoot, totpCode } from '../lib/brugd.mjs';

export const STEP_MS = 15000;
export const LANGS = ['nl', 'ar', 'ti', 'tr', 'en'];
export const resultsDir = path.join(repoRoot, 'test-results', 'staff');

// GET a JSON document from the daemon, trusting only its test CA.
export function getJSON(brug, urlPath) {
  const ca = readFileSync(brug.caPath);
  const url = `${brug.origin}${urlPath}`;
  return new Promise((resolve, reject) => {
    https.get(url, { ca, timeout: STEP_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) { reject(new Error(`GET ${url}: HTTP ${res.statusCode}`)); return; }
        try { resolve(JSON.parse(body)); } catch (e) { reject(new Error(`GET ${url}: ${e.message}`)); }
      });
    }).on('error', reject).on('timeout', function onTimeout() { this.destroy(new Error(`GET ${url}: timeout`)); });
  });
}

// Start brugd (opts as for startBrugd; offers stay open long enough for a
// page to be looked at) and Chromium. Returns the environment; call
// env.close() in after().
export async function startEnv(opts = {}) {
  const config = { ...(opts.config || {}) };
  config.chat = { offer_timeout_seconds: 30, ...(config.chat || {}) };
  const brug = await startBrugd({ ...opts, config });
  const browser = await launchChromium(brug);
  mkdirSync(resultsDir, { recursive: true });
  const bundles = {};
  for (const lang of LANGS) bundles[lang] = await getJSON(brug, `/i18n/${lang}.json`);
  const publicConfig = await getJSON(brug, '/api/config.json');
  const problems = [];
  return {
    brug,
    browser,
    bundles,
    config: publicConfig,
    problems,
    // Page errors, CSP violations and missing labels, checked by the tests.
    watch(page, name) {
      page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
      page.on('console', (msg) => {
        const text = msg.text();
        if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) problems.push(`${name}: ${text}`);
        if (msg.type() === 'warning' && /labels missing|not a label bundle/.test(text)) problems.push(`${name}: ${text}`);
      });
    },
    async close(failed) {
      await browser.close().catch(() => {});
      const info = await brug.stop();
      if (failed) console.log(`brugd exited ${JSON.stringify(info)}; log:\n${brug.logs().join('\n')}`);
      await brug.cleanup?.();
    },
  };
}

export function shot(page, name) {
  return page.screenshot({ path: path.join(resultsDir, `${name}.png`), fullPage: true });
}

// Open the console in lang and log in; resolves once the console shows.
export async function loginConsole(env, page, account, lang) {
  const resp = await page.goto(`${env.brug.origin}/staff/`);
  assert.equal(resp.status(), 200, 'GET /staff/');
  if (lang) {
    await page.waitForSelector('body:not([data-labels="loading"])', { timeout: STEP_MS });
    const now = await page.evaluate(() => document.body.dataset.labels);
    if (now !== lang) await page.getByTestId('ui-lang').selectOption(lang);
    await page.waitForSelector(`body[data-labels="${lang}"]`, { timeout: STEP_MS });
  }
  await page.getByTestId('login-user').fill(account.user);
  await page.getByTestId('login-password').fill(account.password);
  await page.getByTestId('login-totp').fill(await totpCode(env.brug, account.user));
  await page.getByTestId('login-submit').click();
  await page.getByTestId('available').waitFor({ state: 'visible', timeout: STEP_MS });
}

// Tick "available" and wait until the daemon has confirmed it.
export async function becomeAvailable(page) {
  await page.getByTestId('available').check();
  await page.waitForSelector('[data-testid="available"][data-confirmed="true"]', { timeout: STEP_MS });
}

export function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function norm(s) {
  return String(s).replace(/\s+/g, ' ').trim();
}

// Wait until the locator's text matches re (a RegExp or a literal string);
// fail with what it showed.
export async function assertText(locator, re, what = '') {
  const want = typeof re === 'string' ? new RegExp(escape(re)) : re;
  const deadline = Date.now() + STEP_MS;
  let last = '';
  for (;;) {
    last = (await locator.first().textContent().catch(() => '')) ?? '';
    if (want.test(last)) return last;
    if (Date.now() > deadline) assert.fail(`${what ? `${what}: ` : ''}expected ${want} in ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Wait until fn() is truthy (polled); fail with message.
export async function until(fn, message, timeoutMs = STEP_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(typeof message === 'function' ? await message() : message);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The texts of the messages (not notices) of a chat panel.
export async function messageTexts(panel) {
  return panel.getByTestId('chat-messages').locator('.msg-text').allTextContents();
}

// Run axe-core (from node_modules) on the page; returns the violations.
const axeSource = readFileSync(path.join(repoRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
export async function axe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
    }));
  });
}
