/**
 * The holders table: a sortable header and a virtualized body that keeps
 * only the rows near the viewport in the DOM, so 10,000 holders scroll as
 * smoothly as ten. Read like Chrome DevTools' heap snapshot: the sizes are
 * right-aligned and never cut (their columns are as wide as their widest
 * figure), the names are the column that gives way, and each row has its own
 * fix. A keyboard moves between rows with the arrow keys (one tab stop for
 * the whole table) and opens a row's details with Enter.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import type { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { formatBytes, formatCount } from '../../format';
import type { IHolder } from '../../protocol';
import type { ISettingsSource } from '../../settings';
import type { HoldersChange, HoldersModel, IHolderRow, SortKey } from './model';
import { createRow, IRowFix, RowClasses, rowHeight, RowMetrics } from './row';
import { cellText } from './text';
import { VirtualWindow } from './virtual';

/** The class of the table widget. */
export const TABLE_CLASS = 'jp-MemoryDoctor-holdersTable';

/** A column of the table, in order. */
export type ColumnKey = SortKey | 'fix';

/**
 * Which columns fit a table `width` pixels wide, given the widths of the
 * figure columns: the size and the fix always show (a size is never cut),
 * and the names keep at least `NAMES_MIN`. The object count goes first, then
 * the type (both are in the row's tooltip and details), then the cell (a
 * click on the row still leads to it). A width of 0 (not laid out yet), or
 * widths not measured yet, show every column.
 */
export function fittingColumns(
  width: number,
  widths: HoldersTable.IColumnWidths
): { type: boolean; objects: boolean; cell: boolean } {
  const { retained, objects, cell, fix } = widths;
  if (
    width <= 0 ||
    typeof retained !== 'number' ||
    typeof objects !== 'number' ||
    typeof cell !== 'number' ||
    typeof fix !== 'number'
  ) {
    return { type: true, objects: true, cell: true };
  }
  const room = width - retained - fix;
  const names = HoldersTable.NAMES_MIN;
  const type = HoldersTable.TYPE_MIN;
  if (room - cell - objects - type >= names) {
    return { type: true, objects: true, cell: true };
  }
  if (room - cell - type >= names) {
    return { type: true, objects: false, cell: true };
  }
  return { type: false, objects: false, cell: room - cell >= names };
}

/**
 * The rows to move the keyboard focus to, from `index` of `count` rows, for
 * a key; null for a key the table leaves alone. `page` is how many rows a
 * page holds.
 */
export function nextRow(
  key: string,
  index: number,
  count: number,
  page: number
): number | null {
  if (count === 0) {
    return null;
  }
  const clamp = (i: number) => Math.max(0, Math.min(count - 1, i));
  switch (key) {
    case 'ArrowDown':
      return clamp(index + 1);
    case 'ArrowUp':
      return clamp(index - 1);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    case 'PageDown':
      return clamp(index + Math.max(1, page));
    case 'PageUp':
      return clamp(index - Math.max(1, page));
    default:
      return null;
  }
}

/**
 * A virtualized table of the model's rows.
 */
export class HoldersTable extends Widget {
  constructor(options: HoldersTable.IOptions) {
    super();
    this._model = options.model;
    this._settings = options.settings;
    this._trans = options.trans;
    this._onReveal = options.onReveal;
    this._onCopy = options.onCopy;
    this._fixes = options.fixes ?? null;
    this.addClass(TABLE_CLASS);
    const node = this.node;
    // A grid: the rows are interactive (arrow keys, Enter), not just read.
    node.setAttribute('role', 'grid');
    node.setAttribute('aria-label', this._trans.__('Memory holders'));

    node.appendChild(this._createHeader());
    this._scroller.className = 'jp-MemoryDoctor-holdersScroller';
    this._body.className = 'jp-MemoryDoctor-holdersBody';
    this._body.setAttribute('role', 'rowgroup');
    this._scroller.appendChild(this._body);
    node.appendChild(this._scroller);
    this._probe.className = 'jp-MemoryDoctor-holdersProbe';
    this._probe.setAttribute('aria-hidden', 'true');
    node.appendChild(this._probe);

    this._scroller.addEventListener('scroll', this);
    this._body.addEventListener('click', this);
    this._body.addEventListener('keydown', this);
    this._body.addEventListener('focusin', this);
    this._model.changed.connect(this._onModelChanged, this);
    this._settings.changed.connect(this._onSettingsChanged, this);
    this._fixes?.changed.connect(this._onFixesChanged, this);
    this._reset();
  }

  /** The rows currently in the DOM, top to bottom. */
  get renderedRows(): HTMLElement[] {
    const index = (row: HTMLElement) =>
      Number(row.getAttribute('aria-rowindex'));
    return [...this._rendered.values()].sort((a, b) => index(a) - index(b));
  }

  /** The scrolling element (its `scrollTop` moves the window). */
  get scroller(): HTMLElement {
    return this._scroller;
  }

  /** The row the keyboard is on (its index among the model's rows). */
  get activeIndex(): number {
    return this._active;
  }

  /** The columns shown now (the others do not fit the width). */
  get columns(): ColumnKey[] {
    const hidden = this._hidden;
    return Private.COLUMNS.filter(key => !hidden.has(key));
  }

  /** Handle DOM events: scrolling, clicks on rows, keys and focus. */
  handleEvent(event: Event): void {
    switch (event.type) {
      case 'scroll':
        // Browsers fire scroll at most once per frame: render right away.
        this._renderWindow();
        break;
      case 'click':
        this._onClick(event as MouseEvent);
        break;
      case 'keydown':
        this._onKeyDown(event as KeyboardEvent);
        break;
      case 'focusin':
        this._onFocusIn(event as FocusEvent);
        break;
    }
  }

  /** Render the rows near the viewport now (e.g. after a resize). */
  renderWindow(): void {
    this._renderWindow();
  }

  /**
   * Move the keyboard focus to row `index` (clamped), scrolling it into
   * view; `focus: false` only makes it the table's tab stop.
   */
  focusRow(index: number, focus = true): void {
    const count = this._rows.length;
    if (count === 0) {
      return;
    }
    const next = Math.max(0, Math.min(count - 1, index));
    this._setActive(next);
    const top = this._window.offset(next);
    const bottom = top + this._window.height(next);
    const scroller = this._scroller;
    const viewport = scroller.clientHeight;
    if (viewport > 0) {
      if (top < scroller.scrollTop) {
        scroller.scrollTop = top;
      } else if (bottom > scroller.scrollTop + viewport) {
        scroller.scrollTop = bottom - viewport;
      }
    }
    this._renderWindow();
    if (focus) {
      this._rendered.get(this._rows[next].id)?.focus();
    }
  }

  /** Measure the figure columns again and fit the columns to the width. */
  fit(): void {
    this._measure();
  }

  /** Stop listening. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._scroller.removeEventListener('scroll', this);
    this._body.removeEventListener('click', this);
    this._body.removeEventListener('keydown', this);
    this._body.removeEventListener('focusin', this);
    this._model.changed.disconnect(this._onModelChanged, this);
    this._settings.changed.disconnect(this._onSettingsChanged, this);
    this._fixes?.changed.disconnect(this._onFixesChanged, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    this._measure();
    this._renderWindow();
  }

  protected onAfterAttach(msg: Message): void {
    this._measure();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    this._measure();
    this._renderWindow();
  }

  private _createHeader(): HTMLElement {
    const group = document.createElement('div');
    group.className = 'jp-MemoryDoctor-holdersHead';
    group.setAttribute('role', 'rowgroup');
    const row = document.createElement('div');
    row.className = 'jp-MemoryDoctor-holdersHeaderRow';
    row.setAttribute('role', 'row');
    row.setAttribute('aria-rowindex', '1');
    const trans = this._trans;
    const labels: Record<ColumnKey, string> = {
      names: trans.__('Names'),
      type: trans.__('Type'),
      retained: trans.__('Retained'),
      objects: trans.__('Objects'),
      cell: trans.__('Cell'),
      fix: trans.__('Fix')
    };
    for (const key of Private.COLUMNS) {
      const label = labels[key];
      const header = document.createElement('div');
      header.className = `jp-MemoryDoctor-holdersColumn jp-mod-${key}`;
      header.setAttribute('role', 'columnheader');
      if (key === 'fix') {
        const text = document.createElement('span');
        text.className = 'jp-MemoryDoctor-holdersColumnLabel';
        text.textContent = label;
        header.title = trans.__("Each holder's own fix");
        header.appendChild(text);
      } else {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'jp-MemoryDoctor-holdersSort';
        button.dataset.sortKey = key;
        button.textContent = label;
        button.title = trans.__('Sort by %1', label);
        button.addEventListener('click', () => this._model.sortBy(key));
        header.appendChild(button);
        this._headers.set(key, header);
      }
      row.appendChild(header);
    }
    group.appendChild(row);
    return group;
  }

  private _onModelChanged(_: HoldersModel, change: HoldersChange): void {
    if (change === 'progress') {
      return;
    }
    if (change === 'state' && this._model.result !== this._shownResult) {
      // A new scan: start at the top (the old position means nothing).
      this._shownResult = this._model.result;
      this._scroller.scrollTop = 0;
      this._active = 0;
      this._activeId = null;
    }
    this._reset();
  }

  private _onSettingsChanged(): void {
    if (this._settings.current.units !== this._units) {
      this._reset();
    }
  }

  private _onFixesChanged(): void {
    this._reset();
  }

  /** Recompute heights and rebuild the visible rows from the model. */
  private _reset(): void {
    const model = this._model;
    const rows = model.rows;
    this._rows = rows;
    this._units = this._settings.current.units;
    const fixes = this._fixes;
    const fixFor = new Map<string, IRowFix>();
    if (fixes) {
      for (const holder of rows) {
        const fix = holder.brief ? null : fixes.fixFor(holder);
        if (fix) {
          fixFor.set(holder.id, fix);
        }
      }
    }
    this._fixFor = fixFor;
    this._window.setHeights(
      rows.map(holder =>
        rowHeight(holder, model.isExpanded(holder.id), fixFor.has(holder.id))
      )
    );
    this._body.style.height = `${this._window.totalHeight}px`;
    this.node.setAttribute('aria-rowcount', String(rows.length + 1));
    for (const [key, header] of this._headers) {
      header.setAttribute(
        'aria-sort',
        key === model.sortKey ? model.sortDirection : 'none'
      );
    }
    // Keep the keyboard on the same holder when it is still there.
    const kept =
      this._activeId === null
        ? -1
        : rows.findIndex(holder => holder.id === this._activeId);
    this._active = Math.max(
      0,
      Math.min(rows.length - 1, kept >= 0 ? kept : this._active)
    );
    this._activeId = rows[this._active]?.id ?? null;
    const refocus = this._body.contains(document.activeElement)
      ? this._focusedPart()
      : null;
    for (const row of this._rendered.values()) {
      row.remove();
    }
    this._rendered.clear();
    this._measure();
    this._renderWindow();
    if (refocus) {
      this._restoreFocus(refocus);
    }
  }

  /** Make the DOM hold exactly the rows near the viewport. */
  private _renderWindow(): void {
    const viewport =
      this._scroller.clientHeight || HoldersTable.FALLBACK_VIEWPORT;
    const { start, end } = this._window.range(
      this._scroller.scrollTop,
      viewport,
      HoldersTable.OVERSCAN
    );
    const wanted = new Set<string>();
    for (let i = start; i < end; i++) {
      wanted.add(this._rows[i].id);
    }
    // The focused row stays while it has the focus, wherever it scrolled.
    const keep = this._activeId;
    for (const [id, row] of this._rendered) {
      if (
        !wanted.has(id) &&
        !(id === keep && row.contains(document.activeElement))
      ) {
        row.remove();
        this._rendered.delete(id);
      }
    }
    for (let i = start; i < end; i++) {
      const holder = this._rows[i];
      if (this._rendered.has(holder.id)) {
        continue;
      }
      const row = createRow({
        holder,
        index: i + 1,
        expanded: this._model.isExpanded(holder.id),
        units: this._units,
        trans: this._trans,
        fix: this._fixFor.get(holder.id) ?? null,
        focusable: i === this._active,
        detailed: this._model.result?.holders.length ?? 0
      });
      row.style.top = `${this._window.offset(i)}px`;
      this._body.appendChild(row);
      this._rendered.set(holder.id, row);
    }
  }

  private _onClick(event: MouseEvent): void {
    const target = event.target as Element | null;
    const found = this._rowOf(target);
    if (!found) {
      return;
    }
    const { holder, index } = found;
    this._setActive(index);
    const action = target?.closest<HTMLElement>('[data-action]');
    switch (action?.dataset.action) {
      case 'expand':
        this._toggle(holder, `.${RowClasses.expand}`);
        return;
      case 'copy':
        this._onCopy(holder.path);
        action.textContent = this._trans.__('Copied');
        return;
      case 'reveal':
        this._onReveal(holder);
        return;
      case 'fix': {
        const fix = this._fixFor.get(holder.id);
        if (fix && !fix.disabled) {
          this._fixes?.apply(fix.suggestion);
        }
        return;
      }
    }
    // Clicks in the details select text; elsewhere the row leads to its cell.
    if (!target?.closest(`.${RowClasses.details}`)) {
      this._onReveal(holder);
    }
  }

  private _onKeyDown(event: KeyboardEvent): void {
    const target = event.target as HTMLElement | null;
    const found = this._rowOf(target);
    if (!found || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    const { holder, index, row } = found;
    const onRow = target === row;
    const expanded = this._model.isExpanded(holder.id);
    if (onRow && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      this._toggle(holder, null);
      return;
    }
    if (onRow && event.key === 'ArrowRight' && !expanded) {
      event.preventDefault();
      this._toggle(holder, null);
      return;
    }
    if (onRow && event.key === 'ArrowLeft' && expanded) {
      event.preventDefault();
      this._toggle(holder, null);
      return;
    }
    const viewport =
      this._scroller.clientHeight || HoldersTable.FALLBACK_VIEWPORT;
    const page = Math.max(1, Math.floor(viewport / RowMetrics.MAIN) - 1);
    const next = nextRow(event.key, index, this._rows.length, page);
    if (next !== null) {
      event.preventDefault();
      this.focusRow(next);
    }
  }

  /** A row (or a control in it) got the focus: it is the tab stop now. */
  private _onFocusIn(event: FocusEvent): void {
    const found = this._rowOf(event.target as Element | null);
    if (found && found.index !== this._active) {
      this._setActive(found.index);
    }
  }

  /** Open or close a row's details, keeping the focus where it was. */
  private _toggle(holder: IHolderRow, selector: string | null): void {
    this._model.toggleExpanded(holder.id);
    const row = this._rendered.get(holder.id);
    const target = selector ? row?.querySelector<HTMLElement>(selector) : row;
    target?.focus();
  }

  /** The row a DOM node is in, with its holder and index. */
  private _rowOf(
    target: Element | null
  ): { row: HTMLElement; holder: IHolderRow; index: number } | null {
    const row = target?.closest<HTMLElement>(`.${RowClasses.row}`);
    const id = row?.dataset.holderId;
    if (!row || id === undefined) {
      return null;
    }
    const index = this._rows.findIndex(h => h.id === id);
    return index < 0 ? null : { row, holder: this._rows[index], index };
  }

  /** Make row `index` the table's tab stop. */
  private _setActive(index: number): void {
    const before = this._activeId;
    this._active = index;
    this._activeId = this._rows[index]?.id ?? null;
    if (before === this._activeId) {
      return;
    }
    for (const [id, row] of this._rendered) {
      const stop = id === this._activeId;
      row.tabIndex = stop ? 0 : -1;
      row
        .querySelectorAll<HTMLElement>(
          `.${RowClasses.cellLink}, .${RowClasses.fixButton}, .${RowClasses.copy}`
        )
        .forEach(control => (control.tabIndex = stop ? 0 : -1));
    }
  }

  /** Which part of which row has the focus (to find it again after a rebuild). */
  private _focusedPart(): { id: string; selector: string | null } | null {
    const active = document.activeElement as HTMLElement | null;
    const found = this._rowOf(active);
    if (!found) {
      return null;
    }
    if (active === found.row) {
      return { id: found.holder.id, selector: null };
    }
    const classes = [
      RowClasses.expand,
      RowClasses.cellLink,
      RowClasses.fixButton,
      RowClasses.copy
    ];
    const cls = classes.find(c => active?.classList.contains(c));
    return { id: found.holder.id, selector: cls ? `.${cls}` : null };
  }

  private _restoreFocus(part: { id: string; selector: string | null }): void {
    const row = this._rendered.get(part.id);
    if (!row) {
      // The holder left (a fix freed it): stay in the table.
      this.focusRow(this._active);
      return;
    }
    const control = part.selector
      ? row.querySelector<HTMLElement>(part.selector)
      : null;
    (control && !(control as HTMLButtonElement).disabled
      ? control
      : row
    ).focus();
  }

  /**
   * The widths of the figure columns: as wide as the widest figure they
   * hold or their heading, whichever is wider, so that a size is never cut.
   * Then which optional columns fit the width.
   */
  private _measure(): void {
    const rows = this._rows;
    const units = this._units;
    const trans = this._trans;
    const texts = {
      retained: rows.map(h => formatBytes(h.retained_bytes, units)),
      objects: rows.map(h => formatCount(h.objects)),
      cell: rows.map(h => cellText(h)),
      fix: [...this._fixFor.values()].map(f => f.label)
    };
    const headings: Record<'retained' | 'objects' | 'cell' | 'fix', string> = {
      retained: trans.__('Retained'),
      objects: trans.__('Objects'),
      cell: trans.__('Cell'),
      fix: trans.__('Fix')
    };
    const widths: HoldersTable.IColumnWidths = {
      retained: 0,
      objects: 0,
      cell: 0,
      fix: 0
    };
    for (const key of ['retained', 'objects', 'cell', 'fix'] as const) {
      if (key === 'fix' && texts.fix.length === 0) {
        continue; // no row has a fix: no column
      }
      widths[key] = this._columnWidth(key, texts[key], headings[key]);
    }
    const fits = fittingColumns(this._scroller.clientWidth, widths);
    const hidden = new Set<ColumnKey>();
    if (!fits.type) {
      hidden.add('type');
    }
    if (!fits.objects) {
      hidden.add('objects');
    }
    if (!fits.cell) {
      hidden.add('cell');
    }
    if (widths.fix === 0) {
      hidden.add('fix');
    }
    this._hidden = hidden;
    const template: string[] = [];
    for (const key of Private.COLUMNS) {
      this.node.classList.toggle(`jp-mod-no-${key}`, hidden.has(key));
      if (hidden.has(key)) {
        continue;
      }
      switch (key) {
        case 'names':
          template.push('minmax(0, 3fr)');
          break;
        case 'type':
          template.push('minmax(0, 2fr)');
          break;
        default:
          template.push(Private.px(widths[key]));
      }
    }
    this.node.style.setProperty(
      '--jp-MemoryDoctor-holderColumns',
      template.join(' ')
    );
  }

  /**
   * The width of a figure column: its widest text and its heading (with the
   * sort arrow), measured in the probe, which has the cells' font. Before
   * layout (or in a test without one), an estimate in `ch`.
   */
  private _columnWidth(
    key: 'retained' | 'objects' | 'cell' | 'fix',
    texts: string[],
    heading: string
  ): number | string {
    const longest = Private.longest(texts);
    const probe = this._probe;
    const measure = (text: string, className: string): number => {
      probe.className = `jp-MemoryDoctor-holdersProbe ${className}`;
      probe.textContent = text;
      return probe.getBoundingClientRect().width;
    };
    let width = 0;
    if (this.isAttached && this.node.isConnected) {
      const cellClass = Private.CELL_CLASS[key];
      for (const text of longest) {
        width = Math.max(width, measure(text, cellClass));
      }
      width = Math.max(
        width,
        measure(
          key === 'fix' ? heading : `${heading} \u25BE`,
          key === 'fix'
            ? 'jp-MemoryDoctor-holdersColumnLabel'
            : 'jp-MemoryDoctor-holdersSort'
        )
      );
      probe.textContent = '';
    }
    if (width > 0) {
      return Math.ceil(width) + 1;
    }
    // No layout: characters and a margin for the padding.
    const chars = Math.max(heading.length + 2, ...longest.map(t => t.length));
    return `calc(${chars}ch + 12px)`;
  }

  private _model: HoldersModel;
  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _onReveal: (holder: IHolder) => void;
  private _onCopy: (text: string) => void;
  private _fixes: HoldersTable.IFixes | null;
  private _fixFor = new Map<string, IRowFix>();
  private _scroller = document.createElement('div');
  private _body = document.createElement('div');
  private _probe = document.createElement('span');
  private _headers = new Map<SortKey, HTMLElement>();
  private _window = new VirtualWindow();
  private _rows: readonly IHolderRow[] = [];
  private _rendered = new Map<string, HTMLElement>();
  private _units: ISettingsSource['current']['units'] = 'SI';
  private _shownResult: unknown = null;
  private _active = 0;
  private _activeId: string | null = null;
  private _hidden = new Set<ColumnKey>();
}

/** The namespace for `HoldersTable` statics. */
export namespace HoldersTable {
  /** Rows rendered beyond each edge of the viewport. */
  export const OVERSCAN = 8;

  /**
   * The viewport height assumed before layout (a hidden panel, or jsdom,
   * reports 0): enough rows for a tall sidebar.
   */
  export const FALLBACK_VIEWPORT = 800;

  /** The narrowest the Names column gets before another column goes. */
  export const NAMES_MIN = 96;

  /** The narrowest a shown Type column gets. */
  export const TYPE_MIN = 72;

  /** The widths of the figure columns (pixels, or a CSS length before layout). */
  export interface IColumnWidths {
    retained: number | string;
    objects: number | string;
    cell: number | string;
    fix: number | string;
  }

  /** Each row's own fix, from the panel's fix flow. */
  export interface IFixes {
    /** The fix a holder's row offers, or null. */
    fixFor(holder: IHolder): IRowFix | null;
    /** Apply a row's fix (asking first when it deletes or closes something). */
    apply(suggestion: IRowFix['suggestion']): void;
    /** Emitted when what the rows offer, or whether it can run, changed. */
    readonly changed: ISignal<unknown, void>;
  }

  /** Options for a `HoldersTable`. */
  export interface IOptions {
    /** The panel model. */
    model: HoldersModel;
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Called when the user asks to see the cell that created a holder. */
    onReveal: (holder: IHolder) => void;
    /** Copies text to the clipboard. */
    onCopy: (text: string) => void;
    /** Each row's own fix; without it the table has no Fix column. */
    fixes?: IFixes;
  }
}

namespace Private {
  /** The columns, in order. */
  export const COLUMNS: ColumnKey[] = [
    'names',
    'type',
    'retained',
    'objects',
    'cell',
    'fix'
  ];

  /** The class of each figure column's cells (the probe takes their font). */
  export const CELL_CLASS = {
    retained: `${RowClasses.cell} ${RowClasses.retained}`,
    objects: `${RowClasses.cell} ${RowClasses.objects}`,
    cell: `${RowClasses.cell} ${RowClasses.cellLink}`,
    fix: `${RowClasses.fixButton}`
  };

  /** A width as CSS. */
  export function px(width: number | string): string {
    return typeof width === 'number' ? `${width}px` : width;
  }

  /**
   * The texts worth measuring: the longest (by characters) and those one
   * shorter (a `9.9 GB` can be wider than a `999 kB`), at most 24.
   */
  export function longest(texts: string[]): string[] {
    let max = 0;
    for (const text of texts) {
      max = Math.max(max, text.length);
    }
    const out = new Set<string>();
    for (const text of texts) {
      if (text.length >= max - 1) {
        out.add(text);
        if (out.size >= 24) {
          break;
        }
      }
    }
    return [...out];
  }
}
