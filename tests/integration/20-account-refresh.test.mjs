// A change of an account's roles or languages reaches its open consoles at
// once (issue 12, point 1): a demoted coordinator's next coordinator message
// is forbidden, a volunteer's offers follow its new languages, and a change
// written to the database by another process is picked up by the periodic
// session check.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startBrugd, loginStaff, availableStaff, visitorHello } from '../lib/brugd.mjs';

const PW = 'integration-test-password-14';
let b;

before(async () => {
	b = await startBrugd({
		staff: [
			{ user: 'cora', alias: 'Cora', roles: 'coordinator', langs: 'nl', password: PW },
			{ user: 'dirk', alias: 'Dirk', roles: 'coordinator,volunteer', langs: 'nl', password: PW },
			{ user: 'vera', alias: 'Vera', roles: 'volunteer', langs: 'nl', password: PW },
			{ user: 'wim', alias: 'Wim', roles: 'volunteer', langs: 'nl', password: PW },
		],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

let seq = 0;

async function ask(c, msg) {
	const id = `q-${++seq}`;
	c.send({ ...msg, id });
	return c.waitFor((f) => f.id === id);
}

test('a coordinator demoted while its console is open loses its powers at once', async () => {
	const cora = await loginStaff(b, 'cora', PW);
	const dirk = await loginStaff(b, 'dirk', PW);
	assert.equal((await ask(dirk, { type: 'staff_list' })).type, 'staff_list');

	const r = await ask(cora, { type: 'staff_update', user: 'dirk', roles: ['volunteer'] });
	assert.equal(r.type, 'staff_list', JSON.stringify(r));
	// The console is told its account as it is now...
	const again = await dirk.waitFor((f) => f.type === 'session' && !f.id);
	assert.deepEqual(again.user.roles, ['volunteer']);
	assert.equal(again.token, dirk.session.token);
	// ...and its next coordinator message is refused; it cannot promote
	// itself back.
	const refused = await ask(dirk, { type: 'staff_update', user: 'dirk', roles: ['coordinator', 'volunteer'] });
	assert.equal(refused.type, 'error');
	assert.equal(refused.code, 'forbidden');
	assert.equal((await ask(dirk, { type: 'staff_list' })).code, 'forbidden');
	// It stays logged in as a volunteer.
	assert.equal((await ask(dirk, { type: 'status', available: false })).type, 'status');
	cora.close();
	dirk.close();
});

test("a volunteer's offers follow a change of its languages", async () => {
	const cora = await loginStaff(b, 'cora', PW);
	const vera = await availableStaff(b, 'vera', PW);

	const nl = await visitorHello(b, { lang: 'nl' });
	const offer = await vera.next('offer');
	assert.equal(offer.lang, 'nl');

	const r = await ask(cora, { type: 'staff_update', user: 'vera', langs: ['ar'] });
	assert.equal(r.type, 'staff_list', JSON.stringify(r));
	// The Dutch offer is withdrawn, the console hears its new languages.
	const gone = await vera.waitFor((f) => f.type === 'offer_gone' && f.offer === offer.offer);
	assert.equal(gone.reason, 'withdrawn');
	const again = await vera.waitFor((f) => f.type === 'session' && !f.id);
	assert.deepEqual(again.user.langs, ['ar']);

	// An Arabic visitor is now offered to it; no Dutch one is.
	const ar = await visitorHello(b, { lang: 'ar' });
	const arOffer = await vera.waitFor((f) => f.type === 'offer' && f.lang === 'ar');
	assert.ok(arOffer.offer);
	assert.deepEqual(await vera.quiet((f) => f.type === 'offer' && f.lang === 'nl', 300), []);
	// Ended, not just hung up: no visitor is left in the grace for the
	// next test.
	nl.v.send({ type: 'end' });
	ar.v.send({ type: 'end' });
	await nl.v.closed().catch(() => nl.v.close());
	await ar.v.closed().catch(() => ar.v.close());
	vera.close();
	cora.close();
});

test('a change written by another process reaches the console at the next session check', async () => {
	const wim = await availableStaff(b, 'wim', PW);
	// Coordinator only (8): the chat roles are gone.
	const db = path.join(b.stateDir, 'brug.db');
	const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', db, "UPDATE staff SET roles = 8 WHERE username = 'wim'"],
		{ encoding: 'utf8', timeout: 10000 });
	assert.equal(r.status, 0, r.stderr);
	// The sweep runs every 15 s.
	const again = await wim.waitFor((f) => f.type === 'session' && !f.id, 20000);
	assert.deepEqual(again.user.roles, ['coordinator']);
	// A coordinator-only account takes no chats: it is no longer available.
	const st = await wim.waitFor((f) => f.type === 'status' && !f.id);
	assert.equal(st.available, false);
	assert.equal((await ask(wim, { type: 'status', available: true })).code, 'forbidden');
	assert.equal((await ask(wim, { type: 'staff_list' })).type, 'staff_list');
	wim.close();
}, { timeout: 40000 });
