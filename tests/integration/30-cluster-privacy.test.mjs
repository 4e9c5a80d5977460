// Promise: a chat leaves no trace, also across nodes (docs/cluster.md,
// section 10, left item 6: the foundation's canary test, 05-privacy, run
// on two brugd nodes on a three-server NATS cluster). Visitors on node 1
// whose language node 2 owns chat with a volunteer on node 2, visitors on
// node 2 with a volunteer on node 1, and one chat has both its visitor and
// its volunteer on node 1 while node 2 owns it. After the chats end and
// every process has stopped cleanly, no log of either brugd or any
// nats-server, no file in either state directory or the NATS directory,
// and no database holds a chat text, a resume or session token, a
// password or a visitor's address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startBrugd, availableStaff, visitorHello, startChat } from '../lib/brugd.mjs';
import { startNatsCluster } from '../lib/nats.mjs';
import { health, stopCluster } from '../lib/cluster.mjs';
import {
	canary, filesUnder, databases, inLogLines, inFilesUnder, inText, sqlDump, memoryHits, memoryUnreadable,
} from '../lib/canary.mjs';

const LANGS = ['nl', 'ar', 'ti', 'tr', 'en'];
const PW = {
	anna: 'integration-test-password-30-anna',
	ben: 'integration-test-password-30-ben',
	cora: 'integration-test-password-30-cora',
};
// Visitors on node 1 come from 127.0.0.1, those on node 2 from ::1, so
// that each address stands for a visitor (nats-server listens on
// 127.0.0.1 only, and brugd's connections to it are filtered out below).
const V4 = { host: '127.0.0.1' };
const V6 = { host: '::1' };

let nats;
let b1;
let b2;
let lang1;    // a language node 1 owns
let lang2;    // a language node 2 owns
// Every token, canary and password of the test, and each visitor's Origin.
const secrets = new Set(Object.values(PW));


async function bothMembers(b) {
	const deadline = Date.now() + 10000;
	for (;;) {
		const h = (await health(b)).json;
		if (h.connected && JSON.stringify(h.members) === '["b1","b2"]') return h;
		assert.ok(Date.now() < deadline, `${b.nodeName} does not see both nodes: ${JSON.stringify(h)}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

async function startNode(name) {
	const b = await startBrugd({
		config: {
			log: { level: 'debug' },
			cluster: {
				node: name,
				nats_url: nats.urls.join(' '),
				nats_user: nats.user,
				nats_password: nats.password,
				nats_ca: nats.caPath,
			},
		},
	});
	b.nodeName = name;
	return b;
}

before(async () => {
	// nats-server with debug logging (-D), so that its logs say all they
	// can; tracing (-V, payloads) stays off as docs/cluster.md requires.
	nats = await startNatsCluster(3, { debug: true });
	b1 = await startNode('b1');
	b2 = await startNode('b2');
}, { timeout: 60000 });

after(() => stopCluster(nats, [b1, b2]));

test('both nodes see each other and each owns a language', { timeout: 20000 }, async () => {
	const h1 = await bothMembers(b1);
	const h2 = await bothMembers(b2);
	assert.deepEqual(h1.owners, h2.owners);
	lang1 = LANGS.find((l) => h1.owners[l] === 'b1');
	lang2 = LANGS.find((l) => h1.owners[l] === 'b2');
	assert.ok(lang1 && lang2, `each node owns a language: ${JSON.stringify(h1.owners)}`);
	// Anna (node 2) takes lang2, Ben (node 1) lang1; Cora is on node 1 and
	// takes lang2, whose router is on node 2, one chat at a time.
	await b2.addStaff({ user: 'anna', alias: 'Anna', langs: lang2, maxChats: 3, password: PW.anna });
	await b1.addStaff({ user: 'ben', alias: 'Ben', langs: lang1, maxChats: 3, password: PW.ben });
	await b1.addStaff({ user: 'cora', alias: 'Cora', langs: lang2, maxChats: 1, password: PW.cora });
	for (const b of [b1, b2]) secrets.add(b.origin);
});

// The two sides of chat c exchange a text each, made of a canary named by
// tag; the texts and the visitor's token go into secrets. Resolves with the
// texts.
async function exchange(s, c, tag) {
	const fromVisitor = canary(`canary-${tag}-v-`);
	const fromStaff = canary(`canary-${tag}-s-`);
	secrets.add(fromVisitor).add(fromStaff).add(c.welcome.session);
	c.v.send({ type: 'msg', text: `visitor says ${fromVisitor}` });
	assert.equal((await s.waitFor({ type: 'msg', chat: c.chat, seq: 1 })).text, `visitor says ${fromVisitor}`);
	s.send({ type: 'msg', chat: c.chat, text: `staff says ${fromStaff}` });
	assert.equal((await c.v.waitFor({ type: 'msg', seq: 2 })).text, `staff says ${fromStaff}`);
	return { fromVisitor, fromStaff };
}

// What precedes a text found in memory since the last NUL byte there.
function record(hit) {
	const before = hit.before.toString('latin1');
	return before.slice(before.lastIndexOf('\0') + 1);
}

// Whether a text found in memory sits in one of libnats' own buffers, by
// what precedes it: its socket read buffer ("MSG brug.v1.<subject> ...")
// or write buffer ("PUB brug.v1...", both with older frames' tails), its
// parser's scratch buffer (the subject with the payload right after it,
// or a later message's "<subject> <sid> <size>" written over its start),
// or a message (the subject and a NUL right before the payload). brugd
// copies only payloads, never with a subject; a text too far from such a
// marker counts as brugd's own.
function inLibnats(hit) {
	const before = hit.before.toString('latin1');
	const nul = before.lastIndexOf('\0');
	const rec = record(hit);
	return /(?:MSG|PUB) brug\.v1\./.test(rec) || /brug\.v1\.[\w.-]+(?:\{"| \d+ )/.test(rec)
		|| (nul >= 0 && /brug\.v1\.[\w.-]+$/.test(before.slice(0, nul)) && rec.startsWith('{"'));
}

// Where each text was found in the memory of each node after its chat
// ended (the next test looks at those in libnats' buffers).
let memoryFound = null;

// Protocol: "after ended the chat's messages exist nowhere in the daemon";
// on either node: the visitor's home relayed them, the owner hosted them.
// brugd wipes every copy it makes of a payload; libnats does not (docs/
// cluster.md, section 10, left item 7), so this test looks past libnats'
// buffers and the next one, a to-do, does not.
test('after ended, the texts are gone from brugd\'s own memory on both nodes', { timeout: 30000 }, async (t) => {
	for (const b of [b1, b2]) {
		const unreadable = memoryUnreadable(b.process.pid);
		if (unreadable) {
			t.skip(`cannot read the memory of ${b.nodeName}: ${unreadable}`);
			return;
		}
	}
	const anna = await availableStaff(b2, 'anna', PW.anna);
	secrets.add(anna.session.token);
	const c = await startChat(b1, anna, { lang: lang2 }, V4);
	const { fromVisitor, fromStaff } = await exchange(anna, c, 'mem');
	c.v.send({ type: 'end' });
	assert.equal((await c.v.next('ended')).by, 'visitor');
	await anna.waitFor({ type: 'ended', chat: c.chat });
	c.v.close();
	anna.close();
	await anna.closed();
	await c.v.closed();
	memoryFound = [];
	for (const b of [b1, b2]) {
		for (const [what, text] of [['visitor', fromVisitor], ['staff', fromStaff]]) {
			for (const h of memoryHits(b.process.pid, Buffer.from(text))) {
				memoryFound.push({ node: b.nodeName, text: what, mapping: h.mapping, address: h.address,
					libnats: inLibnats(h), before: JSON.stringify(record(h).slice(-160)) });
			}
		}
	}
	for (const h of memoryFound.filter((x) => x.libnats)) {
		t.diagnostic(`in libnats' buffers: ${h.node} ${h.text} text at ${h.address} (${h.mapping}) after ${h.before}`);
	}
	assert.deepEqual(memoryFound.filter((h) => !h.libnats), [], 'texts still in the memory of a node');
});

// brugd seals every payload before libnats sees it (docs/cluster.md,
// section 1), so libnats' unwiped buffers hold only ciphertext.
test('after ended, the texts are gone from libnats\' buffers too', (t) => {
	if (memoryFound === null) {
		t.skip('the memory was not read');
		return;
	}
	assert.deepEqual(memoryFound, [], 'texts still in libnats\' buffers');
});

test('finished chats across nodes leave no trace in any log, file or database', { timeout: 60000 }, async () => {
	// 1. Cora, on node 1, is the only one for lang2 at first: the visitor
	// (node 1 too) and she are both relayed to node 2's router. Her chat
	// stays open, so she is full (max 1) and the next ones go to Anna.
	const cora = await availableStaff(b1, 'cora', PW.cora);
	secrets.add(cora.session.token);
	const { v: vc, welcome: wc } = await visitorHello(b1, { lang: lang2 }, V4);
	const offer = await cora.next('offer', 10000);
	cora.send({ type: 'accept', offer: offer.offer });
	const cChat = (await cora.next('chat')).chat;
	await vc.next('joined');
	const viaCora = { v: vc, welcome: wc, chat: cChat };
	await exchange(cora, viaCora, 'relayed');
	vc.send({ type: 'typing', on: true });
	await cora.waitFor({ type: 'typing', chat: cChat });

	// 2. A visitor on node 1 with Anna on node 2, as in 05: three texts
	// (one in Arabic), typing, and Anna ends it with a statistics tag.
	const anna = await availableStaff(b2, 'anna', PW.anna);
	secrets.add(anna.session.token);
	const a = await startChat(b1, anna, { lang: lang2 }, V4);
	await exchange(anna, a, 'a');
	const arabic = canary('كناري-', 6);
	secrets.add(arabic);
	a.v.send({ type: 'msg', text: arabic });
	assert.equal((await anna.waitFor({ type: 'msg', chat: a.chat, seq: 3 })).text, arabic);
	a.v.send({ type: 'typing', on: true });
	await anna.waitFor({ type: 'typing', chat: a.chat });
	anna.send({ type: 'end', chat: a.chat, tags: ['forced_marriage'] });
	assert.equal((await a.v.next('ended')).by, 'staff');
	await anna.waitFor({ type: 'ended', chat: a.chat });
	a.v.close();

	// 3. The other way: a visitor on node 2 with Ben on node 1; the
	// visitor ends it.
	const ben = await availableStaff(b1, 'ben', PW.ben);
	secrets.add(ben.session.token);
	const bch = await startChat(b2, ben, { lang: lang1 }, V6);
	await exchange(ben, bch, 'b');
	bch.v.send({ type: 'end' });
	assert.equal((await bch.v.next('ended')).by, 'visitor');
	await ben.waitFor({ type: 'ended', chat: bch.chat });
	bch.v.close();

	// 4. One visitor on each node drops mid-chat and lets the grace period
	// run out on the other node.
	const drop1 = await startChat(b1, anna, { lang: lang2 }, V4);
	const drop2 = await startChat(b2, ben, { lang: lang1 }, V6);
	await exchange(anna, drop1, 'drop1');
	await exchange(ben, drop2, 'drop2');
	drop1.v.terminate();
	drop2.v.terminate();
	assert.equal((await anna.waitFor({ type: 'ended', chat: drop1.chat }, 10000)).by, 'timeout');
	assert.equal((await ben.waitFor({ type: 'ended', chat: drop2.chat }, 10000)).by, 'timeout');

	// 5. Cora ends hers with a tag.
	cora.send({ type: 'end', chat: cChat, tags: ['forced_marriage'] });
	assert.equal((await vc.next('ended')).by, 'staff');
	await cora.waitFor({ type: 'ended', chat: cChat });
	vc.close();
	cora.close();

	// 6. Two chats are still going when the nodes stop, one each way.
	const run1 = await startChat(b1, anna, { lang: lang2 }, V4);
	const run2 = await startChat(b2, ben, { lang: lang1 }, V6);
	await exchange(anna, run1, 'run1');
	await exchange(ben, run2, 'run2');

	// Node 2 first: it hosts run1, so Anna and, relayed, run1's visitor on
	// node 1 are told of the shutdown; run2's visitor loses its socket (its
	// chat waits on node 1 for a resume).
	assert.deepEqual(await b2.stop(), { code: 0, signal: null }, b2.logs().join('\n'));
	assert.equal((await anna.waitFor({ type: 'ended', chat: run1.chat })).by, 'shutdown');
	assert.equal((await run1.v.waitFor({ type: 'ended' })).by, 'shutdown');
	assert.equal((await anna.closed()).code, 1001);
	assert.equal((await run2.v.closed()).code, 1001);
	assert.deepEqual(await b1.stop(), { code: 0, signal: null }, b1.logs().join('\n'));
	assert.equal((await ben.waitFor({ type: 'ended', chat: run2.chat })).by, 'shutdown');
	assert.equal((await ben.closed()).code, 1001);
	assert.equal((await run1.v.closed()).code, 1001);
	await nats.stop();
	for (const srv of nats.servers) assert.equal(srv.alive, false);
	await new Promise((r) => setImmediate(r));   // the last output lines

	const needles = [...secrets];
	assert.ok(needles.length >= 25, `${needles.length} needles`);
	const hits = [];

	// The logs. brugd logs the NATS servers it connects to; those are no
	// visitor's, so their URLs are taken out before looking for addresses.
	const natsAddrs = nats.urls.map((u) => u.replace(/^tls:\/\//, ''));
	for (const b of [b1, b2]) {
		const lines = b.logs();
		assert.ok(lines.length > 0, `${b.nodeName} logged something`);
		hits.push(...inLogLines(b.nodeName, lines, needles));
		const scrubbed = lines.map((l) => natsAddrs.reduce((x, a) => x.split(a).join('<nats>'), l));
		hits.push(...inLogLines(b.nodeName, scrubbed, ['127.0.0.1', '::1', 'localhost:']));
	}
	for (const srv of nats.servers) {
		const lines = srv.logs();
		assert.ok(lines.length > 0, `${srv.name} logged something`);
		// Its own clients' and routes' addresses are 127.0.0.1; ::1 or a
		// node's host and port (the visitors' Origin) can only be a visitor's.
		hits.push(...inLogLines(srv.name, lines, [...needles, '::1', 'localhost:']));
	}

	// Every file the nodes and the servers wrote, as bytes, and each
	// database's SQL dump.
	for (const [label, dir] of [['b1', b1.stateDir], ['b2', b2.stateDir], ['nats', nats.dir]]) {
		const files = filesUnder(dir);
		assert.ok(files.length > 0, `files under ${dir}`);
		hits.push(...inFilesUnder(dir, needles, label));
	}
	for (const b of [b1, b2]) {
		const files = filesUnder(b.stateDir);
		const dbs = databases(files);
		assert.ok(dbs.length > 0, `a database in the state dir of ${b.nodeName}: ${files.join(', ')}`);
		for (const db of dbs) {
			const dump = sqlDump(db);
			assert.ok(dump.length > 0);
			hits.push(...inText(`${b.nodeName}/${path.relative(b.stateDir, db)} (dump)`, dump,
				[...needles, '127.0.0.1', '::1', 'localhost:']));
		}
	}
	assert.deepEqual(hits, [], 'visitor data left behind');
});
