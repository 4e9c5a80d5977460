// Anonymous statistics (issue 5, point 5; daemon/stats.h): after 20
// contacts of every kind the database holds only aggregate counters, the
// schema has no place for a visitor's words, token, address or a chat, the
// counters add up to what happened, and the coordinator's report and CSV
// hide counts below the threshold.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
	startBrugd, availableStaff, loginStaff, visitorHello, startChat, sync,
} from '../lib/brugd.mjs';

const PW = 'integration-test-password-12';
const SECRET_TEXT = 'mijn naam is Fatima en ik woon in Utrecht';
let b;

before(async () => {
	b = await startBrugd({
		staff: [
			{ user: 'vera', alias: 'Vera', roles: 'volunteer', langs: 'nl,ar', password: PW, maxChats: 2 },
			{ user: 'cora', alias: 'Cora', roles: 'coordinator', langs: 'nl', password: PW },
		],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

// The schema the migrations in daemon/store.c create. A new table or
// column fails this test on purpose: whoever adds one must show here that
// it cannot hold anything about a visitor.
const SCHEMA = {
	staff: ['id', 'username', 'alias', 'password_hash', 'roles', 'langs', 'topics', 'max_chats',
		'disabled', 'created_at', 'totp_secret', 'totp_last_step', 'feed_token_hash'],
	sessions: ['token_hash', 'staff_id', 'created_at', 'last_seen'],
	reset_codes: ['code_hash', 'staff_id', 'expires_at'],
	audit: ['id', 'ts', 'actor', 'action', 'target', 'detail'],
	shift_patterns: ['id', 'weekday', 'date', 'start_min', 'end_min', 'langs', 'valid_from', 'valid_until'],
	shift_staff: ['pattern_id', 'staff_id'],
	shift_exceptions: ['pattern_id', 'date'],
	closures: ['id', 'from_date', 'to_date', 'note'],
	stats: ['day', 'lang', 'topic', 'outcome', 'wait_bucket', 'duration_bucket', 'count'],
};
const OUTCOMES = ['answered', 'left_queue', 'arrived_closed', 'quick_exit'];
const WAITS = ['-', '<1m', '1-5m', '5-15m', '15-30m', '30m+'];
const DURATIONS = ['-', '<5m', '5-15m', '15-30m', '30-60m', '60m+'];
const TOPICS = ['domestic_violence', 'honour_violence', 'forced_marriage', 'abandonment', 'fgm', 'lgbti', 'other'];

function sql(query) {
	const r = spawnSync('sqlite3', ['-readonly', '-json', path.join(b.stateDir, 'brug.db'), query],
		{ encoding: 'utf8', timeout: 10000 });
	assert.equal(r.status, 0, `sqlite3: ${r.stderr}`);
	return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout);
}

const tokens = [];   // every visitor resume token seen

async function answeredChat(vera, lang, tags) {
	const { v, welcome, chat } = await startChat(b, vera, { lang });
	tokens.push(welcome.session);
	v.send({ type: 'msg', text: SECRET_TEXT });
	await vera.waitFor((f) => f.type === 'msg' && f.chat === chat);
	vera.send({ type: 'end', chat, tags });
	await vera.waitFor((f) => f.type === 'ended' && f.chat === chat);
	await v.next('ended');
	v.close();
}

// Vera on a new socket: each socket has its own rate limit (protocol doc,
// 5), so no batch of chats on one socket comes near 20 messages.
async function freshVera(old) {
	if (old) {
		old.send({ type: 'logout' });
		await old.closed();
	}
	return availableStaff(b, 'vera', PW);
}

test('20 contacts leave only aggregate rows that add up', { timeout: 90000 }, async () => {
	let vera = await freshVera();

	// 12 answered and ended by staff with tags: 10 in Dutch (two with two
	// tags), 2 in Arabic.
	for (let i = 0; i < 10; i++) {
		if (i === 6)
			vera = await freshVera(vera);
		await answeredChat(vera, 'nl', i < 2 ? ['domestic_violence', 'other'] : ['domestic_violence']);
	}
	for (let i = 0; i < 2; i++)
		await answeredChat(vera, 'ar', ['forced_marriage']);
	vera = await freshVera(vera);

	// 2 quick exits from a chat.
	for (let i = 0; i < 2; i++) {
		const { v, welcome, chat } = await startChat(b, vera, { lang: 'nl' });
		tokens.push(welcome.session);
		v.send({ type: 'end', quick_exit: true });
		await vera.waitFor((f) => f.type === 'ended' && f.chat === chat && f.by === 'quick_exit');
		v.close();
	}

	// 2 leave the queue: Vera is busy with two more chats (her max_chats),
	// so they wait, then go.
	const busy = [await startChat(b, vera, { lang: 'nl' }), await startChat(b, vera, { lang: 'nl' })];
	for (let i = 0; i < 2; i++) {
		const { v, welcome } = await visitorHello(b, { lang: 'nl' });
		tokens.push(welcome.session);
		await v.next('queue');
		v.send({ type: 'end' });
		await v.next('ended');
		v.close();
	}
	// The two that kept Vera busy end untagged: 14 answered in all.
	for (const { v, chat, welcome } of busy) {
		tokens.push(welcome.session);
		vera.send({ type: 'end', chat });
		await vera.waitFor((f) => f.type === 'ended' && f.chat === chat);
		v.close();
	}

	// 2 arrive while closed: nobody takes Tigrinya.
	for (let i = 0; i < 2; i++) {
		const { v, welcome } = await visitorHello(b, { lang: 'ti' });
		tokens.push(welcome.session);
		assert.equal((await v.next()).type, 'closed');
		v.close();
	}
	await sync(vera);

	// The coordinator's report: small counts hidden, large ones shown.
	const cora = await loginStaff(b, 'cora', PW);
	const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Amsterdam' }).format(new Date());
	const from = shiftDay(today, -1);   // a run across midnight stays in range
	const to = shiftDay(today, 1);
	cora.send({ type: 'stats_get', from, to, id: 'g1' });
	const rep = await cora.waitFor((f) => f.id === 'g1');
	assert.equal(rep.type, 'stats', JSON.stringify(rep));
	assert.equal(rep.threshold, 10);
	assert.equal(rep.by_outcome.answered, 14);
	assert.equal(rep.by_outcome.quick_exit, '<10');
	assert.equal(rep.by_outcome.left_queue, '<10');
	assert.equal(rep.by_outcome.arrived_closed, '<10');
	assert.equal(rep.by_lang.nl.answered, 12);
	assert.equal(rep.by_lang.ar.answered, '<10');
	assert.equal(rep.by_lang.ti.arrived_closed, '<10');
	assert.equal(rep.by_topic.domestic_violence.answered, 10);
	assert.equal(rep.by_topic.other.answered, '<10');
	for (const r of rep.rows)
		assert.ok(r.count === '<10' || (Number.isInteger(r.count) && (r.count >= 10 || r.count === 0)),
			`row ${JSON.stringify(r)}`);
	for (const h of [...rep.wait, ...rep.duration])
		assert.ok(h.count === '<10' || h.count === 0 || h.count >= 10, `bucket ${JSON.stringify(h)}`);
	assert.ok(!JSON.stringify(rep).includes(SECRET_TEXT));

	cora.send({ type: 'stats_csv', from, to, id: 'c1' });
	const csv = await cora.waitFor((f) => f.id === 'c1');
	assert.equal(csv.type, 'stats_csv', JSON.stringify(csv));
	assert.equal(csv.filename, `brug-stats-${from}-${to}.csv`);
	const lines = csv.csv.split('\r\n');
	assert.equal(lines[0], 'day,lang,topic,outcome,count');
	assert.equal(lines.at(-1), '');
	assert.ok(lines.some((l) => /,nl,domestic_violence,answered,10$/.test(l)), csv.csv);
	assert.ok(lines.some((l) => /,ar,forced_marriage,answered,<10$/.test(l)), csv.csv);
	for (const l of lines.slice(1, -1)) {
		const count = l.split(',').at(-1);
		assert.ok(count === '<10' || Number(count) >= 10, `CSV line ${l}`);
	}

	// A volunteer may not read the statistics.
	vera.send({ type: 'stats_get', from, to, id: 'g2' });
	const refused = await vera.waitFor((f) => f.id === 'g2');
	assert.equal(refused.type, 'error');
	assert.equal(refused.code, 'forbidden');
	cora.close();
	vera.close();

	// Stop brugd and read the file itself.
	await b.stop();

	const tables = sql("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name");
	assert.deepEqual(tables.map((t) => t.name).sort(), Object.keys(SCHEMA).sort());
	for (const [table, cols] of Object.entries(SCHEMA)) {
		const got = sql(`SELECT name FROM pragma_table_info('${table}') ORDER BY cid`).map((c) => c.name);
		assert.deepEqual(got, cols, `columns of ${table}`);
	}
	// Nothing but staff rows elsewhere: no roster or reset rows were made,
	// so every table but staff, sessions, stats and audit is empty; the
	// audit holds only the CLI's creation of the two accounts (it names
	// staff, never a visitor).
	for (const table of ['reset_codes', 'shift_patterns', 'shift_staff', 'shift_exceptions', 'closures'])
		assert.equal(sql(`SELECT COUNT(*) AS n FROM ${table}`)[0].n, 0, table);
	assert.deepEqual(sql('SELECT actor, action FROM audit').map((r) => `${r.actor} ${r.action}`),
		['cli create', 'cli create']);
	assert.equal(sql('SELECT COUNT(*) AS n FROM staff')[0].n, 2);

	// The stats rows are counters over known words.
	const rows = sql('SELECT * FROM stats');
	assert.ok(rows.length > 0);
	for (const r of rows) {
		assert.match(r.day, /^\d{4}-\d{2}-\d{2}$/);
		assert.ok(['nl', 'ar', 'ti', 'tr', 'en'].includes(r.lang), r.lang);
		assert.ok(['*', '-', ...TOPICS].includes(r.topic), r.topic);
		assert.ok(OUTCOMES.includes(r.outcome), r.outcome);
		assert.ok(WAITS.includes(r.wait_bucket), r.wait_bucket);
		assert.ok(DURATIONS.includes(r.duration_bucket), r.duration_bucket);
		assert.ok(Number.isInteger(r.count) && r.count > 0);
	}
	// Fewer rows than contacts: they are counters, not one row per chat.
	const contacts = rows.filter((r) => r.topic === '*');
	assert.ok(contacts.length < 20, `${contacts.length} contact rows`);
	const sum = (pred) => rows.filter(pred).reduce((n, r) => n + r.count, 0);
	assert.equal(sum((r) => r.topic === '*'), 20);
	assert.equal(sum((r) => r.topic === '*' && r.outcome === 'answered'), 14);
	assert.equal(sum((r) => r.topic === '*' && r.outcome === 'answered' && r.lang === 'ar'), 2);
	assert.equal(sum((r) => r.topic === '*' && r.outcome === 'quick_exit'), 2);
	assert.equal(sum((r) => r.topic === '*' && r.outcome === 'left_queue'), 2);
	assert.equal(sum((r) => r.topic === '*' && r.outcome === 'arrived_closed' && r.lang === 'ti'), 2);
	// Tags: one count per tag, so the two doubly tagged chats count twice.
	assert.equal(sum((r) => r.topic === 'domestic_violence'), 10);
	assert.equal(sum((r) => r.topic === '-' && r.outcome === 'answered'), 2);
	assert.equal(sum((r) => r.topic === 'other'), 2);
	assert.equal(sum((r) => r.topic === 'forced_marriage'), 2);
	// The contact rows carry the buckets; the answered ones have both.
	assert.equal(sum((r) => r.topic === '*' && r.outcome === 'answered' && r.duration_bucket !== '-'), 14);
	assert.equal(sum((r) => r.topic === '*' && r.outcome === 'arrived_closed' && r.wait_bucket !== '-'), 0);
	assert.equal(sum((r) => r.topic !== '*' && (r.wait_bucket !== '-' || r.duration_bucket !== '-')), 0);

	// No visitor text or resume token anywhere in the file.
	const file = readFileSync(path.join(b.stateDir, 'brug.db'));
	assert.ok(!file.includes(Buffer.from(SECRET_TEXT)), 'message text in the database');
	for (const t of tokens)
		assert.ok(!file.includes(Buffer.from(t)), 'a visitor token in the database');
});

// YYYY-MM-DD plus n days (calendar arithmetic in UTC).
function shiftDay(day, n) {
	const d = new Date(`${day}T00:00:00Z`);
	d.setUTCDate(d.getUTCDate() + n);
	return d.toISOString().slice(0, 10);
}
