// One time axis for a trace waterfall (like Jaeger's or X-Ray's): every bar of every depth is placed
// on the same scale, t0 at the left edge, so a child that starts 10 ms after its parent is drawn
// 10 ms to the right whatever its depth, and a bar's length is its duration.

import { h } from './dom.js';

/** A round tick step (1, 2 or 5 × 10^k ms) giving about `n` ticks over `span` ms. */
export function tickStep(span, n = 8) {
  const raw = Math.max(span / n, 0.001);
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

function label(ms, step) {
  if (step >= 1000) return `${+(ms / 1000).toFixed(step >= 10000 ? 0 : 1)} s`;
  return `${+ms.toFixed(step >= 1 ? 0 : 2)} ms`;
}

/** The scale: `pos(t)` and `len(ms)` in % of the track, the ticks, and an axis row to put above. */
export function timeScale(t0, span) {
  const step = tickStep(span);
  const pos = (t) => ((t - t0) / span) * 100;
  const len = (ms) => (ms / span) * 100;
  const ticks = [];
  for (let v = 0; v <= span + 1e-9; v += step) ticks.push(v);
  const axis = h('div', { class: 'wf-axis', 'aria-hidden': 'true' },
    ...ticks.map((v) => h('span', { class: `wf-tick${len(v) > 88 ? ' wf-tick-end' : ''}`, style: { left: `${len(v)}%` }, dataset: { ms: String(v) } }, `+${label(v, step)}`)));
  // the tick lines through every track: a gradient repeating at the step, so rows need no extra nodes
  const grid = `repeating-linear-gradient(to right, var(--border) 0 1px, transparent 1px ${len(step)}%)`;
  return { pos, len, axis, grid, step };
}
