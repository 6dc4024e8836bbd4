/**
 * The connection between one notebook's session and the kernel helper:
 * bootstrap, comm, typed requests and the kernel lifecycle (restart, kernel
 * change, death), in the manner of ipywidgets' `manager.ts`. It keeps the
 * connection status and tells what arrives through signals; what to make of
 * it is the service's business (`service.ts`), which owns this client.
 */

import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import type { JSONObject } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { MemoryStatus, sameStatus } from './model';
import {
  BOOTSTRAP_CODE,
  COMM_TARGET,
  DecodeError,
  decodeResult,
  ICellClusterMessage,
  ICellProfileMessage,
  ICellRecord,
  IErrorMessage,
  IHelloMessage,
  IKernelConfigPatch,
  IRequests,
  IResults,
  IScanProgressMessage,
  PIP_INSTALL_HINT,
  PROTOCOL_VERSION,
  readKernelMessage,
  ReplyMessage,
  REQUEST_TIMEOUT_S,
  RequestType
} from './protocol';
import { CLIENT_NAME, IUserInterface, TRANSLATION_DOMAIN } from './tokens';

/**
 * Bootstraps the helper into a notebook's kernel and keeps a comm to it.
 */
export class KernelClient implements IDisposable {
  constructor(options: KernelClient.IOptions) {
    this._sessionContext = options.sessionContext;
    this._config = options.config;
    this._ui = options.ui;
    this._trans = options.trans ?? nullTranslator.load(TRANSLATION_DOMAIN);
    this._timeoutMs =
      options.requestTimeoutMs ?? KernelClient.REQUEST_TIMEOUT_MS;

    const context = this._sessionContext;
    context.kernelChanged.connect(this._onKernelChanged, this);
    context.statusChanged.connect(this._onStatusChanged, this);
    context.connectionStatusChanged.connect(this._onConnectionChanged, this);
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

  /** The connection status. */
  get status(): MemoryStatus {
    return this._status;
  }

  /** Emitted when `status` changes. */
  get statusChanged(): ISignal<this, MemoryStatus> {
    return this._statusChanged;
  }

  /** Emitted with a compatible `hello`, right after `status` became ready. */
  get hello(): ISignal<this, IHelloMessage> {
    return this._hello;
  }

  /** Emitted with the record of every `cell_measured` message. */
  get cellMeasured(): ISignal<this, ICellRecord> {
    return this._cellMeasured;
  }

  /**
   * Emitted with every `cell_cluster` message (1.3): a cell's Dask cluster
   * measurement, about a second after its `cell_measured`.
   */
  get cellCluster(): ISignal<this, ICellClusterMessage> {
    return this._cellCluster;
  }

  /**
   * Emitted with every `cell_profile` message (1.3): a run's line profile,
   * after its `cell_measured`.
   */
  get cellProfile(): ISignal<this, ICellProfileMessage> {
    return this._cellProfile;
  }

  /** Emitted for every `scan_progress` message from the current kernel. */
  get scanProgress(): ISignal<this, IScanProgressMessage> {
    return this._scanProgress;
  }

  /** Whether the helper answered and requests can be sent. */
  get isReady(): boolean {
    return this._comm !== null && this._status.kind === 'ready';
  }

  /** Whether the client is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
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
   * Send a request to the helper and resolve with its result, decoded
   * (an invalid holder, resource or suggestion is left out and logged).
   *
   * Rejects when the helper answers `ok: false` (with its code), with a
   * result that does not decode (`bad_reply`), after `requestTimeoutMs`
   * without an answer, and when the comm closes or the kernel restarts.
   */
  request<K extends keyof IRequests>(
    type: K,
    params: IRequests[K],
    options: KernelClient.ISendOptions = {}
  ): Promise<IResults[K]> {
    return this.send(type, params, options).done;
  }

  /**
   * Send a request. The handle carries the request id, which a `scan`'s
   * `scan_progress` messages and a `cancel` refer to (null when nothing
   * could be sent), and resolves like `request()`. The timeout is never
   * shorter than `requestTimeoutMs`; when `keepWaiting` says so at the
   * deadline, the deadline moves that far again.
   */
  send<K extends keyof IRequests>(
    type: K,
    params: IRequests[K],
    options: KernelClient.ISendOptions = {}
  ): KernelClient.IRequestHandle<K> {
    const timeoutMs = Math.max(this._timeoutMs, options.timeoutMs ?? 0);
    const keepWaiting = options.keepWaiting;
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
        type,
        resolve: resolve as (result: unknown) => void,
        reject,
        timer: setTimeout(expire, timeoutMs)
      };
      this._pending.set(requestId, pending);
      comm.send({ ...params, type, request_id: requestId } as JSONObject);
    });
    return { requestId, done };
  }

  /** Log a problem with the helper, once per message. */
  warnOnce(message: string): void {
    if (this._warned.has(message)) {
      return;
    }
    this._warned.add(message);
    console.warn(`Memory Doctor: ${message}`);
  }

  /** Close the comm and stop listening. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._generation++;
    this._dismissMissing();
    this._dropComm('The notebook was closed.', true);
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
      this._setStatus({ kind: 'connecting' });
      return;
    }
    if (kernel.handleComms === false) {
      this._setStatus({ kind: 'unsupported', reason: 'comms' });
      return;
    }
    this._setStatus({ kind: 'connecting' });
    const info = await this._settle(kernel.info, stale);
    if (info === undefined) {
      return;
    }
    if (info.language_info?.name !== 'python') {
      this._setStatus({ kind: 'unsupported', reason: 'language' });
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
        this._setStatus({ kind: 'no-helper', hint: PIP_INSTALL_HINT });
        if (!this._notifiedMissing) {
          this._notifiedMissing = true;
          const context = this._sessionContext;
          this._missingNotice =
            this._ui.helperMissing(
              PIP_INSTALL_HINT,
              context.name || context.path
            ) ?? null;
        }
      } else {
        this._setStatus({
          kind: 'error',
          message: `${content.ename}: ${content.evalue}`
        });
      }
      return;
    }
    if (content.status !== 'ok') {
      this._setStatus({
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
        this._setStatus({ kind: 'error', message: String(reason) });
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
      this._setStatus({ kind: 'error', message: String(reason) });
      return;
    }
    this._comm = comm;
    comm.onMsg = msg => this._onCommMsg(generation, comm, msg);
    comm.onClose = () => this._onCommClose(generation, comm);
    comm.open(
      {
        protocol_version: PROTOCOL_VERSION,
        client: CLIENT_NAME,
        config: this._config() as unknown as JSONObject
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
    const raw: unknown = msg.content?.data;
    const dropped: DecodeError[] = [];
    const read = readKernelMessage(raw, { onDrop: e => dropped.push(e) });
    switch (read.kind) {
      case 'mismatch':
        this._fail(
          this._trans.__(
            'Memory Doctor front end speaks protocol %1 but the kernel helper %2 speaks %3. Install matching versions: %4, then restart the kernel.',
            PROTOCOL_VERSION,
            read.helperVersion,
            read.protocolVersion,
            '%pip install -U jupyterlab-memory-doctor'
          )
        );
        return;
      case 'unknown':
        this.warnOnce(
          `Ignoring a "${read.type}" message: the kernel helper is newer than this front end.`
        );
        return;
      case 'malformed':
        this._onMalformed(raw, read.error);
        return;
    }
    const message = read.message;
    Private.reportDropped(`a ${message.type} message`, dropped);
    switch (message.type) {
      case 'hello':
        this._onHello(message);
        break;
      case 'error':
        this._onError(message);
        break;
      case 'cell_measured':
        this._cellMeasured.emit(message.record);
        break;
      case 'scan_progress':
        this._scanProgress.emit(message);
        break;
      case 'cell_cluster':
        this._cellCluster.emit(message);
        break;
      case 'cell_profile':
        this._cellProfile.emit(message);
        break;
      case 'reply':
        this._onReply(message);
        break;
    }
  }

  private _onHello(hello: IHelloMessage): void {
    this._setStatus({
      kind: 'ready',
      peakMethod: hello.peak_method,
      peakExact: hello.peak_exact,
      helperVersion: hello.helper_version,
      python: hello.python,
      pid: hello.pid
    });
    this._hello.emit(hello);
  }

  private _onError(error: IErrorMessage): void {
    if (error.code === 'protocol_mismatch') {
      this._fail(error.message);
    } else if (this._status.kind === 'ready') {
      this.warnOnce(`Kernel helper error: ${error.message}`);
    } else {
      this._setStatus({ kind: 'error', message: error.message });
    }
  }

  private _onReply(reply: ReplyMessage): void {
    const pending = this._takePending(reply.request_id);
    if (!pending) {
      this.warnOnce('Ignoring a reply to an unknown request.');
      return;
    }
    if (!reply.ok) {
      pending.reject(
        new KernelClient.RequestError(reply.error.code, reply.error.message)
      );
      return;
    }
    const dropped: DecodeError[] = [];
    let result: unknown;
    try {
      result = decodeResult(pending.type, reply.result, {
        path: `${pending.type} result`,
        onDrop: e => dropped.push(e)
      });
    } catch (error) {
      if (!(error instanceof DecodeError)) {
        throw error;
      }
      pending.reject(Private.badReply(pending.type, error));
      return;
    }
    Private.reportDropped(`the ${pending.type} result`, dropped);
    pending.resolve(result);
  }

  /**
   * A message that does not decode is logged and ignored; when it is a reply
   * to a waiting request, that request fails now instead of timing out.
   */
  private _onMalformed(raw: unknown, error: DecodeError): void {
    const value = Private.isObject(raw) ? raw : {};
    const pending =
      value.type === 'reply' && typeof value.request_id === 'string'
        ? this._takePending(value.request_id)
        : undefined;
    if (pending) {
      pending.reject(Private.badReply(pending.type, error));
      return;
    }
    this.warnOnce(
      `Ignoring a malformed message from the kernel helper: ${error.message}`
    );
  }

  /** The request waiting for `requestId`, no longer waiting. */
  private _takePending(requestId: string | null): Private.IPending | undefined {
    const pending =
      requestId === null ? undefined : this._pending.get(requestId);
    if (pending && requestId !== null) {
      this._pending.delete(requestId);
      clearTimeout(pending.timer);
    }
    return pending;
  }

  private _onCommClose(generation: number, comm: Kernel.IComm): void {
    if (generation !== this._generation || comm !== this._comm) {
      return;
    }
    this._dropComm('The kernel closed the connection.', false);
    if (this._status.kind !== 'mismatch') {
      this._setStatus({
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
    this._setStatus({ kind: 'mismatch', message });
    this._ui.versionMismatch(message);
  }

  private _onKernelChanged(
    _: ISessionContext,
    args: { newValue: Kernel.IKernelConnection | null }
  ): void {
    // The notice was about the old kernel; another one (environment) may
    // lack the helper too: then it says so again.
    this._dismissMissing();
    this._notifiedMissing = false;
    void this._connect(args.newValue);
  }

  private _onStatusChanged(_: ISessionContext, status: Kernel.Status): void {
    switch (status) {
      case 'restarting':
      case 'autorestarting':
        if (this._status.kind === 'unsupported') {
          return;
        }
        // JupyterLab drops messages sent while restarting; wait for idle.
        this._generation++;
        this._dropComm('The kernel is restarting.', false);
        this._needsBootstrap = true;
        this._setStatus({ kind: 'stale' });
        break;
      case 'dead':
        this._generation++;
        this._dropComm('The kernel died.', false);
        this._needsBootstrap = false;
        this._setStatus({ kind: 'dead' });
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

  /** Take the notice about the missing helper away, if it is up. */
  private _dismissMissing(): void {
    this._missingNotice?.dispose();
    this._missingNotice = null;
  }

  private _setStatus(status: MemoryStatus): void {
    if (status.kind === 'ready') {
      // The helper loaded: the notice about it missing no longer applies.
      this._dismissMissing();
    }
    if (!sameStatus(this._status, status)) {
      this._status = status;
      this._statusChanged.emit(status);
    }
  }

  /** Forget the comm and reject what was waiting on it. */
  private _dropComm(reason: string, close: boolean): void {
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

  private _sessionContext: ISessionContext;
  private _config: () => IKernelConfigPatch;
  private _ui: IUserInterface;
  private _trans: TranslationBundle;
  private _timeoutMs: number;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
  private _generation = 0;
  private _needsBootstrap = false;
  private _notifiedMissing = false;
  private _missingNotice: IDisposable | null = null;
  private _lastRequestId = 0;
  private _pending = new Map<string, Private.IPending>();
  private _warned = new Set<string>();
  private _status: MemoryStatus = { kind: 'connecting' };
  private _statusChanged = new Signal<this, MemoryStatus>(this);
  private _hello = new Signal<this, IHelloMessage>(this);
  private _cellMeasured = new Signal<this, ICellRecord>(this);
  private _scanProgress = new Signal<this, IScanProgressMessage>(this);
  private _cellCluster = new Signal<this, ICellClusterMessage>(this);
  private _cellProfile = new Signal<this, ICellProfileMessage>(this);
  private _isDisposed = false;
}

/** The namespace for `KernelClient` statics. */
export namespace KernelClient {
  /** Milliseconds to wait for a reply by default (`REQUEST_TIMEOUT_S`). */
  export const REQUEST_TIMEOUT_MS = REQUEST_TIMEOUT_S * 1000;

  /** How long to wait for a reply. */
  export interface ISendOptions {
    /** Milliseconds; never less than the client's `requestTimeoutMs`. */
    timeoutMs?: number;
    /**
     * Asked at the deadline: true moves the deadline `timeoutMs` further
     * (e.g. while a cell runs that the reply has to wait for).
     */
    keepWaiting?: () => boolean;
  }

  /** A request on its way. */
  export interface IRequestHandle<K extends keyof IRequests> {
    /** The request id, or null when it could not be sent. */
    readonly requestId: string | null;
    /** Resolves with the result; rejects like `request()`. */
    readonly done: Promise<IResults[K]>;
  }

  /** Options for a `KernelClient`. */
  export interface IOptions {
    /** The notebook's session context. */
    sessionContext: ISessionContext;
    /** The helper configuration sent with every `comm_open`. */
    config: () => IKernelConfigPatch;
    /** Notifications and dialogs; swapped for a recorder in tests. */
    ui: IUserInterface;
    /** Translation bundle for user-facing messages. */
    trans?: TranslationBundle;
    /** Milliseconds to wait for a reply; defaults to `REQUEST_TIMEOUT_MS`. */
    requestTimeoutMs?: number;
  }

  /**
   * The code and message of a failed request (`RequestError`), or of
   * anything else thrown (code `internal`).
   */
  export function failure(reason: unknown): { code: string; message: string } {
    const code =
      typeof (reason as { code?: unknown })?.code === 'string'
        ? (reason as { code: string }).code
        : 'internal';
    const message =
      reason instanceof Error && reason.message
        ? reason.message
        : String(reason);
    return { code, message };
  }

  /**
   * A failed request: an error code of the protocol, or `timeout`, `closed`,
   * `not_connected`, or `bad_reply` (the result does not decode).
   */
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
    /** What was asked: the reply's result is decoded as this request's. */
    type: RequestType;
    resolve: (result: unknown) => void;
    reject: (reason: Error) => void;
    timer: ReturnType<typeof setTimeout>;
  }

  export function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  }

  /** A reply whose result is not what the protocol says. */
  export function badReply(
    type: RequestType,
    error: DecodeError
  ): KernelClient.RequestError {
    console.error(`Memory Doctor: a malformed ${type} reply: ${error.message}`);
    return new KernelClient.RequestError(
      'bad_reply',
      `The kernel helper sent a malformed ${type} reply (${error.message}). Update the helper and the extension to matching versions.`
    );
  }

  /**
   * Log what the decoders left out of `what` (an invalid holder, resource,
   * suggestion or record): one line, naming each path.
   */
  export function reportDropped(what: string, dropped: DecodeError[]): void {
    if (dropped.length === 0) {
      return;
    }
    const shown = dropped.slice(0, 5).map(e => e.message);
    if (dropped.length > shown.length) {
      shown.push(`… and ${dropped.length - shown.length} more`);
    }
    console.error(
      `Memory Doctor: left out ${dropped.length} malformed item(s) of ${what} from the kernel helper:\n  ${shown.join('\n  ')}`
    );
  }
}
