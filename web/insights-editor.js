// The Logs Insights query editor: a plain <textarea> (so typing, undo, selection, IME and screen
// readers behave as everywhere) over a highlighted copy of the same text, plus a completion list
// (commands, functions, fields seen in the selected groups) and the server's caret error marked in
// place. Query text is shown only through text nodes (dom.js): a pasted query is data, not markup.

import { h } from './dom.js';
import { contextAt, quoteField, tokenize, wordAt } from './insights-lang.js';

const MAX_ITEMS = 12;
let uid = 0;

/** Build the language sets from GET /api/v1/insights/language (null until it answers). */
export function languageOf(data) {
  if (!data) return null;
  return {
    commands: new Set((data.commands || []).map((c) => c.toLowerCase())),
    functions: new Set((data.functions || []).map((f) => f.name.toLowerCase())),
    aggregates: new Set((data.aggregates || []).map((f) => f.name.toLowerCase())),
    data,
  };
}

export class QueryEditor {
  /**
   * opts: {value, onChange(text), onRun(), label}. Call setLanguage(), setFields() when known,
   * setError({start, end, message}) / setError(null) with the server's answer.
   */
  constructor(opts) {
    this.opts = opts;
    this.lang = null;
    this.fields = [];
    this.error = null;
    this.items = [];
    this.active = -1;
    this.id = `qe${++uid}`;
    this.ta = h('textarea', {
      class: 'qe-input', spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off', wrap: 'off',
      'aria-label': opts.label || 'Logs Insights query', 'data-primary-input': true, role: 'combobox',
      'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': `${this.id}-list`, 'aria-multiline': 'true',
      'aria-describedby': `${this.id}-help`,
    });
    this.ta.value = opts.value || '';
    this.hl = h('pre', { class: 'qe-hl', 'aria-hidden': 'true' });
    this.list = h('ul', { class: 'qe-complete', role: 'listbox', id: `${this.id}-list`, hidden: true, 'aria-label': 'Completions' });
    this.measure = h('span', { class: 'qe-measure', 'aria-hidden': 'true' }, 'MMMMMMMMMM');
    this.el = h('div', { class: 'qe' }, this.hl, this.ta, this.list, this.measure,
      h('span', { id: `${this.id}-help`, hidden: true },
        'Ctrl+Enter runs the query. Ctrl+Space lists completions; arrows pick, Enter or Tab accepts, Escape closes.'));
    this.ta.addEventListener('input', () => { this.paint(); this.complete(false); this.opts.onChange?.(this.ta.value); });
    this.ta.addEventListener('scroll', () => this.syncScroll());
    this.ta.addEventListener('keydown', (ev) => this.onKey(ev));
    this.ta.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== this.ta) this.close(); }, 150));
    this.ta.addEventListener('click', () => this.close());
    this.paint();
  }

  get value() { return this.ta.value; }

  setValue(text, { focus = false } = {}) {
    this.ta.value = text;
    this.error = null;
    this.paint();
    this.close();
    if (focus) { this.ta.focus(); this.ta.setSelectionRange(text.length, text.length); }
    this.opts.onChange?.(text);
  }

  setLanguage(lang) { this.lang = lang; this.paint(); }

  /** fields: [{name, percent}] from GET /api/v1/insights/fields. */
  setFields(fields) { this.fields = fields || []; }

  setError(err) {
    this.error = err && Number.isInteger(err.start) ? err : null;
    this.ta.setAttribute('aria-invalid', this.error ? 'true' : 'false');
    this.paint();
  }

  focus() { this.ta.focus(); }

  /** Put the caret at `offset` (a column of the error, say) and show it. */
  caretTo(offset) {
    this.ta.focus();
    const o = Math.max(0, Math.min(this.ta.value.length, offset));
    this.ta.setSelectionRange(o, o);
  }

  /**
   * Replace [start, end) as if typed: through the browser's own editing (execCommand insertText), so
   * Ctrl+Z takes it back; setRangeText where that is unavailable.
   */
  replaceRange(start, end, text) {
    this.ta.focus({ preventScroll: true }); // a value clicked deep in the table keeps its place
    this.ta.setSelectionRange(start, end);
    let done = false;
    try { done = document.execCommand('insertText', false, text); } catch { done = false; }
    if (!done || this.ta.value.slice(start, start + text.length) !== text) {
      this.ta.setRangeText(text, start, end, 'end');
      this.ta.dispatchEvent(new Event('input'));
    }
  }

  /** The whole text replaced as one undoable edit (a filter added from the results). */
  replaceAll(text) { this.replaceRange(0, this.ta.value.length, text); }

  /** Select [start, end) (a placeholder to type over). */
  select(start, end) {
    this.ta.focus();
    this.ta.setSelectionRange(start, end);
  }

  /** Insert text at the caret (a field picked from the fields list). */
  insert(text) {
    this.replaceRange(this.ta.selectionStart, this.ta.selectionEnd, text);
  }

  // ---- colours -----------------------------------------------------------------------------------

  paint() {
    const text = this.ta.value;
    const lines = text.split('\n').length;
    this.ta.rows = Math.max(4, Math.min(16, lines + 1));
    const out = [];
    const err = this.error;
    const es = err ? Math.min(err.start, text.length) : -1;
    const ee = err ? Math.max(es + 1, Math.min(err.end ?? es + 1, text.length)) : -1;
    for (const t of tokenize(text, this.lang)) {
      const cls = t.kind === 'ws' ? null : `tok-${t.role}${t.unterminated ? ' tok-unterminated' : ''}`;
      // cut the token where the error range starts and ends
      const cuts = [t.start, t.end];
      if (err && es > t.start && es < t.end) cuts.push(es);
      if (err && ee > t.start && ee < t.end) cuts.push(ee);
      cuts.sort((a, b) => a - b);
      for (let k = 0; k < cuts.length - 1; k++) {
        const a = cuts[k];
        const b = cuts[k + 1];
        if (a === b) continue;
        const piece = text.slice(a, b);
        const inErr = err && a >= es && b <= ee;
        const c = [cls, inErr ? 'qe-err' : null].filter(Boolean).join(' ');
        out.push(c ? h('span', { class: c }, piece) : piece);
      }
    }
    if (err && es >= text.length) out.push(h('span', { class: 'qe-err qe-err-eof' }, ' '));
    out.push('\n ');
    this.hl.replaceChildren(...out);
    this.syncScroll();
  }

  syncScroll() {
    this.hl.scrollTop = this.ta.scrollTop;
    this.hl.scrollLeft = this.ta.scrollLeft;
  }

  // ---- completion --------------------------------------------------------------------------------

  candidates(force) {
    const text = this.ta.value;
    const pos = this.ta.selectionStart;
    if (pos !== this.ta.selectionEnd) return { items: [], start: pos };
    const { start, word } = wordAt(text, pos);
    if (!force && !word) return { items: [], start };
    const ctx = contextAt(text, pos, this.lang);
    if (ctx.kind === 'none') return { items: [], start };
    const lang = this.lang ? this.lang.data : { commands: [], functions: [], aggregates: [], keywords: [] };
    const lw = word.toLowerCase();
    const items = [];
    const add = (label, kind, detail, insert) => {
      if (label.toLowerCase().startsWith(lw) && label !== word) items.push({ label, kind, detail, insert: insert || label });
    };
    if (ctx.kind === 'command') {
      for (const c of lang.commands) add(c, 'command', 'command', `${c} `);
    } else {
      for (const f of this.fields) add(f.name, 'field', `${Math.round(f.percent)}% of events`, quoteField(f.name));
      // names the query itself makes (`as` aliases): usable by the commands after them
      const known = new Set(this.fields.map((f) => f.name));
      for (const t of tokenize(text, this.lang)) {
        if (t.role === 'alias' && t.end < start && !known.has(t.text)) { known.add(t.text); add(t.text, 'field', 'defined in the query'); }
      }
      if (!word.startsWith('@')) {
        if (ctx.seg === 'stats') for (const a of lang.aggregates) add(a.name, 'aggregate', argsHint(a), `${a.name}(`);
        for (const f of lang.functions) add(f.name, 'function', argsHint(f), f.maxArgs === 0 ? `${f.name}()` : `${f.name}(`);
        for (const k of lang.keywords || []) add(k, 'keyword', 'keyword', `${k} `);
      }
    }
    // exact-case prefix matches first, then shorter names
    items.sort((a, b) => (b.label.startsWith(word) - a.label.startsWith(word)) || (a.label.length - b.label.length));
    return { items: items.slice(0, MAX_ITEMS), start };
  }

  complete(force) {
    const { items, start } = this.candidates(force);
    this.items = items;
    this.wordStart = start;
    if (!items.length) { this.close(); return; }
    this.active = 0;
    this.list.replaceChildren(...items.map((it, i) => h('li', {
      role: 'option', id: `${this.id}-o${i}`, class: `qe-item kind-${it.kind}`, 'aria-selected': String(i === 0), dataset: { label: it.label },
      onmousedown: (ev) => { ev.preventDefault(); this.accept(i); },
    }, h('span', { class: 'qe-label' }, it.label), h('span', { class: 'qe-detail' }, it.detail))));
    this.list.hidden = false;
    this.ta.setAttribute('aria-expanded', 'true');
    this.ta.setAttribute('aria-activedescendant', `${this.id}-o0`);
    this.place();
  }

  place() {
    const text = this.ta.value.slice(0, this.ta.selectionStart);
    const line = text.split('\n').length - 1;
    const col = text.length - (text.lastIndexOf('\n') + 1);
    const cw = this.measure.getBoundingClientRect().width / 10 || 7.5;
    const cs = getComputedStyle(this.ta);
    const lh = parseFloat(cs.lineHeight) || 18;
    const top = parseFloat(cs.paddingTop) + (line + 1) * lh - this.ta.scrollTop + 2;
    const left = parseFloat(cs.paddingLeft) + col * cw - this.ta.scrollLeft;
    this.list.style.top = `${Math.min(top, this.ta.clientHeight + 4)}px`;
    this.list.style.left = `${Math.max(0, Math.min(left, this.ta.clientWidth - 220))}px`;
  }

  move(d) {
    if (!this.items.length) return;
    this.active = (this.active + d + this.items.length) % this.items.length;
    [...this.list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === this.active)));
    this.list.children[this.active].scrollIntoView({ block: 'nearest' });
    this.ta.setAttribute('aria-activedescendant', `${this.id}-o${this.active}`);
  }

  accept(i) {
    const it = this.items[i];
    if (!it) return;
    const pos = this.ta.selectionStart;
    let end = pos;
    while (end < this.ta.value.length && /[A-Za-z0-9_@.]/.test(this.ta.value[end])) end++;
    this.replaceRange(this.wordStart, end, it.insert);
    this.close();
  }

  close() {
    this.items = [];
    this.list.hidden = true;
    this.ta.setAttribute('aria-expanded', 'false');
    this.ta.removeAttribute('aria-activedescendant');
  }

  onKey(ev) {
    const open = !this.list.hidden;
    if ((ev.ctrlKey || ev.metaKey) && ev.key === 'Enter') { ev.preventDefault(); this.close(); this.opts.onRun?.(); return; }
    if (ev.ctrlKey && (ev.key === ' ' || ev.code === 'Space')) { ev.preventDefault(); this.complete(true); return; }
    if (!open) return;
    if (ev.key === 'ArrowDown') { ev.preventDefault(); this.move(1); } else if (ev.key === 'ArrowUp') { ev.preventDefault(); this.move(-1); } else if (ev.key === 'Enter' || ev.key === 'Tab') {
      ev.preventDefault();
      this.accept(this.active);
    } else if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      this.close();
    }
  }
}

function argsHint(f) {
  if (f.maxArgs === 0) return '()';
  if (f.maxArgs == null) return `(${f.minArgs}+ args)`;
  return f.minArgs === f.maxArgs ? `(${f.minArgs} arg${f.minArgs === 1 ? '' : 's'})` : `(${f.minArgs}–${f.maxArgs} args)`;
}
