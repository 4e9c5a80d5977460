// Invite (a second staff member joins a chat) and transfer (the chat moves
// to another staff member, transcript included); protocol doc, "Staff
// socket" 7 and 8.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrugd, availableStaff, startChat } from '../lib/brugd.mjs';

const PW = 'integration-test-password-04';
let b;

before(async () => {
	b = await startBrugd({
		staff: [
			{ user: 'vera', alias: 'Vera', roles: 'volunteer', langs: 'ar', maxChats: 2, password: PW },
			{ user: 'pia', alias: 'Pia', roles: 'professional', langs: 'nl', maxChats: 2, password: PW },
			{ user: 'wim', alias: 'Wim', roles: 'volunteer', langs: 'tr', maxChats: 1, password: PW },
			{ user: 'tariq', alias: 'Tariq', roles: 'volunteer', langs: 'tr,ar', maxChats: 1, password: PW },
		],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

function bye(...clients) {
	for (const c of clients) {
		if (!c) continue;
		try { c.send({ type: 'end' }); } catch { /* closed */ }
		c.close();
	}
}

// The message with this seq in chat, as client c receives it.
function msgOf(c, chat, seq) {
	return c.waitFor((f) => f.type === 'msg' && f.seq === seq && (chat === null || f.chat === chat));
}

test('an invited professional joins, and all three see every message', { timeout: 30000 }, async () => {
	let vera, pia, v;
	try {
		vera = await availableStaff(b, 'vera', PW);
		pia = await availableStaff(b, 'pia', PW);
		let chat;
		({ v, chat } = await startChat(b, vera, { lang: 'ar' }));
		v.send({ type: 'msg', text: 'أريد التحدث مع محامية' });
		await msgOf(vera, chat, 1);

		vera.send({ type: 'invite', chat, to: { role: 'professional' }, id: 'inv-1' });
		const offer = await pia.next('offer');
		assert.equal(offer.kind, 'invite');
		assert.equal(offer.lang, 'ar');
		pia.send({ type: 'accept', offer: offer.offer });
		const cf = await pia.next('chat');
		assert.equal(cf.chat, chat);
		assert.equal(cf.lang, 'ar');
		assert.equal(cf.dir, 'rtl');
		const earlier = await msgOf(pia, chat, 1);
		assert.equal(earlier.text, 'أريد التحدث مع محامية');

		const joined = await v.next('joined');
		assert.equal(joined.chat, chat);
		assert.equal(joined.staff.alias, 'Pia');
		assert.equal(joined.staff.role, 'professional');

		v.send({ type: 'msg', text: 'visitor to both' });
		for (const s of [vera, pia]) {
			const m = await msgOf(s, chat, 2);
			assert.equal(m.from, 'visitor');
			assert.equal(m.text, 'visitor to both');
		}
		vera.send({ type: 'msg', chat, text: 'volunteer to both' });
		for (const c of [v, pia]) {
			const m = await msgOf(c, c === v ? null : chat, 3);
			assert.equal(m.from, 'staff');
			assert.equal(m.alias, 'Vera');
			assert.equal(m.text, 'volunteer to both');
		}
		pia.send({ type: 'msg', chat, text: 'professional to both' });
		for (const c of [v, vera]) {
			const m = await msgOf(c, c === v ? null : chat, 4);
			assert.equal(m.from, 'staff');
			assert.equal(m.alias, 'Pia');
			assert.equal(m.text, 'professional to both');
		}
		pia.send({ type: 'typing', chat, on: true });
		assert.equal((await v.waitFor({ type: 'typing' })).on, true);

		vera.send({ type: 'end', chat, tags: [] });
		assert.equal((await v.waitFor({ type: 'ended' })).by, 'staff');
		for (const s of [vera, pia]) {
			assert.equal((await s.waitFor({ type: 'ended', chat })).by, 'staff');
		}
	} finally {
		bye(v);
		vera?.close();
		pia?.close();
	}
});

test('a transfer to a named colleague moves the chat with its transcript', { timeout: 30000 }, async () => {
	let wim, tariq, v;
	try {
		wim = await availableStaff(b, 'wim', PW);
		let chat;
		({ v, chat } = await startChat(b, wim, { lang: 'tr' }));
		v.send({ type: 'msg', text: 'Yardıma ihtiyacım var' });
		await msgOf(wim, chat, 1);
		wim.send({ type: 'msg', chat, text: 'Seni bir meslektaşıma aktarıyorum' });
		await msgOf(v, null, 2);

		// Nobody matches yet: the transfer is refused and nothing changes.
		wim.send({ type: 'transfer', chat, to: { role: 'professional' }, id: 'tr-0' });
		const none = await wim.waitFor((f) => f.id === 'tr-0');
		assert.equal(none.type, 'error');
		assert.equal(none.code, 'not_found');

		tariq = await availableStaff(b, 'tariq', PW);
		wim.send({ type: 'transfer', chat, to: { user: 'Tariq' }, id: 'tr-1' });
		const offer = await tariq.next('offer');
		assert.equal(offer.kind, 'transfer');
		assert.equal(offer.lang, 'tr');
		tariq.send({ type: 'accept', offer: offer.offer });
		const cf = await tariq.next('chat');
		assert.equal(cf.chat, chat);
		assert.equal(cf.lang, 'tr');
		const t1 = await msgOf(tariq, chat, 1);
		assert.equal(t1.from, 'visitor');
		assert.equal(t1.text, 'Yardıma ihtiyacım var');
		const t2 = await msgOf(tariq, chat, 2);
		assert.equal(t2.from, 'staff');
		assert.equal(t2.alias, 'Wim');

		const joined = await v.waitFor({ type: 'joined' });
		assert.equal(joined.staff.alias, 'Tariq');
		assert.equal(joined.staff.role, 'volunteer');
		const gone = await wim.waitFor((f) => (f.type === 'left' || f.type === 'ended') && f.chat === chat);
		assert.ok(gone, 'the old staff member is told it left the chat');

		v.send({ type: 'msg', text: 'Merhaba Tariq' });
		assert.equal((await msgOf(tariq, chat, 3)).text, 'Merhaba Tariq');
		assert.deepEqual(await wim.quiet((f) => f.type === 'msg' && f.seq === 3, 300), [],
			'the old staff member no longer receives the chat');
		wim.send({ type: 'msg', chat, text: 'still here?', id: 'tr-2' });
		const err = await wim.waitFor((f) => f.id === 'tr-2');
		assert.equal(err.type, 'error');
		assert.ok(['forbidden', 'not_found'].includes(err.code), err.code);

		tariq.send({ type: 'end', chat });
		assert.equal((await v.waitFor({ type: 'ended' })).by, 'staff');
	} finally {
		bye(v);
		wim?.close();
		tariq?.close();
	}
});
