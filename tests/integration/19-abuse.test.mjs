// brugd under abuse from one source: half-open TLS handshakes and half-sent
// HTTP headers (slowloris), a connection flood, a message flood, oversized
// and fragmented frames and wrong logins. In each case brugd stays up, a
// chat beside it keeps its round trips low, and its memory comes back to
// within 10 % of where it was.
//
// The attacker is a separate process (tests/lib/attacker.mjs) on
// 127.0.0.3, so its own TLS work never slows the probe; the chat uses
// 127.0.0.1 (localhost).
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { startBrugd, availableStaff, startChat, loginStaff, repoRoot } from '../lib/brugd.mjs';

const PW = 'abuse-test-password-0001';
const ATTACKER = '127.0.0.3';
// Loose on purpose: the figures are reported; the bound only catches a
// daemon that stalls its loop. The aim is < 100 ms; a sanitizer
// build on a busy 2-core machine needs headroom.
const RTT_BOUND_MS = Number(process.env.BRUG_RTT_BOUND_MS ?? 250);

let b, staff, visitor, chatId, attacker;
const report = [];

function startAttacker() {
	const child = spawn(process.execPath, [path.join(repoRoot, 'tests', 'lib', 'attacker.mjs'),
		String(b.port), b.caPath, b.origin, ATTACKER], { stdio: ['pipe', 'pipe', 'inherit'] });
	const waiting = [];
	createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(JSON.parse(line)));
	return {
		child,
		run(cmd) {
			return new Promise((resolve, reject) => {
				waiting.push((out) => (out.error ? reject(new Error(`${cmd.do}: ${out.error}`)) : resolve(out)));
				child.stdin.write(JSON.stringify(cmd) + '\n');
			});
		},
	};
}

before(async () => {
	b = await startBrugd({
		config: { server: { max_connections: 1200 } },
		staff: [{ user: 'vera', alias: 'Vera', roles: 'volunteer', langs: 'nl', maxChats: 4, password: PW },
			{ user: 'rik', alias: 'Rik', roles: 'volunteer', langs: 'nl', password: PW }],
		env: {
			// ASan keeps freed memory in quarantine; keep it small so that
			// what brugd gives back shows in its RSS.
			ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ?? ''}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64`,
		},
	});
	staff = await availableStaff(b, 'vera', PW);
	const c = await startChat(b, staff, { lang: 'nl' });
	visitor = c.v;
	chatId = c.chat;
	attacker = startAttacker();
}, { timeout: 60000 });

after(async () => {
	for (const line of report) console.log(`# ${line}`);
	attacker?.child.stdin.end();
	try { visitor?.close(); staff?.close(); } catch { /* gone */ }
	if (b) {
		const info = await b.stop();
		await b.cleanup();
		assert.equal(info.code, 0, `brugd exited ${JSON.stringify(info)}`);
	}
});

function rssKb() {
	const status = readFileSync(`/proc/${b.process.pid}/status`, 'utf8');
	return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

// One visitor -> staff -> visitor round trip in the running chat.
async function roundTrip(n) {
	const t0 = process.hrtime.bigint();
	visitor.send({ type: 'msg', text: `ping ${n}` });
	await staff.next('msg', 10000);
	staff.send({ type: 'msg', chat: chatId, text: `pong ${n}` });
	await visitor.next('msg', 10000);
	return Number(process.hrtime.bigint() - t0) / 1e6;
}

// Round trips while `during` runs, under two a second (within the rate
// limit of both sides), and at least three.
async function chatBeside(during, what) {
	let stop = false;
	const rtts = [];
	const probe = (async () => {
		let n = 0;
		while (!stop || rtts.length < 3) {
			rtts.push(await roundTrip(`${what}-${n++}`));
			await new Promise((r) => setTimeout(r, 600));
		}
	})();
	let result;
	try {
		result = await during();
	} finally {
		stop = true;
		await probe;
	}
	rtts.sort((x, y) => x - y);
	const p50 = rtts[Math.floor(rtts.length / 2)];
	const max = rtts[rtts.length - 1];
	report.push(`${what}: ${rtts.length} round trips beside it, p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
	assert.ok(max < RTT_BOUND_MS, `${what}: a round trip took ${max.toFixed(1)} ms`);
	return result;
}

// The daemon frees on its own timers: wait up to 20 s for RSS to come back.
async function memoryComesBack(rss0, what) {
	let now = rssKb();
	for (let i = 0; i < 40 && now > rss0 * 1.1; i++) {
		await new Promise((r) => setTimeout(r, 500));
		now = rssKb();
	}
	report.push(`${what}: RSS ${rss0} kB before, ${now} kB after`);
	assert.ok(now <= rss0 * 1.1, `${what}: RSS ${rss0} kB before, ${now} kB after`);
}

function alive() {
	assert.equal(b.process.exitCode, null, 'brugd exited');
	assert.equal(b.process.signalCode, null, 'brugd was killed');
}

// A first run of the same attack brings the allocator to its steady state,
// so the baseline measures brugd, not malloc's first growth.
async function baseline(warmUp) {
	await warmUp();
	await new Promise((r) => setTimeout(r, 500));
	return rssKb();
}

test('slowloris: 500 half-open handshakes and half-sent headers', { timeout: 180000 }, async () => {
	const rss0 = await baseline(async () => {
		await attacker.run({ do: 'slowloris', n: 500 });
		await attacker.run({ do: 'release' });
	});
	const { opened } = await chatBeside(() => attacker.run({ do: 'slowloris', n: 500 }), 'slowloris');
	report.push(`slowloris: ${opened} of 500 sockets opened`);
	// brugd must drop them on its own (handshake and header timeouts).
	const { open } = await attacker.run({ do: 'closed', ms: 60000 });
	report.push(`slowloris: ${open} still open after brugd's timeouts`);
	await attacker.run({ do: 'release' });
	assert.equal(open, 0, `${open} half-open sockets were never closed by brugd`);
	alive();
	await memoryComesBack(rss0, 'slowloris');
});

test('a connection flood from one address to the cap', { timeout: 180000 }, async () => {
	const rss0 = await baseline(async () => {
		await attacker.run({ do: 'flood', n: 1300 });
		await attacker.run({ do: 'release' });
	});
	try {
		const { opened, refused } = await chatBeside(() => attacker.run({ do: 'flood', n: 1300 }), 'connection flood');
		report.push(`connection flood: ${opened} accepted, ${refused} refused of 1300`);
		assert.ok(refused > 0, 'the flood never reached a cap');
		// A staff member can still log in while the flood holds its sockets.
		const other = await loginStaff(b, 'rik', PW);
		other.close();
	} finally {
		await attacker.run({ do: 'release' });
	}
	alive();
	await memoryComesBack(rss0, 'connection flood');
});

test('a message flood from one visitor is cut off; the chat beside it is not', { timeout: 60000 }, async () => {
	const rss0 = rssKb();
	const other = await availableStaff(b, 'rik', PW);
	await chatBeside(async () => {
		const c = await startChat(b, other, { lang: 'nl' });
		for (let i = 0; i < 2000 && c.v.ws.readyState === WebSocket.OPEN; i++) {
			c.v.send({ type: 'msg', text: `flood ${i}` });
		}
		const closed = await c.v.closed(10000);
		assert.equal(closed.code, 4029, `flooder closed with ${JSON.stringify(closed)}`);
	}, 'message flood');
	const relayed = other.queue.filter((f) => f.type === 'msg').length;
	report.push(`message flood: ${relayed} of 2000 messages relayed to staff before 4029`);
	assert.ok(relayed <= 60, `${relayed} flood messages reached the staff member`);
	other.close();
	alive();
	await memoryComesBack(rss0, 'message flood');
});

test('oversized and fragmented frames are refused with 1009', { timeout: 60000 }, async () => {
	const rss0 = rssKb();
	const out = await chatBeside(() => attacker.run({ do: 'oversized', n: 20 }), 'oversized frames');
	// A fragmented message over max_frame is refused with 1009. A single
	// 1 MiB frame too, but brugd closes while the client is still sending
	// it, so the client may see the reset (1006) before the close frame.
	out.codes.forEach((code, i) => {
		if (i % 2 === 1) assert.equal(code, 1009, `fragmented frame ${i}: ${code}`);
		else assert.ok(code === 1009 || code === 1006, `frame ${i}: ${code}`);
	});
	assert.equal(out.fragmented, 'welcome', 'a message in one-byte fragments was not taken');
	alive();
	await memoryComesBack(rss0, 'oversized frames');
});

test('100 wrong logins', { timeout: 180000 }, async () => {
	// The first password checks grow the worker's heap (Argon2id takes
	// 64 MiB a check); a first round brings it to its steady state.
	const rss0 = await baseline(() => attacker.run({ do: 'logins', n: 100, user: 'rik' }));
	const { answers } = await chatBeside(() => attacker.run({ do: 'logins', n: 100, user: 'rik' }), 'wrong logins');
	report.push(`wrong logins: ${JSON.stringify(answers)}`);
	assert.ok(!answers.session, 'a wrong password logged in');
	alive();
	await memoryComesBack(rss0, 'wrong logins');
});
