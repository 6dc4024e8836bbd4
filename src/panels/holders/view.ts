/**
 * The holders part of the side panel: the header, the toolbar (filter,
 * table/treemap switch, count), the state message, the virtualized table
 * and the lazily loaded treemap, all drawn from a `HoldersModel`. The panel
 * lays these widgets out (`panels/panel.ts`), with the fixes between the
 * message and the table.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import type { IHolder } from '../../protocol';
import type { ISettingsSource } from '../../settings';
import type { PlotlyLoader } from '../shared/plotly';
import { HoldersHeader } from './header';
import type { HoldersModel } from './model';
import { HoldersTable } from './table';
import { countText, stateMessage } from './text';
import { HoldersTreemap } from './treemap';

/** How the holders are drawn. */
export type HoldersMode = 'table' | 'treemap';

/**
 * The widgets that show the holders, redrawn whenever the model or the
 * settings change.
 */
export class HoldersView implements IDisposable {
  constructor(options: HoldersView.IOptions) {
    this.model = options.model;
    this._settings = options.settings;
    this._trans = options.trans;
    const { model, settings, trans, onReveal } = options;
    this.header = new HoldersHeader({
      model,
      onRefresh: options.onRefresh,
      onCancel: options.onCancel,
      settings,
      trans
    });
    this.table = new HoldersTable({
      model,
      settings,
      trans,
      onReveal,
      onCopy: options.onCopy,
      fixes: options.fixes
    });
    this.table.id = `${options.idPrefix}-table`;
    this.treemap = new HoldersTreemap({
      model,
      settings,
      trans,
      onReveal,
      load: options.loadPlotly
    });
    this.treemap.id = `${options.idPrefix}-treemap`;
    this.treemap.hide();
    this._buildToolbar();
    this.message.addClass('jp-MemoryDoctor-holdersMessage');
    model.changed.connect(this.render, this);
    this._settings.changed.connect(this.render, this);
    this.render();
  }

  /** The panel's state. */
  readonly model: HoldersModel;
  /** The header: figures, Refresh / Cancel, progress and notices. */
  readonly header: HoldersHeader;
  /** Filter, table/treemap switch and count; shown with results. */
  readonly toolbar = new Widget();
  /** Why there is nothing to show, when there is not. */
  readonly message = new Widget();
  /** The holders table. */
  readonly table: HoldersTable;
  /** The treemap. */
  readonly treemap: HoldersTreemap;

  /** How the holders are drawn. */
  get mode(): HoldersMode {
    return this._mode;
  }

  /** Whether the view is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Draw the holders as a table or a treemap. */
  setMode(mode: HoldersMode): void {
    if (mode !== this._mode) {
      this._mode = mode;
      this.render();
    }
  }

  /** Redraw everything from the model. */
  render(): void {
    const model = this.model;
    const trans = this._trans;
    const state = model.state;
    this.header.render();

    const message = stateMessage(state, trans);
    const node = this.message.node;
    node.textContent = '';
    if (message) {
      const text = document.createElement('p');
      text.textContent = message.text;
      node.appendChild(text);
      if (message.code) {
        const code = document.createElement('code');
        code.className = 'jp-MemoryDoctor-holdersHint';
        code.textContent = message.code;
        node.appendChild(code);
      }
      this.message.show();
    } else {
      this.message.hide();
    }

    const results = state.kind === 'results';
    this.toolbar.setHidden(!results);
    this.table.setHidden(!results || this._mode !== 'table');
    this.treemap.setHidden(!results || this._mode !== 'treemap');
    for (const [mode, button] of this._tabs) {
      button.setAttribute('aria-selected', String(mode === this._mode));
      button.tabIndex = mode === this._mode ? 0 : -1;
    }
    if (this._filter.value !== model.filter) {
      this._filter.value = model.filter;
    }
    this._count.textContent = countText(
      {
        shown: model.rows.length,
        sent: model.result?.holders.length ?? 0,
        total: model.total,
        filtering: model.filter.trim() !== '',
        searchesAll: model.searchesAll
      },
      trans
    );
  }

  /** Stop listening. Safe to call twice (the widgets go with the panel). */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.model.changed.disconnect(this.render, this);
    this._settings.changed.disconnect(this.render, this);
  }

  private _buildToolbar(): void {
    const trans = this._trans;
    const toolbar = this.toolbar;
    toolbar.addClass('jp-MemoryDoctor-holdersToolbar');
    const filter = this._filter;
    filter.type = 'search';
    filter.className = 'jp-MemoryDoctor-holdersFilter jp-mod-styled';
    filter.placeholder = trans.__('Filter by name or type');
    filter.setAttribute(
      'aria-label',
      trans.__('Filter holders by name or type')
    );
    filter.addEventListener('input', () => this.model.setFilter(filter.value));
    toolbar.node.appendChild(filter);

    const tabs = document.createElement('div');
    tabs.className = 'jp-MemoryDoctor-holdersTabs';
    tabs.setAttribute('role', 'tablist');
    tabs.setAttribute('aria-label', trans.__('Show holders as'));
    const tab = (mode: HoldersMode, label: string, controls: string) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'jp-MemoryDoctor-holdersTab';
      button.setAttribute('role', 'tab');
      button.setAttribute('aria-controls', controls);
      button.dataset.mode = mode;
      button.textContent = label;
      button.addEventListener('click', () => this.setMode(mode));
      tabs.appendChild(button);
      this._tabs.set(mode, button);
    };
    tab('table', trans.__('Table'), this.table.id);
    tab('treemap', trans.__('Treemap'), this.treemap.id);
    toolbar.node.appendChild(tabs);

    this._count.className = 'jp-MemoryDoctor-holdersCount';
    // Read out after typing in the filter.
    this._count.setAttribute('role', 'status');
    this._count.setAttribute('aria-live', 'polite');
    toolbar.node.appendChild(this._count);
  }

  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _mode: HoldersMode = 'table';
  private _filter = document.createElement('input');
  private _tabs = new Map<HoldersMode, HTMLButtonElement>();
  private _count = document.createElement('span');
  private _isDisposed = false;
}

/** The namespace for `HoldersView` options. */
export namespace HoldersView {
  /** Options for a `HoldersView`. */
  export interface IOptions {
    /** The panel's state. */
    model: HoldersModel;
    /** Live settings (units, thresholds). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** The prefix of the table's and treemap's DOM ids. */
    idPrefix: string;
    /** Scans the followed kernel (Refresh). */
    onRefresh: () => void;
    /** Cancels the running scan. */
    onCancel: () => void;
    /** Goes to the cell that created a holder. */
    onReveal: (holder: IHolder) => void;
    /** Copies a why-alive path. */
    onCopy: (text: string) => void;
    /** Loads plotly for the treemap. */
    loadPlotly?: PlotlyLoader;
    /** Each row's own fix (the panel's fix flow). */
    fixes?: HoldersTable.IFixes;
  }
}
