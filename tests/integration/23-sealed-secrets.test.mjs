// Secrets at rest (issue 10, point 5): accounts made by the CLI and by a
// coordinator log in with their second factor, yet a copy of brug.db taken
// after brugd stops holds no TOTP secret that anything decodes: every column
// of the staff table is read with sqlite3 and tried as the secret, as
// base32, as base64 and as raw bytes. Without its key file brugd refuses to
// start and makes no new key; with a key others may read, too. Audit
// entries older than [staff] audit_retention_days go at the next start.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, chmodSync, existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
	startBrugd, connectStaff, loginStaff, totpCode, base32Decode, hotp, totpStep, otpauthSecret,
} from '../lib/brugd.mjs';

const PW = 'integration-test-password-23';
const NEW_PW = 'a-new-password-for-vera-23';
const DAY_MS = 24 * 3600 * 1000;
let b;
let again = null;
// Every secret handed out, the one replaced by a new authenticator too.
const printed = [];
const copyDir = mkdtempSync(path.join(tmpdir(), 'brug-copy-'));

before(async () => {
	b = await startBrugd({
		staff: [
			{ user: 'cora', alias: 'Cora', roles: 'coordinator', langs: 'nl', password: PW },
			{ user: 'wim', alias: 'Wim', roles: 'volunteer', langs: 'nl,ar', password: PW },
		],
		config: { staff: { audit_retention_days: 30 } },
	});
}, { timeout: 60000 });

after(async () => {
	if (again) await again.stop();
	if (b) {
		await b.stop();
		await b.cleanup();
	}
	rmSync(copyDir, { recursive: true, force: true });
});

let seq = 0;
async function ask(c, msg) {
	const id = `q-${++seq}`;
	c.send({ ...msg, id });
	return c.waitFor((f) => f.id === id);
}

function sqlite(db, sql, args = []) {
	const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', ...args, db, sql], { encoding: 'utf8', timeout: 10000 });
	assert.equal(r.status, 0, `sqlite3 ${sql}: ${r.stderr}`);
	return r.stdout;
}

// Run brugd with args on b's config and state; resolves with its exit.
function runBrugd(args) {
	return spawnSync(b.brugdPath, ['-f', b.configPath, '--state-dir', b.stateDir, ...args], {
		encoding: 'utf8', timeout: 15000, input: '',
	});
}

// Start brugd again on b's state directory, as after a reboot.
async function restart() {
	const child = spawn(b.brugdPath, ['-f', b.configPath, '--state-dir', b.stateDir, '--port', '0'], {
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const lines = [];
	const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
	const port = await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`no "listening" within 15 s:\n${lines.join('\n')}`)), 15000);
		exited.then((info) => { clearTimeout(timer); reject(new Error(`brugd exited ${JSON.stringify(info)}:\n${lines.join('\n')}`)); });
		createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
		createInterface({ input: child.stdout }).on('line', (l) => {
			lines.push(l);
			const m = /listening on port (\d+)/.exec(l);
			if (m) { clearTimeout(timer); resolve(Number(m[1])); }
		});
	});
	return {
		port,
		origin: `https://localhost:${port}`,
		caPath: b.caPath,
		stateDir: b.stateDir,
		totp: b.totp,
		logs: () => lines.slice(),
		async stop() {
			child.kill('SIGTERM');
			return exited;
		},
	};
}

// A TOTP code of the key bytes at each of the steps: a candidate "decodes"
// only if all four match the real secret's, so that chance (one in a
// million per step) cannot make the test fail.
function codes(key, step) {
	return [0, 1, 2, 3].map((i) => hotp(key, step + i));
}

// Every way a value read from the database could be a secret: as it is,
// as base32 (the form staff add prints), as base64 and hex of the part
// after a "v1:" or not, and its raw bytes as a key.
function candidates(value) {
	const text = String(value);
	const out = [Buffer.from(text, 'utf8')];
	for (const t of [text, text.replace(/^v1:/, '')]) {
		try { out.push(base32Decode(t)); } catch { /* not base32 */ }
		out.push(Buffer.from(t, 'base64'));
		if (/^[0-9a-fA-F]+$/.test(t)) out.push(Buffer.from(t, 'hex'));
	}
	return out.filter((buf) => buf.length > 0);
}

test('accounts made by the CLI and by a coordinator log in with their second factor', { timeout: 60000 }, async () => {
	for (const [user, t] of b.totp) printed.push({ user, secret: t.secret });
	const cora = await loginStaff(b, 'cora', PW);
	const wim = await loginStaff(b, 'wim', PW);
	assert.equal(wim.session.type, 'session');

	const created = await ask(cora, {
		type: 'staff_create', user: 'vera', alias: 'Vera', roles: ['volunteer'], langs: ['nl'],
	});
	assert.equal(created.type, 'staff_created', JSON.stringify(created));
	b.setTotpSecret('vera', created.otpauth);
	printed.push({ user: 'vera', secret: otpauthSecret(created.otpauth) });
	const first = await connectStaff(b);
	first.send({ type: 'login', user: 'vera', reset_code: created.reset_code, password: NEW_PW, totp: await totpCode(b, 'vera'), id: 'first' });
	assert.equal((await first.next()).type, 'session');

	// A new authenticator for wim, made in the console: its secret is
	// the one that counts from now on.
	const tr = await ask(cora, { type: 'totp_reset', user: 'wim' });
	assert.equal(tr.type, 'totp_reset', JSON.stringify(tr));
	// The step last used stays with the account (a code works once).
	const lastStep = b.totp.get('wim').lastStep;
	b.setTotpSecret('wim', tr.otpauth);
	b.totp.get('wim').lastStep = lastStep;
	printed.push({ user: 'wim (new)', secret: otpauthSecret(tr.otpauth) });
	const wim2 = await loginStaff(b, 'wim', PW);
	assert.equal(wim2.session.user.user, 'wim');

	// A wrong code is still refused: the sealed secret is really checked.
	const real = await totpCode(b, 'cora');
	const wrong = String((Number(real) + 1) % 1000000).padStart(6, '0');
	const bad = await connectStaff(b);
	bad.send({ type: 'login', user: 'cora', password: PW, totp: wrong });
	assert.equal((await bad.next('error')).code, 'unauthorized');

	for (const c of [cora, wim, wim2, first, bad]) c.close();
	await b.stop();
});

test('a copy of brug.db holds no TOTP secret that decodes', () => {
	const secrets = printed;
	assert.equal(secrets.length, 4);
	const copy = path.join(copyDir, 'brug.db');
	copyFileSync(path.join(b.stateDir, 'brug.db'), copy);
	assert.ok(!existsSync(path.join(b.stateDir, 'brug.db-journal')), 'brugd left a journal');

	const rows = JSON.parse(sqlite(copy, 'SELECT * FROM staff', ['-json']));
	assert.equal(rows.length, 3);
	const step = totpStep();
	let tried = 0;
	for (const { user, secret } of secrets) {
		const key = base32Decode(secret);
		const real = codes(key, step);
		for (const row of rows) {
			for (const [col, value] of Object.entries(row)) {
				if (value === null) continue;
				const text = String(value);
				assert.notEqual(text.toUpperCase(), secret, `${row.username}.${col} is ${user}'s secret`);
				assert.ok(!text.toUpperCase().includes(secret), `${row.username}.${col} holds ${user}'s secret`);
				for (const cand of candidates(value)) {
					tried++;
					assert.ok(!cand.equals(key), `${row.username}.${col} decodes to ${user}'s key`);
					assert.notDeepEqual(codes(cand, step), real,
						`${row.username}.${col} gives ${user}'s TOTP codes`);
				}
			}
		}
	}
	console.log(`# ${tried} candidate keys tried against ${secrets.length} secrets`);

	// What is there instead: a v1 blob per account, all different.
	const sealed = rows.map((r) => r.totp_secret);
	for (const s of sealed) assert.match(s, /^v1:[A-Za-z0-9+/]{96}$/);
	assert.equal(new Set(sealed).size, sealed.length);

	// Not anywhere in the file either, in base32 or as raw key bytes.
	const raw = readFileSync(copy);
	for (const { secret } of secrets) {
		assert.equal(raw.indexOf(Buffer.from(secret)), -1);
		assert.equal(raw.indexOf(Buffer.from(secret.toLowerCase())), -1);
		assert.equal(raw.indexOf(base32Decode(secret)), -1);
	}

	// The key sits beside it, private; the secrets are in it only with it.
	const key = statSync(path.join(b.stateDir, 'secret.key'));
	assert.equal(key.mode & 0o777, 0o600);
	assert.equal(key.size, 32);
	assert.equal(raw.indexOf(readFileSync(path.join(b.stateDir, 'secret.key'))), -1);
});

test('without its key file brugd refuses to start and makes no new key', () => {
	const keyPath = path.join(b.stateDir, 'secret.key');
	const saved = path.join(copyDir, 'secret.key');
	renameSync(keyPath, saved);
	try {
		const r = runBrugd(['--port', '0']);
		assert.notEqual(r.status, 0, `brugd started without its key:\n${r.stdout}${r.stderr}`);
		assert.match(r.stderr, /the key file \S+secret\.key is missing, but the database holds 3 sealed second-factor secrets/);
		assert.match(r.stderr, /restore it from the backup/);
		assert.ok(!existsSync(keyPath), 'a new key was made');
		// The CLI refuses the same way.
		const cli = runBrugd(['staff', 'list']);
		assert.equal(cli.status, 1, cli.stderr);
		assert.match(cli.stderr, /secret\.key is missing/);
		assert.ok(!existsSync(keyPath), 'the CLI made a new key');
	} finally {
		renameSync(saved, keyPath);
	}

	// A key the group may read is refused too.
	chmodSync(keyPath, 0o640);
	try {
		const r = runBrugd(['--port', '0']);
		assert.notEqual(r.status, 0);
		assert.match(r.stderr, /secret\.key has mode 0640; it must be readable by its owner only/);
	} finally {
		chmodSync(keyPath, 0o600);
	}
});

test('audit entries older than audit_retention_days are pruned at start; the key still opens the secrets', { timeout: 60000 }, async () => {
	const db = path.join(b.stateDir, 'brug.db');
	const now = Date.now();
	sqlite(db, `INSERT INTO audit(ts, actor, action, target) VALUES(${now - 31 * DAY_MS}, 'cli', 'old-entry', 'wim');`
		+ `INSERT INTO audit(ts, actor, action, target) VALUES(${now - 29 * DAY_MS}, 'cli', 'recent-entry', 'wim');`);
	const before = Number(sqlite(db, 'SELECT count(*) FROM audit').trim());

	again = await restart();
	const left = sqlite(db, 'SELECT action FROM audit ORDER BY id').trim().split('\n');
	assert.ok(!left.includes('old-entry'), `the old entry is still there: ${left}`);
	assert.ok(left.includes('recent-entry'));
	assert.ok(left.includes('create'));
	assert.equal(left.length, before - 1);
	assert.ok(again.logs().some((l) => /pruned 1 audit entry older than 30 days/.test(l)), again.logs().join('\n'));

	// After the restart every second factor still works.
	for (const [user, pw] of [['cora', PW], ['wim', PW], ['vera', NEW_PW]]) {
		const c = await loginStaff(again, user, pw);
		assert.equal(c.session.user.user, user);
		c.close();
	}
	await again.stop();
	again = null;
});
