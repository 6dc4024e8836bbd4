/**
 * One `MemoryModel`, `MemoryDoctorService` and `BadgeManager` per open
 * notebook, created when the notebook tracker sees the panel and disposed
 * with it.
 */

import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { BadgeManager } from './badges';
import { MemoryDoctorService } from './service';
import type { MemoryDoctorSettings } from './settings';
import type {
  IMemoryDoctorEntry,
  IMemoryDoctorTracker,
  IUserInterface
} from './tokens';

/**
 * Attaches memory state to every notebook panel.
 */
export class MemoryDoctorTracker implements IMemoryDoctorTracker, IDisposable {
  constructor(options: MemoryDoctorTracker.IOptions) {
    this._notebooks = options.notebooks;
    this._trans = options.trans;
    this._ui = options.ui;
    this.settings = options.settings;
    this._notebooks.widgetAdded.connect(this._onWidgetAdded, this);
    // Panels restored before this plugin activated.
    this._notebooks.forEach(panel => this.add(panel));
  }

  /** The live settings. */
  readonly settings: MemoryDoctorSettings;

  /** Emitted after a panel got its entry. */
  get entryAdded(): ISignal<this, NotebookPanel> {
    return this._entryAdded;
  }

  /** Whether the tracker is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The entry for a panel, if the panel is tracked. */
  get(panel: NotebookPanel): IMemoryDoctorEntry | undefined {
    return this._entries.get(panel);
  }

  /** Attach memory state to a panel (once). */
  add(panel: NotebookPanel): void {
    if (this._isDisposed || this._entries.has(panel) || panel.isDisposed) {
      return;
    }
    const service = new MemoryDoctorService({
      sessionContext: panel.sessionContext,
      settings: this.settings,
      ui: this._ui,
      trans: this._trans
    });
    const { model, scans, fixes } = service;
    const badges = new BadgeManager({
      notebook: panel.content,
      model,
      settings: this.settings,
      trans: this._trans
    });
    this._entries.set(panel, { model, scans, fixes, service, badges });
    panel.disposed.connect(this._onPanelDisposed, this);
    this._entryAdded.emit(panel);
  }

  /** Dispose every entry. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    for (const panel of [...this._entries.keys()]) {
      this._onPanelDisposed(panel);
    }
    Signal.clearData(this);
  }

  private _onWidgetAdded(_: INotebookTracker, panel: NotebookPanel): void {
    this.add(panel);
  }

  private _onPanelDisposed(panel: NotebookPanel): void {
    const entry = this._entries.get(panel);
    if (!entry) {
      return;
    }
    this._entries.delete(panel);
    panel.disposed.disconnect(this._onPanelDisposed, this);
    entry.badges.dispose();
    entry.service.dispose();
  }

  private _notebooks: INotebookTracker;
  private _trans: TranslationBundle;
  private _ui: IUserInterface;
  private _entries = new Map<NotebookPanel, Private.IEntry>();
  private _entryAdded = new Signal<this, NotebookPanel>(this);
  private _isDisposed = false;
}

/** The namespace for `MemoryDoctorTracker` options. */
export namespace MemoryDoctorTracker {
  /** Options for a `MemoryDoctorTracker`. */
  export interface IOptions {
    /** The notebook tracker. */
    notebooks: INotebookTracker;
    /** Live settings shared by every notebook. */
    settings: MemoryDoctorSettings;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Notifications and dialogs. */
    ui: IUserInterface;
  }
}

namespace Private {
  /** An entry plus the badge manager that only the tracker needs. */
  export interface IEntry extends IMemoryDoctorEntry {
    badges: BadgeManager;
  }
}
