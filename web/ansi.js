// ANSI SGR colours -> DOM nodes built with text nodes only (never an HTML string), with search
// highlights overlaid. Why not ansi_up: it returns HTML, and this console inserts log text only as
// text (GUIDE.md habit 10); building nodes here also lets a highlight split a coloured run.
//
// Offsets are indices into the raw message (escape sequences included), which is what the search
// API's `highlights` refer to. Invisible characters that could disguise text (bidi overrides, C0
// controls, zero-width characters U+200B-U+200D, U+2060, U+FEFF) are shown as visible markers,
// while "copy" still copies the raw message.

// CSI ... final byte | OSC ... BEL/ST | two-byte escape
const ESC_RE = /\x1b(?:\[([0-9;:?<>=]*)[\x20-\x2f]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]?)/g;
const CTRL_RE = /[\u0000-\u0008\u000b-\u001f\u007f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/g;

const CUBE = [0, 95, 135, 175, 215, 255];
function color256(n) {
  if (n < 16) return n;
  if (n < 232) {
    const i = n - 16;
    return `rgb(${CUBE[Math.floor(i / 36)]},${CUBE[Math.floor(i / 6) % 6]},${CUBE[i % 6]})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

function applySgr(st, params) {
  const p = params === '' ? [0] : params.split(/[;:]/).map((x) => (x === '' ? 0 : Number(x)));
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === 0) Object.assign(st, { fg: null, bg: null, bold: false, faint: false, italic: false, underline: false });
    else if (c === 1) st.bold = true;
    else if (c === 2) st.faint = true;
    else if (c === 3) st.italic = true;
    else if (c === 4) st.underline = true;
    else if (c === 22) { st.bold = false; st.faint = false; }
    else if (c === 23) st.italic = false;
    else if (c === 24) st.underline = false;
    else if (c >= 30 && c <= 37) st.fg = c - 30;
    else if (c >= 90 && c <= 97) st.fg = c - 90 + 8;
    else if (c === 39) st.fg = null;
    else if (c >= 40 && c <= 47) st.bg = c - 40;
    else if (c >= 100 && c <= 107) st.bg = c - 100 + 8;
    else if (c === 49) st.bg = null;
    else if (c === 38 || c === 48) {
      let v = null;
      if (p[i + 1] === 5 && p[i + 2] != null) { v = color256(p[i + 2] & 255); i += 2; }
      else if (p[i + 1] === 2 && p[i + 4] != null) {
        v = `rgb(${p[i + 2] & 255},${p[i + 3] & 255},${p[i + 4] & 255})`; i += 4;
      }
      if (c === 38) st.fg = v; else st.bg = v;
    }
  }
}

/** Split a raw message into styled runs: [{start, end, st}] where start/end index the raw string. */
export function parseAnsi(text) {
  const runs = [];
  if (text.indexOf('\x1b') < 0) return [{ start: 0, end: text.length, st: null }];
  const st = { fg: null, bg: null, bold: false, faint: false, italic: false, underline: false };
  let pos = 0;
  ESC_RE.lastIndex = 0;
  for (let m = ESC_RE.exec(text); m; m = ESC_RE.exec(text)) {
    if (m.index > pos) runs.push({ start: pos, end: m.index, st: { ...st } });
    if (m[2] === 'm') applySgr(st, m[1]);
    pos = m.index + m[0].length;
    if (m[0].length === 0) ESC_RE.lastIndex++;
  }
  if (pos < text.length) runs.push({ start: pos, end: text.length, st: { ...st } });
  return runs;
}

/** The message with escape sequences removed (for previews, copy-as-plain, JSON parsing). */
export function stripAnsi(text) {
  return text.indexOf('\x1b') < 0 ? text : text.replace(ESC_RE, '');
}

function styledSpan(st) {
  const span = document.createElement('span');
  const cls = [];
  if (typeof st.fg === 'number') cls.push(`a-fg${st.fg}`);
  else if (st.fg) span.style.color = st.fg; // built from numbers above, never from log text
  if (typeof st.bg === 'number') cls.push(`a-bg${st.bg}`);
  else if (st.bg) span.style.backgroundColor = st.bg;
  if (st.bold) cls.push('a-b');
  if (st.faint) cls.push('a-f');
  if (st.italic) cls.push('a-i');
  if (st.underline) cls.push('a-u');
  span.className = cls.join(' ');
  return span;
}

const isPlain = (st) => !st || (st.fg == null && st.bg == null && !st.bold && !st.faint && !st.italic && !st.underline);

/** Append `text` to `parent` as text nodes, showing invisible/bidi controls as visible markers. */
function appendVisible(parent, text) {
  CTRL_RE.lastIndex = 0;
  if (!CTRL_RE.test(text)) { parent.append(document.createTextNode(text)); return; }
  CTRL_RE.lastIndex = 0;
  let pos = 0;
  for (let m = CTRL_RE.exec(text); m; m = CTRL_RE.exec(text)) {
    if (m.index > pos) parent.append(document.createTextNode(text.slice(pos, m.index)));
    const code = m[0].charCodeAt(0);
    const hex = code.toString(16).toUpperCase().padStart(4, '0');
    const mark = document.createElement('span');
    mark.className = 'ctl';
    mark.title = `invisible control character U+${hex}`;
    mark.textContent = code < 0x20 ? String.fromCharCode(0x2400 + code) : code === 0x7f ? '\u2421' : `<U+${hex}>`;
    parent.append(mark);
    pos = m.index + 1;
  }
  if (pos < text.length) parent.append(document.createTextNode(text.slice(pos)));
}

/** Convert code-point offsets (Python's) to UTF-16 offsets (JavaScript's) when they differ. */
export function toUtf16Ranges(text, ranges) {
  if (!ranges || !ranges.length) return [];
  if (!/[\ud800-\udfff]/.test(text)) return ranges;
  const map = [];
  let cp = 0;
  for (let i = 0; i < text.length; i++) {
    map[cp] = i;
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00) i++;
    cp++;
  }
  map[cp] = text.length;
  return ranges.map(([s, e]) => [map[s] ?? text.length, map[e] ?? text.length]);
}

/**
 * Render a message into `parent`: ANSI colours, highlights, and a cut after `maxLines` lines or
 * `maxChars` characters. Returns {truncatedLines, truncatedChars}.
 */
export function renderMessage(parent, text, { highlights = [], maxLines = Infinity, maxChars = Infinity } = {}) {
  let cut = text.length;
  let lines = 0;
  let extraLines = 0;
  if (maxLines !== Infinity) {
    let i = -1;
    while (lines < maxLines && (i = text.indexOf('\n', i + 1)) >= 0) lines++;
    if (lines >= maxLines && i >= 0) {
      cut = i;
      let n = 0;
      for (let j = i; j >= 0; j = text.indexOf('\n', j + 1)) n++;
      extraLines = n;
    }
  }
  let extraChars = 0;
  if (cut > maxChars) { extraChars = cut - maxChars; cut = maxChars; }
  const hl = toUtf16Ranges(text, highlights).filter(([s, e]) => e > s && s < cut).sort((a, b) => a[0] - b[0]);
  for (const run of parseAnsi(text)) {
    if (run.start >= cut) break;
    const end = Math.min(run.end, cut);
    const target = isPlain(run.st) ? parent : parent.appendChild(styledSpan(run.st));
    let pos = run.start;
    for (const [hs, he] of hl) {
      if (he <= pos || hs >= end) continue;
      if (hs > pos) appendVisible(target, text.slice(pos, hs));
      const mark = document.createElement('mark');
      appendVisible(mark, text.slice(Math.max(hs, pos), Math.min(he, end)));
      target.append(mark);
      pos = Math.min(he, end);
    }
    if (pos < end) appendVisible(target, text.slice(pos, end));
  }
  if (extraLines || extraChars) {
    const more = document.createElement('span');
    more.className = 'more';
    more.textContent = extraLines
      ? ` … ${extraLines} more line${extraLines > 1 ? 's' : ''}`
      : ` … ${extraChars.toLocaleString()} more characters`;
    parent.append(more);
  }
  return { truncatedLines: extraLines, truncatedChars: extraChars };
}
