// The project's functions (GET /api/v1/functions) as a small panel on the Invocations view: each
// function with its triggers, and a "public" badge on the HTTP routes that answer without the API
// token (`public = true` in logsvc.toml, issue #10.7). Names and paths come from the project file:
// they go in as text only, like everything else (dom.js).

import { get } from '../api.js';
import { errorBox, h } from '../dom.js';
import * as router from '../router.js';

const FOLDED_KEY = 'logsvc.functionsFolded';

export const PUBLIC_TITLE = 'Public route (public = true in logsvc.toml): it answers without the API token, '
  + 'so anyone who can reach this server may call it.';

function routeItem(key, isPublic) {
  const sp = key.indexOf(' ');
  const method = sp < 0 ? 'ANY' : key.slice(0, sp);
  const path = sp < 0 ? key : key.slice(sp + 1);
  return h('li', { class: `route${isPublic ? ' is-public' : ''}`, dataset: { route: key, public: String(isPublic) } },
    h('code', { class: 'route-key', title: `Called at /http${path === '/' ? '/' : path}` },
      h('span', { class: 'method' }, method), ' ', path),
    isPublic ? h('span', { class: 'badge public', title: PUBLIC_TITLE }, 'public') : null);
}

function otherTriggers(fn) {
  const out = [];
  for (const b of fn.buckets || []) out.push(`bucket ${b.bucket}${b.prefix ? ` ${b.prefix}*` : ''}${b.suffix ? ` *${b.suffix}` : ''}`);
  for (const t of fn.tables || []) out.push(`table ${t.table}`);
  for (const l of fn.logs || []) out.push(`log group ${l.logGroup}${l.filterPattern ? ` (${l.filterPattern})` : ''}`);
  return out;
}

/**
 * A <details> panel that fills itself. It stays hidden when the server has no project (the
 * invocations list already says so) or predates /api/v1/functions.
 */
export function functionsPanel({ signal, current = '' } = {}) {
  const summary = h('summary', {}, h('span', { class: 'fn-panel-title' }, 'Functions'));
  const content = h('div', { class: 'fn-panel-body' });
  const panel = h('details', { class: 'fn-panel', open: localStorage.getItem(FOLDED_KEY) !== '1', hidden: true, 'aria-label': 'Functions' }, summary, content);
  // Folding is remembered; the summary keeps the count of public routes in sight either way.
  panel.addEventListener('toggle', () => localStorage.setItem(FOLDED_KEY, panel.open ? '0' : '1'));

  (async () => {
    let data;
    try {
      data = await get('/functions', null, { signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      if ((e.status === 404 || e.status === 405) && !e.field) return;
      content.replaceChildren(errorBox(e, 'Could not load the functions'));
      panel.hidden = false;
      return;
    }
    const fns = (data && data.functions) || [];
    if (!fns.length) return;
    let publicCount = 0;
    const tbody = h('tbody');
    for (const fn of fns) {
      const pub = new Set(fn.publicRoutes || []);
      const routes = fn.routes || [];
      publicCount += routes.filter((r) => pub.has(r)).length;
      const others = otherTriggers(fn);
      tbody.append(h('tr', { class: `fn${fn.name === current ? ' current' : ''}`, dataset: { function: fn.name } },
        h('td', { class: 'fn-name' }, h('a', { href: router.href('/invocations', { function: fn.name }), title: `Invocations of ${fn.name}` }, fn.name)),
        h('td', { class: 'mono muted' }, fn.handler || '–'),
        h('td', {}, routes.length
          ? h('ul', { class: 'routes' }, routes.map((r) => routeItem(r, pub.has(r))))
          : h('span', { class: 'muted' }, 'none')),
        h('td', {}, others.length ? others.join(', ') : h('span', { class: 'muted' }, '–'))));
    }
    summary.append(
      h('span', { class: 'muted' }, ` ${fns.length}`),
      publicCount ? h('span', { class: 'badge public', title: PUBLIC_TITLE }, `${publicCount} public route${publicCount > 1 ? 's' : ''}`) : null);
    content.replaceChildren(
      h('table', { class: 'grid functions' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Function'), h('th', {}, 'Handler'), h('th', {}, 'HTTP routes'), h('th', {}, 'Other triggers'))),
        tbody),
      publicCount ? h('p', { class: 'muted small fn-note' },
        'Routes marked ', h('span', { class: 'badge public' }, 'public'),
        ' answer without the API token: anyone who can reach this server may call them. Other routes need the token when one is set.') : null);
    panel.hidden = false;
  })();

  return panel;
}
