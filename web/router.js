// Hash routing: every view is a URL like `#/events?group=G&range=15m&q=ERROR`, so permalinks work
// with no server routes and back/forward are plain history entries.

export function current() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const i = raw.indexOf('?');
  const path = i < 0 ? raw : raw.slice(0, i);
  return { path: path || '/', params: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

export function href(path, params) {
  const p = params instanceof URLSearchParams ? params : toParams(params || {});
  const q = p.toString();
  return `#${path}${q ? `?${q}` : ''}`;
}

export function toParams(obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) {
    if (v == null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => x != null && x !== '' && p.append(k, x));
    else p.set(k, v);
  }
  return p;
}

let onChange = () => {};
export function start(handler) {
  onChange = handler;
  window.addEventListener('hashchange', () => onChange(current()));
  onChange(current());
}

/** Navigate. `replace` updates the URL without a history entry (and without re-rendering unless asked). */
export function go(path, params, { replace = false, render = true } = {}) {
  const url = href(path, params);
  if (url === location.hash) { if (render) onChange(current()); return; }
  if (replace) {
    history.replaceState(null, '', url);
    if (render) onChange(current());
  } else {
    location.hash = url; // fires hashchange -> render
  }
}
