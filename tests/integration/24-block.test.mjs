// Issue 10, abuse blocking without storing addresses: a staff member blocks
// the visitor of a chat; the next visitor socket from that address is
// refused with the neutral error not_available (in the visitor's language),
// other addresses still chat, the address is in no log line, no file of the
// state directory and not in the database, and after a restart with the
// same state directory the block is gone.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startBrugd, availableStaff, startChat, connectVisitor, visitorHello } from '../lib/brugd.mjs';

const PW = 'integration-test-password-24';
const ABUSER = '127.0.0.5';
const OTHER = '127.0.0.1';
let b, b2;

before(async () => {
	b = await startBrugd({
		config: { log: { level: 'debug' } },
		staff: [{ user: 'vera', alias: 'Vera', roles: 'volunteer', langs: 'nl,ar,ti,tr,en', maxChats: 3, password: PW }],
	});
}, { timeout: 60000 });

after(async () => {
	for (const d of [b2, b]) if (d) await d.stop();
	if (b) await b.cleanup();
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

// The next visitor socket from address: the error it gets and how it closes.
async function refused(d, address, lang) {
	const v = await connectVisitor(d, { localAddress: address, lang });
	try {
		const err = await v.next('error');
		const closed = await v.closed();
		return { err, closed };
	} finally {
		v.close();
	}
}

test('a blocked address is refused neutrally, others chat, nothing is kept, a restart forgets', { timeout: 90000 }, async () => {
	const s = await availableStaff(b, 'vera', PW);
	let v, other;
	try {
		const started = await startChat(b, s, { lang: 'nl' }, { localAddress: ABUSER });
		v = started.v;
		s.send({ type: 'block', chat: started.chat, id: 'b1' });
		assert.equal((await s.waitFor({ type: 'blocked', id: 'b1' })).chat, started.chat);
		assert.equal((await s.waitFor({ type: 'ended', chat: started.chat })).by, 'staff');
		// The visitor sees an ordinary staff end.
		const vEnded = await v.next('ended');
		assert.equal(vEnded.by, 'staff');

		// The next socket from that address: not_available, closed 1013,
		// with a neutral text in the visitor's language.
		const texts = new Map();
		for (const lang of ['nl', 'ar', 'ti', 'tr', 'en']) {
			const { err, closed } = await refused(b, ABUSER, lang);
			assert.equal(err.code, 'not_available');
			assert.equal(closed.code, 1013);
			assert.ok(err.message && err.message.length > 10, `text for ${lang}: ${err.message}`);
			assert.doesNotMatch(err.message, /block|blokk|engel|حظر|ዕገ/i, `not neutral (${lang}): ${err.message}`);
			assert.match(err.message, /112/);
			texts.set(lang, err.message);
		}
		assert.equal(new Set(texts.values()).size, 5, 'one text per language');
		// The blocked visitor's own socket cannot start anew either.
		v.send({ type: 'hello', lang: 'nl', id: 'again' });
		assert.equal((await v.waitFor({ type: 'error', id: 'again' })).code, 'not_available');

		// Another address still chats.
		const r = await startChat(b, s, { lang: 'nl' }, { localAddress: OTHER });
		other = r.v;
		other.send({ type: 'msg', text: 'hallo', id: 'm1' });
		assert.equal((await other.waitFor({ type: 'msg', id: 'm1' })).text, 'hallo');
		assert.equal((await s.waitFor({ type: 'msg', chat: r.chat, from: 'visitor' })).text, 'hallo');
	} finally {
		for (const c of [v, other, s]) if (c) c.close();
	}

	// The address is nowhere: not in a log line, a file or the database
	// (every byte of brug.db and its journal, whatever the format).
	await b.stop();
	for (const line of b.logs()) assert.ok(!line.includes(ABUSER), `log line holds the address: ${line}`);
	const files = filesUnder(b.stateDir);
	assert.ok(files.some((f) => path.basename(f) === 'brug.db'), 'brug.db exists');
	for (const f of files) {
		const bytes = readFileSync(f);
		assert.equal(bytes.indexOf(ABUSER), -1, `${f} holds the address`);
		assert.equal(bytes.indexOf(Buffer.from(ABUSER, 'utf16le')), -1, `${f} holds the address (UTF-16)`);
	}

	// Blocks live in memory only: after a restart on the same state
	// directory the address chats again.
	b2 = await startBrugd({ restartOf: b });
	const s2 = await availableStaff(b2, 'vera', PW);
	let again;
	try {
		const { v: v2, chat } = await startChat(b2, s2, { lang: 'nl' }, { localAddress: ABUSER });
		again = v2;
		again.send({ type: 'msg', text: 'terug', id: 'm2' });
		assert.equal((await again.waitFor({ type: 'msg', id: 'm2' })).text, 'terug');
		assert.equal((await s2.waitFor({ type: 'msg', chat, from: 'visitor' })).text, 'terug');
	} finally {
		for (const c of [again, s2]) if (c) c.close();
	}
	for (const line of b2.logs()) assert.ok(!line.includes(ABUSER), `log line holds the address: ${line}`);
});

test('block needs a chat of your own', { timeout: 30000 }, async () => {
	const d = b2;
	const s = await availableStaff(d, 'vera', PW);
	try {
		s.send({ type: 'block', chat: '987654', id: 'x1' });
		assert.equal((await s.waitFor({ type: 'error', id: 'x1' })).code, 'not_found');
		s.send({ type: 'block', id: 'x2' });
		assert.equal((await s.waitFor({ type: 'error', id: 'x2' })).code, 'bad_field');
		// The visitor socket has no such message.
		const { v } = await visitorHello(d, { lang: 'nl' }, { localAddress: '127.0.0.6' });
		v.send({ type: 'block', chat: '1', id: 'x3' });
		assert.equal((await v.waitFor({ type: 'error', id: 'x3' })).code, 'forbidden');
		v.close();
	} finally {
		s.close();
	}
});
