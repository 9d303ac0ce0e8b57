// Keeps a listing current without a reload (groups, streams): calls `load` again every `every` ms
// while the tab is visible, at most one call in flight, and once more when the tab comes back.
// Polling a bounded listing endpoint is enough here: lists change rarely, and the events view has
// the SSE tail for what changes often.

export function keepFresh(load, { every = 3000, signal }) {
  let timer = 0;
  let busy = false;
  async function tick() {
    clearTimeout(timer);
    if (signal.aborted) return;
    if (!document.hidden && !busy) {
      busy = true;
      try { await load(); } catch (e) { if (e.name !== 'AbortError') console.warn('refresh failed', e); } finally { busy = false; }
    }
    if (!signal.aborted) timer = setTimeout(tick, every);
  }
  const onVisible = () => { if (!document.hidden) tick(); };
  document.addEventListener('visibilitychange', onVisible);
  signal.addEventListener('abort', () => { clearTimeout(timer); document.removeEventListener('visibilitychange', onVisible); });
  timer = setTimeout(tick, every);
}

/** A cheap signature of a listing, to repaint only when something shown changed. */
export function signature(rows, keys) {
  return JSON.stringify(rows.map((r) => keys.map((k) => r[k])));
}

/** Run `paint` (which rebuilds `container`) keeping the keyboard-selected row and the focused
 * control, found again by their link target and label. */
export function repaintKeeping(container, paint) {
  const kept = container.querySelector('.krow.kselected a.primary-link');
  const href = kept ? kept.getAttribute('href') : null;
  const focused = container.contains(document.activeElement) ? document.activeElement.getAttribute('aria-label') : null;
  paint();
  if (href) {
    const a = [...container.querySelectorAll('.krow a.primary-link')].find((x) => x.getAttribute('href') === href);
    if (a) a.closest('.krow').classList.add('kselected');
  }
  if (focused) {
    const el = [...container.querySelectorAll('[aria-label]')].find((x) => x.getAttribute('aria-label') === focused);
    if (el) el.focus({ preventScroll: true });
  }
}
