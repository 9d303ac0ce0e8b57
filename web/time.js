// Time formatting and ranges. One zone (the browser's, UTC or any IANA zone, picked in the header and
// kept in localStorage) and one clock (24-hour, ISO-like `2024-05-01 13:00:01.123`) apply to every
// timestamp, the range picker's inputs and the charts' axes (chart-time.js): peers mixing zones or
// 12- and 24-hour clocks between the table, the charts and the pickers is a common complaint.

const TZ_KEY = 'logsvc.tz';
export const RELATIVE = [
  ['5m', 'Last 5 minutes'], ['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['6h', 'Last 6 hours'],
  ['1d', 'Last day'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'],
];
const UNIT = { s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000 };

function validZone(z) {
  try { new Intl.DateTimeFormat('en-US', { timeZone: z }); return true; } catch { return false; }
}

/** The chosen zone: 'local' (the browser's), 'UTC' or an IANA name such as 'Asia/Tokyo'. */
export function tz() {
  const v = localStorage.getItem(TZ_KEY);
  if (!v || v === 'local') return 'local';
  if (v === 'utc' || v === 'UTC') return 'UTC';
  return validZone(v) ? v : 'local';
}
export function setTz(v) { localStorage.setItem(TZ_KEY, v === 'local' || v === 'UTC' || validZone(v) ? v : 'local'); }
export const isUtc = () => tz() === 'UTC';
/** The browser's own IANA zone (what 'local' means). */
export const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'local';
/** Every IANA zone the browser knows, for the picker. */
export function zones() {
  try { return Intl.supportedValuesOf('timeZone'); } catch { return []; }
}
/** The IANA zone charts should draw in, or null for the browser's own. */
export function ianaZone() {
  const z = tz();
  return z === 'local' ? null : (z === 'UTC' ? 'Etc/UTC' : z);
}

export function relMs(rel) {
  const m = /^(\d+)([smhdw])$/.exec(rel || '');
  return m ? Number(m[1]) * UNIT[m[2]] : null;
}

/** The range a view asks for: {start, end, rel, live, label}. No range = newest events, live. */
export function rangeOf(params) {
  const rel = params.get('range');
  const start = params.get('start');
  const end = params.get('end');
  if (start || end) {
    const s = start ? Number(start) : null;
    const e = end ? Number(end) : null;
    return { start: s, end: e, rel: null, live: !e, label: `${s ? fmt(s) : '…'} → ${e ? fmt(e) : 'now'}` };
  }
  const ms = relMs(rel);
  if (ms) {
    const now = Date.now();
    const label = (RELATIVE.find((r) => r[0] === rel) || [rel, `Last ${rel}`])[1];
    return { start: now - ms, end: null, rel, live: true, label };
  }
  return { start: null, end: null, rel: null, live: true, label: 'Newest events' };
}

const zoneFormats = new Map();
function zoneParts(ms, zone) {
  let f = zoneFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    zoneFormats.set(zone, f);
  }
  const o = {};
  for (const x of f.formatToParts(new Date(ms))) o[x.type] = x.value;
  return { y: Number(o.year), mo: Number(o.month), d: Number(o.day), h: Number(o.hour) % 24, mi: Number(o.minute), s: Number(o.second) };
}

/** Calendar fields of `ms` in the chosen zone. */
export function parts(ms) {
  const z = tz();
  const d = new Date(ms);
  const msPart = ((ms % 1000) + 1000) % 1000;
  if (z === 'local') {
    return { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(), mi: d.getMinutes(), s: d.getSeconds(), ms: msPart };
  }
  if (z === 'UTC') {
    return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds(), ms: msPart };
  }
  return { ...zoneParts(ms, z), ms: msPart };
}

/** The chosen zone's offset from UTC at `ms`, in minutes. */
function offsetMinutes(ms) {
  const p = parts(ms);
  return Math.round((Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - (ms - p.ms)) / 60000);
}
const p2 = (n) => String(n).padStart(2, '0');

/** `2024-05-01 12:00:01.123` in the chosen zone. */
export function fmt(ms, { millis = true } = {}) {
  if (ms == null || Number.isNaN(ms)) return '–';
  const p = parts(ms);
  return `${p.y}-${p2(p.mo)}-${p2(p.d)} ${p2(p.h)}:${p2(p.mi)}:${p2(p.s)}${millis ? `.${String(p.ms).padStart(3, '0')}` : ''}`;
}

/** The zone suffix shown beside timestamps: `UTC` or `UTC+02:00`. */
export function zoneLabel(ms = Date.now()) {
  if (isUtc()) return 'UTC';
  const off = offsetMinutes(ms);
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `UTC${sign}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}

/** The chosen zone's name for people: `UTC`, `Asia/Tokyo`, or the browser's zone marked local. */
export function zoneName() {
  const z = tz();
  return z === 'local' ? `${localZone()} (local)` : z;
}

export function fmtZ(ms) { return `${fmt(ms)} ${zoneLabel(ms)}`; }

export function both(ms) {
  if (ms == null) return '';
  const iso = new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
  return isUtc() ? `${iso} UTC` : `${iso} UTC\n${fmt(ms)} ${zoneLabel(ms)} (${zoneName()})`;
}

/** A tick label for a time axis whose ticks are `incr` ms apart: 24-hour, in the chosen zone. */
export function axisLabel(ms, incr) {
  const p = parts(ms);
  if (incr >= 28 * 86400000) return `${p.y}-${p2(p.mo)}`;
  if (incr >= 86400000) return `${p2(p.mo)}-${p2(p.d)}`;
  const hm = `${p2(p.h)}:${p2(p.mi)}`;
  if (incr >= 60000) return p.h === 0 && p.mi === 0 ? `${p2(p.mo)}-${p2(p.d)}` : hm;
  if (incr >= 1000) return `${hm}:${p2(p.s)}`;
  return `${hm}:${p2(p.s)}.${String(p.ms).padStart(3, '0')}`;
}

export function ago(ms) {
  if (!ms) return 'never';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** Text for a range input in the chosen zone: `2024-05-01 13:00:00` (24-hour, like the table). */
export function toInput(ms) {
  if (ms == null) return '';
  return fmt(ms, { millis: false });
}

/** Parse `YYYY-MM-DD HH:MM[:SS]` (a `T` works too) in the chosen zone; null if empty or invalid. */
export function fromInput(v) {
  const m = /^\s*(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?\s*$/.exec(v || '');
  if (!m) return null;
  const a = m.slice(1).map((x) => Number(x || 0));
  if (a[1] < 1 || a[1] > 12 || a[2] < 1 || a[2] > 31 || a[3] > 23 || a[4] > 59 || a[5] > 59) return null;
  const z = tz();
  if (z === 'local') return new Date(a[0], a[1] - 1, a[2], a[3], a[4], a[5]).getTime();
  const wall = Date.UTC(a[0], a[1] - 1, a[2], a[3], a[4], a[5]);
  if (z === 'UTC') return wall;
  let t = wall - offsetMinutes(wall) * 60000; // then once more: the offset at the answer may differ (DST)
  t = wall - offsetMinutes(t) * 60000;
  return t;
}

export function fmtDuration(ms) {
  if (ms == null) return '–';
  if (ms < 1000) return `${Math.round(ms * 100) / 100} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}
