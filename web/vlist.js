// A virtualised list: only the rows in view (plus some overscan) exist in the DOM, so 100,000+ events
// scroll smoothly. Row heights are computed from the item (line count), not measured, so offsets are
// exact and prepending/evicting can keep the reader's position to the pixel (no jump while reading).

export class VirtualList {
  /**
   * @param {HTMLElement} scroller  the overflow:auto element
   * @param {{height:(item)=>number, render:(item, index)=>HTMLElement, onNearTop?:Function,
   *          onNearBottom?:Function, onScroll?:Function}} opts
   */
  constructor(scroller, opts) {
    this.scroller = scroller;
    this.opts = opts;
    this.items = [];
    this.offsets = new Float64Array(1);
    this.dirty = false;
    this.rendered = new Map(); // item -> element
    this.selected = null;
    this.spacer = document.createElement('div');
    this.spacer.className = 'vl-spacer';
    scroller.replaceChildren(this.spacer);
    scroller.style.overflowAnchor = 'none'; // we anchor ourselves; the browser's guess fights us
    this.frame = 0;
    this.onScrollBound = () => this.handleScroll();
    scroller.addEventListener('scroll', this.onScrollBound, { passive: true });
    this.ro = new ResizeObserver(() => this.schedule());
    this.ro.observe(scroller);
  }

  destroy() {
    this.scroller.removeEventListener('scroll', this.onScrollBound);
    this.ro.disconnect();
    cancelAnimationFrame(this.frame);
    this.rendered.clear();
    this.items = [];
  }

  get length() { return this.items.length; }

  recompute() {
    const n = this.items.length;
    if (this.offsets.length < n + 1 || this.offsets.length > 4 * (n + 64)) this.offsets = new Float64Array(Math.max(64, 2 * n + 1));
    let y = 0;
    for (let i = 0; i < n; i++) {
      this.offsets[i] = y;
      y += this.opts.height(this.items[i]);
    }
    this.offsets[n] = y;
    this.dirty = false;
    this.spacer.style.height = `${y}px`;
  }

  totalHeight() { if (this.dirty) this.recompute(); return this.offsets[this.items.length]; }

  heightOf(items) { let h = 0; for (const it of items) h += this.opts.height(it); return h; }

  setItems(items) {
    for (const el of this.rendered.values()) el.remove();
    this.rendered.clear();
    this.items = items;
    this.recompute();
    this.render();
  }

  append(items) {
    if (!items.length) return;
    for (const it of items) this.items.push(it);
    this.recompute();
    this.schedule();
  }

  /** Add items above, keeping what the reader sees exactly where it is. */
  prepend(items) {
    if (!items.length) return;
    const dh = this.heightOf(items);
    this.items = items.concat(this.items);
    this.recompute();
    this.scroller.scrollTop += dh;
    this.render();
  }

  /** Drop the n oldest (top) items, keeping the view still. Returns the dropped items. */
  evictFront(n) {
    if (n <= 0) return [];
    const gone = this.items.splice(0, n);
    const dh = this.heightOf(gone);
    for (const it of gone) { const el = this.rendered.get(it); if (el) { el.remove(); this.rendered.delete(it); } }
    if (gone.includes(this.selected)) this.selected = null;
    this.recompute();
    this.scroller.scrollTop = Math.max(0, this.scroller.scrollTop - dh);
    this.schedule();
    return gone;
  }

  evictBack(n) {
    if (n <= 0) return [];
    const gone = this.items.splice(this.items.length - n, n);
    for (const it of gone) { const el = this.rendered.get(it); if (el) { el.remove(); this.rendered.delete(it); } }
    if (gone.includes(this.selected)) this.selected = null;
    this.recompute();
    this.schedule();
    return gone;
  }

  /** Re-render one item (its height may have changed). */
  refresh(item) {
    const el = this.rendered.get(item);
    if (el) { el.remove(); this.rendered.delete(item); }
    this.recompute();
    this.render();
  }

  isAtBottom(slack = 4) {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= slack;
  }

  scrollToBottom() {
    this.totalHeight();
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.render();
  }

  indexAt(y) {
    if (this.dirty) this.recompute();
    let lo = 0;
    let hi = this.items.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid] <= y) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  scrollToIndex(i, { align = 'nearest' } = {}) {
    if (i < 0 || i >= this.items.length) return;
    if (this.dirty) this.recompute();
    const top = this.offsets[i];
    const bottom = this.offsets[i + 1];
    const s = this.scroller;
    if (align === 'center') s.scrollTop = top - (s.clientHeight - (bottom - top)) / 2;
    else if (top < s.scrollTop) s.scrollTop = top;
    else if (bottom > s.scrollTop + s.clientHeight) s.scrollTop = bottom - s.clientHeight;
    this.render();
  }

  select(item) {
    const prev = this.selected && this.rendered.get(this.selected);
    if (prev) prev.classList.remove('selected');
    this.selected = item;
    const el = item && this.rendered.get(item);
    if (el) el.classList.add('selected');
  }

  handleScroll() {
    this.schedule();
    if (this.opts.onScroll) this.opts.onScroll();
    const s = this.scroller;
    if (this.opts.onNearTop && s.scrollTop < 400) this.opts.onNearTop();
    if (this.opts.onNearBottom && s.scrollHeight - s.scrollTop - s.clientHeight < 400) this.opts.onNearBottom();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  render() {
    if (this.dirty) this.recompute();
    const n = this.items.length;
    const s = this.scroller;
    const keep = new Map();
    if (n) {
      const top = s.scrollTop;
      const i0 = Math.max(0, this.indexAt(top) - 10);
      const i1 = Math.min(n - 1, this.indexAt(top + s.clientHeight) + 10);
      for (let i = i0; i <= i1; i++) {
        const item = this.items[i];
        let el = this.rendered.get(item);
        if (!el) {
          el = this.opts.render(item, i);
          el.classList.add('vl-row');
          if (item === this.selected) el.classList.add('selected');
          s.appendChild(el);
        }
        el.style.top = `${this.offsets[i]}px`;
        el.style.height = `${this.offsets[i + 1] - this.offsets[i]}px`;
        keep.set(item, el);
        this.rendered.delete(item);
      }
    }
    for (const el of this.rendered.values()) el.remove();
    this.rendered = keep;
  }
}
