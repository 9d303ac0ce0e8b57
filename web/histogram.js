// Volume histogram over the selected range (uPlot, vendored), stacked by level like Grafana's log
// volume so errors stand out. Dragging across it selects a new range.

import uPlot from './vendor/uplot/uPlot.esm.js';
import { timeTicks, timeValue, tzDate } from './chart-time.js';
import { h } from './dom.js';

// Stack order, bottom to top; 'unsampled' holds the events of buckets whose levels were not counted
// (the API counts levels from a bounded sample of the newest events: logsvc/query.py level_histogram).
const STACK = ['error', 'warn', 'info', 'debug', 'other', 'unsampled'];
const DRAW_ORDER = [...STACK].reverse();
const LABEL = { error: 'error', warn: 'warn', info: 'info', debug: 'debug', other: 'no level', unsampled: 'not classified' };
const COLOUR_VAR = { error: '--err', warn: '--warn', info: '--info', debug: '--debug', other: '--accent', unsampled: '--border' };

function levelColour(k) { return cssVar(COLOUR_VAR[k]) || '#888'; }

/** Cumulative heights per class (in DRAW_ORDER) and the range's total per class. */
function stacked(buckets) {
  const sums = Object.fromEntries(STACK.map((k) => [k, 0]));
  const per = buckets.map((b) => {
    const lv = b.levels || { unsampled: b.count };
    return STACK.map((k) => { sums[k] += lv[k] || 0; return lv[k] || 0; });
  });
  const cum = per.map((row) => row.map((_, i) => row.slice(0, i + 1).reduce((a, x) => a + x, 0)));
  const series = DRAW_ORDER.map((k) => { const i = STACK.indexOf(k); return cum.map((row) => row[i]); });
  return { series, sums };
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export class Histogram {
  constructor(container, { onZoom }) {
    this.container = container;
    this.onZoom = onZoom;
    this.plot = null;
    this.ro = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: 90 });
    });
    this.ro.observe(container);
    this.legend = h('div', { class: 'histo-legend', 'aria-label': 'Events per level in the range' });
    container.append(this.legend);
  }

  width() { return Math.max(200, this.container.clientWidth); }

  paintLegend(data, sums) {
    const items = STACK.filter((k) => sums[k]).map((k) => h('span', { class: 'hl-item', dataset: { level: k } },
      h('span', { class: 'hl-swatch', style: { background: levelColour(k) } }), `${LABEL[k]} ${sums[k]}`));
    this.legend.replaceChildren(...items);
    if (data.levelsComplete === false) {
      this.legend.append(h('span', { class: 'hl-note', title: data.levelsReason || '' }, `levels: newest ${data.levelsRead} events`));
    }
  }

  destroy() {
    this.legend.remove();
    this.ro.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }

  /** data: {buckets:[{start, count, levels?}], interval, levelsComplete?, levelsRead?} */
  set(data) {
    const xs = data.buckets.map((b) => b.start / 1000);
    const total = data.buckets.reduce((a, b) => a + b.count, 0);
    this.container.dataset.total = String(total);
    // The x scale spans whole buckets, [first start, last start + interval): each bar is drawn from its
    // bucket's start to the right (align 1), so a scale ending at the last *start* clipped the newest
    // bucket entirely (issue #15: a blank chart when every event was in it).
    const span = xs.length ? [xs[0], xs[xs.length - 1] + data.interval / 1000] : [0, 1];
    this.span = span;
    const stacks = stacked(data.buckets);
    this.paintLegend(data, stacks.sums);
    if (this.plot) { this.plot.setData([xs, ...stacks.series]); return; }
    const grid = cssVar('--border') || '#ddd';
    const text = cssVar('--muted') || '#666';
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: '11px system-ui, sans-serif' };
    const opts = {
      width: this.width(),
      height: 90,
      tzDate,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      select: { show: true },
      scales: { x: { time: true, range: () => this.span }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [{ ...axis, size: 24, values: timeTicks }, { ...axis, size: 40, ticks: { show: false }, values: (u, v) => v.map((x) => (x >= 1000 ? `${x / 1000}k` : x)) }],
      // drawn in this order, each bar from 0 to its cumulative height: the later (lower) classes
      // paint over the earlier, so error ends up at the bottom of the stack, where it stands out
      series: [{ value: timeValue }, ...DRAW_ORDER.map((k) => {
        const colour = levelColour(k);
        return {
          label: k, stroke: colour, fill: colour, width: 0,
          paths: uPlot.paths.bars({ size: [0.9, 40], align: 1 }), points: { show: false },
        };
      })],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 3) return;
          const a = u.posToVal(u.select.left, 'x');
          const b = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({ width: 0, height: 0 }, false);
          this.onZoom(Math.floor(a * 1000), Math.ceil(b * 1000));
        }],
      },
    };
    this.plot = new uPlot(opts, [xs, ...stacks.series], this.container);
  }
}
