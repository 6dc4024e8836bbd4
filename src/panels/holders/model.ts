/**
 * The state of the "What's holding memory" panel: which notebook it follows
 * (its kernel's scans are that notebook's scan model, written by its
 * service), sorting and filtering, and what to show. No DOM, and no
 * requests: the panel asks the notebook's service to scan.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type {
  IHolder,
  IHolderBrief,
  IScanResult,
  ScanStopped
} from '../../protocol';
import type { IMemoryDoctorEntry, IScanModel } from '../../tokens';
import type { IRunningScan, IScanError, ScanChange } from './scan';
import {
  defaultDirection,
  filterRows,
  holderSearchText,
  SortDirection,
  SortKey,
  sortRows
} from './sort';

export type { IRunningScan, IScanError } from './scan';
export type { SortDirection, SortKey } from './sort';

/**
 * A row of the table: a holder the scan sent, or (`brief`) one of the index
 * that the filter found, without a path, roots or composition.
 */
export type IHolderRow = IHolder & {
  /** Whether the scan sent only its names, type and size. */
  readonly brief?: boolean;
};

/** How many holders the scan found, before the `max_holders` cut. */
export function holdersTotal(result: IScanResult | null): number {
  if (!result) {
    return 0;
  }
  const total = result.holders_total;
  return typeof total === 'number'
    ? Math.max(total, result.holders.length)
    : result.holders.length;
}

/** The holders past the cut, in brief (empty from a helper before 1.3). */
export function holderIndex(
  result: IScanResult | null
): readonly IHolderBrief[] {
  return result?.holder_index ?? [];
}

/** A brief holder as a row; `id` is unique among the result's ids. */
export function briefRow(brief: IHolderBrief, id: string): IHolderRow {
  return {
    id,
    labels: brief.labels,
    kind: 'variable',
    roots: [],
    type: brief.type,
    retained_bytes: brief.retained_bytes,
    objects: brief.objects,
    path: '',
    cell_id: null,
    execution_count: null,
    composition: [],
    shared: false,
    device: null,
    file_backed: false,
    brief: true
  };
}

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

/**
 * Follows one notebook at a time. Each notebook keeps its kernel's own
 * scans, so switching notebooks shows each kernel's own results.
 */
export class HoldersModel implements IDisposable {
  /** The followed notebook's memory state, if any. */
  get entry(): IMemoryDoctorEntry | null {
    return this._entry;
  }

  /** The state to show; see `HoldersState`. */
  get state(): HoldersState {
    const scans = this._scans();
    if (scans?.result) {
      return scans.result.holders.length > 0
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
        if (scans?.running) {
          return { kind: 'scanning' };
        }
        return scans?.error
          ? { kind: 'error', error: scans.error }
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
    return this._scans()?.result ?? null;
  }

  /** When `result` arrived (milliseconds since the epoch), or null. */
  get scannedAt(): number | null {
    return this._scans()?.scannedAt ?? null;
  }

  /** The budget (seconds) the scan behind `result` was given. */
  get budgetSeconds(): number | null {
    return this._scans()?.budgetSeconds ?? null;
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
    return this._scans()?.stale ?? false;
  }

  /** The last failed scan, cleared by the next success or attempt. */
  get error(): IScanError | null {
    return this._scans()?.error ?? null;
  }

  /** The running scan of the followed kernel, if any. */
  get running(): IRunningScan | null {
    return this._scans()?.running ?? null;
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

  /**
   * The holders of `result` that pass the filter, sorted; with a filter,
   * also the holders past the `max_holders` cut whose names match (brief
   * rows, from the 1.3 `holder_index`). Cached.
   */
  get rows(): readonly IHolderRow[] {
    if (this._rows === null) {
      const result = this.result;
      const rows: IHolderRow[] = filterRows(
        result?.holders ?? [],
        this._filter
      );
      if (this._filter.trim()) {
        const needle = this._filter.trim().toLowerCase();
        holderIndex(result).forEach((brief, i) => {
          if (holderSearchText(brief).includes(needle)) {
            rows.push(briefRow(brief, `index-${i}`));
          }
        });
      }
      this._rows = sortRows(rows, this._sortKey, this._sortDirection);
    }
    return this._rows;
  }

  /** How many holders the scan found, before the `max_holders` cut. */
  get total(): number {
    return holdersTotal(this.result);
  }

  /**
   * Whether the filter searches every holder the scan found: the scan sent
   * them all, or the names of the rest (a helper before 1.3 sends neither).
   */
  get searchesAll(): boolean {
    const result = this.result;
    if (!result) {
      return true;
    }
    return result.holders.length + holderIndex(result).length >= this.total;
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
    return this._scans()?.isExpanded(id) ?? false;
  }

  /** Show or hide a row's details. */
  toggleExpanded(id: string): void {
    this._scans()?.toggleExpanded(id);
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
    this._entry?.model.stateChanged.disconnect(this._onStatus, this);
    this._entry?.scans.changed.disconnect(this._onScans, this);
    this._entry = entry;
    entry?.model.stateChanged.connect(this._onStatus, this);
    entry?.scans.changed.connect(this._onScans, this);
    this._rows = null;
    this._changed.emit('state');
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

  private _scans(): IScanModel | undefined {
    return this._entry?.scans;
  }

  private _onStatus(): void {
    this._changed.emit('state');
  }

  private _onScans(_: IScanModel, change: ScanChange): void {
    if (change === 'state') {
      this._rows = null;
    }
    this._changed.emit(change);
  }

  private _invalidateRows(): void {
    this._rows = null;
    this._changed.emit('rows');
  }

  private _entry: IMemoryDoctorEntry | null = null;
  private _sortKey: SortKey = 'retained';
  private _sortDirection: SortDirection = 'descending';
  private _filter = '';
  private _rows: IHolderRow[] | null = null;
  private _changed = new Signal<this, HoldersChange>(this);
  private _isDisposed = false;
}
