// SIGHUP reloads the config and the certificate without ending anything:
// new TLS handshakes get a renewed certificate while an open chat keeps
// relaying and a waiting visitor keeps its place; a broken config or
// certificate changes nothing and says why; applied keys take effect
// (docs/operations.md, "Reloading").
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
	startBrugd, connectVisitor, availableStaff, visitorHello, startChat, expectHandshakeRefused, sync,
} from '../lib/brugd.mjs';

const PW = 'integration-test-password-16';
const PARTNER = 'https://partner.example';
let b, baseConfig;

before(async () => {
	b = await startBrugd({
		config: { chat: { grace_seconds: 60 } },
		staff: [
			{ user: 'anna', alias: 'Anna', roles: 'volunteer', langs: 'nl', maxChats: 1, password: PW },
			{ user: 'bo', alias: 'Bo', roles: 'volunteer', langs: 'en', maxChats: 1, password: PW },
		],
	});
	baseConfig = readFileSync(b.configPath, 'utf8');
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

// The config file as the harness wrote it, with `lines` added at the top
// of [section] and keys in `drop` removed.
function configWith(changes = {}, drop = []) {
	let text = baseConfig;
	for (const key of drop) text = text.replace(new RegExp(`^${key} = .*\\n`, 'm'), '');
	for (const [section, lines] of Object.entries(changes)) {
		if (!text.includes(`[${section}]\n`)) text += `\n[${section}]\n`;
		text = text.replace(`[${section}]\n`, `[${section}]\n${lines.join('\n')}\n`);
	}
	return text;
}

// Send SIGHUP and resolve with the first log line after it matching re.
async function hup(re, timeoutMs = 10000) {
	const from = b.logs().length;
	b.process.kill('SIGHUP');
	const until = Date.now() + timeoutMs;
	for (;;) {
		const line = b.logs().slice(from).find((l) => re.test(l));
		if (line) return line;
		if (Date.now() > until) {
			throw new Error(`no log line matching ${re} after SIGHUP:\n${b.logs().slice(from).join('\n')}`);
		}
		await new Promise((r) => setTimeout(r, 50));
	}
}

// The serial of the certificate a new TLS handshake gets, verified against
// the test CA, as a BigInt.
function servedSerial() {
	return new Promise((resolve, reject) => {
		const sock = tls.connect({ host: 'localhost', servername: 'localhost', port: b.port,
			ca: readFileSync(b.caPath) }, () => {
			const serial = sock.getPeerCertificate().serialNumber;
			sock.end();
			resolve(BigInt(`0x${serial}`));
		});
		sock.on('error', reject);
		sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
	});
}

function openssl(args, cwd) {
	const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 30000 });
	if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
	return r.stdout;
}

// A new leaf for localhost from the test CA (as a renewal brings), put in
// place of server.pem and server-key.pem the way a deploy hook does: each
// file written aside, then renamed. Returns its serial as a BigInt.
function renewCertificate(keyKind = 'ec') {
	const dir = mkdtempSync(path.join(b.stateDir, '.renew-'));
	const serial = BigInt(`0x${randomBytes(16).toString('hex')}`) | 1n;
	const keyArgs = keyKind === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
		: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
	try {
		openssl(['genpkey', ...keyArgs, '-out', 'key.pem'], dir);
		openssl(['req', '-new', '-key', 'key.pem', '-subj', '/CN=localhost', '-out', 'req.csr'], dir);
		writeFileSync(path.join(dir, 'ext.cnf'), [
			'basicConstraints = critical, CA:FALSE',
			'keyUsage = critical, digitalSignature',
			'extendedKeyUsage = serverAuth',
			'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
			'',
		].join('\n'));
		openssl(['x509', '-req', '-in', 'req.csr', '-CA', b.caPath, '-CAkey', path.join(b.stateDir, 'ca-key.pem'),
			'-set_serial', `0x${serial.toString(16)}`, '-days', '30', '-sha256', '-extfile', 'ext.cnf',
			'-out', 'leaf.pem'], dir);
		writeFileSync(path.join(dir, 'chain.pem'),
			readFileSync(path.join(dir, 'leaf.pem'), 'utf8') + readFileSync(b.caPath, 'utf8'));
		renameSync(path.join(dir, 'key.pem'), path.join(b.stateDir, 'server-key.pem'));
		renameSync(path.join(dir, 'chain.pem'), path.join(b.stateDir, 'server.pem'));
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
	return serial;
}

test('a renewed certificate on SIGHUP: new handshakes get it, the chat and the queue stay', { timeout: 60000 }, async () => {
	let anna, v1, v2;
	try {
		anna = await availableStaff(b, 'anna', PW);
		const { v, chat } = await startChat(b, anna, { lang: 'nl' });
		v1 = v;
		// Anna can take one chat: the second visitor waits, first in line.
		({ v: v2 } = await visitorHello(b, { lang: 'nl' }));
		assert.equal((await v2.next('queue')).position, 1);

		const oldSerial = await servedSerial();
		const openSerial = BigInt(`0x${v1.ws._socket.getPeerCertificate().serialNumber}`);
		assert.equal(openSerial, oldSerial);
		const newSerial = renewCertificate();
		assert.notEqual(newSerial, oldSerial);

		const line = await hup(/reloaded: .*certificate serial/);
		assert.ok(line.includes(newSerial.toString(16).toUpperCase()), line);
		assert.equal(await servedSerial(), newSerial, 'a new handshake gets the renewed certificate');

		// The open chat relays both ways, over the old TLS session.
		v1.send({ type: 'msg', text: 'still there?' });
		assert.equal((await anna.waitFor({ type: 'msg', chat, text: 'still there?' })).from, 'visitor');
		anna.send({ type: 'msg', chat, text: 'yes, still here' });
		assert.equal((await v1.waitFor({ type: 'msg', text: 'yes, still here' })).from, 'staff');
		assert.equal(BigInt(`0x${v1.ws._socket.getPeerCertificate().serialNumber}`), oldSerial);

		// The waiting visitor was not moved, told anything new or closed.
		await sync(v2);
		assert.deepEqual(v2.pending().filter((f) => f.type === 'queue' && f.position !== 1), []);
		assert.equal(v2.closeInfo, null);
		assert.equal(v1.closeInfo, null);
		assert.equal(anna.closeInfo, null);

		// A visitor connecting now, over the new certificate, queues behind it.
		const { v: v3 } = await visitorHello(b, { lang: 'nl' });
		assert.equal((await v3.next('queue')).position, 2);
		bye(v3);
	} finally {
		bye(v1, v2);
		anna?.close();
	}
});

test('a SIGHUP with a broken config or certificate changes nothing and says why', { timeout: 60000 }, async () => {
	const before = await servedSerial();
	// A bad value next to a change that would otherwise apply.
	writeFileSync(b.configPath, configWith({ server: [`origins = ${PARTNER}`], chat: ['grace_seconds = soon'] },
		['grace_seconds']));
	const line = await hup(/reload refused/);
	assert.match(line, /nothing changed/);
	assert.ok(line.includes(`${b.configPath}:`), `names the file: ${line}`);
	assert.match(line, /:\d+: /, `names the line: ${line}`);
	assert.match(line, /grace_seconds/, `names the key: ${line}`);
	assert.equal(await expectHandshakeRefused(`wss://localhost:${b.port}/ws/visitor`,
		{ protocol: 'brug-visitor.v1', origin: PARTNER }), 403, 'the new origin was not applied');

	// A key that does not belong to the certificate.
	writeFileSync(b.configPath, configWith({ server: [`origins = ${PARTNER}`] }));
	const keyPath = path.join(b.stateDir, 'server-key.pem');
	const goodKey = readFileSync(keyPath);
	openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
	try {
		const refused = await hup(/reload refused/);
		assert.match(refused, /does not belong to the certificate/);
	} finally {
		writeFileSync(keyPath, goodKey, { mode: 0o600 });
	}
	assert.equal(await servedSerial(), before, 'the running certificate stays');

	// A good certificate with a key of another kind (RSA after EC).
	const certPath = path.join(b.stateDir, 'server.pem');
	const goodCert = readFileSync(certPath);
	renewCertificate('rsa');
	try {
		const refused = await hup(/reload refused/);
		assert.match(refused, /another kind \(rsaEncryption\) than the running one \(id-ecPublicKey\)/);
	} finally {
		writeFileSync(keyPath, goodKey, { mode: 0o600 });
		writeFileSync(certPath, goodCert);
	}
	assert.equal(await servedSerial(), before, 'the running certificate stays');
	assert.equal(await expectHandshakeRefused(`wss://localhost:${b.port}/ws/visitor`,
		{ protocol: 'brug-visitor.v1', origin: PARTNER }), 403, 'the origin came with the refused reload');

	// Still serving chats.
	const { v } = await visitorHello(b, { lang: 'nl' });
	bye(v);
	writeFileSync(b.configPath, baseConfig);
});

function pageHeaders() {
	return new Promise((resolve, reject) => {
		const req = https.get({ host: 'localhost', port: b.port, path: '/', ca: readFileSync(b.caPath), agent: false },
			(res) => { res.resume(); resolve(res.headers); });
		req.on('error', reject);
		req.setTimeout(5000, () => req.destroy(new Error('timeout')));
	});
}

test('a SIGHUP applies grace_seconds, origins, frame_ancestors and alternative; port waits for a restart', { timeout: 60000 }, async () => {
	let bo, v, closedV, partnerV;
	try {
		await expectHandshakeRefused(`wss://localhost:${b.port}/ws/visitor`,
			{ protocol: 'brug-visitor.v1', origin: PARTNER });
		assert.match((await pageHeaders())['content-security-policy'], /frame-ancestors 'self'$/);
		bo = await availableStaff(b, 'bo', PW);
		// This chat's visitor drops after the reload, into the new grace.
		let chat;
		({ v, chat } = await startChat(b, bo, { lang: 'en' }));

		writeFileSync(b.configPath, configWith({
			server: [`origins = ${PARTNER}`, `frame_ancestors = 'self' ${PARTNER}`, 'port = 1'],
			chat: ['grace_seconds = 1', 'alternative = Reload test line: call 0800-1616'],
		}, ['grace_seconds', 'port']));
		const from = b.logs().length;
		await hup(/reloaded: 4 settings applied/);
		const logs = b.logs().slice(from).join('\n');
		assert.match(logs, /\[server\] port changed; it needs a restart/);
		assert.match(logs, /\[chat\] grace_seconds changed; applied/);

		// frame_ancestors, which goes with origins for an embedded widget.
		const csp = (await pageHeaders())['content-security-policy'];
		assert.match(csp, new RegExp(`frame-ancestors 'self' ${PARTNER.replace(/\./g, '\\.')}$`), csp);

		// origins: a partner page may now open the visitor socket.
		partnerV = await connectVisitor(b, { origin: PARTNER });
		partnerV.send({ type: 'hello', lang: 'en' });
		assert.equal((await partnerV.next('welcome')).type, 'welcome');

		// alternative: shown to a visitor nobody can take.
		closedV = await connectVisitor(b);
		closedV.send({ type: 'hello', lang: 'tr' });
		const closed = await closedV.next('closed');
		assert.ok(closed.text.includes('Reload test line: call 0800-1616'), closed.text);

		// grace_seconds: 1 s now instead of 60.
		const dropped = Date.now();
		v.terminate();
		const ended = await bo.waitFor({ type: 'ended', chat }, 15000);
		assert.equal(ended.by, 'timeout');
		assert.ok(Date.now() - dropped < 10000, `ended after ${Date.now() - dropped} ms`);

		// The port stays: this socket reached the running one.
		const { v: again } = await visitorHello(b, { lang: 'nl' });
		bye(again);
	} finally {
		bye(closedV, partnerV);
		bo?.close();
		writeFileSync(b.configPath, baseConfig);
	}
});

test('SIGTERM after reloads still ends chats with 1001 and exits 0', { timeout: 30000 }, async () => {
	const anna = await availableStaff(b, 'anna', PW);
	const { v } = await startChat(b, anna, { lang: 'nl' });
	const info = await b.stop();
	assert.equal(info.signal, null);
	assert.equal(info.code, 0);
	assert.equal((await v.closed()).code, 1001);
	assert.equal((await anna.closed()).code, 1001);
});
