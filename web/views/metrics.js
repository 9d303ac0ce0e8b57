// Metrics: pick a metric (namespace, name, dimensions) among those with data in the range, a
// statistic and a period, and see it on a uPlot chart (vendored, as the other charts). Clicking a
// point opens the log lines behind it: the metric's group and filter pattern over that period
// (metric filters, EMF lines, a function's log group); PutMetricData metrics have none.
// Figures come from /api/v1/metrics*, the same code as CloudWatch's GetMetricData.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { get } from '../api.js';
import { clear, errorBox, h, stateBox } from '../dom.js';
import { rangeOf } from '../time.js';
import * as router from '../router.js';
import { rangePicker, withRange } from './common.js';
import { timeTicks, timeValue, tzDate } from '../chart-time.js';

const STATS = ['Sum', 'Average', 'Minimum', 'Maximum', 'SampleCount', 'p50', 'p90', 'p99'];
const PERIODS = [[60, '1 minute'], [300, '5 minutes'], [900, '15 minutes'], [3600, '1 hour']];

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** A metric's identity as one option value: namespace, name and sorted Name=Value dimensions. */
function keyOf(m) {
  const dims = Object.entries(m.dimensions || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([m.namespace, m.name, dims]);
}

function labelOf(m) {
  const dims = Object.entries(m.dimensions || {}).map(([k, v]) => `${k}=${v}`).join(', ');
  return `${m.namespace} · ${m.name}${dims ? ` · ${dims}` : ''}`;
}

export function metricsView(root, params) {
  const ctl = new AbortController();
  const p = new URLSearchParams(params);
  if (!p.get('range') && !p.get('start')) p.set('range', '1h');
  const range = rangeOf(p);
  const end = range.end || Date.now() + 60000;
  const start = range.start || end - 3600000;
  const stat = STATS.includes(p.get('stat')) ? p.get('stat') : 'Sum';
  const period = PERIODS.some(([s]) => String(s) === p.get('period')) ? Number(p.get('period')) : 60;
  const chosen = p.get('ns') && p.get('name')
    ? keyOf({ namespace: p.get('ns'), name: p.get('name'), dimensions: Object.fromEntries(p.getAll('dim').map((d) => d.split(/=(.*)/s).slice(0, 2))) })
    : null;

  const go = (changes) => {
    const q = new URLSearchParams(p);
    for (const [k, v] of Object.entries(changes)) {
      q.delete(k);
      if (Array.isArray(v)) v.forEach((x) => q.append(k, x)); else if (v != null && v !== '') q.set(k, String(v));
    }
    router.go('/metrics', q);
  };
  const metricSel = h('select', { class: 'grow', 'aria-label': 'Metric', 'data-primary-input': true }, h('option', { value: '' }, 'Loading metrics…'));
  const statSel = h('select', { 'aria-label': 'Statistic' }, STATS.map((s) => h('option', { value: s }, s)));
  statSel.value = stat;
  const periodSel = h('select', { 'aria-label': 'Period' }, PERIODS.map(([s, l]) => h('option', { value: String(s) }, l)));
  periodSel.value = String(period);
  statSel.addEventListener('change', () => go({ stat: statSel.value }));
  periodSel.addEventListener('change', () => go({ period: periodSel.value }));
  const picker = rangePicker(p, (r) => router.go('/metrics', withRange(p, r)), { allowNewest: false });
  const chartBox = h('div', { class: 'qchart metrics-chart' });
  const note = h('p', { class: 'muted metrics-note' });
  const body = h('div', { class: 'metrics-body' }, stateBox('loading', 'Loading metrics…'));
  root.append(h('section', { class: 'page' },
    h('div', { class: 'toolbar' }, h('h1', {}, 'Metrics'), metricSel, statSel, periodSel, picker),
    body));

  let metrics = [];
  let plot = null;
  let shown = null; // {points, logs}
  const ro = new ResizeObserver(() => { if (plot) plot.setSize({ width: Math.max(300, chartBox.clientWidth), height: 260 }); });

  metricSel.addEventListener('change', () => {
    const m = metrics.find((x) => keyOf(x) === metricSel.value);
    if (m) go({ ns: m.namespace, name: m.name, dim: Object.entries(m.dimensions || {}).map(([k, v]) => `${k}=${v}`) });
  });

  function openLogs(i) {
    if (!shown || !shown.logs || !shown.points[i]) return;
    const t = shown.points[i].t;
    router.go('/events', { group: shown.logs.group, q: shown.logs.pattern || '', start: t, end: t + period * 1000 - 1 });
  }

  function draw(data) {
    shown = data;
    clear(body);
    if (!data.points.length) {
      body.append(stateBox('empty', 'No data points in this range', 'Pick a longer range, or another metric.'));
      return;
    }
    body.append(h('div', { class: 'q-chart-wrap' }, chartBox), note);
    note.textContent = data.logs
      ? `Click a point to open its log lines: ${data.logs.group}${data.logs.pattern ? ` matching ${data.logs.pattern}` : ''}.`
      : 'Sent with PutMetricData: no log lines behind these points.';
    const color = cssVar('--accent') || '#3b82f6';
    const grid = cssVar('--border') || '#ddd';
    const text = cssVar('--muted') || '#666';
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: '11px system-ui, sans-serif' };
    const xs = data.points.map((pt) => pt.t / 1000);
    const ys = data.points.map((pt) => pt.v);
    plot = new uPlot({
      width: Math.max(300, chartBox.clientWidth || 800),
      height: 260,
      tzDate,
      legend: { show: true, live: true },
      cursor: { points: { show: true, size: 8 } },
      scales: { x: { time: true, range: () => [start / 1000, end / 1000] }, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [{ ...axis, size: 30, values: timeTicks }, { ...axis, size: 56 }],
      series: [{ value: timeValue }, { label: `${data.name} (${data.stat}${data.unit && data.unit !== 'None' ? `, ${data.unit}` : ''})`, stroke: color, width: 2, points: { show: true, size: 7 } }],
      hooks: {
        ready: [(u) => {
          u.over.style.cursor = data.logs ? 'pointer' : 'default';
          u.over.addEventListener('click', () => { if (u.cursor.idx != null) openLogs(u.cursor.idx); });
        }],
      },
    }, [xs, ys], chartBox);
    chartBox.dataset.points = String(xs.length);
    ro.observe(chartBox);
  }

  async function load() {
    const list = await get('/metrics', { start, end }, { signal: ctl.signal });
    metrics = list.metrics || [];
    metricSel.replaceChildren(h('option', { value: '' }, metrics.length ? 'Pick a metric…' : 'No metrics in this range'),
      ...metrics.map((m) => h('option', { value: keyOf(m) }, labelOf(m))));
    if (!chosen) {
      clear(body).append(stateBox('empty', metrics.length ? 'Pick a metric' : 'No metrics yet',
        'Metric filters (PutMetricFilter), Embedded Metric Format lines, your functions (AWS/Lambda) and PutMetricData make metrics.'));
      return;
    }
    if (![...metricSel.options].some((o) => o.value === chosen)) metricSel.append(h('option', { value: chosen }, labelOf({ namespace: p.get('ns'), name: p.get('name'), dimensions: {} })));
    metricSel.value = chosen;
    const data = await get('/metrics/data', {
      namespace: p.get('ns'), name: p.get('name'), dimension: p.getAll('dim'), stat, period, start, end,
    }, { signal: ctl.signal });
    draw(data);
  }

  load().catch((e) => {
    if (e.name === 'AbortError') return;
    clear(body).append(errorBox(e, 'Could not load the metrics'));
  });

  return {
    destroy() { ctl.abort(); ro.disconnect(); if (plot) plot.destroy(); },
    // for the browser tests: each point's value and where it is on the page
    debug() {
      if (!plot || !shown) return { points: [] };
      const r = plot.over.getBoundingClientRect();
      return {
        logs: shown.logs,
        points: shown.points.map((pt) => ({ t: pt.t, v: pt.v, x: r.left + plot.valToPos(pt.t / 1000, 'x'), y: r.top + plot.valToPos(pt.v, 'y') })),
      };
    },
  };
}
