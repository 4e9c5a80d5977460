// Every text the daemon sends comes from the bundle of the visitor's
// language (issue "every word in five languages"): welcome, closed, queue,
// ended and error texts for nl, ar, ti, tr and en, compared with
// locales/daemon/*.txt and locales/client/*.txt, not with copies here.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrugd, visitorHello, availableStaff, sync } from '../lib/brugd.mjs';
import { loadBundle, branch, prefix } from '../lib/bundles.mjs';

const PW = 'integration-test-password-07';
const LANGS = ['nl', 'ar', 'ti', 'tr', 'en'];
const DIR = { nl: 'ltr', ar: 'rtl', ti: 'ltr', tr: 'ltr', en: 'ltr' };
let b;

before(async () => {
	b = await startBrugd({
		staff: [{ user: 'poly', alias: 'Poly', roles: 'volunteer', langs: LANGS.join(','), maxChats: 5, password: PW }],
	});
}, { timeout: 60000 });

after(async () => {
	if (b) {
		await b.stop();
		await b.cleanup();
	}
});

for (const lang of LANGS) {
	test(`${lang}: welcome, closed, queue, ended and errors come from the ${lang} bundle`, { timeout: 20000 }, async () => {
		const d = loadBundle('daemon', lang).daemon;

		// Nobody available: closed, in the visitor's language, with the alternatives.
		const { v, welcome } = await visitorHello(b, { lang });
		assert.equal(welcome.lang, lang);
		assert.equal(welcome.dir, DIR[lang]);
		assert.equal(welcome.open, false);
		const closed = await v.next('closed');
		assert.ok(closed.text.startsWith(prefix(d.closed)), `closed text ${closed.text}`);
		assert.ok(closed.text.includes(d.alternatives), 'closed names the alternatives');
		assert.equal(closed.next_open, null);

		// An error message in the same language.
		v.sendRaw('{not json');
		const err = await v.next('error');
		assert.equal(err.code, 'bad_json');
		assert.equal(err.message, d.err_bad_json);
		v.send({ type: 'end' });
		const left = await v.next('ended');
		assert.equal(left.text, d.ended_visitor);
		v.close();

		// Someone available: the queue text is the bundle's first-in-line branch.
		const s = await availableStaff(b, 'poly', PW);
		const w = await visitorHello(b, { lang });
		assert.equal(w.welcome.open, true);
		const q = await w.v.next('queue');
		assert.equal(q.position, 1);
		assert.ok(q.text.startsWith(branch(d.queue, 0, '=1')), `queue text ${q.text}`);
		assert.ok(q.text.includes(branch(d.queue, 1, '=-1')), 'no estimate yet');
		const offer = await s.next('offer');
		assert.equal(offer.lang, lang);
		w.v.send({ type: 'end' });
		await w.v.next('ended');
		w.v.close();
		s.close();
	});
}

test('without hello, error texts follow Accept-Language', { timeout: 15000 }, async () => {
	const tr = loadBundle('daemon', 'tr').daemon;
	const { connectVisitor } = await import('../lib/brugd.mjs');
	const v = await connectVisitor(b, { headers: { 'Accept-Language': 'tr-TR,tr;q=0.9,en;q=0.5' } });
	v.send({ type: 'nonsense' });
	const err = await v.next('error');
	assert.equal(err.code, 'bad_type');
	assert.equal(err.message, tr.err_bad_type);
	v.close();
});

test('GET /i18n/LANG.json serves the client bundle of each language', { timeout: 15000 }, async () => {
	const https = await import('node:https');
	const { readFileSync } = await import('node:fs');
	const get = (p) => new Promise((resolve, reject) => {
		https.get({ host: 'localhost', port: b.port, path: p, ca: readFileSync(b.caPath) }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (c) => { body += c; });
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
		}).on('error', reject);
	});
	for (const lang of LANGS) {
		const bundle = loadBundle('client', lang);
		const res = await get(`/i18n/${lang}.json`);
		assert.equal(res.status, 200);
		assert.match(res.headers['content-type'], /^application\/json/);
		assert.equal(res.headers['set-cookie'], undefined);
		const doc = JSON.parse(res.body);
		assert.equal(doc.lang, lang);
		assert.equal(doc.dir, DIR[lang]);
		assert.deepEqual(doc.visitor, bundle.client.visitor);
		assert.deepEqual(doc.staff, bundle.client.staff);
		assert.deepEqual(doc.topics, bundle.topics);
		assert.deepEqual(doc.langName, bundle.langName);
		assert.deepEqual(doc.canned, bundle.canned);
		assert.deepEqual(doc.cannedGroup, bundle.cannedGroup);
		for (const other of LANGS)
			assert.equal(doc.languages[other], loadBundle('client', other).meta.autonym);
	}
	assert.equal((await get('/i18n/de.json')).status, 404);
	assert.equal((await get('/i18n/../../etc/passwd')).status, 404);
	const cfg = JSON.parse((await get('/api/config.json')).body);
	assert.deepEqual(cfg.languages, LANGS);
	assert.equal(cfg.default_language, 'nl');
	assert.match(cfg.neutral_url, /^https:\/\//);
});
