// One client address cannot fill the line (issue 12, item 4): connections
// per source are capped, the last connections under the cap are kept for
// staff, and visitors from one source who said hello and hung up do not
// all keep their places in the queue. The flood comes from 127.0.0.2;
// everyone else from 127.0.0.1. Each test starts its own daemon with a cap
// small enough to be reached (docs/operations.md, "Configuration").
import test from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import {
	startBrugd, loginStaff, availableStaff, startChat, visitorHello, expectHandshakeRefused,
} from '../lib/brugd.mjs';

const PW = 'integration-test-password-15';
const FLOOD_FROM = '127.0.0.2';
const STAFF = [
	{ user: 'samira', alias: 'Samira', roles: 'volunteer', langs: 'nl', maxChats: 4, password: PW },
	{ user: 'tom', alias: 'Tom', roles: 'volunteer', langs: 'nl', maxChats: 4, password: PW },
];

async function start(config) {
	return startBrugd({ staff: STAFF, config });
}

// Stop b; it must exit cleanly (in the sanitizer build: no leak, no error).
async function stop(b) {
	if (!b) return;
	const info = await b.stop();
	await b.cleanup();
	assert.deepEqual(info, { code: 0, signal: null }, `brugd exited ${JSON.stringify(info)}:\n${b.logs().slice(-20).join('\n')}`);
}

// A visitor socket from `from` to 127.0.0.1 (the certificate names it):
// resolves with the open ws, rejects with the reason it was refused
// (an HTTP status, or the connection closed before the handshake).
function floodSocket(b, from) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(`wss://127.0.0.1:${b.port}/ws/visitor`, 'brug-visitor.v1', {
			ca: readFileSync(b.caPath),
			origin: b.origin,
			localAddress: from,
			handshakeTimeout: 10000,
		});
		ws.on('open', () => resolve(ws));
		ws.on('unexpected-response', (req, res) => {
			res.resume();
			req.destroy();
			reject(new Error(`HTTP ${res.statusCode}`));
		});
		ws.on('error', (e) => reject(e));
	});
}

// n sockets from `from` at once; resolves with the open ones and the
// reasons of the refused ones.
async function flood(b, from, n) {
	const results = await Promise.allSettled(Array.from({ length: n }, () => floodSocket(b, from)));
	return {
		open: results.filter((r) => r.status === 'fulfilled').map((r) => r.value),
		refused: results.filter((r) => r.status === 'rejected').map((r) => r.reason.message),
	};
}

function closeAll(sockets) {
	for (const ws of sockets) ws.terminate();
}

function get(b, pathname) {
	return new Promise((resolve, reject) => {
		const req = https.get({ host: 'localhost', port: b.port, path: pathname, ca: readFileSync(b.caPath), agent: false }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
		});
		req.on('error', reject);
		req.setTimeout(10000, () => req.destroy(new Error('timeout')));
	});
}

// Until pred() holds, or fail after timeoutMs.
async function until(pred, what, timeoutMs = 10000) {
	const end = Date.now() + timeoutMs;
	while (!(await pred())) {
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

test('400 sockets from one address leave room for other visitors, staff and the pages', { timeout: 120000 }, async () => {
	const b = await start({ server: { max_connections: 300 } });
	let sockets = [];
	try {
		const f = await flood(b, FLOOD_FROM, 400);
		sockets = f.open;

		const page = await get(b, '/');
		assert.equal(page.status, 200);
		const s = await availableStaff(b, 'samira', PW);
		const { v, chat } = await startChat(b, s);
		v.send({ type: 'msg', text: 'hallo' });
		const m = await s.next('msg');
		assert.equal(m.chat, chat);
		assert.equal(m.text, 'hallo');
		s.send({ type: 'msg', chat, text: 'Hoi, ik ben er.' });
		await v.waitFor({ type: 'msg', text: 'Hoi, ik ben er.' });

		// The default per-source cap (100) held, well under the global cap.
		assert.ok(f.open.length <= 100, `${f.open.length} sockets from one address were accepted`);
		assert.ok(f.open.length >= 50, `only ${f.open.length} sockets accepted: ${f.refused.slice(0, 3)}`);
		// The log names no address, not even as the refusals are counted.
		const logs = b.logs().join('\n');
		assert.match(logs, /refusing connections: too many from one source/);
		assert.ok(!logs.includes(FLOOD_FROM), 'no client address in the log');
		v.send({ type: 'end' });
		v.close();
		s.close();
	} finally {
		closeAll(sockets);
		await stop(b);
	}
});

test('the last connections under the cap are kept for staff; visitors get 503', { timeout: 120000 }, async () => {
	// No per-source cap to speak of: this is the many-addresses case, which
	// the reserve is for (100 of the 300 connections by default).
	const b = await start({ server: { max_connections: 300, max_connections_per_source: 1000 } });
	let sockets = [];
	try {
		const f = await flood(b, FLOOD_FROM, 400);
		sockets = f.open;
		assert.ok(f.open.length <= 200, `${f.open.length} visitor sockets got in`);
		assert.ok(f.refused.some((r) => r === 'HTTP 503'), `visitors refused with 503: ${f.refused.slice(0, 3)}`);

		// Staff still get in: the console's page, its shared files and its socket.
		for (const p of ['/staff/', '/staff/staff.js', '/brug.css', '/labels.js', '/socket.js', '/i18n/nl.json', '/api/config.json']) {
			assert.equal((await get(b, p)).status, 200, p);
		}
		const s = await loginStaff(b, 'tom', PW);
		assert.ok(s.session.token);

		// A visitor is refused clearly: 503 with Retry-After, page and socket.
		const page = await get(b, '/');
		assert.equal(page.status, 503);
		assert.ok(Number(page.headers['retry-after']) > 0);
		assert.match(page.headers['cache-control'] ?? '', /no-store/);
		assert.equal(await expectHandshakeRefused(`wss://localhost:${b.port}/ws/visitor`,
			{ protocol: 'brug-visitor.v1', origin: b.origin }), 503);

		// Once the flood is gone, visitors are back.
		closeAll(sockets);
		sockets = [];
		await until(async () => (await get(b, '/')).status === 200, 'the page to be served again');
		const { v, welcome } = await visitorHello(b, { lang: 'nl' });
		assert.equal(welcome.type, 'welcome');
		v.close();
		s.close();
	} finally {
		closeAll(sockets);
		await stop(b);
	}
});

test('400 visitors from one address who say hello and hang up do not all keep a place', { timeout: 120000 }, async () => {
	// Long grace and offer times, so that on the old code every one of
	// them would still be waiting at the end.
	const b = await start({ server: { max_connections: 300 }, chat: { grace_seconds: 120, offer_timeout_seconds: 600 } });
	try {
		const s = await availableStaff(b, 'samira', PW);
		let welcomed = 0;
		for (let batch = 0; batch < 20; batch++) {
			await Promise.all(Array.from({ length: 20 }, async () => {
				const ws = await floodSocket(b, FLOOD_FROM);
				await new Promise((resolve, reject) => {
					ws.on('message', (data) => {
						const f = JSON.parse(data.toString());
						if (f.type === 'welcome') welcomed++;
						if (f.type === 'welcome' || f.type === 'error') resolve();
					});
					ws.on('close', () => reject(new Error('closed before welcome')));
					ws.send(JSON.stringify({ type: 'hello', lang: 'nl' }));
				});
				ws.terminate();
			}));
		}
		assert.ok(welcomed > 0);

		// A visitor from elsewhere queues behind at most the source's
		// allowance: 30 waiting, each of those without a socket counting
		// half (docs/operations.md), so at most 60 ahead, not 400.
		const { v, welcome } = await visitorHello(b, { lang: 'nl' });
		assert.equal(welcome.type, 'welcome');
		const q = await v.next('queue');
		assert.ok(q.position <= 61, `queue position ${q.position} behind the hang-ups`);
		v.close();
		s.close();
	} finally {
		await stop(b);
	}
});
