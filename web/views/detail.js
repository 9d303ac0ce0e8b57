// The event detail panel: full message (ANSI, highlights), fields, JSON pretty-printed with
// click-to-filter, and actions (context, permalink, copy, trace).

import { h, copyText, toast } from '../dom.js';
import { renderMessage, stripAnsi } from '../ansi.js';
import { both, fmtZ } from '../time.js';
import * as router from '../router.js';
import { addJson } from '../patterns.js';

const MAX_JSON_NODES = 5000;

/** Parse a message as JSON if it looks like an object/array; null otherwise. */
export function parseJson(message) {
  const t = stripAnsi(message).trim();
  if (!(t.startsWith('{') && t.endsWith('}')) && !(t.startsWith('[') && t.endsWith(']'))) return null;
  try { return JSON.parse(t); } catch { return null; }
}

/** Add `path = value` to a filter pattern, combining with an existing JSON pattern by && (patterns.js). */
export function addJsonClause(q, path, value) {
  const v = typeof value === 'string' ? JSON.stringify(value) : value === null ? 'NULL' : String(value);
  return addJson(q, `${path} = ${v}`);
}

function jsonPath(parent, key) {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_$@][\w$@-]*$/.test(key) ? `${parent}.${key}` : `${parent}.${JSON.stringify(key)}`;
}

function jsonTree(value, onPick) {
  const pre = h('pre', { class: 'json' });
  let nodes = 0;
  const leaf = (v, path) => {
    const cls = v === null ? 'json-null' : `json-${typeof v}`;
    const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
    return h('button', { type: 'button', class: `jv ${cls}`, title: `Filter on ${path} = ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`, onclick: () => onPick(path, v), dataset: { path } }, text);
  };
  const walk = (v, path, indent, out) => {
    if (++nodes > MAX_JSON_NODES) return false;
    if (v === null || typeof v !== 'object') { out.append(leaf(v, path)); return true; }
    const isArr = Array.isArray(v);
    const keys = isArr ? v.map((_, i) => i) : Object.keys(v);
    if (!keys.length) { out.append(isArr ? '[]' : '{}'); return true; }
    out.append(isArr ? '[' : '{');
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      out.append(`\n${'  '.repeat(indent + 1)}`);
      const p = jsonPath(path, k);
      if (!isArr) {
        const child = v[k];
        const pickable = child === null || typeof child !== 'object';
        out.append(h('span', { class: 'jk', title: pickable ? `Filter on ${p}` : p, onclick: pickable ? () => onPick(p, child) : null }, JSON.stringify(k)), ': ');
      }
      if (!walk(v[k], p, indent + 1, out)) { out.append(h('span', { class: 'more' }, '… (too large to show in full; copy the message for all of it)')); return false; }
      if (i < keys.length - 1) out.append(',');
    }
    out.append(`\n${'  '.repeat(indent)}${isArr ? ']' : '}'}`);
    return true;
  };
  walk(value, '$', 0, pre);
  return pre;
}

export function permalink(e) {
  return `${location.origin}${location.pathname}${router.href('/event', { group: e.group, stream: e.stream, id: e.eventId })}`;
}

/**
 * Build the panel for event `e`. opts: {onFilter(newQ), currentQ, onClose, highlights}
 */
export function detailPanel(e, opts) {
  const f = e.fields || {};
  const json = parseJson(e.message);
  const pick = (path, value) => opts.onFilter(addJsonClause(opts.currentQ(), path, value));
  const actions = h('div', { class: 'detail-actions' },
    h('a', { class: 'btn', href: router.href('/event', { group: e.group, stream: e.stream, id: e.eventId }), title: '20 lines before and after, in its stream (c)' }, 'Show in context'),
    h('button', { class: 'btn', type: 'button', onclick: () => copyText(permalink(e)).then(() => toast('Link to this event copied')) }, 'Copy link'),
    h('button', { class: 'btn', type: 'button', onclick: () => copyText(e.message).then(() => toast('Message copied')) }, 'Copy message'),
    f.requestId ? h('a', { class: 'btn', href: router.href('/trace', { requestId: f.requestId }) }, 'Trace request') : null,
    h('button', { class: 'btn ghost close', type: 'button', 'aria-label': 'Close the panel (Esc)', onclick: opts.onClose }, '✕'));
  const meta = h('dl', { class: 'meta' },
    h('dt', {}, 'Time'), h('dd', { title: both(e.timestamp) }, fmtZ(e.timestamp)),
    h('dt', {}, 'Group'), h('dd', {}, h('a', { href: router.href('/streams', { group: e.group }) }, e.group)),
    h('dt', {}, 'Stream'), h('dd', {}, h('a', { href: router.href('/events', { group: e.group, stream: e.stream }) }, e.stream)),
    h('dt', {}, 'Ingested'), h('dd', { title: both(e.ingestionTime) }, fmtZ(e.ingestionTime)),
    h('dt', {}, 'Event ID'), h('dd', { class: 'mono' }, e.eventId));
  const fieldRows = Object.entries(f).filter(([k, v]) => k !== 'json' && v != null && typeof v !== 'object');
  const fields = fieldRows.length ? h('dl', { class: 'meta fields' }, fieldRows.map(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, String(v))])) : null;
  let body;
  if (json !== null) {
    body = h('div', {}, h('div', { class: 'detail-label' }, 'JSON — click a value to add it to the filter'), jsonTree(json, pick));
  } else {
    const pre = h('pre', { class: 'message full' });
    renderMessage(pre, e.message, { highlights: e.highlights || [] });
    body = h('div', {}, h('div', { class: 'detail-label' }, 'Message'), pre);
  }
  return h('aside', { class: 'detail', 'aria-label': 'Event details' }, actions, meta, fields, body);
}
