// Issue 10, rate limits that fit staff: a volunteer with three chats who
// types fast (a message every 600 ms and a typing notice every 2 s in each
// chat, for 20 s) is never rate_limited; one chat flooded from the console
// still is, and the console's other chats go on.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrugd, availableStaff, startChat } from '../lib/brugd.mjs';

const PW = 'integration-test-password-25';
// docs/protocol.md, 5: msg per chat in 10 s before rate_limited (the default).
const RATE_SOFT = 20;
let b;

before(async () => {
	b = await startBrugd({
		staff: [{ user: 'tess', alias: 'Tess', roles: 'volunteer', langs: 'nl', maxChats: 3, password: PW }],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('three chats at a fast typing pace are never rate_limited; a flooded chat is', { timeout: 90000 }, async () => {
	const s = await availableStaff(b, 'tess', PW);
	const chats = [];
	try {
		for (let i = 0; i < 3; i++) chats.push(await startChat(b, s, { lang: 'nl' }, { localAddress: `127.0.25.${i + 1}` }));
		const sent = [0, 0, 0];
		const timers = [];
		chats.forEach(({ chat }, i) => {
			// Staggered like three conversations, not in lockstep.
			timers.push(setTimeout(() => timers.push(setInterval(() => {
				s.send({ type: 'msg', chat, text: `bericht ${i}.${sent[i]}` });
				sent[i]++;
			}, 600)), i * 200));
			timers.push(setTimeout(() => timers.push(setInterval(() => {
				s.send({ type: 'typing', chat, on: true });
			}, 2000)), i * 200 + 100));
		});
		await sleep(20000);
		for (const t of timers) { clearTimeout(t); clearInterval(t); }
		// Every message arrived at its visitor; nothing was refused.
		for (let i = 0; i < 3; i++) {
			assert.ok(sent[i] >= 30, `only ${sent[i]} sent in chat ${i}`);
			await chats[i].v.waitFor({ type: 'msg', text: `bericht ${i}.${sent[i] - 1}` }, 5000);
			const got = chats[i].v.frames.filter((f) => f.type === 'msg' && f.from === 'staff').length;
			assert.equal(got, sent[i], `chat ${i}: ${got} of ${sent[i]} relayed`);
		}
		const errors = s.frames.filter((f) => f.type === 'error');
		assert.deepEqual(errors, [], `the console got errors: ${JSON.stringify(errors)}`);
		assert.equal(s.closeInfo, null);

		// A fresh chat flooded from the console: past RATE_SOFT in 10 s it
		// is refused, and the other chats go on.
		s.send({ type: 'end', chat: chats[2].chat });
		await chats[2].v.next('ended');
		const flood = await startChat(b, s, { lang: 'nl' }, { localAddress: '127.0.25.9' });
		const N = RATE_SOFT + 5;
		for (let n = 0; n < N; n++) s.send({ type: 'msg', chat: flood.chat, text: `vloed ${n}`, id: `f${n}` });
		for (let n = 0; n < N; n++) {
			const f = await s.waitFor({ id: `f${n}` });
			assert.equal(f.type, n < RATE_SOFT ? 'msg' : 'error', `f${n}: ${JSON.stringify(f)}`);
			if (f.type === 'error') assert.equal(f.code, 'rate_limited');
		}
		s.send({ type: 'msg', chat: chats[0].chat, text: 'nog hier', id: 'after' });
		assert.equal((await s.waitFor({ id: 'after' })).type, 'msg');
		assert.equal((await chats[0].v.waitFor({ type: 'msg', text: 'nog hier' })).from, 'staff');
		flood.v.close();
	} finally {
		for (const c of chats) c.v.close();
		s.close();
	}
});
