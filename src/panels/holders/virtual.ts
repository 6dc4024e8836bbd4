/**
 * The arithmetic of a virtualized list: row offsets from row heights and the
 * window of rows that intersects the viewport. Heights are known from the
 * data (no DOM measuring), so 10,000 rows cost one pass and a binary search.
 */

/**
 * Row offsets and the visible window of a list whose row heights are known.
 */
export class VirtualWindow {
  /** Set every row's height (pixels); recomputes the offsets in one pass. */
  setHeights(heights: ArrayLike<number>): void {
    const offsets = new Float64Array(heights.length + 1);
    for (let i = 0; i < heights.length; i++) {
      offsets[i + 1] = offsets[i] + Math.max(0, heights[i]);
    }
    this._offsets = offsets;
  }

  /** The number of rows. */
  get count(): number {
    return this._offsets.length - 1;
  }

  /** The height of all rows together. */
  get totalHeight(): number {
    return this._offsets[this._offsets.length - 1];
  }

  /** The top of row `index`. */
  offset(index: number): number {
    return this._offsets[Math.max(0, Math.min(index, this.count))];
  }

  /** The height of row `index`. */
  height(index: number): number {
    return this.offset(index + 1) - this.offset(index);
  }

  /**
   * The rows `[start, end)` that intersect `[scrollTop, scrollTop +
   * viewport)`, widened by `overscan` rows on each side.
   */
  range(
    scrollTop: number,
    viewport: number,
    overscan = 0
  ): { start: number; end: number } {
    const count = this.count;
    if (count === 0) {
      return { start: 0, end: 0 };
    }
    const top = Math.max(0, scrollTop);
    const first = this.indexAt(top);
    const last = this.indexAt(top + Math.max(0, viewport - 1));
    return {
      start: Math.max(0, first - overscan),
      end: Math.min(count, last + 1 + overscan)
    };
  }

  /** The row at vertical position `y` (clamped to the list). */
  indexAt(y: number): number {
    const offsets = this._offsets;
    let low = 0;
    let high = this.count - 1;
    if (high < 0) {
      return 0;
    }
    // The last row whose top is at or above y.
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (offsets[mid] <= y) {
        low = mid;
      } else {
        high = mid - 1;
      }
    }
    return low;
  }

  private _offsets = new Float64Array(1);
}
