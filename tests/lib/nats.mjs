// Test harness: an N-node nats-server cluster on loopback for the cluster
// tests (docs/cluster.md). TLS for clients and routes with a throw-away CA
// made like brugd's (config/dev-cert.sh), user and password for clients and
// for routes, no JetStream and nothing written but the config and the
// certificates; every server can be killed on its own.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './brugd.mjs';

const START_TIMEOUT_MS = 15000;
const ROUTES_TIMEOUT_MS = 15000;
const STOP_KILL_MS = 5000;

const running = new Set();
process.on('exit', () => {
	for (const child of running) {
		try { child.kill('SIGKILL'); } catch { /* already gone */ }
	}
});

export function natsServerPath() {
	return process.env.NATS_SERVER || '/usr/sbin/nats-server';
}

// A port that was free a moment ago (the kernel hands out a fresh one).
export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

function run(cmd, args, opts = {}) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30000, ...opts });
	if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
	return r;
}

// The CA from dev-cert.sh, and a certificate signed by it that is good
// both as a server's and as a client's: a route between two servers is a
// TLS client on one side, and nats-server verifies routes both ways.
function makeCerts(dir) {
	run('bash', [path.join(repoRoot, 'config', 'dev-cert.sh'), dir, 'localhost']);
	const ext = path.join(dir, 'nats-ext.cnf');
	writeFileSync(ext, [
		'basicConstraints = critical, CA:FALSE',
		'keyUsage = critical, digitalSignature',
		'extendedKeyUsage = serverAuth, clientAuth',
		'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
		'',
	].join('\n'));
	const key = path.join(dir, 'nats-key.pem');
	const csr = path.join(dir, 'nats.csr');
	const cert = path.join(dir, 'nats.pem');
	run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
	run('openssl', ['req', '-new', '-key', key, '-subj', '/CN=localhost', '-out', csr]);
	run('openssl', ['x509', '-req', '-in', csr, '-CA', path.join(dir, 'ca.pem'), '-CAkey',
		path.join(dir, 'ca-key.pem'), '-CAcreateserial', '-days', '2', '-sha256', '-extfile', ext, '-out', cert]);
	return { ca: path.join(dir, 'ca.pem'), cert, key };
}

// nats-server's config syntax (2.9): a tls block for clients, an
// authorization block, and a cluster block with its own tls, route
// credentials and the routes to every other server. No jetstream block, no
// log_file, no pid_file, no store_dir: nothing goes to disk.
function serverConfig(s, all, certs, auth) {
	const tls = (pad) => `{\n${pad}  cert_file: "${certs.cert}"\n${pad}  key_file: "${certs.key}"\n`
		+ `${pad}  ca_file: "${certs.ca}"\n${pad}  timeout: 5\n${pad}}`;
	const routes = all.filter((o) => o !== s)
		.map((o) => `    "nats-route://${auth.routeUser}:${auth.routePassword}@127.0.0.1:${o.clusterPort}"`);
	return [
		`server_name: "${s.name}"`,
		`listen: "127.0.0.1:${s.port}"`,
		`tls ${tls('')}`,
		'authorization {',
		`  user: "${auth.user}"`,
		`  password: "${auth.password}"`,
		'}',
		'cluster {',
		`  name: "brug-test"`,
		`  listen: "127.0.0.1:${s.clusterPort}"`,
		`  tls ${tls('  ')}`,
		'  authorization {',
		`    user: "${auth.routeUser}"`,
		`    password: "${auth.routePassword}"`,
		'  }',
		'  routes: [',
		routes.join('\n'),
		'  ]',
		'}',
		'',
	].join('\n');
}

// Start n servers that form one cluster. Resolves once every server is
// ready and routed to every other one. Returns the cluster handle:
//   urls (tls://127.0.0.1:port for each), caPath, user, password,
//   servers[i].{name, port, url, kill(signal), stop(), logs(), alive},
//   stop() for all and cleanup() of the directory.
export async function startNatsCluster(n = 3, opts = {}) {
	const bin = natsServerPath();
	if (!existsSync(bin)) throw new Error(`nats-server not found at ${bin} (scripts/setup.sh installs it)`);
	const dir = mkdtempSync(path.join(tmpdir(), 'brug-nats-'));
	const certs = makeCerts(dir);
	const auth = {
		user: 'brug',
		password: randomBytes(18).toString('base64url'),
		routeUser: 'route',
		routePassword: randomBytes(18).toString('base64url'),
	};
	const servers = [];
	for (let i = 0; i < n; i++) {
		servers.push({ name: `nats-${i + 1}`, port: await freePort(), clusterPort: await freePort() });
	}
	for (const s of servers) {
		s.configPath = path.join(dir, `${s.name}.conf`);
		writeFileSync(s.configPath, serverConfig(s, servers, certs, auth), { mode: 0o600 });
		s.url = `tls://127.0.0.1:${s.port}`;
	}

	const started = servers.map((s) => startOne(bin, s, servers.length - 1, opts));
	try {
		await Promise.all(started);
	} catch (e) {
		for (const s of servers) s.handle?.kill('SIGKILL');
		rmSync(dir, { recursive: true, force: true });
		throw e;
	}
	return {
		dir,
		caPath: certs.ca,
		user: auth.user,
		password: auth.password,
		urls: servers.map((s) => s.url),
		servers: servers.map((s) => s.handle),
		async stop() {
			await Promise.all(servers.map((s) => s.handle.stop()));
		},
		async cleanup() {
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

// Start one server and wait until it is ready and has a route to each of
// the `peers` others (a route's remote id is logged per connection).
async function startOne(bin, s, peers, opts) {
	const lines = [];
	const args = ['-c', s.configPath];
	if (opts.debug) args.push('-D');
	const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
	running.add(child);
	let exitInfo = null;
	const exited = new Promise((resolve) => {
		child.on('exit', (code, signal) => {
			exitInfo = { code, signal };
			running.delete(child);
			resolve(exitInfo);
		});
	});
	const routed = new Set();
	let ready = false;
	let wake = () => {};
	const onLine = (line) => {
		lines.push(line);
		if (/Server is ready/.test(line)) ready = true;
		// "127.0.0.1:PORT - rid:N - Route connection created" (one per remote server).
		const m = /- rid:\d+ - Route connection created/.test(line) && /(\d+\.\d+\.\d+\.\d+:\d+)/.exec(line);
		if (m) routed.add(m[1]);
		const closed = /- rid:\d+ - Router connection closed/.test(line) && /(\d+\.\d+\.\d+\.\d+:\d+)/.exec(line);
		if (closed) routed.delete(closed[1]);
		wake();
	};
	createInterface({ input: child.stdout }).on('line', onLine);
	createInterface({ input: child.stderr }).on('line', onLine);

	const handle = {
		name: s.name,
		port: s.port,
		url: s.url,
		process: child,
		logs: () => lines.slice(),
		get alive() { return exitInfo === null; },
		// SIGKILL by default: the server vanishes without a goodbye.
		async kill(signal = 'SIGKILL') {
			if (exitInfo) return exitInfo;
			child.kill(signal);
			return exited;
		},
		async stop() {
			if (exitInfo) return exitInfo;
			child.kill('SIGTERM');
			const timer = setTimeout(() => { if (!exitInfo) child.kill('SIGKILL'); }, STOP_KILL_MS);
			const info = await exited;
			clearTimeout(timer);
			return info;
		},
	};
	s.handle = handle;

	await new Promise((resolve, reject) => {
		const timeout = ready ? ROUTES_TIMEOUT_MS : START_TIMEOUT_MS + ROUTES_TIMEOUT_MS;
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`${s.name} not ready with ${peers} routes within ${timeout} ms:\n${lines.join('\n')}`));
		}, timeout);
		wake = () => {
			if (ready && routed.size >= peers) {
				clearTimeout(timer);
				wake = () => {};
				resolve();
			}
		};
		exited.then((info) => {
			clearTimeout(timer);
			reject(new Error(`${s.name} exited early (${JSON.stringify(info)}):\n${lines.join('\n')}`));
		});
		wake();
	});
	return handle;
}
