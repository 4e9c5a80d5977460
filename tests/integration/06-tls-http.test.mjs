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

function get(pathname, headers = {}, method = 'GET') {
	return new Promise((resolve, reject) => {
		const req = https.request({ host: 'localhost', port: b.port, path: pathname, ca, headers, method, agent: false }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
		});
		req.on('error', reject);
		req.setTimeout(5000, () => req.destroy(new Error('timeout')));
		req.end();
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

test('HSTS is sent for a year, without includeSubDomains (docs/operations.md)', { timeout: 15000 }, async () => {
	const res = await get('/');
	assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
});

test('the 404 page has the CSP, no-store and the other security headers', { timeout: 15000 }, async () => {
	for (const p of ['/no-such-page', '/staff/no-such-page.js', '/i18n/xx.json']) {
		const res = await get(p);
		assert.equal(res.status, 404, p);
		const h = res.headers;
		assert.ok(h['content-security-policy'], `CSP on ${p}`);
		assert.equal(directives(h['content-security-policy']).get('default-src')?.[0], "'none'", p);
		assert.match(h['cache-control'] ?? '', /no-store/, p);
		assert.equal(h['x-content-type-options'], 'nosniff', p);
		assert.match(h['strict-transport-security'] ?? '', /max-age=\d+/, p);
	}
	// A page under /staff/ keeps the staff rules on its 404 too.
	const staff404 = await get('/staff/no-such-page.js');
	assert.deepEqual(directives(staff404.headers['content-security-policy']).get('frame-ancestors'), ["'none'"]);
});

test('the staff console may not be framed, not even by its own origin', { timeout: 15000 }, async () => {
	for (const p of ['/staff/', '/staff/index.html', '/staff/staff.js']) {
		const res = await get(p);
		assert.equal(res.status, 200, p);
		assert.equal(res.headers['x-frame-options'], 'DENY', p);
		assert.deepEqual(directives(res.headers['content-security-policy']).get('frame-ancestors'), ["'none'"], p);
	}
	// The visitor widget keeps the configured frame_ancestors, for embedding.
	const widget = await get('/');
	assert.equal(widget.headers['x-frame-options'], undefined);
	assert.deepEqual(directives(widget.headers['content-security-policy']).get('frame-ancestors'), ["'self'"]);
});

test('HEAD on the JSON documents answers like GET, without a body', { timeout: 15000 }, async () => {
	for (const p of ['/i18n/nl.json', '/api/config.json', '/api/status/nl.json']) {
		const full = await get(p);
		const head = await get(p, {}, 'HEAD');
		assert.equal(full.status, 200, p);
		assert.equal(head.status, 200, `HEAD ${p}`);
		assert.equal(head.body.length, 0, `no body for HEAD ${p}`);
		assert.equal(head.headers['content-type'], full.headers['content-type'], p);
		assert.equal(head.headers['content-length'], String(full.body.length), p);
		assert.match(head.headers['cache-control'] ?? '', /no-store/, p);
		assert.ok(head.headers['content-security-policy'], p);
	}
	const missing = await get('/i18n/xx.json', {}, 'HEAD');
	assert.equal(missing.status, 404);
	assert.equal(missing.body.length, 0);
});
