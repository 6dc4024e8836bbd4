/**
 * The "What's holding memory" side panel: follows the current notebook
 * (`IMemoryDoctorTracker.current`) and composes the header, the toolbar (filter, table/treemap switch), the state
 * message, the virtualized table and the lazily loaded treemap.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { Panel, PanelLayout, Widget } from '@lumino/widgets';

import type { IHolder } from '../../protocol';
import type { IMemoryDoctorTracker } from '../../tokens';
import { ConfirmFix, FixController, InsertCell } from './fix';
import { HoldersHeader } from './header';
import { HoldersModel } from './model';
import { ResourcesSection } from './resources';
import { revealCell } from './reveal';
import { HoldersTable } from './table';
import { SuggestionsSection } from './suggestions';
import { stateMessage } from './text';
import { HoldersTreemap, PlotlyLoader } from './treemap';
import { TimelineSection } from '../timeline/view';

/** The panel's DOM id (also the id to activate it in the shell). */
export const HOLDERS_PANEL_ID = 'jp-MemoryDoctor-holders';

/** The class of the panel. */
export const HOLDERS_PANEL_CLASS = 'jp-MemoryDoctor-holders';

/** How the holders are drawn. */
export type HoldersMode = 'table' | 'treemap';

/**
 * The side panel.
 */
export class HoldersPanel extends Widget {
  constructor(options: HoldersPanel.IOptions) {
    super();
    this.id = HOLDERS_PANEL_ID;
    this.addClass(HOLDERS_PANEL_CLASS);
    this._doctor = options.doctor;
    this._trans = options.trans;
    this._copy = options.copy ?? Private.copyText;
    this._activate = options.activate ?? (() => undefined);
    this._reveal = options.reveal ?? revealCell;
    const trans = this._trans;
    const settings = this._doctor.settings;
    this.model = new HoldersModel();
    this.title.caption = trans.__("What's holding memory");
    this.title.label = '';

    const onReveal = (holder: IHolder) => void this.reveal(holder);
    this.header = new HoldersHeader({
      model: this.model,
      onRefresh: () => void this.refresh(),
      onCancel: () => void this.cancel(),
      settings,
      trans
    });
    this.table = new HoldersTable({
      model: this.model,
      settings,
      trans,
      onReveal,
      onCopy: text => this._copy(text)
    });
    this.table.id = `${HOLDERS_PANEL_ID}-table`;
    this.treemap = new HoldersTreemap({
      model: this.model,
      settings,
      trans,
      onReveal,
      load: options.loadPlotly
    });
    this.treemap.id = `${HOLDERS_PANEL_ID}-treemap`;
    this.treemap.hide();
    this.fixes = new FixController({
      model: this.model,
      trans,
      notebook: () => this.notebook,
      confirm: options.confirmFix,
      insert: options.insertCell
    });
    // Fix outcomes, suggestions, resources and findings scroll together
    // above the holders, which keep the rest of the height.
    const fixes = { controller: this.fixes, settings, trans };
    this._fixesArea.addClass('jp-MemoryDoctor-holdersFixes');
    this._fixesArea.addWidget(new SuggestionsSection(fixes));
    this._fixesArea.addWidget(
      new ResourcesSection({
        ...fixes,
        onReveal: (cellId, name) => void this._revealCell(cellId, name)
      })
    );

    const layout = new PanelLayout();
    this.layout = layout;
    layout.addWidget(this.header);
    layout.addWidget(this._createToolbar());
    layout.addWidget(this._message);
    layout.addWidget(this._fixesArea);
    layout.addWidget(this.table);
    layout.addWidget(this.treemap);
    // Issue 5: memory over time, below whatever the holders part shows.
    this.timeline = new TimelineSection({
      settings,
      trans,
      loadPlotly: options.loadPlotly,
      reveal: this._reveal,
      activate: this._activate
    });
    layout.addWidget(this.timeline);
    this._message.addClass('jp-MemoryDoctor-holdersMessage');

    this.model.changed.connect(this._render, this);
    this.fixes.changed.connect(this._render, this);
    settings.changed.connect(this._render, this);
    this._doctor.currentChanged.connect(this._follow, this);
    this._follow();
  }

  /** The panel's state. */
  readonly model: HoldersModel;
  /** The header. */
  readonly header: HoldersHeader;
  /** The holders table. */
  readonly table: HoldersTable;
  /** The treemap. */
  readonly treemap: HoldersTreemap;
  /** The Timeline section at the bottom. */
  readonly timeline: TimelineSection;
  /** Applies suggestions and keeps their outcomes. */
  readonly fixes: FixController;

  /** How the holders are drawn. */
  get mode(): HoldersMode {
    return this._mode;
  }

  /** The notebook whose kernel the panel shows. */
  get notebook(): NotebookPanel | null {
    return this.model.entry?.panel ?? null;
  }

  /**
   * Scan the followed kernel. Does nothing while a scan of it runs or when
   * it is not connected; resolves once the scan ended either way.
   */
  async refresh(): Promise<void> {
    if (this.model.canRefresh) {
      await this.model.entry?.service.scan();
    }
  }

  /**
   * Ask the followed kernel to stop its running scan; its reply then brings
   * the partial results.
   */
  async cancel(): Promise<void> {
    await this.model.entry?.service.cancelScan();
  }

  /** Draw the holders as a table or a treemap. */
  setMode(mode: HoldersMode): void {
    if (mode !== this._mode) {
      this._mode = mode;
      this._render();
    }
  }

  /**
   * Scroll to and highlight the cell that created a holder, or say why not.
   */
  async reveal(holder: IHolder): Promise<boolean> {
    return this._revealCell(holder.cell_id, holder.labels[0] ?? '');
  }

  /** Stop following. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._doctor.currentChanged.disconnect(this._follow, this);
    this._doctor.settings.changed.disconnect(this._render, this);
    this.model.entry?.model.measured.disconnect(this._onMeasured, this);
    this.fixes.dispose();
    this.model.dispose();
    super.dispose();
  }

  /** Reveal the cell `cellId` that created `name`, or say why not. */
  private async _revealCell(
    cellId: string | null,
    name: string
  ): Promise<boolean> {
    const trans = this._trans;
    const panel = this.notebook;
    if (!cellId || !panel) {
      this.header.say(trans.__('No cell is known to have created %1.', name));
      return false;
    }
    this._activate(panel);
    const found = await this._reveal(panel.content, cellId);
    this.header.say(
      found
        ? ''
        : trans.__(
            'The cell that created %1 is no longer in this notebook.',
            name
          )
    );
    return found;
  }

  protected onAfterAttach(msg: Message): void {
    // A sidebar restored open is attached visible, with no after-show.
    this._setVisible(this.isVisible);
  }

  protected onBeforeDetach(msg: Message): void {
    this._setVisible(false);
  }

  protected onAfterShow(msg: Message): void {
    this._setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    this._setVisible(false);
  }

  /**
   * Becoming visible scans the followed kernel when it has no scan yet
   * (opening the panel is asking).
   */
  private _setVisible(visible: boolean): void {
    if (visible === this._visible) {
      return;
    }
    this._visible = visible;
    const model = this.model;
    if (visible && !model.result && !model.error) {
      void this.refresh();
    }
  }

  /** With the setting on, a visible panel scans again after each cell. */
  private _onMeasured(): void {
    if (this._visible && this._doctor.settings.current.autoRefreshHolders) {
      void this.refresh();
    }
  }

  private _createToolbar(): Widget {
    const trans = this._trans;
    const toolbar = this._toolbar;
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
    toolbar.node.appendChild(this._count);
    return toolbar;
  }

  private _follow(): void {
    const entry = this._doctor.current;
    this.model.entry?.model.measured.disconnect(this._onMeasured, this);
    entry?.model.measured.connect(this._onMeasured, this);
    this.model.setEntry(entry);
    this.timeline.setEntry(entry);
    this._render();
  }

  private _render(): void {
    const model = this.model;
    const trans = this._trans;
    const state = model.state;
    this.header.render();

    const message = stateMessage(state, trans);
    const node = this._message.node;
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
      this._message.show();
    } else {
      this._message.hide();
    }

    const results = state.kind === 'results';
    // Resources and findings matter even when no holder does.
    this._fixesArea.setHidden(!model.result && !this.fixes.outcome);
    this._toolbar.setHidden(!results);
    this.table.setHidden(!results || this._mode !== 'table');
    this.treemap.setHidden(!results || this._mode !== 'treemap');
    for (const [mode, button] of this._tabs) {
      button.setAttribute('aria-selected', String(mode === this._mode));
      button.tabIndex = mode === this._mode ? 0 : -1;
    }
    if (this._filter.value !== model.filter) {
      this._filter.value = model.filter;
    }
    const total = model.result?.holders.length ?? 0;
    const shown = model.rows.length;
    this._count.textContent =
      shown === total
        ? trans._n('%1 holder', '%1 holders', total)
        : shown === 0
          ? trans.__('No holder matches the filter.')
          : trans._n('%2 of %1 holder', '%2 of %1 holders', total, shown);
  }

  private _doctor: IMemoryDoctorTracker;
  private _trans: TranslationBundle;
  private _copy: (text: string) => void;
  private _activate: (panel: NotebookPanel) => void;
  private _reveal: typeof revealCell;
  private _visible = false;
  private _mode: HoldersMode = 'table';
  private _toolbar = new Widget();
  private _message = new Widget();
  private _fixesArea = new Panel();
  private _filter = document.createElement('input');
  private _tabs = new Map<HoldersMode, HTMLButtonElement>();
  private _count = document.createElement('span');
}

/** The namespace for `HoldersPanel` options. */
export namespace HoldersPanel {
  /** Options for a `HoldersPanel`. */
  export interface IOptions {
    /** Per-notebook memory state (the panel follows the current one). */
    doctor: IMemoryDoctorTracker;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Copies text to the clipboard; defaults to the Clipboard API. */
    copy?: (text: string) => void;
    /** Brings a notebook to the front before one of its cells is revealed. */
    activate?: (panel: NotebookPanel) => void;
    /** Reveals a cell; defaults to `revealCell`. */
    reveal?: typeof revealCell;
    /** Loads plotly; defaults to a dynamic import on first use. */
    loadPlotly?: PlotlyLoader;
    /** Asks before a destructive fix; defaults to a dialog. */
    confirmFix?: ConfirmFix;
    /** Inserts a suggestion's code as a cell; defaults to `insertCellBelow`. */
    insertCell?: InsertCell;
  }
}

namespace Private {
  /** Copy with the asynchronous Clipboard API, ignoring refusals. */
  export function copyText(text: string): void {
    void navigator.clipboard?.writeText(text).catch(() => undefined);
  }
}
