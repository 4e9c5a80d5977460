// Every kind of bad input gets its documented answer (protocol doc,
// "Transport", "Errors" and the role rules) while an unrelated chat runs on
// beside it untouched.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startBrugd, connectVisitor, connectStaff, loginStaff, availableStaff, visitorHello, startChat,
	expectHandshakeRefused,
} from '../lib/brugd.mjs';

const PW = 'integration-test-password-02';
const PARTNER = 'https://partner.example';
let b;
// The chat that must keep working: alice with a visitor in ar, and bob with
// a visitor in tr.
let alice, bob, bg, bgChat, bobV, bobChat;
let bgSeq = 0;

before(async () => {
	b = await startBrugd({
		config: { server: { origins: PARTNER } },
		staff: [
			{ user: 'alice', alias: 'Alice', roles: 'volunteer', langs: 'ar', maxChats: 1, password: PW },
			{ user: 'bob', alias: 'Bob', roles: 'volunteer', langs: 'tr', maxChats: 1, password: PW },
			{ user: 'carl', alias: 'Carl', roles: 'volunteer', langs: 'en', maxChats: 4, password: PW },
		],
	});
	alice = await availableStaff(b, 'alice', PW);
	({ v: bg, chat: bgChat } = await startChat(b, alice, { lang: 'ar' }));
	bob = await availableStaff(b, 'bob', PW);
	({ v: bobV, chat: bobChat } = await startChat(b, bob, { lang: 'tr' }));
	bg.send({ type: 'msg', text: 'first' });
	assert.equal((await bg.next('msg')).seq, ++bgSeq);
	assert.equal((await alice.waitFor({ type: 'msg', seq: bgSeq })).text, 'first');
}, { timeout: 60000 });

after(async () => {
	for (const c of [bg, bobV]) c?.send({ type: 'end' });
	for (const c of [bg, bobV, alice, bob]) c?.close();
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

function assertError(f, code, id) {
	assert.equal(f.type, 'error', JSON.stringify(f));
	assert.equal(f.code, code, JSON.stringify(f));
	assert.equal(typeof f.message, 'string');
	assert.ok(f.message.length > 0, 'error message is not empty');
	if (id !== undefined) assert.equal(f.id, id, JSON.stringify(f));
}

const visitorUrl = () => `wss://localhost:${b.port}/ws/visitor`;
const staffUrl = () => `wss://localhost:${b.port}/ws/staff`;

test('bad JSON answers bad_json on both sockets', { timeout: 15000 }, async () => {
	const v = await connectVisitor(b);
	try {
		v.sendRaw('{"type":"hello",');
		assertError(await v.next(), 'bad_json');
		v.sendRaw('[1,2,3]');
		assertError(await v.next(), 'bad_json');
		v.sendRaw('{"type":"hello","type":"hello"}');
		assertError(await v.next(), 'bad_json');
		alice.sendRaw('{oops');
		assertError(await alice.waitFor({ type: 'error' }), 'bad_json');
		assert.equal(v.closeInfo, null);
	} finally {
		v.close();
	}
});

test('an unknown or missing type answers bad_type with the id', { timeout: 15000 }, async () => {
	const v = await connectVisitor(b);
	try {
		v.send({ type: 'frobnicate', id: 'u-1' });
		assertError(await v.next(), 'bad_type', 'u-1');
		v.send({ id: 'u-2', text: 'no type' });
		assertError(await v.next(), 'bad_type', 'u-2');
		bob.send({ type: 'frobnicate', id: 'u-3' });
		assertError(await bob.waitFor({ type: 'error', id: 'u-3' }), 'bad_type', 'u-3');
	} finally {
		v.close();
	}
});

test('a missing or wrong field answers bad_field with the id', { timeout: 15000 }, async () => {
	const v = await connectVisitor(b);
	try {
		v.send({ type: 'msg', id: 'f-1' });
		assertError(await v.next(), 'bad_field', 'f-1');
		v.send({ type: 'typing', id: 'f-2' });
		assertError(await v.next(), 'bad_field', 'f-2');
		v.send({ type: 'hello', lang: 42, id: 'f-3' });
		assertError(await v.next(), 'bad_field', 'f-3');
		alice.send({ type: 'msg', chat: bgChat, id: 'f-4' });
		assertError(await alice.waitFor({ type: 'error', id: 'f-4' }), 'bad_field', 'f-4');
		alice.send({ type: 'msg', text: 'which chat?', id: 'f-5' });
		assertError(await alice.waitFor({ type: 'error', id: 'f-5' }), 'bad_field', 'f-5');
	} finally {
		v.close();
	}
});

test('a text over the limit answers too_long and is not stored', { timeout: 15000 }, async () => {
	bg.send({ type: 'msg', text: 'a'.repeat(2001), id: 't-1' });
	assertError(await bg.next(), 'too_long', 't-1');
});

test('a frame over 16 KiB closes with 1009', { timeout: 15000 }, async () => {
	const v = await connectVisitor(b);
	v.send({ type: 'hello', lang: 'nl', topic: 'x'.repeat(17000) });
	assert.equal((await v.closed()).code, 1009);
	const s = await connectStaff(b);
	s.send({ type: 'login', user: 'alice', password: 'p'.repeat(17000) });
	assert.equal((await s.closed()).code, 1009);
});

test('a message in several frames is put together, and a whole one after it read as well', { timeout: 15000 }, async () => {
	const v = await connectVisitor(b);
	const text = JSON.stringify({ type: 'hello', lang: 'nl' });
	v.ws.send(text.slice(0, 5), { fin: false });
	v.ws.send(text.slice(5, 12), { fin: false });
	v.ws.send(text.slice(12), { fin: true });
	assert.equal((await v.next('welcome')).lang, 'nl');
	v.send({ type: 'nope', id: 'w-1' });
	assertError(await v.waitFor({ type: 'error', id: 'w-1' }), 'bad_type', 'w-1');
	v.close();
});

test('a binary frame closes with 1003', { timeout: 15000 }, async () => {
	const v = await connectVisitor(b);
	v.sendRaw(Buffer.from(JSON.stringify({ type: 'hello', lang: 'nl' })), { binary: true });
	assert.equal((await v.closed()).code, 1003);
	const s = await connectStaff(b);
	s.sendRaw(Buffer.from(JSON.stringify({ type: 'login', user: 'alice', password: PW })), { binary: true });
	assert.equal((await s.closed()).code, 1003);
});

test('invalid UTF-8 in a text frame closes with 1007', { timeout: 15000 }, async () => {
	const v = await connectVisitor(b);
	v.sendRaw(Buffer.from([0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
	assert.equal((await v.closed()).code, 1007);
	const s = await connectStaff(b);
	s.sendRaw(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]));
	assert.equal((await s.closed()).code, 1007);
});

test('a wrong or missing subprotocol is refused with 403', { timeout: 15000 }, async () => {
	const origin = b.origin;
	assert.equal(await expectHandshakeRefused(visitorUrl(), { origin, protocol: 'brug-staff.v1' }), 403);
	assert.equal(await expectHandshakeRefused(visitorUrl(), { origin, protocol: 'brug-visitor.v2' }), 403);
	assert.equal(await expectHandshakeRefused(visitorUrl(), { origin }), 403);
	assert.equal(await expectHandshakeRefused(staffUrl(), { origin, protocol: 'brug-visitor.v1' }), 403);
	assert.equal(await expectHandshakeRefused(staffUrl(), { origin }), 403);
});

test('a foreign Origin is refused with 403 on both sockets', { timeout: 15000 }, async () => {
	const origin = 'https://evil.example';
	assert.equal(await expectHandshakeRefused(visitorUrl(), { origin, protocol: 'brug-visitor.v1' }), 403);
	assert.equal(await expectHandshakeRefused(staffUrl(), { origin, protocol: 'brug-staff.v1' }), 403);
	// A look-alike of the daemon's own origin is foreign too.
	const lookalike = `https://localhost:${b.port}.evil.example`;
	assert.equal(await expectHandshakeRefused(visitorUrl(), { origin: lookalike, protocol: 'brug-visitor.v1' }), 403);
	assert.equal(await expectHandshakeRefused(staffUrl(), { origin: `http://localhost:${b.port}`, protocol: 'brug-staff.v1' }), 403);
});

test('a partner origin may open the visitor socket but not the staff socket', { timeout: 15000 }, async () => {
	const { v, welcome } = await visitorHello(b, { lang: 'ti' }, { origin: PARTNER });
	try {
		assert.equal(welcome.lang, 'ti');
	} finally {
		v.send({ type: 'end' });
		v.close();
	}
	assert.equal(await expectHandshakeRefused(staffUrl(), { origin: PARTNER, protocol: 'brug-staff.v1' }), 403);
});

test('msg before joined answers conflict and is not kept', { timeout: 15000 }, async () => {
	const v = await connectVisitor(b);
	try {
		v.send({ type: 'msg', text: 'before hello', id: 'c-1' });
		assertError(await v.next('error'), 'conflict', 'c-1');
		v.send({ type: 'hello', lang: 'ti' });
		assert.equal((await v.next('welcome')).open, false);
		await v.next('closed');
		v.send({ type: 'msg', text: 'while closed', id: 'c-2' });
		assertError(await v.next('error'), 'conflict', 'c-2');
		assert.equal(v.closeInfo, null);
	} finally {
		v.send({ type: 'end' });
		v.close();
	}
});

test('a volunteer acting on a chat it is not in gets forbidden and changes nothing', { timeout: 15000 }, async () => {
	bob.send({ type: 'msg', chat: bgChat, text: 'intrusion', id: 'x-1' });
	assertError(await bob.waitFor({ type: 'error', id: 'x-1' }), 'forbidden', 'x-1');
	bob.send({ type: 'typing', chat: bgChat, on: true, id: 'x-2' });
	assertError(await bob.waitFor({ type: 'error', id: 'x-2' }), 'forbidden', 'x-2');
	bob.send({ type: 'end', chat: bgChat, id: 'x-3' });
	assertError(await bob.waitFor({ type: 'error', id: 'x-3' }), 'forbidden', 'x-3');
	bob.send({ type: 'invite', chat: bgChat, to: { user: 'bob' }, id: 'x-4' });
	assertError(await bob.waitFor({ type: 'error', id: 'x-4' }), 'forbidden', 'x-4');
	assert.deepEqual(await bg.quiet((f) => f.type !== 'error', 300), [], 'the chat\'s visitor saw nothing');
	assert.deepEqual(await alice.quiet((f) => f.chat === bgChat && f.type !== 'error', 0), []);
});

test('a visitor sending a staff type gets forbidden', { timeout: 15000 }, async () => {
	const v = await connectVisitor(b);
	try {
		v.send({ type: 'accept', offer: '1', id: 'p-1' });
		assertError(await v.next(), 'forbidden', 'p-1');
		v.send({ type: 'login', user: 'alice', password: PW, id: 'p-2' });
		assertError(await v.next(), 'forbidden', 'p-2');
		v.send({ type: 'status', available: true, id: 'p-3' });
		assertError(await v.next(), 'forbidden', 'p-3');
		// Staff sending a visitor type is forbidden too.
		bob.send({ type: 'hello', lang: 'nl', id: 'p-5' });
		assertError(await bob.waitFor({ type: 'error', id: 'p-5' }), 'forbidden', 'p-5');
	} finally {
		v.close();
	}
});

test('a wrong password answers unauthorized, then closes 4001', { timeout: 30000 }, async () => {
	const s = await connectStaff(b);
	s.send({ type: 'login', user: 'alice', password: 'not-the-password', id: 'l-1' });
	assertError(await s.next(undefined, 10000), 'unauthorized', 'l-1');
	assert.equal((await s.closed(10000)).code, 4001);
	const s2 = await connectStaff(b);
	s2.send({ type: 'login', user: 'nobody-here', password: PW, id: 'l-2' });
	assertError(await s2.next(undefined, 10000), 'unauthorized', 'l-2');
	assert.equal((await s2.closed(10000)).code, 4001);
	const s3 = await connectStaff(b);
	s3.send({ type: 'login', token: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', id: 'l-3' });
	assertError(await s3.next(undefined, 10000), 'unauthorized', 'l-3');
	assert.equal((await s3.closed(10000)).code, 4001);
});

test('a first staff message that is not a login closes 4001', { timeout: 15000 }, async () => {
	const s = await connectStaff(b);
	s.send({ type: 'status', available: true, id: 'n-1' });
	assertError(await s.next(), 'unauthorized', 'n-1');
	assert.equal((await s.closed()).code, 4001);
	const s2 = await connectStaff(b);
	s2.send({ type: 'msg', chat: bgChat, text: 'sneaking in' });
	assert.equal((await s2.closed()).code, 4001);
	assert.equal(s2.frames.filter((f) => f.type !== 'error').length, 0);
	const s3 = await connectStaff(b);
	s3.sendRaw('login please');
	assert.equal((await s3.closed()).code, 4001);
});

test('hello while waiting or chatting is a conflict; bad tags are bad_field', { timeout: 15000 }, async () => {
	bg.send({ type: 'hello', lang: 'ar', id: 'h-1' });
	assertError(await bg.next(), 'conflict', 'h-1');
	alice.send({ type: 'end', chat: bgChat, tags: ['no_such_topic'], id: 'g-1' });
	assertError(await alice.waitFor({ type: 'error', id: 'g-1' }), 'bad_field', 'g-1');
	alice.send({ type: 'end', chat: bgChat, tags: Array(9).fill('other'), id: 'g-2' });
	assertError(await alice.waitFor({ type: 'error', id: 'g-2' }), 'bad_field', 'g-2');
	alice.send({ type: 'msg', chat: '01', text: 'x', id: 'g-3' });
	assertError(await alice.waitFor({ type: 'error', id: 'g-3' }), 'bad_field', 'g-3');
	alice.send({ type: 'msg', chat: 42, text: 'x', id: 'g-4' });
	assertError(await alice.waitFor({ type: 'error', id: 'g-4' }), 'bad_field', 'g-4');
	alice.send({ type: 'msg', chat: '999999', text: 'x', id: 'g-5' });
	assertError(await alice.waitFor({ type: 'error', id: 'g-5' }), 'not_found', 'g-5');
	const longId = 'i'.repeat(65);
	bg.send({ type: 'typing', on: true, id: longId });
	assertError(await bg.next(), 'bad_field');
});

test('more than 20 messages in 10 s are rate_limited, but end still works', { timeout: 20000 }, async () => {
	const carl = await availableStaff(b, 'carl', PW);
	const { v, chat } = await startChat(b, carl, { lang: 'en' });
	try {
		for (let i = 0; i < 24; i++) v.send({ type: 'typing', on: i % 2 === 0, id: `r-${i}` });
		const limited = await v.waitFor({ type: 'error', code: 'rate_limited' });
		assert.equal(limited.id, 'r-19', 'hello and 19 typing frames make 20; the 21st message is limited');
		assert.equal(v.closeInfo, null);
		v.send({ type: 'end' });
		assert.equal((await v.next('ended')).by, 'visitor');
		assert.equal((await carl.waitFor({ type: 'ended', chat })).by, 'visitor');
	} finally {
		v.close();
		carl.close();
	}
});

test('a flood closes the socket with 4029', { timeout: 20000 }, async () => {
	const v = await connectVisitor(b);
	for (let i = 0; i < 80; i++) v.send({ type: 'typing', on: true });
	assert.equal((await v.closed()).code, 4029);
});

test('the unrelated chats still work', { timeout: 15000 }, async () => {
	bg.send({ type: 'msg', text: 'still here', id: 'end-1' });
	const ack = await bg.next('msg');
	assert.equal(ack.id, 'end-1');
	assert.equal(ack.seq, ++bgSeq, 'nothing was added to the chat by the bad inputs');
	const got = await alice.waitFor({ type: 'msg', seq: bgSeq });
	assert.equal(got.chat, bgChat);
	assert.equal(got.text, 'still here');
	alice.send({ type: 'msg', chat: bgChat, text: 'yes, I am here' });
	const back = await bg.next('msg');
	assert.equal(back.seq, ++bgSeq);
	assert.equal(back.alias, 'Alice');
	bobV.send({ type: 'msg', text: 'merhaba' });
	assert.equal((await bob.waitFor({ type: 'msg', chat: bobChat })).text, 'merhaba');
	assert.equal(bg.closeInfo, null);
	assert.equal(alice.closeInfo, null);
});
