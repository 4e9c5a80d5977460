// Opening hours come from the roster (issue 5, point 2): a language with
// nobody available answers `closed` with the start of its next rostered
// shift, and /api/status says the same, with the time in the page's
// language and the helpline's time zone.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { startBrugd, loginStaff, visitorHello } from '../lib/brugd.mjs';

const PW = 'integration-test-password-13';
let b;

before(async () => {
	b = await startBrugd({
		staff: [
			{ user: 'cora', alias: 'Cora', roles: 'coordinator', langs: 'nl', password: PW },
			{ user: 'yonas', alias: 'Yonas', roles: 'volunteer', langs: 'ti', password: PW },
		],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

function getJson(p) {
	return new Promise((resolve, reject) => {
		https.get({ host: 'localhost', port: b.port, path: p, ca: readFileSync(b.caPath) }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (c) => { body += c; });
			res.on('end', () => resolve(JSON.parse(body)));
		}).on('error', reject);
	});
}

// Weekday (1 = Monday) and HH:MM of an instant in Amsterdam.
function amsterdam(iso) {
	const parts = new Intl.DateTimeFormat('en-GB', {
		timeZone: 'Europe/Amsterdam', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
	}).formatToParts(new Date(iso));
	const get = (t) => parts.find((p) => p.type === t).value;
	const day = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(get('weekday')) + 1;
	return { day, time: `${get('hour')}:${get('minute')}` };
}

test('closed and /api/status name the next Tigrinya shift from the roster', { timeout: 30000 }, async () => {
	// Nothing rostered: no next opening is known.
	let { v } = await visitorHello(b, { lang: 'ti' });
	let closed = await v.next('closed');
	assert.equal(closed.next_open, null);
	v.close();

	const cora = await loginStaff(b, 'cora', PW);
	cora.send({ type: 'pattern_add', weekday: 2, start: '19:00', end: '22:00', langs: ['ti'], staff: ['yonas'], id: 'p' });
	const roster = await cora.waitFor((f) => f.id === 'p');
	assert.equal(roster.type, 'roster', JSON.stringify(roster));

	({ v } = await visitorHello(b, { lang: 'ti' }));
	closed = await v.next('closed');
	assert.equal(typeof closed.next_open, 'string');
	const at = new Date(closed.next_open);
	assert.ok(at.getTime() > Date.now() - 1000 && at.getTime() < Date.now() + 8 * 86400000, closed.next_open);
	assert.deepEqual(amsterdam(closed.next_open), { day: 2, time: '19:00' });
	// The text names the time in Tigrinya, not an English weekday.
	assert.ok(closed.text.includes('19'), closed.text);
	assert.ok(/[\u1200-\u137f]/.test(closed.text));
	v.close();

	const st = await getJson('/api/status/nl.json');
	assert.equal(st.languages.ti.open, false);
	assert.equal(st.languages.ti.next_open, closed.next_open);
	assert.match(st.languages.ti.next_open_text, /19/);
	assert.equal(st.languages.ar.next_open, null);
	cora.close();
});

function getRaw(p) {
	return new Promise((resolve, reject) => {
		https.get({ host: 'localhost', port: b.port, path: p, ca: readFileSync(b.caPath) }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (c) => { body += c; });
			res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
		}).on('error', reject);
	});
}

test('a volunteer subscribes to their shifts as an iCalendar feed; a new URL retires the old one', { timeout: 30000 }, async () => {
	const yonas = await loginStaff(b, 'yonas', PW);
	yonas.send({ type: 'ical_feed', id: 'f1' });
	const feed = await yonas.waitFor((f) => f.id === 'f1');
	assert.equal(feed.type, 'ical_feed', JSON.stringify(feed));
	assert.match(feed.path, /^\/api\/ical\/[A-Za-z0-9_-]{43}\.ics$/);
	const cal = await getRaw(feed.path);
	assert.equal(cal.status, 200);
	assert.match(cal.type, /^text\/calendar/);
	assert.match(cal.body, /BEGIN:VCALENDAR/);
	assert.match(cal.body, /BEGIN:VEVENT/);   // the Tuesday Tigrinya shift from the test above
	assert.ok(!cal.body.includes('Visitor'), 'nothing about visitors');

	yonas.send({ type: 'ical_feed', id: 'f2' });
	const again = await yonas.waitFor((f) => f.id === 'f2');
	assert.notEqual(again.path, feed.path);
	assert.equal((await getRaw(feed.path)).status, 404);
	assert.equal((await getRaw(again.path)).status, 200);
	assert.equal((await getRaw('/api/ical/not-a-token.ics')).status, 404);
	yonas.close();
});

// Today's local date and the local time m minutes from now, in Amsterdam.
function localAt(minutesFromNow) {
	const d = new Date(Date.now() + minutesFromNow * 60000);
	const parts = new Intl.DateTimeFormat('en-CA', {
		timeZone: 'Europe/Amsterdam', year: 'numeric', month: '2-digit', day: '2-digit',
		hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
	}).formatToParts(d);
	const get = (t) => parts.find((p) => p.type === t).value;
	return { date: `${get('year')}-${get('month')}-${get('day')}`, time: `${get('hour')}:${get('minute')}` };
}

test('in the last minutes of a rostered shift a volunteer gets no new chats', { timeout: 30000 }, async (t) => {
	const from = localAt(-60), to = localAt(5);
	if (from.date !== to.date) {
		t.skip('the shift would cross local midnight');
		return;
	}
	const cora = await loginStaff(b, 'cora', PW);
	cora.send({ type: 'pattern_add', date: to.date, start: from.time, end: to.time, langs: ['ti'], staff: ['yonas'], id: 'q' });
	assert.equal((await cora.waitFor((f) => f.id === 'q')).type, 'roster');
	const yonas = await loginStaff(b, 'yonas', PW);
	yonas.send({ type: 'status', available: true, id: 's' });
	await yonas.waitFor((f) => f.id === 's');
	// The language is open (Yonas is available), but he is in his shift's
	// last 10 minutes: the visitor waits and no offer reaches him.
	const { v, welcome } = await visitorHello(b, { lang: 'ti' });
	assert.equal(welcome.open, true);
	assert.equal((await v.next('queue')).position, 1);
	await yonas.quiet((f) => f.type === 'offer', 1500);
	v.send({ type: 'end' });
	v.close();
	yonas.close();
	cora.close();
});
