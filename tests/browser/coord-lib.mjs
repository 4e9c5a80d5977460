// Shared by the coordinator browser tests (coord-*.test.mjs): log in to the
// console with the TOTP second factor when the harness knows the account's
// secret, and open one of the console's pages.
import * as brugd from '../lib/brugd.mjs';
import { STEP_MS } from './staff-harness.mjs';
import assert from 'node:assert/strict';

export async function login(env, page, account, lang = 'en') {
  const resp = await page.goto(`${env.brug.origin}/staff/`);
  assert.equal(resp.status(), 200, 'GET /staff/');
  await page.waitForSelector('body:not([data-labels="loading"])', { timeout: STEP_MS });
  const now = await page.evaluate(() => document.body.dataset.labels);
  if (now !== lang) await page.getByTestId('ui-lang').selectOption(lang);
  await page.waitForSelector(`body[data-labels="${lang}"]`, { timeout: STEP_MS });
  await page.getByTestId('login-user').fill(account.user);
  await page.getByTestId('login-password').fill(account.password);
  if (typeof brugd.totpCode === 'function' && env.brug.totp?.has(account.user)) {
    await page.getByTestId('login-totp').fill(await brugd.totpCode(env.brug, account.user));
  }
  await page.getByTestId('login-submit').click();
  await page.getByTestId('available').waitFor({ state: 'visible', timeout: STEP_MS });
}

export async function openPage(page, name) {
  await page.getByTestId(`nav-${name}`).click();
  await page.getByTestId(`page-${name}`).waitFor({ state: 'visible', timeout: STEP_MS });
}

// Text without the isolate marks the labels put around names and times.
export function plain(s) {
  return String(s ?? '').replace(/[\u2068\u2069]/g, '').replace(/\s+/g, ' ').trim();
}
