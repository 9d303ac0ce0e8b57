// The events view in three modes, sharing one virtualised list:
//   events  : one or more groups/streams merged by time, newest at the bottom, older on scroll up,
//             live tail with pause ("+N new") and a bounded buffer;
//   search  : filter-pattern matches across groups, newest first, highlighted, paged on scroll down;
//   context : the lines around one event in its stream (the permalink to a single event).

import { authUrl, get, tail } from '../api.js';
import { clear, errorBox, h, hashHue, stateBox } from '../dom.js';
import { renderMessage } from '../ansi.js';
import { both, fmt, rangeOf, zoneLabel } from '../time.js';
import { VirtualList } from '../vlist.js';
import { Histogram } from '../histogram.js';
import * as router from '../router.js';
import { breadcrumbs, rangePicker, withRange } from './common.js';
import { detailPanel } from './detail.js';
import { facetsPanel } from './facets.js';

export const LIVE_CAP = 100000;     // events held in the list; the oldest are evicted beyond this
const PENDING_CAP = 20000;          // events held while paused; beyond this, resuming reloads from the server
const PAGE = 500;
const LINE = 18;                    // px, must match --line in style.css
const PAD = 4;
const MAX_LINES = 6;                // lines of a multi-line event shown in the list (all of it in the panel)
const MAX_CHARS = 2000;             // characters of one event shown in the list

function levelOf(e) {
  const f = e.fields || {};
  if (f.type === 'REPORT' || f.type === 'START' || f.type === 'END' || f.type === 'INIT_START') return 'platform';
  const l = String(f.level || '').toLowerCase();
  if (/^(error|fatal|critical|crit|alert|emerg|panic)/.test(l)) return 'error';
  if (l.startsWith('warn')) return 'warn';
  if (l.startsWith('info') || l === 'notice') return 'info';
  if (l.startsWith('debug') || l.startsWith('trace')) return 'debug';
  return '';
}

function rowHeight(e) {
  if (e._h) return e._h;
  let lines = 1;
  for (let i = e.message.indexOf('\n'); i >= 0 && lines < MAX_LINES; i = e.message.indexOf('\n', i + 1)) lines++;
  e._h = lines * LINE + PAD;
  return e._h;
}

function shortStream(s) {
  const m = /\]([0-9a-f]{6,})$/i.exec(s);
  if (m) return `…${m[1].slice(-6)}`;
  return s.length > 20 ? `…${s.slice(-19)}` : s;
}
function shortGroup(g) {
  const parts = g.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1] : g;
}

export function eventsView(root, params, mode) {
  const ctl = new AbortController();
  const groups = params.getAll('group');
  const streams = params.getAll('stream');
  const q = params.get('q') || '';
  const range = rangeOf(params);
  const path = { events: '/events', search: '/search', context: '/event' }[mode];
  const live = mode === 'events' && range.live && params.get('live') !== '0';
  const multiSource = mode !== 'events' || groups.length > 1 || streams.length !== 1;
  const targetId = mode === 'context' ? params.get('id') : null;

  if (mode !== 'search' && !groups.length) {
    root.append(stateBox('error', 'No log group given', 'Pick a log group first.', h('a', { href: '#/' }, 'Log groups')));
    return null;
  }
  if (mode === 'context' && (!streams.length || !targetId)) {
    root.append(stateBox('error', 'This event link is incomplete', 'An event link needs group, stream and id. Open the event from its stream instead.', h('a', { href: router.href('/streams', { group: groups[0] }) }, 'Streams of this group')));
    return null;
  }

  // ---- header: breadcrumbs, query, range, follow, download -----------------------------------------
  const crumbs = [{ text: 'Log groups', href: '#/' }];
  if (mode === 'search') crumbs.push({ text: groups.length ? `Search in ${groups.length} group${groups.length > 1 ? 's' : ''}` : 'Search all groups' });
  else if (groups.length === 1) {
    crumbs.push({ text: groups[0], href: router.href('/streams', { group: groups[0] }) });
    if (streams.length === 1) crumbs.push({ text: streams[0], href: mode === 'context' ? router.href('/events', { group: groups[0], stream: streams[0] }) : null });
    else crumbs.push({ text: streams.length ? `${streams.length} streams merged` : 'all streams merged' });
  } else crumbs.push({ text: `${groups.length} groups merged`, title: groups.join('\n') });
  if (mode === 'context') crumbs.push({ text: 'event in context' });

  const qInput = h('input', {
    type: 'search', name: 'q', class: 'query', value: q, 'data-primary-input': true, autocomplete: 'off', spellcheck: 'false',
    'aria-label': mode === 'search' ? 'Search pattern' : 'Filter pattern',
    placeholder: mode === 'search' ? 'Search: ERROR  "exact phrase"  -healthcheck  { $.level = "error" }  (press /)' : 'Filter: ERROR  "phrase"  { $.status = 500 }  (press /)',
  });
  const qError = h('div', { class: 'qerror', role: 'alert', hidden: true });
  const qForm = h('form', { class: 'qform', role: 'search' }, qInput, h('button', { class: 'btn primary', type: 'submit' }, mode === 'search' ? 'Search' : 'Filter'));
  qForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams(params);
    const v = qInput.value.trim();
    if (v) p.set('q', v); else p.delete('q');
    if (mode === 'context') { p.delete('id'); p.delete('before'); p.delete('after'); router.go('/events', p); return; }
    router.go(path, p);
  });

  const followBtn = h('button', { class: 'btn follow', type: 'button', title: 'Follow new events (f)', hidden: !live }, 'Following');
  const tailState = h('span', { class: 'tail-state', hidden: !live }, '');
  const dl = mode !== 'context' ? h('details', { class: 'download' },
    h('summary', { class: 'btn' }, 'Download'),
    h('div', { class: 'menu' },
      h('a', { href: exportUrl('ndjson'), download: 'logs.ndjson' }, 'NDJSON (all matching events)'),
      h('a', { href: exportUrl('csv'), download: 'logs.csv' }, 'CSV (all matching events)'))) : null;
  function exportUrl(format) {
    const p = { group: groups, stream: streams, q: q || null, start: range.start, end: range.end, format };
    return authUrl('/export', p);
  }
  const toolbar = h('div', { class: 'toolbar' }, qForm,
    mode !== 'context' ? rangePicker(params, (r) => router.go(path, withRange(params, r))) : contextButtons(),
    followBtn, tailState, dl);

  const histo = mode !== 'context' ? h('div', { class: 'histogram', 'aria-label': 'Event volume over the range; drag to zoom in' }) : null;
  const scroller = h('div', { class: 'vl', role: 'log', 'aria-live': 'off', tabindex: '0' });
  const overlay = h('div', { class: 'list-overlay' }, stateBox('loading', mode === 'search' ? 'Searching…' : 'Loading events…'));
  const pill = h('button', { class: 'newpill', type: 'button', hidden: true, title: 'Jump to the newest events and follow (f)' });
  const head = h('div', { class: 'list-head', 'aria-hidden': 'true' },
    multiSource ? h('span', { class: 'src' }, 'Source') : null,
    h('span', { class: 'ts' }, `Time (${zoneLabel()})`), h('span', { class: 'lvl' }, 'Level'), h('span', { class: 'msg' }, 'Message'));
  const listWrap = h('div', { class: `list-wrap${multiSource ? ' multi' : ''}` }, head, scroller, overlay, pill);
  const detailWrap = h('div', { class: 'detail-wrap', hidden: true });
  const status = h('div', { class: 'statusbar', role: 'status' });
  const facets = mode !== 'context' && !(mode === 'search' && !q)
    ? facetsPanel({ groups, streams, q, start: range.start, end: range.end }, (change) => {
      const p = new URLSearchParams(params);
      if ('q' in change) p.set('q', change.q);
      for (const k of ['group', 'stream']) {
        if (!(k in change)) continue;
        p.delete(k);
        for (const v of change[k]) p.append(k, v);
      }
      router.go(path, p);
    }, { signal: ctl.signal })
    : null;
  root.append(h('section', { class: `page events mode-${mode}` },
    breadcrumbs(crumbs), toolbar, qError, histo, h('div', { class: 'split' }, facets ? facets.el : null, listWrap, detailWrap), status));

  // ---- list ------------------------------------------------------------------------------------------
  let selected = null;
  const list = new VirtualList(scroller, {
    height: rowHeight,
    render: renderRow,
    onNearTop: () => { if (mode === 'events' && ready) loadOlder(); },
    onNearBottom: () => { if (mode === 'search' && ready) loadMoreMatches(); },
    onScroll: () => onUserScroll(),
  });

  function renderRow(e) {
    const lvl = levelOf(e);
    const msg = h('span', { class: 'msg' });
    renderMessage(msg, e.message, { highlights: e.highlights || [], maxLines: MAX_LINES, maxChars: MAX_CHARS });
    const row = h('div', { class: `row${lvl ? ` lvl-${lvl}` : ''}${e.eventId === targetId ? ' target' : ''}`, dataset: { id: e.eventId } },
      multiSource ? h('span', {
        class: 'src', title: `${e.group}\n${e.stream}`, style: { '--hue': String(hashHue(`${e.group}\n${e.stream}`)) },
      }, groups.length === 1 && mode !== 'search' ? shortStream(e.stream) : `${shortGroup(e.group)} ${shortStream(e.stream)}`) : null,
      h('time', { class: 'ts', title: both(e.timestamp) }, fmt(e.timestamp)),
      h('span', { class: 'lvl' }, lvl && lvl !== 'platform' ? lvl.toUpperCase() : (e.fields && e.fields.type) || ''),
      msg);
    row.addEventListener('click', (ev) => {
      if (ev.target.closest('a, button') || String(window.getSelection() || '')) return; // let people select text
      select(e, true);
    });
    return row;
  }

  function select(e, open) {
    selected = e;
    list.select(e);
    if (open || !detailWrap.hidden) showDetail(e);
  }

  function showDetail(e) {
    if (!e) return;
    detailWrap.hidden = false;
    clear(detailWrap).append(detailPanel(e, {
      currentQ: () => q,
      onFilter: (newQ) => {
        const p = new URLSearchParams(params);
        p.set('q', newQ);
        if (mode === 'context') { p.delete('id'); p.delete('before'); p.delete('after'); router.go('/events', p); return; }
        router.go(path, p);
      },
      onClose: closeDetail,
    }));
  }
  function closeDetail() { detailWrap.hidden = true; clear(detailWrap); scroller.focus(); }

  // ---- loading ---------------------------------------------------------------------------------------
  let ready = false;
  let olderToken = null;
  let moreToken = null;
  let loading = false;
  let droppedNewer = false;

  function baseParams() {
    return { group: groups, stream: streams, q: q || null, start: range.start, end: range.end };
  }

  function showQueryError(err) {
    const col = err.position || 1;
    qInput.setAttribute('aria-invalid', 'true');
    clear(qError).append(
      h('pre', { class: 'caret' }, `${q}\n${' '.repeat(Math.max(0, col - 1))}^`),
      h('p', {}, err.message),
      h('p', { class: 'muted' }, 'Fix the pattern and press Enter. Quote phrases with "…", JSON filters look like { $.level = "error" }; press ? for the syntax.'));
    qError.hidden = false;
    try { qInput.setSelectionRange(col - 1, Math.min(q.length, col)); } catch { /* ignore */ }
  }

  function failed(e, what) {
    if (e.name === 'AbortError') return;
    if (e.field === 'q' && q) {
      showQueryError(e);
      if (histo) histo.hidden = true;
      clear(overlay).append(stateBox('empty', 'No results until the pattern is fixed', 'The error above shows where the pattern went wrong.'));
    } else {
      clear(overlay).append(errorBox(e, what));
    }
    overlay.hidden = false;
  }

  function paintEmpty() {
    if (list.length) { overlay.hidden = true; return; }
    overlay.hidden = false;
    const where = mode === 'search' && !groups.length ? 'any group' : (streams.length === 1 ? streams[0] : groups.join(', '));
    if (mode === 'search' && !q) {
      clear(overlay).append(stateBox('empty', 'Type a filter pattern to search',
        'Examples: ERROR · "Task timed out" · -healthcheck · ?timeout ?refused · %user-\\d+% · { $.level = "error" } · [ip, user, status = 5*]',
        'Results come newest first, across every group unless you pick some.'));
    } else if (mode === 'search' || q) {
      clear(overlay).append(stateBox('empty', `Nothing matches ${q} in ${range.label.toLowerCase()}`,
        'Check the pattern (terms are case-sensitive in CloudWatch patterns) or widen the time range.',
        live ? 'New matching lines will appear here as they are written.' : null));
    } else {
      clear(overlay).append(stateBox('empty', `No events in ${where} for ${range.label.toLowerCase()}`,
        live ? 'Waiting for new lines: the live tail is on, so anything written to the stream shows up here within a second.' : 'Widen the time range to see older events.',
        h('pre', { class: 'cmd' }, `echo "hello" >> "$(logsvc path '${groups[0] || '/my/group'}' '${streams[0] || 'my-stream'}')"`)));
    }
  }

  async function loadInitial() {
    try {
      if (mode === 'context') {
        const before = Number(params.get('before') || 20);
        const after = Number(params.get('after') || 20);
        const data = await get('/events/context', { group: groups[0], stream: streams[0], eventId: targetId, before, after }, { signal: ctl.signal });
        const evs = data.events || [];
        list.setItems(evs);
        const t = evs.find((e) => e.eventId === targetId);
        if (t) { list.scrollToIndex(evs.indexOf(t), { align: 'center' }); select(t, true); }
        paintEmpty();
        if (!t) {
          overlay.hidden = false;
          clear(overlay).append(stateBox('error', 'That event is no longer in its stream',
            'The stream may have been truncated or deleted. Open the stream to see what it holds now.',
            h('a', { href: router.href('/events', { group: groups[0], stream: streams[0] }) }, 'Open the stream')));
        }
      } else if (mode === 'search') {
        if (!q) { paintEmpty(); ready = true; return; }
        const data = await get('/search', { ...baseParams(), limit: 200 }, { signal: ctl.signal });
        moreToken = data.nextToken || null;
        list.setItems(data.events || []);
        paintEmpty();
      } else {
        const started = Date.now();
        const data = await get('/events', { ...baseParams(), limit: PAGE }, { signal: ctl.signal });
        const evs = data.events || [];
        olderToken = data.nextToken || null;
        list.setItems(evs);
        list.scrollToBottom();
        paintEmpty();
        if (live) startTail(evs.length ? evs[evs.length - 1].timestamp : started, evs);
      }
      ready = true;
      paintStatus();
      loadHistogram();
      if (facets) facets.load();
    } catch (e) {
      failed(e, mode === 'search' ? 'The search failed' : 'Could not load events');
      paintStatus();
    }
  }

  async function loadOlder() {
    if (!olderToken || loading) return;
    loading = true;
    paintStatus();
    try {
      const data = await get('/events', { ...baseParams(), limit: PAGE, nextToken: olderToken }, { signal: ctl.signal });
      olderToken = data.nextToken || null;
      const wasFollowing = following;
      list.prepend(data.events || []);
      if (list.length > LIVE_CAP) {
        list.evictBack(list.length - LIVE_CAP);
        droppedNewer = true;
        if (following) pause('memory');
      }
      if (wasFollowing && following) list.scrollToBottom();
    } catch (e) {
      if (e.name !== 'AbortError') status.dataset.error = e.message;
    } finally {
      loading = false;
      paintStatus();
    }
  }

  async function loadMoreMatches() {
    if (!moreToken || loading) return;
    loading = true;
    paintStatus();
    try {
      const data = await get('/search', { ...baseParams(), limit: 200, nextToken: moreToken }, { signal: ctl.signal });
      moreToken = data.nextToken || null;
      list.append(data.events || []);
    } catch (e) {
      if (e.name !== 'AbortError') status.dataset.error = e.message;
    } finally {
      loading = false;
      paintStatus();
    }
  }

  // ---- histogram -------------------------------------------------------------------------------------
  let histogram = null;
  let histoTimer = 0;
  async function loadHistogram() {
    if (!histo) return;
    const now = Date.now();
    let start = range.start;
    if (start == null) {
      const oldest = mode === 'events' && list.length ? list.items[0].timestamp : null;
      start = Math.min(oldest ?? now - 3600000, now - 60000);
    }
    const end = range.end ?? now;
    try {
      let hgroups = groups;
      if (!hgroups.length) { // a search across every group: the histogram endpoint wants them named
        const all = await get('/groups', { limit: 1000 }, { signal: ctl.signal });
        hgroups = (all.groups || []).map((g) => g.name).slice(0, 200);
        if (!hgroups.length) return;
      }
      const data = await get('/histogram', { group: hgroups, stream: streams, q: q || null, start, end, buckets: 60, levels: true }, { signal: ctl.signal });
      if (!histogram) histogram = new Histogram(histo, { onZoom: (a, b) => router.go(path, withRange(params, { start: a, end: b })) });
      histogram.set(data);
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.field !== 'q') clear(histo).append(h('div', { class: 'muted small' }, `Volume chart unavailable: ${e.message}`));
    }
    if (live && !ctl.signal.aborted) histoTimer = setTimeout(() => { loadHistogram(); if (facets) facets.load(); }, 15000);
  }

  // ---- live tail: follow / pause / "+N new" --------------------------------------------------------------
  let following = live;
  let pausedBy = null;   // 'scroll' | 'user' | 'memory'
  let pending = [];
  let newCount = 0;
  let gap = false;
  let incoming = [];
  let flushTimer = 0;
  let tailHandle = null;
  let tailStatus = '';

  function startTail(since, loaded) {
    const dup = new Set(loaded.filter((e) => e.timestamp >= since).map((e) => e.eventId));
    tailHandle = tail({ group: groups, stream: streams, q: q || null, since }, {
      onEvents(batch) {
        for (const e of batch) {
          if (dup.size && dup.has(e.eventId)) { dup.delete(e.eventId); continue; }
          incoming.push(e);
        }
        if (!flushTimer) flushTimer = setTimeout(flush, 50);
      },
      onState(s) { tailStatus = s; paintStatus(); },
      onError(err) {
        tailStatus = 'error';
        if (err.field === 'q') showQueryError(err);
        status.dataset.error = err.message;
        paintStatus();
      },
    });
  }

  function flush() {
    flushTimer = 0;
    const batch = incoming;
    incoming = [];
    if (!batch.length) return;
    if (following) {
      list.append(batch);
      if (list.length > LIVE_CAP) list.evictFront(list.length - LIVE_CAP);
      list.scrollToBottom();
    } else {
      newCount += batch.length;
      if (!gap) {
        for (const e of batch) pending.push(e);
        if (pending.length > PENDING_CAP) { gap = true; pending = []; }
      }
    }
    if (list.length) overlay.hidden = true;
    paintStatus();
  }

  function pause(by) {
    if (!live || !following) return;
    following = false;
    pausedBy = by;
    newCount = 0;
    paintStatus();
  }

  function resume() {
    if (!live) return;
    if (gap || droppedNewer) {
      // More arrived while paused than the page keeps: reload the newest from the server (nothing is lost there).
      router.go(path, params, { replace: true });
      return;
    }
    following = true;
    pausedBy = null;
    if (pending.length) list.append(pending);
    pending = [];
    newCount = 0;
    if (list.length > LIVE_CAP) list.evictFront(list.length - LIVE_CAP);
    list.scrollToBottom();
    if (list.length) overlay.hidden = true;
    paintStatus();
  }

  function onUserScroll() {
    if (!live || !ready) return;
    const atBottom = list.isAtBottom(8);
    if (following && !atBottom) pause('scroll');
    else if (!following && pausedBy === 'scroll' && atBottom) resume();
  }

  const keepBottom = new ResizeObserver(() => { if (following && ready) list.scrollToBottom(); });
  keepBottom.observe(scroller);

  followBtn.addEventListener('click', () => (following ? pause('user') : resume()));
  pill.addEventListener('click', () => resume());

  function paintStatus() {
    const n = list.length;
    const parts = [];
    if (mode === 'search') parts.push(`${n.toLocaleString()} match${n === 1 ? '' : 'es'} loaded, newest first`, moreToken ? 'scroll down for more' : (ready && n ? 'no more matches' : ''));
    else if (mode === 'context') parts.push(`${n} events around the selected one`);
    else {
      parts.push(`${n.toLocaleString()} events, newest at the bottom`);
      parts.push(loading ? 'loading older…' : olderToken ? 'scroll up for older' : (ready ? 'start of range reached' : ''));
      if (n >= LIVE_CAP) parts.push(`keeping the newest ${LIVE_CAP.toLocaleString()} in the page`);
    }
    if (status.dataset.error) parts.push(`⚠ ${status.dataset.error}`);
    status.textContent = parts.filter(Boolean).join(' · ');
    if (live) {
      followBtn.textContent = following ? 'Following' : 'Paused';
      followBtn.classList.toggle('on', following);
      followBtn.setAttribute('aria-pressed', String(following));
      tailState.textContent = { connecting: 'connecting…', live: '● live', reconnecting: 'reconnecting…', error: 'tail stopped' }[tailStatus] || '';
      tailState.dataset.state = tailStatus;
      pill.hidden = following;
      pill.textContent = newCount ? `+${newCount.toLocaleString()} new ↓` : 'Paused · jump to live ↓';
      pill.dataset.count = String(newCount);
    }
  }

  function contextButtons() {
    const before = Number(params.get('before') || 20);
    const after = Number(params.get('after') || 20);
    const more = (k, v) => { const p = new URLSearchParams(params); p.set(k, String(v)); router.go('/event', p, { replace: true }); };
    return h('div', { class: 'ctx-buttons' },
      h('button', { class: 'btn', type: 'button', onclick: () => more('before', before + 20) }, `${before + 20} lines before`),
      h('button', { class: 'btn', type: 'button', onclick: () => more('after', after + 20) }, `${after + 20} lines after`),
      h('a', { class: 'btn', href: router.href('/events', { group: groups[0], stream: streams[0] }) }, 'Open the whole stream'));
  }

  // ---- keys ----------------------------------------------------------------------------------------------
  function move(dir) {
    if (!list.length) return;
    let i = selected ? list.items.indexOf(selected) : -1;
    if (i < 0) {
      const top = list.indexAt(scroller.scrollTop);
      const bottom = list.indexAt(scroller.scrollTop + scroller.clientHeight - 1);
      i = dir > 0 ? top : bottom;
    } else i = Math.max(0, Math.min(list.length - 1, i + dir));
    if (dir < 0 && live && following) pause('user');
    select(list.items[i], false);
    list.scrollToIndex(i);
  }

  function onKey(key) {
    if (key === 'j') { move(1); return true; }
    if (key === 'k') { move(-1); return true; }
    if (key === 'Enter' && selected) { if (detailWrap.hidden) showDetail(selected); else closeDetail(); return true; }
    if (key === 'Escape' && !detailWrap.hidden) { closeDetail(); return true; }
    if (key === 'f' && live) { if (following) pause('user'); else resume(); return true; }
    if (key === 'c' && selected) { router.go('/event', { group: selected.group, stream: selected.stream, id: selected.eventId }); return true; }
    return false;
  }

  paintStatus();
  loadInitial();

  return {
    onKey,
    destroy() {
      ctl.abort();
      if (tailHandle) tailHandle.close();
      clearTimeout(flushTimer);
      clearTimeout(histoTimer);
      keepBottom.disconnect();
      list.destroy();
      if (histogram) histogram.destroy();
    },
    // for tests and benchmarks: the page's own view of its buffer
    debug: () => ({ ready, loaded: list.length, pending: pending.length, newCount, following, tail: tailStatus }),
    messages: () => list.items.map((e) => e.message),
  };
}
