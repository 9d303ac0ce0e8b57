// The console shell: routes a URL to a view, owns the header (theme, time zone, help) and the
// keyboard shortcuts. Views live in views/*.js; each returns {destroy, onKey?}.

import * as router from './router.js';
import { localZone, setTz, tz, zones } from './time.js';
import { errorBox, fmtBytes } from './dom.js';
import { groupsView } from './views/groups.js';
import { streamsView } from './views/streams.js';
import { eventsView } from './views/events.js';
import { invocationsView } from './views/invocations.js';
import { traceView } from './views/trace.js';
import { queryView } from './views/query.js';
import { metricsView } from './views/metrics.js';

const ROUTES = {
  '/': groupsView,
  '/groups': groupsView,
  '/streams': streamsView,
  '/events': (root, params) => eventsView(root, params, 'events'),
  '/search': (root, params) => eventsView(root, params, 'search'),
  '/event': (root, params) => eventsView(root, params, 'context'),
  '/invocations': invocationsView,
  '/trace': traceView,
  '/query': queryView,
  '/metrics': metricsView,
};

const root = document.getElementById('view');
let view = null;

function show({ path, params }) {
  if (view && view.destroy) view.destroy();
  view = null;
  root.replaceChildren();
  const make = ROUTES[path];
  document.querySelectorAll('[data-nav]').forEach((a) => {
    const nav = a.dataset.nav;
    a.classList.toggle('active', (nav === 'groups' && ['/', '/groups', '/streams', '/events', '/event'].includes(path))
      || (nav === 'search' && path === '/search') || (nav === 'query' && path === '/query') || (nav === 'metrics' && path === '/metrics') || (nav === 'invocations' && ['/invocations', '/trace'].includes(path)));
  });
  if (!make) {
    root.append(errorBox({ message: `There is no page at #${path}.`, hint: 'Start from the list of log groups.' }, 'Page not found'));
    return;
  }
  try {
    view = make(root, params) || null;
  } catch (e) {
    console.error(e);
    root.append(errorBox(e, 'This view failed to load'));
  }
}

// ---- theme: follow the system unless the user picks one (kept in localStorage) -------------------
const THEMES = ['auto', 'light', 'dark'];
const themeSelect = document.getElementById('theme-select');
function applyTheme(t) {
  if (t === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  themeSelect.value = t;
}
function currentTheme() { return THEMES.includes(localStorage.getItem('logsvc.theme')) ? localStorage.getItem('logsvc.theme') : 'auto'; }
themeSelect.addEventListener('change', () => {
  localStorage.setItem('logsvc.theme', themeSelect.value);
  applyTheme(themeSelect.value);
  show(router.current()); // charts pick their colours up from CSS variables
});
applyTheme(currentTheme());
window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { if (currentTheme() === 'auto') show(router.current()); });

// ---- time zone: local, UTC or any IANA zone (kept in localStorage like the theme) ------------------
const tzSelect = document.getElementById('tz-select');
function fillTz() {
  const opts = [['local', `Local (${localZone()})`], ['UTC', 'UTC']];
  for (const z of zones()) if (z !== 'UTC') opts.push([z, z]);
  tzSelect.replaceChildren(...opts.map(([v, label]) => {
    const o = document.createElement('option');
    o.value = v;
    o.textContent = label;
    return o;
  }));
}
function paintTz() {
  const z = tz();
  if (![...tzSelect.options].some((o) => o.value === z)) tzSelect.append(new Option(z, z));
  tzSelect.value = z;
}
function chooseTz(z) {
  setTz(z);
  paintTz();
  show(router.current());
}
tzSelect.addEventListener('change', () => chooseTz(tzSelect.value));
fillTz();
paintTz();

// ---- help and keyboard ----------------------------------------------------------------------------
const help = document.getElementById('help-dialog');
document.getElementById('help-button').addEventListener('click', () => help.showModal());

function typing(el) {
  return el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}

document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (document.querySelector('dialog[open]')) return;
  if (typing(ev.target)) {
    if (ev.key === 'Escape') ev.target.blur();
    return;
  }
  if (view && view.onKey && view.onKey(ev.key, ev)) { ev.preventDefault(); return; }
  if (ev.key === '?') { help.showModal(); ev.preventDefault(); }
  else if (ev.key === '/') {
    const input = root.querySelector('[data-primary-input]');
    if (input) { input.focus(); input.select(); ev.preventDefault(); }
  } else if (ev.key === 't') chooseTz(tz() === 'UTC' ? 'local' : 'UTC');
  else if (ev.key === 'g') router.go('/', {});
});

// ---- forwarders: each `logsvc forward` over this data directory reports through /healthz ----------
const fwdState = document.getElementById('forward-state');
async function paintForward() {
  if (document.hidden) return;
  let all = [];
  try {
    const r = await fetch('/healthz', { cache: 'no-store' });
    if (r.ok) all = (await r.json()).forward || [];
  } catch (e) { return; } // the server is away: keep what is shown
  const running = all.filter((f) => f.running);
  fwdState.hidden = running.length === 0;
  if (!running.length) return;
  const sum = (key) => running.reduce((n, f) => n + (f[key] || 0), 0);
  const rejected = (f) => Object.values(f.rejected || {}).reduce((a, b) => a + b, 0);
  const lag = sum('lagBytes');
  const failing = running.some((f) => f.failing);
  fwdState.dataset.state = failing ? 'failing' : lag ? 'behind' : 'caught-up';
  fwdState.textContent = `Forwarded ${sum('eventsForwarded').toLocaleString('en')}`
    + (failing ? ' · retrying' : lag ? ` · ${fmtBytes(lag)} behind` : ' · caught up');
  fwdState.title = running.map((f) => `${f.destination || 'a destination'}: ${f.eventsForwarded} events sent, `
    + `${rejected(f)} rejected, ${f.lagBytes} bytes behind in ${f.streamsBehind} streams`
    + (f.lastError ? `; last error: ${f.lastError}` : '')).join('\n');
}
paintForward();
setInterval(paintForward, 5000);

// A read-only window for the browser tests and benchmarks (tests/test_browser.py, bench/).
window.__logsvc = {
  state: () => (view && view.debug ? view.debug() : null),
  messages: () => (view && view.messages ? view.messages() : []),
};

router.start(show);
