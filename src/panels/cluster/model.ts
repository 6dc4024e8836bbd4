/**
 * The Dask cluster state of one notebook's kernel: the last `scan_cluster`
 * result, whether one runs, the last failure, the holder being released and
 * the last release's outcome. The notebook's service writes it; the side
 * panel's "On the cluster" section reads it. No DOM.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type {
  IClusterHolder,
  IReleaseClusterResult,
  IScanClusterResult
} from '../../protocol';
import type { IClusterModel } from '../../tokens';

/** What a release came to: measured on the scheduler, or why not. */
export type ReleaseOutcome =
  | {
      readonly kind: 'released';
      /** The holder's labels, as the scan listed them. */
      readonly labels: readonly string[];
      readonly result: IReleaseClusterResult;
    }
  | {
      readonly kind: 'failed';
      readonly labels: readonly string[];
      /** The helper's or the connection's message (untranslated). */
      readonly message: string;
    };

/** What identifies a cluster holder across scans: its scheduler and names. */
export function holderKey(scheduler: string, holder: IClusterHolder): string {
  return [scheduler, ...holder.labels].join('\u0000');
}

/**
 * One kernel's cluster scans and releases.
 */
export class ClusterModel implements IClusterModel, IDisposable {
  /** The last `scan_cluster` result, or null before the first. */
  get result(): IScanClusterResult | null {
    return this._result;
  }

  /** When `result` arrived (milliseconds since the epoch), or null. */
  get scannedAt(): number | null {
    return this._scannedAt;
  }

  /** Whether `result` predates a restart, a kernel change or a death. */
  get stale(): boolean {
    return this._stale;
  }

  /** Whether a `scan_cluster` is on its way. */
  get running(): boolean {
    return this._running;
  }

  /** Why the last `scan_cluster` failed, cleared by the next attempt. */
  get error(): string | null {
    return this._error;
  }

  /** The key (`holderKey`) of the holder being released, or null. */
  get releasing(): string | null {
    return this._releasing;
  }

  /** The last release's outcome, or null. */
  get outcome(): ReleaseOutcome | null {
    return this._outcome;
  }

  /** Whether the kernel holds a Dask client the last scan saw. */
  get hasClusters(): boolean {
    return (this._result?.clusters.length ?? 0) > 0;
  }

  /** Emitted when anything changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether the model is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** A `scan_cluster` was sent. */
  start(): void {
    this._running = true;
    this._error = null;
    this._changed.emit();
  }

  /** It answered `result` at `time` (epoch ms). */
  finish(result: IScanClusterResult, time: number): void {
    this._running = false;
    this._result = result;
    this._scannedAt = time;
    this._stale = false;
    this._changed.emit();
  }

  /** It failed; `message` is null when the connection went away. */
  fail(message: string | null): void {
    this._running = false;
    this._error = message;
    this._changed.emit();
  }

  /** The kernel restarted, changed or died: the result no longer holds. */
  markStale(): void {
    if (this._result && !this._stale) {
      this._stale = true;
      this._changed.emit();
    }
  }

  /** The holder being confirmed or released (its key), or null. */
  setReleasing(key: string | null): void {
    if (this._releasing !== key) {
      this._releasing = key;
      this._changed.emit();
    }
  }

  /** Record a release's outcome, or forget it with null. */
  setOutcome(outcome: ReleaseOutcome | null): void {
    this._outcome = outcome;
    this._changed.emit();
  }

  /** Release listeners. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private _result: IScanClusterResult | null = null;
  private _scannedAt: number | null = null;
  private _stale = false;
  private _running = false;
  private _error: string | null = null;
  private _releasing: string | null = null;
  private _outcome: ReleaseOutcome | null = null;
  private _changed = new Signal<this, void>(this);
  private _isDisposed = false;
}
