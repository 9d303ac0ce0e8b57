// Logs Insights: write a query (an editor that knows the language), pick log groups and a time
// range, run it in the background and watch records scanned/matched grow, then read the rows as a
// sortable table (a value click adds `| filter field = "value"`, JSON expands) and, for
// `stats … by bin(…)`, as a time series. Saved queries are the CloudWatch query definitions (boto3's
// DescribeQueryDefinitions lists them); recent queries are the server's own list, so a query started
// from the CLI or boto3 shows up here too. Everything comes from the REST API under
// /api/v1/insights (logsvc/api/insights.py, insights_console.py): each piece has a JSON twin.

import { ApiError, del, get, post } from '../api.js';
import { clear, copyText, errorBox, fmtBytes, h, stateBox, toast } from '../dom.js';
import { QueryEditor, languageOf } from '../insights-editor.js';
import { addFilter, hasBinStats, quoteField } from '../insights-lang.js';
import { BinChart, TS_RE, parseTs, seriesOf } from '../insights-chart.js';
import { ago, fmt, fmtDuration, relMs, zoneLabel } from '../time.js';
import * as router from '../router.js';
import { rangePicker, tableKeys } from './common.js';

const TERMINAL = new Set(['Complete', 'Failed', 'Cancelled', 'Timeout']);
const RENDER_STEP = 1000; // rows put in the table at a time ("Show more" adds the next)
const MAX_GROUPS = 50; // POST /api/v1/insights takes 1..50 groups
const CHECK_DELAY = 300;
const QUERY_KEY = 'logsvc.insights.query';
const GROUPS_KEY = 'logsvc.insights.groups';
const TAB_KEY = 'logsvc.insights.tab';
const CHART_KEY = 'logsvc.insights.chart';
const DEFAULT_SERVER = 'http://127.0.0.1:4588'; // the CLI's default --url
const DEFAULT_QUERY = 'fields @timestamp, @message, @logStream\n| sort @timestamp desc\n| limit 100';
// A value a sample wants replaced before it runs: an upper-case, dashed word in quotes ("REQUEST-ID").
const PLACEHOLDER = /"([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)"/;
const CATEGORIES = [['lambda', 'Lambda (AWS samples)'], ['general', 'General'], ['json', 'JSON logs'], ['access', 'Access logs']];

function readJson(key, fallback) {
  try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch { return fallback; }
}

function parseJsonValue(v) {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  if (!(t.startsWith('{') && t.endsWith('}')) && !(t.startsWith('[') && t.endsWith(']'))) return undefined;
  try { return JSON.parse(t); } catch { return undefined; }
}

/** Column order over rows that each leave out their missing fields: first-seen, each after its predecessor. */
export function mergeColumns(rows) {
  const cols = [];
  for (const row of rows) {
    let after = -1;
    for (const { field } of row) {
      const at = cols.indexOf(field);
      if (at < 0) { cols.splice(after + 1, 0, field); after += 1; } else after = at;
    }
  }
  return cols;
}

function compareValues(a, b) {
  if (a == null || a === '') return b == null || b === '' ? 0 : 1;
  if (b == null || b === '') return -1;
  const na = Number(a);
  const nb = Number(b);
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function queryView(root, params) {
  const ctl = new AbortController();
  let lang = null;
  let allGroups = null; // [{name}] once loaded
  const savedGroups = readJson(GROUPS_KEY, []);
  let groups = params.getAll('group').length ? params.getAll('group') : (Array.isArray(savedGroups) ? savedGroups : []);
  groups = [...new Set(groups)].slice(0, MAX_GROUPS);
  let range = params.get('start') ? { start: Number(params.get('start')), end: params.get('end') ? Number(params.get('end')) : null }
    : { range: relMs(params.get('range')) ? params.get('range') : '1h' };
  let currentDef = null; // the saved query loaded into the editor, if any

  // ---- toolbar ---------------------------------------------------------------------------------------
  const picker = groupPicker();
  const rangeParams = new URLSearchParams(range.range ? { range: range.range } : { start: String(range.start), ...(range.end ? { end: String(range.end) } : {}) });
  const rangeEl = rangePicker(rangeParams, (r) => { range = r.range ? { range: r.range } : { start: r.start, end: r.end ?? null }; syncUrl(); }, { allowNewest: false });
  const runBtn = h('button', { class: 'btn primary q-run', type: 'button', title: 'Run the query (Ctrl+Enter)', onclick: () => run() }, 'Run query');
  const stopBtn = h('button', { class: 'btn q-stop', type: 'button', title: 'Stop the running query; the rows found so far stay', disabled: true, onclick: () => stop() }, 'Stop');
  const saveBtn = h('button', { class: 'btn q-save', type: 'button', title: 'Save this query (a CloudWatch query definition)', onclick: () => openSave() }, 'Save…');
  const cliBtn = h('button', {
    class: 'btn ghost q-cli', type: 'button', title: 'Copy this query as a `logsvc query` command (the same REST API, from a shell)',
    onclick: () => copyText(cliCommand()).then(() => toast('Copied: paste it in a shell')),
  }, 'Copy as CLI');
  const defLabel = h('span', { class: 'q-def muted', hidden: true });

  // ---- editor ----------------------------------------------------------------------------------------
  const editor = new QueryEditor({
    value: params.get('q') || localStorage.getItem(QUERY_KEY) || DEFAULT_QUERY,
    onRun: () => run(),
    onChange: () => scheduleCheck(),
  });
  const qError = h('div', { class: 'qerror q-error', role: 'alert', hidden: true });
  const status = h('div', { class: 'q-status', role: 'status', 'aria-live': 'polite' });

  // ---- results ---------------------------------------------------------------------------------------
  const chartBox = h('div', { class: 'qchart', 'aria-label': 'Time series of the stats result' });
  const chartKind = readJson(CHART_KEY, 'line') === 'bar' ? 'bar' : 'line';
  const lineBtn = h('button', { class: 'btn', type: 'button', 'aria-pressed': String(chartKind === 'line'), onclick: () => setChartKind('line') }, 'Line');
  const barBtn = h('button', { class: 'btn', type: 'button', 'aria-pressed': String(chartKind === 'bar'), onclick: () => setChartKind('bar') }, 'Bar');
  const chartNote = h('span', { class: 'muted small' });
  const chartWrap = h('section', { class: 'q-chart-wrap', hidden: true, 'aria-label': 'Chart' },
    h('div', { class: 'q-chart-head' }, h('span', { class: 'q-chart-title' }, 'Time series'), chartNote, h('span', { class: 'spacer' }),
      h('div', { class: 'seg', role: 'group', 'aria-label': 'Chart type' }, lineBtn, barBtn)),
    chartBox);
  const results = h('div', { class: 'q-results' },
    stateBox('empty', 'Write a query and run it', 'Pick log groups and a time range above, then press Run query (or Ctrl+Enter in the editor).',
      'New to Logs Insights? The Samples tab on the right has AWS\'s queries for Lambda, one click each.'));

  // ---- side panel --------------------------------------------------------------------------------------
  const tabs = [['samples', 'Samples'], ['saved', 'Saved'], ['recent', 'Recent'], ['fields', 'Fields']];
  const panels = {};
  const tabBtns = {};
  const tabList = h('div', { class: 'q-tabs', role: 'tablist', 'aria-label': 'Query helpers' });
  for (const [key, label] of tabs) {
    tabBtns[key] = h('button', {
      type: 'button', role: 'tab', id: `q-tab-${key}`, 'aria-controls': `q-panel-${key}`, class: 'q-tab', dataset: { tab: key },
      onclick: () => showTab(key),
      onkeydown: (ev) => {
        const i = tabs.findIndex((t) => t[0] === key);
        if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
          const next = tabs[(i + (ev.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length][0];
          showTab(next);
          tabBtns[next].focus();
          ev.preventDefault();
        }
      },
    }, label);
    tabList.append(tabBtns[key]);
    panels[key] = h('div', { class: 'q-panel', role: 'tabpanel', id: `q-panel-${key}`, 'aria-labelledby': `q-tab-${key}`, hidden: true, tabindex: '0' });
  }
  const side = h('aside', { class: 'q-side', 'aria-label': 'Samples, saved and recent queries, fields' }, tabList, ...Object.values(panels));

  const saveDialog = h('dialog', { class: 'q-save-dialog', 'aria-labelledby': 'q-save-title' });
  const page = h('section', { class: 'page query' },
    h('div', { class: 'toolbar' }, h('h1', {}, 'Logs Insights'), picker.el, rangeEl, runBtn, stopBtn, saveBtn, cliBtn, defLabel),
    picker.chips,
    h('div', { class: 'q-body' },
      h('div', { class: 'q-main' }, editor.el, qError, status, chartWrap, results),
      side),
    saveDialog);
  root.append(page);

  // ---- URL and memory ----------------------------------------------------------------------------------
  function syncUrl() {
    const p = { group: groups, q: editor.value };
    if (range.range) p.range = range.range; else { p.start = range.start; p.end = range.end; }
    router.go('/query', p, { replace: true, render: false });
    localStorage.setItem(GROUPS_KEY, JSON.stringify(groups));
    localStorage.setItem(QUERY_KEY, editor.value);
  }

  /** The shell command that runs what this page would run: `logsvc [--url U] query 'Q' --group G … --since …`. */
  function cliCommand() {
    const sq = (x) => (/^[\w@%+=:,./-]+$/.test(x) ? x : `'${String(x).replace(/'/g, "'\\''")}'`);
    const parts = ['logsvc'];
    if (location.origin !== DEFAULT_SERVER) parts.push('--url', sq(location.origin));
    parts.push('query', sq(editor.value));
    for (const g of groups) parts.push('--group', sq(g));
    if (range.range) parts.push('--since', range.range);
    else {
      parts.push('--since', new Date(range.start).toISOString());
      if (range.end) parts.push('--until', new Date(range.end).toISOString());
    }
    return parts.join(' ');
  }

  function window_() {
    const now = Date.now();
    if (range.range) return { start: now - relMs(range.range), end: now };
    return { start: range.start, end: range.end ?? now };
  }

  // ---- group picker --------------------------------------------------------------------------------
  function groupPicker() {
    const summary = h('summary', { class: 'btn', title: 'Log groups to query (up to 50)' });
    const filter = h('input', { type: 'search', placeholder: 'Filter log groups', 'aria-label': 'Filter log groups', autocomplete: 'off' });
    const list = h('div', { class: 'gp-list', role: 'group', 'aria-label': 'Log groups' }, stateBox('loading', 'Loading log groups…'));
    const note = h('p', { class: 'muted small gp-note' });
    const clearBtn = h('button', { class: 'btn ghost', type: 'button', onclick: () => setGroups([]) }, 'Clear selection');
    const el = h('details', { class: 'gpicker' }, summary, h('div', { class: 'gp-menu' }, filter, list, h('div', { class: 'gp-foot' }, note, clearBtn)));
    const chips = h('div', { class: 'gp-chips', 'aria-label': 'Selected log groups' });
    el.addEventListener('toggle', () => { if (el.open) { paintList(); filter.focus(); } });
    el.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && el.open) { el.open = false; summary.focus(); ev.stopPropagation(); ev.preventDefault(); } });
    filter.addEventListener('input', () => paintList());

    function paintList() {
      if (!allGroups) return;
      const f = filter.value.trim().toLowerCase();
      const names = allGroups.map((g) => g.name);
      for (const g of groups) if (!names.includes(g)) names.push(g); // a group from the URL that has no events yet
      const shown = (f ? names.filter((n) => n.toLowerCase().includes(f)) : names);
      if (!names.length) {
        clear(list).append(stateBox('empty', 'No log groups yet', 'Run `logsvc demo`, or write to a stream, then reopen this list.'));
        return;
      }
      if (!shown.length) { clear(list).append(h('p', { class: 'muted' }, `No log group matches “${filter.value}”.`)); return; }
      clear(list).append(...shown.slice(0, 300).map((name) => {
        const box = h('input', { type: 'checkbox', checked: groups.includes(name), value: name });
        box.addEventListener('change', () => {
          if (box.checked && groups.length >= MAX_GROUPS) { box.checked = false; toast(`A query reads at most ${MAX_GROUPS} log groups.`); return; }
          setGroups(box.checked ? [...groups, name] : groups.filter((g) => g !== name));
        });
        return h('label', { class: 'gp-item', title: name }, box, h('span', {}, name));
      }));
      note.textContent = shown.length > 300 ? `Showing 300 of ${shown.length}: type to narrow.` : `${groups.length} of ${names.length} selected`;
    }

    function paint() {
      summary.textContent = groups.length ? `Log groups: ${groups.length === 1 ? groups[0] : `${groups.length} selected`}` : 'Pick log groups ▾';
      summary.classList.toggle('needs', !groups.length);
      clear(chips).append(...groups.map((g) => h('span', { class: 'chip', title: g }, h('span', { class: 'chip-name' }, g),
        h('button', { type: 'button', class: 'chip-x', 'aria-label': `Remove ${g}`, title: `Remove ${g}`, onclick: () => setGroups(groups.filter((x) => x !== g)) }, '×'))));
      chips.hidden = !groups.length;
      if (el.open) paintList();
    }

    return { el, chips, paint, paintList, open: () => { el.open = true; } };
  }

  function setGroups(next) {
    groups = [...new Set(next)].slice(0, MAX_GROUPS);
    picker.paint();
    syncUrl();
    loadFields();
  }

  // ---- caret errors --------------------------------------------------------------------------------
  let checkTimer = null;
  let checkCtl = null;
  function scheduleCheck() {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(check, CHECK_DELAY);
  }

  async function check() {
    const text = editor.value;
    if (checkCtl) checkCtl.abort();
    if (!text.trim()) { showError(null); return; }
    checkCtl = new AbortController();
    try {
      const r = await post('/insights/check', { query: text }, { signal: checkCtl.signal });
      if (editor.value !== text) return;
      showError(r.ok ? null : r.error, text);
    } catch (e) {
      if (e.name !== 'AbortError') console.warn('query check failed', e);
    }
  }

  /** err: {message, start, end} (0-based offsets into text) or null. */
  function showError(err, text = editor.value) {
    editor.setError(err);
    if (!err) { qError.hidden = true; clear(qError); delete qError.dataset.start; return; }
    const start = Math.max(0, Math.min(err.start, text.length));
    const lineStart = text.lastIndexOf('\n', start - 1) + 1;
    let lineEnd = text.indexOf('\n', start);
    if (lineEnd < 0) lineEnd = text.length;
    const line = text.slice(0, start).split('\n').length;
    const col = start - lineStart + 1;
    const width = Math.max(1, Math.min((err.end ?? start + 1) - start, lineEnd - start));
    Object.assign(qError.dataset, { start: String(start), end: String(err.end ?? start + 1), line: String(line), column: String(col) });
    clear(qError).append(
      h('pre', { class: 'caret' }, `${text.slice(lineStart, lineEnd)}\n${' '.repeat(col - 1)}${'^'.repeat(width)}`),
      h('p', { class: 'q-error-msg' }, err.message),
      h('p', { class: 'muted' }, `Line ${line}, column ${col}. Fix it there (the editor underlines it), then run the query with Ctrl+Enter. `,
        h('button', { type: 'button', class: 'btn ghost small', onclick: () => editor.caretTo(start) }, 'Go to the error')));
    qError.hidden = false;
  }

  // ---- running ----------------------------------------------------------------------------------------
  let runGen = 0;
  let running = null; // {id, gen, started}
  let pollTimer = null;
  let last = null; // the last GET /insights/<id> answer
  let rows = [];
  let columns = [];
  let sort = null; // {col, dir: 1 | -1}
  let shown = RENDER_STEP;
  let chart = null;
  let chartData = null;

  function setRunning(on) {
    status.setAttribute('aria-busy', String(on)); // announce the end, not every poll
    runBtn.disabled = on;
    stopBtn.disabled = !on;
    runBtn.textContent = on ? 'Running…' : 'Run query';
  }

  function statusLine(kind, ...parts) {
    clear(status).append(...parts);
    status.dataset.state = kind;
  }

  async function run() {
    const text = editor.value;
    if (!text.trim()) { statusLine('error', h('span', { class: 'badge st-error' }, 'No query'), ' Type a query first, or pick one from the Samples tab.'); editor.focus(); return; }
    if (!groups.length) {
      statusLine('error', h('span', { class: 'badge st-error' }, 'No log group'), ' Pick at least one log group (the button above the editor) and run again.');
      picker.open();
      return;
    }
    if (running) await stop({ quiet: true });
    clearTimeout(checkTimer);
    syncUrl();
    const gen = ++runGen;
    const { start, end } = window_();
    setRunning(true);
    delete status.dataset.status;
    statusLine('running', h('span', { class: 'badge st-running' }, 'Starting'), ` ${groups.length} log group${groups.length > 1 ? 's' : ''}, ${fmt(start, { millis: false })} → ${fmt(end, { millis: false })} ${zoneLabel()}`);
    let r;
    try {
      r = await post('/insights', { query: text, groups, start, end }, { signal: ctl.signal });
    } catch (e) {
      if (gen !== runGen || e.name === 'AbortError') return;
      setRunning(false);
      if (e instanceof ApiError && e.code === 'MalformedQuery' && Number.isInteger(e.position)) {
        showError({ message: e.message, start: e.position, end: e.end ?? e.position + 1 }, text);
        statusLine('error', h('span', { class: 'badge st-error' }, 'Query error'), ' The query did not compile: the box above shows where.');
      } else {
        statusLine('error', h('span', { class: 'badge st-error' }, 'Not started'), ` ${e.message}`,
          e.status === 404 ? ' Check the selected log groups: one of them does not exist (any more).' : '',
          e.status === 503 ? ' Too many queries are running: wait for some to end, or stop one from the Recent tab.' : '',
          e.hint ? ` ${e.hint}` : '');
      }
      return;
    }
    showError(null);
    running = { id: r.queryId, gen, started: Date.now() };
    sort = null;
    shown = RENDER_STEP;
    poll(gen, 150);
  }

  async function poll(gen, delay) {
    if (gen !== runGen || !running) return;
    let d;
    try {
      d = await get(`/insights/${encodeURIComponent(running.id)}`, null, { signal: ctl.signal });
    } catch (e) {
      if (e.name === 'AbortError' || gen !== runGen) return;
      setRunning(false);
      running = null;
      statusLine('error', h('span', { class: 'badge st-error' }, 'Lost'), ` Could not read the query's progress: ${e.message}`,
        e.status === 0 ? ' Check that `logsvc serve` is still running, then run the query again.' : ' Run the query again.');
      return;
    }
    if (gen !== runGen) return;
    show(d);
    if (TERMINAL.has(d.status)) {
      setRunning(false);
      running = null;
      if (!panels.recent.hidden) loadRecent();
      return;
    }
    pollTimer = setTimeout(() => poll(gen, Math.min(1000, delay * 1.5)), delay);
  }

  async function stop({ quiet = false } = {}) {
    if (!running) return;
    const { id, gen } = running;
    clearTimeout(pollTimer);
    try {
      await del(`/insights/${encodeURIComponent(id)}`, { signal: ctl.signal });
    } catch (e) {
      // it may have ended on its own in between: the poll below shows what it became
      if (e.name === 'AbortError') return;
      if (!quiet && e.status !== 400) toast(`Could not stop the query: ${e.message}`);
    }
    if (quiet) { running = null; return; }
    poll(gen, 150);
  }

  function show(d) {
    last = d;
    const st = d.statistics || {};
    const matched = Math.round(st.recordsMatched || 0);
    const scanned = Math.round(st.recordsScanned || 0);
    const raw = d.results || [];
    rows = raw.map((row) => Object.fromEntries(row.map((c) => [c.field, c.value])));
    columns = mergeColumns(raw);
    const elapsed = (d.endedTime || Date.now()) - (d.createTime || Date.now());
    const cls = { Complete: 'st-ok', Failed: 'st-error', Timeout: 'st-timeout', Cancelled: 'st-warn' }[d.status] || 'st-running';
    const parts = [
      h('span', { class: `badge ${cls}` }, d.status),
      ' ',
      h('span', { class: 'q-matched' }, `${matched.toLocaleString()} records matched`), ' · ',
      h('span', { class: 'q-scanned' }, `${scanned.toLocaleString()} scanned`), ' · ',
      `${fmtBytes(st.bytesScanned || 0)} · `,
      h('span', { class: 'q-rows' }, `${rows.length.toLocaleString()} row${rows.length === 1 ? '' : 's'}`),
      ` · ${fmtDuration(Math.max(0, elapsed))}`,
    ];
    if (d.status === 'Failed' || d.status === 'Timeout') parts.push(h('div', { class: 'q-status-err' }, d.error || (d.status === 'Timeout' ? 'The query ran past the time limit (insights_timeout); narrow the range or the groups.' : 'The query failed.')));
    if (d.status === 'Cancelled') parts.push(h('div', { class: 'muted' }, 'Stopped: these are the rows found until then.'));
    statusLine(d.status.toLowerCase(), ...parts);
    Object.assign(status.dataset, { status: d.status, matched: String(matched), scanned: String(scanned), queryId: d.queryId });
    paintChart(d.query || editor.value);
    paintTable();
  }

  // ---- chart ------------------------------------------------------------------------------------------
  function setChartKind(kind) {
    localStorage.setItem(CHART_KEY, JSON.stringify(kind));
    lineBtn.setAttribute('aria-pressed', String(kind === 'line'));
    barBtn.setAttribute('aria-pressed', String(kind === 'bar'));
    if (chart && chartData) chart.set(chartData, kind);
  }
  const currentKind = () => (barBtn.getAttribute('aria-pressed') === 'true' ? 'bar' : 'line');

  function paintChart(text) {
    chartData = hasBinStats(text, lang) ? seriesOf(rows, columns) : null;
    chartWrap.hidden = !chartData;
    if (!chartData) { if (chart) { chart.destroy(); chart = null; } return; }
    chartNote.textContent = `by ${chartData.timeCol}: ${chartData.series.length} series${chartData.truncated ? ' (the first 12)' : ''}`;
    if (!chart) chart = new BinChart(chartBox);
    chart.set(chartData, currentKind());
  }

  // ---- table ------------------------------------------------------------------------------------------
  function sortedRows() {
    if (!sort) return rows;
    const { col, dir } = sort;
    return rows.map((r, i) => [r, i]).sort((a, b) => {
      const av = a[0][col];
      const bv = b[0][col];
      const missingA = av == null || av === '';
      const missingB = bv == null || bv === '';
      if (missingA || missingB) return missingA - missingB || a[1] - b[1]; // missing last, both directions
      return dir * compareValues(av, bv) || a[1] - b[1];
    }).map((x) => x[0]);
  }

  function paintTable() {
    const d = last;
    if (!d) return;
    if (!rows.length) {
      const done = TERMINAL.has(d.status);
      clear(results).append(done
        ? stateBox('empty', 'No rows', d.status === 'Complete'
          ? `Nothing matched in ${groups.length > 1 ? 'these log groups' : 'this log group'} between ${fmt(d.start, { millis: false })} and ${fmt(d.end, { millis: false })} ${zoneLabel()}.`
          : 'The query ended before it found any.', 'Widen the time range, pick more log groups, or loosen the filters.')
        : stateBox('loading', 'Running…', 'Rows appear here as the query finds them.'));
      return;
    }
    const cols = columns.filter((c) => c !== '@ptr');
    const thead = h('tr', {}, h('th', { class: 'exp', 'aria-label': 'Expand' }),
      cols.map((c) => {
        const dir = sort && sort.col === c ? sort.dir : 0;
        return h('th', { 'aria-sort': dir ? (dir > 0 ? 'ascending' : 'descending') : 'none', dataset: { col: c }, title: TS_COLS.has(c) ? `Shown in ${zoneLabel()}` : null },
          h('button', { type: 'button', class: 'th-sort', title: `Sort by ${c}`, onclick: () => { sort = { col: c, dir: dir > 0 ? -1 : 1 }; paintTable(); } },
            c, h('span', { class: 'arrow', 'aria-hidden': 'true' }, dir > 0 ? ' ▲' : dir < 0 ? ' ▼' : '')));
      }));
    const tbody = h('tbody');
    const list = sortedRows();
    for (const r of list.slice(0, shown)) tbody.append(rowEl(r, cols));
    const more = list.length > shown
      ? h('div', { class: 'q-more' }, h('span', { class: 'muted' }, `${shown.toLocaleString()} of ${list.length.toLocaleString()} rows shown. `),
        h('button', { class: 'btn', type: 'button', onclick: () => { shown += RENDER_STEP; paintTable(); } }, `Show ${Math.min(RENDER_STEP, list.length - shown).toLocaleString()} more`))
      : null;
    clear(results).append(
      h('p', { class: 'muted small q-hint' }, 'Click a value to add ', h('code', {}, '| filter field = "value"'), ' to the query; click a column to sort; ▸ shows every field of a row.'),
      h('div', { class: 'q-table-wrap' }, h('table', { class: 'grid qresults' }, h('thead', {}, thead), tbody)), more);
  }

  function valueCell(col, v) {
    if (v == null) return h('td', { class: 'empty' });
    if (TS_RE.test(v)) return h('td', { class: 'ts', title: `${v} UTC`, dataset: { value: v } }, fmt(parseTs(v)));
    const json = parseJsonValue(v);
    const btn = h('button', {
      type: 'button', class: 'qv', dataset: { field: col, value: v },
      title: `Add to the query: | filter ${quoteField(col)} = "${v.length > 80 ? `${v.slice(0, 80)}…` : v}"`,
      onclick: () => pickValue(col, v),
    }, v.length > 500 ? `${v.slice(0, 500)}…` : v);
    return h('td', { class: `val${json !== undefined ? ' json' : ''}` }, btn);
  }

  function rowEl(r, cols) {
    const exp = h('button', { type: 'button', class: 'expander', 'aria-expanded': 'false', 'aria-label': 'Show every field of this row', title: 'Every field of this row' }, '▸');
    const tr = h('tr', { class: 'krow' }, h('td', { class: 'exp' }, exp), cols.map((c) => valueCell(c, r[c])));
    let detail = null;
    exp.addEventListener('click', () => {
      if (detail) { detail.remove(); detail = null; exp.textContent = '▸'; exp.setAttribute('aria-expanded', 'false'); return; }
      detail = h('tr', { class: 'q-detail' }, h('td', { colspan: String(cols.length + 1) }, rowDetail(r)));
      tr.after(detail);
      exp.textContent = '▾';
      exp.setAttribute('aria-expanded', 'true');
    });
    return tr;
  }

  function rowDetail(r) {
    const dl = h('dl', { class: 'meta q-fields' });
    for (const [k, v] of Object.entries(r)) {
      const json = parseJsonValue(v);
      let dd;
      if (json !== undefined) {
        // @message's JSON keys are fields of their own (flattened with dots): those leaves filter
        dd = h('dd', {}, jsonTree(json, k === '@message' ? '' : null));
      } else if (k === '@ptr' || TS_RE.test(v)) {
        dd = h('dd', { class: 'mono' }, TS_RE.test(v) ? `${v} UTC` : v);
      } else {
        dd = h('dd', { class: 'mono' }, h('button', { type: 'button', class: 'qv', dataset: { field: k, value: v }, onclick: () => pickValue(k, v) }, v));
      }
      dl.append(h('dt', {}, k), dd);
    }
    return dl;
  }

  /** A collapsible JSON tree; `base` = the field-name prefix of its leaves ('' for @message), or null: not filterable. */
  function jsonTree(value, base) {
    let nodes = 0;
    const node = (v, path, key, depth) => {
      if (++nodes > 3000) return h('span', { class: 'more' }, '…');
      const label = key == null ? null : h('span', { class: 'jk' }, `${JSON.stringify(key)}: `);
      if (v === null || typeof v !== 'object') {
        const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
        const leaf = base != null && path && (typeof v === 'string' || typeof v === 'number')
          ? h('button', { type: 'button', class: `jv json-${typeof v}`, dataset: { field: path }, title: `Add to the query: | filter ${quoteField(path)} = ${JSON.stringify(String(v))}`, onclick: () => pickValue(path, String(v)) }, text)
          : h('span', { class: `json-${v === null ? 'null' : typeof v}` }, text);
        return h('div', { class: 'jrow' }, label, leaf);
      }
      const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
      const open = depth < 4;
      return h('details', { class: 'jnode', open },
        h('summary', {}, label, Array.isArray(v) ? `[${entries.length}]` : `{${entries.length}}`),
        h('div', { class: 'jkids' }, entries.map(([k, x]) => {
          const seg = depth === 0 && typeof k === 'string' && k.startsWith('@') ? `@${k}` : String(k);
          return node(x, path ? `${path}.${seg}` : seg, k, depth + 1);
        })));
    };
    return h('div', { class: 'jtree' }, node(value, base == null ? null : base, null, 0));
  }

  function pickValue(field, value) {
    editor.replaceAll(addFilter(editor.value, field, value, lang)); // one edit: Ctrl+Z takes it back
    syncUrl();
    scheduleCheck();
    toast('Filter added to the query: run it (Ctrl+Enter) to narrow the rows');
  }

  // ---- save dialog ----------------------------------------------------------------------------------
  function openSave() {
    const text = editor.value;
    if (!text.trim()) { toast('Type a query before saving it.'); return; }
    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: '255', value: currentDef ? currentDef.name : '', 'aria-label': 'Name', autocomplete: 'off' });
    const replace = currentDef ? h('input', { type: 'checkbox', name: 'replace', checked: true }) : null;
    const err = h('p', { class: 'q-save-err', role: 'alert', hidden: true });
    const form = h('form', { method: 'dialog' },
      h('h2', { id: 'q-save-title' }, 'Save query'),
      h('label', {}, 'Name ', name),
      replace ? h('label', { class: 'small' }, replace, h('span', {}, `Replace the saved query “${currentDef.name}” (untick to save a new one)`)) : null,
      h('p', { class: 'muted small' }, groups.length ? `Saved with its ${groups.length} log group${groups.length > 1 ? 's' : ''}. ` : 'Saved without log groups. ',
        'It is a CloudWatch query definition: DescribeQueryDefinitions lists it too.'),
      err,
      h('div', { class: 'q-save-actions' },
        h('button', { class: 'btn', type: 'button', onclick: () => saveDialog.close() }, 'Cancel'),
        h('button', { class: 'btn primary', type: 'submit' }, 'Save')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { name: name.value.trim(), query: text, groups };
      if (!body.name) { name.setCustomValidity('Give the query a name'); name.reportValidity(); return; }
      if (replace && replace.checked) body.id = currentDef.id;
      try {
        const saved = await post('/insights/definitions', body, { signal: ctl.signal });
        currentDef = saved;
        paintDef();
        saveDialog.close();
        toast(`Saved “${saved.name}”`);
        loadSaved();
      } catch (e) {
        if (e.name === 'AbortError') return;
        err.textContent = `${e.message}${e.hint ? ` ${e.hint}` : ''} Change the name or the query and save again.`;
        err.hidden = false;
      }
    });
    name.addEventListener('input', () => name.setCustomValidity(''));
    clear(saveDialog).append(form);
    saveDialog.showModal();
    name.focus();
    name.select();
  }

  function paintDef() {
    defLabel.hidden = !currentDef;
    defLabel.textContent = currentDef ? `Saved query: ${currentDef.name}` : '';
  }

  // ---- side panels --------------------------------------------------------------------------------------
  function showTab(key) {
    for (const [k] of tabs) {
      panels[k].hidden = k !== key;
      tabBtns[k].setAttribute('aria-selected', String(k === key));
      tabBtns[k].tabIndex = k === key ? 0 : -1;
    }
    localStorage.setItem(TAB_KEY, key);
    if (key === 'saved') loadSaved();
    if (key === 'recent') loadRecent();
    if (key === 'fields') paintFields();
  }

  function loadQuery(text, gs, def = null) {
    editor.setValue(text, { focus: true });
    if (gs && gs.length) setGroups(gs);
    currentDef = def;
    paintDef();
    syncUrl();
    scheduleCheck();
  }

  /** Load a sample and run it; one with a placeholder ("REQUEST-ID") waits with the placeholder selected. */
  function pickSample(s) {
    loadQuery(s.query, null);
    const m = PLACEHOLDER.exec(s.query);
    if (m) {
      const at = m.index + 1;
      editor.select(at, at + m[1].length);
      toast(`Replace ${m[1]} in the query, then run it (Ctrl+Enter).`);
      return;
    }
    if (groups.length) run();
    else { picker.open(); toast('Pick the log groups to run it over.'); }
  }

  async function loadSamples() {
    try {
      const data = await get('/insights/samples', null, { signal: ctl.signal });
      const all = data.samples || [];
      const cats = [...CATEGORIES, ...[...new Set(all.map((s) => s.category))].filter((c) => !CATEGORIES.some((x) => x[0] === c)).map((c) => [c, c])];
      clear(panels.samples).append(
        h('p', { class: 'muted small' }, 'One click loads a sample and runs it over the selected log groups.'),
        ...cats.filter(([c]) => all.some((s) => s.category === c)).map(([c, label]) => h('section', { class: 'q-samples', dataset: { category: c } },
          h('h3', {}, label),
          h('ul', { class: 'q-list' }, all.filter((s) => s.category === c).map((s) => h('li', {},
            h('button', {
              type: 'button', class: 'q-item sample', dataset: { name: s.name }, title: s.query,
              onclick: () => pickSample(s),
            }, h('span', { class: 'q-item-name' }, s.name), h('span', { class: 'q-item-desc' }, s.description))))))));
    } catch (e) {
      if (e.name !== 'AbortError') clear(panels.samples).append(errorBox(e, 'Could not load the sample queries'));
    }
  }

  async function loadSaved() {
    if (!panels.saved.childElementCount) panels.saved.append(stateBox('loading', 'Loading saved queries…'));
    try {
      const data = await get('/insights/definitions', null, { signal: ctl.signal });
      const defs = data.definitions || [];
      const saveHere = h('button', { type: 'button', class: 'btn', onclick: () => openSave() }, 'Save the current query…');
      if (!defs.length) {
        clear(panels.saved).append(saveHere, stateBox('empty', 'No saved queries yet', 'Save one with the Save… button; boto3\'s put_query_definition and the aws CLI add them here too.'));
        return;
      }
      clear(panels.saved).append(saveHere, h('ul', { class: 'q-list' }, defs.map((d) => {
        const delBtn = h('button', { type: 'button', class: 'btn ghost small q-del', 'aria-label': `Delete the saved query ${d.name}`, title: 'Delete (click twice)' }, 'Delete');
        let armed = null;
        delBtn.addEventListener('click', async () => {
          if (!armed) {
            delBtn.textContent = 'Really delete?';
            delBtn.classList.add('armed');
            armed = setTimeout(() => { armed = null; delBtn.textContent = 'Delete'; delBtn.classList.remove('armed'); }, 4000);
            return;
          }
          clearTimeout(armed);
          try {
            await del(`/insights/definitions/${encodeURIComponent(d.id)}`, { signal: ctl.signal });
            if (currentDef && currentDef.id === d.id) { currentDef = null; paintDef(); }
            toast(`Deleted “${d.name}”`);
            loadSaved();
          } catch (e) {
            if (e.name !== 'AbortError') toast(`Could not delete: ${e.message}`);
          }
        });
        return h('li', { class: 'q-saved', dataset: { id: d.id, name: d.name } },
          h('button', { type: 'button', class: 'q-item', title: d.query, onclick: () => loadQuery(d.query, d.groups, d) },
            h('span', { class: 'q-item-name' }, d.name),
            h('span', { class: 'q-item-desc mono' }, d.query.split('\n')[0]),
            d.groups.length ? h('span', { class: 'q-item-meta' }, `${d.groups.length} log group${d.groups.length > 1 ? 's' : ''}`) : null),
          delBtn);
      })));
    } catch (e) {
      if (e.name !== 'AbortError') clear(panels.saved).append(errorBox(e, 'Could not load the saved queries'));
    }
  }

  async function loadRecent() {
    try {
      const data = await get('/insights', { limit: 30 }, { signal: ctl.signal });
      const qs = data.queries || [];
      if (!qs.length) {
        clear(panels.recent).append(stateBox('empty', 'No queries yet', 'Queries run here, with `logsvc query`, boto3 or the aws CLI are listed here.'));
        return;
      }
      clear(panels.recent).append(h('ul', { class: 'q-list' }, qs.map((q) => h('li', { class: 'q-recent', dataset: { id: q.queryId } },
        h('button', { type: 'button', class: 'q-item', title: q.query, onclick: () => loadQuery(q.query, q.groups) },
          h('span', { class: 'q-item-desc mono' }, (q.query || '').split('\n')[0] || '(empty)'),
          h('span', { class: 'q-item-meta' },
            h('span', { class: `badge ${{ Complete: 'st-ok', Failed: 'st-error', Timeout: 'st-timeout', Cancelled: 'st-warn' }[q.status] || 'st-running'}` }, q.status),
            ` ${ago(q.createTime)} · ${(q.groups || []).length === 1 ? q.groups[0] : `${(q.groups || []).length} log groups`}`))))));
    } catch (e) {
      if (e.name !== 'AbortError') clear(panels.recent).append(errorBox(e, 'Could not load the recent queries'));
    }
  }

  let fieldList = [];
  let fieldsErr = null;
  async function loadFields() {
    fieldList = [];
    fieldsErr = null;
    editor.setFields([]);
    if (!groups.length) { paintFields(); return; }
    const want = groups.join('\n');
    try {
      const data = await get('/insights/fields', { group: groups }, { signal: ctl.signal });
      if (want !== groups.join('\n')) return;
      fieldList = data.fields || [];
      editor.setFields(fieldList);
    } catch (e) {
      if (e.name === 'AbortError') return;
      fieldsErr = e;
    }
    paintFields();
  }

  function paintFields() {
    if (panels.fields.hidden) return;
    if (!groups.length) { clear(panels.fields).append(stateBox('empty', 'No log groups picked', 'The fields of the selected groups are listed here (and completed in the editor).')); return; }
    if (fieldsErr) { clear(panels.fields).append(errorBox(fieldsErr, 'Could not read the fields')); return; }
    if (!fieldList.length) { clear(panels.fields).append(stateBox('empty', 'No fields found', 'The newest 1,000 events of these groups have no fields yet.')); return; }
    clear(panels.fields).append(
      h('p', { class: 'muted small' }, 'Seen in the newest 1,000 events. Click to insert at the cursor.'),
      h('ul', { class: 'q-list q-fieldlist' }, fieldList.map((f) => h('li', {},
        h('button', { type: 'button', class: 'q-field', dataset: { field: f.name }, onclick: () => editor.insert(quoteField(f.name)) },
          h('span', { class: 'mono' }, f.name), h('span', { class: 'muted' }, `${Math.round(f.percent)}%`))))));
  }

  async function loadLanguage() {
    try {
      lang = languageOf(await get('/insights/language', null, { signal: ctl.signal }));
      editor.setLanguage(lang);
    } catch (e) {
      if (e.name !== 'AbortError') console.warn('no language table: completion offers fields only', e);
    }
  }

  async function loadGroups() {
    try {
      let token = null;
      let pages = 0;
      const acc = [];
      do {
        const pg = await get('/groups', { limit: 1000, nextToken: token }, { signal: ctl.signal });
        acc.push(...(pg.groups || []));
        token = pg.nextToken;
      } while (token && ++pages < 20);
      allGroups = acc;
      picker.paintList();
    } catch (e) {
      if (e.name !== 'AbortError') picker.el.querySelector('.gp-list').replaceChildren(errorBox(e, 'Could not load the log groups'));
    }
  }

  // ---- keys ---------------------------------------------------------------------------------------------
  const rowKeys = tableKeys(results);
  function onKey(key) {
    if (key === 'Enter') {
      const sel = results.querySelector('tr.kselected .expander');
      if (sel) { sel.click(); return true; }
      return false;
    }
    if (key === 'r') { run(); return true; }
    return rowKeys(key);
  }

  // ---- start ----------------------------------------------------------------------------------------------
  picker.paint();
  const firstTab = tabs.some((t) => t[0] === localStorage.getItem(TAB_KEY)) ? localStorage.getItem(TAB_KEY) : 'samples';
  showTab(firstTab);
  loadLanguage();
  loadGroups();
  loadSamples();
  loadFields();
  scheduleCheck();

  return {
    onKey,
    destroy() {
      ctl.abort();
      clearTimeout(pollTimer);
      clearTimeout(checkTimer);
      if (checkCtl) checkCtl.abort();
      if (chart) chart.destroy();
      runGen += 1;
    },
    // for tests: what the page shows, in one object
    debug: () => ({
      status: last ? last.status : null,
      queryId: last ? last.queryId : null,
      running: !!running,
      rows: rows.length,
      columns,
      groups: [...groups],
      query: editor.value,
      error: editor.error ? { start: editor.error.start, end: editor.error.end, message: editor.error.message } : null,
      chart: chartData ? { series: chartData.series.length, points: Number(chartBox.dataset.points || 0), kind: currentKind() } : null,
      language: !!lang,
      fields: fieldList.length,
      cli: cliCommand(),
    }),
    messages: () => rows.map((r) => r['@message']).filter((m) => m != null),
  };
}

const TS_COLS = new Set(['@timestamp', '@ingestionTime']);
