// Time formatting and ranges. One switch (UTC or local) applies to every timestamp, the range picker
// and the histogram axis (peers mixing zones between display and pickers is a common complaint).

const TZ_KEY = 'logsvc.tz';
export const RELATIVE = [
  ['5m', 'Last 5 minutes'], ['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['6h', 'Last 6 hours'],
  ['1d', 'Last day'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'],
];
const UNIT = { s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000 };

export function tz() { return localStorage.getItem(TZ_KEY) === 'utc' ? 'utc' : 'local'; }
export function setTz(v) { localStorage.setItem(TZ_KEY, v); }
export const isUtc = () => tz() === 'utc';

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

function parts(ms) {
  const d = new Date(ms);
  const u = isUtc();
  return {
    y: u ? d.getUTCFullYear() : d.getFullYear(), mo: (u ? d.getUTCMonth() : d.getMonth()) + 1,
    d: u ? d.getUTCDate() : d.getDate(), h: u ? d.getUTCHours() : d.getHours(),
    mi: u ? d.getUTCMinutes() : d.getMinutes(), s: u ? d.getUTCSeconds() : d.getSeconds(),
    ms: d.getUTCMilliseconds(),
  };
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
  const off = -new Date(ms).getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `UTC${sign}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}

export function fmtZ(ms) { return `${fmt(ms)} ${zoneLabel(ms)}`; }

export function both(ms) {
  if (ms == null) return '';
  return `${new Date(ms).toISOString()} (UTC)\n${fmtLocal(ms)} (local)`;
}
function fmtLocal(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
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

/** Value for <input type=datetime-local> in the chosen zone. */
export function toInput(ms) {
  if (ms == null) return '';
  const p = parts(ms);
  return `${p.y}-${p2(p.mo)}-${p2(p.d)}T${p2(p.h)}:${p2(p.mi)}:${p2(p.s)}`;
}

/** Parse a datetime-local value in the chosen zone; null if empty or invalid. */
export function fromInput(v) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?/.exec(v || '');
  if (!m) return null;
  const a = m.slice(1).map((x) => Number(x || 0));
  return isUtc() ? Date.UTC(a[0], a[1] - 1, a[2], a[3], a[4], a[5])
    : new Date(a[0], a[1] - 1, a[2], a[3], a[4], a[5]).getTime();
}

export function fmtDuration(ms) {
  if (ms == null) return '–';
  if (ms < 1000) return `${Math.round(ms * 100) / 100} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}
