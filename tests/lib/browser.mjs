// Debian's Chromium, headless, for the browser tests: launched with the
// flags this machine needs and trusting exactly the test daemon's key
// (its SPKI hash), so TLS is verified rather than switched off.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { chromium } from 'playwright-core';

// Base64 SHA-256 of the DER public key of the first certificate in pemPath.
export function spkiHash(pemPath) {
	const script = 'openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64';
	return execFileSync('sh', ['-c', script, 'sh', pemPath], { encoding: 'utf8' }).trim();
}

// A browser for a daemon started by tests/lib/brugd.mjs.
export function launchChromium(brug) {
	const hash = spkiHash(path.join(brug.stateDir, 'server.pem'));
	assert.match(hash, /^[A-Za-z0-9+/]{43}=$/, 'SPKI hash of server.pem');
	return chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			'--no-first-run',
			`--ignore-certificate-errors-spki-list=${hash}`,
		],
	});
}
