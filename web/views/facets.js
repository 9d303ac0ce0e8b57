// Field facets beside the events (Kibana's field list, Grafana Explore's): for the current view,
// the top values of level, group, stream and each JSON key seen, with counts from a bounded sample
// of the newest matching events (GET /api/v1/facets says how many). Clicking + keeps a value and −
// leaves it out: a clause added to the view's filter pattern (patterns.js), or for the group and
// the stream, the view's group=/stream= parameters.

import { get } from '../api.js';
import { clear, h } from '../dom.js';
import { addClause } from '../patterns.js';

const FOLD_KEY = 'logsvc.facets.folded';
const LABEL = { level: 'level', '@logGroup': 'log group', '@logStream': 'log stream' };

/**
 * view: {groups, streams, q, start, end}; onChange(params) gets URL parameter changes:
 * {q} for a pattern, {group, stream} for the view's sources.
 */
export function facetsPanel(view, onChange, { signal }) {
  const body = h('div', { class: 'facets-body' }, h('div', { class: 'muted small' }, 'Counting fields…'));
  const note = h('div', { class: 'facets-note muted small' });
  const folded = () => localStorage.getItem(FOLD_KEY) === '1';
  const toggle = h('button', { type: 'button', class: 'facets-title', 'aria-expanded': String(!folded()), title: 'Show or hide the field list (kept for next time)' }, 'Fields');
  const panel = h('aside', { class: `facets${folded() ? ' folded' : ''}`, 'aria-label': 'Fields of these events' }, toggle, note, body);
  toggle.addEventListener('click', () => {
    localStorage.setItem(FOLD_KEY, folded() ? '0' : '1');
    panel.classList.toggle('folded', folded());
    toggle.setAttribute('aria-expanded', String(!folded()));
  });

  function changeFor(field, v, keep) {
    if (v.match === 'json' || v.match === 'term') {
      const clause = keep ? v.keep : v.leaveOut;
      return clause ? { q: addClause(view.q, v.match, clause) } : null;
    }
    if (field === '@logGroup') {
      if (keep) return { group: [v.value], stream: [] };
      return view.groups.length > 1 ? { group: view.groups.filter((g) => g !== v.value), stream: [] } : null;
    }
    if (field === '@logStream') {
      if (keep) return { group: [v.group], stream: [v.value] };
      return view.streams.length > 1 ? { stream: view.streams.filter((s) => s !== v.value) } : null;
    }
    return null;
  }

  function button(field, v, keep) {
    const change = changeFor(field, v, keep);
    const what = `${LABEL[field] || field} ${v.value}`;
    return h('button', {
      type: 'button', class: `fv-${keep ? 'keep' : 'drop'}`, disabled: !change,
      title: change ? `${keep ? 'Only' : 'Leave out'} ${what}${change.q ? `: ${change.q}` : ''}` : (keep ? 'No filter pattern can select this value' : 'Leaving this out needs the view to name the others'),
      'aria-label': `${keep ? 'Filter for' : 'Filter out'} ${what}`,
      onclick: () => change && onChange(change),
    }, keep ? '+' : '−');
  }

  function paint(data) {
    const total = data.sampled;
    note.textContent = data.complete ? `all ${total} matching events` : `sample: the newest ${total} events`;
    note.title = data.complete ? '' : `Counts come from the newest ${total} matching events of the view, not all of them.`;
    clear(body);
    const shown = data.facets.filter((f) => f.values.length && !(f.field === '@logGroup' && f.values.length < 2 && view.groups.length <= 1));
    if (!shown.length) { body.append(h('div', { class: 'muted small' }, 'No fields in these events.')); return; }
    for (const f of shown) {
      const list = h('ul', { class: 'fvalues' });
      for (const v of f.values) {
        const pct = total ? Math.round((100 * v.count) / total) : 0;
        list.append(h('li', { class: 'fv', dataset: { field: f.field, value: v.value } },
          h('span', { class: 'fv-value', title: v.value }, v.value),
          h('span', { class: 'fv-count', title: `${v.count} of ${total} events (${pct} %)` }, String(v.count)),
          button(f.field, v, true), button(f.field, v, false),
          h('span', { class: 'fv-bar', style: { width: `${pct}%` }, 'aria-hidden': 'true' })));
      }
      // a key whose values are all different (ids, messages) starts folded: its values say little
      const distinct = f.values.every((v) => v.count === 1) && f.values.length > 1;
      body.append(h('details', { class: 'facet', open: !distinct, dataset: { field: f.field } },
        h('summary', {}, LABEL[f.field] || f.field, f.events ? h('span', { class: 'muted small' }, ` ${f.events}`) : null), list));
    }
  }

  async function load() {
    try {
      const data = await get('/facets', {
        group: view.groups, stream: view.streams, q: view.q || null, start: view.start, end: view.end,
      }, { signal });
      paint(data);
    } catch (e) {
      if (e.name === 'AbortError') return;
      clear(body).append(h('div', { class: 'muted small' }, `Fields unavailable: ${e.message}`));
    }
  }

  return { el: panel, load };
}
