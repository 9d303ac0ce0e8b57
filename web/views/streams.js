// Log streams of one group, newest activity first (or by name); pick several to merge them. Kept
// current like the group list (live.js).

import { get } from '../api.js';
import { clear, errorBox, fmtBytes, h, stateBox } from '../dom.js';
import { ago, fmtZ } from '../time.js';
import * as router from '../router.js';
import { breadcrumbs, tableKeys } from './common.js';
import { keepFresh, repaintKeeping, signature } from '../live.js';

export function streamsView(root, params) {
  const group = params.get('group');
  const ctl = new AbortController();
  if (!group) {
    root.append(stateBox('error', 'No log group given', 'Pick a group from the list.', h('a', { href: '#/' }, 'Log groups')));
    return null;
  }
  const orderBy = params.get('orderBy') === 'name' ? 'name' : 'lastEventTime';
  const filter = h('input', { type: 'search', placeholder: 'Filter streams by name', 'aria-label': 'Filter log streams', 'data-primary-input': true, class: 'grow' });
  const order = h('select', { 'aria-label': 'Order streams by' },
    h('option', { value: 'lastEventTime' }, 'Newest activity first'), h('option', { value: 'name' }, 'By name'));
  order.value = orderBy;
  order.addEventListener('change', () => router.go('/streams', { group, orderBy: order.value === 'name' ? 'name' : null }, { replace: true }));
  const selected = new Set();
  const mergeBtn = h('button', { class: 'btn', type: 'button', disabled: true }, 'View selected together');
  mergeBtn.addEventListener('click', () => router.go('/events', { group, stream: [...selected] }));
  const body = h('div', { class: 'table-wrap' }, stateBox('loading', 'Loading log streams…'));
  root.append(h('section', { class: 'page' },
    breadcrumbs([{ text: 'Log groups', href: '#/' }, { text: group }]),
    h('div', { class: 'toolbar' }, h('h1', {}, 'Log streams'), filter, order, mergeBtn,
      h('a', { class: 'btn primary', href: router.href('/events', { group }) }, 'All streams, merged & live'),
      h('a', { class: 'btn', href: router.href('/invocations', { group }) }, 'Invocations')),
    body));

  let streams = [];
  let shownSig = null;
  function paint() {
    const f = filter.value.trim().toLowerCase();
    const shown = f ? streams.filter((s) => s.name.toLowerCase().includes(f)) : streams;
    clear(body);
    if (!streams.length) {
      body.append(stateBox('empty', 'This group has no streams yet',
        'Write a line to a new stream and it appears here:', h('pre', { class: 'cmd' }, `echo "hello" >> "$(logsvc path '${group}' my-stream)"`)));
      return;
    }
    if (!shown.length) { body.append(stateBox('empty', 'No stream matches the filter', 'Clear the filter to see them all.')); return; }
    const tbody = h('tbody');
    for (const s of shown) {
      const box = h('input', { type: 'checkbox', 'aria-label': `Select ${s.name}`, checked: selected.has(s.name) });
      box.addEventListener('change', () => {
        if (box.checked) selected.add(s.name); else selected.delete(s.name);
        mergeBtn.disabled = !selected.size;
        mergeBtn.textContent = selected.size > 1 ? `View ${selected.size} streams together` : 'View selected together';
      });
      tbody.append(h('tr', { class: 'krow' },
        h('td', { class: 'check' }, box),
        h('td', { class: 'name' }, h('a', { class: 'primary-link', href: router.href('/events', { group, stream: s.name }) }, s.name)),
        h('td', { title: s.lastEventTime ? fmtZ(s.lastEventTime) : '' }, ago(s.lastEventTime)),
        h('td', { title: s.firstEventTime ? fmtZ(s.firstEventTime) : '' }, s.firstEventTime ? fmtZ(s.firstEventTime) : '–'),
        h('td', { class: 'num' }, fmtBytes(s.storedBytes))));
    }
    body.append(h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Log stream'), h('th', {}, 'Last event'), h('th', {}, 'First event'), h('th', { class: 'num' }, 'Stored'))),
      tbody));
  }
  filter.addEventListener('input', paint);

  async function load() {
    let all = [];
    let token = null;
    let pages = 0;
    do {
      const page = await get('/streams', { group, orderBy, limit: 1000, nextToken: token }, { signal: ctl.signal });
      all = all.concat(page.streams || []);
      token = page.nextToken;
    } while (token && ++pages < 20);
    streams = all;
    const sig = signature(streams, ['name', 'lastEventTime', 'firstEventTime', 'storedBytes']);
    if (sig !== shownSig) { shownSig = sig; repaintKeeping(body, paint); }
  }

  load().then(() => keepFresh(load, { signal: ctl.signal })).catch((e) => {
    if (e.name === 'AbortError') return;
    clear(body).append(errorBox(e, `Could not load the streams of ${group}`));
  });
  return { destroy() { ctl.abort(); }, onKey: tableKeys(body) };
}
