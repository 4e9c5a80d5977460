// Helpers for the canary tests (05-privacy, 30-cluster-privacy): unique
// texts to plant in a chat, and the places to look for them afterwards:
// log lines, every file under a directory read as bytes, the SQL dump of
// each database, and the writable memory of a running process.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, openSync, readSync, closeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

// A text no program writes by itself: prefix and 24 random hex digits.
export function canary(prefix = 'canary-', bytes = 12) {
	return prefix + randomBytes(bytes).toString('hex');
}

// Every regular file under dir, subdirectories included.
export function filesUnder(dir) {
	const out = [];
	for (const e of readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		if (e.isDirectory()) out.push(...filesUnder(p));
		else if (e.isFile()) out.push(p);
	}
	return out;
}

// The databases among files (SQLite, by name).
export function databases(files) {
	return files.filter((f) => /\.(db|sqlite3?)$/.test(f));
}

// The needles that occur in text: a list of {where, needle}.
export function inText(where, text, needles) {
	return needles.filter((s) => text.includes(s)).map((needle) => ({ where, needle }));
}

// The needles that occur in log lines: one {where, needle, line} per line
// and needle, so a failure shows the line.
export function inLogLines(where, lines, needles) {
	const hits = [];
	for (const needle of needles) {
		for (const line of lines) {
			if (line.includes(needle)) hits.push({ where, needle, line });
		}
	}
	return hits;
}

// The needles (UTF-8, as SQLite and the logs write text) found in the bytes
// of any file under dir: a list of {where: file relative to dir, needle}.
export function inFilesUnder(dir, needles, label = path.basename(dir)) {
	const hits = [];
	for (const f of filesUnder(dir)) {
		const bytes = readFileSync(f);
		for (const needle of needles) {
			if (bytes.indexOf(Buffer.from(needle, 'utf8')) >= 0) {
				hits.push({ where: path.join(label, path.relative(dir, f)), needle });
			}
		}
	}
	return hits;
}

// The text of `sqlite3 db .dump`.
export function sqlDump(db) {
	return execFileSync('sqlite3', [db, '.dump'], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

// Every place needle occurs in the writable memory of process pid: a list
// of {mapping (its name, or [anon]), range (its addresses), address,
// before (up to `context`
// bytes that precede it in the same mapping)}. Throws EACCES/EPERM when
// the memory cannot be read.
export function memoryHits(pid, needle, context = 512) {
	const hits = [];
	const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter(Boolean);
	const fd = openSync(`/proc/${pid}/mem`, 'r');
	try {
		for (const line of maps) {
			const [range, perms, , , , name] = line.split(/\s+/);
			if (!perms.startsWith('rw')) continue;
			const [lo, hi] = range.split('-').map((x) => BigInt('0x' + x));
			const len = Number(hi - lo);
			if (len > (256 << 20)) continue;
			const buf = Buffer.alloc(len);
			try {
				readSync(fd, buf, 0, len, lo);
			} catch {
				continue; // guard pages and the like
			}
			for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + 1)) {
				hits.push({
					mapping: name || '[anon]',
					range,
					address: '0x' + (lo + BigInt(at)).toString(16),
					before: Buffer.from(buf.subarray(Math.max(0, at - context), at)),
				});
			}
		}
	} finally {
		closeSync(fd);
	}
	return hits;
}

// Where needle occurs in the writable memory of process pid: a list of
// mapping names, one for each mapping that holds it. Throws EACCES/EPERM
// when the memory cannot be read.
export function findInMemory(pid, needle) {
	const byRange = new Map(memoryHits(pid, needle, 0).map((h) => [h.range, h.mapping]));
	return [...byRange.values()];
}

// Null if the memory of process pid can be read, else the error code
// (EACCES, EPERM: Yama or a container forbids it).
export function memoryUnreadable(pid) {
	try {
		readFileSync(`/proc/${pid}/maps`);
		closeSync(openSync(`/proc/${pid}/mem`, 'r'));
		return null;
	} catch (e) {
		return e.code || String(e);
	}
}
