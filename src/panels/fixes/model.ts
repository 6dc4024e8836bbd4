/**
 * The fix state of one notebook's kernel: the fix being confirmed or
 * applied, whether it waits for a running cell, and the last outcome. The
 * notebook's service writes it; the panel's fix sections read it. No DOM.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { MemoryStatus } from '../../model';
import type { IFixResult, ISuggestion } from '../../protocol';
import type { IFixModel, IScanModel } from '../../tokens';

/**
 * What became of the last fix asked for in a kernel, as a typed union so the
 * view always has something specific to say.
 */
export type FixOutcome =
  /** The helper applied it and measured the RSS across it. */
  | { kind: 'applied'; suggestion: ISuggestion; result: IFixResult }
  /**
   * The helper refused (e.g. the variable changed since the scan); its
   * message says why and a rescan brings fresh suggestions.
   */
  | { kind: 'refused'; suggestion: ISuggestion; message: string }
  /** It failed or got no answer (`code` is the error code or `timeout`). */
  | { kind: 'failed'; suggestion: ISuggestion; code: string; message: string }
  /** Its code was inserted as a new cell (not run). */
  | { kind: 'inserted'; suggestion: ISuggestion }
  /** Its code could not be inserted: no notebook to insert into. */
  | { kind: 'no-notebook'; suggestion: ISuggestion }
  /** "Apply all": what became of each fix, in the order they ran. */
  | { kind: 'batch'; outcomes: FixOutcome[] };

/**
 * Why no fix can be applied now: another one is, a scan is running (its
 * results bring new suggestions), the suggestions predate a restart, or the
 * kernel is not connected (or was never scanned).
 */
export type FixBlocker = 'applying' | 'scanning' | 'stale' | 'disconnected';

/**
 * Why no fix of the latest scan can be applied now, or null when one can:
 * only a connected kernel's latest, current scan has suggestions the helper
 * will accept, and one fix runs at a time.
 */
export function fixBlocker(
  status: MemoryStatus,
  scan: Pick<IScanModel, 'result' | 'running' | 'stale'>,
  fix: Pick<IFixModel, 'applying'>
): FixBlocker | null {
  if (fix.applying !== null) {
    return 'applying';
  }
  if (scan.running) {
    return 'scanning';
  }
  if (scan.stale) {
    return 'stale';
  }
  if (status.kind !== 'ready' || !scan.result) {
    return 'disconnected';
  }
  return null;
}

/**
 * One kernel's fixes: at most one being applied, and the last outcome.
 */
export class FixModel implements IFixModel, IDisposable {
  /**
   * The id of the suggestion being confirmed or applied, or null.
   */
  get applying(): string | null {
    return this._applying;
  }

  /**
   * Whether the fix was sent and waits for the running cell to end (the
   * helper applies it only then).
   */
  get waiting(): boolean {
    return this._waiting;
  }

  /** The last outcome, or null. */
  get outcome(): FixOutcome | null {
    return this._outcome;
  }

  /** Emitted when anything changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether the model is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Claim the kernel for a fix (or release it with null). */
  setApplying(id: string | null): void {
    if (id !== this._applying) {
      this._applying = id;
      this._changed.emit();
    }
  }

  /** Say whether the sent fix waits for a running cell. */
  setWaiting(waiting: boolean): void {
    if (waiting !== this._waiting) {
      this._waiting = waiting;
      this._changed.emit();
    }
  }

  /** Record an outcome, or forget it with null. */
  setOutcome(outcome: FixOutcome | null): void {
    if (outcome !== this._outcome) {
      this._outcome = outcome;
      this._changed.emit();
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

  private _applying: string | null = null;
  private _waiting = false;
  private _outcome: FixOutcome | null = null;
  private _changed = new Signal<this, void>(this);
  private _isDisposed = false;
}
