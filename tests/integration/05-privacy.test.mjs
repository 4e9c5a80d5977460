// Promise: a chat leaves no trace. After a full chat with a unique canary
// text, neither the logs, nor any file in the state directory, nor the
// database holds the text, the visitor's resume token or an address.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, openSync, readSync, closeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startBrugd, availableStaff, startChat } from '../lib/brugd.mjs';

const PW = 'integration-test-password-05';
let b;

before(async () => {
	b = await startBrugd({
		config: { log: { level: 'debug' } },
		staff: [{ user: 'lena', alias: 'Lena', roles: 'volunteer', langs: 'nl,ar', password: PW }],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

function filesUnder(dir) {
	const out = [];
	for (const e of readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		if (e.isDirectory()) out.push(...filesUnder(p));
		else if (e.isFile()) out.push(p);
	}
	return out;
}

// Where needle occurs in the writable memory of process pid: a list of
// mapping names. Throws EACCES/EPERM when the memory cannot be read.
function findInMemory(pid, needle) {
	const hits = [];
	const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter(Boolean);
	const fd = openSync(`/proc/${pid}/mem`, 'r');
	try {
		for (const line of maps) {
			const [range, perms, , , , name] = line.split(/\s+/);
			if (!perms.startsWith('rw')) continue;
			const [lo, hi] = range.split('-').map((x) => BigInt('0x' + x));
			const len = Number(hi - lo);
			if (len > (256 << 20)) continue;
			const buf = Buffer.alloc(len);
			try {
				readSync(fd, buf, 0, len, lo);
			} catch {
				continue; // guard pages and the like
			}
			if (buf.indexOf(needle) >= 0) hits.push(name || '[anon]');
		}
	} finally {
		closeSync(fd);
	}
	return hits;
}

// Protocol: "after ended the chat's messages exist nowhere in the daemon".
// Reading the memory of our own child needs no privilege beyond the default
// Yama setting; where it is not allowed the test is skipped.
test('after ended, the texts are gone from the daemon\'s memory', {
	timeout: 30000,
}, async (t) => {
	try {
		readFileSync(`/proc/${b.process.pid}/maps`);
		closeSync(openSync(`/proc/${b.process.pid}/mem`, 'r'));
	} catch (e) {
		t.skip(`cannot read the daemon's memory: ${e.code}`);
		return;
	}
	const lena = await availableStaff(b, 'lena', PW);
	const { v, chat } = await startChat(b, lena, { lang: 'nl' });
	const fromVisitor = 'canary-' + randomBytes(12).toString('hex');
	const fromStaff = 'canary-' + randomBytes(12).toString('hex');
	v.send({ type: 'msg', text: `visitor says ${fromVisitor}` });
	await lena.waitFor({ type: 'msg', seq: 1 });
	lena.send({ type: 'msg', chat, text: `staff says ${fromStaff}` });
	await v.waitFor({ type: 'msg', seq: 2 });
	v.send({ type: 'end' });
	await v.next('ended');
	await lena.waitFor({ type: 'ended', chat });
	v.close();
	lena.close();
	await lena.closed();
	const found = {
		visitor: findInMemory(b.process.pid, Buffer.from(fromVisitor)),
		staff: findInMemory(b.process.pid, Buffer.from(fromStaff)),
	};
	assert.deepEqual(found, { visitor: [], staff: [] }, 'texts still in the daemon\'s memory');
});

test('a finished chat leaves no trace in logs, files or the database', { timeout: 60000 }, async () => {
	const canaryV = 'canary-' + randomBytes(12).toString('hex');
	const canaryS = 'canary-' + randomBytes(12).toString('hex');
	const canaryArabic = 'كناري-' + randomBytes(6).toString('hex');

	const lena = await availableStaff(b, 'lena', PW);
	const { v, welcome, chat } = await startChat(b, lena, { lang: 'ar' });
	const token = welcome.session;
	const staffToken = lena.session.token;

	v.send({ type: 'msg', text: `my secret is ${canaryV}` });
	assert.equal((await lena.waitFor({ type: 'msg', seq: 1 })).text, `my secret is ${canaryV}`);
	lena.send({ type: 'msg', chat, text: `understood ${canaryS}` });
	assert.equal((await v.waitFor({ type: 'msg', seq: 2 })).text, `understood ${canaryS}`);
	v.send({ type: 'msg', text: canaryArabic });
	await lena.waitFor({ type: 'msg', seq: 3 });
	v.send({ type: 'typing', on: true });
	await lena.waitFor({ type: 'typing' });

	// Staff end this one with a statistics tag.
	lena.send({ type: 'end', chat, tags: ['forced_marriage'] });
	assert.equal((await v.next('ended')).by, 'staff');
	await lena.waitFor({ type: 'ended', chat });
	v.close();

	// A second visitor drops mid-chat and lets the grace period run out, so
	// the resume path is covered as well.
	const canary2 = 'canary-' + randomBytes(12).toString('hex');
	const second = await startChat(b, lena, { lang: 'nl' });
	second.v.send({ type: 'msg', text: canary2 });
	await lena.waitFor({ type: 'msg', chat: second.chat, seq: 1 });
	second.v.terminate();
	assert.equal((await lena.waitFor({ type: 'ended', chat: second.chat }, 10000)).by, 'timeout');

	// A third chat is still going when the daemon stops: both sides are
	// told, and the sockets close with 1001.
	const canary3 = 'canary-' + randomBytes(12).toString('hex');
	const third = await startChat(b, lena, { lang: 'ar' });
	third.v.send({ type: 'msg', text: canary3 });
	await lena.waitFor({ type: 'msg', chat: third.chat, seq: 1 });

	const { code, signal } = await b.stop();
	assert.equal(signal, null, 'brugd exits by itself on SIGTERM');
	assert.equal(code, 0);
	assert.equal((await third.v.waitFor({ type: 'ended' })).by, 'shutdown');
	assert.equal((await lena.waitFor({ type: 'ended', chat: third.chat })).by, 'shutdown');
	assert.equal((await third.v.closed()).code, 1001);
	assert.equal((await lena.closed()).code, 1001);

	const secrets = [canaryV, canaryS, canaryArabic, canary2, canary3, token, second.welcome.session,
		third.welcome.session, staffToken, PW];
	const logs = b.logs();
	assert.ok(logs.length > 0, 'brugd logged something');
	const logText = logs.join('\n');
	for (const s of secrets) {
		assert.ok(!logText.includes(s), `a log line holds ${s}`);
	}
	for (const s of ['127.0.0.1', '::1', b.origin]) {
		const hit = logs.find((l) => l.includes(s));
		assert.equal(hit, undefined, `a log line holds ${s}: ${hit}`);
	}

	const files = filesUnder(b.stateDir);
	const dbs = files.filter((f) => /\.(db|sqlite3?)$/.test(f));
	assert.ok(dbs.length > 0, `a database in the state dir: ${files.join(', ')}`);
	for (const f of files) {
		const bytes = readFileSync(f);
		for (const s of secrets) {
			assert.equal(bytes.indexOf(Buffer.from(s, 'utf8')), -1, `${path.relative(b.stateDir, f)} holds ${s}`);
		}
	}
	for (const db of dbs) {
		const dump = execFileSync('sqlite3', [db, '.dump'], { encoding: 'utf8', maxBuffer: 64 << 20 });
		assert.ok(dump.length > 0);
		for (const s of secrets) {
			assert.ok(!dump.includes(s), `${path.relative(b.stateDir, db)} holds ${s}`);
		}
		assert.ok(!dump.includes('127.0.0.1'), 'the database holds an address');
	}
});
