// The install layout (docs/operations.md, "Installing"): `meson install
// --destdir` of this build into a temporary directory puts every file in
// its place, keeps an existing brugd.conf, and the installed brugd, with
// no paths in its config, serves the installed pages and a chat; the
// installed unit passes `systemd-analyze verify` and scores "OK" or better
// in `systemd-analyze security`.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import {
	mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, accessSync, constants,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBrugd, availableStaff, startChat, repoRoot } from '../lib/brugd.mjs';

const PW = 'integration-test-password-17';
const buildDir = process.env.BRUG_BUILD_DIR;
const meson = process.env.MESON || 'meson';
const confPath = process.env.BRUG_INSTALLED_CONF;
let destdir, installed, b;

function run(cmd, args, opts = {}) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, ...opts });
	if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
	return r;
}

function mustRun(cmd, args, opts = {}) {
	const r = run(cmd, args, opts);
	if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
	return r;
}

// Where `meson install` puts a file of the build, under destdir.
function dest(p) {
	return path.join(destdir, p);
}

function install() {
	// DESTDIR from the environment would be added twice.
	const env = { ...process.env };
	delete env.DESTDIR;
	return mustRun(meson, ['install', '-C', buildDir, '--no-rebuild', '--destdir', destdir], { env });
}

before(() => {
	assert.ok(buildDir, 'BRUG_BUILD_DIR is set (meson test sets it)');
	assert.ok(confPath, 'BRUG_INSTALLED_CONF is set (meson test sets it)');
	// Outside the build tree, or brugd would take itself for an uninstalled one.
	destdir = mkdtempSync(path.join(tmpdir(), 'brug-install-'));
	install();
	const map = JSON.parse(mustRun(meson, ['introspect', buildDir, '--installed']).stdout);
	installed = (suffix) => {
		const hit = Object.values(map).find((p) => p.endsWith(suffix));
		assert.ok(hit, `meson installs something ending in ${suffix}: ${JSON.stringify(map)}`);
		return hit;
	};
}, { timeout: 150000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
	if (destdir) rmSync(destdir, { recursive: true, force: true });
});

test('every file is installed in its place', () => {
	const brugd = installed('/brugd');
	assert.match(brugd, /\/sbin\/brugd$/);
	accessSync(dest(brugd), constants.X_OK);
	const data = path.resolve(installed('/brug/locales/daemon/nl.res'), '../../..');
	assert.match(data, /\/share\/brug$/);
	for (const lang of ['root', 'nl', 'ar', 'ti', 'tr', 'en']) {
		for (const pkg of ['daemon', 'client']) assert.ok(existsSync(dest(`${data}/locales/${pkg}/${lang}.res`)), `${pkg}/${lang}.res`);
	}
	assert.equal(readFileSync(dest(`${data}/web-client/index.html`), 'utf8'),
		readFileSync(path.join(repoRoot, 'web-client', 'index.html'), 'utf8'));
	assert.ok(existsSync(dest(`${data}/web-client/staff`)));
	// The module both pages import (install_subdir takes every file).
	assert.ok(existsSync(dest(`${data}/web-client/socket.js`)));
	assert.ok(existsSync(dest(installed('/man8/brugd.8'))));
	assert.ok(existsSync(dest(installed('/man5/brugd.conf.5'))));
	assert.match(installed('/brugd.service'), /\/lib\/systemd\/system\/brugd\.service$/);
	assert.match(installed('/sysusers.d/brugd.conf'), /\/lib\/sysusers\.d\/brugd\.conf$/);
	assert.match(readFileSync(dest(installed('/sysusers.d/brugd.conf')), 'utf8'), /^u brug /m);
	// The example config becomes SYSCONFDIR/brug/brugd.conf.
	assert.equal(readFileSync(dest(confPath), 'utf8'), readFileSync(path.join(repoRoot, 'config', 'example.conf'), 'utf8'));
	const unit = readFileSync(dest(installed('/brugd.service')), 'utf8');
	assert.ok(unit.includes(`ExecStart=${brugd} -f ${confPath}\n`), unit);
	assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
	assert.doesNotMatch(unit, /@[A-Z_]+@/, 'every placeholder replaced');
});

test('installing again keeps an edited brugd.conf', () => {
	writeFileSync(dest(confPath), '# edited by the admin\n');
	install();
	assert.equal(readFileSync(dest(confPath), 'utf8'), '# edited by the admin\n');
});

function get(port, ca, pathname) {
	return new Promise((resolve, reject) => {
		const req = https.get({ host: 'localhost', port, path: pathname, ca, agent: false }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
		});
		req.on('error', reject);
		req.setTimeout(5000, () => req.destroy(new Error('timeout')));
	});
}

test('the installed brugd serves its installed pages and a chat with no paths in its config', { timeout: 60000 }, async () => {
	b = await startBrugd({
		brugd: dest(installed('/brugd')),
		// No web_root (the harness sets one otherwise) and no locales_dir.
		config: { server: { web_root: null } },
		staff: [{ user: 'ines', alias: 'Ines', roles: 'volunteer', langs: 'nl', password: PW }],
	});
	const conf = readFileSync(b.configPath, 'utf8');
	assert.doesNotMatch(conf, /web_root|locales_dir/);
	const line = b.logs().find((l) => /web pages from /.test(l));
	assert.ok(line, b.logs().join('\n'));
	const data = path.resolve(dest(installed('/brug/locales/daemon/nl.res')), '../../..');
	assert.ok(line.includes(`web pages from ${data}/web-client,`), line);
	assert.ok(line.includes(`bundles from ${data}/locales`), line);

	const ca = readFileSync(b.caPath);
	const page = await get(b.port, ca, '/');
	assert.equal(page.status, 200);
	assert.match(page.body, /<html/);
	const labels = await get(b.port, ca, '/i18n/ar.json');
	assert.equal(labels.status, 200);
	assert.equal(JSON.parse(labels.body).dir, 'rtl');

	const s = await availableStaff(b, 'ines', PW);
	const { v, chat } = await startChat(b, s, { lang: 'nl' });
	v.send({ type: 'msg', text: 'hallo' });
	assert.equal((await s.waitFor({ type: 'msg', chat })).text, 'hallo');
	s.send({ type: 'msg', chat, text: 'hoi, ik ben Ines' });
	assert.equal((await v.waitFor({ type: 'msg', from: 'staff' })).text, 'hoi, ik ben Ines');
	v.send({ type: 'end' });
	v.close();
	s.close();
});

// systemd-analyze checks that ExecStart= and friends exist, so it must see
// the installed tree at the prefix it was built for: in a private mount
// namespace with destdir's prefix bound over the real one where that is
// allowed (root in CI), else on a copy of the unit with the prefix moved
// into destdir. Man pages are looked up through MANPATH either way.
function analyze(args) {
	const unit = installed('/brugd.service');
	const prefix = unit.slice(0, unit.indexOf('/lib/systemd/system/'));
	const env = { ...process.env, MANPATH: dest(`${prefix}/share/man`), SYSTEMD_LOG_COLOR: '0' };
	const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
	const ns = run('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
		`mount --bind ${q(dest(prefix))} ${q(prefix)} && exec systemd-analyze ${args.map(q).join(' ')} ${q(unit)}`],
	{ env });
	if (ns.status === 0 || !/unshare|mount/.test(ns.stderr)) return { ...ns, how: 'namespace' };
	const dir = mkdtempSync(path.join(tmpdir(), 'brug-unit-'));
	try {
		const copy = path.join(dir, 'brugd.service');
		writeFileSync(copy, readFileSync(dest(unit), 'utf8').split(`${prefix}/`).join(`${dest(prefix)}/`));
		return { ...run('systemd-analyze', [...args, copy], { env }), how: `copy (${ns.stderr.trim()})` };
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

test('systemd-analyze verify accepts the installed unit', { timeout: 60000 }, () => {
	const probe = run('systemd-analyze', ['--version']);
	assert.equal(probe.status, 0, 'systemd-analyze is installed (scripts/setup.sh --tests installs systemd)');
	const r = analyze(['verify']);
	assert.equal(r.status, 0, `verify (${r.how}):\n${r.stdout}${r.stderr}`);
	assert.equal(`${r.stdout}${r.stderr}`.trim(), '', `verify printed warnings (${r.how}):\n${r.stdout}${r.stderr}`);
});

test('systemd-analyze security rates the installed unit OK or better', { timeout: 60000 }, () => {
	const r = analyze(['security', '--offline=yes', '--no-pager']);
	const m = /Overall exposure level for brugd\.service: ([\d.]+) (\w+)/.exec(r.stdout);
	assert.ok(m, `security (${r.how}):\n${r.stdout}${r.stderr}`);
	assert.ok(['PERFECT', 'SAFE', 'OK'].includes(m[2]), `exposure ${m[1]} ${m[2]}`);
	assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} (docs/operations.md gives the figure)`);
});
