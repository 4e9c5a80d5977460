// A database locked by another process throws nobody out and slows no chat
// (issue 12, point 6): while `sqlite3` holds an exclusive lock, the consoles
// stay logged in across the 15 s session check, a chat keeps relaying with
// quick round trips, a coordinator request is answered `unavailable`, and a
// chat that ends is counted once the lock goes away.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { startBrugd, connectStaff, loginStaff, availableStaff, startChat } from '../lib/brugd.mjs';

const PW = 'integration-test-password-15';
let b;
let locker = null;

before(async () => {
	b = await startBrugd({
		staff: [
			{ user: 'cora', alias: 'Cora', roles: 'coordinator', langs: 'nl', password: PW },
			{ user: 'vera', alias: 'Vera', roles: 'volunteer', langs: 'nl', password: PW },
		],
	});
}, { timeout: 60000 });

after(async () => {
	if (locker) locker.kill();
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

// Start `sqlite3 DB` holding an exclusive lock until its stdin closes;
// resolves once the lock is held.
function holdLock(db) {
	const p = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'inherit'] });
	return new Promise((resolve, reject) => {
		let out = '';
		const timer = setTimeout(() => reject(new Error(`sqlite3 took no lock: ${out}`)), 10000);
		p.stdout.on('data', (d) => {
			out += d;
			if (out.includes('locked')) {
				clearTimeout(timer);
				resolve(p);
			}
		});
		p.on('exit', (code) => reject(new Error(`sqlite3 exited ${code}: ${out}`)));
		p.stdin.write("BEGIN EXCLUSIVE;\nSELECT 'locked';\n");
	});
}

function release(p) {
	return new Promise((resolve) => {
		p.removeAllListeners('exit');
		p.on('exit', resolve);
		p.stdin.end('ROLLBACK;\n');
	});
}

function statsCount(db) {
	const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', db,
		"SELECT coalesce(sum(count), 0) FROM stats WHERE topic = '*'"], { encoding: 'utf8', timeout: 10000 });
	assert.equal(r.status, 0, r.stderr);
	return Number(r.stdout.trim());
}

let seq = 0;
async function ask(c, msg) {
	const id = `q-${++seq}`;
	c.send({ ...msg, id });
	return c.waitFor((f) => f.id === id);
}

test('a locked database keeps consoles logged in and chats relaying', async () => {
	const db = path.join(b.stateDir, 'brug.db');
	const cora = await loginStaff(b, 'cora', PW);
	const vera = await availableStaff(b, 'vera', PW);
	const { v, chat } = await startChat(b, vera);
	const before = statsCount(db);

	locker = await holdLock(db);
	const lockedAt = Date.now();

	// A coordinator request that needs the database says so, and the
	// console stays.
	const busy = await ask(cora, { type: 'staff_list' });
	assert.equal(busy.type, 'error');
	assert.equal(busy.code, 'unavailable');

	// Round trips both ways for longer than the session check interval.
	let worst = 0;
	let n = 0;
	while (Date.now() - lockedAt < 17000) {
		n++;
		const t0 = Date.now();
		v.send({ type: 'msg', text: `visitor ${n}` });
		await vera.waitFor((f) => f.type === 'msg' && f.text === `visitor ${n}`);
		vera.send({ type: 'msg', chat, text: `staff ${n}` });
		await v.waitFor((f) => f.type === 'msg' && f.text === `staff ${n}`);
		worst = Math.max(worst, Date.now() - t0);
		await new Promise((r) => setTimeout(r, 600));
	}
	console.log(`# ${n} round trips under the lock, the slowest ${worst} ms`);
	assert.ok(worst < 1000, `the slowest round trip took ${worst} ms`);
	assert.equal(vera.closeInfo, null, `vera was closed: ${JSON.stringify(vera.closeInfo)}`);
	assert.equal(cora.closeInfo, null, `cora was closed: ${JSON.stringify(cora.closeInfo)}`);

	// A console reloading now cannot be told yes or no: it hears
	// `unavailable` and "try again later", not that its session is over.
	const reload = await connectStaff(b);
	reload.send({ type: 'login', token: vera.session.token, id: 'reload' });
	const no = await reload.next('error');
	assert.equal(no.code, 'unavailable');
	assert.equal((await reload.closed()).code, 1013);

	// The chat ends under the lock; its count waits in memory.
	const t0 = Date.now();
	v.send({ type: 'end' });
	await vera.waitFor((f) => f.type === 'ended');
	assert.ok(Date.now() - t0 < 1000, `ending took ${Date.now() - t0} ms`);

	// The lock goes away: the count is written and requests work again.
	await release(locker);
	locker = null;
	const deadline = Date.now() + 10000;
	while (statsCount(db) < before + 1 && Date.now() < deadline) {
		await new Promise((r) => setTimeout(r, 250));
	}
	assert.equal(statsCount(db), before + 1);
	assert.equal((await ask(cora, { type: 'staff_list' })).type, 'staff_list');
	assert.equal((await ask(vera, { type: 'status', available: false })).type, 'status');
	// The token still works for a reload.
	const back = await connectStaff(b);
	back.send({ type: 'login', token: vera.session.token, id: 'back' });
	assert.equal((await back.next('session')).id, 'back');
	assert.equal((await vera.closed()).code, 4003);
	back.close();
	assert.ok(b.logs().some((l) => /database unavailable/.test(l)), 'the fault is logged');
	v.close();
	cora.close();
}, { timeout: 60000 });
