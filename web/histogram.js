// Volume histogram over the selected range (uPlot, vendored). Dragging across it selects a new range.

import uPlot from './vendor/uplot/uPlot.esm.js';
import { timeTicks, timeValue, tzDate } from './chart-time.js';

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
  }

  width() { return Math.max(200, this.container.clientWidth); }

  destroy() {
    this.ro.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }

  /** data: {buckets:[{start,count}], interval} */
  set(data) {
    const xs = data.buckets.map((b) => b.start / 1000);
    const ys = data.buckets.map((b) => b.count);
    const total = ys.reduce((a, b) => a + b, 0);
    this.container.dataset.total = String(total);
    // The x scale spans whole buckets, [first start, last start + interval): each bar is drawn from its
    // bucket's start to the right (align 1), so a scale ending at the last *start* clipped the newest
    // bucket entirely (issue #15: a blank chart when every event was in it).
    const span = xs.length ? [xs[0], xs[xs.length - 1] + data.interval / 1000] : [0, 1];
    this.span = span;
    if (this.plot) { this.plot.setData([xs, ys]); return; }
    const stroke = cssVar('--accent') || '#3b82f6';
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
      series: [{ value: timeValue }, {
        label: 'events', stroke, fill: `${stroke}99`, width: 0,
        paths: uPlot.paths.bars({ size: [0.9, 40], align: 1 }), points: { show: false },
      }],
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
    this.plot = new uPlot(opts, [xs, ys], this.container);
  }
}
