// Several brugd nodes on NATS, first step (docs/cluster.md, section 10):
// two nodes on a three-server TLS nats-server cluster see each other in
// GET /api/health, stay connected when a NATS server dies, and drop a
// node that is killed (bounded time) or that leaves cleanly (at once).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBrugd } from '../lib/brugd.mjs';
import { startNatsCluster } from '../lib/nats.mjs';
import { health, healthUntil, startClusterNode } from '../lib/cluster.mjs';

// docs/cluster.md: heartbeats every second, a member silent 3.5 s is gone.
const MEMBER_TIMEOUT_MS = 3500;
const TICK_SLACK_MS = 1500;

let nats;
const nodes = [];



function startNode(name, urls = nats.urls, extra = {}) {
	return startClusterNode(nats, name, { urls, cluster: extra });
}

// The NATS server a node is connected to now, from its log.
function connectedUrl(b) {
	const lines = b.logs().filter((l) => /cluster: connected to /.test(l));
	const m = lines.length ? /connected to (tls:\/\/[0-9.]+:\d+)/.exec(lines[lines.length - 1]) : null;
	return m ? m[1] : null;
}

const sameMembers = (want) => (j) => j.connected && JSON.stringify(j.members) === JSON.stringify(want);

before(async () => {
	nats = await startNatsCluster(3);
	// Node 1 knows only the first server; NATS tells it of the others,
	// and node 2 gets all three.
	nodes.push(await startNode('b1', nats.urls.slice(0, 1)));
	nodes.push(await startNode('b2'));
});

after(async () => {
	for (const b of nodes) {
		await b.stop();
		await b.cleanup();
	}
	if (nats) {
		await nats.stop();
		await nats.cleanup();
	}
});

test('GET /api/health without [cluster] says so', { timeout: 20000 }, async () => {
	const b = await startBrugd();
	try {
		const h = await health(b);
		assert.equal(h.status, 200);
		assert.match(h.type, /^application\/json/);
		assert.deepEqual(h.json, { node: null, cluster: false, connected: false, members: [], owners: {} });
		// The cluster module logs as "cluster: ..."; a path may hold the word.
		assert.equal(b.logs().some((l) => /\bcluster: /.test(l)), false);
	} finally {
		await b.stop();
		await b.cleanup();
	}
});

test('two nodes see each other in /api/health', { timeout: 30000 }, async () => {
	const [b1, b2] = nodes;
	const h1 = await healthUntil(b1, sameMembers(['b1', 'b2']), 10000, 'b1 sees b2');
	const h2 = await healthUntil(b2, sameMembers(['b1', 'b2']), 10000, 'b2 sees b1');
	assert.equal(h1.status, 200);
	const { owners, ...rest1 } = h1.json;
	assert.deepEqual(rest1, { node: 'b1', cluster: true, connected: true, members: ['b1', 'b2'] });
	assert.deepEqual({ ...h2.json, owners: undefined },
		{ node: 'b2', cluster: true, connected: true, members: ['b1', 'b2'], owners: undefined });
	// Every language has one owner among the members, the same on both.
	assert.deepEqual(Object.keys(owners), ['nl', 'ar', 'ti', 'tr', 'en']);
	assert.deepEqual(h2.json.owners, owners);
	for (const o of Object.values(owners)) assert.ok(['b1', 'b2'].includes(o), o);
	assert.ok(b1.logs().some((l) => /cluster: node b2 joined/.test(l)), b1.logs().join('\n'));
	// TLS and the password are in use: a wrong password is refused by the
	// servers, so a connection means both held.
	assert.ok(connectedUrl(b1)?.startsWith('tls://127.0.0.1:'));
});

test('killing the NATS server a node uses: it fails over and both stay members', { timeout: 40000 }, async () => {
	const [b1, b2] = nodes;
	await healthUntil(b1, sameMembers(['b1', 'b2']), 10000, 'b1 sees b2');
	const url = connectedUrl(b1);
	const victim = nats.servers.find((s) => s.url === url);
	assert.ok(victim, `b1 is connected to ${url}, one of ${nats.urls}`);
	const connectsBefore = b1.logs().filter((l) => /cluster: connected to /.test(l)).length;
	await victim.kill('SIGKILL');
	const killedAt = Date.now();
	// b1 reconnects to a server it learnt from the cluster.
	await healthUntil(b1, (j) => j.connected && connectedUrl(b1) !== url
		&& b1.logs().filter((l) => /cluster: connected to /.test(l)).length > connectsBefore,
	10000, 'b1 reconnects elsewhere');
	assert.notEqual(connectedUrl(b1), url);
	// Past a member timeout after the kill both are still members of each
	// other's list: heartbeats kept flowing through the other servers.
	await new Promise((r) => setTimeout(r, Math.max(0, MEMBER_TIMEOUT_MS + 1000 - (Date.now() - killedAt))));
	assert.deepEqual((await health(b1)).json.members, ['b1', 'b2']);
	assert.deepEqual((await health(b2)).json.members, ['b1', 'b2']);
	assert.equal((await health(b2)).json.connected, true);
	assert.ok(b1.logs().some((l) => /cluster: lost the NATS server/.test(l)));
	assert.equal(b1.logs().some((l) => /node b2 left/.test(l)), false, b1.logs().join('\n'));
});

test('a node killed with SIGKILL is dropped within the member timeout', { timeout: 40000 }, async () => {
	const [b1, b2] = nodes;
	await healthUntil(b1, sameMembers(['b1', 'b2']), 10000, 'b1 sees b2');
	await b2.process.kill('SIGKILL');
	const h = await healthUntil(b1, sameMembers(['b1']), MEMBER_TIMEOUT_MS + TICK_SLACK_MS + 2000, 'b1 drops b2');
	// Not before the timeout (three heartbeats may simply be late) and not
	// much after it.
	assert.ok(h.afterMs >= MEMBER_TIMEOUT_MS - 1500, `dropped after ${h.afterMs} ms`);
	assert.ok(h.afterMs <= MEMBER_TIMEOUT_MS + TICK_SLACK_MS, `dropped after ${h.afterMs} ms`);
	assert.ok(b1.logs().some((l) => /cluster: node b2 left \(silent/.test(l)), b1.logs().join('\n'));
});

test('a node that comes back joins again; one that stops cleanly is dropped at once', { timeout: 40000 }, async () => {
	const b1 = nodes[0];
	const b3 = await startNode('b3');
	nodes.push(b3);
	await healthUntil(b1, sameMembers(['b1', 'b3']), 10000, 'b1 sees b3');
	await healthUntil(b3, sameMembers(['b1', 'b3']), 10000, 'b3 sees b1');
	assert.deepEqual(await b3.stop(), { code: 0, signal: null }, b3.logs().join('\n'));
	const h = await healthUntil(b1, sameMembers(['b1']), MEMBER_TIMEOUT_MS, 'b1 drops b3');
	assert.ok(h.afterMs < 1500, `dropped after ${h.afterMs} ms`);
	assert.ok(b1.logs().some((l) => /cluster: node b3 left$/.test(l)), b1.logs().join('\n'));
});

test('a node whose key_file differs is no member: its sealed messages do not open', { timeout: 30000 }, async () => {
	const b1 = nodes[0];
	const dir = mkdtempSync(path.join(tmpdir(), 'brug-key-'));
	try {
		const keyPath = path.join(dir, 'cluster.key');
		writeFileSync(keyPath, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
		const b4 = await startNode('b4', nats.urls, { key_file: keyPath });
		nodes.push(b4);
		await healthUntil(b4, (j) => j.connected, 10000, 'b4 connects to NATS');
		await new Promise((r) => setTimeout(r, 2500));
		assert.deepEqual((await health(b1)).json.members, ['b1']);
		assert.deepEqual((await health(b4)).json.members, ['b4']);
		assert.ok(b1.logs().some((l) => /did not open with our key/.test(l)), b1.logs().join('\n'));
		assert.ok(b4.logs().some((l) => /did not open with our key/.test(l)), b4.logs().join('\n'));
		assert.deepEqual(await b4.stop(), { code: 0, signal: null });
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

test('with every NATS server gone, /api/health answers 503', { timeout: 30000 }, async () => {
	const b1 = nodes[0];
	for (const s of nats.servers) await s.kill('SIGKILL');
	const h = await healthUntil(b1, (j, status) => status === 503, 10000, 'b1 reports no NATS');
	assert.deepEqual(h.json.connected, false);
	assert.equal(h.json.node, 'b1');
	assert.equal(h.json.cluster, true);
});
