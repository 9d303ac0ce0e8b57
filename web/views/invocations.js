// Invocations per function (status, duration, billed, memory, cold start, attempt) with p50/p95/p99
// and cold-start rate, each expandable to exactly its lines. The trace of one request is trace.js.

import { get } from '../api.js';
import { clear, errorBox, h, stateBox } from '../dom.js';
import { renderMessage } from '../ansi.js';
import { both, fmt, fmtDuration, rangeOf, zoneLabel } from '../time.js';
import * as router from '../router.js';
import { breadcrumbs, rangePicker, tableKeys, withRange } from './common.js';
import { functionsPanel } from './functions.js';

// The invoker's record statuses (logsvc/invoker/records.py); 'running' is shown if a record says so.
const STATUS_LABEL = { success: 'ok', error: 'error', timeout: 'timeout', crash: 'crash', throttled: 'throttled', expired: 'expired', running: 'in flight' };
export const STATUS_CLASS = { success: 'ok', ok: 'ok', error: 'error', crash: 'error', timeout: 'timeout', throttled: 'warn', expired: 'warn', running: 'running' };

/** One shape for the view, whichever field names the record uses (REST brief or invoker records). */
export function normalise(r) {
  const trig = r.trigger && typeof r.trigger === 'object' ? r.trigger : null;
  const pick = (...keys) => { for (const k of keys) if (r[k] != null) return r[k]; return null; };
  return {
    ...r,
    requestId: r.requestId,
    status: r.status === 'ok' ? 'success' : r.status,
    group: pick('group', 'logGroup'),
    stream: pick('stream', 'logStream'),
    trigger: trig ? triggerLabel(trig, r.function) + (trig.retryOf ? ' (retry)' : '') : r.trigger,
    duration: pick('duration', 'durationMs'),
    billedDuration: pick('billedDuration', 'billedDurationMs'),
    memorySize: pick('memorySize', 'memoryMB', 'memory'),
    maxMemoryUsed: pick('maxMemoryUsed', 'maxMemoryUsedMB'),
    initDuration: pick('initDuration', 'initDurationMs'),
    error: [r.errorType, r.errorMessage].filter(Boolean).join(': '),
  };
}

/** What started an invocation; a subscription filter reads "log group G → function F". */
export function triggerLabel(trig, fn) {
  if (trig.type === 'logs') return `log group ${trig.logGroup} → function ${fn || '?'}`;
  return trig.type || 'event';
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function statusBadge(s) {
  return h('span', { class: `badge st-${STATUS_CLASS[s] || 'unknown'}`, dataset: { status: s || '' } }, STATUS_LABEL[s] || s || '?');
}

export function notAvailable(e) {
  return e && (e.status === 404 || e.status === 405) && !e.field;
}

/** Lines of one invocation: its stream between its start and end. */
export async function invocationLines(inv, signal) {
  if (!inv.group || !inv.stream) return [];
  const end = inv.end || Date.now();
  const data = await get('/events', { group: inv.group, stream: inv.stream, start: inv.start, end, startFromHead: 'true', limit: 1000 }, { signal });
  return data.events || [];
}

export function linesBox(events, inv) {
  const box = h('div', { class: 'inv-lines' });
  if (!events.length) {
    box.append(stateBox('empty', 'No lines for this invocation', inv.status === 'running' ? 'It is still running; lines appear as it writes them.' : 'The stream may have been deleted or truncated.'));
    return box;
  }
  for (const e of events) {
    const msg = h('span', { class: 'msg' });
    renderMessage(msg, e.message, { maxChars: 5000 });
    box.append(h('div', { class: 'inv-line' }, h('time', { title: both(e.timestamp) }, fmt(e.timestamp)), msg));
  }
  box.append(h('div', { class: 'inv-links' },
    h('a', { href: router.href('/events', { group: inv.group, stream: inv.stream, start: inv.start, end: inv.end || null }) }, 'Open in the events view'),
    ' · ',
    h('a', { href: router.href('/trace', { requestId: inv.requestId }) }, 'Trace this request')));
  return box;
}

const RECORDS_GROUP = '/logsvc/invocations'; // internal: hidden from group lists, reached from here

export function invocationsView(root, params) {
  const ctl = new AbortController();
  const fn = params.get('function') || '';
  const st = params.get('status') || '';
  const range = rangeOf(params);
  const when = range.start || range.end ? range.label.toLowerCase() : 'the records kept';
  const fnInput = h('input', { type: 'search', name: 'function', value: fn, placeholder: 'Function name', 'aria-label': 'Function', 'data-primary-input': true });
  const stSel = h('select', { name: 'status', 'aria-label': 'Status' },
    h('option', { value: '' }, 'Any status'), ...Object.entries(STATUS_LABEL).filter(([v]) => v !== 'running').map(([v, l]) => h('option', { value: v }, l)));
  stSel.value = st;
  const form = h('form', { class: 'qform' }, fnInput, stSel, h('button', { class: 'btn primary', type: 'submit' }, 'Show'));
  const apply = () => {
    const p = new URLSearchParams(params);
    for (const [k, v] of [['function', fnInput.value.trim()], ['status', stSel.value]]) { if (v) p.set(k, v); else p.delete(k); }
    router.go('/invocations', p);
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); apply(); });
  stSel.addEventListener('change', apply);
  const stats = h('div', { class: 'stats' });
  const body = h('div', { class: 'table-wrap' }, stateBox('loading', 'Loading invocations…'));
  root.append(h('section', { class: 'page' },
    breadcrumbs([{ text: 'Invocations' }, ...(fn ? [{ text: fn }] : [])]),
    h('div', { class: 'toolbar' }, h('h1', {}, 'Invocations'), form,
      rangePicker(params, (r) => router.go('/invocations', withRange(params, r)), { newestLabel: 'Any time' }),
      h('a', { class: 'btn ghost raw-records', href: router.href('/events', { group: RECORDS_GROUP }), title: `The invocation records as log events (${RECORDS_GROUP}, an internal group left out of group lists and searches)` }, 'Raw records')),
    functionsPanel({ signal: ctl.signal, current: fn }), stats, body));

  (async () => {
    let invs = [];
    try {
      let token = null;
      let pages = 0;
      do {
        const data = await get('/invocations', { function: fn || null, status: st || null, start: range.start, end: range.end, nextToken: token, limit: 1000 }, { signal: ctl.signal });
        invs = invs.concat((data.invocations || []).map(normalise));
        token = data.nextToken;
      } while (token && ++pages < 10);
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (notAvailable(e)) {
        clear(body).append(stateBox('empty', 'No invocation data on this server',
          'Invocations come from logsvc’s function invoker. Start functions with it (see the README) and their invocations show up here.'));
      } else clear(body).append(errorBox(e, 'Could not load invocations'));
      return;
    }
    invs.sort((a, b) => (b.start || 0) - (a.start || 0) || (b.attempt || 0) - (a.attempt || 0)); // newest first
    paintStats(invs);
    clear(body);
    if (!invs.length) {
      body.append(stateBox('empty', fn ? `No invocations of ${fn} in ${when}` : `No invocations in ${when}`,
        'Invoke a function, or widen the time range.'));
      return;
    }
    const tbody = h('tbody');
    for (const inv of invs) {
      const open = h('button', { class: 'expander', type: 'button', 'aria-expanded': 'false', 'aria-label': 'Show the lines of this invocation' }, '▸');
      const tr = h('tr', { class: `krow inv st-${STATUS_CLASS[inv.status] || ''}`, title: inv.error || null, dataset: { requestId: inv.requestId || '', attempt: String(inv.attempt ?? '') } },
        h('td', {}, open),
        h('td', {}, statusBadge(inv.status)),
        h('td', { title: both(inv.start) }, fmt(inv.start)),
        h('td', {}, h('a', { href: router.href('/invocations', { function: inv.function }) }, inv.function || '–')),
        h('td', { class: 'mono' }, h('a', { class: 'primary-link', href: router.href('/trace', { requestId: inv.requestId }), title: 'Trace this request' }, inv.requestId || '–')),
        h('td', {}, inv.trigger || '–'),
        h('td', { class: 'num attempt' }, inv.attempt != null ? `#${inv.attempt}` : '–'),
        h('td', { class: 'num' }, fmtDuration(inv.duration)),
        h('td', { class: 'num' }, fmtDuration(inv.billedDuration)),
        h('td', { class: 'num' }, inv.maxMemoryUsed == null ? '–' : inv.memorySize ? `${inv.maxMemoryUsed} / ${inv.memorySize} MB` : `${inv.maxMemoryUsed} MB`),
        h('td', {}, inv.coldStart ? h('span', { class: 'badge cold', title: `Init ${fmtDuration(inv.initDuration)}` }, `cold ${fmtDuration(inv.initDuration)}`) : 'warm'));
      const detailRow = h('tr', { class: 'inv-detail', hidden: true }, h('td', { colspan: '11' }));
      open.addEventListener('click', async () => {
        const show = detailRow.hidden;
        detailRow.hidden = !show;
        open.setAttribute('aria-expanded', String(show));
        open.textContent = show ? '▾' : '▸';
        if (show && !detailRow.dataset.loaded) {
          const cell = detailRow.firstChild;
          cell.replaceChildren(stateBox('loading', 'Loading its lines…'));
          try {
            const events = await invocationLines(inv, ctl.signal);
            detailRow.dataset.loaded = '1';
            cell.replaceChildren(linesBox(events, inv));
          } catch (e) { if (e.name !== 'AbortError') cell.replaceChildren(errorBox(e, 'Could not load its lines')); }
        }
      });
      tbody.append(tr, detailRow);
    }
    body.append(h('table', { class: 'grid invocations' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Status'), h('th', {}, `Start (${zoneLabel()})`), h('th', {}, 'Function'),
        h('th', {}, 'Request ID'), h('th', {}, 'Trigger'), h('th', { class: 'num' }, 'Attempt'), h('th', { class: 'num' }, 'Duration'),
        h('th', { class: 'num' }, 'Billed'), h('th', { class: 'num' }, 'Memory'), h('th', {}, 'Start type'))),
      tbody));
  })();

  function paintStats(invs) {
    const done = invs.filter((i) => i.duration != null);
    const d = done.map((i) => i.duration).sort((a, b) => a - b);
    const cold = invs.filter((i) => i.coldStart).length;
    const errs = invs.filter((i) => ['error', 'timeout', 'crash'].includes(i.status)).length;
    const running = invs.filter((i) => i.status === 'running').length;
    const failed = new Set(invs.filter((i) => i.status !== 'success').map((i) => i.requestId));
    const retried = new Set(invs.filter((i) => (i.attempt || 1) > 1).map((i) => i.requestId));
    const stat = (label, value, title) => h('div', { class: 'stat', title }, h('div', { class: 'stat-v' }, value), h('div', { class: 'stat-l' }, label));
    clear(stats).append(...[
      stat('invocations', String(invs.length)),
      stat('errors / timeouts', String(errs)),
      stat('failed requests', String(failed.size), 'distinct request IDs with a failed attempt'),
      stat('retried', String(retried.size), 'requests with more than one attempt'),
      running ? stat('in flight', String(running)) : null,
      stat('p50 duration', fmtDuration(pct(d, 50))),
      stat('p95 duration', fmtDuration(pct(d, 95))),
      stat('p99 duration', fmtDuration(pct(d, 99))),
      stat('cold starts', invs.length ? `${Math.round((100 * cold) / invs.length)} %` : '–', `${cold} of ${invs.length}`)].filter(Boolean));
  }

  return { destroy() { ctl.abort(); }, onKey: tableKeys(body) };
}
