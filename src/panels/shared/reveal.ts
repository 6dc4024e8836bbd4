/**
 * Scroll to the cell that created a holder and make it stand out for a
 * moment.
 */

import type { Cell } from '@jupyterlab/cells';
import type { Notebook } from '@jupyterlab/notebook';

/** The class added to a revealed cell while it is highlighted. */
export const HIGHLIGHT_CLASS = 'jp-MemoryDoctor-highlight';

/** How long a revealed cell stays highlighted. */
export const HIGHLIGHT_MS = 2000;

/**
 * Find the cell with model id `cellId`, make it the active cell, scroll it
 * into the middle of the notebook and highlight it for `HIGHLIGHT_MS`.
 * Resolves to false when the notebook has no such cell (e.g. it was deleted).
 */
export async function revealCell(
  notebook: Notebook,
  cellId: string
): Promise<boolean> {
  const index = notebook.widgets.findIndex(cell => cell.model.id === cellId);
  if (index < 0) {
    return false;
  }
  const cell = notebook.widgets[index];
  notebook.activeCellIndex = index;
  try {
    // The windowed notebook renders the cell first if it is off-screen.
    await notebook.scrollToItem(index, 'center');
  } catch {
    // Scrolling is a courtesy; the cell is active and highlighted anyway.
  }
  highlight(cell);
  return true;
}

/** Add the highlight class to a cell, restarting it if already there. */
export function highlight(cell: Cell): void {
  const node = cell.node;
  const timers = Private.timers;
  const previous = timers.get(node);
  if (previous !== undefined) {
    clearTimeout(previous);
  }
  node.classList.remove(HIGHLIGHT_CLASS);
  // Read layout so that re-adding the class restarts the CSS animation.
  void node.offsetWidth;
  node.classList.add(HIGHLIGHT_CLASS);
  timers.set(
    node,
    setTimeout(() => {
      timers.delete(node);
      node.classList.remove(HIGHLIGHT_CLASS);
    }, HIGHLIGHT_MS)
  );
}

namespace Private {
  /** Pending un-highlight timers by cell node. */
  export const timers = new WeakMap<
    HTMLElement,
    ReturnType<typeof setTimeout>
  >();
}
