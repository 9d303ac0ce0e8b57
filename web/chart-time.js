// How uPlot charts show time: in the zone picked in the header and on the console's one 24-hour
// clock (time.js), for the axis ticks and the legend, instead of uPlot's 12-hour defaults.

import uPlot from './vendor/uplot/uPlot.esm.js';
import { axisLabel, fmt, ianaZone } from './time.js';

/** uPlot's tzDate option: the Date whose local fields are the chosen zone's wall time. */
export function tzDate(ts) {
  const z = ianaZone();
  return z ? uPlot.tzDate(new Date(ts * 1000), z) : new Date(ts * 1000);
}

/** An axis `values` function: 24-hour tick labels at the precision of the tick spacing. */
export function timeTicks(u, splits, axisIdx, space, incr) {
  return splits.map((v) => (v == null ? '' : axisLabel(v * 1000, incr * 1000)));
}

/** A series `value` for the x series: the legend shows the full time, like the table. */
export function timeValue(u, v) {
  return v == null ? '–' : fmt(v * 1000, { millis: false });
}
