// Bar charts for the statistics page, drawn as inline SVG from the
// aggregates (no third-party code). Each group (a day, a language, a
// bucket) gets one bar per series; a count that the daemon suppressed
// ("<10") is drawn as a hatched bar up to the threshold with a dashed
// outline, so that it reads as "somewhere below", never as a number.

const NS = 'http://www.w3.org/2000/svg';
const H = 160;          // plot height
const TOP = 18;         // room for the value above the tallest bar
const AXIS = 40;        // the value axis on the start side
const BAR = 16;
const GAP = 3;
const GROUP_GAP = 14;

function node(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

// A count {n, hidden} as a height: suppressed parts count as the threshold
// (drawn differently), so that the scale leaves room for them.
function upper(c, threshold) {
  return c.n + c.hidden * threshold;
}

function niceMax(v) {
  if (v <= 10) return 10;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return v;
}

let serial = 0;

// opts: {groups: [{key, label, values: [count]}], series: [name],
// threshold, text(count) -> string, title}. Returns an <svg>.
export function chart({ groups, series, threshold, text, title }) {
  const id = `hatch-${++serial}`;
  const groupW = Math.max(series.length * (BAR + GAP) - GAP, 28);
  // Labels that do not fit under their group are turned.
  const longest = Math.max(1, ...groups.map((g) => String(g.label).length));
  const turn = longest * 6 > groupW + GROUP_GAP;
  const bottom = turn ? Math.min(130, 16 + longest * 5) : 28;
  const width = AXIS + groups.length * (groupW + GROUP_GAP) + GROUP_GAP + (turn ? 0 : 0);
  const legendH = 0; // the legend is HTML next to the chart (legend())
  const height = legendH + TOP + H + bottom;
  const max = niceMax(Math.max(1, ...groups.flatMap((g) => g.values.map((c) => upper(c, threshold)))));
  const y = (v) => legendH + TOP + H - (H * v) / max;

  const svg = node('svg', {
    viewBox: `0 0 ${width} ${height}`, width, height, class: 'bars', role: 'img', focusable: 'false',
  });
  svg.append(node('title', {}, title));
  const defs = node('defs');
  const pat = node('pattern', { id, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' });
  pat.append(node('rect', { width: 6, height: 6, class: 'hatch-bg' }), node('line', { x1: 0, y1: 0, x2: 0, y2: 6, class: 'hatch-line' }));
  defs.append(pat);
  svg.append(defs);

  // Axis: 0, half and max.
  for (const v of [0, max / 2, max]) {
    svg.append(node('line', { x1: AXIS - 4, x2: width, y1: y(v), y2: y(v), class: 'grid' }));
    svg.append(node('text', { x: AXIS - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, String(Math.round(v))));
  }

  groups.forEach((g, gi) => {
    const gx = AXIS + GROUP_GAP + gi * (groupW + GROUP_GAP);
    g.values.forEach((c, si) => {
      const x = gx + (groupW - (series.length * (BAR + GAP) - GAP)) / 2 + si * (BAR + GAP);
      const exact = c.n;
      const hidden = c.hidden * threshold;
      const bar = node('g', { class: 'bar', 'data-key': g.key, 'data-series': String(si) });
      if (exact > 0) bar.append(node('rect', { x, y: y(exact), width: BAR, height: Math.max(0, y(0) - y(exact)), class: `s${si % 6}` }));
      if (hidden > 0) {
        bar.append(node('rect', {
          x, y: y(exact + hidden), width: BAR, height: Math.max(0, y(exact) - y(exact + hidden)),
          fill: `url(#${id})`, class: `suppressed o${si % 6}`,
        }));
      }
      const label = text(c);
      if (exact > 0 || hidden > 0) {
        bar.append(node('text', { x: x + BAR / 2, y: y(exact + hidden) - 4, class: 'value', 'text-anchor': 'middle' }, label));
      }
      bar.append(node('title', {}, `${g.label} · ${series[si]}: ${label}`));
      svg.append(bar);
    });
    const lx = gx + groupW / 2;
    const ly = y(0) + 14;
    const lab = node('text', { x: lx, y: ly, class: 'axis', 'text-anchor': turn ? 'end' : 'middle' }, g.label);
    if (turn) lab.setAttribute('transform', `rotate(-45 ${lx} ${ly})`);
    svg.append(lab);
  });
  return svg;
}

// The series' names with their colours, as an HTML list next to the chart
// (text that wraps and mirrors with the page).
export function legend(series) {
  const ul = document.createElement('ul');
  ul.className = 'chart-legend';
  series.forEach((name, i) => {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch s${i % 6}`;
    swatch.setAttribute('aria-hidden', 'true');
    li.append(swatch, ' ', name);
    ul.append(li);
  });
  return ul;
}
