// Issue 12, the visitor's holes: a resume with another waiting socket's
// token leaves no session behind once the grace is over; a chat of 1,000
// messages can be accepted, joined by invite and reloaded without the
// console being closed 1008; a storm of visitor resumes or console reloads
// relays no more than the rate limit allows.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startBrugd, connectVisitor, connectStaff, loginStaff, availableStaff, visitorHello, startChat,
} from '../lib/brugd.mjs';

const PW = 'integration-test-password-14';
const GRACE_S = 4;
// docs/protocol.md, 5: messages per 10 s before rate_limited (the default).
const RATE_SOFT = 20;
let b;

before(async () => {
	b = await startBrugd({
		config: { chat: { grace_seconds: GRACE_S } },
		staff: [
			{ user: 'tbusy', alias: 'TBusy', roles: 'volunteer', langs: 'tr', maxChats: 1, password: PW },
			{ user: 'tlate', alias: 'TLate', roles: 'volunteer', langs: 'tr', maxChats: 1, password: PW },
			{ user: 'estorm', alias: 'EStorm', roles: 'volunteer', langs: 'en', maxChats: 1, password: PW },
			{ user: 'areload', alias: 'AReload', roles: 'volunteer', langs: 'ar', maxChats: 1, password: PW },
		],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function closeAll(...clients) {
	for (const c of clients.flat()) {
		if (c) c.close();
	}
}

test('conflicting resumes leave no session queued after the grace', { timeout: 90000 }, async () => {
	const N = 50;
	let busy, late, blocker, fresh;
	const owners = [], others = [];
	try {
		// TBusy is available but busy (max 1 chat), so everyone else waits.
		busy = await availableStaff(b, 'tbusy', PW);
		({ v: blocker } = await startChat(b, busy, { lang: 'tr' }));

		for (let i = 0; i < N; i++) {
			const { v, welcome } = await visitorHello(b, { lang: 'tr' }, { localAddress: `127.0.1.${i + 1}` });
			assert.equal((await v.next('queue')).position, i + 1);
			owners.push({ v, token: welcome.session });
		}
		for (let i = 0; i < N; i++) {
			const { v } = await visitorHello(b, { lang: 'tr' }, { localAddress: `127.0.2.${i + 1}` });
			others.push(v);
		}
		// Each of the others has a session of its own: resuming another
		// socket's session is refused, and changes nothing.
		for (let i = 0; i < N; i++) {
			others[i].send({ type: 'hello', resume: owners[i].token, id: `r${i}` });
			const e = await others[i].waitFor({ id: `r${i}` });
			assert.equal(e.type, 'error');
			assert.equal(e.code, 'conflict');
		}
		// Then every visitor goes away; after the grace nobody is left.
		closeAll(owners.map((o) => o.v), others);
		await Promise.all([...owners.map((o) => o.v.closed()), ...others.map((v) => v.closed())]);
		await sleep(GRACE_S * 1000 + 1500);

		late = await availableStaff(b, 'tlate', PW);
		const offers = await late.quiet((f) => f.type === 'offer', 1500);
		assert.deepEqual(offers, [], 'offers for sessions whose sockets are gone');

		// The queue is empty: a new visitor is first in line and offered.
		let q;
		({ v: fresh } = await visitorHello(b, { lang: 'tr' }, { localAddress: '127.0.1.200' }));
		q = await fresh.next('queue');
		assert.equal(q.position, 1);
		const offer = await late.next('offer');
		assert.equal(offer.kind, 'chat');
	} finally {
		closeAll(busy, late, blocker, fresh, owners.map((o) => o.v), others);
	}
});

test('a storm of resumes relays no more than the rate limit', { timeout: 60000 }, async () => {
	let s, v;
	try {
		s = await availableStaff(b, 'estorm', PW);
		let welcome;
		({ v, welcome } = await startChat(b, s, { lang: 'en' }, { localAddress: '127.0.3.1' }));
		let token = welcome.session;
		let resumed = 0;
		const t0 = Date.now();
		// Resume, send, close, resume ... each time on a fresh socket. The
		// storm stays well inside the grace (the session must live).
		for (let i = 0; i < 80 && Date.now() - t0 < (GRACE_S - 1) * 1000; i++) {
			v.close();
			v = await connectVisitor(b, { localAddress: `127.0.3.${(i % 200) + 2}` });
			v.send({ type: 'hello', resume: token, last_seq: 1000000, id: `h${i}` });
			const f = await v.waitFor({ id: `h${i}` });
			if (f.type === 'welcome') {
				token = f.session;
				resumed++;
			} else {
				assert.equal(f.code, 'rate_limited');
			}
			v.send({ type: 'msg', text: `storm ${i}` });
		}
		const elapsed = Date.now() - t0;
		// Let the last messages arrive, if relayed.
		await sleep(500);
		const relayed = s.frames.filter((f) => f.type === 'msg' && f.from === 'visitor').length;
		const windows = Math.floor(elapsed / 10000) + 1;
		assert.ok(resumed >= 1, 'no resume worked at all');
		assert.ok(relayed >= 1, 'nothing relayed at all');
		assert.ok(relayed <= RATE_SOFT * windows,
			`${relayed} messages relayed in ${elapsed} ms, at most ${RATE_SOFT * windows} allowed`);
	} finally {
		closeAll(s, v);
	}
});

test('a storm of console reloads relays no more than the rate limit', { timeout: 60000 }, async () => {
	let s, v;
	try {
		s = await availableStaff(b, 'areload', PW);
		let chat;
		({ v, chat } = await startChat(b, s, { lang: 'ar' }, { localAddress: '127.0.4.1' }));
		const token = s.session.token;
		let reloaded = 0;
		const t0 = Date.now();
		// Log in with the session's token on a fresh socket, send, and
		// again: the old socket is replaced each time.
		for (let i = 0; i < 60 && Date.now() - t0 < 5000; i++) {
			const next = await connectStaff(b);
			next.send({ type: 'login', token, id: `l${i}` });
			const f = await next.waitFor({ id: `l${i}` });
			assert.equal(f.type, 'session');
			reloaded++;
			next.send({ type: 'msg', chat, text: `reload storm ${i}` });
			s = next;
		}
		const elapsed = Date.now() - t0;
		await sleep(500);
		const relayed = v.frames.filter((f) => f.type === 'msg' && f.from === 'staff').length;
		const windows = Math.floor(elapsed / 10000) + 1;
		assert.ok(reloaded >= 30, `only ${reloaded} reloads`);
		assert.ok(relayed >= 1, 'nothing relayed at all');
		assert.ok(relayed <= RATE_SOFT * windows,
			`${relayed} messages relayed in ${elapsed} ms, at most ${RATE_SOFT * windows} allowed`);
	} finally {
		closeAll(s, v);
	}
});

test('a chat of 1,000 messages can be accepted, joined by invite and reloaded', { timeout: 180000 }, async () => {
	// Only the rate limit is lifted, so that the chat is built in seconds.
	const b3 = await startBrugd({
		config: { chat: { rate_limit_messages: 1000 } },
		staff: [
			{ user: 'first', alias: 'First', roles: 'volunteer', langs: 'nl', maxChats: 1, password: PW },
			{ user: 'vol', alias: 'Vol', roles: 'volunteer', langs: 'nl', maxChats: 2, password: PW },
			{ user: 'col', alias: 'Col', roles: 'volunteer', langs: 'nl', maxChats: 2, password: PW },
		],
	});
	const TOTAL = 1000, BATCH = 50;
	// Quotes and backslashes take two bytes each in JSON: the transcript is
	// about 2 MiB on the wire, next to a kept text of under 1 MiB.
	const text = (i) => `${i}:` + '"\\'.repeat(490);
	let first, vol, col, vol2, v;
	const sockets = [];
	try {
		first = await availableStaff(b3, 'first', PW);
		const started = await startChat(b3, first, { lang: 'nl' });
		v = started.v;
		let seq = 0;
		while (seq < TOTAL) {
			// The staff member writes one message in ten.
			const n = Math.min(BATCH, TOTAL - seq);
			for (let k = 0; k < n; k++) {
				const i = seq + k + 1;
				if (i % 10 === 0) first.send({ type: 'msg', chat: started.chat, text: text(i) });
				else v.send({ type: 'msg', text: text(i) });
			}
			seq += n;
			await v.waitFor((f) => f.type === 'msg' && f.seq === seq, 20000);
		}
		await first.waitFor((f) => f.type === 'msg' && f.seq === TOTAL, 20000);

		// First leaves: the visitor goes back to the queue with its
		// transcript, and Vol, once available, is offered the chat.
		first.send({ type: 'logout' });
		await first.closed();
		vol = await availableStaff(b3, 'vol', PW);
		sockets.push(vol);
		const offer = await vol.next('offer', 10000);
		vol.send({ type: 'accept', offer: offer.offer });
		const chat = (await vol.next('chat', 10000)).chat;
		// Every message, in order, as the visitor saw them.
		const transcript = (c, forChat) => c.frames
			.filter((f) => f.type === 'msg' && (forChat === undefined || f.chat === forChat))
			.map((f) => `${f.seq} ${f.from} ${f.alias ?? ''} ${f.text}`);
		const allSeqs = (c) => transcript(c, chat);
		const expect = transcript(v);
		assert.equal(expect.length, TOTAL);
		assert.equal(new Set(expect).size, TOTAL);
		await vol.waitFor((f) => f.type === 'msg' && f.seq === TOTAL, 30000);
		assert.deepEqual(allSeqs(vol), expect);

		// A colleague invited into it sees the whole transcript.
		col = await availableStaff(b3, 'col', PW);
		sockets.push(col);
		vol.send({ type: 'invite', chat, to: { user: 'col' }, id: 'inv' });
		const inv = await col.next('offer', 10000);
		assert.equal(inv.kind, 'invite');
		col.send({ type: 'accept', offer: inv.offer });
		await col.next('chat', 10000);
		await col.waitFor((f) => f.type === 'msg' && f.seq === TOTAL, 30000);
		assert.deepEqual(allSeqs(col), expect);

		// Vol reloads its console (login with its token) and gets it back.
		vol2 = await connectStaff(b3);
		sockets.push(vol2);
		vol2.send({ type: 'login', token: vol.session.token });
		assert.equal((await vol2.next('session', 10000)).type, 'session');
		await vol2.waitFor((f) => f.type === 'chat' && f.chat === chat, 10000);
		await vol2.waitFor((f) => f.type === 'msg' && f.seq === TOTAL, 30000);
		assert.deepEqual(allSeqs(vol2), expect);
		assert.equal((await vol.closed()).code, 4003);

		// The chat goes on, in order, for everyone in it.
		v.send({ type: 'msg', text: 'still here', id: 'after' });
		const echo = await v.waitFor({ id: 'after' });
		assert.equal(echo.seq, TOTAL + 1);
		assert.equal((await vol2.waitFor((f) => f.type === 'msg' && f.seq === TOTAL + 1)).text, 'still here');
		assert.equal((await col.waitFor((f) => f.type === 'msg' && f.seq === TOTAL + 1)).text, 'still here');
		for (const c of [col, vol2, v]) assert.equal(c.closeInfo, null, `closed: ${JSON.stringify(c.closeInfo)}`);
	} finally {
		closeAll(first, v, sockets);
		await b3.stop();
		await b3.cleanup();
	}
});
