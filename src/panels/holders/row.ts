/**
 * One holder row of the table: its DOM (built with `textContent` only, since
 * names, types and paths come from user objects) and its height, which is
 * known from the data so that the table can virtualize without measuring.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { formatBytes, formatCount, Units } from '../../format';
import type { IHolder } from '../../protocol';
import { el } from '../shared/dom';
import {
  cellText,
  compositionText,
  holderNames,
  placementText,
  rootsText,
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
}

/** CSS classes of a row and its parts. */
export namespace RowClasses {
  export const row = 'jp-MemoryDoctor-holderRow';
  export const cell = 'jp-MemoryDoctor-holderCellBox';
  export const names = 'jp-MemoryDoctor-holderNames';
  export const expand = 'jp-MemoryDoctor-holderExpand';
  export const type = 'jp-MemoryDoctor-holderType';
  export const retained = 'jp-MemoryDoctor-holderRetained';
  export const objects = 'jp-MemoryDoctor-holderObjects';
  export const cellLink = 'jp-MemoryDoctor-holderCell';
  export const trap = 'jp-MemoryDoctor-holderTrap';
  export const details = 'jp-MemoryDoctor-holderDetails';
  export const line = 'jp-MemoryDoctor-holderLine';
  export const path = 'jp-MemoryDoctor-holderPath';
  export const copy = 'jp-MemoryDoctor-holderCopy';
  export const shared = 'jp-mod-shared';
  export const expanded = 'jp-mod-expanded';
}

/** The number of detail lines of a holder. */
function detailLines(holder: IHolder): number {
  const composition = Math.min(
    holder.composition.length,
    RowMetrics.MAX_COMPOSITION
  );
  return (
    2 + // why-alive path, roots
    (holder.device || holder.file_backed ? 1 : 0) +
    (composition > 0 ? 1 + composition : 0)
  );
}

/** The height of a holder's details. */
export function detailsHeight(holder: IHolder): number {
  return RowMetrics.DETAILS_PADDING + RowMetrics.LINE * detailLines(holder);
}

/** The height of a holder's row, expanded or not. */
export function rowHeight(holder: IHolder, expanded: boolean): number {
  return (
    RowMetrics.MAIN +
    (showsTrap(holder) ? RowMetrics.TRAP : 0) +
    (expanded ? detailsHeight(holder) : 0)
  );
}

/** Options for `createRow`. */
export interface IRowOptions {
  /** The holder. */
  holder: IHolder;
  /** Its 1-based position among the table's rows (after the header). */
  index: number;
  /** Whether the details show. */
  expanded: boolean;
  /** Byte units. */
  units: Units;
  /** Translation bundle. */
  trans: TranslationBundle;
}

/**
 * Build a row. Actions are left to the table, which listens on the body and
 * reads `data-action` from the clicked element.
 */
export function createRow(options: IRowOptions): HTMLElement {
  const { holder, expanded, units, trans } = options;
  const names = holderNames(holder);
  const row = el('div', RowClasses.row);
  row.setAttribute('role', 'row');
  row.setAttribute('aria-rowindex', String(options.index + 1));
  row.dataset.holderId = holder.id;
  row.style.height = `${rowHeight(holder, expanded)}px`;
  if (expanded) {
    row.classList.add(RowClasses.expanded);
  }

  const nameCell = Private.cell(row, RowClasses.names);
  const expand = el('button', RowClasses.expand);
  expand.type = 'button';
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
  const label = el('span', 'jp-MemoryDoctor-holderLabel', names);
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
  const cellCell = Private.cell(row, 'jp-MemoryDoctor-holderCellColumn');
  const prompt = cellText(holder);
  if (holder.cell_id && prompt) {
    const link = el('button', RowClasses.cellLink, prompt);
    link.type = 'button';
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

  const trap = trapText(holder, units, trans);
  if (trap !== null) {
    row.classList.add(RowClasses.shared);
    const trapCell = Private.cell(row, RowClasses.trap, trap);
    trapCell.title = trap;
  }

  if (expanded) {
    row.appendChild(createDetails(holder, units, trans));
  }
  return row;
}

/** The details of a holder: why-alive path, roots, composition. */
function createDetails(
  holder: IHolder,
  units: Units,
  trans: TranslationBundle
): HTMLElement {
  const details = el('div', RowClasses.details);
  details.setAttribute('role', 'cell');
  details.style.height = `${detailsHeight(holder)}px`;

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
    copy.dataset.action = 'copy';
    copy.title = trans.__('Copy the path as Python');
    pathLine.appendChild(copy);
  }
  details.appendChild(pathLine);

  const roots = rootsText(holder, trans);
  details.appendChild(Private.line(roots));
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
  /** A `role="cell"` child of `row`. */
  export function cell(
    row: HTMLElement,
    className: string,
    text?: string
  ): HTMLElement {
    const node = el('div', `${RowClasses.cell} ${className}`, text);
    node.setAttribute('role', 'cell');
    row.appendChild(node);
    return node;
  }

  /** One line of the details, with a tooltip for when it is cut off. */
  export function line(text: string): HTMLElement {
    const node = el('div', RowClasses.line, text);
    node.title = text;
    return node;
  }
}
