// The console's only way to the server: the public REST API under /api/v1 (the same one the CLI uses).
// Auth: on 401 the user is asked for the token once; it is kept in sessionStorage for this tab only.

import { toParams } from './router.js';

const TOKEN_KEY = 'logsvc.token';
const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const e = (body && body.error) || {};
    super(e.message || fallback || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || (status ? `HTTP${status}` : 'NetworkError');
    this.field = e.field || null;
    this.rule = e.rule || null;
    this.hint = e.hint || null;
    this.position = Number.isInteger(e.position) ? e.position : columnFrom(e.message);
    this.end = Number.isInteger(e.end) ? e.end : null;
  }
}

function columnFrom(msg) {
  const m = /\bcolumn (\d+)/.exec(msg || '');
  return m ? Number(m[1]) : null;
}

export const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

export function url(path, params) {
  const q = (params instanceof URLSearchParams ? params : toParams(params || {})).toString();
  return `${BASE}${path}${q ? `?${q}` : ''}`;
}

/** A URL that carries the token as a query parameter, for EventSource and download links. */
export function authUrl(path, params) {
  const p = params instanceof URLSearchParams ? new URLSearchParams(params) : toParams(params || {});
  if (token()) p.set('token', token());
  return url(path, p);
}

let tokenPrompt = null;
function askToken(message) {
  if (tokenPrompt) return tokenPrompt;
  tokenPrompt = new Promise((resolve) => {
    const dlg = document.getElementById('token-dialog');
    const input = dlg.querySelector('input');
    const msg = dlg.querySelector('.token-msg');
    msg.textContent = message;
    input.value = '';
    dlg.showModal();
    input.focus();
    dlg.querySelector('form').onsubmit = (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      dlg.close();
      tokenPrompt = null;
      resolve();
    };
  });
  return tokenPrompt;
}

export function get(path, params, { signal } = {}) {
  return request('GET', path, { params, signal });
}

export function post(path, body, { signal } = {}) {
  return request('POST', path, { body, signal });
}

export function del(path, { signal } = {}) {
  return request('DELETE', path, { signal });
}

/** One call to the REST API: JSON in, JSON out, an ApiError for anything but 2xx. */
export async function request(method, path, { params, body, signal } = {}) {
  const target = url(path, params);
  let asked = false;
  for (;;) {
    const sent = token();
    const headers = { Accept: 'application/json' };
    if (sent) headers.Authorization = `Bearer ${sent}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(target, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, null, 'logsvc is not reachable from this page.');
    }
    if (resp.status === 401) {
      // A token entered while this request was on its way (another request's prompt) is tried
      // before the user is asked again, and is not called "not accepted" before it was tried.
      if (token() !== sent) continue;
      await askToken(asked || token()
        ? 'That token was not accepted. Enter the token logsvc was started with (LOGSVC_TOKEN).'
        : 'This logsvc server needs an API token. Enter the token it was started with (LOGSVC_TOKEN).');
      asked = true;
      continue;
    }
    let data = null;
    try { data = await resp.json(); } catch { /* not JSON */ }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }
}

/**
 * Live tail over SSE. EventSource reconnects by itself and sends Last-Event-ID, so the server resumes
 * with no gap and no duplicate. onState receives 'connecting' | 'live' | 'reconnecting' | 'error'.
 */
export function tail(params, { onEvents, onState, onError }) {
  const target = authUrl('/tail', params);
  const es = new EventSource(target);
  let closed = false;
  onState('connecting');
  es.addEventListener('open', () => onState('live'));
  es.addEventListener('events', (msg) => {
    let batch;
    try { batch = JSON.parse(msg.data).events || []; } catch { return; }
    if (batch.length) onEvents(batch);
  });
  es.addEventListener('error', async () => {
    if (closed) return;
    if (es.readyState === EventSource.CLOSED) {
      // EventSource gives up on a non-200 answer without saying why: ask once with fetch.
      onState('error');
      const ctl = new AbortController();
      try {
        const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
        const resp = await fetch(url('/tail', params), { headers, signal: ctl.signal });
        if (!resp.ok) {
          let body = null;
          try { body = await resp.json(); } catch { /* ignore */ }
          onError(new ApiError(resp.status, body));
        } else {
          ctl.abort();
          onError(new ApiError(0, null, 'The live tail was interrupted.'));
        }
      } catch (e) {
        if (e.name !== 'AbortError') onError(new ApiError(0, null, 'logsvc is not reachable: the live tail stopped.'));
      }
    } else {
      onState('reconnecting');
    }
  });
  return { close() { closed = true; es.close(); } };
}
