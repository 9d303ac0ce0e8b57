// The console shell: routes a URL to a view, owns the header (theme, time zone, help) and the
// keyboard shortcuts. Views live in views/*.js; each returns {destroy, onKey?}.

import * as router from './router.js';
import { setTz, tz } from './time.js';
import { errorBox } from './dom.js';
import { groupsView } from './views/groups.js';
import { streamsView } from './views/streams.js';
import { eventsView } from './views/events.js';
import { invocationsView, traceView } from './views/invocations.js';
import { queryView } from './views/query.js';

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
      || (nav === 'search' && path === '/search') || (nav === 'query' && path === '/query') || (nav === 'invocations' && ['/invocations', '/trace'].includes(path)));
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
function applyTheme(t) {
  if (t === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  document.getElementById('theme-toggle').textContent = { auto: 'Auto', light: 'Light', dark: 'Dark' }[t];
}
function currentTheme() { return THEMES.includes(localStorage.getItem('logsvc.theme')) ? localStorage.getItem('logsvc.theme') : 'auto'; }
document.getElementById('theme-toggle').addEventListener('click', () => {
  const t = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
  localStorage.setItem('logsvc.theme', t);
  applyTheme(t);
  show(router.current()); // charts pick their colours up from CSS variables
});
applyTheme(currentTheme());
window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { if (currentTheme() === 'auto') show(router.current()); });

// ---- time zone -------------------------------------------------------------------------------------
function paintTz() {
  const b = document.getElementById('tz-toggle');
  b.textContent = tz() === 'utc' ? 'UTC' : 'Local';
  b.setAttribute('aria-pressed', String(tz() === 'utc'));
}
function toggleTz() {
  setTz(tz() === 'utc' ? 'local' : 'utc');
  paintTz();
  show(router.current());
}
document.getElementById('tz-toggle').addEventListener('click', toggleTz);
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
  } else if (ev.key === 't') toggleTz();
  else if (ev.key === 'g') router.go('/', {});
});

// A read-only window for the browser tests and benchmarks (tests/test_browser.py, bench/).
window.__logsvc = {
  state: () => (view && view.debug ? view.debug() : null),
  messages: () => (view && view.messages ? view.messages() : []),
};

router.start(show);
