// Keepalive ([server] ping_seconds and idle_timeout_seconds; protocol doc,
// close code 1001): brugd pings a socket that has been silent, keeps one that
// answers or talks, and closes one that stops answering. The daemon runs with
// a 1 s ping and a 3 s idle timeout; it looks at silent sockets once a second.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import WebSocket from 'ws';
import { startBrugd, visitorHello, sync } from '../lib/brugd.mjs';

const PING_S = 1;
const IDLE_S = 3;
// How late the once-a-second check may act, plus scheduling slack.
const SLACK_MS = 2000;
// lws waits this long for the peer's Close before it drops the TCP connection.
const CLOSE_ACK_S = 5;
let b;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
	b = await startBrugd({ config: { server: { ping_seconds: PING_S, idle_timeout_seconds: IDLE_S } } });
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

// A visitor socket that does not answer pings (ws answers them by default).
function silentVisitor() {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(`wss://localhost:${b.port}/ws/visitor`, 'brug-visitor.v1', {
			ca: readFileSync(b.caPath),
			origin: b.origin,
			autoPong: false,
			handshakeTimeout: 5000,
		});
		const s = { ws, pings: 0, frames: [], closeInfo: null };
		s.closed = new Promise((res) => {
			ws.on('close', (code, reason) => {
				s.closeInfo = { code, reason: reason.toString('utf8'), at: Date.now() };
				res(s.closeInfo);
			});
		});
		ws.on('ping', () => { s.pings++; });
		ws.on('message', (data) => s.frames.push(JSON.parse(data.toString('utf8'))));
		ws.on('open', () => { s.openedAt = Date.now(); resolve(s); });
		ws.on('error', reject);
	});
}

test('a quiet visitor that answers pings stays connected and gets pings', { timeout: 30000 }, async () => {
	const { v } = await visitorHello(b, { lang: 'nl' });
	try {
		const pings = [];
		v.ws.on('ping', (data) => pings.push(data));
		await sleep(3 * IDLE_S * 1000);
		assert.equal(v.closeInfo, null, `closed: ${JSON.stringify(v.closeInfo)}`);
		// One ping per silent second, at most a second late, each answered.
		assert.ok(pings.length >= 3, `${pings.length} pings in ${3 * IDLE_S} s`);
		for (const p of pings) assert.ok(p.length > 0, 'ping without a payload');
		// The socket still works.
		await sync(v);
	} finally {
		v.close();
	}
});

test('a visitor that stops answering pings is closed with 1001 "idle"', { timeout: 30000 }, async () => {
	const s = await silentVisitor();
	try {
		const info = await Promise.race([
			s.closed,
			sleep((IDLE_S + CLOSE_ACK_S) * 1000 + SLACK_MS).then(() => null),
		]);
		assert.ok(info, `still open ${IDLE_S + CLOSE_ACK_S} s after connecting; ${s.pings} pings`);
		assert.equal(info.code, 1001);
		assert.equal(info.reason, 'idle');
		const after = info.at - s.openedAt;
		assert.ok(after >= IDLE_S * 1000 - 250, `closed after ${after} ms, before the idle timeout`);
		assert.ok(after <= IDLE_S * 1000 + SLACK_MS, `closed after ${after} ms`);
		assert.ok(s.pings >= 1, 'closed without a ping first');
		assert.ok(b.logs().some((l) => /c\d+ silent for \d+ s, closing/.test(l)), 'no log line');
	} finally {
		s.ws.terminate();
	}
});

test('any frame counts as a sign of life, pongs or not', { timeout: 30000 }, async () => {
	const s = await silentVisitor();
	try {
		s.ws.send(JSON.stringify({ type: 'hello', lang: 'nl' }));
		// Talk every 700 ms for twice the idle timeout, never answering a ping.
		for (let t = 0; t < 2 * IDLE_S * 1000; t += 700) {
			s.ws.send(JSON.stringify({ type: 'brug_test_sync', id: `t${t}` }));
			await sleep(700);
		}
		assert.equal(s.closeInfo, null, `closed: ${JSON.stringify(s.closeInfo)}`);
		assert.ok(s.frames.some((f) => f.type === 'welcome'), JSON.stringify(s.frames));
		// Then silence: closed within the idle timeout.
		const info = await Promise.race([s.closed, sleep(IDLE_S * 1000 + SLACK_MS).then(() => null)]);
		assert.ok(info, 'still open after falling silent');
		assert.equal(info.code, 1001);
	} finally {
		s.ws.terminate();
	}
});

// A peer that vanished without a trace: a raw TLS socket that completes the
// WebSocket handshake and then never sends a byte, Close included. brugd pings
// it, sends its Close at the idle timeout, and drops the connection when no
// Close comes back.
test('a peer that never answers anything is dropped', { timeout: 40000 }, async () => {
	const sock = tls.connect({ host: 'localhost', port: b.port, ca: readFileSync(b.caPath), servername: 'localhost' });
	let buf = Buffer.alloc(0);
	let upgraded = false;
	const opcodes = [];
	let closeCode = null;
	const ended = new Promise((resolve) => sock.on('close', () => resolve(Date.now())));
	sock.on('error', () => { /* reset by the server: 'close' follows */ });
	let openedAt = 0;
	const open = new Promise((resolve, reject) => {
		sock.on('data', (d) => {
			buf = Buffer.concat([buf, d]);
			if (!upgraded) {
				const end = buf.indexOf('\r\n\r\n');
				if (end < 0) return;
				const head = buf.subarray(0, end).toString('latin1');
				if (!/^HTTP\/1\.1 101 /.test(head)) reject(new Error(`no upgrade: ${head}`));
				upgraded = true;
				openedAt = Date.now();
				buf = buf.subarray(end + 4);
				resolve();
			}
			// Server frames are not masked; brugd sends only short ones here.
			while (buf.length >= 2) {
				const len = buf[1] & 0x7f;
				if (len >= 126 || buf.length < 2 + len) break;
				const op = buf[0] & 0x0f;
				opcodes.push(op);
				if (op === 0x8 && len >= 2) closeCode = buf.readUInt16BE(2);
				buf = buf.subarray(2 + len);
			}
		});
	});
	await new Promise((resolve) => sock.once('secureConnect', resolve));
	sock.write('GET /ws/visitor HTTP/1.1\r\n' +
		`Host: localhost:${b.port}\r\n` +
		'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
		`Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
		'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: brug-visitor.v1\r\n' +
		`Origin: ${b.origin}\r\n\r\n`);
	await open;
	try {
		const at = await Promise.race([
			ended,
			sleep((IDLE_S + CLOSE_ACK_S) * 1000 + 2 * SLACK_MS).then(() => null),
		]);
		assert.ok(at, `still connected; frames ${JSON.stringify(opcodes)}`);
		assert.ok(opcodes.includes(0x9), `no ping before the close: ${JSON.stringify(opcodes)}`);
		assert.equal(closeCode, 1001);
		const after = at - openedAt;
		assert.ok(after >= IDLE_S * 1000 - 250, `dropped after ${after} ms`);
		assert.ok(after <= (IDLE_S + CLOSE_ACK_S) * 1000 + SLACK_MS, `dropped after ${after} ms`);
	} finally {
		sock.destroy();
	}
});

// Closing for silence and dropping dead peers leaves nothing behind: in the
// sanitizer build a leak or a use after free would show here.
test('brugd stops cleanly afterwards', { timeout: 20000 }, async () => {
	const info = await b.stop();
	const bad = b.logs().filter((l) => /Sanitizer|runtime error/.test(l));
	assert.deepEqual(bad, []);
	assert.deepEqual(info, { code: 0, signal: null });
});
