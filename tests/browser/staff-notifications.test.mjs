// Browser test: the console's notifications. A new offer or an unread
// message changes the window title to the unreadTitle form ("(1) Brug
// staff") and plays a short tone (WebAudio, counted by the page); the title
// never holds any message text, no system notification is ever made, and
// the sound can be turned off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectVisitor } from '../lib/brugd.mjs';
import {
  startEnv, loginConsole, becomeAvailable, until, shot, messageTexts, STEP_MS,
} from './staff-harness.mjs';

const vera = {
  user: 'vera', alias: 'Vera', roles: ['volunteer'], langs: ['nl'], maxChats: 2, password: 'a long test password 4',
};

let env;
let failed = false;

before(async () => {
  env = await startEnv({ staff: [vera] });
});

after(async () => {
  if (env) await env.close(failed);
});

async function newVisitor() {
  const v = await connectVisitor(env.brug);
  v.send({ type: 'hello', lang: 'nl' });
  await v.next('welcome');
  return v;
}

// Every title the page sets, and every attempt at a system notification.
function spy() {
  window.__titles = [];
  window.__notifications = 0;
  const desc = Object.getOwnPropertyDescriptor(Document.prototype, 'title');
  Object.defineProperty(Document.prototype, 'title', {
    configurable: true,
    get() { return desc.get.call(this); },
    set(v) { window.__titles.push(String(v)); desc.set.call(this, v); },
  });
  const Real = window.Notification;
  window.Notification = function Notification(...args) {
    window.__notifications += 1;
    return Real ? new Real(...args) : {};
  };
  window.Notification.permission = 'default';
  window.Notification.requestPermission = () => { window.__notifications += 1; return Promise.resolve('denied'); };
  if (navigator.serviceWorker) {
    navigator.serviceWorker.register = () => { window.__notifications += 1; return Promise.reject(new Error('no')); };
  }
}

test('offers and unread messages show in the title and sound, never their text', async (t) => {
  const { browser, bundles } = env;
  const en = bundles.en.staff;
  const titled = (n) => en.unreadTitle.replace('{n}', String(n)).replace('{title}', en.title);
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 900 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  await page.addInitScript(spy);
  env.watch(page, 'staff');
  const tones = async () => Number(await page.evaluate(() => document.body.dataset.tones || 0));
  const visitors = [];
  const secrets = [];
  try {
    await loginConsole(env, page, vera, 'en');
    await becomeAvailable(page);
    assert.equal(await page.title(), en.title, 'plain title with nothing waiting');
    assert.equal(await page.getByTestId('sound').textContent(), en.soundOn, 'sound is on by default');

    // A new offer: "(1) Brug staff" and a tone.
    const before1 = await tones();
    const v1 = await newVisitor();
    visitors.push(v1);
    await page.getByTestId('offer').waitFor({ state: 'visible', timeout: STEP_MS });
    await until(async () => (await page.title()) === titled(1), async () => `title with an offer: ${await page.title()}`);
    await until(async () => (await tones()) > before1, 'no tone for the new offer');
    await shot(page, 'notify-offer');

    // Accepted: nothing waits, the title is plain again.
    await page.getByTestId('offer-accept').click();
    await v1.waitFor({ type: 'joined' });
    await until(async () => (await page.title()) === en.title, async () => `title after accepting: ${await page.title()}`);
    const first = page.locator('[data-testid="chat"]').first();
    const firstId = await first.getAttribute('data-chat');

    // A message in the chat one is looking at is read at once.
    const seen = 'Geheim bericht een: mijn adres is Dorpsstraat 1';
    secrets.push(seen);
    v1.send({ type: 'msg', text: seen });
    await until(async () => (await messageTexts(first)).includes(seen), 'message shown');
    assert.equal(await page.title(), en.title, 'a message in the chat in view is not unread');

    // A second chat takes the focus; a message in the first is then unread.
    const v2 = await newVisitor();
    visitors.push(v2);
    await page.getByTestId('offer-accept').click();
    await v2.waitFor({ type: 'joined' });
    await until(async () => (await page.getByTestId('chat').count()) === 2, 'second chat');
    const beforeMsg = await tones();
    const secret = 'Geheim bericht twee: bel me niet thuis';
    secrets.push(secret);
    v1.send({ type: 'msg', text: secret });
    const firstPanel = page.locator(`[data-testid="chat"][data-chat="${firstId}"]`);
    await until(async () => (await messageTexts(firstPanel)).includes(secret), 'second message shown');
    await until(async () => (await page.title()) === titled(1), async () => `title with an unread message: ${await page.title()}`);
    await until(async () => (await tones()) > beforeMsg, 'no tone for the unread message');
    const badge = firstPanel.getByTestId('chat-unread');
    assert.equal(await badge.textContent(), en.unread.replace('{n}', '1'), 'unread count on the chat');
    await shot(page, 'notify-unread');

    // Looking at the chat (clicking into it) reads it.
    await firstPanel.getByTestId('chat-composer').click();
    await until(async () => (await page.title()) === en.title, async () => `title after reading: ${await page.title()}`);
    assert.ok(await badge.isHidden(), 'unread badge gone');

    // Sound off: a new offer still changes the title, but makes no tone.
    await page.getByTestId('sound').click();
    assert.equal(await page.getByTestId('sound').textContent(), en.soundOff);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('brug.staff.sound')), 'off');
    // The two chats fill Vera's capacity; end one so that an offer can come.
    await page.locator(`[data-testid="chat"]:not([data-chat="${firstId}"])`).getByTestId('chat-end').click();
    await page.getByTestId('end-dialog').getByTestId('end-confirm').click();
    await v2.waitFor({ type: 'ended' });
    const quiet = await tones();
    const v3 = await newVisitor();
    visitors.push(v3);
    await page.getByTestId('offer').waitFor({ state: 'visible', timeout: STEP_MS });
    await until(async () => (await page.title()) === titled(1), async () => `title with the sound off: ${await page.title()}`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await tones(), quiet, 'no tone with the sound off');

    // No title ever held a message's words; nothing went to the system.
    const titles = await page.evaluate(() => window.__titles);
    assert.ok(titles.length > 0, 'titles recorded');
    for (const title of titles) {
      for (const s of secrets) {
        for (const word of s.split(/\s+/).filter((w) => w.length > 3)) {
          assert.ok(!title.includes(word), `title ${JSON.stringify(title)} holds "${word}"`);
        }
      }
      assert.ok([en.title, ...[1, 2, 3, 4].map(titled)].includes(title) || title === '', `unexpected title ${JSON.stringify(title)}`);
    }
    assert.equal(await page.evaluate(() => window.__notifications), 0, 'no system notification or service worker');
    assert.deepEqual(env.problems, [], 'no page errors, CSP violations or missing labels');
  } catch (e) {
    failed = true;
    await shot(page, 'notify-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${env.brug.logs().join('\n')}`);
    throw e;
  } finally {
    for (const v of visitors) v.close();
    await ctx.close();
  }
});
