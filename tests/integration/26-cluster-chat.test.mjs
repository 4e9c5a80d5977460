// A chat across two brugd nodes on NATS (docs/cluster.md, sections 3 and
// 5): a visitor on node 1 whose language node 2 owns is served by node 2's
// hub, and chats both ways with a volunteer there; when node 1 dies, the
// visitor resumes on node 2 with its token and misses nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableStaff, visitorHello, connectVisitor, loginStaff } from '../lib/brugd.mjs';
import { startNatsCluster } from '../lib/nats.mjs';
import { healthJsonUntil as healthUntil, startClusterNode, stopCluster } from '../lib/cluster.mjs';
import { filesUnder } from '../lib/canary.mjs';

const PW = 'integration-test-password-21';
const LANGS = ['nl', 'ar', 'ti', 'tr', 'en'];
const VISITOR_TEXT = 'cross-node canary 7f3a from the visitor';
const STAFF_TEXT = 'cross-node canary 9c1d from the volunteer';

let nats;
let b1;
let b2;



function startNode(name, staff = []) {
	return startClusterNode(nats, name, { staff, chat: { grace_seconds: 30 } });
}

before(async () => {
	nats = await startNatsCluster(3);
	b1 = await startNode('b1', [
		{ user: 'ben', alias: 'Ben', roles: 'volunteer', langs: LANGS.join(','), maxChats: 1, password: PW },
		{ user: 'cora', alias: 'Cora', roles: 'coordinator', langs: LANGS.join(','), password: PW },
	]);
	b2 = await startNode('b2', [
		// One chat at a time, so the queue test's visitors all wait.
		{ user: 'anna', alias: 'Anna', roles: 'volunteer', langs: LANGS.join(','), maxChats: 1, password: PW },
	]);
});

after(() => stopCluster(nats, [b1, b2]));

let lang;     // a language node 2 owns
let ownersSeen;
let s;        // Anna on node 2
let v;        // the visitor, on node 1
let chat;
let token;

test('both nodes agree which node owns each language', { timeout: 20000 }, async () => {
	const both = (j) => j.connected && JSON.stringify(j.members) === '["b1","b2"]';
	const h1 = await healthUntil(b1, both, 10000, 'b1 sees b2');
	const h2 = await healthUntil(b2, both, 10000, 'b2 sees b1');
	assert.deepEqual(Object.keys(h1.owners), LANGS);
	assert.deepEqual(h1.owners, h2.owners);
	for (const o of Object.values(h1.owners)) assert.ok(o === 'b1' || o === 'b2');
	lang = LANGS.find((l) => h1.owners[l] === 'b2');
	ownersSeen = h1.owners;
	assert.ok(lang, `node b2 owns one of ${LANGS}: ${JSON.stringify(h1.owners)}`);
});

test('a visitor on node 1 chats with a volunteer on node 2, both ways', { timeout: 30000 }, async () => {
	s = await availableStaff(b2, 'anna', PW);
	const hello = await visitorHello(b1, { lang });
	v = hello.v;
	assert.equal(hello.welcome.lang, lang);
	assert.equal(hello.welcome.open, true, 'node 2 has Anna available');
	token = hello.welcome.session;
	assert.match(token, /^[A-Za-z0-9_-]{22,}$/);
	const q = await v.next('queue');
	assert.equal(q.position, 1);

	const offer = await s.next('offer');
	assert.equal(offer.lang, lang);
	s.send({ type: 'accept', offer: offer.offer });
	const chatFrame = await s.next('chat');
	chat = chatFrame.chat;
	const joined = await v.next('joined');
	assert.equal(joined.staff.alias, 'Anna');

	v.send({ type: 'msg', text: VISITOR_TEXT, id: 'v1' });
	const echo = await v.next('msg');
	assert.deepEqual({ ...echo, ts: 0 }, { type: 'msg', from: 'visitor', text: VISITOR_TEXT, ts: 0, seq: 1, id: 'v1' });
	const atStaff = await s.next('msg');
	assert.equal(atStaff.chat, chat);
	assert.equal(atStaff.text, VISITOR_TEXT);
	assert.equal(atStaff.seq, 1);

	s.send({ type: 'msg', chat, text: STAFF_TEXT, id: 's1' });
	const atVisitor = await v.next('msg');
	assert.deepEqual({ ...atVisitor, ts: 0 },
		{ type: 'msg', from: 'staff', alias: 'Anna', text: STAFF_TEXT, ts: 0, seq: 2 });
	assert.equal((await s.next('msg')).id, 's1');

	// Typing goes across too.
	v.send({ type: 'typing', on: true });
	const typing = await s.next('typing');
	assert.equal(typing.chat, chat);
	assert.equal(typing.on, true);

	assert.ok(b1.logs().some((l) => /served by node b2/.test(l)), b1.logs().join('\n'));
});

test('a volunteer full on one node gets no offer from the owner of another language', { timeout: 20000 }, async () => {
	// Anna's one chat is on node 2; node 1 owns another language. Node 1
	// counts her chats at her home (docs/cluster.md, section 3).
	const other = LANGS.find((l) => l !== lang && ownersSeen[l] === 'b1');
	assert.ok(other, JSON.stringify(ownersSeen));
	await new Promise((r) => setTimeout(r, 1500));   // a presence list with her chat
	const { v: vx, welcome } = await visitorHello(b1, { lang: other });
	assert.equal(welcome.lang, other);
	const offers = await s.quiet((f) => f.type === 'offer', 2500);
	assert.deepEqual(offers, [], 'no offer to a volunteer at max_chats');
	vx.send({ type: 'end' });
	assert.equal((await vx.next('ended')).by, 'visitor');
	vx.close();
});

test('a coordinator on node 1 sees the chats and queue of node 2\'s router', { timeout: 20000 }, async () => {
	const cora = await loginStaff(b1, 'cora', PW);
	try {
		// Anna's chat lives on node 2; node 1's dashboard counts it.
		const d1 = await cora.waitFor((f) => f.type === 'dashboard' && f.languages[lang].chats === 1, 10000);
		assert.equal(d1.languages[lang].waiting, 0);
		const { v: vx } = await visitorHello(b2, { lang });
		await vx.next('queue');
		const d2 = await cora.waitFor((f) => f.type === 'dashboard' && f.languages[lang].waiting === 1, 10000);
		assert.ok(d2.languages[lang].longest_wait_s >= 0 && d2.languages[lang].longest_wait_s < 60);
		vx.send({ type: 'end' });
		assert.equal((await vx.next('ended')).by, 'visitor');
		vx.close();
		await cora.waitFor((f) => f.type === 'dashboard' && f.languages[lang].waiting === 0, 10000);
	} finally {
		cora.close();
	}
});

function connects(b) {
	return b.logs().filter((l) => /cluster: connected to /.test(l));
}

test('one NATS server of three killed mid-chat: once the nodes have moved, the chat goes on', { timeout: 30000 }, async () => {
	const last = connects(b1).at(-1);
	const url = /connected to (tls:\/\/[0-9.]+:\d+)/.exec(last)[1];
	const before1 = connects(b1).length;
	const before2 = connects(b2).length;
	const b2Url = /connected to (tls:\/\/[0-9.]+:\d+)/.exec(connects(b2).at(-1))[1];
	await nats.servers.find((x) => x.url === url).kill('SIGKILL');
	// Core NATS delivers at most once: what is published while a node is
	// between servers can be lost (docs/cluster.md, section 10), so the
	// chat is tested once both are connected again.
	const deadline = Date.now() + 10000;
	while (connects(b1).length === before1 || (b2Url === url && connects(b2).length === before2)) {
		assert.ok(Date.now() < deadline, `no reconnect:\n${b1.logs().join('\n')}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	await new Promise((r) => setTimeout(r, 300));   // the subscriptions are re-sent on reconnect
	v.send({ type: 'msg', text: 'still there after the server died?', id: 'v3' });
	assert.equal((await v.next('msg')).seq, 3);
	assert.equal((await s.next('msg')).seq, 3);
	s.send({ type: 'msg', chat, text: 'yes', id: 's3' });
	assert.equal((await v.next('msg')).seq, 4);
	assert.equal((await s.next('msg')).seq, 4);
});

test('a hello without lang goes by the socket\'s language to its owner', { timeout: 20000 }, async () => {
	const vx = await connectVisitor(b1, { headers: { 'accept-language': lang } });
	vx.send({ type: 'hello' });
	const welcome = await vx.next('welcome');
	assert.equal(welcome.lang, lang);
	assert.equal(welcome.open, true, 'served by node 2, where Anna is');
	assert.equal((await vx.next('queue')).position, 1);
	vx.send({ type: 'end' });
	assert.equal((await vx.next('ended')).by, 'visitor');
	vx.close();
});

test('50 waiting visitors spread over both nodes have one consistent queue', { timeout: 60000 }, async () => {
	const N = 50;
	const vs = [];
	try {
		// Alternately on node 1 (relayed) and node 2 (local): places are
		// given in arrival order by the one router that owns the language.
		for (let i = 0; i < N; i++) {
			const { v: x, welcome } = await visitorHello(i % 2 === 0 ? b1 : b2, { lang });
			assert.equal(welcome.lang, lang);
			vs.push(x);
			assert.equal((await x.next('queue')).position, i + 1, `visitor ${i} on node ${i % 2 ? 2 : 1}`);
		}
		// The first (on node 1) leaves: everyone behind moves up by one,
		// whichever node holds its socket.
		vs[0].send({ type: 'end' });
		assert.equal((await vs[0].next('ended')).by, 'visitor');
		for (let i = 1; i < N; i++) {
			await vs[i].waitFor((f) => f.type === 'queue' && f.position === i, 10000);
		}
	} finally {
		for (const x of vs) {
			try { x.send({ type: 'end' }); } catch { /* closed */ }
			x.close();
		}
	}
});

test('the waiting limit per source holds for visitors relayed from another node', { timeout: 60000 }, async () => {
	// [chat] max_waiting_per_source (30): node 2's hub, where the sessions
	// live, counts node 1's source for the relayed ones (issue 12).
	const vs = [];
	try {
		for (let i = 0; i < 30; i++) {
			// Places depend on the earlier tests' visitors still in
			// their grace (which these may evict): only that they wait.
			const { v: x } = await visitorHello(b1, { lang });
			vs.push(x);
			assert.equal(typeof (await x.next('queue')).position, 'number');
		}
		const extra = await connectVisitor(b1);
		vs.push(extra);
		extra.send({ type: 'hello', lang });
		assert.equal((await extra.next('error', 10000)).code, 'busy');
		assert.equal(extra.pending().some((f) => f.type === 'welcome'), false);
	} finally {
		for (const x of vs) {
			try { x.send({ type: 'end' }); } catch { /* closed */ }
			x.close();
		}
	}
});

test('a volunteer on node 1 takes a chat of a language node 2 owns, both ways', { timeout: 30000 }, async () => {
	// Anna (node 2) is full; Ben logs in on node 1. Node 2's router hears
	// of him through his presence and offers him the visitor, whose socket
	// is on node 1 too: everything goes through node 2's router.
	const ben = await availableStaff(b1, 'ben', PW);
	const { v: vb, welcome } = await visitorHello(b1, { lang });
	try {
		assert.equal(welcome.open, true);
		const offer = await ben.next('offer', 10000);
		assert.equal(offer.lang, lang);
		ben.send({ type: 'accept', offer: offer.offer });
		const chatFrame = await ben.next('chat');
		assert.equal(chatFrame.lang, lang);
		assert.equal((await vb.next('joined')).staff.alias, 'Ben');
		vb.send({ type: 'msg', text: 'hello Ben', id: 'b1' });
		assert.equal((await vb.next('msg')).seq, 1);
		const got = await ben.next('msg');
		assert.deepEqual([got.chat, got.seq, got.text], [chatFrame.chat, 1, 'hello Ben']);
		ben.send({ type: 'msg', chat: chatFrame.chat, text: 'hello from Ben', id: 'ben1' });
		const back = await vb.next('msg');
		assert.deepEqual([back.from, back.alias, back.seq, back.text], ['staff', 'Ben', 2, 'hello from Ben']);
		assert.equal((await ben.next('msg')).id, 'ben1');
		ben.send({ type: 'end', chat: chatFrame.chat });
		assert.equal((await vb.next('ended')).by, 'staff');
		assert.equal((await ben.next('ended')).chat, chatFrame.chat);
	} finally {
		vb.close();
		ben.close();
	}
});

test('the visitor drops and resumes on node 1: node 2 is found by the token hash and still serves it', { timeout: 30000 }, async () => {
	v.close();
	assert.deepEqual(await s.next('presence', 10000), { type: 'presence', chat, visitor: 'away' });
	v = await connectVisitor(b1);
	v.send({ type: 'hello', resume: token, last_seq: 4 });
	const welcome = await v.next('welcome');
	assert.equal(welcome.resumed, true);
	assert.notEqual(welcome.session, token, 'a resume spends the token');
	token = welcome.session;
	assert.equal((await v.next('joined')).staff.alias, 'Anna');
	assert.deepEqual(await s.next('presence'), { type: 'presence', chat, visitor: 'back' });
	assert.ok(b1.logs().some((l) => /a resumed visitor is served by node b2/.test(l)), b1.logs().join('\n'));
});

test('a token no node knows is a new start on the node it reached, after a bounded wait', { timeout: 20000 }, async () => {
	const vx = await connectVisitor(b1);
	const t0 = Date.now();
	vx.send({ type: 'hello', resume: 'A'.repeat(43) });
	const welcome = await vx.next('welcome');
	const waited = Date.now() - t0;
	assert.equal(welcome.resumed, undefined);
	assert.ok(waited >= 900 && waited < 5000, `answered after ${waited} ms`);
	vx.send({ type: 'end' });
	vx.close();
});

test('node 1 killed mid-chat: the visitor resumes on node 2 with its token, nothing missed', { timeout: 30000 }, async () => {
	await b1.process.kill('SIGKILL');
	// Node 2 sees the visitor's socket gone (node 1 left the membership)
	// and tells Anna the visitor is away; the chat waits for the grace.
	const away = await s.next('presence', 10000);
	assert.deepEqual(away, { type: 'presence', chat, visitor: 'away' });
	s.send({ type: 'msg', chat, text: 'are you still there?', id: 's2' });
	assert.equal((await s.next('msg')).seq, 5);

	const v2 = await connectVisitor(b2);
	v2.send({ type: 'hello', resume: token, last_seq: 4 });
	const welcome = await v2.next('welcome');
	assert.equal(welcome.resumed, true);
	assert.equal(welcome.lang, lang);
	assert.equal((await v2.next('joined')).staff.alias, 'Anna');
	const missed = await v2.next('msg');
	assert.equal(missed.seq, 5);
	assert.equal(missed.text, 'are you still there?');
	assert.deepEqual(await s.next('presence'), { type: 'presence', chat, visitor: 'back' });

	v2.send({ type: 'msg', text: 'yes, on another node', id: 'v2' });
	assert.equal((await v2.next('msg')).seq, 6);
	assert.equal((await s.next('msg')).seq, 6);
	v2.send({ type: 'end' });
	assert.equal((await v2.next('ended')).by, 'visitor');
	assert.equal((await s.next('ended')).by, 'visitor');
	v2.close();
	s.close();
	v.close();
});

test('no log, file or state dir of either node or of NATS holds the chat text', { timeout: 10000 }, async () => {
	// A clean exit, also under the sanitizers (no leak, no error).
	assert.deepEqual(await b2.stop(), { code: 0, signal: null }, b2.logs().join('\n'));
	for (const b of [b1, b2]) {
		const text = b.logs().join('\n');
		assert.equal(text.includes('canary'), false, text);
		assert.equal(text.includes(token), false);
	}
	for (const srv of nats.servers) assert.equal(srv.logs().join('\n').includes('canary'), false);
	// Everything the nodes and the servers wrote (the databases included,
	// read as bytes; SQLite writes text as UTF-8).
	for (const dir of [b1.stateDir, b2.stateDir, nats.dir]) {
		const files = filesUnder(dir);
		assert.ok(files.length > 0);
		for (const f of files) {
			const bytes = readFileSync(f);
			for (const needle of ['canary', token]) {
				assert.equal(bytes.indexOf(Buffer.from(needle, 'utf8')), -1, `${f} holds ${needle}`);
			}
		}
	}
});
