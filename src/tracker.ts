/**
 * One `MemoryDoctorService` (with its models), `BadgeManager`,
 * `ProfileGutters` and `MetadataWriter` per open notebook, created when the notebook tracker sees the panel and
 * disposed with it; and the current notebook's entry, which every view
 * that shows "the current notebook" follows.
 */

import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { BadgeManager } from './badges';
import { ProfileGutters } from './gutters';
import { MetadataWriter } from './metadata';
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
    this._notebooks.currentChanged.connect(this._updateCurrent, this);
    // Panels restored before this plugin activated.
    this._notebooks.forEach(panel => this.add(panel));
    this._updateCurrent();
  }

  /** The live settings. */
  readonly settings: MemoryDoctorSettings;

  /** The current notebook's entry, or null. */
  get current(): IMemoryDoctorEntry | null {
    return this._current;
  }

  /** Emitted when `current` changes. */
  get currentChanged(): ISignal<this, IMemoryDoctorEntry | null> {
    return this._currentChanged;
  }

  /** Emitted after a panel got its entry. */
  get entryAdded(): ISignal<this, IMemoryDoctorEntry> {
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
    const { model, scans, fixes, clusters, profiles } = service;
    const badges = new BadgeManager({
      notebook: panel.content,
      model,
      settings: this.settings,
      trans: this._trans
    });
    const gutters = new ProfileGutters({
      notebook: panel.content,
      profiles,
      settings: this.settings,
      trans: this._trans
    });
    const metadata = new MetadataWriter({
      notebook: panel.content,
      model,
      settings: this.settings
    });
    const entry = {
      panel,
      model,
      scans,
      fixes,
      clusters,
      profiles,
      service,
      badges,
      gutters,
      metadata
    };
    this._entries.set(panel, entry);
    panel.disposed.connect(this._onPanelDisposed, this);
    this._entryAdded.emit(entry);
    // The notebook tracker may have made the panel current before.
    this._updateCurrent();
  }

  /** Dispose every entry. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._notebooks.widgetAdded.disconnect(this._onWidgetAdded, this);
    this._notebooks.currentChanged.disconnect(this._updateCurrent, this);
    for (const panel of [...this._entries.keys()]) {
      this._onPanelDisposed(panel);
    }
    Signal.clearData(this);
  }

  private _onWidgetAdded(_: INotebookTracker, panel: NotebookPanel): void {
    this.add(panel);
  }

  private _updateCurrent(): void {
    const panel = this._notebooks.currentWidget;
    const entry = panel ? (this._entries.get(panel) ?? null) : null;
    if (entry !== this._current) {
      this._current = entry;
      this._currentChanged.emit(entry);
    }
  }

  private _onPanelDisposed(panel: NotebookPanel): void {
    const entry = this._entries.get(panel);
    if (!entry) {
      return;
    }
    this._entries.delete(panel);
    panel.disposed.disconnect(this._onPanelDisposed, this);
    if (entry === this._current) {
      this._current = null;
      this._currentChanged.emit(null);
    }
    entry.metadata.dispose();
    entry.badges.dispose();
    entry.gutters.dispose();
    entry.service.dispose();
  }

  private _notebooks: INotebookTracker;
  private _trans: TranslationBundle;
  private _ui: IUserInterface;
  private _entries = new Map<NotebookPanel, Private.IEntry>();
  private _current: IMemoryDoctorEntry | null = null;
  private _currentChanged = new Signal<this, IMemoryDoctorEntry | null>(this);
  private _entryAdded = new Signal<this, IMemoryDoctorEntry>(this);
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
  /** An entry plus what only the tracker needs. */
  export interface IEntry extends IMemoryDoctorEntry {
    readonly service: MemoryDoctorService;
    readonly badges: BadgeManager;
    readonly gutters: ProfileGutters;
    readonly metadata: MetadataWriter;
  }
}
