// The loss of a volunteer's home node (docs/cluster.md, sections 6 and 8):
// Anna is logged in on node 1 and chats with two visitors on node 2, one
// of a language node 1 owns (the chat lives on node 1, replicated on node
// 2), one of a language node 2 owns (the chat lives on node 2). Node 1 is
// killed with SIGKILL: Anna's console comes back to node 2 with its
// session token, which node 2 knows only by its hash from node 1's
// presence; both chats go on with her, seq continuous.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { availableStaff, visitorHello, connectVisitor, connectStaff } from '../lib/brugd.mjs';
import { startNatsCluster } from '../lib/nats.mjs';
import { healthJsonUntil as healthUntil, startClusterNode, stopCluster } from '../lib/cluster.mjs';

const PW = 'integration-test-password-31';
const LANGS = ['nl', 'ar', 'ti', 'tr', 'en'];
// The same account on every node (docs/cluster.md, section 8).
const ANNA = { user: 'anna', alias: 'Anna', roles: 'volunteer', langs: LANGS.join(','), maxChats: 2, password: PW };

let nats;
let b1;
let b2;



function startNode(name) {
	return startClusterNode(nats, name, { staff: [ANNA], chat: { grace_seconds: 60 } });
}

before(async () => {
	nats = await startNatsCluster(3);
	b1 = await startNode('b1');
	b2 = await startNode('b2');
});

after(() => stopCluster(nats, [b1, b2]));

let anna;
let staffToken;
const chats = [];   // { lang, host, v, token, chat, seq }

async function chatWith(lang, host) {
	const { v, welcome } = await visitorHello(b2, { lang });
	const offer = await anna.next('offer', 10000);
	assert.equal(offer.lang, lang);
	anna.send({ type: 'accept', offer: offer.offer });
	const chat = (await anna.next('chat')).chat;
	assert.equal((await v.next('joined')).staff.alias, 'Anna');
	v.send({ type: 'msg', text: `hello in ${lang}`, id: 'v1' });
	assert.equal((await v.waitFor({ type: 'msg', id: 'v1' })).seq, 1);
	anna.send({ type: 'msg', chat, text: `answer in ${lang}`, id: `s-${lang}` });
	assert.equal((await v.waitFor((f) => f.type === 'msg' && f.seq === 2)).text, `answer in ${lang}`);
	await anna.waitFor({ type: 'msg', id: `s-${lang}` });
	chats.push({ lang, host, v, token: welcome.session, chat, seq: 2 });
}

test('Anna on node 1 chats with two visitors on node 2, one chat on each node', { timeout: 40000 }, async () => {
	const both = (j) => j.connected && JSON.stringify(j.members) === '["b1","b2"]';
	const h = await healthUntil(b1, both, 10000, 'b1 sees b2');
	await healthUntil(b2, both, 10000, 'b2 sees b1');
	const l1 = LANGS.find((l) => h.owners[l] === 'b1');
	const l2 = LANGS.find((l) => h.owners[l] === 'b2');
	assert.ok(l1 && l2, JSON.stringify(h.owners));

	anna = await availableStaff(b1, 'anna', PW);
	staffToken = anna.session.token;
	// Node 2 hears of her with node 1's next presence list.
	await new Promise((r) => setTimeout(r, 1500));
	await chatWith(l1, 'b1');
	await chatWith(l2, 'b2');
});

test('node 1 killed: Anna resumes on node 2 with her token and keeps both chats', { timeout: 40000 }, async () => {
	await new Promise((r) => setTimeout(r, 300));
	await b1.process.kill('SIGKILL');
	await anna.closed(10000);
	await healthUntil(b2, (j) => JSON.stringify(j.members) === '["b2"]', 10000, 'b2 drops b1');

	const a2 = await connectStaff(b2);
	a2.send({ type: 'login', token: staffToken });
	const session = await a2.next('session', 10000);
	assert.equal(session.user.user, 'anna');
	assert.notEqual(session.token, staffToken, 'node 2 gives the console a session of its own');
	const list = await a2.next('chats');
	assert.deepEqual([...list.chats].sort(), chats.map((c) => c.chat).sort());
	for (const c of chats) {
		const frame = await a2.waitFor({ type: 'chat', chat: c.chat }, 10000);
		assert.equal(frame.lang, c.lang);
	}
	assert.ok(b2.logs().some((l) => /staff session of a lost node goes on here/.test(l)), b2.logs().join('\n'));
	// One use: the old token is spent.
	const again = await connectStaff(b2);
	again.send({ type: 'login', token: staffToken });
	assert.equal((await again.next('error')).code, 'unauthorized');
	again.close();
	anna = a2;
});

test('both visitors go on with Anna, nothing missed', { timeout: 40000 }, async () => {
	for (const c of chats) {
		let v = c.v;
		if (c.host === 'b1') {
			// Its socket was relayed to node 1: closed 1012, it resumes.
			assert.equal((await v.closed(10000)).code, 1012);
			v = await connectVisitor(b2);
			v.send({ type: 'hello', resume: c.token, last_seq: 2 });
			assert.equal((await v.next('welcome')).resumed, true);
			assert.equal((await v.next('joined')).staff.alias, 'Anna');
			c.v = v;
		}
		anna.send({ type: 'msg', chat: c.chat, text: `still here for ${c.lang}`, id: `s2-${c.lang}` });
		const got = await v.waitFor((f) => f.type === 'msg' && f.seq === 3, 10000);
		assert.deepEqual([got.from, got.alias, got.text], ['staff', 'Anna', `still here for ${c.lang}`]);
		v.send({ type: 'msg', text: `thanks (${c.lang})`, id: 'v2' });
		assert.equal((await v.waitFor({ type: 'msg', id: 'v2' })).seq, 4);
		const at = await anna.waitFor((f) => f.type === 'msg' && f.chat === c.chat && f.seq === 4);
		assert.equal(at.text, `thanks (${c.lang})`);
	}
	for (const c of chats) {
		anna.send({ type: 'end', chat: c.chat });
		assert.equal((await c.v.waitFor({ type: 'ended' })).by, 'staff');
		c.v.close();
	}
	anna.close();
	assert.deepEqual(await b2.stop(), { code: 0, signal: null }, b2.logs().join('\n'));
	const text = b2.logs().join('\n');
	assert.equal(text.includes(staffToken), false);
	assert.equal(text.includes('answer in'), false);
});
