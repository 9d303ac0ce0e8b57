// Logs Insights query text as the editor sees it: tokens with roles (for colours and completion) and
// small rewrites (add a filter). Pure: no DOM. The server decides what is valid (POST
// /api/v1/insights/check answers with the error's offsets); this only has to agree with
// logsvc/insights/scanner.py on where tokens start and end, so colours never lie about strings,
// regexes and comments.

const OPS = ['==', '!=', '<=', '>=', '=~', '|', ',', '(', ')', '[', ']', '+', '-', '*', '/', '^', '%', '=', '<', '>', ':'];
const NUMBER_RE = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const UNIT_RE = /[A-Za-z]+/y;
const NAME_CHAR = /[A-Za-z0-9_@.]/;
export const KEYWORDS = new Set(['and', 'or', 'not', 'like', 'in', 'as', 'by', 'asc', 'desc', 'into']);
// Commands whose list of rows is final-ish: a filter added by a click goes before a trailing run of these.
const TRAILING = new Set(['sort', 'limit', 'dedup', 'display']);

/**
 * Cut `text` into tokens {kind, text, start, end}; kinds: ws, comment, string, regex, number,
 * period, name, op, bad. Then give each a `role`: command, function, aggregate, unknown-function,
 * keyword, field, sysfield, alias (names), or the kind itself. `lang` = {commands, functions,
 * aggregates} (Sets of lower-case names); without it, roles come from position alone.
 */
export function tokenize(text, lang = null) {
  const toks = [];
  let i = 0;
  const n = text.length;
  let prev = null; // previous significant token
  let segCmd = null; // lower-case command of the current pipeline segment
  let segCount = 0; // significant tokens in the segment so far
  const push = (kind, start, end, extra) => {
    const t = { kind, text: text.slice(start, end), start, end, ...extra };
    toks.push(t);
    if (kind !== 'ws' && kind !== 'comment') {
      if (kind === 'op' && t.text === '|') { segCmd = null; segCount = 0; } else {
        if (segCount === 0 && kind === 'name') { t.command = true; segCmd = t.text.toLowerCase(); }
        segCount += 1;
      }
      t.seg = segCmd;
      prev = t;
    }
    return t;
  };
  while (i < n) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      let j = i + 1;
      while (j < n && /\s/.test(text[j])) j++;
      push('ws', i, j);
      i = j;
    } else if (ch === '#') {
      let j = text.indexOf('\n', i);
      if (j < 0) j = n;
      push('comment', i, j);
      i = j;
    } else if (ch === '"' || ch === "'") {
      let j = i + 1;
      while (j < n && text[j] !== ch) j += text[j] === '\\' ? 2 : 1;
      const closed = j < n;
      push('string', i, Math.min(n, j + 1), closed ? null : { unterminated: true });
      i = Math.min(n, j + 1);
    } else if (ch === '/' && regexAllowed(prev, segCmd, segCount)) {
      let j = i + 1;
      while (j < n && text[j] !== '/' && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      const closed = j < n && text[j] === '/';
      push('regex', i, closed ? j + 1 : Math.min(j, n), closed ? null : { unterminated: true });
      i = closed ? j + 1 : Math.min(j, n);
    } else if (/[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(text[i + 1] || ''))) {
      NUMBER_RE.lastIndex = i;
      const m = NUMBER_RE.exec(text);
      let j = i + m[0].length;
      UNIT_RE.lastIndex = j;
      const u = UNIT_RE.exec(text);
      if (u) { j += u[0].length; push('period', i, j); } else push('number', i, j);
      i = j;
    } else if (ch === '`' || NAME_CHAR.test(ch)) {
      let j = i;
      while (j < n) {
        if (text[j] === '`') {
          const k = text.indexOf('`', j + 1);
          j = k < 0 ? n : k + 1;
        } else if (NAME_CHAR.test(text[j])) j++;
        else break;
      }
      push('name', i, j);
      i = j;
    } else {
      const op = OPS.find((o) => text.startsWith(o, i));
      if (op) { push('op', i, i + op.length); i += op.length; } else { push('bad', i, i + 1); i += 1; }
    }
  }
  assignRoles(toks, lang);
  return toks;
}

function regexAllowed(prev, segCmd, segCount) {
  if (!prev) return false;
  if (prev.kind === 'op') return prev.text !== ')' && prev.text !== ']';
  if (prev.kind !== 'name') return false;
  const w = prev.text.toLowerCase();
  if (prev.command) return w === 'parse' || w === 'pattern';
  if (KEYWORDS.has(w) && w !== 'as' && w !== 'by') return true;
  // parse <field> /regex/
  return segCmd === 'parse' && segCount === 2;
}

function nextSignificant(toks, i) {
  for (let j = i + 1; j < toks.length; j++) if (toks[j].kind !== 'ws' && toks[j].kind !== 'comment') return toks[j];
  return null;
}

function assignRoles(toks, lang) {
  let prevSig = null;
  toks.forEach((t, i) => {
    if (t.kind !== 'name') { t.role = t.kind; if (t.kind !== 'ws' && t.kind !== 'comment') prevSig = t; return; }
    const w = t.text.toLowerCase();
    const next = nextSignificant(toks, i);
    if (t.command) {
      t.role = !lang || lang.commands.has(w) || w === 'source' ? 'command' : 'unknown-command';
    } else if (next && next.kind === 'op' && next.text === '(' && !t.text.startsWith('`')) {
      if (!lang) t.role = 'function';
      else if (lang.aggregates.has(w)) t.role = 'aggregate';
      else if (lang.functions.has(w)) t.role = 'function';
      else t.role = w === 'loggroups' ? 'keyword' : 'unknown-function';
    } else if (KEYWORDS.has(w) || (t.seg === 'diff' && /^previous(day|week|month)$/.test(w))) {
      t.role = 'keyword';
    } else if (prevSig && prevSig.kind === 'name' && prevSig.text.toLowerCase() === 'as') {
      t.role = 'alias';
    } else {
      t.role = t.text.startsWith('@') ? 'sysfield' : 'field';
    }
    prevSig = t;
  });
}

/** A field name as the query must spell it: backticks around any dotted segment with other characters. */
export function quoteField(name) {
  if (/^[A-Za-z0-9_@.]+$/.test(name) && !/^\d/.test(name)) return name;
  return name.split('.').map((seg) => (/^[A-Za-z0-9_@]+$/.test(seg) ? seg : `\`${seg.replace(/`/g, '')}\``)).join('.');
}

/** A string literal for the query: double quotes, with the scanner's escapes. */
export function quoteString(value) {
  return `"${String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
}

/** Offsets of the top-level `|` separators (not inside strings, regexes or comments). */
function pipes(toks) {
  return toks.filter((t) => t.kind === 'op' && t.text === '|');
}

/**
 * `text` with `| filter field = "value"` added: before a trailing run of sort/limit/dedup/display
 * commands (a filter after `limit 20` would only thin those 20 rows; after `dedup` it is refused),
 * else at the end.
 */
export function addFilter(text, field, value, lang = null) {
  const clause = `filter ${quoteField(field)} = ${quoteString(value)}`;
  const toks = tokenize(text, lang);
  const cmds = toks.filter((t) => t.command);
  let at = null;
  for (let k = cmds.length - 1; k > 0; k--) {
    if (!TRAILING.has(cmds[k].text.toLowerCase())) break;
    at = cmds[k];
  }
  if (at) {
    const bar = pipes(toks).filter((p) => p.start < at.start).pop();
    if (bar) {
      // keep the layout: "\n| filter …" before the "| sort …" line
      const lineStart = text.lastIndexOf('\n', bar.start - 1) + 1;
      const onOwnLine = /^\s*$/.test(text.slice(lineStart, bar.start));
      if (onOwnLine) return `${text.slice(0, lineStart)}| ${clause}\n${text.slice(lineStart)}`;
      return `${text.slice(0, bar.start)}| ${clause} ${text.slice(bar.start)}`;
    }
  }
  const trimmed = text.replace(/\s+$/, '');
  if (!cmds.length) return clause;
  return `${trimmed}\n| ${clause}`;
}

/** Does the query end in a `stats … by bin(…)`? (The table then also draws as a time series.) */
export function hasBinStats(text, lang = null) {
  const toks = tokenize(text, lang);
  let inBy = false;
  let found = false;
  for (const t of toks) {
    if (t.command) { inBy = false; if (t.text.toLowerCase() === 'stats') found = false; }
    if (t.kind === 'name' && t.seg === 'stats' && t.text.toLowerCase() === 'by') inBy = true;
    if (inBy && t.kind === 'name' && t.text.toLowerCase() === 'bin' && t.role !== 'field') found = true;
  }
  return found;
}

/** The word being typed at `pos` (letters, digits, _ @ .) and where it starts. */
export function wordAt(text, pos) {
  let s = pos;
  while (s > 0 && NAME_CHAR.test(text[s - 1])) s--;
  return { start: s, word: text.slice(s, pos) };
}

/**
 * What may be typed at `pos`: 'none' inside a string, regex or comment; 'command' where a
 * command starts; 'expr' elsewhere. Also the segment's command (stats allows aggregates).
 */
export function contextAt(text, pos, lang = null) {
  const toks = tokenize(text, lang);
  let prev = null;
  let seg = null;
  for (const t of toks) {
    if (t.start >= pos) break;
    if (t.kind === 'name' && t.end >= pos) break; // the word being typed itself
    if (t.end > pos || (t.end === pos && t.unterminated)) {
      if (t.kind === 'string' || t.kind === 'regex' || t.kind === 'comment') return { kind: 'none', seg };
    }
    if (t.end === pos && t.kind === 'comment') return { kind: 'none', seg };
    if (t.kind !== 'ws' && t.kind !== 'comment') {
      prev = t;
      seg = t.kind === 'op' && t.text === '|' ? null : (t.seg || seg);
    }
  }
  if (!prev || (prev.kind === 'op' && prev.text === '|')) return { kind: 'command', seg: null };
  return { kind: 'expr', seg };
}
