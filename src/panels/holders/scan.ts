/**
 * The scan state of one notebook's kernel: the last result, the running
 * scan and its progress, the last failure, and which rows are open. The
 * notebook's service writes it; the side panel reads it. No DOM.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type {
  IHolder,
  IScanProgressMessage,
  IScanResult
} from '../../protocol';
import type { IScanModel } from '../../tokens';

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
 * What changed: `state` (result, failure, running scan, staleness),
 * `progress` of the running scan, or `expanded` rows.
 */
export type ScanChange = 'state' | 'progress' | 'expanded';

/**
 * One kernel's scans. Results outlive restarts, marked stale, so the panel
 * can still show them for reference.
 */
export class ScanModel implements IScanModel, IDisposable {
  /** The last complete or partial result, or null. */
  get result(): IScanResult | null {
    return this._result;
  }

  /** When `result` arrived (milliseconds since the epoch), or null. */
  get scannedAt(): number | null {
    return this._scannedAt;
  }

  /** The budget (seconds) the scan behind `result` was given. */
  get budgetSeconds(): number | null {
    return this._budgetS;
  }

  /**
   * Whether `result` predates a kernel restart, a kernel change or the
   * kernel's death: kept for reference, but no longer describes the kernel.
   */
  get stale(): boolean {
    return this._stale;
  }

  /** The last failed scan, cleared by the next success or attempt. */
  get error(): IScanError | null {
    return this._error;
  }

  /** The running scan, if any. */
  get running(): IRunningScan | null {
    return this._running;
  }

  /** Emitted with what changed. */
  get changed(): ISignal<this, ScanChange> {
    return this._changed;
  }

  /** Whether the model is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Whether a row of `result` shows its details. */
  isExpanded(id: string): boolean {
    return this._expanded.has(id);
  }

  /** Show or hide a row's details. */
  toggleExpanded(id: string): void {
    if (!this._expanded.delete(id)) {
      this._expanded.add(id);
    }
    this._changed.emit('expanded');
  }

  /** A scan was sent with this request id. */
  start(requestId: string): void {
    this._running = { requestId, cancelling: false, progress: null };
    this._error = null;
    this._changed.emit('state');
  }

  /** Progress of a scan; ignored unless it is the running one's. */
  setProgress(message: IScanProgressMessage): void {
    const running = this._running;
    if (running && message.request_id === running.requestId) {
      this._running = { ...running, progress: message };
      this._changed.emit('progress');
    }
  }

  /** The user asked to cancel the running scan. */
  setCancelling(): void {
    const running = this._running;
    if (running && !running.cancelling) {
      this._running = { ...running, cancelling: true };
      this._changed.emit('state');
    }
  }

  /**
   * The scan `requestId` returned `result`, at `time` (epoch ms), with a
   * budget of `budgetS` seconds.
   */
  finish(
    requestId: string,
    result: IScanResult,
    time: number,
    budgetS: number
  ): void {
    const open = Private.expandedKeys(this._result, this._expanded);
    this._result = result;
    this._scannedAt = time;
    this._budgetS = budgetS;
    this._stale = false;
    this._error = null;
    // Ids are positions in one scan's answer and mean nothing in the next, so
    // a row stays open across scans by its names (a refresh, or the setting
    // that rescans after each cell, would otherwise close it under the user).
    this._expanded.clear();
    for (const holder of result.holders) {
      if (open.has(Private.holderKey(holder))) {
        this._expanded.add(holder.id);
      }
    }
    this._end(requestId);
  }

  /**
   * The scan `requestId` failed; `error` is null when the connection went
   * away: the kernel status (stale, dead, error) then says more.
   */
  fail(requestId: string, error: IScanError | null): void {
    this._error = error;
    this._end(requestId);
  }

  /** The kernel restarted, changed or died: the result no longer holds. */
  markStale(): void {
    if (this._result && !this._stale) {
      this._stale = true;
      this._changed.emit('state');
    }
  }

  /** Release listeners. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private _end(requestId: string): void {
    if (this._running?.requestId === requestId) {
      this._running = null;
    }
    this._changed.emit('state');
  }

  private _result: IScanResult | null = null;
  private _scannedAt: number | null = null;
  private _budgetS: number | null = null;
  private _stale = false;
  private _error: IScanError | null = null;
  private _running: IRunningScan | null = null;
  private _expanded = new Set<string>();
  private _changed = new Signal<this, ScanChange>(this);
  private _isDisposed = false;
}

namespace Private {
  /** What identifies a holder across scans: its root names. */
  export function holderKey(holder: IHolder): string {
    return holder.labels.join('\u0000');
  }

  /** The keys of the rows open in `result`. */
  export function expandedKeys(
    result: IScanResult | null,
    expanded: Set<string>
  ): Set<string> {
    const holders = result?.holders ?? [];
    return new Set(holders.filter(h => expanded.has(h.id)).map(holderKey));
  }
}
