// A split (docs/cluster.md, section 7), made by pausing node 1 with
// SIGSTOP: node 2 takes over node 1's queue and chat from its replicas,
// the visitors resume there, and then node 1 wakes up with its old copies.
// When the parts meet, each session exists once: the copies resumed last
// win, node 1's stale ones go quietly (the volunteer hears no `ended`),
// the queue has no ghosts, and the chat goes on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { availableStaff, visitorHello, connectVisitor } from '../lib/brugd.mjs';
import { startNatsCluster } from '../lib/nats.mjs';
import { healthJsonUntil as healthUntil, startClusterNode, stopCluster } from '../lib/cluster.mjs';

const PW = 'integration-test-password-32';
const LANGS = ['nl', 'ar', 'ti', 'tr', 'en'];

let nats;
let b1;
let b2;



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

after(() => stopCluster(nats, [b1, b2]));

let lang;     // a language node 1 owns
let anna;     // on node 2
let v;        // the chatting visitor
let chat;
let token;
const waiting = [];   // { c, token, position }

function stopNode(b, sig) {
	b.process.kill(sig);
}

test('node 1 owns a language: a chat with Anna on node 2, two visitors waiting', { timeout: 30000 }, async () => {
	const both = (j) => j.connected && JSON.stringify(j.members) === '["b1","b2"]';
	const h1 = await healthUntil(b1, both, 10000, 'b1 sees b2');
	await healthUntil(b2, both, 10000, 'b2 sees b1');
	lang = LANGS.find((l) => h1.owners[l] === 'b1');
	assert.ok(lang, JSON.stringify(h1.owners));
	anna = await availableStaff(b2, 'anna', PW);
	await new Promise((r) => setTimeout(r, 1500));
	const hello = await visitorHello(b1, { lang });
	v = hello.v;
	token = hello.welcome.session;
	const offer = await anna.next('offer', 10000);
	anna.send({ type: 'accept', offer: offer.offer });
	chat = (await anna.next('chat')).chat;
	await v.next('joined');
	v.send({ type: 'msg', text: 'before the split', id: 'v1' });
	assert.equal((await v.waitFor({ type: 'msg', id: 'v1' })).seq, 1);
	await anna.waitFor((f) => f.type === 'msg' && f.seq === 1);
	for (const [i, node] of [b1, b2].entries()) {
		const { v: c, welcome } = await visitorHello(node, { lang });
		assert.equal((await c.next('queue')).position, i + 1);
		waiting.push({ c, token: welcome.session, position: i + 1 });
	}
});

test('node 1 paused: node 2 takes over, the visitors resume there', { timeout: 40000 }, async () => {
	await new Promise((r) => setTimeout(r, 300));
	stopNode(b1, 'SIGSTOP');
	await healthUntil(b2, (j) => JSON.stringify(j.members) === '["b2"]', 10000, 'b2 drops b1');
	await anna.waitFor({ type: 'presence', chat, visitor: 'away' }, 10000);
	// The visitor's socket to node 1 hangs: it gives up and resumes on 2.
	v.terminate();
	v = await connectVisitor(b2);
	v.send({ type: 'hello', resume: token, last_seq: 1 });
	const welcome = await v.next('welcome', 10000);
	assert.equal(welcome.resumed, true);
	token = welcome.session;
	anna.send({ type: 'msg', chat, text: 'during the split', id: 's2' });
	assert.equal((await v.waitFor((f) => f.type === 'msg' && f.seq === 2)).text, 'during the split');
	for (const w of waiting) {
		w.c.terminate();
		w.c = await connectVisitor(b2);
		w.c.send({ type: 'hello', resume: w.token });
		const wl = await w.c.next('welcome');
		assert.equal(wl.resumed, true);
		w.token = wl.session;
		assert.equal((await w.c.next('queue')).position, w.position);
	}
});

test('node 1 wakes up: each session exists once, the chat goes on undisturbed', { timeout: 40000 }, async () => {
	stopNode(b1, 'SIGCONT');
	const both = (j) => j.connected && JSON.stringify(j.members) === '["b1","b2"]';
	await healthUntil(b2, both, 10000, 'b2 sees b1 again');
	await healthUntil(b1, both, 10000, 'b1 sees b2');
	// The waiting visitors move to node 1, the owner, with their places;
	// node 1's stale copies of them are gone.
	for (const w of waiting) {
		const wl = await w.c.waitFor((f) => f.type === 'welcome' && f.resumed === true, 10000);
		w.token = wl.session;
		await w.c.waitFor((f) => f.type === 'queue' && f.position === w.position, 10000);
	}
	assert.ok(b1.logs().some((l) => /a stale copy of a session/.test(l)), b1.logs().join('\n'));
	const { v: late } = await visitorHello(b2, { lang });
	assert.equal((await late.next('queue')).position, waiting.length + 1, 'no ghost in the queue');
	late.send({ type: 'end' });
	late.close();
	// Node 1's stale copy of the chat went without a word to Anna.
	await new Promise((r) => setTimeout(r, 1000));
	assert.deepEqual(anna.frames.filter((f) => f.type === 'ended'), []);
	anna.send({ type: 'msg', chat, text: 'after the split', id: 's3' });
	assert.equal((await v.waitFor((f) => f.type === 'msg' && f.seq === 3)).text, 'after the split');
	v.send({ type: 'msg', text: 'still with you', id: 'v3' });
	assert.equal((await v.waitFor({ type: 'msg', id: 'v3' })).seq, 4);
	assert.equal((await anna.waitFor((f) => f.type === 'msg' && f.seq === 4)).text, 'still with you');
	anna.send({ type: 'end', chat });
	assert.equal((await v.waitFor({ type: 'ended' })).by, 'staff');
	for (const w of waiting) w.c.close();
	v.close();
	anna.close();
	for (const b of [b1, b2]) {
		assert.deepEqual(await b.stop(), { code: 0, signal: null }, b.logs().join('\n'));
	}
});
