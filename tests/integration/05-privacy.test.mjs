// Promise: a chat leaves no trace. After a full chat with a unique canary
// text, neither the logs, nor any file in the state directory, nor the
// database holds the text, the visitor's resume token or an address.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
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

	lena.send({ type: 'logout' });
	await lena.closed().catch(() => lena.close());

	const { code, signal } = await b.stop();
	assert.equal(signal, null, 'brugd exits by itself on SIGTERM');
	assert.equal(code, 0);

	const secrets = [canaryV, canaryS, canaryArabic, canary2, token, second.welcome.session, staffToken, PW];
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
