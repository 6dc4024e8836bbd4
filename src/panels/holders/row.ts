/**
 * One holder row of the table: its DOM (built with `textContent` only, since
 * names, types and paths come from user objects) and its height, which is
 * known from the data so that the table can virtualize without measuring.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { formatBytes, formatCount, Units } from '../../format';
import type { IHolder, ISuggestion } from '../../protocol';
import { el } from '../shared/dom';
import type { IHolderRow } from './model';
import {
  briefText,
  cellText,
  compositionText,
  holderNames,
  placementText,
  rootLines,
  showsTrap,
  trapText
} from './text';

/** Heights in pixels; style/base.css uses the same figures. */
export namespace RowMetrics {
  /** The main line of a row. */
  export const MAIN = 28;
  /** The trap line of a shared holder. */
  export const TRAP = 20;
  /** One line of the details. */
  export const LINE = 20;
  /** Vertical padding of the details, top and bottom together. */
  export const DETAILS_PADDING = 8;
  /** Composition entries shown in the details. */
  export const MAX_COMPOSITION = 5;
  /** Names listed one per line in the details; the rest are summed up. */
  export const MAX_NAMES = 12;
}

/** CSS classes of a row and its parts. */
export namespace RowClasses {
  export const row = 'jp-MemoryDoctor-holderRow';
  export const cell = 'jp-MemoryDoctor-holderCellBox';
  export const names = 'jp-MemoryDoctor-holderNames';
  export const label = 'jp-MemoryDoctor-holderLabel';
  export const expand = 'jp-MemoryDoctor-holderExpand';
  export const type = 'jp-MemoryDoctor-holderType';
  export const retained = 'jp-MemoryDoctor-holderRetained';
  export const objects = 'jp-MemoryDoctor-holderObjects';
  export const cellColumn = 'jp-MemoryDoctor-holderCellColumn';
  export const cellLink = 'jp-MemoryDoctor-holderCell';
  export const fix = 'jp-MemoryDoctor-holderFix';
  export const fixButton = 'jp-MemoryDoctor-holderFixButton';
  export const trap = 'jp-MemoryDoctor-holderTrap';
  export const details = 'jp-MemoryDoctor-holderDetails';
  export const line = 'jp-MemoryDoctor-holderLine';
  export const path = 'jp-MemoryDoctor-holderPath';
  export const copy = 'jp-MemoryDoctor-holderCopy';
  export const shared = 'jp-mod-shared';
  export const expanded = 'jp-mod-expanded';
  export const brief = 'jp-mod-brief';
}

/** A row's own fix: the suggestion for its holder, as its button shows it. */
export interface IRowFix {
  /** The suggestion the button applies. */
  suggestion: ISuggestion;
  /** The button's word, e.g. `Delete…`. */
  label: string;
  /** Its accessible name, e.g. `Apply: Delete big, Out[3], _3`. */
  name: string;
  /** Its tooltip: what it does and frees, or why it cannot run now. */
  tip: string;
  /** Whether it cannot run now (another fix runs, the scan is stale, …). */
  disabled: boolean;
  /** The line in the details, e.g. `Suggested: Delete big (frees about 1 GB)`. */
  detail: string;
}

/** The number of name lines of a holder's details. */
function nameLines(holder: IHolder): number {
  const count = Math.max(holder.roots.length, holder.labels.length);
  if (count <= 1) {
    return 1; // `Held by: big (variable)`
  }
  // A heading, one line per name, and `and N more`.
  return (
    1 +
    Math.min(count, RowMetrics.MAX_NAMES) +
    (count > RowMetrics.MAX_NAMES ? 1 : 0)
  );
}

/** The number of detail lines of a holder. */
function detailLines(holder: IHolderRow, fix: boolean): number {
  if (holder.brief) {
    return 1 + nameLines(holder);
  }
  const composition = Math.min(
    holder.composition.length,
    RowMetrics.MAX_COMPOSITION
  );
  return (
    1 + // why-alive path
    nameLines(holder) +
    (fix ? 1 : 0) +
    (holder.device || holder.file_backed ? 1 : 0) +
    (composition > 0 ? 1 + composition : 0)
  );
}

/** The height of a holder's details (with the line of its fix, if any). */
export function detailsHeight(holder: IHolderRow, fix = false): number {
  return (
    RowMetrics.DETAILS_PADDING + RowMetrics.LINE * detailLines(holder, fix)
  );
}

/** The height of a holder's row, expanded or not. */
export function rowHeight(
  holder: IHolderRow,
  expanded: boolean,
  fix = false
): number {
  return (
    RowMetrics.MAIN +
    (showsTrap(holder) ? RowMetrics.TRAP : 0) +
    (expanded ? detailsHeight(holder, fix) : 0)
  );
}

/** Options for `createRow`. */
export interface IRowOptions {
  /** The holder. */
  holder: IHolderRow;
  /** Its 1-based position among the table's rows (after the header). */
  index: number;
  /** Whether the details show. */
  expanded: boolean;
  /** Byte units. */
  units: Units;
  /** Translation bundle. */
  trans: TranslationBundle;
  /** Its fix, or null; the column is there either way. */
  fix?: IRowFix | null;
  /**
   * Whether the row is the table's keyboard stop (`tabindex="0"`, its
   * buttons reachable with Tab); every other row is reached with the arrows.
   */
  focusable?: boolean;
  /** How many holders the scan sent with details (for a brief row's note). */
  detailed?: number;
}

/**
 * Build a row. Actions are left to the table, which listens on the body and
 * reads `data-action` from the clicked element.
 */
export function createRow(options: IRowOptions): HTMLElement {
  const { holder, expanded, units, trans } = options;
  const fix = options.fix ?? null;
  const names = holderNames(holder);
  const row = el('div', RowClasses.row);
  row.setAttribute('role', 'row');
  row.setAttribute('aria-rowindex', String(options.index + 1));
  row.setAttribute('aria-expanded', String(expanded));
  row.tabIndex = options.focusable ? 0 : -1;
  row.dataset.holderId = holder.id;
  row.style.height = `${rowHeight(holder, expanded, fix !== null)}px`;
  row.classList.toggle(RowClasses.expanded, expanded);
  row.classList.toggle(RowClasses.brief, holder.brief === true);
  const stop = options.focusable ? 0 : -1;

  const nameCell = Private.cell(row, RowClasses.names);
  const expand = el('button', RowClasses.expand);
  expand.type = 'button';
  expand.tabIndex = -1; // Enter on the row does the same
  expand.dataset.action = 'expand';
  expand.setAttribute('aria-expanded', String(expanded));
  expand.setAttribute(
    'aria-label',
    expanded
      ? trans.__('Hide details of %1', names)
      : trans.__('Show details of %1', names)
  );
  expand.title = expand.getAttribute('aria-label')!;
  nameCell.appendChild(expand);
  const label = el('span', RowClasses.label, names);
  label.title = names;
  nameCell.appendChild(label);

  const typeCell = Private.cell(row, RowClasses.type, holder.type);
  typeCell.title = holder.type;
  const retained = Private.cell(
    row,
    RowClasses.retained,
    formatBytes(holder.retained_bytes, units)
  );
  retained.title = trans.__('%1 bytes', formatCount(holder.retained_bytes));
  Private.cell(row, RowClasses.objects, formatCount(holder.objects));
  const cellCell = Private.cell(row, RowClasses.cellColumn);
  const prompt = cellText(holder);
  if (holder.cell_id && prompt) {
    const link = el('button', RowClasses.cellLink, prompt);
    link.type = 'button';
    link.tabIndex = stop;
    link.dataset.action = 'reveal';
    link.setAttribute(
      'aria-label',
      trans.__('Go to the cell that created %1', names)
    );
    link.title = link.getAttribute('aria-label')!;
    cellCell.appendChild(link);
  } else {
    cellCell.textContent = prompt;
  }
  const fixCell = Private.cell(row, RowClasses.fix);
  if (fix) {
    const button = el('button', RowClasses.fixButton, fix.label);
    button.type = 'button';
    button.tabIndex = stop;
    button.dataset.action = 'fix';
    button.dataset.suggestionId = fix.suggestion.id;
    button.setAttribute('aria-label', fix.name);
    button.title = fix.tip;
    button.disabled = fix.disabled;
    fixCell.appendChild(button);
  }

  const trap = trapText(holder, units, trans);
  if (trap !== null) {
    row.classList.add(RowClasses.shared);
    const trapCell = Private.cell(row, RowClasses.trap, trap);
    trapCell.title = trap;
  }

  if (expanded) {
    row.appendChild(createDetails(options, fix, stop));
  }
  return row;
}

/** The details of a holder: why-alive path, names, its fix, composition. */
function createDetails(
  options: IRowOptions,
  fix: IRowFix | null,
  stop: number
): HTMLElement {
  const { holder, units, trans } = options;
  const details = el('div', RowClasses.details);
  details.setAttribute('role', 'gridcell');
  details.style.height = `${detailsHeight(holder, fix !== null)}px`;

  if (holder.brief) {
    details.appendChild(Private.line(briefText(options.detailed ?? 0, trans)));
    for (const line of rootLines(holder, RowMetrics.MAX_NAMES, trans)) {
      details.appendChild(Private.line(line.text, line.title));
    }
    return details;
  }

  const pathLine = el('div', RowClasses.line);
  pathLine.appendChild(
    el('span', 'jp-MemoryDoctor-holderKey', trans.__('Why alive:'))
  );
  const path = el(
    'code',
    RowClasses.path,
    holder.path || trans.__('(no path)')
  );
  path.title = holder.path;
  pathLine.appendChild(path);
  if (holder.path) {
    const copy = el('button', RowClasses.copy, trans.__('Copy'));
    copy.type = 'button';
    copy.tabIndex = stop;
    copy.dataset.action = 'copy';
    copy.title = trans.__('Copy the path as Python');
    pathLine.appendChild(copy);
  }
  details.appendChild(pathLine);

  rootLines(holder, RowMetrics.MAX_NAMES, trans).forEach((line, index) => {
    const node = Private.line(line.text, line.title);
    if (index > 0) {
      node.classList.add('jp-MemoryDoctor-holderPart');
    }
    details.appendChild(node);
  });
  if (fix) {
    details.appendChild(Private.line(fix.detail, fix.suggestion.reason));
  }
  const placement = placementText(holder, trans);
  if (placement !== null) {
    details.appendChild(Private.line(placement));
  }
  const parts = holder.composition.slice(0, RowMetrics.MAX_COMPOSITION);
  if (parts.length > 0) {
    details.appendChild(Private.line(trans.__('Made of:')));
    for (const part of parts) {
      const line = Private.line(compositionText(part, units, trans));
      line.classList.add('jp-MemoryDoctor-holderPart');
      details.appendChild(line);
    }
  }
  return details;
}

namespace Private {
  /** A `role="gridcell"` child of `row`. */
  export function cell(
    row: HTMLElement,
    className: string,
    text?: string
  ): HTMLElement {
    const node = el('div', `${RowClasses.cell} ${className}`, text);
    node.setAttribute('role', 'gridcell');
    row.appendChild(node);
    return node;
  }

  /** One line of the details, with a tooltip for when it is cut off. */
  export function line(text: string, title?: string): HTMLElement {
    const node = el('div', RowClasses.line, text);
    node.title = title ?? text;
    return node;
  }
}
