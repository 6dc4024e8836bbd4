/**
 * The Timeline's data: the followed notebook's kernel RSS over the session
 * and one point per executed cell, from the records and readings the
 * notebook's model already holds. No DOM.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { ICellRecord } from '../../protocol';
import type { IMemoryDoctorEntry, IMemoryModel } from '../../tokens';

/** One executed cell on the timeline. */
export interface ITimelinePoint {
  /** The cell model id. */
  readonly cellId: string;
  /** The run's record. */
  readonly record: ICellRecord;
  /** When the run ended, epoch seconds. */
  readonly end: number;
}

/** The kernel's RSS over time. */
export interface IRssLine {
  /** Epoch seconds, ascending. */
  readonly times: number[];
  /** Bytes. */
  readonly rss: number[];
}

/**
 * The memory of the kernel's Dask clusters after each run that measured it
 * (protocol 1.3): the workers' process memory, summed over the schedulers.
 */
export interface IClusterLine {
  /** When each run ended, epoch seconds, ascending. */
  readonly times: number[];
  /** Bytes. */
  readonly memory: number[];
}

/** A cell in the top lists: its largest run by the list's figure. */
export interface ITopCell {
  /** The cell model id. */
  readonly cellId: string;
  /** The run with the largest figure. */
  readonly record: ICellRecord;
  /** The figure, bytes. */
  readonly bytes: number;
}

/** What the top lists rank by. */
export type TopKey = 'peak' | 'delta';

/** Pure: the points of every run, oldest first. */
export function timelinePoints(model: IMemoryModel): ITimelinePoint[] {
  const points: ITimelinePoint[] = [];
  for (const cellId of model.cellIds()) {
    for (const record of model.history(cellId)) {
      points.push({
        cellId,
        record,
        end: record.started_at + record.duration_s
      });
    }
  }
  return points.sort((a, b) => a.end - b.end);
}

/**
 * Pure: the RSS line, from each run's start and end and every reading (idle
 * polls and live readings), in time order.
 */
export function rssLine(
  points: readonly ITimelinePoint[],
  model: IMemoryModel
): IRssLine {
  const samples: [number, number][] = [];
  for (const point of points) {
    samples.push([point.record.started_at, point.record.rss_before]);
    samples.push([point.end, point.record.rss_after]);
  }
  for (const reading of model.readings) {
    samples.push([reading.time, reading.rss]);
  }
  samples.sort((a, b) => a[0] - b[0]);
  // A run's end is also recorded as a reading: draw it once.
  const unique = samples.filter(
    (s, i) =>
      i === 0 || s[0] !== samples[i - 1][0] || s[1] !== samples[i - 1][1]
  );
  return {
    times: unique.map(s => s[0]),
    rss: unique.map(s => s[1])
  };
}

/** Pure: the cluster line, from the runs whose cluster was measured. */
export function clusterLine(points: readonly ITimelinePoint[]): IClusterLine {
  const times: number[] = [];
  const memory: number[] = [];
  for (const point of points) {
    const cluster = point.record.cluster;
    const measured = cluster?.pending
      ? []
      : (cluster?.clusters ?? []).filter(c => c.after !== null);
    if (measured.length > 0) {
      times.push(point.end);
      memory.push(measured.reduce((sum, c) => sum + (c.after?.memory ?? 0), 0));
    }
  }
  return { times, memory };
}

/**
 * Pure: the `count` cells with the largest peak increase (or RSS change) in
 * any one run, largest first; cells whose figure is not positive are left
 * out.
 */
export function topCells(
  points: readonly ITimelinePoint[],
  key: TopKey,
  count: number
): ITopCell[] {
  const best = new Map<string, ITopCell>();
  for (const { cellId, record } of points) {
    const bytes = key === 'peak' ? record.peak_increase : record.rss_delta;
    const current = best.get(cellId);
    if (bytes > 0 && (!current || bytes > current.bytes)) {
      best.set(cellId, { cellId, record, bytes });
    }
  }
  return [...best.values()]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, Math.max(0, count));
}

/**
 * Follows one notebook's memory model and says when the timeline changed.
 * Derived data are computed on demand and cached until the next change.
 */
export class TimelineModel implements IDisposable {
  /** The followed notebook's memory state, if any. */
  get entry(): IMemoryDoctorEntry | null {
    return this._entry;
  }

  /** Emitted when the data changed (a run, a reading, a clear). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether the model is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Every run of the followed kernel's cells, oldest first. */
  get points(): readonly ITimelinePoint[] {
    if (this._points === null) {
      this._points = this._entry ? timelinePoints(this._entry.model) : [];
    }
    return this._points;
  }

  /** The kernel's RSS over time. */
  get rss(): IRssLine {
    const model = this._entry?.model;
    return model ? rssLine(this.points, model) : { times: [], rss: [] };
  }

  /** The Dask clusters' memory after each run that measured it. */
  get cluster(): IClusterLine {
    return clusterLine(this.points);
  }

  /** The top cells by peak increase or RSS change. */
  top(key: TopKey, count = TimelineModel.TOP_COUNT): ITopCell[] {
    return topCells(this.points, key, count);
  }

  /** Follow another notebook's memory state (or none). */
  setEntry(entry: IMemoryDoctorEntry | null): void {
    if (entry === this._entry) {
      return;
    }
    const old = this._entry?.model;
    old?.cellChanged.disconnect(this._onRecords, this);
    old?.rssChanged.disconnect(this._onReadings, this);
    this._entry = entry;
    const model = entry?.model;
    model?.cellChanged.connect(this._onRecords, this);
    model?.rssChanged.connect(this._onReadings, this);
    this._onRecords();
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

  private _onRecords(): void {
    this._points = null;
    this._changed.emit();
  }

  private _onReadings(): void {
    this._changed.emit();
  }

  private _entry: IMemoryDoctorEntry | null = null;
  private _points: ITimelinePoint[] | null = null;
  private _changed = new Signal<this, void>(this);
  private _isDisposed = false;
}

/** The namespace for `TimelineModel` statics. */
export namespace TimelineModel {
  /** Cells in each top list. */
  export const TOP_COUNT = 5;
}
