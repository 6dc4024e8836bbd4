/**
 * The state of the "What's holding memory" panel: which notebook it follows,
 * the last scan of each kernel, the running scan, sorting, filtering and
 * expanded rows. No DOM, so jest can drive it without a browser.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { MemoryModel, MemoryStatus } from '../../model';
import type {
  IHolder,
  IScanProgressMessage,
  IScanResult,
  ScanStopped
} from '../../protocol';
import type { ISettingsSource } from '../../settings';
import type { IMemoryDoctorEntry } from '../../tokens';
import {
  defaultDirection,
  filterRows,
  SortDirection,
  SortKey,
  sortRows
} from './sort';
import { normalizeScanResult } from './validate';

export type { SortDirection, SortKey } from './sort';

/**
 * What the panel can show, as a typed union so that the view always has a
 * specific message instead of a blank panel.
 */
export type HoldersState =
  /** No notebook is open (or none is current). */
  | { kind: 'no-notebook' }
  /** The notebook's kernel is starting or the helper is loading. */
  | { kind: 'connecting' }
  /** The helper is not installed in the kernel's environment. */
  | { kind: 'no-helper'; hint: string }
  /** Not a Python kernel, or a connection without comms. */
  | { kind: 'unsupported'; reason: 'language' | 'comms' }
  /** The kernel died. */
  | { kind: 'dead' }
  /** Version mismatch or another connection error, with its message. */
  | { kind: 'unavailable'; message: string }
  /** Connected, but no scan has finished for this kernel. */
  | { kind: 'empty' }
  /** The first scan of this kernel is running. */
  | { kind: 'scanning' }
  /** The only scan attempt failed. */
  | { kind: 'error'; error: IScanError }
  /** A scan finished and found nothing. */
  | { kind: 'no-holders' }
  /** A scan finished with holders (see `rows`). */
  | { kind: 'results' };

/** What changed, so that views can redraw only what depends on it. */
export type HoldersChange =
  /** Results, connection state, running state, error or staleness. */
  | 'state'
  /** Sorting or filtering: the visible rows. */
  | 'rows'
  /** Expanded rows. */
  | 'expanded'
  /** Progress of the running scan. */
  | 'progress';

/** A failed scan: a protocol error code (or `timeout`) and its message. */
export interface IScanError {
  /** `internal`, `bad_request`, `timeout`, … */
  readonly code: string;
  /** The helper's message (untranslated: it comes from the kernel). */
  readonly message: string;
}

/** The running scan of a kernel. */
export interface IRunningScan {
  /** The scan's request id (the `cancel` target). */
  readonly requestId: string;
  /** Whether the user asked to cancel it. */
  readonly cancelling: boolean;
  /** The last `scan_progress`, if any arrived. */
  readonly progress: IScanProgressMessage | null;
}

/**
 * Follows one notebook at a time and keeps the last scan of every kernel it
 * has scanned, so switching notebooks shows each kernel's own results.
 */
export class HoldersModel implements IDisposable {
  constructor(options: HoldersModel.IOptions) {
    this._settings = options.settings;
    this._now = options.now ?? Date.now;
  }

  /** The followed notebook's memory state, if any. */
  get entry(): IMemoryDoctorEntry | null {
    return this._entry;
  }

  /** The state to show; see `HoldersState`. */
  get state(): HoldersState {
    const scan = this._current();
    if (scan?.result) {
      return scan.result.holders.length > 0
        ? { kind: 'results' }
        : { kind: 'no-holders' };
    }
    const entry = this._entry;
    if (!entry) {
      return { kind: 'no-notebook' };
    }
    const status = entry.model.status;
    switch (status.kind) {
      case 'ready':
        if (scan?.running) {
          return { kind: 'scanning' };
        }
        return scan?.error
          ? { kind: 'error', error: scan.error }
          : { kind: 'empty' };
      case 'connecting':
      case 'stale':
        return { kind: 'connecting' };
      case 'no-helper':
        return { kind: 'no-helper', hint: status.hint };
      case 'unsupported':
        return { kind: 'unsupported', reason: status.reason };
      case 'dead':
        return { kind: 'dead' };
      case 'mismatch':
      case 'error':
        return { kind: 'unavailable', message: status.message };
    }
  }

  /** The last complete or partial result for the followed kernel. */
  get result(): IScanResult | null {
    return this._current()?.result ?? null;
  }

  /** When `result` arrived (milliseconds since the epoch), or null. */
  get scannedAt(): number | null {
    return this._current()?.scannedAt ?? null;
  }

  /** The budget (seconds) the scan behind `result` was given. */
  get budgetSeconds(): number | null {
    return this._current()?.budgetS ?? null;
  }

  /**
   * Why `result` is partial (`budget`, `cancelled`, `cell_ran`), or null for a
   * complete scan or no result.
   */
  get partial(): ScanStopped | null {
    const result = this.result;
    if (!result || result.scan.complete) {
      return null;
    }
    // A partial scan that names no reason still must not pass for complete.
    return result.scan.stopped ?? 'budget';
  }

  /**
   * Whether `result` predates a kernel restart, a kernel change or the
   * kernel's death: kept for reference, but no longer describes the kernel.
   */
  get stale(): boolean {
    return this._current()?.stale ?? false;
  }

  /** The last failed scan, cleared by the next success or attempt. */
  get error(): IScanError | null {
    return this._current()?.error ?? null;
  }

  /** The running scan of the followed kernel, if any. */
  get running(): IRunningScan | null {
    return this._current()?.running ?? null;
  }

  /** Whether a scan can start now: connected and none running. */
  get canRefresh(): boolean {
    return (
      this._entry !== null &&
      this._entry.model.status.kind === 'ready' &&
      this.running === null
    );
  }

  /** The column rows are sorted by. */
  get sortKey(): SortKey {
    return this._sortKey;
  }

  /** The sort direction. */
  get sortDirection(): SortDirection {
    return this._sortDirection;
  }

  /** The filter text. */
  get filter(): string {
    return this._filter;
  }

  /** The holders of `result` that pass the filter, sorted. Cached. */
  get rows(): readonly IHolder[] {
    if (this._rows === null) {
      this._rows = sortRows(
        filterRows(this.result?.holders ?? [], this._filter),
        this._sortKey,
        this._sortDirection
      );
    }
    return this._rows;
  }

  /** Whether the panel is visible (auto-refresh runs only then). */
  get visible(): boolean {
    return this._visible;
  }

  /** Emitted with what changed. */
  get changed(): ISignal<this, HoldersChange> {
    return this._changed;
  }

  /** Whether the model is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Whether a row shows its details. */
  isExpanded(id: string): boolean {
    return this._current()?.expanded.has(id) ?? false;
  }

  /** Show or hide a row's details. */
  toggleExpanded(id: string): void {
    const scan = this._current();
    if (!scan) {
      return;
    }
    if (!scan.expanded.delete(id)) {
      scan.expanded.add(id);
    }
    this._changed.emit('expanded');
  }

  /**
   * Sort by a column. The same column again flips the direction; a new column
   * starts largest-first for figures and A→Z for text.
   */
  sortBy(key: SortKey, direction?: SortDirection): void {
    const next =
      direction ??
      (key === this._sortKey
        ? this._sortDirection === 'ascending'
          ? 'descending'
          : 'ascending'
        : defaultDirection(key));
    if (key === this._sortKey && next === this._sortDirection) {
      return;
    }
    this._sortKey = key;
    this._sortDirection = next;
    this._invalidateRows();
  }

  /** Keep only holders whose names or type contain `text` (any case). */
  setFilter(text: string): void {
    if (text === this._filter) {
      return;
    }
    this._filter = text;
    this._invalidateRows();
  }

  /** Follow another notebook's memory state (or none). */
  setEntry(entry: IMemoryDoctorEntry | null): void {
    if (entry === this._entry) {
      return;
    }
    this._entry?.model.stateChanged.disconnect(this._onCurrentStatus, this);
    this._entry?.model.measured.disconnect(this._onMeasured, this);
    this._entry = entry;
    entry?.model.stateChanged.connect(this._onCurrentStatus, this);
    entry?.model.measured.connect(this._onMeasured, this);
    this._rows = null;
    this._changed.emit('state');
  }

  /**
   * Tell the model whether the panel is visible. Becoming visible starts a
   * scan when the followed kernel has none yet (opening the panel is asking).
   */
  setVisible(visible: boolean): void {
    if (visible === this._visible) {
      return;
    }
    this._visible = visible;
    const scan = this._current();
    if (visible && !scan?.result && !scan?.error && this.canRefresh) {
      void this.refresh();
    }
  }

  /**
   * Scan the followed kernel. Does nothing while a scan of it runs or when
   * it is not connected; resolves once the scan ended either way.
   */
  async refresh(): Promise<void> {
    const entry = this._entry;
    if (!entry || !this.canRefresh) {
      return;
    }
    const settings = this._settings.current;
    const budgetS = settings.scanBudgetSeconds;
    const client = entry.service;
    const handle = client.scan({
      budget_s: budgetS,
      max_holders: settings.maxHolders
    });
    const scan = this._stateFor(entry);
    if (handle.requestId === null) {
      handle.done.catch(() => undefined);
      return;
    }
    const running: Private.IRunning = {
      requestId: handle.requestId,
      cancelling: false,
      progress: null
    };
    scan.running = running;
    scan.error = null;
    const onProgress = (_: unknown, message: IScanProgressMessage) => {
      if (message.request_id === running.requestId) {
        running.progress = message;
        if (this._entry === entry) {
          this._changed.emit('progress');
        }
      }
    };
    client.scanProgress.connect(onProgress);
    this._changed.emit('state');
    try {
      const raw = await handle.done;
      const open = Private.expandedKeys(scan);
      scan.result = normalizeScanResult(raw);
      scan.scannedAt = this._now();
      scan.budgetS = budgetS;
      scan.stale = false;
      scan.error = null;
      // Ids are positions in one scan's answer and mean nothing in the next, so
      // a row stays open across scans by its names (a refresh, or the setting
      // that rescans after each cell, would otherwise close it under the user).
      scan.expanded.clear();
      for (const holder of scan.result.holders) {
        if (open.has(Private.holderKey(holder))) {
          scan.expanded.add(holder.id);
        }
      }
    } catch (reason) {
      scan.error = Private.scanError(reason);
    } finally {
      client.scanProgress.disconnect(onProgress);
      if (scan.running === running) {
        scan.running = null;
      }
    }
    if (this._entry === entry) {
      this._rows = null;
      this._changed.emit('state');
    }
  }

  /**
   * Ask the helper to stop the running scan; its reply then arrives with the
   * partial results. Resolves once the helper acknowledged (or failed to).
   */
  async cancel(): Promise<void> {
    const entry = this._entry;
    const running = this._current()?.running;
    if (!entry || !running || running.cancelling) {
      return;
    }
    // Mutated in place: the running `refresh()` holds this very object.
    running.cancelling = true;
    this._changed.emit('state');
    try {
      await entry.service.cancel(running.requestId);
    } catch {
      // The scan's own reply (or its failure) still ends the running state.
    }
  }

  /** Stop following. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.setEntry(null);
    Signal.clearData(this);
  }

  private _current(): Private.IScanState | undefined {
    return this._entry ? this._scans.get(this._entry.model) : undefined;
  }

  /** The scan state of an entry, created (and watched) on first use. */
  private _stateFor(entry: IMemoryDoctorEntry): Private.IScanState {
    let scan = this._scans.get(entry.model);
    if (!scan) {
      scan = {
        result: null,
        scannedAt: null,
        budgetS: null,
        stale: false,
        error: null,
        running: null,
        expanded: new Set()
      };
      this._scans.set(entry.model, scan);
      // Watch every scanned kernel, not only the followed one, so a restart
      // while another notebook is current still marks its results stale.
      entry.model.stateChanged.connect(this._onAnyStatus, this);
    }
    return scan;
  }

  private _onAnyStatus(model: MemoryModel, status: MemoryStatus): void {
    const scan = this._scans.get(model);
    if (scan?.result && status.kind !== 'ready' && !scan.stale) {
      scan.stale = true;
      if (this._entry?.model === model) {
        this._changed.emit('state');
      }
    }
  }

  private _onCurrentStatus(): void {
    this._changed.emit('state');
  }

  private _onMeasured(): void {
    if (
      this._visible &&
      this._settings.current.autoRefreshHolders &&
      this.canRefresh
    ) {
      void this.refresh();
    }
  }

  private _invalidateRows(): void {
    this._rows = null;
    this._changed.emit('rows');
  }

  private _settings: ISettingsSource;
  private _now: () => number;
  private _entry: IMemoryDoctorEntry | null = null;
  private _scans = new WeakMap<MemoryModel, Private.IScanState>();
  private _sortKey: SortKey = 'retained';
  private _sortDirection: SortDirection = 'descending';
  private _filter = '';
  private _rows: IHolder[] | null = null;
  private _visible = false;
  private _changed = new Signal<this, HoldersChange>(this);
  private _isDisposed = false;
}

/** The namespace for `HoldersModel` options. */
export namespace HoldersModel {
  /** Options for a `HoldersModel`. */
  export interface IOptions {
    /** Live settings (budget, holder count, auto-refresh). */
    settings: ISettingsSource;
    /** The clock, replaceable in tests; defaults to `Date.now`. */
    now?: () => number;
  }
}

namespace Private {
  /** The scan state of one kernel (keyed by its `MemoryModel`). */
  export interface IScanState {
    result: IScanResult | null;
    scannedAt: number | null;
    budgetS: number | null;
    stale: boolean;
    running: IRunning | null;
    error: IScanError | null;
    expanded: Set<string>;
  }

  /** What identifies a holder across scans: its root names. */
  export function holderKey(holder: IHolder): string {
    return holder.labels.join('\u0000');
  }

  /** The keys of the rows open in `scan`'s current result. */
  export function expandedKeys(scan: IScanState): Set<string> {
    const holders = scan.result?.holders ?? [];
    return new Set(holders.filter(h => scan.expanded.has(h.id)).map(holderKey));
  }

  /** The mutable form of `IRunningScan`. */
  export interface IRunning {
    requestId: string;
    cancelling: boolean;
    progress: IScanProgressMessage | null;
  }

  /**
   * A failed scan as code and message (the reply's own message when it has
   * one), or null when the connection went away: the kernel status (stale,
   * dead, error) then tells the user more than the failure would.
   */
  export function scanError(reason: unknown): IScanError | null {
    const code =
      typeof (reason as { code?: unknown })?.code === 'string'
        ? (reason as { code: string }).code
        : 'internal';
    if (code === 'closed' || code === 'not_connected') {
      return null;
    }
    const message =
      reason instanceof Error && reason.message
        ? reason.message
        : String(reason);
    return { code, message };
  }
}
