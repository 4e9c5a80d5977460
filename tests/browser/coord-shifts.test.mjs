// Browser test: a volunteer's own page. The coordinator (a Node client)
// rosters the volunteer on Tuesday evenings; the volunteer's "My shifts"
// lists them, makes a private calendar link whose URL serves the shifts as
// iCalendar, and leaves a handover note that another console sees at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { loginStaff } from '../lib/brugd.mjs';
import { startEnv, until, shot, STEP_MS } from './staff-harness.mjs';
import { login, openPage, plain } from './coord-lib.mjs';

const cora = {
  user: 'cora', alias: 'Cora', roles: ['coordinator'], langs: ['nl'], password: 'a long coordinator password 2',
};
const selam = {
  user: 'selam', alias: 'Selam', roles: ['volunteer'], langs: ['ti', 'nl'], password: 'a long volunteer password 2',
};

let env;
let failed = false;

before(async () => {
  env = await startEnv({ staff: [cora, selam] });
});

after(async () => {
  if (env) await env.close(failed);
});

function get(brug, p) {
  return new Promise((resolve, reject) => {
    https.get({ host: 'localhost', port: brug.port, path: p, ca: readFileSync(brug.caPath) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    }).on('error', reject);
  });
}

test('my shifts, a calendar link and a handover note', async () => {
  const { browser } = env;
  const ctx = await browser.newContext({ viewport: { width: 360, height: 800 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  env.watch(page, 'volunteer');
  let coord;
  try {
    coord = await loginStaff(env.brug, 'cora', cora.password);
    coord.send({ type: 'pattern_add', weekday: 2, start: '19:00', end: '22:00', langs: ['ti'], staff: ['selam'], id: 'p' });
    assert.equal((await coord.waitFor((f) => f.id === 'p')).type, 'roster');

    await login(env, page, selam, 'en');
    await openPage(page, 'shifts');
    await until(async () => (await page.getByTestId('shift').count()) >= 2, 'two Tuesday shifts listed');

    await page.getByTestId('shifts-feed').click();
    const url = page.getByTestId('shifts-feed-url');
    await until(async () => /\/api\/ical\/[A-Za-z0-9_-]{43}\.ics$/.test(await url.textContent()), 'a feed URL');
    const feed = new URL(await url.textContent());
    assert.equal(feed.origin, env.brug.origin);
    const cal = await get(env.brug, feed.pathname);
    assert.equal(cal.status, 200);
    assert.match(cal.type, /^text\/calendar/);
    assert.ok((cal.body.match(/BEGIN:VEVENT/g) || []).length >= 2, 'the shifts are in the feed');

    // A handover note: the coordinator's console hears it at once.
    await page.locator('#handover-text').fill('Tuesday: a visitor may come back about school.');
    await page.locator('#handover-form button[type="submit"]').click();
    const note = await coord.waitFor((f) => f.type === 'handover' && f.notes.length > 0, STEP_MS);
    assert.equal(note.notes[0].alias, 'Selam');
    assert.equal(note.notes[0].text, 'Tuesday: a visitor may come back about school.');
    await until(async () => plain(await page.locator('#handover-list').textContent()).includes('school'),
      'the note shows on the page');
    await shot(page, 'coord-shifts');
    assert.deepEqual(env.problems, [], 'no page errors, CSP violations or missing labels');
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    if (coord) coord.close();
    await ctx.close();
  }
});
