/**
 * The kernel's memory over time: one `Poll` sends `get_rss` and one function
 * turns its reply into a reading of the `MemoryModel`. No DOM.
 *
 * The poll has two cadences. While a cell of this notebook runs it reads
 * twice a second, if the kernel can answer then: JupyterLab ≥ 4.4 sends
 * comm messages over a per-target kernel subshell when the kernel supports
 * subshells (ipykernel ≥ 7), so a `get_rss` is answered on the subshell
 * thread at once. Elsewhere it would wait for the cell to end, so it is not
 * sent and the figures come with the cell's record. While no cell runs it
 * reads every `statusRefreshSeconds`, only when the kernel is idle and the
 * browser tab is visible.
 */

import type { Kernel } from '@jupyterlab/services';
import type { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';

import type { ExecutionTracker } from './executions';
import type {
  IMemoryReading,
  IRunningCell,
  LiveMode,
  MemoryModel
} from './model';
import type { IGetRssResult } from './protocol';
import type { ISettingsSource } from './settings';

/**
 * Whether comm messages to this kernel go over a subshell, so that requests
 * are answered while a cell runs.
 */
export function commsOverSubshells(
  kernel: Pick<Kernel.IKernelConnection, 'supportsSubshells'> & {
    commsOverSubshells?: string;
  }
): boolean {
  return (
    kernel.supportsSubshells === true &&
    (kernel.commsOverSubshells ?? 'disabled') !== 'disabled'
  );
}

/**
 * Apply a decoded `get_rss` result to the model: the memory limit, and a
 * reading that goes to the running cell when the kernel (or, for a 1.1
 * helper, the iopub status) says one runs, else to the timeline. `busy` says
 * whether an execution of this notebook is still running; `now` is epoch
 * seconds, the time of a reading from a 1.1 helper (which sends none).
 */
export function applyReading(
  model: MemoryModel,
  result: IGetRssResult,
  busy: boolean,
  now: number
): void {
  if (result.memory_limit) {
    model.setMemoryLimit(result.memory_limit);
  }
  const reading: IMemoryReading = {
    time: result.time ?? now,
    rss: result.rss,
    peakRss: result.peak_rss
  };
  const known = model.running;
  const kernelSays = result.running;
  let running: IRunningCell | null = null;
  if (kernelSays === undefined) {
    // A 1.1 helper cannot say which cell runs: trust the iopub status.
    running = known && { ...known, reading };
  } else if (kernelSays !== null) {
    const cellId = kernelSays.cell_id ?? known?.cellId ?? null;
    const ended =
      cellId !== null &&
      model.last(cellId)?.started_at === kernelSays.started_at;
    // A reply taken just before the cell ended arrives after its record.
    if (cellId !== null && !ended && busy) {
      running = {
        cellId,
        executionCount: kernelSays.execution_count,
        startedAt: kernelSays.started_at,
        rssBefore: kernelSays.rss_before,
        live: 'on',
        reading
      };
    }
  }
  if (running) {
    model.setRunning(running);
  } else {
    model.addReading(reading);
  }
}

/**
 * Reads the kernel's memory with one `Poll`: live cadence while a cell of
 * the notebook runs, idle cadence otherwise, nothing while not connected.
 */
export class ReadingsPoll implements IDisposable {
  constructor(options: ReadingsPoll.IOptions) {
    this._executions = options.executions;
    this._model = options.model;
    this._settings = options.settings;
    this._request = options.request;
    this._liveMs = options.liveIntervalMs ?? ReadingsPoll.LIVE_INTERVAL_MS;
    this._now = options.now ?? Date.now;
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: Private.frequency(Poll.NEVER),
      // A hidden tab needs no idle readings, but readings while a cell runs
      // go on: they are the last figures a death note keeps when the kernel
      // is killed (out of memory) while the user looks elsewhere.
      standby: () => (this._executions.busy ? 'never' : 'when-hidden'),
      // Stand by from the first hidden tick.
      linger: 0,
      name: 'jupyterlab-memory-doctor:get_rss'
    });
    this._executions.changed.connect(this._update, this);
    this._settings.changed.connect(this._update, this);
  }

  /** How readings arrive while a cell of the current kernel runs. */
  get mode(): LiveMode {
    if (!this._settings.current.liveReadings) {
      return 'off';
    }
    const kernel = this._executions.kernel;
    return kernel && commsOverSubshells(kernel) ? 'on' : 'no-subshells';
  }

  /**
   * Milliseconds between readings now: the live cadence while a cell runs
   * (if the kernel can answer then), else the idle one; `Poll.NEVER` while
   * not connected or when the settings turn readings off.
   */
  get interval(): number {
    if (!this._connected) {
      return Poll.NEVER;
    }
    if (this._executions.busy) {
      return this.mode === 'on' ? this._liveMs : Poll.NEVER;
    }
    const seconds = this._settings.current.statusRefreshSeconds;
    return seconds > 0
      ? Math.min(seconds * 1000, Poll.MAX_INTERVAL)
      : Poll.NEVER;
  }

  /** Whether the poll is disposed. */
  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /**
   * Whether the helper answers requests; readings start once it does and
   * stop when it no longer does.
   */
  setConnected(connected: boolean): void {
    if (connected !== this._connected) {
      this._connected = connected;
      this._update();
    }
  }

  /** Stop polling. Safe to call twice. */
  dispose(): void {
    if (this._poll.isDisposed) {
      return;
    }
    this._executions.changed.disconnect(this._update, this);
    this._settings.changed.disconnect(this._update, this);
    this._poll.dispose();
  }

  /**
   * Switch cadence when it changed (a cell started or the last one ended,
   * a setting, a (dis)connection): the countdown starts again from now at
   * the new interval. An unchanged cadence keeps its countdown.
   */
  private _update(): void {
    const interval = this.interval;
    if (interval === this._poll.frequency.interval || this.isDisposed) {
      return;
    }
    this._poll.frequency = Private.frequency(interval);
    void this._poll.schedule({ interval, phase: 'refreshed' });
  }

  private async _tick(): Promise<void> {
    if (this._inFlight || !this._connected) {
      return;
    }
    const executions = this._executions;
    const kernel = executions.kernel;
    // While idle, only ask an idle kernel: a comm message queues behind
    // another client's execution (ipykernel < 7).
    if (executions.busy ? this.mode !== 'on' : kernel?.status !== 'idle') {
      return;
    }
    this._inFlight = true;
    try {
      const result = await this._request();
      if (kernel === executions.kernel && !this.isDisposed) {
        applyReading(this._model, result, executions.busy, this._now() / 1000);
      }
    } catch {
      // A missed reading is harmless: the next one, or the record, follows.
    } finally {
      this._inFlight = false;
    }
  }

  private _executions: ExecutionTracker;
  private _model: MemoryModel;
  private _settings: ISettingsSource;
  private _request: () => Promise<IGetRssResult>;
  private _liveMs: number;
  private _now: () => number;
  private _poll: Poll;
  private _connected = false;
  private _inFlight = false;
}

/** The namespace for `ReadingsPoll` statics. */
export namespace ReadingsPoll {
  /**
   * Milliseconds between live readings: twice a second, so that the badge
   * changes at least once a second even with a slow reply.
   */
  export const LIVE_INTERVAL_MS = 500;

  /** Options for a `ReadingsPoll`. */
  export interface IOptions {
    /** The notebook's executions and kernel. */
    executions: ExecutionTracker;
    /** The model that receives the readings. */
    model: MemoryModel;
    /** Live settings (`statusRefreshSeconds`, `liveReadings`). */
    settings: ISettingsSource;
    /** Sends `get_rss`; resolves with the decoded result. */
    request: () => Promise<IGetRssResult>;
    /** Milliseconds between live readings; defaults to `LIVE_INTERVAL_MS`. */
    liveIntervalMs?: number;
    /** The clock in epoch milliseconds, replaceable in tests. */
    now?: () => number;
  }
}

namespace Private {
  /**
   * A poll frequency of `interval` ms. A missed reading is not an error
   * (the factory never rejects), so there is no backoff.
   */
  export function frequency(interval: number) {
    return { interval, backoff: false, max: Poll.MAX_INTERVAL };
  }
}
