// Reference for tests/bench/compare.sh: the visitor/staff subset that
// loadgen speaks (README.md, "The references") as a team would write it on
// Node and `ws`, with brugd's TLS settings. Not part of Brug.
//
// usage: node tests/bench/node-relay.mjs PORT CERT KEY   (PORT 0: a free one, printed)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { WebSocketServer } from 'ws';

const [portArg, certFile, keyFile] = process.argv.slice(2);
if (!portArg || !certFile || !keyFile) {
	console.error('usage: node-relay.mjs PORT CERT KEY');
	process.exit(2);
}

const MAX_CHATS = 20; // per staff member, as loadgen's accounts
const PROTOCOLS = { '/ws/visitor': 'brug-visitor.v1', '/ws/staff': 'brug-staff.v1' };

const server = createServer({
	cert: readFileSync(certFile),
	key: readFileSync(keyFile),
	minVersion: 'TLSv1.2',
	// The same suites and groups as daemon/server.c.
	ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:' +
		'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:' +
		'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:' +
		'DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305',
	ecdhCurve: 'X25519:prime256v1:secp384r1',
	honorCipherOrder: true,
	ALPNProtocols: ['http/1.1'],
});

const wss = new WebSocketServer({
	noServer: true,
	maxPayload: 16384,
	handleProtocols: (protocols, req) => {
		const want = PROTOCOLS[req.url];
		return want && protocols.has(want) ? want : false;
	},
});

server.on('upgrade', (req, socket, head) => {
	if (!PROTOCOLS[req.url]) {
		socket.destroy();
		return;
	}
	wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

const visitors = new Map(); // number -> visitor; the number is its offer and chat id
const waiting = new Set(); // insertion order is queue order
const staff = new Set();
let nextVisitor = 1;

const send = (ws, msg) => ws.send(JSON.stringify(msg));

function staffWithRoom() {
	for (const s of staff) if (s.available && s.offers.size + s.chats.size < MAX_CHATS) return s;
	return null;
}

// Offers waiting visitors, oldest first, to staff with room.
function dispatch() {
	let s = staffWithRoom();
	for (const v of waiting) {
		if (!s) return;
		if (v.offeredTo) continue;
		v.offeredTo = s;
		s.offers.add(v);
		send(s.ws, { type: 'offer', offer: String(v.no), kind: 'chat', lang: 'nl' });
		if (s.offers.size + s.chats.size >= MAX_CHATS) s = staffWithRoom();
	}
}

function withdraw(s, tell) {
	for (const v of s.offers) {
		v.offeredTo = null;
		if (tell) send(s.ws, { type: 'offer_gone', offer: String(v.no), reason: 'withdrawn' });
	}
	s.offers.clear();
	dispatch();
}

function endChat(v, by) {
	const s = v.staff;
	if (!s) return;
	s.chats.delete(v);
	v.staff = null;
	send(s.ws, { type: 'ended', chat: String(v.no), by });
	if (v.open) send(v.ws, { type: 'ended', by });
	dispatch();
}

function leaveQueue(v) {
	waiting.delete(v);
	if (v.offeredTo) {
		v.offeredTo.offers.delete(v);
		v.offeredTo = null;
	}
}

function onVisitor(ws) {
	const v = { ws, no: nextVisitor++, open: true, offeredTo: null, staff: null, seq: 0 };
	visitors.set(v.no, v);
	ws.on('message', (data) => {
		let m;
		try {
			m = JSON.parse(data);
		} catch {
			send(ws, { type: 'error', code: 'bad_json' });
			return;
		}
		if (m.type === 'msg' && typeof m.text === 'string') {
			if (!v.staff) {
				send(ws, { type: 'error', code: 'conflict' });
				return;
			}
			const ts = Date.now();
			const seq = ++v.seq;
			send(v.staff.ws, { type: 'msg', chat: String(v.no), from: 'visitor', text: m.text, ts, seq });
			send(ws, { type: 'msg', from: 'visitor', text: m.text, ts, seq });
		} else if (m.type === 'hello' && !waiting.has(v) && !v.staff) {
			send(ws, { type: 'welcome', session: 'x', lang: m.lang ?? 'nl', dir: 'ltr', open: true });
			waiting.add(v);
			send(ws, { type: 'queue', position: waiting.size, wait_s: null });
			dispatch();
		} else if (m.type === 'end') {
			endChat(v, 'visitor');
		} else {
			send(ws, { type: 'error', code: 'conflict' });
		}
	});
	ws.on('close', () => {
		v.open = false;
		leaveQueue(v);
		endChat(v, 'timeout');
		visitors.delete(v.no);
		dispatch();
	});
}

function onStaff(ws) {
	const s = { ws, loggedIn: false, available: false, offers: new Set(), chats: new Set() };
	staff.add(s);
	ws.on('message', (data) => {
		let m;
		try {
			m = JSON.parse(data);
		} catch {
			send(ws, { type: 'error', code: 'bad_json' });
			return;
		}
		const id = m.id;
		if (m.type === 'login') {
			s.loggedIn = true;
			send(ws, { type: 'session', token: 'x', user: { alias: 'Bench', roles: ['volunteer'], max_chats: MAX_CHATS }, id });
		} else if (!s.loggedIn) {
			send(ws, { type: 'error', code: 'unauthorized' });
		} else if (m.type === 'msg' && typeof m.text === 'string') {
			const v = visitors.get(Number(m.chat));
			if (!v || v.staff !== s) {
				send(ws, { type: 'error', code: 'not_found', id });
				return;
			}
			const ts = Date.now();
			const seq = ++v.seq;
			send(v.ws, { type: 'msg', from: 'staff', alias: 'Bench', text: m.text, ts, seq });
			send(ws, { type: 'msg', chat: m.chat, from: 'staff', alias: 'Bench', text: m.text, ts, seq });
		} else if (m.type === 'status') {
			s.available = m.available === true;
			send(ws, { type: 'status', available: s.available, id });
			if (s.available) dispatch();
			else withdraw(s, true);
		} else if (m.type === 'accept') {
			const v = visitors.get(Number(m.offer));
			if (!v || v.offeredTo !== s || !waiting.has(v)) {
				send(ws, { type: 'error', code: 'not_found', id });
				return;
			}
			leaveQueue(v);
			v.staff = s;
			s.chats.add(v);
			send(ws, { type: 'chat', chat: String(v.no), lang: 'nl', visitor: `Visitor ${v.no}`, id });
			send(v.ws, { type: 'joined', chat: String(v.no), staff: { alias: 'Bench', role: 'volunteer' } });
		} else if (m.type === 'end') {
			const v = visitors.get(Number(m.chat));
			if (v && v.staff === s) endChat(v, 'staff');
		} else {
			send(ws, { type: 'error', code: 'bad_type', id });
		}
	});
	ws.on('close', () => {
		staff.delete(s);
		s.available = false;
		withdraw(s, false);
		for (const v of s.chats) {
			v.staff = null;
			if (v.open) send(v.ws, { type: 'ended', by: 'staff' });
		}
	});
}

wss.on('connection', (ws, req) => (req.url === '/ws/staff' ? onStaff(ws) : onVisitor(ws)));

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

server.listen(Number(portArg), '127.0.0.1', () => {
	console.log(`listening on port ${server.address().port}`);
});
