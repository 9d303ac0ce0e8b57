// The trace of one request through fan-out/fan-in as a waterfall on one shared time axis
// (waterfall.js): one row per request and per attempt, labels on the left, bars on the right,
// retries shown as linked attempts. A bar spans the attempt's start to its end, and the number
// beside it is that same span (the function's own REPORT duration is in its tooltip).

import { get } from '../api.js';
import { clear, errorBox, h, stateBox } from '../dom.js';
import { both, fmt, fmtDuration } from '../time.js';
import { timeScale } from '../waterfall.js';
import { breadcrumbs } from './common.js';
import { STATUS_CLASS, invocationLines, linesBox, normalise, notAvailable, statusBadge } from './invocations.js';

const INDENT = 18; // px per nesting level, inside the label column only

export function traceView(root, params) {
  const ctl = new AbortController();
  const requestId = params.get('requestId');
  const body = h('div', { class: 'trace' }, stateBox('loading', 'Following the request…'));
  root.append(h('section', { class: 'page' },
    breadcrumbs([{ text: 'Invocations', href: '#/invocations' }, { text: `Trace ${requestId || ''}` }]),
    h('div', { class: 'toolbar' }, h('h1', {}, 'Trace')), body));
  if (!requestId) { clear(body).append(stateBox('error', 'No request ID given', 'Open a trace from the invocations list.')); return null; }

  const byId = (id) => get('/invocations', { requestId: id, limit: 1000 }, { signal: ctl.signal }).then((d) => (d.invocations || []).map(normalise));
  const children = (id) => get('/invocations', { parent: id, limit: 1000 }, { signal: ctl.signal }).then((d) => (d.invocations || []).map(normalise));
  const now = Date.now();
  const endOf = (a) => a.end || now;

  (async () => {
    try {
      let rootId = requestId;
      let attempts = await byId(rootId);
      if (!attempts.length) {
        clear(body).append(stateBox('empty', `No invocation with request ID ${requestId}`, 'It may be older than what the invoker keeps, or the ID is mistyped.'));
        return;
      }
      // Walk up to the request that started it all.
      for (let hops = 0; hops < 20; hops++) {
        const parent = attempts.find((a) => a.parentRequestId)?.parentRequestId;
        if (!parent) break;
        const up = await byId(parent);
        if (!up.length) break;
        rootId = parent;
        attempts = up;
      }
      // Walk down, breadth first, with a cap so a runaway fan-out cannot hang the page.
      const nodes = new Map();
      const queue = [rootId];
      nodes.set(rootId, { id: rootId, attempts, kids: [] });
      let budget = 300;
      while (queue.length && budget-- > 0) {
        const id = queue.shift();
        const kids = await children(id);
        const groupsById = new Map();
        for (const k of kids) {
          if (!groupsById.has(k.requestId)) groupsById.set(k.requestId, []);
          groupsById.get(k.requestId).push(k);
        }
        for (const [kid, atts] of groupsById) {
          if (nodes.has(kid)) continue;
          const node = { id: kid, attempts: atts, kids: [] };
          nodes.set(kid, node);
          nodes.get(id).kids.push(node);
          queue.push(kid);
        }
      }
      const all = [...nodes.values()].flatMap((n) => n.attempts);
      const t0 = Math.min(...all.map((a) => a.start));
      const t1 = Math.max(...all.map(endOf));
      const scale = timeScale(t0, Math.max(1, t1 - t0));
      const tree = h('div', { class: 'trace-tree', role: 'tree', style: { '--wf-grid': scale.grid } },
        h('div', { class: 'wf-row wf-head-row' }, h('div', { class: 'wf-label muted' }, `Request / attempt · times from ${fmt(t0)}`), scale.axis));
      renderNode(tree, nodes.get(rootId), 0, scale);
      clear(body).append(
        h('p', { class: 'muted' }, `${nodes.size} request${nodes.size > 1 ? 's' : ''}, ${all.length} invocation${all.length > 1 ? 's' : ''}, ${fmtDuration(t1 - t0)} from first start to last end.`),
        tree);
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (notAvailable(e)) clear(body).append(stateBox('empty', 'No invocation data on this server', 'Traces come from logsvc’s function invoker.'));
      else clear(body).append(errorBox(e, 'Could not load the trace'));
    }
  })();

  function bar(cls, start, end, scale, title) {
    return h('div', { class: `bar ${cls}`, style: { left: `${scale.pos(start)}%`, width: `${scale.len(end - start)}%` }, title });
  }

  function renderNode(tree, node, depth, scale) {
    const atts = [...node.attempts].sort((a, b) => (a.attempt ?? 0) - (b.attempt ?? 0));
    const first = atts[0];
    const start = Math.min(...atts.map((a) => a.start));
    const end = Math.max(...atts.map(endOf));
    tree.append(h('div', { class: 'wf-row trace-head', role: 'treeitem', dataset: { requestId: node.id } },
      h('div', { class: 'wf-label', style: { paddingLeft: `${depth * INDENT}px` } },
        h('span', { class: 'fn' }, first.function || '?'),
        h('span', { class: 'mono muted' }, node.id),
        first.trigger ? h('span', { class: 'muted' }, `via ${first.trigger}`) : null,
        atts.length > 1 ? h('span', { class: 'badge retries' }, `${atts.length} attempts`) : null,
        node.id === requestId ? h('span', { class: 'badge here' }, 'this request') : null),
      h('div', { class: 'bar-track' }, bar('span-line', start, end, scale, `${fmt(start)} → ${fmt(end)}: the request, all attempts`))));
    for (const a of atts) {
      const wall = endOf(a) - a.start;
      const lines = h('div', { class: 'attempt-lines', hidden: true });
      const report = a.duration != null ? `; the function's own duration (REPORT) ${fmtDuration(a.duration)}` : '';
      tree.append(h('div', { class: `wf-row trace-attempt st-${STATUS_CLASS[a.status] || ''}`, title: a.error || null, dataset: { attempt: String(a.attempt ?? ''), requestId: node.id } },
        h('div', { class: 'wf-label', style: { paddingLeft: `${depth * INDENT + 12}px` } },
          h('button', {
            class: 'expander', type: 'button', 'aria-label': 'Show the lines of this attempt',
            onclick: async (ev) => {
              lines.hidden = !lines.hidden;
              ev.currentTarget.textContent = lines.hidden ? '▸' : '▾';
              if (!lines.hidden && !lines.dataset.loaded) {
                lines.replaceChildren(stateBox('loading', 'Loading its lines…'));
                try { lines.replaceChildren(linesBox(await invocationLines(a, ctl.signal), a)); lines.dataset.loaded = '1'; }
                catch (e) { if (e.name !== 'AbortError') lines.replaceChildren(errorBox(e, 'Could not load its lines')); }
              }
            },
          }, '▸'),
          h('span', { class: 'attempt-label' }, atts.length > 1 || a.attempt > 1 ? `attempt ${a.attempt ?? '?'}` : 'invocation'),
          statusBadge(a.status),
          h('span', { class: 'num wf-duration', title: `${both(a.start)}\nfrom start to end${report}` }, fmtDuration(wall)),
          a.coldStart ? h('span', { class: 'badge cold' }, 'cold') : null),
        h('div', { class: 'bar-track' },
          bar(`st-${STATUS_CLASS[a.status] || ''}`, a.start, endOf(a), scale, `${fmt(a.start)} → ${a.end ? fmt(a.end) : 'running'} (${fmtDuration(wall)})`))),
      lines);
    }
    for (const k of node.kids.sort((a, b) => a.attempts[0].start - b.attempts[0].start)) renderNode(tree, k, depth + 1, scale);
  }

  return { destroy() { ctl.abort(); } };
}
