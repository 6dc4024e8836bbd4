/**
 * Live readings while a cell runs, and what the front end knows about the
 * running cell. No DOM.
 *
 * JupyterLab ≥ 4.4 sends comm messages over a per-target kernel subshell when
 * the kernel supports subshells (ipykernel ≥ 7), so a `get_rss` sent while a
 * cell executes is answered on the subshell thread at once. Elsewhere it
 * would wait for the cell to end, so we do not send it and say that the
 * figures come at the end of the cell.
 *
 * Which cell runs comes from the kernel's own messages: the `execute_request`
 * this notebook sent carries `metadata.cellId`, and the iopub `status` that
 * names it as parent says when it starts (busy) and ends (idle). The kernel's
 * `running` answer (protocol 1.2) is the authority once it arrives. Note that
 * `kernel.status` cannot tell: every comm reply on a subshell publishes its
 * own busy/idle pair, which JupyterLab 4.6 applies to the kernel status even
 * while the main shell is still busy with the cell.
 */

import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import type { KernelClient } from './kernelClient';
import type {
  IMemoryReading,
  IRunningCell,
  LiveMode,
  MemoryModel,
  MemoryStatus
} from './model';
import type { IResults } from './protocol';
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
 * Follows one notebook's kernel: tracks the running cell, polls `get_rss`
 * while a cell runs (when the kernel can answer), and notes the kernel's
 * death with the last figures.
 */
export class LiveReadings implements IDisposable {
  constructor(options: LiveReadings.IOptions) {
    this._context = options.sessionContext;
    this._client = options.client;
    this._model = options.model;
    this._settings = options.settings;
    this._intervalMs = options.intervalMs ?? LiveReadings.INTERVAL_MS;
    this._now = options.now ?? (() => Date.now() / 1000);
    this._context.kernelChanged.connect(this._onKernelChanged, this);
    this._context.statusChanged.connect(this._onStatusChanged, this);
    this._settings.changed.connect(this._onSettingsChanged, this);
    this._model.stateChanged.connect(this._onModelStatus, this);
    this._follow(this._context.session?.kernel ?? null);
  }

  /** Whether the object is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** How readings arrive while a cell of the current kernel runs. */
  get mode(): LiveMode {
    if (!this._settings.current.liveReadings) {
      return 'off';
    }
    const kernel = this._kernel;
    return kernel && commsOverSubshells(kernel) ? 'on' : 'no-subshells';
  }

  /** Whether an execution this notebook sent is running in the kernel. */
  get busy(): boolean {
    return this._executing.size > 0;
  }

  /** Whether a `get_rss` poll is waiting for its reply or its timer. */
  get isPolling(): boolean {
    return this._timer !== null || this._inFlight;
  }

  /** Stop following. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._follow(null);
    Signal.disconnectReceiver(this);
    Signal.clearData(this);
  }

  /**
   * Take one reading now (normally the timer does this); resolves once it
   * has been applied or failed.
   */
  async poll(): Promise<void> {
    if (this._inFlight || !this._client.isReady) {
      return;
    }
    const kernel = this._kernel;
    this._inFlight = true;
    try {
      const result = await this._client.request('get_rss', {});
      if (kernel === this._kernel && !this._isDisposed) {
        this._apply(result);
      }
    } catch {
      // A missed reading is harmless: the next one, or the record, follows.
    } finally {
      this._inFlight = false;
    }
  }

  /**
   * Remember whether the helper answered on this kernel: when the death is
   * reported the status already says `stale` or `dead`.
   */
  private _onModelStatus(_: MemoryModel, status: MemoryStatus): void {
    switch (status.kind) {
      case 'ready':
        this._measured = true;
        break;
      case 'no-helper':
      case 'unsupported':
      case 'mismatch':
        this._measured = false;
        break;
      default:
        break;
    }
  }

  private _onKernelChanged(
    _: ISessionContext,
    args: { newValue: Kernel.IKernelConnection | null }
  ): void {
    this._follow(args.newValue);
  }

  private _follow(kernel: Kernel.IKernelConnection | null): void {
    if (kernel === this._kernel) {
      return;
    }
    this._kernel?.anyMessage.disconnect(this._onMessage, this);
    this._reset();
    this._kernel = kernel;
    this._down = false;
    this._measured = this._model.status.kind === 'ready';
    kernel?.anyMessage.connect(this._onMessage, this);
  }

  /** Forget the executions in flight (a restart or another kernel). */
  private _reset(): void {
    this._stopTimer();
    this._executing.clear();
    this._cellOf.clear();
    this._model.setRunning(null);
  }

  private _onStatusChanged(_: ISessionContext, status: Kernel.Status): void {
    switch (status) {
      case 'autorestarting':
      case 'dead':
        // The server restarts a kernel that died (an OOM kill, a crash):
        // keep what we knew. `dead` may follow failed restarts; note once.
        if (!this._down) {
          this._down = true;
          this._stopTimer();
          if (this._measured) {
            this._model.noteDeath(this._now());
          }
        }
        this._executing.clear();
        this._cellOf.clear();
        break;
      case 'restarting':
        // JupyterLab 4.6 reports a server-side restart of a dead kernel as
        // `restarting`, then `autorestarting` one microtask later; only a
        // restart the user asked for stays `restarting`. Decide after both.
        this._stopTimer();
        setTimeout(() => {
          if (!this._down && !this._isDisposed) {
            this._reset();
          }
        }, 0);
        break;
      case 'idle':
      case 'busy':
        this._down = false;
        break;
      default:
        break;
    }
  }

  private _onSettingsChanged(): void {
    const running = this._model.running;
    if (running && running.live !== this.mode) {
      this._model.setRunning({ ...running, live: this.mode });
    }
    this._schedule();
  }

  private _onMessage(
    _: Kernel.IKernelConnection,
    args: Kernel.IAnyMessageArgs
  ): void {
    const msg = args.msg;
    if (args.direction === 'send') {
      if (msg.header.msg_type === 'execute_request') {
        this._onExecuteRequest(msg as KernelMessage.IExecuteRequestMsg);
      }
      return;
    }
    if (msg.channel !== 'iopub' || msg.header.msg_type !== 'status') {
      return;
    }
    const parent = msg.parent_header as Partial<KernelMessage.IHeader>;
    if (parent?.msg_type !== 'execute_request' || !parent.msg_id) {
      return;
    }
    const state = (msg as KernelMessage.IStatusMsg).content.execution_state;
    if (state === 'busy') {
      this._onExecutionStarted(parent.msg_id);
    } else if (state === 'idle') {
      this._onExecutionEnded(parent.msg_id);
    }
  }

  private _onExecuteRequest(msg: KernelMessage.IExecuteRequestMsg): void {
    const cellId = (msg.metadata as { cellId?: unknown } | undefined)?.cellId;
    // Silent requests (our bootstrap, other extensions) are never measured.
    if (typeof cellId !== 'string' || cellId === '' || msg.content.silent) {
      return;
    }
    this._cellOf.set(msg.header.msg_id, cellId);
    // Requests whose status never came (e.g. aborted) must not pile up.
    if (this._cellOf.size > LiveReadings.MAX_TRACKED) {
      const oldest = this._cellOf.keys().next().value;
      if (oldest !== undefined) {
        this._cellOf.delete(oldest);
      }
    }
  }

  private _onExecutionStarted(msgId: string): void {
    this._executing.add(msgId);
    const cellId = this._cellOf.get(msgId);
    // Only a kernel whose helper answered measures cells: no "running" badge
    // on other kernels or before the helper is loaded.
    if (cellId && this._model.status.kind === 'ready') {
      this._model.setRunning({
        cellId,
        executionCount: null,
        startedAt: this._now(),
        rssBefore: null,
        live: this.mode,
        reading: null
      });
    }
    this._schedule();
  }

  private _onExecutionEnded(msgId: string): void {
    this._executing.delete(msgId);
    const cellId = this._cellOf.get(msgId);
    this._cellOf.delete(msgId);
    const running = this._model.running;
    // `cell_measured` normally cleared it already; an unmeasured end (an
    // interrupted bootstrap, a helper that is missing) must not linger.
    if (running && (running.cellId === cellId || this._executing.size === 0)) {
      this._model.setRunning(null);
    }
    if (this._executing.size === 0) {
      this._stopTimer();
    }
  }

  /** Poll again after the interval, while a cell runs and readings can come. */
  private _schedule(): void {
    if (
      this._timer !== null ||
      this._isDisposed ||
      this._executing.size === 0 ||
      this.mode !== 'on'
    ) {
      return;
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void this.poll().then(() => this._schedule());
    }, this._intervalMs);
  }

  private _stopTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _apply(result: IResults['get_rss']): void {
    if (typeof result.rss !== 'number') {
      return;
    }
    const model = this._model;
    if (result.memory_limit) {
      model.setMemoryLimit(result.memory_limit);
    }
    const reading: IMemoryReading = {
      time: typeof result.time === 'number' ? result.time : this._now(),
      rss: result.rss,
      peakRss: typeof result.peak_rss === 'number' ? result.peak_rss : null
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
      if (cellId !== null && !ended && this._executing.size > 0) {
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

  private _context: ISessionContext;
  private _client: LiveReadings.IClient;
  private _model: MemoryModel;
  private _settings: ISettingsSource;
  private _intervalMs: number;
  private _now: () => number;
  private _kernel: Kernel.IKernelConnection | null = null;
  /** Execute requests that went busy and not yet idle, by msg id. */
  private _executing = new Set<string>();
  /** Cell ids of this notebook's execute requests, by msg id. */
  private _cellOf = new Map<string, string>();
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _inFlight = false;
  private _down = false;
  private _measured = false;
  private _isDisposed = false;
}

/** The namespace for `LiveReadings` statics. */
export namespace LiveReadings {
  /**
   * Milliseconds between live readings: twice a second, so that the badge
   * changes at least once a second even with a slow reply.
   */
  export const INTERVAL_MS = 500;

  /** Execute requests remembered at most (run-all of a long notebook). */
  export const MAX_TRACKED = 5000;

  /** The part of `KernelClient` the readings use. */
  export type IClient = Pick<KernelClient, 'request' | 'isReady'>;

  /** Options for `LiveReadings`. */
  export interface IOptions {
    /** The notebook's session context. */
    sessionContext: ISessionContext;
    /** Sends `get_rss`. */
    client: IClient;
    /** The model to feed. */
    model: MemoryModel;
    /** Live settings (`liveReadings`). */
    settings: ISettingsSource;
    /** Milliseconds between readings; defaults to `INTERVAL_MS`. */
    intervalMs?: number;
    /** The clock in epoch seconds, replaceable in tests. */
    now?: () => number;
  }
}
