// The loss of the node that owns a language (docs/cluster.md, section 6):
// node 1 owns the visitor's language, so its router holds the queue and
// hosts the chat; node 2 holds the replicas. Node 1 is killed with
// SIGKILL mid-chat: the visitor resumes on node 2 with its token and the
// chat goes on with the same volunteer, nothing missed (seq continuous),
// and the waiting visitors of both nodes keep their places.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { availableStaff, visitorHello, connectVisitor } from '../lib/brugd.mjs';
import { startNatsCluster } from '../lib/nats.mjs';
import { healthJsonUntil as healthUntil, startClusterNode, stopCluster } from '../lib/cluster.mjs';

const PW = 'integration-test-password-29';
const LANGS = ['nl', 'ar', 'ti', 'tr', 'en'];

let nats;
let b1;
let b2;
let b1again;



function startNode(name, staff = []) {
	return startClusterNode(nats, name, { staff, chat: { grace_seconds: 60 } });
}

before(async () => {
	nats = await startNatsCluster(3);
	b1 = await startNode('b1');
	b2 = await startNode('b2', [
		// One chat at a time, so the other visitors wait.
		{ user: 'anna', alias: 'Anna', roles: 'volunteer', langs: LANGS.join(','), maxChats: 1, password: PW },
	]);
});

after(() => stopCluster(nats, [b1, b2, b1again]));

let lang;     // a language node 1 owns
let anna;     // on node 2
let v;        // the chatting visitor, on node 1
let chat;
let token;
const waiting = [];   // { c, node, token, position }

test('node 1 owns a language; a visitor there chats with a volunteer on node 2', { timeout: 30000 }, async () => {
	const both = (j) => j.connected && JSON.stringify(j.members) === '["b1","b2"]';
	const h1 = await healthUntil(b1, both, 10000, 'b1 sees b2');
	await healthUntil(b2, both, 10000, 'b2 sees b1');
	lang = LANGS.find((l) => h1.owners[l] === 'b1');
	assert.ok(lang, `node b1 owns one of ${LANGS}: ${JSON.stringify(h1.owners)}`);

	anna = await availableStaff(b2, 'anna', PW);
	// Node 1 hears of her with node 2's next presence list (every second).
	await new Promise((r) => setTimeout(r, 1500));
	const hello = await visitorHello(b1, { lang });
	v = hello.v;
	token = hello.welcome.session;
	assert.equal(hello.welcome.open, true, 'Anna on node 2 counts for node 1');
	const offer = await anna.next('offer', 10000);
	anna.send({ type: 'accept', offer: offer.offer });
	chat = (await anna.next('chat')).chat;
	assert.equal((await v.next('joined')).staff.alias, 'Anna');

	v.send({ type: 'msg', text: 'hello from node 1', id: 'v1' });
	assert.equal((await v.next('msg')).seq, 1);
	assert.equal((await anna.next('msg')).seq, 1);
	anna.send({ type: 'msg', chat, text: 'hello from node 2', id: 's1' });
	assert.equal((await v.next('msg')).seq, 2);
	assert.equal((await anna.next('msg')).seq, 2);
});

test('four visitors wait, two on each node, in one queue that node 1 holds', { timeout: 30000 }, async () => {
	for (let i = 0; i < 4; i++) {
		const node = i % 2 === 0 ? b1 : b2;
		const { v: c, welcome } = await visitorHello(node, { lang });
		const q = await c.next('queue');
		assert.equal(q.position, i + 1);
		waiting.push({ c, node: node === b1 ? 1 : 2, token: welcome.session, position: i + 1 });
	}
	assert.ok(b2.logs().some((l) => /served by node b1/.test(l)), 'node 2 relays its waiting visitors to node 1');
});

test('node 1 killed mid-chat: the visitor resumes on node 2 at once, with the same volunteer, nothing missed', { timeout: 40000 }, async () => {
	// Anna's last message before the loss: confirmed to her, so held on
	// node 2 too (the replica gets it before anyone sees it).
	anna.send({ type: 'msg', chat, text: 'one more from Anna', id: 's2' });
	assert.equal((await anna.next('msg')).seq, 3);
	await b1.process.kill('SIGKILL');

	// The visitor comes back at once, before node 2 has noticed the loss:
	// node 2 holds a replica of its session, so it waits for node 1 to
	// answer or to be declared lost, and then serves it. It says it has
	// seen up to seq 1, so the transcript from 2 on must come.
	const t0 = Date.now();
	const v2 = await connectVisitor(b2);
	v2.send({ type: 'hello', resume: token, last_seq: 1 });
	const welcome = await v2.next('welcome', 15000);
	assert.equal(welcome.resumed, true, JSON.stringify(welcome));
	assert.equal(welcome.lang, lang);
	assert.ok(Date.now() - t0 < 10000, `resumed after ${Date.now() - t0} ms`);
	assert.notEqual(welcome.session, token);
	token = welcome.session;
	assert.equal((await v2.next('joined')).staff.alias, 'Anna');
	await v2.waitFor((f) => f.type === 'msg' && f.seq === 3, 5000);
	const msgs = v2.frames.filter((f) => f.type === 'msg');
	assert.deepEqual(msgs.map((f) => [f.seq, f.text]), [[2, 'hello from node 2'], [3, 'one more from Anna']]);
	// Anna saw the visitor away (node 2 restored the chat) and back.
	await anna.waitFor({ type: 'presence', chat, visitor: 'away' }, 10000);
	await anna.waitFor({ type: 'presence', chat, visitor: 'back' }, 10000);

	// The chat goes on both ways with continuous seq, on node 2 now.
	v2.send({ type: 'msg', text: 'I am back', id: 'v2' });
	assert.equal((await v2.waitFor({ type: 'msg', id: 'v2' })).seq, 4);
	assert.deepEqual([(await anna.waitFor((f) => f.type === 'msg' && f.seq === 4)).chat], [chat]);
	anna.send({ type: 'msg', chat, text: 'good to see you', id: 's3' });
	const back = await v2.waitFor((f) => f.type === 'msg' && f.seq === 5);
	assert.deepEqual([back.from, back.alias, back.text], ['staff', 'Anna', 'good to see you']);
	assert.ok(b2.logs().some((l) => /restored 5 of 5 sessions of node b1/.test(l)), b2.logs().join('\n'));
	v = v2;
});

test('the waiting visitors of both nodes resume on node 2 and keep their places', { timeout: 30000 }, async () => {
	// Those whose socket was on node 1 lost it; those on node 2 were
	// closed with 1012 when their owner went. Either way they come back
	// with their token, as the widget does.
	for (const w of waiting) {
		const info = await w.c.closed(10000);
		if (w.node === 2) assert.equal(info.code, 1012);
	}
	for (const w of waiting) {
		const c = await connectVisitor(b2);
		c.send({ type: 'hello', resume: w.token });
		const welcome = await c.next('welcome');
		assert.equal(welcome.resumed, true, `visitor ${w.position} resumed`);
		const q = await c.next('queue');
		assert.equal(q.position, w.position, `visitor ${w.position} (node ${w.node}) kept its place`);
		w.c = c;
	}
	// The first leaves: everyone behind moves up by one.
	waiting[0].c.send({ type: 'end' });
	assert.equal((await waiting[0].c.next('ended')).by, 'visitor');
	for (const w of waiting.slice(1)) {
		await w.c.waitFor((f) => f.type === 'queue' && f.position === w.position - 1, 10000);
	}
});

test('node 1 comes back: it joins, and the chat on node 2 goes on undisturbed', { timeout: 30000 }, async () => {
	b1again = await startNode('b1');
	const both = (j) => j.connected && JSON.stringify(j.members) === '["b1","b2"]';
	await healthUntil(b2, both, 10000, 'b2 sees b1 again');
	await healthUntil(b1again, both, 10000, 'b1 sees b2');
	// The language is node 1's again: the visitors waiting on node 2 move
	// there with their places, their sockets staying open (docs/cluster.md,
	// section 4); the chat stays on node 2.
	const rest = waiting.slice(1);
	for (const w of rest) {
		const welcome = await w.c.waitFor((f) => f.type === 'welcome' && f.resumed === true, 10000);
		w.token = welcome.session;
		await w.c.waitFor((f) => f.type === 'queue' && f.position === w.position - 1, 10000);
	}
	assert.ok(b2.logs().some((l) => /3 waiting visitors of \w+ handed over/.test(l)), b2.logs().join('\n'));
	assert.ok(b1again.logs().some((l) => /took over 3 waiting visitors from node b2/.test(l)), b1again.logs().join('\n'));
	// A new visitor queues behind them, wherever it arrives.
	const { v: late } = await visitorHello(b2, { lang });
	assert.equal((await late.next('queue')).position, rest.length + 1);
	late.send({ type: 'end' });
	late.close();
	v.send({ type: 'msg', text: 'still here', id: 'v3' });
	assert.equal((await v.waitFor({ type: 'msg', id: 'v3' })).seq, 6);
	assert.equal((await anna.waitFor((f) => f.type === 'msg' && f.seq === 6)).text, 'still here');
	anna.send({ type: 'end', chat });
	assert.equal((await v.waitFor({ type: 'ended' })).by, 'staff');
	for (const w of waiting) {
		try { w.c.send({ type: 'end' }); } catch { /* closed */ }
		w.c.close();
	}
	v.close();
	anna.close();
	// Clean exits, also under the sanitizers (no leak of a restored
	// session or replica, no error).
	for (const b of [b1again, b2]) {
		assert.deepEqual(await b.stop(), { code: 0, signal: null }, b.logs().join('\n'));
	}
	for (const b of [b2, b1again]) {
		const text = b.logs().join('\n');
		for (const needle of ['hello from node', 'one more from Anna', 'I am back', 'still here', token]) {
			assert.equal(text.includes(needle), false, `a log holds ${needle}`);
		}
	}
});
