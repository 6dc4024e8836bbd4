/**
 * The holders table: a sortable header and a virtualized body that keeps
 * only the rows near the viewport in the DOM, so 10,000 holders scroll as
 * smoothly as ten.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import type { IHolder } from '../../protocol';
import type { ISettingsSource } from '../../settings';
import type { HoldersChange, HoldersModel, SortKey } from './model';
import { createRow, RowClasses, rowHeight } from './row';
import { VirtualWindow } from './virtual';

/** The class of the table widget. */
export const TABLE_CLASS = 'jp-MemoryDoctor-holdersTable';

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
    this.addClass(TABLE_CLASS);
    const node = this.node;
    node.setAttribute('role', 'table');
    node.setAttribute('aria-label', this._trans.__('Memory holders'));

    node.appendChild(this._createHeader());
    this._scroller.className = 'jp-MemoryDoctor-holdersScroller';
    this._body.className = 'jp-MemoryDoctor-holdersBody';
    this._body.setAttribute('role', 'rowgroup');
    this._scroller.appendChild(this._body);
    node.appendChild(this._scroller);

    this._scroller.addEventListener('scroll', this);
    this._body.addEventListener('click', this);
    this._model.changed.connect(this._onModelChanged, this);
    this._settings.changed.connect(this._onSettingsChanged, this);
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

  /** Handle DOM events: scrolling and clicks on rows. */
  handleEvent(event: Event): void {
    if (event.type === 'scroll') {
      // Browsers fire scroll at most once per frame: render right away.
      this._renderWindow();
    } else if (event.type === 'click') {
      this._onClick(event as MouseEvent);
    }
  }

  /** Render the rows near the viewport now (e.g. after a resize). */
  renderWindow(): void {
    this._renderWindow();
  }

  /** Stop listening. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._scroller.removeEventListener('scroll', this);
    this._body.removeEventListener('click', this);
    this._model.changed.disconnect(this._onModelChanged, this);
    this._settings.changed.disconnect(this._onSettingsChanged, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    this._renderWindow();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
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
    const columns: [SortKey, string][] = [
      ['names', trans.__('Names')],
      ['type', trans.__('Type')],
      ['retained', trans.__('Retained')],
      ['objects', trans.__('Objects')],
      ['cell', trans.__('Cell')]
    ];
    for (const [key, label] of columns) {
      const header = document.createElement('div');
      header.className = `jp-MemoryDoctor-holdersColumn jp-mod-${key}`;
      header.setAttribute('role', 'columnheader');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'jp-MemoryDoctor-holdersSort';
      button.dataset.sortKey = key;
      button.textContent = label;
      button.title = trans.__('Sort by %1', label);
      button.addEventListener('click', () => this._model.sortBy(key));
      header.appendChild(button);
      row.appendChild(header);
      this._headers.set(key, header);
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
    }
    this._reset();
  }

  private _onSettingsChanged(): void {
    if (this._settings.current.units !== this._units) {
      this._reset();
    }
  }

  /** Recompute heights and rebuild the visible rows from the model. */
  private _reset(): void {
    const model = this._model;
    const rows = model.rows;
    this._rows = rows;
    this._units = this._settings.current.units;
    this._window.setHeights(
      rows.map(holder => rowHeight(holder, model.isExpanded(holder.id)))
    );
    this._body.style.height = `${this._window.totalHeight}px`;
    this.node.setAttribute('aria-rowcount', String(rows.length + 1));
    for (const [key, header] of this._headers) {
      header.setAttribute(
        'aria-sort',
        key === model.sortKey ? model.sortDirection : 'none'
      );
    }
    for (const row of this._rendered.values()) {
      row.remove();
    }
    this._rendered.clear();
    this._renderWindow();
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
    for (const [id, row] of this._rendered) {
      if (!wanted.has(id)) {
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
        trans: this._trans
      });
      row.style.top = `${this._window.offset(i)}px`;
      this._body.appendChild(row);
      this._rendered.set(holder.id, row);
    }
  }

  private _onClick(event: MouseEvent): void {
    const target = event.target as Element | null;
    const row = target?.closest<HTMLElement>(`.${RowClasses.row}`);
    const id = row?.dataset.holderId;
    const holder =
      id === undefined ? undefined : this._rows.find(h => h.id === id);
    if (!row || !holder) {
      return;
    }
    const action = target?.closest<HTMLElement>('[data-action]');
    switch (action?.dataset.action) {
      case 'expand':
        this._model.toggleExpanded(holder.id);
        this._focusAfterRender(holder.id, `.${RowClasses.expand}`);
        return;
      case 'copy':
        this._onCopy(holder.path);
        action.textContent = this._trans.__('Copied');
        return;
      case 'reveal':
        this._onReveal(holder);
        return;
    }
    // Clicks in the details select text; elsewhere the row leads to its cell.
    if (!target?.closest(`.${RowClasses.details}`)) {
      this._onReveal(holder);
    }
  }

  /** Keep keyboard focus on a control whose row was just rebuilt. */
  private _focusAfterRender(id: string, selector: string): void {
    this._rendered.get(id)?.querySelector<HTMLElement>(selector)?.focus();
  }

  private _model: HoldersModel;
  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _onReveal: (holder: IHolder) => void;
  private _onCopy: (text: string) => void;
  private _scroller = document.createElement('div');
  private _body = document.createElement('div');
  private _headers = new Map<SortKey, HTMLElement>();
  private _window = new VirtualWindow();
  private _rows: readonly IHolder[] = [];
  private _rendered = new Map<string, HTMLElement>();
  private _units: ISettingsSource['current']['units'] = 'SI';
  private _shownResult: unknown = null;
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
  }
}
