/**
 * The memory state of one notebook's kernel connection: connection status,
 * per-cell measurement history and the kernel's current RSS. No DOM.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type {
  ICellCluster,
  ICellRecord,
  IMemoryLimit,
  PeakMethod
} from './protocol';
import type { IMemoryModel } from './tokens';

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
      /**
       * The kernel's process id (the hello's `pid`), which tells a magic's
       * output of this kernel from another's; absent when not known.
       */
      pid?: number;
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

/** Whether two statuses are the same (all their fields are primitives). */
export function sameStatus(a: MemoryStatus, b: MemoryStatus): boolean {
  const left = a as unknown as Record<string, unknown>;
  const right = b as unknown as Record<string, unknown>;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every(key => left[key] === right[key])
  );
}

/** One reading of the kernel's memory (`get_rss`), live or idle. */
export interface IMemoryReading {
  /** When it was taken, epoch seconds (the kernel's clock when it says). */
  readonly time: number;
  /** Resident memory, bytes. */
  readonly rss: number;
  /** High-water mark since the running (or last) measured cell started. */
  readonly peakRss: number | null;
}

/** Whether live readings arrive while a cell runs; see `IRunningCell.live`. */
export type LiveMode = 'on' | 'no-subshells' | 'off';

/** The measured cell executing now, as far as the front end knows. */
export interface IRunningCell {
  /** The cell model id. */
  readonly cellId: string;
  /** Its execution count, once the kernel said. */
  readonly executionCount: number | null;
  /** When it started, epoch seconds (front-end clock until the kernel says). */
  readonly startedAt: number;
  /** RSS when it started, once the kernel said. */
  readonly rssBefore: number | null;
  /**
   * Whether live readings can arrive while it runs: `on` (comms go over a
   * kernel subshell), `no-subshells` (the figures come when the cell ends)
   * or `off` (turned off in the settings).
   */
  readonly live: LiveMode;
  /** The latest live reading, if any arrived. */
  readonly reading: IMemoryReading | null;
}

/** What was known when the kernel died or was killed. */
export interface IDeathNote {
  /** When the death was noticed, epoch seconds. */
  readonly time: number;
  /** The cell that was running, if one was. */
  readonly cellId: string | null;
  /** Its execution count, if known. */
  readonly executionCount: number | null;
  /** The last reading before the death (live, or the last known RSS). */
  readonly reading: IMemoryReading | null;
  /** The memory limit that applied. */
  readonly limit: IMemoryLimit | null;
}

/**
 * Measurements and connection state for one notebook's kernel.
 */
export class MemoryModel implements IMemoryModel, IDisposable {
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

  /** The memory limit that applies to the kernel, once the helper said. */
  get memoryLimit(): IMemoryLimit | null {
    return this._limit;
  }

  /** The measured cell running now, if any. */
  get running(): IRunningCell | null {
    return this._running;
  }

  /** What was known when the kernel last died, until cleared. */
  get lastDeath(): IDeathNote | null {
    return this._death;
  }

  /**
   * Readings of the kernel's memory over time (idle polls, live readings and
   * each cell's end), oldest first, at most `READINGS_CAP`.
   */
  get readings(): readonly IMemoryReading[] {
    return this._readings;
  }

  /**
   * Emitted with the ids of the cells whose running or death state changed,
   * and when the memory limit or the death note changes (possibly with no
   * ids): the running cell's badge and the status bar redraw on it.
   */
  get liveChanged(): ISignal<this, readonly string[]> {
    return this._liveChanged;
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
    if (sameStatus(this._status, status)) {
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

  /** Set the memory limit; emits `liveChanged` on change. */
  setMemoryLimit(limit: IMemoryLimit | null): void {
    const old = this._limit;
    if (old?.bytes === limit?.bytes && old?.source === limit?.source) {
      return;
    }
    this._limit = limit;
    this._liveChanged.emit([]);
  }

  /**
   * Add a reading of the kernel's memory: it becomes `rss` and a point of
   * `readings`. Readings older than the last one are ignored (a late reply).
   */
  addReading(reading: IMemoryReading): void {
    const readings = this._readings;
    const last = readings[readings.length - 1];
    if (last && reading.time < last.time) {
      return;
    }
    // A flat stretch (an idle kernel polled every few seconds) needs only
    // its two ends: move the end instead of adding a point.
    const before = readings[readings.length - 2];
    if (
      last &&
      before &&
      last.rss === reading.rss &&
      before.rss === reading.rss
    ) {
      readings.pop();
    }
    readings.push(reading);
    if (readings.length > MemoryModel.READINGS_CAP) {
      readings.splice(0, readings.length - MemoryModel.READINGS_CAP);
    }
    this.setRss(reading.rss);
  }

  /**
   * Set the measured cell running now (or none). A reading it carries also
   * goes through `addReading`. Starting a cell clears its death note: it is
   * being tried again.
   */
  setRunning(running: IRunningCell | null): void {
    const previous = this._running;
    if (previous === running) {
      return;
    }
    this._running = running;
    const ids = new Set<string>();
    if (previous) {
      ids.add(previous.cellId);
    }
    if (running) {
      ids.add(running.cellId);
      if (this._death?.cellId === running.cellId) {
        this._death = null;
      }
      if (running.reading && running.reading !== previous?.reading) {
        this.addReading(running.reading);
      }
    }
    this._liveChanged.emit([...ids]);
  }

  /**
   * Remember what was known when the kernel died: the running cell and the
   * last reading. Clears the running cell.
   */
  noteDeath(time: number): void {
    const running = this._running;
    const lastReading = this._readings[this._readings.length - 1] ?? null;
    this._death = {
      time,
      cellId: running?.cellId ?? null,
      executionCount: running?.executionCount ?? null,
      reading: running?.reading ?? lastReading,
      limit: this._limit
    };
    this._running = null;
    const ids = new Set<string>();
    if (running) {
      ids.add(running.cellId);
    }
    this._liveChanged.emit([...ids]);
  }

  /**
   * Add a live measurement. Records without a cell id cannot be shown on a
   * cell and only update the RSS.
   */
  addRecord(record: ICellRecord): void {
    this.addReading({
      time: record.started_at + record.duration_s,
      rss: record.rss_after,
      peakRss: record.peak_rss
    });
    this.setRss(record.rss_after);
    const ids: string[] = [];
    if (this._running && this._running.cellId === record.cell_id) {
      // The cell ended: its badge shows the record from now on.
      ids.push(this._running.cellId);
      this._running = null;
    }
    if (record.cell_id && this._death?.cellId === record.cell_id) {
      ids.push(record.cell_id);
      this._death = null;
    }
    if (this._append(record)) {
      this._cellChanged.emit(record.cell_id as string);
      this._measured.emit(record);
    }
    if (ids.length > 0) {
      this._liveChanged.emit(ids);
    }
  }

  /**
   * A cell's Dask cluster measurement arrived (`cell_cluster`, 1.3): it
   * replaces the pending `cluster` of that run's record, whose cell then
   * emits `cellChanged`. A run this model no longer holds is ignored.
   */
  setCluster(
    cellId: string | null,
    executionCount: number,
    cluster: ICellCluster
  ): void {
    const records = cellId ? this._history.get(cellId) : undefined;
    if (!cellId || !records) {
      return;
    }
    for (let i = records.length - 1; i >= 0; i--) {
      if (records[i].execution_count === executionCount) {
        records[i] = { ...records[i], cluster };
        this._cellChanged.emit(cellId);
        return;
      }
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

  /**
   * Forget every record, the readings and the death note; emits
   * `cellChanged` for each affected cell. The running cell stays.
   */
  clear(): void {
    const ids = [...this._history.keys()];
    this._history.clear();
    this._readings = [];
    for (const cellId of ids) {
      this._cellChanged.emit(cellId);
    }
    const death = this._death;
    if (death) {
      this._death = null;
      this._liveChanged.emit(death.cellId ? [death.cellId] : []);
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
  private _liveChanged = new Signal<this, readonly string[]>(this);
  private _limit: IMemoryLimit | null = null;
  private _running: IRunningCell | null = null;
  private _death: IDeathNote | null = null;
  private _readings: IMemoryReading[] = [];
  private _isDisposed = false;
}

/** The namespace for `MemoryModel` statics. */
export namespace MemoryModel {
  /** Records kept per cell. */
  export const HISTORY_CAP = 50;

  /**
   * Readings kept for the timeline: about 20 minutes of live readings every
   * 0.5 s, or a long session of idle polls and cells.
   */
  export const READINGS_CAP = 2500;

  /** Options for a `MemoryModel`. */
  export interface IOptions {
    /** Records kept per cell; defaults to `HISTORY_CAP`. */
    historyCap?: number;
  }
}

namespace Private {
  export const EMPTY: readonly ICellRecord[] = Object.freeze([]);
}
