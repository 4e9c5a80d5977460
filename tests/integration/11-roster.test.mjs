// The shift roster over the staff socket (docs/protocol.md 7.9): a
// coordinator rosters a weekly Tigrinya shift with a volunteer and the gap
// disappears; bad fields and unknown names change nothing; a volunteer may
// not touch the roster but sees their own shifts with an iCalendar copy.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { startBrugd, loginStaff, visitorHello } from '../lib/brugd.mjs';

const PW = 'integration-test-password-11';
let b;
let seq = 0;

before(async () => {
	b = await startBrugd({
		staff: [
			{ user: 'cora', alias: 'Cora', roles: 'coordinator', langs: 'nl', password: PW },
			{ user: 'tesfay', alias: 'Tesfay', roles: 'volunteer', langs: 'ti', password: PW },
			{ user: 'vera', alias: 'Vera', roles: 'volunteer', langs: 'nl', password: PW },
		],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

// A fresh coordinator console: the daemon slows a socket that sends more
// than 20 messages in 10 seconds, so each step of the test uses its own.
async function coordinator() {
	return loginStaff(b, 'cora', PW);
}

// Send msg with a fresh request id; resolves with the answer carrying it.
async function ask(c, msg) {
	const id = `r${++seq}`;
	c.send({ ...msg, id });
	return c.waitFor((f) => f.id === id, 10000);
}

function assertError(f, code) {
	assert.equal(f.type, 'error', JSON.stringify(f));
	assert.equal(f.code, code, JSON.stringify(f));
}

// The local weekday (1 = Monday) of day d of the coverage, whose dates are
// calendar dates: plain date arithmetic in UTC is exact for them.
function coverageDate(from, d) {
	const t = new Date(`${from}T12:00:00Z`);
	t.setUTCDate(t.getUTCDate() + d);
	return t.toISOString().slice(0, 10);
}
function isoWeekday(date) {
	const w = new Date(`${date}T12:00:00Z`).getUTCDay();
	return w === 0 ? 7 : w;
}

// Hours [19, 22) of every Tuesday in the coverage of lang.
function tuesdayEvenings(roster, lang) {
	const out = [];
	roster.coverage.langs[lang].forEach((hours, d) => {
		const date = coverageDate(roster.coverage.from, d);
		if (isoWeekday(date) === 2) out.push({ date, hours: hours.slice(19, 22) });
	});
	return out;
}

function gapCovers(roster, lang, date, hhmm) {
	return roster.gaps[lang].some((g) => g.date === date && g.from <= hhmm && hhmm < g.to);
}

test('a coordinator rosters Tigrinya on Tuesday evening and the gap closes', { timeout: 30000 }, async () => {
	let cora = await coordinator();
	const tesfay = await loginStaff(b, 'tesfay', PW);

	const empty = await ask(cora, { type: 'roster_get' });
	assert.equal(empty.type, 'roster', JSON.stringify(empty));
	assert.equal(empty.tz, 'Europe/Amsterdam');
	assert.deepEqual(empty.patterns, []);
	assert.equal(empty.coverage.days, 14);
	assert.equal(empty.coverage.langs.ti.length, 14);
	for (const day of empty.coverage.langs.ti) assert.equal(day.length, 24);
	const tuesdays = tuesdayEvenings(empty, 'ti');
	assert.equal(tuesdays.length, 2);
	for (const t of tuesdays) assert.ok(gapCovers(empty, 'ti', t.date, '20:00'), `gap on ${t.date}`);

	// Strict fields: each of these is refused and changes nothing.
	const base = { type: 'pattern_add', weekday: 2, start: '19:00', end: '22:00', langs: ['ti'], staff: ['tesfay'] };
	assertError(await ask(cora, { ...base, colour: 'red' }), 'bad_field');
	assertError(await ask(cora, { ...base, langs: ['xx'] }), 'bad_field');
	assertError(await ask(cora, { ...base, weekday: 8 }), 'bad_field');
	assertError(await ask(cora, { ...base, start: '7pm' }), 'bad_field');
	assertError(await ask(cora, { ...base, date: '2026-04-07' }), 'bad_field');
	assertError(await ask(cora, { ...base, staff: ['nobody'] }), 'not_found');
	assertError(await ask(cora, { type: 'pattern_delete', pattern: 999 }), 'not_found');
	assertError(await ask(cora, { type: 'roster_get', days: 0 }), 'bad_field');

	cora.close();
	cora = await coordinator();
	// A volunteer may not change the roster.
	assertError(await ask(tesfay, base), 'forbidden');
	assertError(await ask(tesfay, { type: 'roster_get' }), 'forbidden');
	assert.deepEqual((await ask(cora, { type: 'roster_get' })).patterns, []);

	const added = await ask(cora, base);
	assert.equal(added.type, 'roster', JSON.stringify(added));
	assert.equal(added.patterns.length, 1);
	const p = added.patterns[0];
	assert.equal(p.weekday, 2);
	assert.equal(p.start, '19:00');
	assert.equal(p.end, '22:00');
	assert.deepEqual(p.langs, ['ti']);
	assert.deepEqual(p.staff, ['tesfay']);
	for (const t of tuesdayEvenings(added, 'ti')) {
		assert.deepEqual(t.hours, [1, 1, 1], t.date);
		assert.ok(!gapCovers(added, 'ti', t.date, '19:00'), `no gap on ${t.date} 19:00`);
		assert.ok(!gapCovers(added, 'ti', t.date, '21:59'), `no gap on ${t.date} 21:59`);
		assert.ok(gapCovers(added, 'ti', t.date, '22:00'), `a gap again from 22:00 on ${t.date}`);
	}
	// Dutch has nobody: its Tuesday evenings are still gaps.
	for (const t of tuesdayEvenings(added, 'nl')) assert.deepEqual(t.hours, [0, 0, 0]);

	// A volunteer's attempt after the fact changes nothing either.
	assertError(await ask(tesfay, { type: 'pattern_delete', pattern: p.id }), 'forbidden');
	assert.equal((await ask(cora, { type: 'roster_get' })).patterns.length, 1);

	// The volunteer's own shifts, with an iCalendar copy.
	const mine = await ask(tesfay, { type: 'my_shifts' });
	assert.equal(mine.type, 'my_shifts', JSON.stringify(mine));
	assert.equal(mine.shifts.length, 2);
	for (const s of mine.shifts) {
		assert.match(s.start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
		assert.equal(Date.parse(s.end) - Date.parse(s.start), 3 * 3600 * 1000);
		assert.deepEqual(s.langs, ['ti']);
		// 19:00 in Amsterdam is 17:00 or 18:00 UTC.
		assert.ok(['17:00', '18:00'].includes(s.start.slice(11, 16)), s.start);
	}
	assert.match(mine.ical, /^BEGIN:VCALENDAR\r\n/);
	assert.match(mine.ical, /DTSTART;TZID=Europe\/Amsterdam:\d{8}T190000/);
	const events = mine.ical.split('BEGIN:VEVENT').length - 1;
	assert.ok(events >= 8 && events <= 9, `${events} events in 60 days`);
	assert.match(mine.ical, /SUMMARY:Brug shift: Tigrinya/);
	// Someone without shifts gets none.
	const vera = await loginStaff(b, 'vera', PW);
	const none = await ask(vera, { type: 'my_shifts' });
	assert.deepEqual(none.shifts, []);
	assert.equal(none.ical.split('BEGIN:VEVENT').length - 1, 0);

	cora.close();
	cora = await coordinator();
	// An exception cancels one Tuesday; a closure another; both undo.
	const first = tuesdayEvenings(added, 'ti')[0].date;
	const second = tuesdayEvenings(added, 'ti')[1].date;
	const ex = await ask(cora, { type: 'exception_add', pattern: p.id, date: first });
	assert.deepEqual(ex.exceptions, [{ pattern: p.id, date: first }]);
	assert.ok(gapCovers(ex, 'ti', first, '20:00'));
	assertError(await ask(cora, { type: 'exception_add', pattern: p.id, date: coverageDate(first, 1) }), 'bad_field');
	const cl = await ask(cora, { type: 'closure_add', from: second, to: second, note: 'Feestdag' });
	assert.equal(cl.closures.length, 1);
	assert.equal(cl.closures[0].note, 'Feestdag');
	assert.equal((await ask(tesfay, { type: 'my_shifts' })).shifts.length, 0);
	await ask(cora, { type: 'exception_delete', pattern: p.id, date: first });
	const reopened = await ask(cora, { type: 'closure_delete', closure: cl.closures[0].id });
	assert.deepEqual(reopened.exceptions, []);
	assert.deepEqual(reopened.closures, []);
	assert.equal((await ask(tesfay, { type: 'my_shifts' })).shifts.length, 2);

	cora.close();
	cora = await coordinator();
	// Update moves the end past midnight; delete removes it.
	const upd = await ask(cora, { type: 'pattern_update', pattern: p.id, end: '01:00', staff: ['tesfay', 'vera'] });
	assert.equal(upd.type, 'roster', JSON.stringify(upd));
	assert.equal(upd.patterns[0].end, '01:00');
	assert.deepEqual(upd.patterns[0].staff, ['tesfay', 'vera']);
	assertError(await ask(cora, { type: 'pattern_update', pattern: p.id, weekday: 3, date: first }), 'bad_field');
	const again = await ask(cora, { type: 'roster_get' });
	assert.equal(again.type, 'roster', JSON.stringify(again));
	assert.equal(again.patterns[0].end, '01:00');
	const gone = await ask(cora, { type: 'pattern_delete', pattern: p.id });
	assert.deepEqual(gone.patterns, []);

	cora.close();
	tesfay.close();
	vera.close();
});

function getJson(p) {
	return new Promise((resolve, reject) => {
		https.get({ host: 'localhost', port: b.port, path: p, ca: readFileSync(b.caPath) }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (c) => { body += c; });
			res.on('end', () => resolve({ status: res.statusCode, json: body ? JSON.parse(body) : null }));
		}).on('error', reject);
	});
}

async function closedFrame(lang) {
	const { v, welcome } = await visitorHello(b, { lang });
	assert.equal(welcome.open, false);
	const closed = await v.next();
	assert.equal(closed.type, 'closed', JSON.stringify(closed));
	v.close();
	return closed;
}

test('a closed language tells the visitor its next rostered shift', { timeout: 30000 }, async () => {
	const cora = await coordinator();
	const vera = await loginStaff(b, 'vera', PW);
	assert.equal((await closedFrame('ar')).next_open, null);

	// Two days from now, so the shift is never running at the moment.
	const weekday = ((new Date().getUTCDay() + 2) % 7) || 7;
	const added = await ask(cora, { type: 'pattern_add', weekday, start: '10:00', end: '12:00', langs: ['ar'], staff: ['vera'] });
	assert.equal(added.type, 'roster', JSON.stringify(added));
	// A shift with nobody on it opens nothing.
	await ask(cora, { type: 'pattern_add', weekday: (weekday % 7) + 1, start: '09:00', end: '10:00', langs: ['tr'] });

	const first = (await ask(vera, { type: 'my_shifts' })).shifts[0];
	assert.deepEqual(first.langs, ['ar']);
	const closed = await closedFrame('ar');
	assert.equal(closed.next_open, first.start);
	assert.equal((await closedFrame('tr')).next_open, null);
	const status = await getJson('/api/status/nl.json');
	assert.equal(status.status, 200);
	assert.equal(status.json.languages.ar.next_open, first.start);
	assert.equal(typeof status.json.languages.ar.next_open_text, 'string');
	assert.equal(status.json.languages.tr.next_open, null);

	cora.close();
	vera.close();
});

// In the sanitizer build a leak or a use after free in the roster handlers
// would show here.
test('brugd stops cleanly afterwards', { timeout: 20000 }, async () => {
	const info = await b.stop();
	const bad = b.logs().filter((l) => /Sanitizer|runtime error/.test(l));
	assert.deepEqual(bad, []);
	assert.deepEqual(info, { code: 0, signal: null });
});
