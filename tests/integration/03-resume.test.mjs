// Dropped connections: a visitor resumes its queue place or its chat with
// the token from `welcome` within the grace period (3 s here) and not after
// it; a staff member's drop puts its visitor back at the head of the queue.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startBrugd, connectVisitor, connectStaff, loginStaff, availableStaff, visitorHello, startChat,
} from '../lib/brugd.mjs';

const PW = 'integration-test-password-03';
let b;

before(async () => {
	b = await startBrugd({
		staff: [
			{ user: 'tina', alias: 'Tina', roles: 'volunteer', langs: 'tr', maxChats: 1, password: PW },
			{ user: 'aziz', alias: 'Aziz', roles: 'volunteer', langs: 'ar', maxChats: 1, password: PW },
			{ user: 'emma', alias: 'Emma', roles: 'volunteer', langs: 'en', maxChats: 1, password: PW },
			{ user: 'nora1', alias: 'Nora1', roles: 'volunteer', langs: 'nl', maxChats: 1, password: PW },
			{ user: 'nora2', alias: 'Nora2', roles: 'volunteer', langs: 'nl', maxChats: 1, password: PW },
			{ user: 'tess', alias: 'Tess', roles: 'volunteer', langs: 'ti', maxChats: 2, password: PW },
		],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

function bye(...clients) {
	for (const c of clients) {
		if (!c) continue;
		try { c.send({ type: 'end' }); } catch { /* closed */ }
		c.close();
	}
}

// Resume on a new socket: resolves with {v, welcome}.
async function resume(token, extra = {}) {
	const v = await connectVisitor(b);
	v.send({ type: 'hello', resume: token, ...extra });
	const welcome = await v.next('welcome');
	return { v, welcome };
}

test('a waiting visitor that drops and resumes keeps its queue place', { timeout: 30000 }, async () => {
	let tina, v0, a, c, a2, c2;
	try {
		// Tina is available but busy (max 1 chat), so the queue stands still.
		tina = await availableStaff(b, 'tina', PW);
		({ v: v0 } = await startChat(b, tina, { lang: 'tr' }));

		let wa, wc;
		({ v: a, welcome: wa } = await visitorHello(b, { lang: 'tr' }));
		assert.equal(wa.open, true);
		assert.equal((await a.next('queue')).position, 1);
		({ v: c, welcome: wc } = await visitorHello(b, { lang: 'tr' }));
		assert.equal((await c.next('queue')).position, 2);

		c.terminate();
		let w;
		({ v: c2, welcome: w } = await resume(wc.session));
		assert.equal(w.lang, 'tr');
		assert.equal(w.open, true);
		assert.equal(w.resumed, true);
		assert.match(w.session, /^[A-Za-z0-9_-]{22,}$/);
		assert.equal((await c2.next('queue')).position, 2, 'the second place is kept');
		assert.deepEqual(await a.quiet({ type: 'queue' }, 200), [], 'the first visitor did not move');

		a.terminate();
		({ v: a2, welcome: w } = await resume(wa.session));
		assert.equal((await a2.next('queue')).position, 1, 'the first place is kept');
		assert.deepEqual(await c2.quiet({ type: 'queue' }, 200), [], 'the second visitor did not move');
		assert.deepEqual(await tina.quiet({ type: 'offer' }, 0), [], 'a busy volunteer gets no offers');
	} finally {
		bye(a2, c2, v0);
		tina?.close();
	}
});

test('a visitor that drops during a chat resumes it and gets what it missed', { timeout: 30000 }, async () => {
	let aziz, v, v2;
	try {
		aziz = await availableStaff(b, 'aziz', PW);
		let welcome, chat;
		({ v, welcome, chat } = await startChat(b, aziz, { lang: 'ar' }));
		v.send({ type: 'msg', text: 'قبل الانقطاع' });
		assert.equal((await v.next('msg')).seq, 1);
		await aziz.waitFor({ type: 'msg', seq: 1 });

		v.terminate();
		// If the daemon tells staff that the visitor is away, wait for it so
		// the next messages are sent while the visitor is really gone.
		const away = await aziz.waitFor((f) => f.type === 'presence' && f.chat === chat, 1500).catch(() => null);
		if (away) assert.equal(away.visitor, 'away');

		aziz.send({ type: 'msg', chat, text: 'هل أنت هنا؟' });
		aziz.send({ type: 'msg', chat, text: 'سأنتظرك' });
		await aziz.waitFor({ type: 'msg', seq: 3 }).catch(() => { /* staff echo is checked in 01 */ });

		let w;
		({ v: v2, welcome: w } = await resume(welcome.session));
		assert.equal(w.lang, 'ar');
		assert.equal(w.dir, 'rtl');
		assert.equal(w.resumed, true);
		const rj = await v2.waitFor({ type: 'joined' });
		assert.equal(rj.chat, chat);
		assert.equal(rj.staff.alias, 'Aziz');
		const m2 = await v2.waitFor({ type: 'msg', seq: 2 });
		assert.equal(m2.from, 'staff');
		assert.equal(m2.alias, 'Aziz');
		assert.equal(m2.text, 'هل أنت هنا؟');
		const m3 = await v2.waitFor({ type: 'msg', seq: 3 });
		assert.equal(m3.text, 'سأنتظرك');
		assert.ok(m2.ts <= m3.ts);

		v2.send({ type: 'msg', text: 'عدت' });
		assert.equal((await v2.waitFor({ type: 'msg', seq: 4 })).from, 'visitor');
		const got = await aziz.waitFor({ type: 'msg', seq: 4 });
		assert.equal(got.chat, chat);
		assert.equal(got.text, 'عدت');
		assert.equal(aziz.pending().filter((f) => f.type === 'ended').length, 0);
	} finally {
		bye(v2);
		aziz?.close();
	}
});

test('after the grace period the token is dead and the chat ended by timeout', { timeout: 30000 }, async () => {
	let emma, v, v2;
	try {
		emma = await availableStaff(b, 'emma', PW);
		let welcome, chat;
		({ v, welcome, chat } = await startChat(b, emma, { lang: 'en' }));
		v.send({ type: 'msg', text: 'hello' });
		await emma.waitFor({ type: 'msg', seq: 1 });

		const dropped = Date.now();
		v.terminate();
		const ended = await emma.waitFor({ type: 'ended', chat }, 10000);
		const after = Date.now() - dropped;
		assert.equal(ended.by, 'timeout');
		assert.ok(after >= 2500, `ended after ${after} ms, the grace period is 3 s`);
		assert.ok(after <= 6000, `ended after ${after} ms, the grace period is 3 s`);

		// The old token starts a new session: a new token, no chat, no messages.
		v2 = await connectVisitor(b);
		v2.send({ type: 'hello', resume: welcome.session, lang: 'en' });
		const w = await v2.next('welcome');
		assert.notEqual(w.session, welcome.session);
		assert.equal(w.resumed, undefined);
		assert.match(w.session, /^[A-Za-z0-9_-]{22,}$/);
		const q = await v2.next('queue');
		assert.equal(q.position, 1);
		assert.deepEqual(await v2.quiet((f) => f.type === 'msg' || f.type === 'joined', 300), []);
	} finally {
		bye(v2);
		emma?.close();
	}
});

test('a staff drop requeues the visitor first, and the next staff member gets the transcript', { timeout: 30000 }, async () => {
	let n1, n2, v;
	try {
		n1 = await availableStaff(b, 'nora1', PW);
		let chat;
		({ v, chat } = await startChat(b, n1, { lang: 'nl' }));
		v.send({ type: 'msg', text: 'Ik durf niet naar huis' });
		assert.equal((await v.next('msg')).seq, 1);
		n1.send({ type: 'msg', chat, text: 'Je bent hier veilig om te praten' });
		assert.equal((await v.waitFor({ type: 'msg', seq: 2 })).alias, 'Nora1');

		n2 = await loginStaff(b, 'nora2', PW);
		n1.terminate();

		const notice = await v.waitFor({ type: 'notice' });
		assert.equal(notice.code, 'requeued');
		const q = await v.waitFor({ type: 'queue' });
		assert.equal(q.position, 1);

		n2.send({ type: 'status', available: true });
		const offer = await n2.next('offer');
		assert.equal(offer.lang, 'nl');
		n2.send({ type: 'accept', offer: offer.offer });
		const cf = await n2.next('chat');
		assert.equal(cf.lang, 'nl');
		const t1 = await n2.waitFor({ type: 'msg', seq: 1 });
		assert.equal(t1.from, 'visitor');
		assert.equal(t1.text, 'Ik durf niet naar huis');
		assert.equal(t1.chat, cf.chat);
		const t2 = await n2.waitFor({ type: 'msg', seq: 2 });
		assert.equal(t2.from, 'staff');
		assert.equal(t2.alias, 'Nora1');
		assert.equal(t2.text, 'Je bent hier veilig om te praten');

		const joined = await v.waitFor({ type: 'joined' });
		assert.equal(joined.staff.alias, 'Nora2');
		v.send({ type: 'msg', text: 'Dank je' });
		assert.equal((await n2.waitFor({ type: 'msg', seq: 3 })).text, 'Dank je');
	} finally {
		bye(v);
		n2?.close();
	}
});

test('resuming while the old socket is still open closes the old one with 4003', { timeout: 20000 }, async () => {
	let tess, v, v2;
	try {
		tess = await availableStaff(b, 'tess', PW);
		let welcome, chat;
		({ v, welcome, chat } = await startChat(b, tess, { lang: 'ti' }));
		v.send({ type: 'msg', text: 'one' });
		await tess.waitFor({ type: 'msg', seq: 1 });
		v2 = await connectVisitor(b);
		v2.send({ type: 'hello', resume: welcome.session, last_seq: 1 });
		const w = await v2.next('welcome');
		assert.equal(w.resumed, true);
		assert.equal((await v.closed()).code, 4003);
		assert.equal((await v2.next('joined')).chat, chat);
		// last_seq 1: nothing to replay.
		assert.deepEqual(await v2.quiet({ type: 'msg' }, 200), []);
		tess.send({ type: 'msg', chat, text: 'two' });
		assert.equal((await v2.next('msg')).seq, 2);
	} finally {
		bye(v2);
		tess?.close();
	}
});

test('a staff session taken over by token keeps its chats; logout kills the token', { timeout: 20000 }, async () => {
	let s1, s2, s3, v;
	try {
		s1 = await availableStaff(b, 'tess', PW);
		let chat;
		({ v, chat } = await startChat(b, s1, { lang: 'ti' }));
		s2 = await connectStaff(b);
		s2.send({ type: 'login', token: s1.session.token, id: 'tok-1' });
		const sess = await s2.next('session');
		assert.equal(sess.id, 'tok-1');
		assert.equal(sess.user.alias, 'Tess');
		assert.equal((await s1.closed()).code, 4003);
		const cf = await s2.waitFor({ type: 'chat' });
		assert.equal(cf.chat, chat);
		assert.deepEqual(await v.quiet((f) => f.type === 'notice' || f.type === 'ended', 200), [],
			'the visitor does not notice the takeover');
		v.send({ type: 'msg', text: 'still there?' });
		assert.equal((await s2.waitFor({ type: 'msg', seq: 1 })).text, 'still there?');

		s2.send({ type: 'logout' });
		assert.equal((await s2.closed()).code, 1000);
		s3 = await connectStaff(b);
		s3.send({ type: 'login', token: sess.token, id: 'tok-2' });
		const err = await s3.next();
		assert.equal(err.type, 'error');
		assert.equal(err.code, 'unauthorized');
		assert.equal((await s3.closed()).code, 4001);
		// The chat she held alone puts the visitor back in the queue.
		assert.equal((await v.waitFor({ type: 'notice' })).code, 'requeued');
	} finally {
		bye(v);
		s3?.close();
	}
});
