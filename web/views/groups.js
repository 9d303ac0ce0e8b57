// Log groups: filter box, stream counts, last event time; pick several to view them merged. The list
// stays current (live.js): a group created while the page is open appears without a reload.

import { get } from '../api.js';
import { clear, errorBox, fmtBytes, h, stateBox } from '../dom.js';
import { ago, fmtZ } from '../time.js';
import * as router from '../router.js';
import { tableKeys } from './common.js';
import { keepFresh, repaintKeeping, signature } from '../live.js';

export function groupsView(root, params) {
  const ctl = new AbortController();
  const filter = h('input', {
    type: 'search', class: 'grow', placeholder: 'Filter log groups by name', 'aria-label': 'Filter log groups',
    value: params.get('filter') || '', 'data-primary-input': true,
  });
  const searchForm = h('form', { class: 'searchall', role: 'search' },
    h('input', { type: 'search', name: 'q', placeholder: 'Search all groups: ERROR, "phrase", { $.level = "error" }', 'aria-label': 'Search all log groups' }),
    h('button', { class: 'btn', type: 'submit' }, 'Search'));
  searchForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = searchForm.q.value.trim();
    if (q) router.go('/search', { q, range: '1d' });
  });
  const selected = new Set();
  const mergeBtn = h('button', { class: 'btn primary', type: 'button', disabled: true }, 'View selected together');
  mergeBtn.addEventListener('click', () => router.go('/events', { group: [...selected] }));
  const queryBtn = h('button', { class: 'btn', type: 'button', disabled: true, title: 'Run a Logs Insights query over the selected groups' }, 'Query selected');
  queryBtn.addEventListener('click', () => router.go('/query', { group: [...selected].slice(0, 50) }));
  const body = h('div', { class: 'table-wrap' }, stateBox('loading', 'Loading log groups…'));
  root.append(h('section', { class: 'page' },
    h('div', { class: 'toolbar' }, h('h1', {}, 'Log groups'), filter, mergeBtn, queryBtn),
    searchForm,
    body));

  let groups = [];
  let shownSig = null;
  function paint() {
    const f = filter.value.trim().toLowerCase();
    const shown = f ? groups.filter((g) => g.name.toLowerCase().includes(f)) : groups;
    clear(body);
    if (!groups.length) {
      body.append(stateBox('empty', 'No log groups yet',
        'Run `logsvc demo` to see sample logs flowing in, or write to a stream from a shell:',
        h('pre', { class: 'cmd' }, 'echo "hello" >> "$(logsvc path /my/group my-stream)"'),
        'New groups appear here as soon as their first line is written.'));
      return;
    }
    if (!shown.length) {
      body.append(stateBox('empty', `No log group matches “${filter.value}”`, 'Clear the filter to see all groups.'));
      return;
    }
    const tbody = h('tbody');
    for (const g of shown) {
      const box = h('input', { type: 'checkbox', 'aria-label': `Select ${g.name}`, checked: selected.has(g.name) });
      box.addEventListener('change', () => {
        if (box.checked) selected.add(g.name); else selected.delete(g.name);
        mergeBtn.disabled = selected.size < 1;
        queryBtn.disabled = selected.size < 1;
        mergeBtn.textContent = selected.size > 1 ? `View ${selected.size} groups together` : 'View selected together';
      });
      tbody.append(h('tr', { class: 'krow' },
        h('td', { class: 'check' }, box),
        h('td', { class: 'name' }, h('a', { class: 'primary-link', href: router.href('/streams', { group: g.name }) }, g.name)),
        h('td', { class: 'num' }, g.streamCount ?? '–'),
        h('td', { title: g.lastEventTime ? fmtZ(g.lastEventTime) : 'no events yet' }, ago(g.lastEventTime)),
        h('td', { class: 'num' }, fmtBytes(g.storedBytes)),
        h('td', {}, g.retentionInDays ? `${g.retentionInDays} days` : 'never expires'),
        h('td', { class: 'actions' }, h('a', { href: router.href('/events', { group: g.name }), title: 'All streams of this group, merged, live' }, 'Events'),
          ' · ', h('a', { href: router.href('/query', { group: g.name }), title: 'Logs Insights queries over this group' }, 'Query'))));
    }
    body.append(h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Log group'), h('th', { class: 'num' }, 'Streams'),
        h('th', {}, 'Last event'), h('th', { class: 'num' }, 'Stored'), h('th', {}, 'Retention'), h('th', {}, ''))),
      tbody));
  }
  filter.addEventListener('input', () => {
    const p = new URLSearchParams();
    if (filter.value) p.set('filter', filter.value);
    router.go('/', p, { replace: true, render: false });
    paint();
  });

  async function load() {
    let all = [];
    let token = null;
    let pages = 0;
    do {
      const page = await get('/groups', { limit: 1000, nextToken: token }, { signal: ctl.signal });
      all = all.concat(page.groups || []);
      token = page.nextToken;
    } while (token && ++pages < 20);
    groups = all;
    const sig = signature(groups, ['name', 'streamCount', 'lastEventTime', 'storedBytes', 'retentionInDays']);
    if (sig !== shownSig) { shownSig = sig; repaintKeeping(body, paint); }
  }

  load().then(() => keepFresh(load, { signal: ctl.signal })).catch((e) => {
    if (e.name === 'AbortError') return;
    clear(body).append(errorBox(e, 'Could not load the log groups'));
  });

  return { destroy() { ctl.abort(); }, onKey: tableKeys(body) };
}
