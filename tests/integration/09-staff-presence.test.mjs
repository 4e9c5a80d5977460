// Staff presence (extensions in docs/protocol.md): the `colleagues` list,
// the reconnect grace that keeps a console's chats through a reload, the
// console's own language for daemon texts, and the live per-language
// status the widget shows before a visitor starts.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import {
	startBrugd, connectStaff, loginStaff, availableStaff, visitorHello, startChat, totpCode,
} from '../lib/brugd.mjs';
import { loadBundle } from '../lib/bundles.mjs';

const PW = 'integration-test-password-09';
let b;

before(async () => {
	b = await startBrugd({
		config: { staff: { reconnect_grace_seconds: 3 } },
		staff: [
			{ user: 'anna', alias: 'Anna', roles: 'volunteer', langs: 'nl', password: PW },
			{ user: 'amal', alias: 'Amal', roles: 'professional', langs: 'ar,nl', password: PW },
			{ user: 'elif', alias: 'Elif', roles: 'volunteer', langs: 'tr', password: PW },
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
			res.on('end', () => resolve({ status: res.statusCode, json: body ? JSON.parse(body) : null }));
		}).on('error', reject);
	});
}

test('colleagues lists the others online and follows logins, availability and logouts', { timeout: 20000 }, async () => {
	const anna = await loginStaff(b, 'anna', PW);
	const amal = await loginStaff(b, 'amal', PW);
	const seen = await anna.waitFor((f) => f.type === 'colleagues' && f.staff.some((s) => s.user === 'amal'));
	const entry = seen.staff.find((s) => s.user === 'amal');
	assert.equal(entry.alias, 'Amal');
	assert.deepEqual(entry.roles, ['professional']);
	assert.deepEqual(entry.langs, ['nl', 'ar']);   // in the config's order
	assert.equal(entry.available, false);
	assert.ok(!seen.staff.some((s) => s.user === 'anna'), 'a console is not its own colleague');

	amal.send({ type: 'status', available: true });
	await anna.waitFor((f) => f.type === 'colleagues' && f.staff.some((s) => s.user === 'amal' && s.available));
	amal.send({ type: 'logout' });
	await amal.closed();
	await anna.waitFor((f) => f.type === 'colleagues' && !f.staff.some((s) => s.user === 'amal'));
	anna.close();
});

test('a console that reconnects within the grace gets its chat back; the visitor is not requeued', { timeout: 20000 }, async () => {
	const anna = await availableStaff(b, 'anna', PW);
	const token = anna.session.token;
	const { v, chat } = await startChat(b, anna, { lang: 'nl' });
	v.send({ type: 'msg', text: 'voor het wegvallen' });
	await anna.next('msg');
	anna.terminate();
	v.send({ type: 'msg', text: 'terwijl je weg was' });
	await v.waitFor((f) => f.type === 'msg' && f.text === 'terwijl je weg was');

	const back = await connectStaff(b);
	back.send({ type: 'login', token });
	await back.next('session');
	const status = await back.next('status');
	assert.equal(status.available, true, 'availability comes back as it was');
	const c = await back.next('chat');
	assert.equal(c.chat, chat);
	const texts = [(await back.next('msg')).text, (await back.next('msg')).text];
	assert.deepEqual(texts, ['voor het wegvallen', 'terwijl je weg was']);
	await v.quiet((f) => f.type === 'notice' || f.type === 'queue', 500);

	back.send({ type: 'msg', chat, text: 'ik ben er weer' });
	const got = await v.waitFor((f) => f.type === 'msg' && f.from === 'staff');
	assert.equal(got.text, 'ik ben er weer');
	back.send({ type: 'end', chat });
	await v.next('ended');
	v.close();
	back.close();
});

test('after the grace the visitor goes back to the head of the queue', { timeout: 20000 }, async () => {
	const anna = await availableStaff(b, 'anna', PW);
	const { v } = await startChat(b, anna, { lang: 'nl' });
	anna.terminate();
	const notice = await v.next('notice', 8000);
	assert.equal(notice.code, 'requeued');
	const q = await v.next('queue');
	assert.equal(q.position, 1);
	v.send({ type: 'end' });
	v.close();
});

test('a console in Turkish gets the daemon texts in Turkish; an unknown language is refused', { timeout: 20000 }, async () => {
	const tr = loadBundle('daemon', 'tr').daemon;
	const elif = await connectStaff(b);
	elif.send({ type: 'login', user: 'elif', password: PW, totp: await totpCode(b, 'elif'), lang: 'tr' });
	await elif.next('session');
	elif.send({ type: 'msg', chat: '999999', text: 'x' });
	const err = await elif.next('error');
	assert.equal(err.code, 'not_found');
	assert.equal(err.message, tr.err_not_found);
	elif.close();

	const bad = await connectStaff(b);
	bad.send({ type: 'login', user: 'elif', password: PW, lang: 'xx' });
	const e2 = await bad.next('error');
	assert.equal(e2.code, 'bad_field');
	assert.equal((await bad.closed()).code, 4001);
});

test('GET /api/status/LANG.json says per language whether someone can take a chat now', { timeout: 20000 }, async () => {
	let st = await getJson('/api/status/nl.json');
	assert.equal(st.status, 200);
	assert.equal(st.json.languages.ar.open, false);
	assert.equal(st.json.languages.ar.next_open, null);
	const amal = await availableStaff(b, 'amal', PW);
	st = await getJson('/api/status/ar.json');
	assert.equal(st.json.languages.ar.open, true);
	assert.equal(st.json.languages.nl.open, true);
	assert.equal(st.json.languages.tr.open, false);
	assert.equal((await getJson('/api/status/de.json')).status, 404);
	const { v, welcome } = await visitorHello(b, { lang: 'ar' });
	assert.equal(welcome.open, true);
	v.send({ type: 'end' });
	v.close();
	amal.close();
});

test('invite by name reaches a colleague who is online but not taking new chats; offline names are not_found', { timeout: 20000 }, async () => {
	const anna = await availableStaff(b, 'anna', PW);
	const amal = await loginStaff(b, 'amal', PW);
	// Online but not taking new chats (an earlier test may have left the
	// account available through the reconnect grace).
	amal.send({ type: 'status', available: false, id: 'off' });
	await amal.waitFor((f) => f.id === 'off');
	const { v, chat, chatFrame } = await startChat(b, anna, { lang: 'nl' });
	assert.equal(typeof chatFrame.visitor_no, 'number');
	assert.equal(chatFrame.visitor, `Visitor ${chatFrame.visitor_no}`);
	anna.send({ type: 'invite', chat, to: { role: 'professional' }, id: 'r1' });
	assert.equal((await anna.waitFor((f) => f.id === 'r1')).code, 'not_found');
	anna.send({ type: 'invite', chat, to: { user: 'elif' }, id: 'r2' });   // not logged in
	assert.equal((await anna.waitFor((f) => f.id === 'r2')).code, 'not_found');
	anna.send({ type: 'invite', chat, to: { user: 'Amal' } });
	const offer = await amal.next('offer');
	assert.equal(offer.kind, 'invite');
	amal.send({ type: 'accept', offer: offer.offer });
	await amal.next('chat');
	const joined = await v.waitFor((f) => f.type === 'joined' && f.staff.alias === 'Amal');
	assert.equal(joined.staff.role, 'professional');
	anna.send({ type: 'end', chat });
	await v.next('ended');
	v.close();
	anna.close();
	amal.close();
});

test('a console back from a drop learns which of its chats still exist', { timeout: 20000 }, async () => {
	const anna = await availableStaff(b, 'anna', PW);
	const token = anna.session.token;
	const one = await startChat(b, anna, { lang: 'nl' });
	const two = await startChat(b, anna, { lang: 'nl' });
	anna.terminate();
	// Wait until the daemon has seen the drop (anna is then unavailable).
	for (let i = 0; i < 50 && (await getJson('/api/status/nl.json')).json.languages.nl.open; i++)
		await new Promise((r) => setTimeout(r, 50));
	two.v.send({ type: 'end' });
	await two.v.next('ended');
	const back = await connectStaff(b);
	back.send({ type: 'login', token });
	await back.next('session');
	// How the other chat ended meanwhile, then the chats still held.
	const missed = await back.next('ended');
	assert.equal(missed.chat, two.chat);
	assert.equal(missed.by, 'visitor');
	const list = await back.next('chats');
	assert.deepEqual(list.chats, [one.chat]);
	back.send({ type: 'end', chat: one.chat });
	await one.v.next('ended');
	one.v.close();
	two.v.close();
	back.close();
});
