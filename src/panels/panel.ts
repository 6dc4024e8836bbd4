/**
 * The Memory Doctor side panel ("What's holding memory"): a small container
 * that follows the current notebook (`IMemoryDoctorTracker.current`) and
 * composes the holders view, the fix sections, "On the cluster" (shown only
 * for a kernel with a Dask client), the Line profile and the Timeline. It asks the notebook's
 * service to scan (and then its Dask clusters): on Refresh, when first shown,
 * and after each cell when the setting says so.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { PanelLayout, Widget } from '@lumino/widgets';

import type { IHolder } from '../protocol';
import type { IMemoryDoctorEntry, IMemoryDoctorTracker } from '../tokens';
import { ClusterSection, ConfirmRelease } from './cluster/view';
import {
  ConfirmFix,
  ConfirmFixes,
  FixController,
  InsertCell
} from './fixes/controller';
import { ResourcesSection } from './fixes/resources';
import { FixesView } from './fixes/view';
import { HoldersModel } from './holders/model';
import { HoldersView } from './holders/view';
import { ProfileSection } from './profile/view';
import type { PlotlyLoader } from './shared/plotly';
import { revealCell } from './shared/reveal';
import { TimelineSection } from './timeline/view';

/** The panel's DOM id (also the id to activate and restore it). */
export const PANEL_ID = 'jp-MemoryDoctor-holders';

/** The class of the panel. */
export const PANEL_CLASS = 'jp-MemoryDoctor-holders';

/**
 * The side panel.
 */
export class MemoryDoctorPanel extends Widget {
  constructor(options: MemoryDoctorPanel.IOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass(PANEL_CLASS);
    this._doctor = options.doctor;
    this._trans = options.trans;
    this._activate = options.activate ?? (() => undefined);
    this._reveal = options.reveal ?? revealCell;
    const trans = this._trans;
    const settings = this._doctor.settings;
    const copy = options.copy ?? Private.copyText;
    // Title case, as the command that opens it: Notebook 7 lists every
    // side panel in its palette as "Show <caption>" (see panels/commands.ts).
    this.title.caption = trans.__("What's Holding Memory");
    this.title.label = '';

    this.model = new HoldersModel();
    this.fixes = new FixController({
      model: this.model,
      trans,
      notebook: () => this.notebook,
      confirm: options.confirmFix,
      confirmAll: options.confirmFixes,
      insert: options.insertCell
    });
    const fixes = this.fixes;
    this.holders = new HoldersView({
      model: this.model,
      settings,
      trans,
      idPrefix: PANEL_ID,
      onRefresh: () => void this.refresh(),
      onCancel: () => void this.cancel(),
      onReveal: holder => void this.reveal(holder),
      onCopy: copy,
      loadPlotly: options.loadPlotly,
      // Each row's own fix: its holder's suggestion.
      fixes: {
        fixFor: holder => fixes.rowFix(holder, settings.current.units),
        apply: suggestion => void fixes.apply(suggestion),
        changed: fixes.changed
      }
    });
    this.cluster = new ClusterSection({
      settings,
      trans,
      confirm: options.confirmRelease
    });
    this.profile = new ProfileSection({
      settings,
      trans,
      loadPlotly: options.loadPlotly,
      reveal: this._reveal,
      activate: this._activate,
      onHolder: name => this._showHolder(name)
    });
    this.timeline = new TimelineSection({
      settings,
      trans,
      loadPlotly: options.loadPlotly,
      reveal: this._reveal,
      activate: this._activate
    });

    // The holders table is the main view and keeps the height: above it only
    // the figures and a one-line summary of the suggestions (each row has
    // its own fix); below it the sections, folded until opened.
    const holders = this.holders;
    const layout = new PanelLayout();
    this.layout = layout;
    layout.addWidget(holders.header);
    layout.addWidget(
      new FixesView({ controller: this.fixes, settings, trans })
    );
    layout.addWidget(holders.toolbar);
    layout.addWidget(holders.message);
    layout.addWidget(holders.table);
    layout.addWidget(holders.treemap);
    layout.addWidget(
      new ResourcesSection({
        controller: this.fixes,
        settings,
        trans,
        onReveal: (cellId, name) => void this._revealCell(cellId, name),
        foldSmall: true
      })
    );
    // A cell's memory by line, when one was profiled.
    layout.addWidget(this.profile);
    // The kernel's Dask clusters (hidden without a client), then memory over time.
    layout.addWidget(this.cluster);
    layout.addWidget(this.timeline);

    this._doctor.currentChanged.connect(this._follow, this);
    this._follow();
  }

  /** What the holders part shows: the followed notebook, sort, filter. */
  readonly model: HoldersModel;
  /** The holders part: header, toolbar, message, table and treemap. */
  readonly holders: HoldersView;
  /** What the fix buttons do. */
  readonly fixes: FixController;
  /** The "On the cluster" section (Dask clusters of the kernel). */
  readonly cluster: ClusterSection;
  /** The Line profile section (a cell's memory by line, when asked for). */
  readonly profile: ProfileSection;
  /** The Timeline section at the bottom. */
  readonly timeline: TimelineSection;

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
      const entry = this.model.entry;
      await entry?.service.scan();
      // After the scan (the helper walks for futures only between scans), and
      // only for a kernel that has shown a Dask client: others need no request.
      if (entry && Private.seenCluster(entry)) {
        await entry.service.scanCluster?.();
      }
    }
  }

  /**
   * Ask the followed kernel to stop its running scan; its reply then brings
   * the partial results.
   */
  async cancel(): Promise<void> {
    await this.model.entry?.service.cancelScan();
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
    this.model.entry?.model.measured.disconnect(this._onMeasured, this);
    this.holders.dispose();
    this.fixes.dispose();
    this.profile.dispose();
    this.model.dispose();
    super.dispose();
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

  /** A name a profiled line's allocation ended up in: its row in the holders table. */
  private _showHolder(name: string): void {
    this.model.setFilter(name);
    if (!this.model.result && !this.model.error) {
      void this.refresh();
    }
    this.holders.table.node.scrollIntoView?.({ block: 'nearest' });
  }

  /** Reveal the cell `cellId` that created `name`, or say why not. */
  private async _revealCell(
    cellId: string | null,
    name: string
  ): Promise<boolean> {
    const trans = this._trans;
    const header = this.holders.header;
    const panel = this.notebook;
    if (!cellId || !panel) {
      header.say(trans.__('No cell is known to have created %1.', name));
      return false;
    }
    this._activate(panel);
    const found = await this._reveal(panel.content, cellId);
    header.say(
      found
        ? ''
        : trans.__(
            'The cell that created %1 is no longer in this notebook.',
            name
          )
    );
    return found;
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

  private _follow(): void {
    const entry = this._doctor.current;
    this.model.entry?.model.measured.disconnect(this._onMeasured, this);
    entry?.model.measured.connect(this._onMeasured, this);
    this.model.setEntry(entry);
    this.cluster.setEntry(entry);
    this.profile.setEntry(entry);
    this.timeline.setEntry(entry);
  }

  private _doctor: IMemoryDoctorTracker;
  private _trans: TranslationBundle;
  private _activate: (panel: NotebookPanel) => void;
  private _reveal: typeof revealCell;
  private _visible = false;
}

/** The namespace for `MemoryDoctorPanel` options. */
export namespace MemoryDoctorPanel {
  /** Options for a `MemoryDoctorPanel`. */
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
    /** Asks once before "Apply all"; defaults to a dialog. */
    confirmFixes?: ConfirmFixes;
    /** Inserts a suggestion's code as a cell; defaults to `insertCellBelow`. */
    insertCell?: InsertCell;
    /** Asks before a cluster release; defaults to a dialog. */
    confirmRelease?: ConfirmRelease;
  }
}

namespace Private {
  /**
   * Whether the notebook's kernel has shown a Dask client: a cell measured
   * with one (its record has a `cluster`), or a cluster scan that found one.
   */
  export function seenCluster(entry: IMemoryDoctorEntry): boolean {
    if ((entry.clusters?.result?.clusters.length ?? 0) > 0) {
      return true;
    }
    const model = entry.model;
    for (const cellId of model.cellIds()) {
      if (model.history(cellId).some(record => record.cluster)) {
        return true;
      }
    }
    return false;
  }

  /** Copy with the asynchronous Clipboard API, ignoring refusals. */
  export function copyText(text: string): void {
    void navigator.clipboard?.writeText(text).catch(() => undefined);
  }
}
