// The HTTPS side: security headers on the page, TLS 1.2 or newer only,
// HTTP/1.1 only. The test CA is used; verification is never turned off.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { startBrugd } from '../lib/brugd.mjs';

let b, ca;

before(async () => {
	b = await startBrugd();
	ca = readFileSync(b.caPath);
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

function get(pathname, headers = {}) {
	return new Promise((resolve, reject) => {
		const req = https.get({ host: 'localhost', port: b.port, path: pathname, ca, headers, agent: false }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
		});
		req.on('error', reject);
		req.setTimeout(5000, () => req.destroy(new Error('timeout')));
	});
}

// Connect with the given TLS options; resolves with the socket's facts or
// rejects with the handshake error.
function handshake(opts) {
	return new Promise((resolve, reject) => {
		const sock = tls.connect({ host: 'localhost', servername: 'localhost', port: b.port, ca, ...opts }, () => {
			const info = {
				protocol: sock.getProtocol(),
				alpn: sock.alpnProtocol,
				authorized: sock.authorized,
			};
			sock.end();
			resolve(info);
		});
		sock.on('error', reject);
		sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
	});
}

function directives(csp) {
	const out = new Map();
	for (const part of csp.split(';')) {
		const [name, ...values] = part.trim().split(/\s+/);
		if (name) out.set(name.toLowerCase(), values);
	}
	return out;
}

test('GET / answers 200 with the security headers', { timeout: 15000 }, async () => {
	const res = await get('/');
	assert.equal(res.status, 200);
	assert.match(res.headers['content-type'] ?? '', /^text\/html/);
	const h = res.headers;

	const csp = h['content-security-policy'];
	assert.ok(csp, 'content-security-policy is set');
	const d = directives(csp);
	const connect = d.get('connect-src');
	assert.ok(connect, `connect-src in ${csp}`);
	assert.ok(connect.includes("'self'"), `connect-src has 'self': ${csp}`);
	assert.ok(connect.includes(`wss://localhost:${b.port}`), `connect-src has wss://localhost:${b.port}: ${csp}`);
	assert.ok(d.has('frame-ancestors'), `frame-ancestors in ${csp}`);
	assert.ok(d.get('frame-ancestors').length > 0);

	assert.match(h['strict-transport-security'] ?? '', /max-age=\d+/);
	assert.equal(h['referrer-policy'], 'no-referrer');
	assert.equal(h['x-content-type-options'], 'nosniff');
	assert.match(h['cache-control'] ?? '', /no-store/);
	assert.ok(h['cross-origin-opener-policy'], 'cross-origin-opener-policy is set');
	assert.ok(h['permissions-policy'], 'permissions-policy is set');
	assert.equal(h['set-cookie'], undefined, 'no cookies');
	assert.ok(res.body.length > 0);
});

test('no cookie on any answer, not even a missing page', { timeout: 15000 }, async () => {
	const res = await get('/no-such-page-' + Date.now());
	assert.equal(res.status, 404);
	assert.equal(res.headers['set-cookie'], undefined);
	assert.equal(res.headers['x-content-type-options'], 'nosniff');
});

test('a path outside the web root is not served', { timeout: 15000 }, async () => {
	const res = await get('/../../../../etc/passwd');
	assert.notEqual(res.status, 200);
	assert.ok(!res.body.toString('latin1').includes('root:'), 'no file from outside the web root');
	const enc = await get('/%2e%2e/%2e%2e/%2e%2e/etc/passwd');
	assert.notEqual(enc.status, 200);
	assert.ok(!enc.body.toString('latin1').includes('root:'));
});

test('TLS 1.1 is refused', { timeout: 15000 }, async () => {
	// SECLEVEL=0 lets this client offer TLS 1.1, so a refusal comes from the
	// daemon, not from our own OpenSSL.
	await assert.rejects(
		handshake({ minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
		(e) => {
			assert.notEqual(e.code, 'ERR_SSL_NO_PROTOCOLS_AVAILABLE', `client-side refusal: ${e.message}`);
			return true;
		},
	);
});

test('TLS 1.2 and TLS 1.3 are accepted with a verified certificate', { timeout: 15000 }, async () => {
	const t12 = await handshake({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
	assert.equal(t12.protocol, 'TLSv1.2');
	assert.equal(t12.authorized, true);
	const t13 = await handshake({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
	assert.equal(t13.protocol, 'TLSv1.3');
	assert.equal(t13.authorized, true);
});

test('ALPN never selects h2: HTTP/1.1 only', { timeout: 15000 }, async () => {
	const r = await handshake({ ALPNProtocols: ['h2', 'http/1.1'] });
	assert.notEqual(r.alpn, 'h2');
	assert.equal(r.alpn, 'http/1.1');
});
