/**
 * One notebook's Memory Doctor service, in the manner of JupyterLab's
 * debugger service: it owns the connection to the kernel helper
 * (`KernelClient`), the executions of the notebook (`ExecutionTracker`) and
 * the one `get_rss` poll (`ReadingsPoll`), sends every request, and writes
 * what comes back into its models: the `MemoryModel` (status, records,
 * readings), the `ScanModel` and the `FixModel`. Views read the models and
 * ask the service; they never talk to the kernel.
 */

import type { ISessionContext } from '@jupyterlab/apputils';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import { ExecutionEvent, ExecutionTracker } from './executions';
import { KernelClient } from './kernelClient';
import { LiveMode, MemoryModel, MemoryStatus } from './model';
import {
  ClusterModel,
  holderKey,
  ReleaseOutcome
} from './panels/cluster/model';
import { FixModel, fixBlocker, FixOutcome } from './panels/fixes/model';
import { ScanModel } from './panels/holders/scan';
import { ProfileModel } from './panels/profile/model';
import {
  CLUSTER_RELEASE_REPLY_TIMEOUT_S,
  CLUSTER_SCAN_REPLY_TIMEOUT_S,
  FIX_REPLY_TIMEOUT_S,
  ICellClusterMessage,
  ICellProfileMessage,
  ICellRecord,
  IClusterHolder,
  IHelloMessage,
  IScanProgressMessage,
  ISuggestion,
  ProfileBackend,
  scanReplyTimeoutS
} from './protocol';
import { ReadingsPoll } from './readings';
import { failedFix, scanError } from './replies';
import type { IMemoryDoctorSettings, ISettingsSource } from './settings';
import {
  IFixSource,
  IMemoryDoctorService,
  IUserInterface,
  TRANSLATION_DOMAIN
} from './tokens';

/**
 * Connects one notebook to the kernel helper and keeps its model current.
 */
export class MemoryDoctorService implements IMemoryDoctorService, IDisposable {
  constructor(options: MemoryDoctorService.IOptions) {
    this.model = new MemoryModel();
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
      model: this.model,
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
    client.cellCluster.connect(this._onCellCluster, this);
    client.cellProfile.connect(this._onCellProfile, this);
    this._executions.changed.connect(this._onExecution, this);
    settings.changed.connect(this._onSettingsChanged, this);
    this._onStatus(client, client.status);
  }

  /** The connection to the kernel helper. */
  readonly client: KernelClient;

  /** Status, per-cell records and readings of the notebook's kernel. */
  readonly model: MemoryModel;

  /** The scans of the notebook's kernel. */
  readonly scans = new ScanModel();

  /** The fixes applied to the notebook's kernel. */
  readonly fixes = new FixModel();

  /** The Dask clusters of the notebook's kernel (protocol 1.3). */
  readonly clusters = new ClusterModel();

  /** The line profiles of the notebook's kernel (protocol 1.3). */
  readonly profiles = new ProfileModel();

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
   * Scan the kernel with the budget and holder count of the settings, and
   * write the outcome into `scans`. Does nothing while a scan runs or when
   * not connected; resolves once the scan ended either way.
   *
   * The helper may wait for a running cell before the scan starts, then run
   * it, each up to the budget plus `SCAN_OVERRUN_S`, so the timeout is
   * `scanReplyTimeoutS(budget)` (with ipykernel < 7 the request also queues
   * behind the cell).
   */
  async scan(): Promise<void> {
    const scans = this.scans;
    if (!this.isReady || scans.running) {
      return;
    }
    const { scanBudgetSeconds: budgetS, maxHolders } = this._settings.current;
    const handle = this.client.send(
      'scan',
      { budget_s: budgetS, max_holders: maxHolders },
      { timeoutMs: scanReplyTimeoutS(budgetS) * 1000 }
    );
    const requestId = handle.requestId;
    if (requestId === null) {
      handle.done.catch(() => undefined);
      return;
    }
    scans.start(requestId);
    try {
      const result = await handle.done;
      scans.finish(requestId, result, this._now(), budgetS);
    } catch (reason) {
      scans.fail(requestId, scanError(reason));
    }
  }

  /**
   * Ask the helper to stop the running scan; its reply then arrives with the
   * partial results. Resolves once the helper acknowledged (or failed to).
   */
  async cancelScan(): Promise<void> {
    const running = this.scans.running;
    if (!running || running.cancelling) {
      return;
    }
    this.scans.setCancelling();
    try {
      await this.client.request('cancel', { target: running.requestId });
    } catch {
      // The scan's own reply (or its failure) still ends the running state.
    }
  }

  /**
   * Apply a suggestion of the latest scan and write the outcome into `fixes`.
   * A destructive fix is applied only when `confirm` resolves true. Resolves
   * with the outcome, or null when nothing was sent (declined, blocked, or
   * not a suggestion of the latest scan).
   *
   * The helper re-checks every target and refuses when they changed. It
   * waits for a running cell to end (up to `FIX_WAIT_S`; without subshells
   * the request itself queues behind the cell), so the timeout is
   * `FIX_REPLY_TIMEOUT_S` and starts again while a cell of this notebook
   * runs; meanwhile `fixes.waiting` says so.
   *
   * `source` names another scan and outcome than the notebook's: a magic's
   * output applies its own suggestions and keeps its own outcome.
   */
  async applyFix(
    suggestion: ISuggestion,
    confirm: (suggestion: ISuggestion) => Promise<boolean>,
    source: IFixSource = this
  ): Promise<FixOutcome | null> {
    const { scans, fixes } = source;
    const current = scans.result?.suggestions?.find(
      s => s.id === suggestion.id
    );
    if (!current || fixBlocker(this.client.status, scans, fixes) !== null) {
      return null;
    }
    // Claim the kernel before asking, so a second click cannot queue a
    // second fix behind the first.
    fixes.setApplying(current.id);
    let outcome: FixOutcome | null = null;
    try {
      if (current.destructive && !(await confirm(current))) {
        return null;
      }
      // The scan may have changed while the user decided.
      if (scans.result?.suggestions?.includes(current) !== true) {
        outcome = {
          kind: 'refused',
          suggestion: current,
          message: this._trans.__(
            'The panel was refreshed while you decided; check the new suggestions.'
          )
        };
        return outcome;
      }
      outcome = await this._sendFix(current, fixes);
      return outcome;
    } finally {
      if (outcome) {
        fixes.setOutcome(outcome);
      }
      fixes.setApplying(null);
    }
  }

  /**
   * Ask which names hold what on the kernel's Dask clusters and write the
   * answer into `clusters`. Does nothing while one is on its way or when not
   * connected. The helper may wait `CLUSTER_WAIT_S` for a running cell and
   * walk the namespace first, hence `CLUSTER_SCAN_REPLY_TIMEOUT_S`.
   */
  async scanCluster(): Promise<void> {
    const clusters = this.clusters;
    if (!this.isReady || clusters.running) {
      return;
    }
    clusters.start();
    try {
      const result = await this.client.request(
        'scan_cluster',
        {},
        { timeoutMs: CLUSTER_SCAN_REPLY_TIMEOUT_S * 1000 }
      );
      clusters.finish(result, this._now());
    } catch (reason) {
      clusters.fail(scanError(reason)?.message ?? null);
    }
  }

  /**
   * Release one cluster holder of the last `scan_cluster`: the helper deletes
   * its names (and their hidden aliases) and measures what the scheduler
   * reports freed. Asks `confirm` first; resolves with the outcome (also in
   * `clusters`), or null when nothing was sent. Scans the cluster again after.
   * The helper waits for a running cell like a fix, hence the long timeout,
   * which starts again while a cell of this notebook runs.
   */
  async releaseCluster(
    scheduler: string,
    holder: IClusterHolder,
    confirm: (holder: IClusterHolder) => Promise<boolean>
  ): Promise<ReleaseOutcome | null> {
    const clusters = this.clusters;
    if (!this.isReady || clusters.releasing !== null || !holder.releasable) {
      return null;
    }
    clusters.setReleasing(holderKey(scheduler, holder));
    let outcome: ReleaseOutcome | null = null;
    try {
      if (!(await confirm(holder))) {
        return null;
      }
      const labels = holder.labels;
      try {
        const result = await this.client.request(
          'release_cluster',
          { scheduler, holders: [[...labels]] },
          {
            timeoutMs: CLUSTER_RELEASE_REPLY_TIMEOUT_S * 1000,
            keepWaiting: () => this._executions.busy
          }
        );
        outcome = { kind: 'released', labels, result };
      } catch (reason) {
        outcome = {
          kind: 'failed',
          labels,
          message: KernelClient.failure(reason).message
        };
      }
      return outcome;
    } finally {
      if (outcome) {
        clusters.setOutcome(outcome);
      }
      clusters.setReleasing(null);
      if (outcome) {
        void this.scanCluster();
      }
    }
  }

  /**
   * Profile the next run of `cellId`, line by line: the helper traces it and
   * sends its `cell_profile` after the run, which lands in `profiles`.
   * Resolves with the backend the run will get (`auto`: memray where the
   * kernel has it); rejects when not connected or refused.
   */
  async profileNext(cellId: string): Promise<ProfileBackend> {
    const result = await this.client.request('profile_next', {
      cell_id: cellId,
      backend: 'auto'
    });
    this.profiles.setArmed(result.cell_id, result.backend);
    return result.backend;
  }

  /** Forget a profile asked for and not run yet; resolves whether there was one. */
  async cancelProfile(cellId: string): Promise<boolean> {
    const result = await this.client.request('profile_cancel', {
      cell_id: cellId
    });
    this.profiles.setArmed(cellId, null);
    return result.cancelled;
  }

  /**
   * Forget the notebook's figures: every record, the readings and the death
   * note (the running cell stays).
   */
  clearFigures(): void {
    this.model.clear();
    this.profiles.clear();
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
    this.fixes.dispose();
    this.profiles.dispose();
    this.clusters.dispose();
    this.scans.dispose();
    this.model.dispose();
    Signal.clearData(this);
  }

  private async _sendFix(
    suggestion: ISuggestion,
    fixes: IFixSource['fixes']
  ): Promise<FixOutcome> {
    const executions = this._executions;
    this._fixSent = fixes;
    fixes.setWaiting(executions.busy);
    try {
      const result = await this.client.request(
        'apply_fix',
        {
          suggestion_id: suggestion.id,
          action: suggestion.action,
          targets: suggestion.targets
        },
        {
          timeoutMs: MemoryDoctorService.FIX_TIMEOUT_MS,
          keepWaiting: () => executions.busy
        }
      );
      // The kernel's memory now is the fix's own last reading: the panel's
      // "Kernel memory now" and the status bar agree with its outcome at once,
      // not at the next poll.
      this.model.setRss(result.rss_after);
      return { kind: 'applied', suggestion, result };
    } catch (reason) {
      return failedFix(suggestion, reason);
    } finally {
      this._fixSent = null;
      fixes.setWaiting(false);
    }
  }

  private _onStatus(_: KernelClient, status: MemoryStatus): void {
    this.model.setStatus(status);
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
      // Results of a scan describe a process that is gone or restarting.
      this.scans.markStale();
      // A restarted kernel forgot which runs to profile.
      this.profiles.markStale();
      this.clusters.markStale();
    }
    this._readings.setConnected(this.client.isReady);
  }

  private _onHello(_: KernelClient, hello: IHelloMessage): void {
    const model = this.model;
    model.setRss(hello.rss);
    if (hello.memory_limit) {
      model.setMemoryLimit(hello.memory_limit);
    }
    // The client left out malformed records (and logged them).
    model.replay(hello.records);
    const wanted = this._settings.current.tracemalloc;
    if (hello.config.tracemalloc !== wanted) {
      // The setting changed between comm_open and hello.
      this._configure(wanted);
    }
  }

  private _onRecord(_: KernelClient, record: ICellRecord): void {
    this.model.addRecord(record);
  }

  private _onCellCluster(_: KernelClient, message: ICellClusterMessage): void {
    this.model.setCluster(
      message.cell_id,
      message.execution_count,
      message.cluster
    );
  }

  private _onCellProfile(_: KernelClient, message: ICellProfileMessage): void {
    this.profiles.add(message, this._now());
  }

  private _onScanProgress(
    _: KernelClient,
    message: IScanProgressMessage
  ): void {
    this.scans.setProgress(message);
  }

  /** The running cell and the death note follow the executions. */
  private _onExecution(_: ExecutionTracker, event: ExecutionEvent): void {
    const model = this.model;
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
    this._fixSent?.setWaiting(this._executions.busy);
  }

  private _onSettingsChanged(
    _: ISettingsSource,
    previous: Readonly<IMemoryDoctorSettings>
  ): void {
    const current = this._settings.current;
    if (current.tracemalloc !== previous.tracemalloc && this.isReady) {
      this._configure(current.tracemalloc);
    }
    const running = this.model.running;
    const mode = this._readings.mode;
    if (running && running.live !== mode) {
      this.model.setRunning({ ...running, live: mode });
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

  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _now: () => number;
  private _executions: ExecutionTracker;
  private _readings: ReadingsPoll;
  private _measured = false;
  /** The fix model of the fix waiting for its reply, if any. */
  private _fixSent: IFixSource['fixes'] | null = null;
  private _isDisposed = false;
}

/** The namespace for `MemoryDoctorService` statics. */
export namespace MemoryDoctorService {
  /**
   * Milliseconds an `apply_fix` reply may take while no cell of this
   * notebook runs: the helper's wait for a running cell or scan
   * (`FIX_WAIT_S`), terminating a process and the fix itself.
   */
  export const FIX_TIMEOUT_MS = FIX_REPLY_TIMEOUT_S * 1000;

  /** Options for a `MemoryDoctorService`. */
  export interface IOptions {
    /** The notebook's session context. */
    sessionContext: ISessionContext;
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
