// Reads the project's ICU resource bundles in genrb's text format (the
// subset we use: nested tables of strings, adjacent strings joined, \uXXXX
// escapes, // and /* */ comments), so tests compare what the daemon says
// with the bundles themselves instead of copies of their texts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './brugd.mjs';

function unescape(s) {
	return s.replace(/\\u([0-9a-fA-F]{4})|\\(["\\nt])/g, (all, hex, ch) => {
		if (hex) return String.fromCharCode(parseInt(hex, 16));
		return { '"': '"', '\\': '\\', n: '\n', t: '\t' }[ch];
	});
}

function tokenize(src) {
	const tokens = [];
	const re = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|"((?:[^"\\]|\\.)*)"|([{}])|([A-Za-z0-9_:-]+)/gy;
	let m;
	while (re.lastIndex < src.length) {
		const at = re.lastIndex;
		m = re.exec(src);
		if (!m || m.index !== at) throw new Error(`bundle syntax at offset ${at}`);
		if (m[1] !== undefined) tokens.push({ str: unescape(m[1]) });
		else if (m[2]) tokens.push({ punct: m[2] });
		else if (m[3]) tokens.push({ word: m[3] });
	}
	return tokens;
}

function parseBody(tokens, i) {
	// After '{': either strings (a string value) or key { ... } pairs.
	if (tokens[i] && tokens[i].str !== undefined) {
		let s = '';
		while (tokens[i].str !== undefined) s += tokens[i++].str;
		if (tokens[i].punct !== '}') throw new Error('expected } after string');
		return [s, i + 1];
	}
	const table = {};
	while (tokens[i] && tokens[i].punct !== '}') {
		const key = tokens[i++].word;
		if (!key || tokens[i++].punct !== '{') throw new Error(`bad key near ${key}`);
		const [value, next] = parseBody(tokens, i);
		table[key] = value;
		i = next;
	}
	return [table, i + 1];
}

// The bundle of `pkg` (daemon or client) for `lang`, as a nested object.
export function loadBundle(pkg, lang) {
	const src = readFileSync(path.join(repoRoot, 'locales', pkg, `${lang}.txt`), 'utf8');
	const tokens = tokenize(src.replace(/^\uFEFF/, ''));
	if (tokens[0].word !== lang || tokens[1].punct !== '{') throw new Error(`${pkg}/${lang}: no top table`);
	return parseBody(tokens, 2)[0];
}

// The text of `{ ... }` branch `selector` (e.g. "=1", "none") of the first
// plural or select argument `arg` in a MessageFormat pattern.
export function branch(pattern, arg, selector) {
	const start = pattern.indexOf(`{${arg},`);
	if (start < 0) throw new Error(`no argument ${arg} in ${pattern}`);
	const at = pattern.indexOf(`${selector} {`, start);
	if (at < 0) throw new Error(`no branch ${selector} in ${pattern}`);
	let depth = 0;
	const open = at + selector.length + 1;
	for (let i = open; i < pattern.length; i++) {
		if (pattern[i] === '{') depth++;
		else if (pattern[i] === '}' && --depth === 0) return pattern.slice(open + 1, i);
	}
	throw new Error('unbalanced pattern');
}

// The literal text of a pattern before its first argument.
export function prefix(pattern) {
	const i = pattern.indexOf('{');
	return (i < 0 ? pattern : pattern.slice(0, i)).trim();
}
