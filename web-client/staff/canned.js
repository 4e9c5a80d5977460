// Prepared answers (canned responses) for the staff console. They come with
// the label bundle of the *chat's* language (GET /i18n/LANG.json):
//   "canned": {group: {keyword: text}}, "cannedGroup": {group: title}
// where a group is a topic id (forced_marriage, ...) or "general".

const GENERAL = 'general';

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// The answers of a bundle as [{group, answers: [{keyword, text}]}]: the
// chat's topic group first, then the general one, then the others in the
// bundle's order. Empty when the bundle has none.
export function cannedGroups(bundle, topic) {
  const canned = bundle && isObject(bundle.canned) ? bundle.canned : {};
  const out = [];
  for (const [group, answers] of Object.entries(canned)) {
    if (!isObject(answers)) continue;
    const list = [];
    for (const [keyword, text] of Object.entries(answers)) {
      if (typeof text === 'string' && text.trim() && /^[\p{L}\p{N}_-]+$/u.test(keyword)) {
        list.push({ keyword, text });
      }
    }
    if (list.length) out.push({ group, answers: list });
  }
  const rank = (g) => (g.group === topic ? 0 : g.group === GENERAL ? 1 : 2);
  // Array.prototype.sort is stable: within a rank the bundle's order stays.
  return out.sort((a, b) => rank(a) - rank(b));
}

// The answer for a keyword typed after "/": an exact keyword first (the
// topic's group wins over general, as ordered above), else the only keyword
// that starts with it. null when none or several match.
export function findAnswer(groups, word) {
  if (!word) return null;
  const w = word.toLowerCase();
  const starts = [];
  for (const g of groups) {
    for (const a of g.answers) {
      const k = a.keyword.toLowerCase();
      if (k === w) return a;
      if (k.startsWith(w) && !starts.some((s) => s.keyword.toLowerCase() === k)) starts.push(a);
    }
  }
  return starts.length === 1 ? starts[0] : null;
}

// Answers whose keyword starts with word, at most max (for the hint line).
export function suggestions(groups, word, max = 4) {
  const w = word.toLowerCase();
  const out = [];
  const seen = new Set();
  for (const g of groups) {
    for (const a of g.answers) {
      const k = a.keyword.toLowerCase();
      if (k.startsWith(w) && !seen.has(k)) {
        seen.add(k);
        out.push(a);
        if (out.length >= max) return out;
      }
    }
  }
  return out;
}

// The "/keyword" that ends at the caret of a textarea (at the start or
// after white space), as {start, end, word} without the slash; else null.
export function keywordAtCaret(textarea) {
  const end = textarea.selectionStart;
  if (end !== textarea.selectionEnd) return null;
  const before = textarea.value.slice(0, end);
  const m = /(^|\s)\/([\p{L}\p{N}_-]*)$/u.exec(before);
  if (!m) return null;
  return { start: end - m[2].length - 1, end, word: m[2] };
}

// Put text into a textarea in place of [start, end) and leave the caret
// after it; tells listeners with an input event (typing indicator).
export function insertText(textarea, text, start = textarea.selectionStart, end = textarea.selectionEnd) {
  textarea.focus();
  textarea.setRangeText(text, start, end, 'end');
  textarea.dispatchEvent(new Event('input', { bubbles: true }));
}
