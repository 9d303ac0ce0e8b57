// Bits shared by the views: the toolbar pieces (range picker, breadcrumbs) and j/k over table rows.

import { h } from '../dom.js';
import { RELATIVE, fromInput, rangeOf, toInput, zoneLabel, zoneName } from '../time.js';
import * as router from '../router.js';

/** j/k/Enter over the rows of a table; rows carry class `krow` and one primary link. */
export function tableKeys(container) {
  return (key) => {
    const rows = [...container.querySelectorAll('.krow')];
    if (!rows.length) return false;
    let i = rows.findIndex((r) => r.classList.contains('kselected'));
    if (key === 'j' || key === 'k') {
      if (i >= 0) rows[i].classList.remove('kselected');
      i = key === 'j' ? Math.min(rows.length - 1, i + 1) : Math.max(0, i < 0 ? 0 : i - 1);
      rows[i].classList.add('kselected');
      rows[i].scrollIntoView({ block: 'nearest' });
      return true;
    }
    if (key === 'Enter' && i >= 0) {
      const a = rows[i].querySelector('a.primary-link');
      if (a) { a.click(); return true; }
    }
    return false;
  };
}

export function breadcrumbs(parts) {
  const nav = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' });
  parts.forEach((p, i) => {
    if (i) nav.append(h('span', { class: 'sep', 'aria-hidden': 'true' }, '/'));
    nav.append(p.href ? h('a', { href: p.href, title: p.title || p.text }, p.text) : h('span', { class: 'here', title: p.title || p.text }, p.text));
  });
  return nav;
}

/**
 * Range picker: relative presets, "newest" (no range) and an absolute from/to in the chosen zone.
 * Calls onChange({range}|{start,end}|{}) with URL parameters to set.
 */
export function rangePicker(params, onChange, { allowNewest = true, newestLabel = 'Newest events' } = {}) {
  const r = rangeOf(params);
  const sel = h('select', { class: 'range-select', 'aria-label': 'Time range', title: 'Time range' });
  if (allowNewest) sel.append(h('option', { value: '' }, newestLabel));
  for (const [v, label] of RELATIVE) sel.append(h('option', { value: v }, label));
  sel.append(h('option', { value: 'custom' }, 'Custom range…'));
  const absolute = params.get('start') || params.get('end');
  sel.value = absolute ? 'custom' : (r.rel || (allowNewest ? '' : '1h'));
  if (!allowNewest && !absolute && !r.rel) sel.value = '1h';
  // Text inputs, not datetime-local: the browser's picker shows its locale's clock (12-hour in en-US),
  // and the console has one clock everywhere (24-hour, as the table shows times).
  const timeInput = (label, ms) => h('input', {
    type: 'text', class: 'time-input', 'aria-label': label, value: toInput(ms), placeholder: 'YYYY-MM-DD HH:MM:SS',
    spellcheck: 'false', autocomplete: 'off', size: 19, title: `${label}, 24-hour, in ${zoneName()}`,
  });
  const from = timeInput('From', r.start);
  const to = timeInput('To (empty = now)', r.end);
  const apply = h('button', { class: 'btn', type: 'submit' }, 'Apply');
  const zone = h('span', { class: 'zone muted', title: `Times are entered and shown in ${zoneName()}; pick another zone in the header (t: UTC / local)` }, zoneLabel());
  const custom = h('form', { class: 'custom-range', hidden: sel.value !== 'custom' }, from, h('span', { class: 'muted' }, '→'), to, zone, apply);
  custom.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const s = fromInput(from.value);
    const e = fromInput(to.value);
    if (s == null) { from.setCustomValidity('Give a start time as YYYY-MM-DD HH:MM:SS (24-hour)'); from.reportValidity(); return; }
    if (to.value.trim() && e == null) { to.setCustomValidity('Give the end as YYYY-MM-DD HH:MM:SS (24-hour), or leave it empty for now'); to.reportValidity(); return; }
    if (e != null && e <= s) { to.setCustomValidity('The end must be after the start'); to.reportValidity(); return; }
    onChange({ start: s, end: e });
  });
  from.addEventListener('input', () => from.setCustomValidity(''));
  to.addEventListener('input', () => to.setCustomValidity(''));
  sel.addEventListener('change', () => {
    if (sel.value === 'custom') {
      custom.hidden = false;
      if (!from.value) from.value = toInput(Date.now() - 3600000);
      from.focus();
      return;
    }
    onChange(sel.value ? { range: sel.value } : {});
  });
  return h('div', { class: 'range-picker' }, sel, custom);
}

/** Copy params, replacing the range-related keys with `range` (an object from rangePicker). */
export function withRange(params, range) {
  const p = new URLSearchParams(params);
  ['range', 'start', 'end'].forEach((k) => p.delete(k));
  for (const [k, v] of Object.entries(range)) if (v != null && v !== '') p.set(k, String(v));
  return p;
}

export function navigate(path, params, opts) { router.go(path, params, opts); }
