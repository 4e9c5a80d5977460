// Test harness: starts a real brugd over TLS with a throw-away CA, state
// directory and config, and gives small WebSocket clients for the visitor
// and staff sockets. Shared by the integration and browser tests.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

// Frames a staff socket receives on a timer rather than as an answer.
const UNSOLICITED = new Set(['colleagues', 'dashboard', 'handover']);

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const START_TIMEOUT_MS = 15000;
const STOP_KILL_MS = 5000;

// CA file per port of every daemon started here, so helpers that get only a
// URL can still verify the server certificate.
const caByPort = new Map();
// Daemons still running; killed if the test process exits without stop().
const running = new Set();
process.on('exit', () => {
	for (const child of running) {
		try { child.kill('SIGKILL'); } catch { /* already gone */ }
	}
});

export function brugdPath() {
	return process.env.BRUGD || path.join(repoRoot, 'build', 'daemon', 'brugd');
}

function defaultConfig(stateDir) {
	return {
		server: {
			hostname: 'localhost',
			port: 0,
			web_root: path.join(repoRoot, 'web-client'),
			state_dir: stateDir,
		},
		chat: {
			languages: 'nl ar ti tr en',
			default_language: 'nl',
			grace_seconds: 3,
			offer_timeout_seconds: 3,
		},
		staff: {
			// Short, so tests of a staff drop need not wait; tests of the
			// reconnect itself set their own.
			reconnect_grace_seconds: 1,
		},
		log: {
			level: 'info',
		},
	};
}

// Merge overrides section by section; a null value removes the key.
function mergeConfig(base, over = {}) {
	const out = {};
	for (const [sec, keys] of Object.entries(base)) out[sec] = { ...keys };
	for (const [sec, keys] of Object.entries(over)) {
		out[sec] = out[sec] || {};
		for (const [k, v] of Object.entries(keys || {})) {
			if (v === null || v === undefined) delete out[sec][k];
			else out[sec][k] = v;
		}
	}
	return out;
}

function iniText(cfg) {
	let s = '';
	for (const [sec, keys] of Object.entries(cfg)) {
		s += `[${sec}]\n`;
		for (const [k, v] of Object.entries(keys)) {
			s += `${k} = ${Array.isArray(v) ? v.join(' ') : v}\n`;
		}
		s += '\n';
	}
	return s;
}

function list(v) {
	return Array.isArray(v) ? v.join(',') : String(v);
}

// ---- the TOTP second factor (RFC 4226 / RFC 6238), written for the tests --

const TOTP_STEP_S = 30;

// Base32 (RFC 4648) without padding to bytes.
export function base32Decode(text) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = 0;
	let value = 0;
	const out = [];
	for (const ch of text.replace(/[\s=]/g, '').toUpperCase()) {
		const v = alphabet.indexOf(ch);
		if (v < 0) throw new Error(`not base32: ${text}`);
		value = (value << 5) | v;
		bits += 5;
		if (bits >= 8) {
			out.push((value >>> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	return Buffer.from(out);
}

// HOTP (RFC 4226 section 5) with HMAC-SHA1, 6 digits.
export function hotp(key, counter, digits = 6) {
	const msg = Buffer.alloc(8);
	msg.writeBigUInt64BE(BigInt(counter));
	const mac = createHmac('sha1', key).update(msg).digest();
	const off = mac[mac.length - 1] & 0x0f;
	const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
	return String(bin % 10 ** digits).padStart(digits, '0');
}

// The TOTP code of a base32 secret for a time step.
export function totpAt(secret, step) {
	return hotp(base32Decode(secret), step);
}

export function totpStep(ms = Date.now()) {
	return Math.floor(ms / 1000 / TOTP_STEP_S);
}

// The secret of an otpauth:// URI.
export function otpauthSecret(uri) {
	const u = new URL(uri);
	if (u.protocol !== 'otpauth:') throw new Error(`not an otpauth URI: ${uri}`);
	const secret = u.searchParams.get('secret');
	if (!secret) throw new Error(`no secret in ${uri}`);
	return secret;
}

// Run `brugd staff add` with the password on stdin; throws unless it exits
// 0. Returns the account's TOTP secret from the otpauth:// URI it prints.
function runStaffAdd(brugd, configPath, stateDir, s, env) {
	if (!s || !s.user) throw new Error('addStaff: user is required');
	const args = ['-f', configPath, '--state-dir', stateDir, 'staff', 'add', s.user,
		'--alias', s.alias ?? s.user,
		'--roles', list(s.roles ?? 'volunteer'),
		'--langs', list(s.langs ?? 'nl')];
	if (s.topics !== undefined && s.topics !== null) args.push('--topics', list(s.topics));
	if (s.maxChats !== undefined && s.maxChats !== null) args.push('--max-chats', String(s.maxChats));
	const r = spawnSync(brugd, args, {
		input: (s.password ?? '') + '\n',
		env,
		encoding: 'utf8',
		timeout: 15000,
	});
	if (r.error) throw new Error(`staff add ${s.user}: ${r.error.message}`);
	if (r.status !== 0) {
		throw new Error(`staff add ${s.user} exited ${r.status} (signal ${r.signal}): ${r.stdout}${r.stderr}`);
	}
	const uri = r.stdout.split('\n').find((l) => l.startsWith('otpauth://'));
	if (!uri) throw new Error(`staff add ${s.user} printed no otpauth URI: ${r.stdout}`);
	return otpauthSecret(uri);
}

// opts: {config, staff, env, brugd (another binary, e.g. an installed one),
// restartOf (a stopped daemon started here: run again on its state
// directory, config and accounts; config and staff are then ignored)}.
export async function startBrugd(opts = {}) {
	const brugd = opts.brugd || brugdPath();
	if (!existsSync(brugd)) throw new Error(`brugd not found at ${brugd} (set BRUGD)`);
	const env = { ...process.env, ...(opts.env || {}) };
	const prev = opts.restartOf;
	const stateDir = prev ? prev.stateDir : mkdtempSync(path.join(tmpdir(), 'brug-test-'));

	if (!prev) {
		const cert = spawnSync('bash', [path.join(repoRoot, 'config', 'dev-cert.sh'), stateDir, 'localhost'],
			{ encoding: 'utf8', env, timeout: 30000 });
		if (cert.status !== 0) {
			throw new Error(`dev-cert.sh failed (${cert.status}): ${cert.stdout}${cert.stderr}${cert.error ?? ''}`);
		}
	}
	const caPath = path.join(stateDir, 'ca.pem');
	if (!existsSync(caPath)) throw new Error(`dev-cert.sh made no ${caPath}`);

	const configPath = path.join(stateDir, 'brug-test.conf');
	if (!prev) writeFileSync(configPath, iniText(mergeConfig(defaultConfig(stateDir), opts.config)));

	// user -> {secret, lastStep}: the TOTP secret of each account made
	// here and the last step a code was handed out for (a code works once).
	const totp = prev ? prev.totp : new Map();
	for (const s of prev ? [] : opts.staff || []) {
		totp.set(s.user, { secret: runStaffAdd(brugd, configPath, stateDir, s, env), lastStep: 0 });
	}

	const lines = [];
	const child = spawn(brugd, ['-f', configPath, '--state-dir', stateDir, '--port', '0'], {
		env,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	running.add(child);
	let exitInfo = null;
	const exited = new Promise((resolve) => {
		child.on('exit', (code, signal) => {
			exitInfo = { code, signal };
			running.delete(child);
			resolve(exitInfo);
		});
	});

	const port = await new Promise((resolve, reject) => {
		let done = false;
		const finish = (err, p) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			if (err) reject(err); else resolve(p);
		};
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			finish(new Error(`brugd did not report "listening on port N" within ${START_TIMEOUT_MS} ms:\n${lines.join('\n')}`));
		}, START_TIMEOUT_MS);
		child.on('error', (e) => finish(new Error(`cannot run ${brugd}: ${e.message}`)));
		exited.then((info) => finish(new Error(`brugd exited early (${JSON.stringify(info)}):\n${lines.join('\n')}`)));
		createInterface({ input: child.stdout }).on('line', (line) => {
			lines.push(line);
			const m = /listening on port (\d+)/.exec(line);
			if (m) finish(null, Number(m[1]));
		});
		createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
	});
	caByPort.set(port, caPath);

	return {
		port,
		origin: `https://localhost:${port}`,
		caPath,
		stateDir,
		configPath,
		brugdPath: brugd,
		process: child,
		logs: () => lines.slice(),
		totp,
		async stop() {
			if (exitInfo) return exitInfo;
			child.kill('SIGTERM');
			const timer = setTimeout(() => { if (!exitInfo) child.kill('SIGKILL'); }, STOP_KILL_MS);
			const info = await exited;
			clearTimeout(timer);
			// Let the last buffered output lines arrive.
			await new Promise((r) => setImmediate(r));
			return info;
		},
		async addStaff(s) {
			totp.set(s.user, { secret: runStaffAdd(brugd, configPath, stateDir, s, env), lastStep: 0 });
		},
		// Remember a secret learnt another way (staff_create, totp_reset).
		setTotpSecret(user, secretOrUri) {
			const secret = secretOrUri.startsWith('otpauth:') ? otpauthSecret(secretOrUri) : secretOrUri;
			totp.set(user, { secret, lastStep: 0 });
		},
		// Remove the state directory (call after stop()).
		async cleanup() {
			rmSync(stateDir, { recursive: true, force: true });
		},
	};
}

// A WebSocket client that queues every frame so none are lost between awaits.
class Client {
	constructor(ws) {
		this.ws = ws;
		this.queue = [];      // frames not yet taken by next()
		this.frames = [];     // every frame received, for debugging
		this.waiters = [];
		this.closeInfo = null;
		this.closedPromise = new Promise((resolve) => { this.resolveClosed = resolve; });
		ws.on('message', (data, isBinary) => {
			const text = data.toString('utf8');
			let frame;
			try {
				frame = JSON.parse(text);
			} catch {
				frame = { type: '<unparsable>', raw: text, binary: isBinary };
			}
			this.frames.push(frame);
			this.queue.push(frame);
			this.pump();
		});
		ws.on('close', (code, reason) => {
			this.closeInfo = { code, reason: reason.toString('utf8') };
			this.resolveClosed(this.closeInfo);
			this.pump();
		});
		ws.on('error', (e) => { this.lastError = e; });
	}

	pump() {
		let i = 0;
		while (i < this.waiters.length) {
			const w = this.waiters[i];
			const at = this.queue.findIndex(w.match);
			if (at >= 0) {
				// next(type) drops the frames it skips; waitFor() leaves them.
				const frame = w.discard ? this.queue.splice(0, at + 1)[at] : this.queue.splice(at, 1)[0];
				this.waiters.splice(i, 1);
				clearTimeout(w.timer);
				w.resolve(frame);
				continue;
			}
			if (w.discard) this.queue.length = 0;
			if (this.closeInfo) {
				this.waiters.splice(i, 1);
				clearTimeout(w.timer);
				w.reject(new Error(`socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${w.what}; received: ${JSON.stringify(this.frames)}`));
				continue;
			}
			i++;
		}
	}

	wait(match, discard, what, timeoutMs) {
		return new Promise((resolve, reject) => {
			const w = { match, discard, what, resolve, reject };
			w.timer = setTimeout(() => {
				const i = this.waiters.indexOf(w);
				if (i >= 0) this.waiters.splice(i, 1);
				reject(new Error(`no ${what} within ${timeoutMs} ms; received: ${JSON.stringify(this.frames)}`));
			}, timeoutMs);
			this.waiters.push(w);
			this.pump();
		});
	}

	// Next frame; with type, frames of other types before it are skipped
	// (dropped).
	next(type, timeoutMs = 5000) {
		// Without a type, the presence frames a console gets on its own
		// (colleagues, dashboard, handover) are passed over: they come on a
		// timer, so their place among the answers is not fixed.
		const match = type ? (f) => f.type === type : (f) => !UNSOLICITED.has(f.type);
		return this.wait(match, true, type || 'frame', timeoutMs);
	}

	// The first queued or future frame for which pred(frame) is true; an
	// object matches frames that have all its fields equal. Other frames
	// stay queued.
	waitFor(pred, timeoutMs = 5000) {
		const match = typeof pred === 'function' ? pred
			: (f) => Object.entries(pred).every(([k, v]) => f[k] === v);
		const what = typeof pred === 'function' ? 'matching frame' : JSON.stringify(pred);
		return this.wait(match, false, what, timeoutMs);
	}

	// Wait ms and return the frames received meanwhile that match pred
	// (queued ones included), without taking them.
	async quiet(pred, ms = 300) {
		await new Promise((r) => setTimeout(r, ms));
		const match = typeof pred === 'function' ? pred
			: (f) => Object.entries(pred).every(([k, v]) => f[k] === v);
		return this.queue.filter(match);
	}

	send(obj) {
		this.ws.send(JSON.stringify(obj));
	}

	sendRaw(data, { binary = false } = {}) {
		this.ws.send(data, { binary });
	}

	// Frames received but not yet taken (without waiting).
	pending() {
		return this.queue.slice();
	}

	closed(timeoutMs = 5000) {
		if (this.closeInfo) return Promise.resolve(this.closeInfo);
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs);
			this.closedPromise.then((info) => { clearTimeout(timer); resolve(info); });
		});
	}

	close(code, reason) {
		if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
			this.ws.close(code, reason);
		}
	}

	// Drop the TCP connection without a closing handshake.
	terminate() {
		this.ws.terminate();
	}
}

// opts.localAddress (a loopback address such as 127.0.0.2) makes the
// socket come from another source address, over IPv4.
function wsOptions(b, opts, ca) {
	const headers = { ...(opts.headers || {}) };
	if (opts.lang) headers['Accept-Language'] = opts.lang;
	const o = {
		ca,
		origin: opts.origin === undefined ? b?.origin : (opts.origin ?? undefined),
		headers,
		handshakeTimeout: opts.handshakeTimeout ?? 5000,
		maxPayload: 1 << 20,
		// Another loopback source (127.0.0.2 ...), to act as another address.
		...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
	};
	if (opts.localAddress) {
		o.localAddress = opts.localAddress;
		o.family = 4;
	}
	return o;
}

function openClient(url, protocol, options) {
	return new Promise((resolve, reject) => {
		const ws = protocol === null || protocol === undefined
			? new WebSocket(url, options)
			: new WebSocket(url, protocol, options);
		const client = new Client(ws);
		const onOpen = () => { cleanup(); resolve(client); };
		const onError = (e) => { cleanup(); reject(e); };
		const onUnexpected = (req, res) => {
			cleanup();
			res.resume();
			req.destroy();
			reject(new Error(`handshake refused: HTTP ${res.statusCode}`));
		};
		const cleanup = () => {
			ws.off('open', onOpen);
			ws.off('error', onError);
			ws.off('unexpected-response', onUnexpected);
		};
		ws.on('open', onOpen);
		ws.on('error', onError);
		ws.on('unexpected-response', onUnexpected);
	});
}

// The host part of a socket's URL: localhost, or opts.host (a loopback
// address in the test certificate: 127.0.0.1 or ::1).
function urlHost(opts) {
	const host = opts.host ?? 'localhost';
	return host.includes(':') ? `[${host}]` : host;
}

// opts: {lang, origin, protocol, headers, localAddress, host}. protocol null
// sends none.
export function connectVisitor(b, opts = {}) {
	const protocol = 'protocol' in opts ? opts.protocol : 'brug-visitor.v1';
	return openClient(`wss://${urlHost(opts)}:${b.port}/ws/visitor`, protocol,
		wsOptions(b, opts, readFileSync(b.caPath)));
}

export function connectStaff(b, opts = {}) {
	const protocol = 'protocol' in opts ? opts.protocol : 'brug-staff.v1';
	return openClient(`wss://${urlHost(opts)}:${b.port}/ws/staff`, protocol,
		wsOptions(b, opts, readFileSync(b.caPath)));
}

// Test shortcut: move user's last used TOTP step in the daemon's database
// back to `step`, so that a test logging the same account in many times
// within 30 s need not wait. Only the harness does this; the refusal of a
// reused code is tested without it (10-accounts). False if sqlite3 failed.
function rewindTotp(b, user, step) {
	if (!/^[a-z0-9._-]+$/.test(user)) return false;
	const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', path.join(b.stateDir, 'brug.db'),
		`UPDATE staff SET totp_last_step = ${Number(step)} WHERE username = '${user}'`],
	{ encoding: 'utf8', timeout: 10000 });
	return r.status === 0;
}

// A TOTP code for user that has not been handed out before: the current
// step's, or the next one's (the daemon accepts one step either side) if
// the current one was used. If both were, the daemon's last step is
// rewound (rewindTotp), or failing that the next step is waited for. The
// step is then taken, whether or not the login it goes into succeeds.
export async function totpCode(b, user) {
	const t = b.totp?.get(user);
	if (!t) throw new Error(`no TOTP secret known for ${user}`);
	for (;;) {
		const now = totpStep();
		let step = Math.max(now, t.lastStep + 1);
		if (step > now + 1 && rewindTotp(b, user, now - 1)) step = now;
		if (step <= now + 1) {
			t.lastStep = step;
			return totpAt(t.secret, step);
		}
		await new Promise((r) => setTimeout(r, (now + 1) * TOTP_STEP_S * 1000 - Date.now() + 50));
	}
}

// Connect a staff socket and log in; resolves with the client after the
// `session` frame (kept as client.session). Rejects on an error frame.
// The TOTP code is computed from the secret `staff add` printed, unless
// opts.totp gives one (opts.totp false sends none).
export async function loginStaff(b, user, password, opts = {}) {
	const login = { type: 'login', user, password };
	if (opts.totp) login.totp = opts.totp;
	else if (opts.totp !== false && b.totp?.has(user)) login.totp = await totpCode(b, user);
	const c = await connectStaff(b, opts);
	c.send(login);
	const f = await c.next(undefined, opts.timeoutMs ?? 10000);
	if (f.type !== 'session') {
		c.close();
		throw new Error(`login ${user}: expected session, got ${JSON.stringify(f)}`);
	}
	c.session = f;
	return c;
}

// Resolves with the HTTP status the server answered a refused WebSocket
// handshake with; rejects if the handshake succeeds or fails otherwise.
// opts: {protocol, origin, headers, ca | caPath}; the CA defaults to the one
// of the daemon started here on that port.
export function expectHandshakeRefused(url, opts = {}) {
	return new Promise((resolve, reject) => {
		const port = Number(new URL(url).port);
		const caPath = opts.caPath || caByPort.get(port);
		const ca = opts.ca || (caPath ? readFileSync(caPath) : undefined);
		const options = {
			ca,
			headers: { ...(opts.headers || {}) },
			handshakeTimeout: opts.handshakeTimeout ?? 5000,
		};
		if (opts.origin) options.origin = opts.origin;
		const protocol = opts.protocol;
		const ws = protocol === null || protocol === undefined
			? new WebSocket(url, options)
			: new WebSocket(url, protocol, options);
		let settled = false;
		ws.on('unexpected-response', (req, res) => {
			settled = true;
			res.resume();
			req.destroy();
			resolve(res.statusCode);
		});
		ws.on('open', () => {
			if (settled) return;
			settled = true;
			ws.terminate();
			reject(new Error(`handshake to ${url} was accepted (protocol ${ws.protocol || 'none'})`));
		});
		ws.on('error', (e) => {
			if (settled) return;
			settled = true;
			reject(new Error(`handshake to ${url} failed without an HTTP answer: ${e.message}`));
		});
	});
}

let syncCounter = 0;

// Round trip on one socket: frames are handled in order, so once the
// answer to this probe (an unknown type) is back, everything sent before it
// has been handled. Other frames stay queued.
export async function sync(client, timeoutMs = 5000) {
	const id = `sync-${++syncCounter}`;
	client.send({ type: 'brug_test_sync', id });
	await client.waitFor((f) => f.type === 'error' && f.id === id, timeoutMs);
}

// Log in and become available; resolves with the client once the daemon
// has answered the `status` (so the availability is in effect).
export async function availableStaff(b, user, password) {
	const s = await loginStaff(b, user, password);
	const id = `status-${++syncCounter}`;
	s.send({ type: 'status', available: true, id });
	const reply = await s.waitFor((f) => f.id === id);
	if (reply.type !== 'status' || reply.available !== true) {
		throw new Error(`status for ${user}: ${JSON.stringify(reply)}`);
	}
	return s;
}

// A visitor that has said hello: resolves with {v, welcome}.
export async function visitorHello(b, hello = {}, opts = {}) {
	const v = await connectVisitor(b, opts);
	v.send({ type: 'hello', ...hello });
	const welcome = await v.next('welcome');
	return { v, welcome };
}

// A visitor chatting with staff client s (which must be available for
// lang): resolves with {v, welcome, offer, chat, chatFrame, joined}.
export async function startChat(b, s, hello = { lang: 'nl' }, opts = {}) {
	const { v, welcome } = await visitorHello(b, hello, opts);
	const offer = await s.next('offer');
	s.send({ type: 'accept', offer: offer.offer });
	const chatFrame = await s.next('chat');
	const joined = await v.next('joined');
	return { v, welcome, offer, chat: chatFrame.chat, chatFrame, joined };
}
