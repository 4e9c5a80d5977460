// Browser test: a whole chat in Arabic on the visitor page at 360 px. The
// page is right-to-left; a line that mixes Arabic and Dutch keeps the Dutch
// words in their order (measured on screen); the helper, driven over the
// staff socket from Node, answers in Arabic (a prepared answer from the
// Arabic bundle) and the visitor sees it right-to-left, with who joined, the
// typing indicator, and the end with its confirmation. Every request of the
// page goes to brugd's own origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrugd, availableStaff } from '../lib/brugd.mjs';
import {
  launch, watch, logRequests, assertOrigins, bundles, fill, norm, escapeRe, expectText, enabled, shot, STEP_MS,
} from './visitor-lib.mjs';

const samira = { user: 'samira', alias: 'Samira', roles: ['volunteer'], langs: ['ar', 'nl'], password: 'a long enough test password 1' };

let brug;
let browser;
let labels;
const problems = [];

before(async () => {
  brug = await startBrugd({ staff: [samira] });
  browser = await launch(brug);
  labels = await bundles(brug, ['ar']);
});

after(async () => {
  await browser?.close();
  if (brug) {
    const info = await brug.stop();
    if (process.exitCode) console.log(`brugd exited ${JSON.stringify(info)}; log:\n${brug.logs().join('\n')}`);
    await brug.cleanup();
  }
});

// Left edges, in CSS pixels, of each of words (first occurrence after the
// previous one) inside the element's text.
async function wordPositions(locator, words) {
  return locator.evaluate((node, ws) => {
    const textNode = node.firstChild;
    const text = textNode.nodeValue;
    const out = {};
    let from = 0;
    for (const w of ws) {
      const at = text.indexOf(w, from);
      if (at < 0) throw new Error(`${w} not in ${text}`);
      from = at + w.length;
      const r = document.createRange();
      r.setStart(textNode, at);
      r.setEnd(textNode, at + w.length);
      const rects = [...r.getClientRects()];
      out[w] = { left: Math.min(...rects.map((x) => x.left)), right: Math.max(...rects.map((x) => x.right)), top: rects[0].top };
    }
    return out;
  }, words);
}

test('a chat in Arabic: right to left, mixed lines in order, the helper answers in Arabic', async (t) => {
  const v = labels.ar.visitor;
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'ar' });
  const page = await ctx.newPage();
  watch(page, 'visitor', problems);
  const requests = logRequests(page);
  let staff;
  try {
    staff = await availableStaff(brug, samira.user, samira.password);

    await page.goto(`${brug.origin}/`);
    await page.locator('body[data-labels="ar"]').waitFor({ timeout: STEP_MS });
    assert.ok(await page.getByTestId('lang-ar').isChecked(), 'Arabic preselected from the browser');
    assert.deepEqual(await page.evaluate(() => [document.documentElement.lang, document.documentElement.dir]), ['ar', 'rtl']);
    assert.equal(await page.title(), v.title, 'a neutral title from the labels');
    // Someone speaks Arabic now: the start screen says so, in Arabic.
    await expectText(page.getByTestId('availability'), new RegExp(escapeRe(norm(fill(v.availableNow, { language: labels.ar.langName.ar })))));
    await shot(page, 'arabic-start');

    await page.getByTestId('start').click();
    const offer = await staff.next('offer', STEP_MS);
    assert.equal(offer.lang, 'ar');
    staff.send({ type: 'accept', offer: offer.offer });
    const { chat } = await staff.next('chat', STEP_MS);

    // Who joined, and the composer gets the focus.
    await expectText(page.getByTestId('messages'), new RegExp(escapeRe(norm(fill(v.joined, { alias: 'Samira' })))));
    await expectText(page.getByTestId('status'), new RegExp(escapeRe(norm(fill(v.chattingWith, { alias: 'Samira' })))));
    const composer = page.getByTestId('composer');
    await enabled(composer);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'composer', 'the composer has the focus');
    assert.equal(await composer.getAttribute('autocomplete'), 'off');

    // The visitor writes a line that mixes Arabic and Dutch.
    const mixed = 'مرحبا ik ben Samira هنا';
    await composer.fill(mixed);
    await composer.press('Enter');
    const got = await staff.next('msg', STEP_MS);
    assert.equal(got.text, mixed, 'the helper gets the line as typed');
    const mine = page.locator('.msg-mine .msg-text').filter({ hasText: 'Samira' });
    await mine.waitFor({ timeout: STEP_MS });
    assert.equal(await mine.getAttribute('dir'), 'auto', 'messages take their own direction');
    assert.ok(await mine.evaluate((n) => n.matches(':dir(rtl)')), 'an Arabic-first line is right to left');
    const pos = await wordPositions(mine, ['مرحبا', 'ik', 'ben', 'Samira', 'هنا']);
    t.diagnostic(`word positions: ${JSON.stringify(pos)}`);
    assert.ok(pos.ik.top === pos.Samira.top, 'one line');
    assert.ok(pos.ik.right <= pos.ben.left && pos.ben.right <= pos.Samira.left,
      `the Dutch run reads left to right: ik ${pos.ik.left}, ben ${pos.ben.left}, Samira ${pos.Samira.left}`);
    assert.ok(pos['مرحبا'].left >= pos.Samira.right, 'the first Arabic word is right of the Dutch run');
    assert.ok(pos['هنا'].right <= pos.ik.left, 'the last Arabic word is left of the Dutch run');

    // A Dutch-first line in the Arabic page reads left to right.
    await composer.fill('Hallo, ik ben hier مرحبا');
    await page.getByTestId('send').click();
    await staff.next('msg', STEP_MS);
    const dutch = page.locator('.msg-mine .msg-text').filter({ hasText: 'Hallo' });
    await dutch.waitFor({ timeout: STEP_MS });
    assert.ok(await dutch.evaluate((n) => n.matches(':dir(ltr)')), 'a Dutch-first line is left to right');

    // The helper types, then answers with a prepared answer in Arabic.
    staff.send({ type: 'typing', chat, on: true });
    await expectText(page.getByTestId('typing'), new RegExp(escapeRe(norm(v.typingIndicator))));
    const answer = labels.ar.canned?.general?.welcome ?? 'أهلاً بك، أنا هنا لأستمع إليك.';
    staff.send({ type: 'msg', chat, text: answer });
    const theirs = page.locator('.msg-theirs').last();
    await expectText(theirs.locator('.msg-text'), new RegExp(escapeRe(norm(answer))));
    assert.ok(await page.getByTestId('typing').isHidden(), 'the typing indicator goes with the message');
    assert.ok(await theirs.locator('.msg-text').evaluate((n) => n.matches(':dir(rtl)')), 'the answer is right to left');
    assert.match(norm(await theirs.locator('.msg-meta').textContent()), /Samira/, 'with the helper\'s alias');
    // In the right-to-left page the helper's messages sit on the right.
    const box = await theirs.boundingBox();
    assert.ok(box.x + box.width > 300, `the helper's message starts on the right (x ${box.x}..${box.x + box.width})`);
    // Text stays text.
    staff.send({ type: 'msg', chat, text: '<img src=x onerror=alert(1)> <b>لا</b>' });
    await expectText(page.locator('.msg-theirs').last(), /<img src=x/);
    assert.equal(await page.getByTestId('messages').locator('img, b').count(), 0, 'no markup');

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await shot(page, 'arabic-chat');

    // Ending asks first; the helper sees the visitor left.
    await page.getByTestId('end').click();
    await page.getByTestId('end-confirm').waitFor({ timeout: STEP_MS });
    assert.equal(norm(await page.getByTestId('end-yes').textContent()), norm(v.endConfirmYes));
    await page.getByTestId('end-yes').click();
    const ended = await staff.next('ended', STEP_MS);
    assert.equal(ended.by, 'visitor');
    await page.getByTestId('new-chat').waitFor({ timeout: STEP_MS });
    assert.ok(await page.getByTestId('composer').isHidden(), 'no composer after the end');
    await shot(page, 'arabic-ended');

    assertOrigins(requests, [brug.origin], 'visitor page requests');
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
  } catch (e) {
    await shot(page, 'arabic-failed').catch(() => {});
    t.diagnostic(`brugd log:\n${brug.logs().join('\n')}`);
    throw e;
  } finally {
    staff?.close();
    await ctx.close();
  }
});
