// The attacking side of tests/integration/19-abuse, in a process of its
// own so that its TLS work never slows the test's own round-trip probe.
//
// usage: node attacker.mjs PORT CA_PATH ORIGIN LOCAL_ADDRESS
// Reads one JSON command a line on stdin ({"do": NAME, ...}) and answers
// each with one JSON line on stdout ({"done": NAME, ...}).
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [port, caPath, origin, localAddress] = process.argv.slice(2);
const ca = readFileSync(caPath);
const held = [];       // sockets kept open until "release"

function tcp() {
	return new Promise((resolve, reject) => {
		const s = net.connect({ host: '127.0.0.1', port: Number(port), localAddress }, () => resolve(s));
		s.on('error', reject);
	});
}

function tlsSocket() {
	return new Promise((resolve, reject) => {
		const s = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: Number(port), localAddress, ca },
			() => resolve(s));
		s.on('error', reject);
	});
}

function ws(path, protocol) {
	return new Promise((resolve, reject) => {
		const w = new WebSocket(`wss://localhost:${port}${path}`, protocol,
			{ ca, origin, localAddress, handshakeTimeout: 15000 });
		w.on('open', () => resolve(w));
		w.on('error', reject);
		w.on('unexpected-response', (req, res) => { res.resume(); reject(new Error(`HTTP ${res.statusCode}`)); });
	});
}

function track(s) {
	s.on('error', () => {});
	held.push(s);
}

const commands = {
	// Half a TLS record, then silence; and a finished handshake with half
	// an HTTP request, then silence.
	async slowloris({ n }) {
		let opened = 0;
		const tries = [];
		for (let i = 0; i < n; i++) {
			if (i % 2 === 0) {
				tries.push(tcp().then((s) => {
					s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01]));
					track(s); opened++;
				}, () => {}));
			} else {
				tries.push(tlsSocket().then((s) => {
					s.write('GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
					track(s); opened++;
				}, () => {}));
			}
			if (i % 50 === 49) await Promise.all(tries.splice(0));
		}
		await Promise.all(tries);
		return { opened };
	},
	// As many visitor sockets as brugd takes, up to n.
	async flood({ n }) {
		let opened = 0, refused = 0;
		const tries = [];
		for (let i = 0; i < n; i++) {
			tries.push(ws('/ws/visitor', 'brug-visitor.v1').then((w) => { track(w); opened++; }, () => { refused++; }));
			if (i % 100 === 99) await Promise.all(tries.splice(0));
		}
		await Promise.all(tries);
		return { opened, refused };
	},
	// Wait until every held socket is closed by the server, up to ms.
	async closed({ ms }) {
		const t0 = Date.now();
		const open = () => held.filter((s) => !(s.destroyed || s.readyState === WebSocket.CLOSED)).length;
		while (open() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 200));
		return { open: open(), held: held.length };
	},
	async release() {
		const all = held.splice(0);
		await Promise.all(all.map((s) => new Promise((r) => {
			if (s.destroyed || s.readyState === WebSocket.CLOSED) return r();
			s.once('close', r);
			if (s.terminate) s.terminate(); else s.destroy();
		})));
		return { released: all.length };
	},
	// Frames of 1 MiB, whole or in 4 KiB fragments: close codes seen.
	async oversized({ n }) {
		const codes = [];
		for (let i = 0; i < n; i++) {
			const w = await ws('/ws/visitor', 'brug-visitor.v1');
			w.on('error', () => {});
			const closed = new Promise((r) => w.on('close', (code) => r(code)));
			if (i % 2 === 0) w.send('x'.repeat(1 << 20));
			else for (let k = 0; k < 256; k++) w.send('y'.repeat(4096), { fin: k === 255 });
			codes.push(await closed);
		}
		// A small, valid message in one-byte fragments is fine.
		const w = await ws('/ws/visitor', 'brug-visitor.v1');
		const text = JSON.stringify({ type: 'hello', lang: 'nl' });
		const got = new Promise((r) => w.once('message', (d) => r(JSON.parse(d.toString()))));
		for (let k = 0; k < text.length; k++) w.send(text[k], { fin: k === text.length - 1 });
		const first = await got;
		w.send(JSON.stringify({ type: 'end' }));
		w.close();
		return { codes, fragmented: first.type };
	},
	// n logins with a wrong password at once: the answers by code.
	async logins({ n, user }) {
		const answers = {};
		const count = (k) => { answers[k] = (answers[k] ?? 0) + 1; };
		await Promise.all(Array.from({ length: n }, (_, i) => ws('/ws/staff', 'brug-staff.v1').then((w) => new Promise((resolve) => {
			w.on('error', () => {});
			w.on('message', (d) => { const f = JSON.parse(d.toString()); count(f.code ?? f.type); });
			w.on('close', resolve);
			w.send(JSON.stringify({ type: 'login', user, password: `wrong-${i}`, totp: '123456' }));
		}), () => count('refused'))));
		return { answers };
	},
};

createInterface({ input: process.stdin }).on('line', async (line) => {
	const cmd = JSON.parse(line);
	let out;
	try {
		out = { done: cmd.do, ...(await commands[cmd.do](cmd)) };
	} catch (e) {
		out = { done: cmd.do, error: String(e?.message ?? e) };
	}
	process.stdout.write(JSON.stringify(out) + '\n');
}).on('close', () => process.exit(0));
