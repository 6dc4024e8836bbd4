/**
 * The memory state of one notebook's kernel connection: connection status,
 * per-cell measurement history and the kernel's current RSS. No DOM.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { ICellRecord, PeakMethod } from './protocol';

/**
 * Why there are (or are no) figures, as a typed union so every view can say
 * something specific instead of showing nothing.
 */
export type MemoryStatus =
  /** Waiting for the kernel, the bootstrap or the `hello`. */
  | { kind: 'connecting' }
  /** The helper answered; figures flow. */
  | {
      kind: 'ready';
      peakMethod: PeakMethod;
      peakExact: boolean;
      helperVersion: string;
      python: string;
    }
  /** The helper is not installed in the kernel's environment. */
  | { kind: 'no-helper'; hint: string }
  /** Front end and helper speak incompatible protocol versions. */
  | { kind: 'mismatch'; message: string }
  /** Not a Python kernel, or this connection does not handle comms. */
  | { kind: 'unsupported'; reason: 'language' | 'comms' }
  /** The kernel is restarting; figures are from the previous process. */
  | { kind: 'stale' }
  /** The kernel died. */
  | { kind: 'dead' }
  /** Anything else that went wrong, with a message. */
  | { kind: 'error'; message: string };

/** The kind of a `MemoryStatus`. */
export type MemoryStatusKind = MemoryStatus['kind'];

/**
 * Measurements and connection state for one notebook's kernel.
 */
export class MemoryModel implements IDisposable {
  constructor(options: MemoryModel.IOptions = {}) {
    this._cap = Math.max(1, options.historyCap ?? MemoryModel.HISTORY_CAP);
  }

  /** The connection status. */
  get status(): MemoryStatus {
    return this._status;
  }

  /** The kernel's resident memory in bytes, or null before the first reading. */
  get rss(): number | null {
    return this._rss;
  }

  /** Emitted when `status` changes. */
  get stateChanged(): ISignal<this, MemoryStatus> {
    return this._stateChanged;
  }

  /** Emitted with a cell id when that cell's history changes or is cleared. */
  get cellChanged(): ISignal<this, string> {
    return this._cellChanged;
  }

  /**
   * Emitted for every live measurement (not for records replayed by `hello`),
   * after `cellChanged`.
   */
  get measured(): ISignal<this, ICellRecord> {
    return this._measured;
  }

  /** Emitted when `rss` changes. */
  get rssChanged(): ISignal<this, number | null> {
    return this._rssChanged;
  }

  /** Whether the model is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Ids of the cells that have at least one record. */
  cellIds(): IterableIterator<string> {
    return this._history.keys();
  }

  /** A cell's records, oldest first (at most `HISTORY_CAP`). */
  history(cellId: string): readonly ICellRecord[] {
    return this._history.get(cellId) ?? Private.EMPTY;
  }

  /** A cell's latest record, if any. */
  last(cellId: string): ICellRecord | undefined {
    const records = this._history.get(cellId);
    return records ? records[records.length - 1] : undefined;
  }

  /** Set the connection status; emits only on change. */
  setStatus(status: MemoryStatus): void {
    if (Private.sameStatus(this._status, status)) {
      return;
    }
    this._status = status;
    this._stateChanged.emit(status);
  }

  /** Set the kernel's current RSS; emits only on change. */
  setRss(rss: number | null): void {
    if (this._rss === rss) {
      return;
    }
    this._rss = rss;
    this._rssChanged.emit(rss);
  }

  /**
   * Add a live measurement. Records without a cell id cannot be shown on a
   * cell and only update the RSS.
   */
  addRecord(record: ICellRecord): void {
    this.setRss(record.rss_after);
    if (this._append(record)) {
      this._cellChanged.emit(record.cell_id as string);
      this._measured.emit(record);
    }
  }

  /**
   * Add records replayed by `hello` (oldest first), skipping any this model
   * already holds, e.g. when the comm reopens on the same kernel.
   */
  replay(records: readonly ICellRecord[]): void {
    const changed = new Set<string>();
    for (const record of records) {
      if (this._append(record, true)) {
        changed.add(record.cell_id as string);
      }
    }
    for (const cellId of changed) {
      this._cellChanged.emit(cellId);
    }
  }

  /** Forget every record; emits `cellChanged` for each affected cell. */
  clear(): void {
    const ids = [...this._history.keys()];
    this._history.clear();
    for (const cellId of ids) {
      this._cellChanged.emit(cellId);
    }
  }

  /** Release listeners. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._history.clear();
    Signal.clearData(this);
  }

  private _append(record: ICellRecord, dedupe = false): boolean {
    const cellId = record.cell_id;
    if (typeof cellId !== 'string' || cellId === '') {
      return false;
    }
    let records = this._history.get(cellId);
    if (!records) {
      records = [];
      this._history.set(cellId, records);
    }
    if (
      dedupe &&
      records.some(
        r =>
          r.started_at === record.started_at &&
          r.execution_count === record.execution_count
      )
    ) {
      return false;
    }
    records.push(record);
    if (records.length > this._cap) {
      records.splice(0, records.length - this._cap);
    }
    return true;
  }

  private _cap: number;
  private _status: MemoryStatus = { kind: 'connecting' };
  private _rss: number | null = null;
  private _history = new Map<string, ICellRecord[]>();
  private _stateChanged = new Signal<this, MemoryStatus>(this);
  private _cellChanged = new Signal<this, string>(this);
  private _measured = new Signal<this, ICellRecord>(this);
  private _rssChanged = new Signal<this, number | null>(this);
  private _isDisposed = false;
}

/** The namespace for `MemoryModel` statics. */
export namespace MemoryModel {
  /** Records kept per cell. */
  export const HISTORY_CAP = 50;

  /** Options for a `MemoryModel`. */
  export interface IOptions {
    /** Records kept per cell; defaults to `HISTORY_CAP`. */
    historyCap?: number;
  }
}

namespace Private {
  export const EMPTY: readonly ICellRecord[] = Object.freeze([]);

  /** Shallow comparison of two statuses (all their fields are primitives). */
  export function sameStatus(a: MemoryStatus, b: MemoryStatus): boolean {
    const left = a as unknown as Record<string, unknown>;
    const right = b as unknown as Record<string, unknown>;
    const keys = Object.keys(left);
    return (
      keys.length === Object.keys(right).length &&
      keys.every(key => left[key] === right[key])
    );
  }
}
