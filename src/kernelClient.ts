/**
 * The connection between one notebook's session and the kernel helper:
 * bootstrap, comm, typed requests and the kernel lifecycle (restart, kernel
 * change, death), in the manner of ipywidgets' `manager.ts`.
 */

import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import type { JSONObject } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { LiveReadings } from './live';
import type { MemoryModel } from './model';
import {
  BOOTSTRAP_CODE,
  COMM_TARGET,
  FIX_WAIT_S,
  IErrorMessage,
  IHelloMessage,
  IReplyMessage,
  IRequests,
  IResults,
  IScanProgressMessage,
  isCellRecord,
  ISuggestion,
  isCompatible,
  parseKernelMessage,
  PIP_INSTALL_HINT,
  PROTOCOL_VERSION
} from './protocol';
import type { IMemoryDoctorSettings, ISettingsSource } from './settings';
import { CLIENT_NAME, IUserInterface, TRANSLATION_DOMAIN } from './tokens';

/**
 * Bootstraps the helper into a notebook's kernel and keeps a comm to it,
 * feeding a `MemoryModel`.
 */
export class KernelClient implements IDisposable {
  constructor(options: KernelClient.IOptions) {
    this._sessionContext = options.sessionContext;
    this._model = options.model;
    this._settings = options.settings;
    this._ui = options.ui;
    this._trans = options.trans ?? nullTranslator.load(TRANSLATION_DOMAIN);
    this._timeoutMs =
      options.requestTimeoutMs ?? KernelClient.REQUEST_TIMEOUT_MS;

    const context = this._sessionContext;
    context.kernelChanged.connect(this._onKernelChanged, this);
    context.statusChanged.connect(this._onStatusChanged, this);
    context.connectionStatusChanged.connect(this._onConnectionChanged, this);
    this._settings.changed.connect(this._onSettingsChanged, this);
    this._live = new LiveReadings({
      sessionContext: context,
      client: this,
      model: this._model,
      settings: this._settings
    });
    context.ready
      .then(() => {
        // kernelChanged may already have started this kernel; bootstrap once.
        const kernel = context.session?.kernel ?? null;
        if (!this._isDisposed && kernel && kernel !== this._kernel) {
          void this._connect(kernel);
        }
      })
      .catch(() => {
        // No session (e.g. it failed to start): kernelChanged will tell us.
      });
  }

  /** The model this client feeds. */
  get model(): MemoryModel {
    return this._model;
  }

  /** Whether the helper answered and requests can be sent. */
  get isReady(): boolean {
    return this._comm !== null && this._model.status.kind === 'ready';
  }

  /** Whether the client is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Live readings and the running cell of this notebook's kernel. */
  get live(): LiveReadings {
    return this._live;
  }

  /**
   * The last scan of the current kernel that finished, with when it
   * finished (epoch milliseconds); null before one did or after a restart.
   */
  get lastScan(): KernelClient.ILastScan | null {
    return this._lastScan;
  }

  /** Emitted for every `scan_progress` message from the current kernel. */
  get scanProgress(): ISignal<this, IScanProgressMessage> {
    return this._scanProgress;
  }

  /**
   * Run the bootstrap again on the current kernel, e.g. after the user
   * installed the helper. Loading the helper twice is a no-op in the kernel.
   */
  async reload(): Promise<void> {
    this._notifiedMissing = false;
    const kernel = this._sessionContext.session?.kernel ?? null;
    await this._connect(kernel);
  }

  /**
   * Send a request to the helper and resolve with its result.
   *
   * Rejects when the helper answers `ok: false`, after `requestTimeoutMs`
   * without an answer, and when the comm closes or the kernel restarts.
   */
  request<K extends keyof IRequests>(
    type: K,
    params: IRequests[K]
  ): Promise<IResults[K]> {
    return this._send(type, params, this._timeoutMs).done;
  }

  /**
   * Start a `scan`. The handle carries the request id, which `scan_progress`
   * messages and a `cancel` refer to (null when nothing could be sent).
   *
   * The reply may take the whole budget, and with ipykernel < 7 the request
   * also waits behind a running cell, so the timeout is the budget plus
   * `SCAN_GRACE_MS` (and never shorter than the ordinary timeout).
   */
  scan(params: IRequests['scan']): KernelClient.IScanHandle {
    const budget = params.budget_s ?? KernelClient.DEFAULT_SCAN_BUDGET_S;
    const timeoutMs = Math.max(
      this._timeoutMs,
      budget * 1000 + KernelClient.SCAN_GRACE_MS
    );
    const handle = this._send('scan', params, timeoutMs);
    const generation = this._generation;
    handle.done
      .then(result => {
        if (generation === this._generation) {
          this._lastScan = { result, time: Date.now() };
        }
      })
      .catch(() => undefined);
    return handle;
  }

  /** Ask the helper to stop the scan whose request id is `target`. */
  cancel(target: string): Promise<IResults['cancel']> {
    return this.request('cancel', { target });
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
    return this._send(
      'apply_fix',
      {
        suggestion_id: suggestion.id,
        action: suggestion.action,
        targets: suggestion.targets
      },
      Math.max(this._timeoutMs, KernelClient.FIX_TIMEOUT_MS),
      () => this._live.busy
    ).done;
  }

  /**
   * Send a request; the handle resolves with its result. When `keepWaiting`
   * says so at the deadline, the deadline moves `timeoutMs` further.
   */
  private _send<K extends keyof IRequests>(
    type: K,
    params: IRequests[K],
    timeoutMs: number,
    keepWaiting?: () => boolean
  ): { requestId: string | null; done: Promise<IResults[K]> } {
    const comm = this._comm;
    if (!comm || !this.isReady) {
      return {
        requestId: null,
        done: Promise.reject(
          new KernelClient.RequestError('not_connected', 'Not connected.')
        )
      };
    }
    const requestId = String(++this._lastRequestId);
    const done = new Promise<IResults[K]>((resolve, reject) => {
      const expire = () => {
        if (keepWaiting?.()) {
          pending.timer = setTimeout(expire, timeoutMs);
          return;
        }
        this._pending.delete(requestId);
        reject(
          new KernelClient.RequestError(
            'timeout',
            `No reply to ${type} within ${timeoutMs} ms.`
          )
        );
      };
      const pending: Private.IPending = {
        resolve: resolve as (result: unknown) => void,
        reject,
        timer: setTimeout(expire, timeoutMs)
      };
      this._pending.set(requestId, pending);
      comm.send({ ...params, type, request_id: requestId } as JSONObject);
    });
    return { requestId, done };
  }

  /** Close the comm and stop listening. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._generation++;
    this._dropComm('The notebook was closed.', true);
    this._live.dispose();
    Signal.clearData(this);
  }

  /**
   * Check the kernel, bootstrap the helper and open the comm. Every await is
   * followed by a generation check: a newer kernel or restart wins.
   */
  private async _connect(
    kernel: Kernel.IKernelConnection | null
  ): Promise<void> {
    const generation = ++this._generation;
    this._dropComm('The kernel connection changed.', false);
    this._kernel = kernel;
    this._needsBootstrap = false;
    const stale = () => this._isDisposed || generation !== this._generation;
    if (!kernel) {
      this._model.setStatus({ kind: 'connecting' });
      return;
    }
    if (kernel.handleComms === false) {
      this._model.setStatus({ kind: 'unsupported', reason: 'comms' });
      return;
    }
    this._model.setStatus({ kind: 'connecting' });
    const info = await this._settle(kernel.info, stale);
    if (info === undefined) {
      return;
    }
    if (info.language_info?.name !== 'python') {
      this._model.setStatus({ kind: 'unsupported', reason: 'language' });
      return;
    }
    // The future is cancelled when the kernel restarts mid-bootstrap; the
    // newer bootstrap then owns the status, so a stale failure stays quiet.
    const reply = await this._settle(
      kernel.requestExecute({
        code: BOOTSTRAP_CODE,
        silent: true,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false
      }).done,
      stale
    );
    if (reply === undefined) {
      return;
    }
    const content = reply.content;
    if (content.status === 'error') {
      if (content.ename === 'ModuleNotFoundError') {
        this._model.setStatus({ kind: 'no-helper', hint: PIP_INSTALL_HINT });
        if (!this._notifiedMissing) {
          this._notifiedMissing = true;
          this._ui.helperMissing(PIP_INSTALL_HINT);
        }
      } else {
        this._model.setStatus({
          kind: 'error',
          message: `${content.ename}: ${content.evalue}`
        });
      }
      return;
    }
    if (content.status !== 'ok') {
      this._model.setStatus({
        kind: 'error',
        message: this._trans.__('Loading the kernel helper was aborted.')
      });
      return;
    }
    this._openComm(kernel, generation);
  }

  /**
   * Await one bootstrap step. A failure becomes the `error` status unless a
   * newer bootstrap made this one stale; either way, or when the step
   * succeeded but is stale, the result is `undefined` and the caller stops.
   */
  private async _settle<T>(
    step: Promise<T>,
    stale: () => boolean
  ): Promise<T | undefined> {
    try {
      const value = await step;
      return stale() ? undefined : value;
    } catch (reason) {
      if (!stale()) {
        this._model.setStatus({ kind: 'error', message: String(reason) });
      }
      return undefined;
    }
  }

  private _openComm(
    kernel: Kernel.IKernelConnection,
    generation: number
  ): void {
    let comm: Kernel.IComm;
    try {
      comm = kernel.createComm(COMM_TARGET);
    } catch (reason) {
      this._model.setStatus({ kind: 'error', message: String(reason) });
      return;
    }
    this._comm = comm;
    comm.onMsg = msg => this._onCommMsg(generation, comm, msg);
    comm.onClose = () => this._onCommClose(generation, comm);
    comm.open(
      {
        protocol_version: PROTOCOL_VERSION,
        client: CLIENT_NAME,
        config: { tracemalloc: this._settings.current.tracemalloc }
      },
      { version: PROTOCOL_VERSION }
    );
  }

  private _onCommMsg(
    generation: number,
    comm: Kernel.IComm,
    msg: KernelMessage.ICommMsgMsg
  ): void {
    if (generation !== this._generation || comm !== this._comm) {
      return; // From a comm or kernel we already left behind.
    }
    const message = parseKernelMessage(msg.content?.data);
    if (!message) {
      this._warnOnce(
        'Ignoring a malformed or unknown message from the kernel helper.'
      );
      return;
    }
    switch (message.type) {
      case 'hello':
        this._onHello(message);
        break;
      case 'error':
        this._onError(message);
        break;
      case 'cell_measured':
        this._model.addRecord(message.record);
        break;
      case 'scan_progress':
        this._scanProgress.emit(message);
        break;
      case 'reply':
        this._onReply(message);
        break;
    }
  }

  private _onHello(hello: IHelloMessage): void {
    if (!isCompatible(hello.protocol_version)) {
      this._fail(
        this._trans.__(
          'Memory Doctor front end speaks protocol %1 but the kernel helper %2 speaks %3. Install matching versions: %4, then restart the kernel.',
          PROTOCOL_VERSION,
          hello.helper_version,
          hello.protocol_version,
          '%pip install -U jupyterlab-memory-doctor'
        )
      );
      return;
    }
    this._model.setStatus({
      kind: 'ready',
      peakMethod: hello.peak_method,
      peakExact: hello.peak_exact === true,
      helperVersion: String(hello.helper_version),
      python: String(hello.python)
    });
    if (typeof hello.rss === 'number') {
      this._model.setRss(hello.rss);
    }
    if (hello.memory_limit) {
      this._model.setMemoryLimit(hello.memory_limit);
    }
    // Replayed records come from the kernel too: keep only well-formed ones.
    this._model.replay(hello.records.filter(isCellRecord));
    const wanted = this._settings.current.tracemalloc;
    if (hello.config && hello.config.tracemalloc !== wanted) {
      // The setting changed between comm_open and hello.
      this._configure(wanted);
    }
    this._schedulePoll();
  }

  private _onError(error: IErrorMessage): void {
    if (error.code === 'protocol_mismatch') {
      this._fail(error.message);
    } else if (this._model.status.kind === 'ready') {
      this._warnOnce(`Kernel helper error: ${error.message}`);
    } else {
      this._model.setStatus({ kind: 'error', message: error.message });
    }
  }

  private _onReply(reply: IReplyMessage): void {
    const pending =
      reply.request_id === null
        ? undefined
        : this._pending.get(reply.request_id);
    if (!pending) {
      this._warnOnce('Ignoring a reply to an unknown request.');
      return;
    }
    this._pending.delete(reply.request_id as string);
    clearTimeout(pending.timer);
    if (reply.ok) {
      pending.resolve(reply.result ?? {});
    } else {
      pending.reject(
        new KernelClient.RequestError(
          reply.error?.code ?? 'internal',
          reply.error?.message ?? 'The request failed.'
        )
      );
    }
  }

  private _onCommClose(generation: number, comm: Kernel.IComm): void {
    if (generation !== this._generation || comm !== this._comm) {
      return;
    }
    this._dropComm('The kernel closed the connection.', false);
    if (this._model.status.kind !== 'mismatch') {
      this._model.setStatus({
        kind: 'error',
        message: this._trans.__(
          'The kernel helper closed the connection. Run "Reload Memory Doctor Helper" to reconnect.'
        )
      });
    }
  }

  /** A fatal version problem: say so once, in a dialog, and stop. */
  private _fail(message: string): void {
    this._dropComm(message, true);
    this._model.setStatus({ kind: 'mismatch', message });
    this._ui.versionMismatch(message);
  }

  private _onKernelChanged(
    _: ISessionContext,
    args: { newValue: Kernel.IKernelConnection | null }
  ): void {
    void this._connect(args.newValue);
  }

  private _onStatusChanged(_: ISessionContext, status: Kernel.Status): void {
    switch (status) {
      case 'restarting':
      case 'autorestarting':
        if (this._model.status.kind === 'unsupported') {
          return;
        }
        // JupyterLab drops messages sent while restarting; wait for idle.
        this._generation++;
        this._dropComm('The kernel is restarting.', false);
        this._needsBootstrap = true;
        this._model.setStatus({ kind: 'stale' });
        break;
      case 'dead':
        this._generation++;
        this._dropComm('The kernel died.', false);
        this._needsBootstrap = false;
        this._model.setStatus({ kind: 'dead' });
        break;
      case 'idle':
        this._maybeRebootstrap();
        break;
      default:
        break;
    }
  }

  private _onConnectionChanged(
    _: ISessionContext,
    status: Kernel.ConnectionStatus
  ): void {
    if (status === 'connected') {
      this._maybeRebootstrap();
    }
  }

  private _maybeRebootstrap(): void {
    const kernel = this._kernel;
    if (
      this._needsBootstrap &&
      kernel &&
      kernel.status === 'idle' &&
      kernel.connectionStatus === 'connected'
    ) {
      void this._connect(kernel);
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
    if (current.statusRefreshSeconds !== previous.statusRefreshSeconds) {
      this._schedulePoll();
    }
  }

  private _configure(tracemalloc: boolean): void {
    this.request('configure', { tracemalloc }).catch(reason => {
      // A restart or close re-sends the config with the next comm_open.
      if (!this._isDisposed && reason?.code !== 'closed') {
        this._warnOnce(`Could not configure the kernel helper: ${reason}`);
      }
    });
  }

  /** Read the kernel's RSS every `statusRefreshSeconds` while it is idle. */
  private _schedulePoll(): void {
    if (this._pollTimer !== null) {
      clearTimeout(this._pollTimer);
      this._pollTimer = null;
    }
    const seconds = this._settings.current.statusRefreshSeconds;
    if (this._isDisposed || !this.isReady || !(seconds > 0)) {
      return;
    }
    this._pollTimer = setTimeout(() => {
      this._pollTimer = null;
      void this._poll().then(() => this._schedulePoll());
    }, seconds * 1000);
  }

  private async _poll(): Promise<void> {
    // Comm messages queue behind a running cell (ipykernel < 7), so only
    // ask while idle; cell_measured carries the RSS after each cell anyway.
    if (
      !this.isReady ||
      this._kernel?.status !== 'idle' ||
      document.visibilityState === 'hidden'
    ) {
      return;
    }
    try {
      const result = await this.request('get_rss', {});
      if (result.memory_limit) {
        this._model.setMemoryLimit(result.memory_limit);
      }
      if (typeof result.rss === 'number') {
        this._model.addReading({
          time:
            typeof result.time === 'number' ? result.time : Date.now() / 1000,
          rss: result.rss,
          peakRss: typeof result.peak_rss === 'number' ? result.peak_rss : null
        });
      }
    } catch {
      // A missed reading is harmless; the next poll or cell will update.
    }
  }

  /** Forget the comm and reject what was waiting on it. */
  private _dropComm(reason: string, close: boolean): void {
    // The next comm talks to another process, or to this one restarted.
    this._lastScan = null;
    if (this._pollTimer !== null) {
      clearTimeout(this._pollTimer);
      this._pollTimer = null;
    }
    const comm = this._comm;
    this._comm = null;
    if (comm && close && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // The kernel may already be gone.
      }
    }
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const request of pending) {
      clearTimeout(request.timer);
      request.reject(new KernelClient.RequestError('closed', reason));
    }
  }

  private _warnOnce(message: string): void {
    if (this._warned.has(message)) {
      return;
    }
    this._warned.add(message);
    console.warn(`Memory Doctor: ${message}`);
  }

  private _sessionContext: ISessionContext;
  private _model: MemoryModel;
  private _settings: ISettingsSource;
  private _ui: IUserInterface;
  private _trans: TranslationBundle;
  private _timeoutMs: number;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
  private _generation = 0;
  private _needsBootstrap = false;
  private _notifiedMissing = false;
  private _lastRequestId = 0;
  private _pending = new Map<string, Private.IPending>();
  private _pollTimer: ReturnType<typeof setTimeout> | null = null;
  private _warned = new Set<string>();
  private _scanProgress = new Signal<this, IScanProgressMessage>(this);
  private _live: LiveReadings;
  private _lastScan: KernelClient.ILastScan | null = null;
  private _isDisposed = false;
}

/** The namespace for `KernelClient` statics. */
export namespace KernelClient {
  /** Milliseconds to wait for a reply by default. */
  export const REQUEST_TIMEOUT_MS = 10000;

  /** The scan budget the helper applies when a request names none. */
  export const DEFAULT_SCAN_BUDGET_S = 5;

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

  /** A running scan. */
  export interface IScanHandle {
    /** The scan's request id, or null when it could not be sent. */
    readonly requestId: string | null;
    /** Resolves with the result; rejects like `request()`. */
    readonly done: Promise<IResults['scan']>;
  }

  /** Options for a `KernelClient`. */
  export interface IOptions {
    /** The notebook's session context. */
    sessionContext: ISessionContext;
    /** The model to feed. */
    model: MemoryModel;
    /** Live settings (tracemalloc, polling interval). */
    settings: ISettingsSource;
    /** Notifications and dialogs; swapped for a recorder in tests. */
    ui: IUserInterface;
    /** Translation bundle for user-facing messages. */
    trans?: TranslationBundle;
    /** Milliseconds to wait for a reply; defaults to `REQUEST_TIMEOUT_MS`. */
    requestTimeoutMs?: number;
  }

  /** A failed request: a code from the protocol, or `timeout` / `closed`. */
  export class RequestError extends Error {
    constructor(
      readonly code: string,
      message: string
    ) {
      super(message);
      this.name = 'RequestError';
    }
  }
}

namespace Private {
  /** A request waiting for its reply. */
  export interface IPending {
    resolve: (result: unknown) => void;
    reject: (reason: Error) => void;
    timer: ReturnType<typeof setTimeout>;
  }
}
