// brugd's TLS as outside scanners see it: testssl.sh reports no finding of
// severity LOW or higher, and sslscan shows the Mozilla "intermediate"
// profile (TLS 1.2 and 1.3 only, its cipher list, X25519 / P-256 / P-384,
// no compression, no renegotiation started by the client).
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { startBrugd, repoRoot } from '../lib/brugd.mjs';

// Findings that describe the test machine, not brugd: localhost has no DNS
// CAA record, and no DNS server here could publish one.
const NOT_BRUGD = new Set(['DNS_CAArecord']);
// testssl.sh's own notes about the scanning host, not about the server.
const SCANNER_NOTES = new Set(['engine_problem', 'scanProblem']);
// testssl.sh's ticket resumption check closes its client's input at once
// and races the TLS 1.3 NewSessionTicket, so on a busy machine it can end
// in "connect problem". The test below checks resumption itself.
const RACY = new Set(['sessionresumption_ticket']);
const RANKED = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

// Mozilla's intermediate profile (server side TLS, version 5.7).
const INTERMEDIATE_TLS12 = new Set([
	'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
	'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
	'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
	'DHE-RSA-AES128-GCM-SHA256', 'DHE-RSA-AES256-GCM-SHA384', 'DHE-RSA-CHACHA20-POLY1305',
]);
const INTERMEDIATE_TLS13 = new Set([
	'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
]);
const INTERMEDIATE_GROUPS = new Set(['x25519', 'secp256r1', 'secp384r1']);

let b, certDir;

function run(cmd, args, timeoutMs) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
	if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
	return r;
}

// A server certificate like a public CA's: the scanners rightly flag one
// that names no way to revoke it, so this one carries a CRL distribution
// point (never fetched: scanners do not phone out unless asked).
function makeCertificate(dir) {
	const mk = run('bash', [path.join(repoRoot, 'config', 'dev-cert.sh'), dir, 'localhost'], 30000);
	assert.equal(mk.status, 0, mk.stderr);
	writeFileSync(path.join(dir, 'leaf.ext'), [
		'basicConstraints = critical, CA:FALSE',
		'keyUsage = critical, digitalSignature',
		'extendedKeyUsage = serverAuth',
		'subjectKeyIdentifier = hash',
		'authorityKeyIdentifier = keyid',
		'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
		'crlDistributionPoints = URI:http://localhost/brug-test-ca.crl',
		'',
	].join('\n'));
	const openssl = (...args) => {
		const r = run('openssl', args, 30000);
		assert.equal(r.status, 0, `openssl ${args[0]}: ${r.stderr}`);
	};
	openssl('req', '-new', '-key', path.join(dir, 'server-key.pem'), '-subj', '/CN=localhost',
		'-out', path.join(dir, 'leaf.csr'));
	openssl('x509', '-req', '-in', path.join(dir, 'leaf.csr'), '-CA', path.join(dir, 'ca.pem'),
		'-CAkey', path.join(dir, 'ca-key.pem'), '-set_serial', '0x' + randomBytes(16).toString('hex'),
		'-days', '90', '-sha256', '-extfile', path.join(dir, 'leaf.ext'), '-out', path.join(dir, 'leaf.pem'));
	writeFileSync(path.join(dir, 'chain.pem'),
		readFileSync(path.join(dir, 'leaf.pem'), 'utf8') + readFileSync(path.join(dir, 'ca.pem'), 'utf8'));
}

before(async () => {
	certDir = mkdtempSync(path.join(tmpdir(), 'brug-scan-'));
	makeCertificate(certDir);
	b = await startBrugd({
		config: { tls: { cert: path.join(certDir, 'chain.pem'), key: path.join(certDir, 'server-key.pem') } },
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
	if (certDir) rmSync(certDir, { recursive: true, force: true });
});

test('testssl.sh finds nothing of severity LOW or higher', { timeout: 900000 }, () => {
	const json = path.join(certDir, 'testssl.json');
	const r = run('testssl', ['--quiet', '--color', '0', '--warnings', 'off', '--add-ca', path.join(certDir, 'ca.pem'),
		'--ip', '127.0.0.1', '--jsonfile', json, `https://localhost:${b.port}/`], 840000);
	let findings;
	try {
		findings = JSON.parse(readFileSync(json, 'utf8'));
	} catch (e) {
		assert.fail(`testssl.sh wrote no report (exit ${r.status}): ${e.message}\n${r.stdout.slice(-4000)}${r.stderr}`);
	}
	assert.ok(findings.length > 0, 'testssl.sh reported nothing at all: did it scan?');
	const bad = findings.filter((f) => RANKED.includes(f.severity) && !NOT_BRUGD.has(f.id));
	const odd = findings.filter((f) => !RANKED.includes(f.severity) && !SCANNER_NOTES.has(f.id) && !RACY.has(f.id) &&
		!['OK', 'INFO'].includes(f.severity));
	const show = (list) => list.map((f) => `${f.severity} ${f.id}: ${f.finding}`).join('\n');
	assert.equal(bad.length, 0, `testssl.sh findings:\n${show(bad)}`);
	assert.equal(odd.length, 0, `testssl.sh could not judge:\n${show(odd)}`);
	// It did look at the certificate and the protocols, not only at DNS.
	const trust = findings.find((f) => f.id === 'cert_chain_of_trust');
	assert.ok(trust, 'no certificate checks in the report');
	assert.equal(trust.severity, 'OK', `chain of trust: ${trust.finding}`);
	assert.ok(findings.some((f) => f.id === 'TLS1_3'), 'no protocol checks in the report');
});

// sslscan's XML names every element and attribute we read; a small reader
// of those is enough.
function elements(xml, name) {
	const out = [];
	const re = new RegExp(`<${name}\\s([^>]*?)/?>`, 'g');
	for (const m of xml.matchAll(re)) {
		const attrs = {};
		for (const a of m[1].matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1]] = a[2];
		out.push(attrs);
	}
	return out;
}

test('sslscan shows the Mozilla intermediate profile', { timeout: 120000 }, () => {
	const xmlPath = path.join(certDir, 'sslscan.xml');
	const r = run('sslscan', ['--no-colour', `--xml=${xmlPath}`, `localhost:${b.port}`], 100000);
	assert.equal(r.status, 0, r.stderr);
	const xml = readFileSync(xmlPath, 'utf8');

	const protocols = new Map(elements(xml, 'protocol').map((p) => [`${p.type}${p.version}`, p.enabled]));
	assert.deepEqual(Object.fromEntries(protocols), {
		'ssl2': '0', 'ssl3': '0', 'tls1.0': '0', 'tls1.1': '0', 'tls1.2': '1', 'tls1.3': '1',
	});

	const ciphers = elements(xml, 'cipher').filter((c) => c.status === 'accepted' || c.status === 'preferred');
	assert.ok(ciphers.length > 0, 'sslscan saw no cipher');
	for (const c of ciphers) {
		const allowed = c.sslversion === 'TLSv1.3' ? INTERMEDIATE_TLS13 : INTERMEDIATE_TLS12;
		assert.ok(['TLSv1.2', 'TLSv1.3'].includes(c.sslversion), `cipher on ${c.sslversion}`);
		assert.ok(allowed.has(c.cipher), `${c.sslversion} ${c.cipher} is not in the intermediate profile`);
	}
	assert.ok(ciphers.some((c) => c.sslversion === 'TLSv1.3'), 'no TLS 1.3 suite accepted');

	const groups = elements(xml, 'group');
	assert.ok(groups.length > 0, 'sslscan saw no key exchange group');
	for (const g of groups) {
		const name = g.name.split(' ')[0].toLowerCase();
		assert.ok(INTERMEDIATE_GROUPS.has(name), `group ${g.name} is not in the intermediate profile`);
	}
	assert.ok(groups.some((g) => g.name.toLowerCase().startsWith('x25519')), 'X25519 is not offered');

	for (const c of elements(xml, 'compression')) assert.notEqual(c.supported, '1', 'TLS compression is on');
	const reneg = elements(xml, 'renegotiation');
	assert.equal(reneg.length, 1, 'sslscan did not test renegotiation');
	assert.equal(reneg[0].supported, '0', 'the client can renegotiate');
});

// What testssl.sh's racy check looks for: a session resumed from a ticket,
// on TLS 1.3 and on TLS 1.2.
function connect(opts) {
	return new Promise((resolve, reject) => {
		let session = null;
		const sock = tls.connect({
			host: '127.0.0.1', servername: 'localhost', port: b.port,
			ca: readFileSync(path.join(certDir, 'ca.pem')), ...opts,
		});
		sock.on('session', (s) => { session = s; });
		sock.on('secureConnect', () => {
			const reused = sock.isSessionReused();
			// The TLS 1.3 ticket comes after the handshake: wait for it.
			const started = Date.now();
			const wait = () => {
				if (session || reused || Date.now() - started > 3000) {
					sock.end();
					resolve({ reused, session });
				} else {
					setTimeout(wait, 20);
				}
			};
			wait();
		});
		sock.on('error', reject);
		sock.setTimeout(10000, () => sock.destroy(new Error('timeout')));
	});
}

test('a TLS session resumes from its ticket (TLS 1.2 and 1.3)', { timeout: 60000 }, async () => {
	for (const version of ['TLSv1.2', 'TLSv1.3']) {
		const opts = { minVersion: version, maxVersion: version };
		const first = await connect(opts);
		assert.equal(first.reused, false);
		assert.ok(first.session, `${version}: no session ticket arrived`);
		const second = await connect({ ...opts, session: first.session });
		assert.equal(second.reused, true, `${version}: the session was not resumed`);
	}
});
