// Promise: a chat leaves no trace. After a full chat with a unique canary
// text, neither the logs, nor any file in the state directory, nor the
// database holds the text, the visitor's resume token or an address.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startBrugd, availableStaff, startChat } from '../lib/brugd.mjs';
import { canary, filesUnder, databases, inFilesUnder, sqlDump, findInMemory, memoryUnreadable } from '../lib/canary.mjs';

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

// Protocol: "after ended the chat's messages exist nowhere in the daemon".
// Reading the memory of our own child needs no privilege beyond the default
// Yama setting; where it is not allowed the test is skipped.
test('after ended, the texts are gone from the daemon\'s memory', {
	timeout: 30000,
}, async (t) => {
	const unreadable = memoryUnreadable(b.process.pid);
	if (unreadable) {
		t.skip(`cannot read the daemon's memory: ${unreadable}`);
		return;
	}
	const lena = await availableStaff(b, 'lena', PW);
	const { v, chat } = await startChat(b, lena, { lang: 'nl' });
	const fromVisitor = canary();
	const fromStaff = canary();
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
	const canaryV = canary();
	const canaryS = canary();
	const canaryArabic = canary('كناري-', 6);

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
	const canary2 = canary();
	const second = await startChat(b, lena, { lang: 'nl' });
	second.v.send({ type: 'msg', text: canary2 });
	await lena.waitFor({ type: 'msg', chat: second.chat, seq: 1 });
	second.v.terminate();
	assert.equal((await lena.waitFor({ type: 'ended', chat: second.chat }, 10000)).by, 'timeout');

	// A third chat is still going when the daemon stops: both sides are
	// told, and the sockets close with 1001.
	const canary3 = canary();
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
	const dbs = databases(files);
	assert.ok(dbs.length > 0, `a database in the state dir: ${files.join(', ')}`);
	assert.deepEqual(inFilesUnder(b.stateDir, secrets), [], 'a file in the state dir holds a secret');
	for (const db of dbs) {
		const dump = sqlDump(db);
		assert.ok(dump.length > 0);
		for (const s of secrets) {
			assert.ok(!dump.includes(s), `${path.relative(b.stateDir, db)} holds ${s}`);
		}
		assert.ok(!dump.includes('127.0.0.1'), 'the database holds an address');
	}
});
