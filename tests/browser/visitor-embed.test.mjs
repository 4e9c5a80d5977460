// Browser test: the widget on a partner helpline's page (partner.html,
// served by the test on another localhost port that brugd's config allows
// in frame_ancestors and origins) with its one script tag. The launcher
// opens the iframe (a panel on a wide screen, the whole screen on a phone),
// a chat works inside it, the frame can be hidden and shown again, and the
// quick exit inside the frame (button, or Shift three times, which gives
// the frame no user activation) takes the whole tab to the neutral page.
// The partner page talks only to itself and brugd; the frame only to brugd.
// A site that is not in frame_ancestors gets no widget at all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBrugd, availableStaff } from '../lib/brugd.mjs';
import {
  launch, watch, logRequests, assertOrigins, startSite, html, bundles, norm, expectText, enabled, startAs, shot, until, STEP_MS,
} from './visitor-lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const vera = { user: 'vera', alias: 'Vera', roles: ['volunteer'], langs: ['nl', 'en'], maxChats: 2, password: 'a long enough test password 5' };

let brug;
let browser;
let site;
let labels;
let neutralUrl;
const problems = [];

before(async () => {
  const partner = readFileSync(path.join(here, 'partner.html'), 'utf8');
  site = await startSite({
    '/before.html': html('<h1>Weather</h1><p>Sunny.</p>', { title: 'Weather' }),
    '/neutral.html': html('<h1>News</h1><p>Nothing special today.</p>', { title: 'News' }),
    '/partner.html': (req, res) => {
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-store',
        // A partner with a strict policy of its own: only brugd's script and frame.
        'Content-Security-Policy': `default-src 'none'; script-src ${brug.origin}; frame-src ${brug.origin}`,
      });
      res.end(partner.replaceAll('{{BRUG_ORIGIN}}', brug.origin));
    },
  });
  neutralUrl = `${site.origin}/neutral.html`;
  brug = await startBrugd({
    staff: [vera],
    config: { server: { neutral_url: neutralUrl, frame_ancestors: `'self' ${site.origin}`, origins: site.origin } },
  });
  site.useCert(brug);
  browser = await launch(brug);
  labels = await bundles(brug, ['en', 'nl']);
});

after(async () => {
  await browser?.close();
  await site?.close();
  if (brug) {
    const info = await brug.stop();
    if (process.exitCode) console.log(`brugd exited ${JSON.stringify(info)}; log:\n${brug.logs().join('\n')}`);
    await brug.cleanup();
  }
});

async function partnerPage(viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'en-GB' });
  const page = await ctx.newPage();
  watch(page, 'partner', problems);
  const requests = logRequests(page);
  await page.goto(`${site.origin}/before.html`);
  await page.goto(`${site.origin}/partner.html`);
  const launcher = page.locator('#brug-chat-launcher');
  await launcher.waitFor({ state: 'visible', timeout: STEP_MS });
  return { ctx, page, requests, launcher, iframe: page.locator('#brug-chat-frame'), frame: page.frameLocator('#brug-chat-frame') };
}

// The chat frame's own Frame (for evaluate).
function chatFrame(page) {
  return page.frames().find((f) => f.url().startsWith(`${brug.origin}/`));
}

function checkRequests(requests) {
  // The partner page: itself and brugd (embed.js, the frame).
  assertOrigins(requests, [site.origin, brug.origin], 'partner page requests');
  // The frame: brugd only.
  const fromFrame = requests.filter((r) => r.frameUrl.startsWith(brug.origin));
  assertOrigins(fromFrame, [brug.origin], 'chat frame requests');
  assert.ok(fromFrame.some((r) => r.url.includes('/i18n/')), 'the frame loaded its labels');
}

async function chatInFrame(frame, staff) {
  await startAs(frame, 'nl');
  const offer = await staff.next('offer', STEP_MS);
  staff.send({ type: 'accept', offer: offer.offer });
  const { chat } = await staff.next('chat', STEP_MS);
  const composer = frame.getByTestId('composer');
  await enabled(composer);
  await composer.fill('Hallo vanaf de partnersite');
  await composer.press('Enter');
  assert.equal((await staff.next('msg', STEP_MS)).text, 'Hallo vanaf de partnersite');
  staff.send({ type: 'msg', chat, text: 'Welkom, ik ben Vera.' });
  await expectText(frame.getByTestId('messages'), /Welkom, ik ben Vera\./);
  return chat;
}

async function backIsNotTheChat(page) {
  await page.goBack({ timeout: STEP_MS }).catch(() => null);
  assert.equal(page.url(), `${site.origin}/before.html`, 'Back leads to the page before the partner page');
  const text = await page.evaluate(() => document.documentElement.innerText);
  assert.ok(!/Vera|partnersite/.test(text), `Back shows nothing of the chat: ${text}`);
}

test('on a wide screen: launcher, panel, a chat, quick exit from the frame', async (t) => {
  const { ctx, page, requests, launcher, iframe, frame } = await partnerPage({ width: 1280, height: 800 });
  let staff;
  try {
    staff = await availableStaff(brug, vera.user, vera.password);
    // The launcher is labelled from the bundles, in the browser's language.
    assert.equal(norm(await launcher.textContent()), norm(labels.en.visitor.title));
    assert.equal(await launcher.getAttribute('aria-expanded'), 'false');
    assert.ok(await iframe.isHidden(), 'the frame waits behind the launcher');
    assert.ok((await iframe.getAttribute('title')).length > 0, 'the frame has a title');
    await shot(page, 'embed-closed');

    await launcher.click();
    await iframe.waitFor({ state: 'visible', timeout: STEP_MS });
    assert.equal(await launcher.getAttribute('aria-expanded'), 'true');
    const box = await iframe.boundingBox();
    assert.ok(box.width >= 300 && box.width <= 420 && box.height >= 400, `a panel: ${JSON.stringify(box)}`);
    assert.ok(box.x + box.width <= 1280 && box.y + box.height <= 800, 'inside the window');
    // The focus goes into the frame, to the language choice.
    await until(async () => (await chatFrame(page)?.evaluate(() => document.activeElement?.name)) === 'lang', 'the focus in the frame');
    assert.ok(await frame.getByTestId('quick-exit').isVisible(), 'the quick exit is in the frame too');

    await chatInFrame(frame, staff);
    await shot(page, 'embed-chat');

    await frame.getByTestId('quick-exit').click();
    const ended = await staff.next('ended', STEP_MS);
    assert.equal(ended.by, 'quick_exit');
    await page.waitForURL(neutralUrl, { timeout: STEP_MS });
    await backIsNotTheChat(page);
    checkRequests(requests.filter((r) => !(r.navigation && r.url === neutralUrl)));
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    await shot(page, 'embed-wide-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    staff?.close();
    await ctx.close();
  }
});

test('on a phone: full screen, hide and show again, Shift three times in the frame', async (t) => {
  const { ctx, page, requests, launcher, iframe, frame } = await partnerPage({ width: 360, height: 740 });
  let staff;
  try {
    staff = await availableStaff(brug, vera.user, vera.password);
    await launcher.click();
    await iframe.waitFor({ state: 'visible', timeout: STEP_MS });
    assert.deepEqual(await iframe.boundingBox(), { x: 0, y: 0, width: 360, height: 740 }, 'the whole screen');
    assert.ok(await launcher.isHidden(), 'the launcher does not cover the chat');
    await frame.locator('body[data-labels="en"]').waitFor({ timeout: STEP_MS });
    await shot(page, 'embed-phone-start');

    // Hidden by its own button, shown again by the launcher.
    const minimize = frame.getByTestId('minimize');
    assert.ok(norm(await minimize.textContent()).length > 0, 'the hide button has a label');
    await minimize.click();
    await iframe.waitFor({ state: 'hidden', timeout: STEP_MS });
    await launcher.waitFor({ state: 'visible', timeout: STEP_MS });
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'brug-chat-launcher', 'the focus is back on the launcher');
    await page.keyboard.press('Enter');
    await iframe.waitFor({ state: 'visible', timeout: STEP_MS });

    await chatInFrame(frame, staff);
    const overflow = await chatFrame(page).evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the frame scrolls sideways by ${overflow}px`);
    await shot(page, 'embed-phone-chat');

    // The keys go to the frame (the composer has the focus); Shift gives no
    // user activation, so the partner page does the navigation.
    await frame.getByTestId('composer').focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('Shift');
    const ended = await staff.next('ended', STEP_MS);
    assert.equal(ended.by, 'quick_exit');
    await page.waitForURL(neutralUrl, { timeout: STEP_MS });
    await backIsNotTheChat(page);
    checkRequests(requests.filter((r) => !(r.navigation && r.url === neutralUrl)));
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    await shot(page, 'embed-phone-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    staff?.close();
    await ctx.close();
  }
});

test('Shift three times on the partner page itself, while a chat is open', async (t) => {
  const { ctx, page, launcher, iframe, frame } = await partnerPage({ width: 1280, height: 800 });
  let staff;
  try {
    staff = await availableStaff(brug, vera.user, vera.password);
    await launcher.click();
    await iframe.waitFor({ state: 'visible', timeout: STEP_MS });
    await chatInFrame(frame, staff);
    // The focus back on the partner's page (its own heading), then Shift×3
    // there: embed.js asks the frame to end the chat, and the tab leaves.
    await page.locator('h1').click();
    assert.notEqual(await page.evaluate(() => document.activeElement?.tagName), 'IFRAME', 'the keys go to the partner page');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Shift');
    const ended = await staff.next('ended', STEP_MS);
    assert.equal(ended.by, 'quick_exit');
    await page.waitForURL(neutralUrl, { timeout: STEP_MS });
    await backIsNotTheChat(page);
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    await shot(page, 'embed-partner-shift-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    staff?.close();
    await ctx.close();
  }
});

test('a site that brugd does not allow gets no widget', async (t) => {
  // Same page, another port: not in frame_ancestors, so the browser refuses
  // the frame, no labels arrive and the launcher never shows.
  const partner = readFileSync(path.join(here, 'partner.html'), 'utf8');
  const stranger = await startSite({
    '/partner.html': (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(partner.replaceAll('{{BRUG_ORIGIN}}', brug.origin));
    },
  });
  stranger.useCert(brug);
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  try {
    await page.goto(`${stranger.origin}/partner.html`);
    await page.locator('#brug-chat-frame').waitFor({ state: 'attached', timeout: STEP_MS });
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(await page.locator('#brug-chat-launcher').isHidden(), 'no launcher');
    const framed = page.frames().find((f) => f.url().startsWith(`${brug.origin}/`));
    const labelled = framed ? await framed.evaluate(() => document.body?.dataset.labels ?? '').catch(() => '') : '';
    assert.equal(labelled, '', 'the visitor page did not run in the refused frame');
  } catch (e) {
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    await ctx.close();
    await stranger.close();
  }
});
