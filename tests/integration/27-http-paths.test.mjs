// Request paths of the static server (daemon/http_path.c): ordinary files
// are served; traversal, double-encoded dots and separators, NUL, control
// bytes and overlong UTF-8 get a 404 and brugd stays up. The web root is a
// copy holding files with such names, so a path lws would map onto one of
// them proves the refusal comes before the disk. Paths are written raw on a
// TLS socket, so no client library normalizes them first.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBrugd } from '../lib/brugd.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// File names (latin1 bytes) that a refused path would otherwise reach.
const odd = ['%2e%2e', 'a\\b.txt', 'x\x7f.txt', '\xc0\xae\xc0\xae', 'c%00.txt'];
let b, ca, root;

before(async () => {
	root = mkdtempSync(path.join(tmpdir(), 'brug-web-'));
	cpSync(path.join(repoRoot, 'web-client'), root, { recursive: true });
	for (const name of odd)
		writeFileSync(Buffer.concat([Buffer.from(root + '/'), Buffer.from(name, 'latin1')]), 'odd\n');
	b = await startBrugd({ config: { server: { web_root: root } } });
	ca = readFileSync(b.caPath);
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
	if (root) rmSync(root, { recursive: true, force: true });
});

// The status code of GET path (a Buffer or latin1 string, sent as is).
function status(path) {
	return new Promise((resolve, reject) => {
		const sock = tls.connect({ host: 'localhost', servername: 'localhost', port: b.port, ca }, () => {
			sock.write(Buffer.concat([Buffer.from('GET ', 'latin1'), Buffer.from(path, 'latin1'),
				Buffer.from(' HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', 'latin1')]));
		});
		let head = '';
		sock.on('data', (d) => {
			head += d.toString('latin1');
			const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
			if (m) {
				sock.destroy();
				resolve(Number(m[1]));
			}
		});
		sock.on('error', reject);
		sock.on('close', () => resolve(0));
		sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
	});
}

test('the web client is served', async () => {
	for (const p of ['/', '/index.html', '/visitor.js', '/staff/', '/i18n/nl.json'])
		assert.equal(await status(p), 200, p);
});

test('refused paths get 404 before any file is looked up', async () => {
	const refused = [
		'/%252e%252e/%252e%252e/etc/passwd',   // decoded once by lws: %2e%2e
		'/index.html%2500',                     // decoded once: %00
		'/%252e%252e',                          // the file named %2e%2e
		'/c%2500.txt',                          // the file named c%00.txt
		'/a\\b.txt',                              // backslash
		'/a%5cb.txt',
		'/x%7f.txt',                            // DEL
		'/x\x7f.txt',
		'/\xc0\xae\xc0\xae',                          // overlong dots, the file itself
		'/%c0%ae%c0%ae',
		'/%255c..%255c..%255cetc%255cpasswd',
		'/..\\..\\etc\\passwd',
		'/index.html\\',
		'/\xc0\xae\xc0\xae/\xc0\xae\xc0\xae/etc/passwd',   // overlong dots
		'/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
		'/index.html%7f',
	];
	for (const p of refused)
		assert.equal(await status(p), 404, JSON.stringify(p));
	assert.equal(await status('/index.html'), 200, 'still serving');
});
