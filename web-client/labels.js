// Labels for the visitor page and the staff console. The page carries no text
// of its own: every word comes from the daemon's locale bundles, served as
// GET /i18n/LANG.json:
//   {"lang":"ar","dir":"rtl","languages":{code: autonym},
//    "topics":{id: label},"visitor":{...},"staff":{...}}
// Bundles are kept in memory for the life of the page only.

const LANG_RE = /^[a-z]{2,3}$/;
const MAX_TRIES = 6;

const cache = new Map(); // lang -> bundle

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function valid(b) {
  return isObject(b) && typeof b.lang === 'string' && (b.dir === 'rtl' || b.dir === 'ltr')
    && isObject(b.languages) && isObject(b.topics) && isObject(b.visitor) && isObject(b.staff);
}

// The bundle for lang, or null when the daemon has none (or says something
// that is not a bundle). Network failures throw.
export async function fetchBundle(lang) {
  if (!LANG_RE.test(lang)) return null;
  if (cache.has(lang)) return cache.get(lang);
  const resp = await fetch(`/i18n/${lang}.json`, {
    cache: 'no-store',
    credentials: 'omit',
    headers: { Accept: 'application/json' },
  });
  if (!resp.ok) return null;
  let b;
  try { b = await resp.json(); } catch { return null; }
  if (!valid(b)) {
    console.warn(`/i18n/${lang}.json is not a label bundle`);
    return null;
  }
  cache.set(lang, b);
  return b;
}

// The daemon's public settings (GET /api/config.json): {languages,
// default_language, topics, neutral_url, ...}, or null when it has none.
let configPromise = null;
export function fetchConfig() {
  if (!configPromise) {
    configPromise = (async () => {
      const resp = await fetch('/api/config.json', { cache: 'no-store', credentials: 'omit', headers: { Accept: 'application/json' } });
      if (!resp.ok) return null;
      const c = await resp.json();
      return isObject(c) ? c : null;
    })().catch(() => { configPromise = null; return null; });
  }
  return configPromise;
}

// Language codes the browser prefers, most preferred first: ["ar", "nl"].
export function browserLanguages() {
  const out = [];
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const tag of prefs) {
    if (typeof tag !== 'string') continue;
    const base = tag.toLowerCase().split(/[-_]/)[0];
    if (LANG_RE.test(base) && !out.includes(base)) out.push(base);
  }
  return out;
}

// The first bundle the daemon has among wanted (codes in order of
// preference; only the configured languages), else the configured default
// language, else English. Retries with backoff while the daemon cannot be
// reached; resolves once a bundle is loaded.
export async function firstBundle(wanted) {
  for (let attempt = 0; ; attempt++) {
    const config = await fetchConfig();
    const offered = config && Array.isArray(config.languages) ? config.languages : null;
    const order = [];
    const fallback = [config && config.default_language, 'en'];
    for (const l of [...wanted.filter((w) => !offered || offered.includes(w)), ...fallback]) {
      if (typeof l === 'string' && LANG_RE.test(l) && !order.includes(l)) order.push(l);
    }
    let reachable = false;
    for (const lang of order.slice(0, MAX_TRIES)) {
      try {
        const b = await fetchBundle(lang);
        reachable = true;
        if (b) return b;
      } catch { /* offline: try again below */ }
    }
    if (reachable) console.warn(`no label bundle for ${order.join(', ')}`);
    await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** attempt)));
  }
}

// A label by its path ("roles.volunteer") in one part of a bundle, or
// undefined.
export function lookup(part, key) {
  let v = part;
  for (const k of key.split('.')) {
    if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, k)) return undefined;
    v = v[k];
  }
  return v;
}

// Fill {name} placeholders; unknown ones stay as they are.
export function fmt(template, vars = {}) {
  if (typeof template !== 'string') return '';
  return template.replace(/\{(\w+)\}/g, (all, key) => (Object.prototype.hasOwnProperty.call(vars, key) ? String(vars[key]) : all));
}

// Give every element under root its label from part (the bundle's `visitor`
// or `staff` object):
//   data-i18n="key"        the element's text
//   data-i18n-label="key"  its aria-label
//   data-i18n-title="key"  its title (tooltip)
// Returns the keys the bundle lacks (the element is then left empty, never
// filled with another language).
export function applyLabels(root, part) {
  const missing = [];
  const put = (node, key, set) => {
    const text = lookup(part, key);
    if (typeof text === 'string') set(text);
    else { set(''); missing.push(key); }
  };
  const scope = (sel) => [...(root.matches?.(sel) ? [root] : []), ...root.querySelectorAll(sel)];
  for (const node of scope('[data-i18n]')) put(node, node.dataset.i18n, (t) => { node.textContent = t; });
  for (const node of scope('[data-i18n-label]')) put(node, node.dataset.i18nLabel, (t) => node.setAttribute('aria-label', t));
  for (const node of scope('[data-i18n-title]')) put(node, node.dataset.i18nTitle, (t) => { node.title = t; });
  if (missing.length) console.warn(`labels missing: ${[...new Set(missing)].join(', ')}`);
  return missing;
}

// <html lang dir> from a bundle, so the whole page mirrors at once.
export function setDocumentLanguage(bundle) {
  document.documentElement.lang = bundle.lang;
  document.documentElement.dir = bundle.dir;
}
