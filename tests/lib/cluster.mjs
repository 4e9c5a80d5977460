// What the cluster tests share: a node's GET /api/health, polling it until
// a condition holds, and a brugd node on a NATS cluster from nats.mjs.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { startBrugd } from './brugd.mjs';

// One GET /api/health: {status, type, json}.
export function health(b) {
	return new Promise((resolve, reject) => {
		https.get({ host: 'localhost', port: b.port, path: '/api/health', ca: readFileSync(b.caPath) }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (c) => { body += c; });
			res.on('end', () => {
				try {
					resolve({ status: res.statusCode, type: res.headers['content-type'], json: JSON.parse(body) });
				} catch {
					reject(new Error(`not JSON: ${body}`));
				}
			});
		}).on('error', reject);
	});
}

// Poll until pred(json, status) holds: {status, type, json, afterMs}.
export async function healthUntil(b, pred, timeoutMs, what) {
	const start = Date.now();
	let last;
	while (Date.now() - start < timeoutMs) {
		last = await health(b);
		if (pred(last.json, last.status)) return { ...last, afterMs: Date.now() - start };
		await new Promise((r) => setTimeout(r, 100));
	}
	throw new Error(`${what}: not within ${timeoutMs} ms; last ${JSON.stringify(last)}\n${b.logs().join('\n')}`);
}

// As healthUntil, resolving with the health document itself.
export async function healthJsonUntil(b, pred, timeoutMs, what) {
	return (await healthUntil(b, pred, timeoutMs, what)).json;
}

// A predicate: connected, and exactly these members.
export function membersAre(...names) {
	return (j) => j.connected && JSON.stringify(j.members) === JSON.stringify(names);
}

// A brugd node named name on the NATS cluster nats (startNatsCluster).
// opts: staff (accounts), chat, log (config sections), urls (a part of
// nats.urls), cluster (more [cluster] keys).
export function startClusterNode(nats, name, opts = {}) {
	const config = {
		cluster: {
			node: name,
			nats_url: (opts.urls ?? nats.urls).join(' '),
			nats_user: nats.user,
			nats_password: nats.password,
			nats_ca: nats.caPath,
			...(opts.cluster ?? {}),
		},
	};
	if (opts.chat) config.chat = opts.chat;
	if (opts.log) config.log = opts.log;
	return startBrugd({ staff: opts.staff ?? [], config });
}

// Stop and remove the nodes (some may be undefined), then the NATS
// servers. A paused node (SIGSTOP) is woken first so that it can stop.
export async function stopCluster(nats, nodes) {
	for (const b of nodes) {
		if (!b) continue;
		try { b.process.kill('SIGCONT'); } catch { /* gone */ }
		await b.stop();
		await b.cleanup();
	}
	if (nats) {
		await nats.stop();
		await nats.cleanup();
	}
}
