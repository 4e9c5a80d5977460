// Login throttling works per source first (issue 12, point 7): 60 wrong
// logins for an account from 127.0.0.2 neither fill the password-check
// queue nor lock the account for its owner, who logs in from 127.0.0.1
// promptly; the attacking source itself is refused.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrugd, connectStaff, loginStaff, totpCode } from '../lib/brugd.mjs';

const PW = 'integration-test-password-16';
let b;

before(async () => {
	b = await startBrugd({
		staff: [{ user: 'vera', alias: 'Vera', roles: 'volunteer', langs: 'nl', password: PW }],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

// One wrong login from 127.0.0.2; resolves with the error code (or
// 'refused' when the socket could not even open).
async function bogusLogin() {
	let c;
	try {
		c = await connectStaff(b, { localAddress: '127.0.0.2' });
	} catch {
		return 'refused';
	}
	c.send({ type: 'login', user: 'vera', password: 'not-the-password-at-all', totp: '000000' });
	try {
		const f = await c.next('error', 15000);
		return f.code;
	} finally {
		c.close();
	}
}

// Connect from 127.0.0.1, then log vera in; resolves with the socket, the
// session frame and the milliseconds from sending the login to the answer
// (what the queue of password checks decides; the TLS handshake before it
// queues behind the storm's and is left out).
async function timedLogin() {
	const c = await connectStaff(b, { localAddress: '127.0.0.1' });
	const totp = await totpCode(b, 'vera');
	const t0 = Date.now();
	c.send({ type: 'login', user: 'vera', password: PW, totp, id: 'real' });
	const session = await c.next(undefined, 10000);
	return { c, session, ms: Date.now() - t0 };
}

test('60 wrong logins from one source leave the owner a prompt login from another', async () => {
	// The same login on a quiet daemon, for scale: the machine may be
	// slow (a sanitizer build, other work). The first login of a daemon
	// also makes the hash unknown names are checked against; the second
	// is the measure.
	let quiet;
	for (let i = 0; i < 2; i++) {
		quiet = await timedLogin();
		assert.equal(quiet.session.type, 'session', JSON.stringify(quiet.session));
		quiet.c.close();
	}
	const codes = [];
	let sent = 0;
	// Ten at a time, 60 in all, running while the owner logs in.
	const worker = async () => {
		while (sent < 60) {
			sent++;
			codes.push(await bogusLogin());
		}
	};
	const storm = Promise.all(Array.from({ length: 10 }, worker));
	while (sent < 30) await new Promise((r) => setTimeout(r, 10));

	const { c: vera, session, ms: took } = await timedLogin();
	console.log(`# the owner's login took ${took} ms during the storm, ${quiet.ms} ms on a quiet daemon`);
	assert.equal(session.type, 'session', JSON.stringify(session));
	assert.equal(session.user.alias, 'Vera');
	// At most two checks from the storm's source are ahead of it: well
	// under 1.5 s on an idle machine (the figure is logged above). The
	// bound is loose, a few quiet logins' time, because a loaded machine
	// (a sanitizer build, parallel tests, the storm's own TLS handshakes
	// on the loop) stretches every check; before the per-source cap the
	// owner was refused outright, which the session check above catches.
	const bound = Math.max(3000, 10 * quiet.ms);
	assert.ok(took < bound, `the owner's login took ${took} ms (bound ${bound} ms)`);
	await storm;
	console.log(`# codes: ${JSON.stringify(codes)}`);

	assert.equal(codes.length, 60);
	assert.ok(codes.every((c) => c === 'unauthorized' || c === 'rate_limited' || c === 'refused'),
		JSON.stringify(codes));
	// Most were refused without a password check.
	assert.ok(codes.filter((c) => c === 'rate_limited').length >= 40, JSON.stringify(codes));

	// The source is locked out, even with the right password (a last
	// wrong attempt or few may still be needed: most never reached the
	// check that counts)...
	for (let i = 0; i < 5 && await bogusLogin() !== 'rate_limited'; i++);
	const c = await connectStaff(b, { localAddress: '127.0.0.2' });
	c.send({ type: 'login', user: 'vera', password: PW, totp: '000000' });
	assert.equal((await c.next('error')).code, 'rate_limited');
	c.close();
	// ...the owner is not: a second login from its own address works.
	vera.close();
	const again = await loginStaff(b, 'vera', PW, { localAddress: '127.0.0.1' });
	assert.equal(again.session.user.alias, 'Vera');
	again.close();
}, { timeout: 60000 });
