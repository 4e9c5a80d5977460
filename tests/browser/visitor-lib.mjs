// Shared by the visitor browser tests (visitor-*.test.mjs): headless
// Chromium that trusts exactly the daemon's key (by its SPKI hash), a small
// HTTPS server on another localhost port for the neutral page and the
// partner site (with the daemon's test certificate, so nothing leaves the
// machine), a request log per page, the browser's storage for an origin
// (through CDP), and the labels from the daemon's bundles.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../lib/browser.mjs';
import { repoRoot } from '../lib/brugd.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const resultsDir = path.join(repoRoot ?? path.resolve(here, '..', '..'), 'test-results', 'visitor');
export const STEP_MS = 15000;

export { spkiHash } from '../lib/browser.mjs';

export async function launch(brug) {
  mkdirSync(resultsDir, { recursive: true });
  return launchChromium(brug);
}

// Page errors and CSP violations go into problems (checked by the tests).
export function watch(page, name, problems) {
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) problems.push(`${name}: ${text}`);
    if (msg.type() === 'warning' && /labels missing|not a label bundle/.test(text)) problems.push(`${name}: ${text}`);
  });
}

// Every request the page (and its frames) makes, as {url, origin, frame,
// navigation}.
export function logRequests(page) {
  const log = [];
  page.on('request', (r) => {
    let origin = '';
    try { origin = new URL(r.url()).origin; } catch { origin = r.url(); }
    log.push({ url: r.url(), origin, navigation: r.isNavigationRequest(), frameUrl: r.frame()?.url() ?? '' });
  });
  return log;
}

// Only requests to the allowed origins (data: URLs never leave the page).
export function assertOrigins(log, allowed, what = 'requests') {
  const bad = log.filter((r) => !r.url.startsWith('data:') && !allowed.includes(r.origin));
  assert.deepEqual(bad.map((r) => r.url), [], `${what} to other origins than ${allowed.join(', ')}`);
  assert.ok(log.length > 0, `${what}: none logged`);
}

// A JSON document from the daemon, trusting only its test CA.
export function getJSON(brug, urlPath) {
  const ca = readFileSync(brug.caPath);
  return new Promise((resolve, reject) => {
    https.get(`${brug.origin}${urlPath}`, { ca, timeout: STEP_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) { reject(new Error(`GET ${urlPath}: HTTP ${res.statusCode}`)); return; }
        try { resolve(JSON.parse(body)); } catch (e) { reject(new Error(`GET ${urlPath}: ${e.message}`)); }
      });
    }).on('error', reject);
  });
}

export async function bundles(brug, langs = ['nl', 'ar', 'ti', 'tr', 'en']) {
  const out = {};
  for (const l of langs) out[l] = await getJSON(brug, `/i18n/${l}.json`);
  return out;
}

// An HTTPS server on 127.0.0.1 (named https://localhost:PORT) that listens
// before its certificate exists: start it, give its origin to brugd's
// config, then useCert(brug) with the daemon's test certificate.
// routes: {'/path': (req, res, server) => void}; others get 404.
export async function startSite(routes) {
  const server = https.createServer({}, (req, res) => {
    const url = new URL(req.url, 'https://localhost');
    const route = routes[url.pathname];
    site.hits.push(url.pathname);
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' });
      res.end('not found');
      return;
    }
    route(req, res, site);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const site = {
    server,
    port: server.address().port,
    hits: [],
    get origin() { return `https://localhost:${this.port}`; },
    useCert(brug) {
      server.setSecureContext({
        cert: readFileSync(path.join(brug.stateDir, 'server.pem')),
        key: readFileSync(path.join(brug.stateDir, 'server-key.pem')),
      });
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return site;
}

export function html(body, { title = 'Page', csp = "default-src 'none'" } = {}) {
  return (req, res) => {
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': csp,
    });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`);
  };
}

// What the browser keeps for origin: cookies, localStorage and
// sessionStorage, IndexedDB databases, Cache API caches, storage usage and
// service worker registrations. page must be a page of the same context;
// IndexedDB, Cache API and localStorage are asked only when it shows a
// document of origin (CDP needs one).
export async function storageOf(context, page, origin) {
  const cdp = await context.newCDPSession(page);
  try {
    const { cookies } = await cdp.send('Storage.getCookies', {});
    const { usage, usageBreakdown } = await cdp.send('Storage.getUsageAndQuota', { origin });
    // These need a document of the origin in the page.
    const mine = new URL(page.url()).origin === origin;
    const { databaseNames } = mine
      ? await cdp.send('IndexedDB.requestDatabaseNames', { securityOrigin: origin }) : { databaseNames: [] };
    const { caches } = mine
      ? await cdp.send('CacheStorage.requestCacheNames', { securityOrigin: origin }) : { caches: [] };
    let localStorage = [];
    if (mine) {
      await cdp.send('DOMStorage.enable');
      localStorage = (await cdp.send('DOMStorage.getDOMStorageItems', {
        storageId: { securityOrigin: origin, isLocalStorage: true },
      })).entries;
    }
    const used = usageBreakdown.filter((u) => u.usage > 0).map((u) => `${u.storageType}: ${u.usage}`);
    return {
      cookies: cookies.map((c) => `${c.domain} ${c.name}`),
      localStorage,
      indexedDB: databaseNames,
      cacheStorage: caches.map((c) => c.cacheName),
      usage,
      used,
    };
  } finally {
    await cdp.detach().catch(() => {});
  }
}

export function assertNoStorage(s, what) {
  assert.deepEqual(s.cookies, [], `${what}: cookies`);
  assert.deepEqual(s.localStorage, [], `${what}: localStorage`);
  assert.deepEqual(s.indexedDB, [], `${what}: IndexedDB`);
  assert.deepEqual(s.cacheStorage, [], `${what}: Cache API`);
  assert.deepEqual(s.used, [], `${what}: storage in use`);
}

// What a page of origin sees itself: storage APIs and service workers.
export async function selfReport(page) {
  return page.evaluate(async () => ({
    localStorage: localStorage.length,
    sessionStorage: sessionStorage.length,
    cookie: document.cookie,
    serviceWorkers: (await navigator.serviceWorker.getRegistrations()).length,
    caches: (await caches.keys()).length,
    indexedDB: (await indexedDB.databases()).length,
  }));
}

export function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function norm(s) {
  return (s ?? '').replace(/[\s\u2068\u2069]+/g, ' ').trim();
}

// A label with {name} placeholders filled in.
export function fill(template, vars) {
  return template.replace(/\{(\w+)\}/g, (all, k) => (k in vars ? String(vars[k]) : all));
}

// Wait until fn() (run in Node) returns something truthy.
export async function until(fn, what, timeoutMs = STEP_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Wait until the locator's text (whitespace and isolates collapsed) matches
// re; fail with what it showed.
export async function expectText(locator, re, timeoutMs = STEP_MS) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last = norm(await locator.first().textContent({ timeout: 1000 }).catch(() => ''));
    if (re.test(last)) return last;
    if (Date.now() > deadline) assert.fail(`expected ${re} in ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function enabled(locator) {
  await until(async () => locator.isEnabled().catch(() => false), 'an enabled control');
}

// The visitor page of brug (or one inside a frame locator) chooses lang
// and starts.
export async function startAs(page, lang) {
  await page.getByTestId(`lang-${lang}`).check();
  await page.locator(`body[data-labels="${lang}"]`).waitFor({ timeout: STEP_MS });
  await page.getByTestId('start').click();
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(resultsDir, `${name}.png`), fullPage: true });
}

// Run axe-core (from node_modules) on the page; resolves with the
// violations, summarised. The page's CSP (script-src 'self') refuses an
// inline <script> (page.addScriptTag), and the test keeps that policy on:
// the source is run through CDP's Runtime.evaluate instead, which a page's
// CSP does not govern.
const axeSource = readFileSync(path.join(repoRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
export async function axe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    const cdp = await page.context().newCDPSession(page);
    try {
      const r = await cdp.send('Runtime.evaluate', { expression: axeSource });
      if (r.exceptionDetails) throw new Error(`axe-core did not load: ${r.exceptionDetails.text}`);
    } finally {
      await cdp.detach().catch(() => {});
    }
  }
  const result = await page.evaluate(async () => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    resultTypes: ['violations'],
  }));
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`).join(' | ')}`);
}
