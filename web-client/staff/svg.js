// The QR code of a new authenticator comes from the daemon as SVG markup.
// It is never put into the page as markup: it is parsed as XML, and only
// <svg>, <g>, <path> and <rect> elements with their geometry (numbers, path
// data, a plain colour, a numeric transform) are copied into new elements.
// Anything else (scripts, links, styles, event handlers, foreign content)
// is left behind.

const NS = 'http://www.w3.org/2000/svg';
const NUMBER = /^-?\d+(\.\d+)?(px)?$/;
const ATTRS = {
  svg: { viewBox: /^[-\d.\s,]+$/, width: NUMBER, height: NUMBER },
  g: { transform: /^((translate|scale|matrix)\([-\d.\s,]+\)\s*)+$/, fill: null },
  path: { d: /^[MmLlHhVvZzCcSsQqTtAa\d\s.,-]+$/, fill: null, stroke: null, 'stroke-width': NUMBER, 'shape-rendering': /^(crispEdges|auto|optimizeSpeed|geometricPrecision)$/, transform: /^((translate|scale|matrix)\([-\d.\s,]+\)\s*)+$/ },
  rect: { x: NUMBER, y: NUMBER, width: NUMBER, height: NUMBER, fill: null, stroke: null, 'stroke-width': NUMBER, 'shape-rendering': /^(crispEdges|auto|optimizeSpeed|geometricPrecision)$/, transform: /^((translate|scale|matrix)\([-\d.\s,]+\)\s*)+$/ },
};
// A colour: #rgb, #rrggbb, a named colour or none (never url(...)).
const COLOUR = /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20})$/;
const MAX_NODES = 20000;

function copy(src, count) {
  const name = src.localName;
  const allowed = ATTRS[name];
  if (!allowed || src.namespaceURI !== NS) return null;
  const out = document.createElementNS(NS, name);
  for (const [attr, re] of Object.entries(allowed)) {
    const v = src.getAttribute(attr);
    if (v === null) continue;
    const ok = re === null ? COLOUR.test(v.trim()) : re.test(v.trim());
    if (ok) out.setAttribute(attr, v.trim());
  }
  for (const child of src.children) {
    if (++count.n > MAX_NODES) break;
    const c = copy(child, count);
    if (c) out.append(c);
  }
  return out;
}

// A new <svg> element from untrusted markup, or null.
export function importSvg(markup) {
  if (typeof markup !== 'string' || markup.length > 2000000) return null;
  let doc;
  try { doc = new DOMParser().parseFromString(markup, 'image/svg+xml'); } catch { return null; }
  const root = doc.documentElement;
  if (!root || root.localName !== 'svg' || root.namespaceURI !== NS || doc.getElementsByTagName('parsererror').length) return null;
  const svg = copy(root, { n: 0 });
  if (!svg) return null;
  if (!svg.getAttribute('viewBox')) {
    const w = parseFloat(root.getAttribute('width'));
    const h = parseFloat(root.getAttribute('height'));
    if (w > 0 && h > 0) svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  }
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  svg.setAttribute('focusable', 'false');
  return svg;
}
