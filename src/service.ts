/**
 * One notebook's Memory Doctor service, in the manner of JupyterLab's
 * debugger service: it owns the connection to the kernel helper
 * (`KernelClient`), the executions of the notebook (`ExecutionTracker`) and
 * the one `get_rss` poll (`ReadingsPoll`), sends every request, and writes
 * what comes back into the `MemoryModel`. Views read the model; they never
 * talk to the kernel.
 */

import type { ISessionContext } from '@jupyterlab/apputils';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { ExecutionEvent, ExecutionTracker } from './executions';
import { KernelClient } from './kernelClient';
import type { LiveMode, MemoryModel, MemoryStatus } from './model';
import {
  FIX_WAIT_S,
  ICellRecord,
  IHelloMessage,
  IRequests,
  IResults,
  IScanProgressMessage,
  isCellRecord,
  ISuggestion
} from './protocol';
import { ReadingsPoll } from './readings';
import type { IMemoryDoctorSettings, ISettingsSource } from './settings';
import { IUserInterface, TRANSLATION_DOMAIN } from './tokens';

/**
 * Connects one notebook to the kernel helper and keeps its model current.
 */
export class MemoryDoctorService implements IDisposable {
  constructor(options: MemoryDoctorService.IOptions) {
    this._model = options.model;
    this._settings = options.settings;
    this._trans = options.trans ?? nullTranslator.load(TRANSLATION_DOMAIN);
    this._now = options.now ?? Date.now;
    const settings = this._settings;
    this.client = new KernelClient({
      sessionContext: options.sessionContext,
      config: () => ({ tracemalloc: settings.current.tracemalloc }),
      ui: options.ui,
      trans: this._trans,
      requestTimeoutMs: options.requestTimeoutMs
    });
    this._executions = new ExecutionTracker({
      sessionContext: options.sessionContext
    });
    this._readings = new ReadingsPoll({
      executions: this._executions,
      model: this._model,
      settings,
      request: () => this.client.request('get_rss', {}),
      liveIntervalMs: options.liveIntervalMs,
      now: this._now
    });
    const client = this.client;
    client.statusChanged.connect(this._onStatus, this);
    client.hello.connect(this._onHello, this);
    client.cellMeasured.connect(this._onRecord, this);
    client.scanProgress.connect(this._onScanProgress, this);
    this._executions.changed.connect(this._onExecution, this);
    settings.changed.connect(this._onSettingsChanged, this);
    this._onStatus(client, client.status);
  }

  /** The connection to the kernel helper. */
  readonly client: KernelClient;

  /** The model this service writes. */
  get model(): MemoryModel {
    return this._model;
  }

  /** Whether the helper answered and requests can be sent. */
  get isReady(): boolean {
    return this.client.isReady;
  }

  /** How readings arrive while a cell of the current kernel runs. */
  get liveMode(): LiveMode {
    return this._readings.mode;
  }

  /** The one `get_rss` poll. */
  get readings(): ReadingsPoll {
    return this._readings;
  }

  /**
   * The last scan of the current kernel that finished, with when it
   * finished (epoch milliseconds); null before one did or after a restart.
   */
  get lastScan(): MemoryDoctorService.ILastScan | null {
    return this._lastScan;
  }

  /** Emitted for every `scan_progress` message from the current kernel. */
  get scanProgress(): ISignal<this, IScanProgressMessage> {
    return this._scanProgress;
  }

  /** Whether the service is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Run the bootstrap again on the current kernel, e.g. after the user
   * installed the helper. Loading the helper twice is a no-op in the kernel.
   */
  reload(): Promise<void> {
    return this.client.reload();
  }

  /**
   * Start a `scan`. The handle carries the request id, which `scan_progress`
   * messages and a `cancel` refer to (null when nothing could be sent).
   *
   * The reply may take the whole budget, and with ipykernel < 7 the request
   * also waits behind a running cell, so the timeout is the budget plus
   * `SCAN_GRACE_MS`.
   */
  scan(params: IRequests['scan']): KernelClient.IRequestHandle<'scan'> {
    const budget = params.budget_s ?? this._settings.current.scanBudgetSeconds;
    const handle = this.client.send('scan', params, {
      timeoutMs: budget * 1000 + MemoryDoctorService.SCAN_GRACE_MS
    });
    const generation = this._generation;
    handle.done
      .then(result => {
        if (generation === this._generation) {
          this._lastScan = { result, time: this._now() };
        }
      })
      .catch(() => undefined);
    return handle;
  }

  /** Ask the helper to stop the scan whose request id is `target`. */
  cancel(target: string): Promise<IResults['cancel']> {
    return this.client.request('cancel', { target });
  }

  /**
   * Apply one suggestion of the latest scan. The helper re-checks every
   * target and rejects with code `refused` when they changed. A fix waits
   * for a running cell to end (up to `FIX_WAIT_S` in the helper; without
   * subshells the request itself queues behind the cell), so the timeout is
   * `FIX_TIMEOUT_MS` and starts again while a cell of this notebook runs.
   */
  applyFix(
    suggestion: Pick<ISuggestion, 'id' | 'action' | 'targets'>
  ): Promise<IResults['apply_fix']> {
    return this.client.request(
      'apply_fix',
      {
        suggestion_id: suggestion.id,
        action: suggestion.action,
        targets: suggestion.targets
      },
      {
        timeoutMs: MemoryDoctorService.FIX_TIMEOUT_MS,
        keepWaiting: () => this._executions.busy
      }
    );
  }

  /** Whether an execution this notebook sent is running in the kernel. */
  get busy(): boolean {
    return this._executions.busy;
  }

  /** Close the connection and stop polling. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._settings.changed.disconnect(this._onSettingsChanged, this);
    this._readings.dispose();
    this._executions.dispose();
    this.client.dispose();
    Signal.clearData(this);
  }

  private _onStatus(_: KernelClient, status: MemoryStatus): void {
    this._model.setStatus(status);
    // Whether the helper answered on this kernel: when the death is
    // reported the status already says `stale` or `dead`.
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
    if (status.kind !== 'ready') {
      // The next answer comes from another process, or this one restarted.
      this._generation++;
      this._lastScan = null;
    }
    this._readings.setConnected(this.client.isReady);
  }

  private _onHello(_: KernelClient, hello: IHelloMessage): void {
    const model = this._model;
    if (typeof hello.rss === 'number') {
      model.setRss(hello.rss);
    }
    if (hello.memory_limit) {
      model.setMemoryLimit(hello.memory_limit);
    }
    // Replayed records come from the kernel too: keep only well-formed ones.
    model.replay(hello.records.filter(isCellRecord));
    const wanted = this._settings.current.tracemalloc;
    if (hello.config && hello.config.tracemalloc !== wanted) {
      // The setting changed between comm_open and hello.
      this._configure(wanted);
    }
  }

  private _onRecord(_: KernelClient, record: ICellRecord): void {
    this._model.addRecord(record);
  }

  private _onScanProgress(
    _: KernelClient,
    message: IScanProgressMessage
  ): void {
    this._scanProgress.emit(message);
  }

  /** The running cell and the death note follow the executions. */
  private _onExecution(_: ExecutionTracker, event: ExecutionEvent): void {
    const model = this._model;
    switch (event.kind) {
      case 'started':
        // Only a kernel whose helper answered measures cells: no "running"
        // badge on other kernels or before the helper is loaded.
        if (event.cellId && this.client.status.kind === 'ready') {
          model.setRunning({
            cellId: event.cellId,
            executionCount: null,
            startedAt: this._now() / 1000,
            rssBefore: null,
            live: this._readings.mode,
            reading: null
          });
        }
        break;
      case 'ended': {
        const running = model.running;
        // `cell_measured` normally cleared it already; an unmeasured end (an
        // interrupted bootstrap, a helper that is missing) must not linger.
        if (
          running &&
          (running.cellId === event.cellId || !this._executions.busy)
        ) {
          model.setRunning(null);
        }
        break;
      }
      case 'died':
        // Keep what we knew: the running cell and its last reading.
        if (this._measured) {
          model.noteDeath(this._now() / 1000);
        }
        break;
      case 'kernel':
        this._measured = this.client.status.kind === 'ready';
        model.setRunning(null);
        break;
      case 'restarted':
        model.setRunning(null);
        break;
    }
  }

  private _onSettingsChanged(
    _: ISettingsSource,
    previous: Readonly<IMemoryDoctorSettings>
  ): void {
    const current = this._settings.current;
    if (current.tracemalloc !== previous.tracemalloc && this.isReady) {
      this._configure(current.tracemalloc);
    }
    const running = this._model.running;
    const mode = this._readings.mode;
    if (running && running.live !== mode) {
      this._model.setRunning({ ...running, live: mode });
    }
  }

  private _configure(tracemalloc: boolean): void {
    this.client.request('configure', { tracemalloc }).catch(reason => {
      // A restart or close re-sends the config with the next comm_open.
      if (!this._isDisposed && reason?.code !== 'closed') {
        this.client.warnOnce(
          `Could not configure the kernel helper: ${reason}`
        );
      }
    });
  }

  private _model: MemoryModel;
  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _now: () => number;
  private _executions: ExecutionTracker;
  private _readings: ReadingsPoll;
  private _measured = false;
  private _generation = 0;
  private _lastScan: MemoryDoctorService.ILastScan | null = null;
  private _scanProgress = new Signal<this, IScanProgressMessage>(this);
  private _isDisposed = false;
}

/** The namespace for `MemoryDoctorService` statics. */
export namespace MemoryDoctorService {
  /**
   * Milliseconds a scan reply may take beyond its budget: queueing behind a
   * running cell (ipykernel < 7), the final attribution slice and the reply.
   */
  export const SCAN_GRACE_MS = 60000;

  /**
   * Milliseconds an `apply_fix` reply may take beyond the helper's wait for
   * a running cell (`FIX_WAIT_S`): its last check, terminating a process
   * (up to 3 s) and the reply.
   */
  export const FIX_GRACE_MS = 30000;

  /** Milliseconds an `apply_fix` reply may take while no cell runs. */
  export const FIX_TIMEOUT_MS = FIX_WAIT_S * 1000 + FIX_GRACE_MS;

  /** The last finished scan of a kernel. */
  export interface ILastScan {
    /** The scan's result, as the helper sent it. */
    readonly result: IResults['scan'];
    /** When it arrived, epoch milliseconds. */
    readonly time: number;
  }

  /** Options for a `MemoryDoctorService`. */
  export interface IOptions {
    /** The notebook's session context. */
    sessionContext: ISessionContext;
    /** The model to write. */
    model: MemoryModel;
    /** Live settings. */
    settings: ISettingsSource;
    /** Notifications and dialogs; swapped for a recorder in tests. */
    ui: IUserInterface;
    /** Translation bundle for user-facing messages. */
    trans?: TranslationBundle;
    /** Milliseconds to wait for an ordinary reply. */
    requestTimeoutMs?: number;
    /** Milliseconds between live readings. */
    liveIntervalMs?: number;
    /** The clock in epoch milliseconds, replaceable in tests. */
    now?: () => number;
  }
}
