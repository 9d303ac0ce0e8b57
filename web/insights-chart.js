// The time-series chart of a `stats … by bin(…)` result (uPlot, vendored, as histogram.js uses it).
// One series per numeric column, split by the other `by` keys (`stats count(*) by status, bin(5m)`
// draws one line per status). Series names come from the results and reach uPlot's legend as text.

import uPlot from './vendor/uplot/uPlot.esm.js';
import { timeTicks, timeValue, tzDate } from './chart-time.js';

export const TS_RE = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})$/;
const MAX_SERIES = 12;
const PALETTE = ['--accent', '--a1', '--a2', '--a5', '--a3', '--a6', '--a9', '--a13', '--a4', '--a10', '--a11', '--a14'];

/** `2024-05-01 12:00:00.000` (how results show a timestamp, always UTC) -> epoch ms, or null. */
export function parseTs(v) {
  const m = TS_RE.exec(v || '');
  return m ? Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]) : null;
}

const isNum = (v) => v != null && v !== '' && Number.isFinite(Number(v));

/**
 * Work out the series of a result: {times (s), series: [{label, values}]} or null when the rows have
 * no timestamp column or nothing numeric to draw. rows: [{field: value}], columns: [field].
 */
export function seriesOf(rows, columns) {
  if (!rows.length) return null;
  const timeCol = columns.find((c) => rows.every((r) => r[c] == null || TS_RE.test(r[c])) && rows.some((r) => r[c] != null));
  if (!timeCol) return null;
  const rest = columns.filter((c) => c !== timeCol && c !== '@ptr');
  const numCols = rest.filter((c) => rows.some((r) => r[c] != null) && rows.every((r) => r[c] == null || isNum(r[c])));
  const keyCols = rest.filter((c) => !numCols.includes(c));
  if (!numCols.length) return null;
  const times = [...new Set(rows.map((r) => parseTs(r[timeCol])).filter((t) => t != null))].sort((a, b) => a - b);
  const idx = new Map(times.map((t, i) => [t, i]));
  const byKey = new Map();
  for (const r of rows) {
    const t = parseTs(r[timeCol]);
    if (t == null) continue;
    const key = keyCols.map((c) => r[c] ?? '').join(' · ');
    for (const c of numCols) {
      if (!isNum(r[c])) continue;
      const label = key ? (numCols.length > 1 ? `${c} · ${key}` : key) : c;
      if (!byKey.has(label)) {
        if (byKey.size >= MAX_SERIES) continue;
        byKey.set(label, new Array(times.length).fill(null));
      }
      byKey.get(label)[idx.get(t)] = Number(r[c]);
    }
  }
  return {
    timeCol,
    times: times.map((t) => t / 1000),
    series: [...byKey.entries()].map(([label, values]) => ({ label, values })),
    truncated: byKey.size >= MAX_SERIES,
  };
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export class BinChart {
  constructor(container) {
    this.container = container;
    this.plot = null;
    this.ro = new ResizeObserver(() => { if (this.plot) this.plot.setSize({ width: this.width(), height: 220 }); });
    this.ro.observe(container);
  }

  width() { return Math.max(300, this.container.clientWidth); }

  destroy() {
    this.ro.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }

  /** Draw `s` (from seriesOf) as 'line' or 'bar'. */
  set(s, kind) {
    if (this.plot) { this.plot.destroy(); this.plot = null; }
    const grid = cssVar('--border') || '#ddd';
    const text = cssVar('--muted') || '#666';
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: '11px system-ui, sans-serif' };
    const n = s.series.length;
    // bars: a bin's series side by side inside [start, start + step) (step: the smallest gap between bins)
    let step = Infinity;
    for (let k = 1; k < s.times.length; k++) step = Math.min(step, s.times[k] - s.times[k - 1]);
    if (!Number.isFinite(step)) step = 60;
    const slot = (step * 0.8) / n;
    const series = [{ value: timeValue }, ...s.series.map((x, i) => {
      const color = cssVar(PALETTE[i % PALETTE.length]) || '#3b82f6';
      return kind === 'bar'
        ? {
          label: x.label, stroke: color, fill: `${color}cc`, width: 0, points: { show: false },
          paths: uPlot.paths.bars({
            size: [1, Infinity],
            disp: {
              x0: { unit: 1, values: (u) => u.data[0].map((t) => t + step * 0.1 + i * slot) },
              size: { unit: 1, values: (u) => u.data[0].map(() => slot) },
            },
          }),
        }
        : { label: x.label, stroke: color, width: 2, spanGaps: false, points: { show: true, size: 4 } };
    })];
    const opts = {
      width: this.width(),
      height: 220,
      tzDate,
      legend: { show: true, live: true },
      cursor: { points: { show: true } },
      scales: { x: { time: true, range: (u, min, max) => (kind === 'bar' ? [min, max + step] : [min, max]) }, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 1] } },
      axes: [{ ...axis, size: 30, values: timeTicks }, { ...axis, size: 56 }],
      series,
    };
    this.plot = new uPlot(opts, [s.times, ...s.series.map((x) => x.values)], this.container);
    this.container.dataset.series = String(n);
    this.container.dataset.points = String(s.series.reduce((a, x) => a + x.values.filter((v) => v != null).length, 0));
    this.container.dataset.kind = kind;
  }
}
