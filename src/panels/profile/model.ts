/**
 * The line profiles of one notebook's kernel: which cells are armed
 * ("Profile memory on next run") and the last profile of each cell. The
 * notebook's service writes it; the side panel and the cell gutters read it.
 * No DOM.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type {
  ICellProfileMessage,
  IProfile,
  IProfileLine,
  ProfileBackend
} from '../../protocol';
import type { IProfileModel } from '../../tokens';

/** One profiled run, as received. */
export interface IProfileRun {
  /** The profiled cell's id, when the kernel knew it. */
  readonly cellId: string | null;
  /** The run's execution count, when known. */
  readonly executionCount: number | null;
  /** The profile itself. */
  readonly profile: IProfile;
  /** When it arrived, in epoch milliseconds. */
  readonly receivedAt: number;
}

/**
 * What changed: `armed` (the cells waiting for their next run), `profile`
 * (a profile arrived for `cellId`), `stale` (the kernel restarted: the
 * arms are gone), or `cleared`.
 */
export interface IProfileChange {
  readonly kind: 'armed' | 'profile' | 'stale' | 'cleared';
  readonly cellId: string | null;
}

/**
 * One kernel's line profiles. Profiles outlive restarts, marked stale; arms
 * do not (the kernel forgot them).
 */
export class ProfileModel implements IProfileModel, IDisposable {
  /** Cells whose next run will be profiled, with the backend they will get. */
  get armed(): ReadonlyMap<string, ProfileBackend> {
    return this._armed;
  }

  /** The last profile received (of any cell), or null. */
  get latest(): IProfileRun | null {
    return this._latest;
  }

  /** Whether the profiles predate a restart of the kernel. */
  get stale(): boolean {
    return this._stale;
  }

  /** Emitted with what changed. */
  get changed(): ISignal<this, IProfileChange> {
    return this._changed;
  }

  /** Whether the model is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The last profile of a run of `cellId`, if it was profiled. */
  forCell(cellId: string): IProfileRun | undefined {
    return findLast(this._runs, run => run.cellId === cellId);
  }

  /**
   * The last profile with lines in `cellId`: a run of that cell, or of a
   * cell that called a function it defines. Its gutter shows that one.
   */
  latestTouching(cellId: string): IProfileRun | undefined {
    return findLast(this._runs, run =>
      run.profile.lines.some(line => line.cell_id === cellId)
    );
  }

  /** Record that `cellId`'s next run is profiled (or no longer, with null). */
  setArmed(cellId: string, backend: ProfileBackend | null): void {
    if (backend === null) {
      if (!this._armed.delete(cellId)) {
        return;
      }
    } else {
      this._armed.set(cellId, backend);
    }
    this._changed.emit({ kind: 'armed', cellId });
  }

  /** Keep a `cell_profile` that arrived at `now` (epoch ms). */
  add(message: ICellProfileMessage, now: number): void {
    const run: IProfileRun = {
      cellId: message.cell_id,
      executionCount: message.execution_count,
      profile: message.profile,
      receivedAt: now
    };
    this._latest = run;
    this._stale = false;
    this._runs.push(run);
    if (this._runs.length > ProfileModel.MAX_RUNS) {
      this._runs.shift();
    }
    if (message.cell_id !== null) {
      this._armed.delete(message.cell_id);
    }
    this._changed.emit({ kind: 'profile', cellId: message.cell_id });
  }

  /** The kernel restarted or changed: arms are gone, profiles are history. */
  markStale(): void {
    if (this._stale && this._armed.size === 0) {
      return;
    }
    this._armed.clear();
    this._stale = this._latest !== null;
    this._changed.emit({ kind: 'stale', cellId: null });
  }

  /** Forget every profile and arm. */
  clear(): void {
    this._armed.clear();
    this._runs.length = 0;
    this._latest = null;
    this._stale = false;
    this._changed.emit({ kind: 'cleared', cellId: null });
  }

  /** Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._armed.clear();
    this._runs.length = 0;
    Signal.clearData(this);
  }

  private _armed = new Map<string, ProfileBackend>();
  private _runs: IProfileRun[] = [];
  private _latest: IProfileRun | null = null;
  private _stale = false;
  private _changed = new Signal<this, IProfileChange>(this);
  private _isDisposed = false;
}

/** The namespace for `ProfileModel` statics. */
export namespace ProfileModel {
  /** How many profiles a notebook keeps (the oldest go first). */
  export const MAX_RUNS = 50;
}

function findLast<T>(
  items: readonly T[],
  test: (item: T) => boolean
): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) {
    if (test(items[i])) {
      return items[i];
    }
  }
  return undefined;
}

/** A row of the panel's table of lines. */
export interface ILineRow {
  /** The line's cell, when the kernel knew its id. */
  readonly cellId: string | null;
  /** `In[N]`-style execution count of that cell's run, when known. */
  readonly executionCount: number | null;
  /** 1-based line in that cell. */
  readonly line: number;
  /** Its text, stripped (user code: shown as text only). */
  readonly source: string;
  /** Whether the figures are the function line's own (a breakdown). */
  readonly self: boolean;
  /** Bytes still allocated at the end of the run. */
  readonly netBytes: number;
  /** Bytes allocated at the run's peak. */
  readonly peakBytes: number;
  /** Names that hold what the line allocated, when the backend can tell. */
  readonly holders: readonly string[];
}

/**
 * The table of lines: the profiled cell's lines in order, then the lines of
 * notebook functions (self figures), leaving out line 0 (frame set-up) and
 * lines that allocated nothing at either point.
 */
export function lineRows(profile: IProfile): ILineRow[] {
  return profile.lines
    .filter(line => line.line > 0 && (line.net_bytes || line.peak_bytes))
    .map(lineRow);
}

function lineRow(line: IProfileLine): ILineRow {
  return {
    cellId: line.cell_id,
    executionCount: line.execution_count,
    line: line.line,
    source: line.source,
    self: line.scope === 'function',
    netBytes: line.net_bytes,
    peakBytes: line.peak_bytes,
    holders: line.holders
  };
}
