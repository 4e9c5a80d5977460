// A whole visitor <-> volunteer chat over the real daemon, the closed
// answer, queue positions and routing by language (protocol doc, "Visitor
// socket" and "Staff socket").
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startBrugd, connectVisitor, loginStaff, availableStaff, visitorHello, startChat,
} from '../lib/brugd.mjs';

const PW = 'integration-test-password-01';
const TOKEN_RE = /^[A-Za-z0-9_-]{22,}$/;
let b;

before(async () => {
	b = await startBrugd({
		staff: [
			{ user: 'samira', alias: 'Samira', roles: 'volunteer', langs: 'nl,ar', maxChats: 2, password: PW },
			{ user: 'tom', alias: 'Tom', roles: 'volunteer', langs: 'tr', maxChats: 1, password: PW },
			{ user: 'amal', alias: 'Amal', roles: 'volunteer', langs: 'ar', password: PW },
			{ user: 'nadia', alias: 'Nadia', roles: 'volunteer', langs: 'nl', password: PW },
		],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

// Leave politely (so nothing lingers in a queue or grace list), then close.
function bye(...clients) {
	for (const c of clients) {
		if (!c) continue;
		try { c.send({ type: 'end' }); } catch { /* closed */ }
		c.close();
	}
}

test('a full chat between a visitor and a volunteer', { timeout: 30000 }, async () => {
	let s, v;
	try {
		s = await loginStaff(b, 'samira', PW);
		const sess = s.session;
		assert.equal(typeof sess.token, 'string');
		assert.match(sess.token, TOKEN_RE);
		assert.ok(!Number.isNaN(Date.parse(sess.expires)), `expires is ISO 8601: ${sess.expires}`);
		assert.equal(sess.user.alias, 'Samira');
		assert.deepEqual(sess.user.roles, ['volunteer']);
		assert.deepEqual([...sess.user.langs].sort(), ['ar', 'nl']);
		assert.equal(sess.user.max_chats, 2);
		assert.equal(sess.user.password, undefined);

		s.send({ type: 'status', available: true, id: 'st-1' });
		const st = await s.next();
		assert.equal(st.type, 'status');
		assert.equal(st.available, true);
		assert.equal(st.id, 'st-1');

		v = await connectVisitor(b);
		v.send({ type: 'hello', lang: 'ar' });
		const welcome = await v.next();
		assert.equal(welcome.type, 'welcome');
		assert.match(welcome.session, TOKEN_RE);
		assert.equal(welcome.lang, 'ar');
		assert.equal(welcome.dir, 'rtl');
		assert.equal(welcome.open, true);

		const queue = await v.next('queue');
		assert.equal(queue.position, 1);
		assert.ok(queue.wait_s === null || typeof queue.wait_s === 'number', `wait_s: ${queue.wait_s}`);

		const offer = await s.next('offer');
		assert.equal(typeof offer.offer, 'string');
		assert.equal(offer.lang, 'ar');
		assert.equal(typeof offer.expires_s, 'number');
		assert.ok(offer.expires_s > 0 && offer.expires_s <= 3, `expires_s ${offer.expires_s}`);
		assert.equal(typeof offer.waited_s, 'number');

		s.send({ type: 'accept', offer: offer.offer });
		const chat = await s.next('chat');
		assert.equal(typeof chat.chat, 'string');
		assert.equal(chat.lang, 'ar');
		assert.equal(chat.dir, 'rtl');
		assert.match(chat.visitor, /^Visitor \d+$/);

		const joined = await v.next('joined');
		assert.equal(joined.chat, chat.chat);
		assert.equal(joined.staff.alias, 'Samira');
		assert.equal(joined.staff.role, 'volunteer');

		// Visitor -> staff, seq 1; the visitor's acknowledgement carries its id.
		const t0 = Date.now();
		const text1 = 'مرحبا، أحتاج إلى مساعدة';
		v.send({ type: 'msg', text: text1, id: 'v-1' });
		const ack1 = await v.next('msg');
		assert.equal(ack1.from, 'visitor');
		assert.equal(ack1.text, text1);
		assert.equal(ack1.seq, 1);
		assert.equal(ack1.id, 'v-1');
		assert.equal(typeof ack1.ts, 'number');
		assert.ok(Math.abs(ack1.ts - t0) < 60000, `ts ${ack1.ts} is wall-clock milliseconds`);
		const in1 = await s.waitFor({ type: 'msg', seq: 1 });
		assert.equal(in1.chat, chat.chat);
		assert.equal(in1.from, 'visitor');
		assert.equal(in1.text, text1);
		assert.equal(in1.ts, ack1.ts);
		assert.equal(in1.id, undefined, 'the other side never sees a client id');

		// Staff -> visitor, seq 2.
		const text2 = 'أهلا، أنا سميرة. أنا هنا لمساعدتك.';
		s.send({ type: 'msg', chat: chat.chat, text: text2, id: 's-1' });
		const in2 = await v.next('msg');
		assert.equal(in2.from, 'staff');
		assert.equal(in2.alias, 'Samira');
		assert.equal(in2.text, text2);
		assert.equal(in2.seq, 2);
		assert.equal(typeof in2.ts, 'number');
		assert.equal(in2.id, undefined, 'the other side never sees a client id');

		// Visitor -> staff, seq 3.
		v.send({ type: 'msg', text: 'شكرا' });
		const ack3 = await v.next('msg');
		assert.equal(ack3.seq, 3);
		assert.equal(ack3.id, undefined);
		const in3 = await s.waitFor({ type: 'msg', seq: 3 });
		assert.equal(in3.text, 'شكرا');
		assert.equal(in3.from, 'visitor');

		// Typing, both ways, never with text.
		v.send({ type: 'typing', on: true });
		const ty1 = await s.waitFor({ type: 'typing' });
		assert.equal(ty1.chat, chat.chat);
		assert.equal(ty1.on, true);
		assert.equal(ty1.text, undefined);
		s.send({ type: 'typing', chat: chat.chat, on: true });
		const ty2 = await v.next('typing');
		assert.equal(ty2.on, true);
		assert.equal(ty2.text, undefined);
		assert.equal(ty2.alias === undefined || ty2.alias === 'Samira', true);

		// Staff see their own message as from staff with their alias, and the
		// echo of the message that carried an id carries it too.
		const echo2 = await s.waitFor({ type: 'msg', seq: 2 });
		assert.equal(echo2.from, 'staff');
		assert.equal(echo2.alias, 'Samira');
		assert.equal(echo2.text, text2);
		assert.equal(echo2.id, 's-1');

		// The visitor ends the chat; both sides hear it.
		v.send({ type: 'end' });
		const endedV = await v.next('ended');
		assert.equal(endedV.by, 'visitor');
		assert.equal(typeof endedV.text, 'string');
		assert.ok(endedV.text.length > 0);
		const endedS = await s.waitFor({ type: 'ended', chat: chat.chat });
		assert.equal(endedS.by, 'visitor');
		assert.equal(endedS.quick_exit === undefined || endedS.quick_exit === false, true);
	} finally {
		bye(v);
		s?.close();
	}
});

test('a language nobody can take now answers closed and keeps the socket', { timeout: 20000 }, async () => {
	let v;
	try {
		const r = await visitorHello(b, { lang: 'ti' });
		v = r.v;
		assert.equal(r.welcome.lang, 'ti');
		assert.equal(r.welcome.dir, 'ltr');
		assert.equal(r.welcome.open, false);
		assert.match(r.welcome.session, TOKEN_RE);
		const closed = await v.next();
		assert.equal(closed.type, 'closed');
		assert.equal(typeof closed.text, 'string');
		assert.ok(closed.text.trim().length > 0);
		assert.ok('next_open' in closed, 'closed carries next_open');
		assert.ok(closed.next_open === null || !Number.isNaN(Date.parse(closed.next_open)));
		// Still open: it answers, and a msg before joined is a conflict.
		v.send({ type: 'msg', text: 'is someone there?', id: 'c-1' });
		const err = await v.next('error');
		assert.equal(err.code, 'conflict');
		assert.equal(err.id, 'c-1');
		assert.equal(v.closeInfo, null);
		assert.deepEqual((await v.quiet({ type: 'queue' }, 200)), []);
	} finally {
		bye(v);
	}
});

test('a second visitor sees position 2, then 1 when the first is taken', { timeout: 30000 }, async () => {
	let s, a, c;
	try {
		s = await availableStaff(b, 'tom', PW);
		({ v: a } = await visitorHello(b, { lang: 'tr' }));
		assert.equal((await a.next('queue')).position, 1);
		const offer = await s.next('offer');
		assert.equal(offer.lang, 'tr');

		let welcome;
		({ v: c, welcome } = await visitorHello(b, { lang: 'tr' }));
		assert.equal(welcome.open, true);
		assert.equal((await c.next('queue')).position, 2);

		s.send({ type: 'accept', offer: offer.offer });
		const chat = await s.next('chat');
		const joined = await a.next('joined');
		assert.equal(joined.chat, chat.chat);
		assert.equal(joined.staff.alias, 'Tom');
		assert.equal((await c.waitFor({ type: 'queue', position: 1 })).position, 1);
		// The first visitor is out of the queue: no further queue frames.
		assert.deepEqual(await a.quiet({ type: 'queue' }, 200), []);

		s.send({ type: 'end', chat: chat.chat, tags: [] });
		assert.equal((await a.next('ended')).by, 'staff');
		assert.equal((await s.waitFor({ type: 'ended', chat: chat.chat })).by, 'staff');
	} finally {
		bye(a, c);
		s?.close();
	}
});

test('hello in nl is offered only to staff who speak nl', { timeout: 30000 }, async () => {
	let amal, nadia, v;
	try {
		amal = await availableStaff(b, 'amal', PW);
		nadia = await availableStaff(b, 'nadia', PW);
		let welcome;
		({ v, welcome } = await visitorHello(b, { lang: 'nl' }));
		assert.equal(welcome.lang, 'nl');
		assert.equal(welcome.dir, 'ltr');
		assert.equal(welcome.open, true);
		const offer = await nadia.next('offer');
		assert.equal(offer.lang, 'nl');
		assert.deepEqual(await amal.quiet({ type: 'offer' }, 300), []);
		nadia.send({ type: 'accept', offer: offer.offer });
		const chat = await nadia.next('chat');
		assert.equal(chat.lang, 'nl');
		assert.equal((await v.next('joined')).staff.alias, 'Nadia');
		assert.deepEqual(await amal.quiet({ type: 'offer' }, 200), []);
		v.send({ type: 'end' });
		await nadia.waitFor({ type: 'ended', chat: chat.chat });
	} finally {
		bye(v);
		amal?.close();
		nadia?.close();
	}
});

test('without lang, the language comes from Accept-Language, else the default', { timeout: 20000 }, async () => {
	let v1, v2;
	try {
		let w;
		({ v: v1, welcome: w } = await visitorHello(b, {}, { headers: { 'Accept-Language': 'tr-TR,tr;q=0.9,en;q=0.5' } }));
		assert.equal(w.lang, 'tr');
		({ v: v2, welcome: w } = await visitorHello(b, {}, { headers: { 'Accept-Language': 'xx' } }));
		assert.equal(w.lang, 'nl');
		assert.equal(w.dir, 'ltr');
	} finally {
		bye(v1, v2);
	}
});

test('the quick exit ends the chat; staff are told quick_exit, the visitor visitor', { timeout: 20000 }, async () => {
	let s, v;
	try {
		s = await availableStaff(b, 'samira', PW);
		let chat;
		({ v, chat } = await startChat(b, s, { lang: 'nl' }));
		v.send({ type: 'end', quick_exit: true });
		assert.equal((await v.next('ended')).by, 'visitor');
		assert.equal((await s.waitFor({ type: 'ended', chat })).by, 'quick_exit');
		// The socket can start over with a new hello.
		v.send({ type: 'hello', lang: 'nl' });
		const w = await v.next('welcome');
		assert.equal(w.open, true);
		assert.equal((await v.next('queue')).position, 1);
		const offer = await s.next('offer');
		assert.equal(offer.lang, 'nl');
		s.send({ type: 'decline', offer: offer.offer });
	} finally {
		bye(v);
		s?.close();
	}
});

test('texts are normalized: NFC, trimmed, no bidi overrides; empty is bad_field', { timeout: 20000 }, async () => {
	let s, v;
	try {
		s = await availableStaff(b, 'nadia', PW);
		let chat;
		({ v, chat } = await startChat(b, s, { lang: 'nl' }));
		v.send({ type: 'msg', text: '  Cafe\u0301 \u202Eom tien\u202C  ' });
		const ack = await v.next('msg');
		assert.equal(ack.text, 'Café om tien');
		assert.equal((await s.waitFor({ type: 'msg', seq: 1 })).text, 'Café om tien');
		v.send({ type: 'msg', text: ' \u202E ', id: 'empty-1' });
		const err = await v.next('error');
		assert.equal(err.code, 'bad_field');
		assert.equal(err.id, 'empty-1');
		s.send({ type: 'msg', chat, text: 'ok' });
		assert.equal((await v.next('msg')).seq, 2, 'the refused text took no seq');
	} finally {
		bye(v);
		s?.close();
	}
});

// Which of the clients has an offer queued first (polls, takes nothing).
async function firstWithOffer(clients, timeoutMs = 5000) {
	const until = Date.now() + timeoutMs;
	while (Date.now() < until) {
		const c = clients.find((x) => x.pending().some((f) => f.type === 'offer'));
		if (c) return c;
		await new Promise((r) => setTimeout(r, 20));
	}
	throw new Error('no offer arrived');
}

test('an offer not answered in time goes to the next staff member and the first becomes unavailable', { timeout: 30000 }, async () => {
	let amal, samira, v;
	try {
		amal = await availableStaff(b, 'amal', PW);
		samira = await availableStaff(b, 'samira', PW);
		({ v } = await visitorHello(b, { lang: 'ar' }));
		// Whoever gets it first lets it lapse (3 s here).
		const first = await firstWithOffer([amal, samira]);
		const other = first === amal ? samira : amal;
		const o1 = await first.waitFor({ type: 'offer' });
		const t0 = Date.now();
		const o2 = await other.waitFor({ type: 'offer' }, 8000);
		const waited = Date.now() - t0;
		assert.ok(waited >= 2000, `re-offered after ${waited} ms, the offer timeout is 3 s`);
		assert.notEqual(o2.offer, o1.offer);
		const st = await first.waitFor((f) => f.type === 'status' && f.id === undefined, 2000);
		assert.equal(st.available, false, 'the one who let it lapse is unavailable');
		const gone = await first.waitFor({ type: 'offer_gone' }, 2000);
		assert.equal(gone.offer, o1.offer);
		assert.equal(gone.reason, 'lapsed');
		first.send({ type: 'accept', offer: o1.offer, id: 'late' });
		const late = await first.waitFor({ type: 'error', id: 'late' });
		assert.equal(late.code, 'not_found');

		// A decline: nobody else is available now, so no offer comes.
		other.send({ type: 'decline', offer: o2.offer });
		assert.equal((await other.waitFor({ type: 'offer_gone' })).reason, 'declined');
		assert.deepEqual(await first.quiet({ type: 'offer' }, 300), []);
	} finally {
		bye(v);
		amal?.close();
		samira?.close();
	}
});
