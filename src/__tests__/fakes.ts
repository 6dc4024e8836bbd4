/**
 * Small fakes for the kernel, its comms and a session context. testutils'
 * KernelMock has no comms, and the client only uses this subset.
 */

import type { ISessionContext } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { PromiseDelegate } from '@lumino/coreutils';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import type { KernelClient } from '../kernelClient';
import type { MemoryModel } from '../model';
import type { ICellRecord } from '../protocol';
import { MemoryDoctorService } from '../service';
import { MemoryDoctorSettings } from '../settings';
import type { IUserInterface } from '../tokens';

/** A comm that records what the client sends and lets tests push messages. */
export class FakeComm {
  constructor(
    readonly targetName: string,
    readonly commId: string
  ) {}

  onMsg: (msg: KernelMessage.ICommMsgMsg) => void | PromiseLike<void> = () =>
    undefined;
  onClose: (msg: KernelMessage.ICommCloseMsg) => void | PromiseLike<void> =
    () => undefined;

  /** `comm_open` payloads, as `[data, metadata]`. */
  opened: [unknown, unknown][] = [];
  /** Data of every `comm_msg` sent by the client. */
  sent: Record<string, unknown>[] = [];
  closed = false;
  isDisposed = false;

  open(data?: unknown, metadata?: unknown): unknown {
    this.opened.push([data, metadata]);
    return {};
  }

  send(data: unknown): unknown {
    this.sent.push(data as Record<string, unknown>);
    return {};
  }

  close(): unknown {
    this.closed = true;
    return {};
  }

  dispose(): void {
    this.isDisposed = true;
  }

  /** Deliver a message from the kernel to the client. */
  receive(data: unknown): void {
    void this.onMsg({
      content: { comm_id: this.commId, data }
    } as unknown as KernelMessage.ICommMsgMsg);
  }

  /** Deliver a `comm_close` from the kernel. */
  receiveClose(): void {
    void this.onClose({
      content: { comm_id: this.commId, data: {} }
    } as unknown as KernelMessage.ICommCloseMsg);
  }

  /** The last request sent, with its id. */
  lastRequest(): Record<string, unknown> {
    const last = this.sent[this.sent.length - 1];
    if (!last) {
      throw new Error('No request was sent.');
    }
    return last;
  }
}

/** How the fake kernel answers an execute request. */
export type ExecuteReply =
  | { status: 'ok' }
  | { status: 'error'; ename: string; evalue: string }
  | { status: 'aborted' };

/** The subset of a kernel connection the client uses. */
export class FakeKernel {
  constructor(options: FakeKernel.IOptions = {}) {
    this.handleComms = options.handleComms ?? true;
    this.language = options.language ?? 'python';
    this.executeReply = options.executeReply ?? { status: 'ok' };
    this.supportsSubshells = options.supportsSubshells ?? false;
  }

  readonly id = `kernel-${++FakeKernel.count}`;
  handleComms: boolean;
  language: string;
  executeReply: ExecuteReply;
  status: Kernel.Status = 'idle';
  connectionStatus: Kernel.ConnectionStatus = 'connected';
  readonly statusChanged = new Signal<this, Kernel.Status>(this);
  readonly connectionStatusChanged = new Signal<this, Kernel.ConnectionStatus>(
    this
  );
  /** Every message sent or received, as `IKernelConnection.anyMessage`. */
  readonly anyMessage = new Signal<this, Kernel.IAnyMessageArgs>(this);
  /** Whether the kernel advertises `kernel subshells` (ipykernel ≥ 7). */
  supportsSubshells: boolean;
  /** JupyterLab ≥ 4.4's default: one subshell per comm target. */
  commsOverSubshells = 'perCommTarget';

  /** Every execute request's content. */
  executed: KernelMessage.IExecuteRequestMsg['content'][] = [];
  /** Every comm created, in order. */
  comms: FakeComm[] = [];

  get info(): Promise<KernelMessage.IInfoReply> {
    return Promise.resolve({
      language_info: { name: this.language }
    } as unknown as KernelMessage.IInfoReply);
  }

  requestExecute(content: KernelMessage.IExecuteRequestMsg['content']): {
    done: Promise<KernelMessage.IExecuteReplyMsg>;
  } {
    this.executed.push(content);
    const reply = {
      content: { execution_count: null, traceback: [], ...this.executeReply }
    } as unknown as KernelMessage.IExecuteReplyMsg;
    return { done: Promise.resolve(reply) };
  }

  createComm(targetName: string): FakeComm {
    if (!this.handleComms) {
      throw new Error('Comms are disabled on this kernel connection');
    }
    const comm = new FakeComm(targetName, `comm-${this.comms.length + 1}`);
    this.comms.push(comm);
    return comm;
  }

  /** The most recent comm. */
  lastComm(): FakeComm {
    const comm = this.comms[this.comms.length - 1];
    if (!comm) {
      throw new Error('No comm was created.');
    }
    return comm;
  }

  /** Change the status as JupyterLab does, emitting on the session context. */
  setStatus(status: Kernel.Status, context?: FakeSessionContext): void {
    this.status = status;
    this.statusChanged.emit(status);
    context?.statusChanged.emit(status);
  }

  /** Change the connection status, emitting on the session context. */
  setConnectionStatus(
    status: Kernel.ConnectionStatus,
    context?: FakeSessionContext
  ): void {
    this.connectionStatus = status;
    this.connectionStatusChanged.emit(status);
    context?.connectionStatusChanged.emit(status);
  }

  /**
   * Emit what JupyterLab emits when a notebook cell is executed: the sent
   * `execute_request` (with `metadata.cellId`). Returns its msg id.
   */
  sendExecute(cellId: string | null, silent = false): string {
    const msgId = `execute-${++FakeKernel.count}`;
    this.anyMessage.emit({
      direction: 'send',
      msg: {
        channel: 'shell',
        header: { msg_id: msgId, msg_type: 'execute_request' },
        parent_header: {},
        metadata: cellId === null ? {} : { cellId },
        content: { code: '', silent }
      } as unknown as KernelMessage.IMessage
    });
    return msgId;
  }

  /** Emit an iopub `status` whose parent is the given request. */
  emitStatus(
    state: 'busy' | 'idle',
    parentId: string,
    parentType = 'execute_request'
  ): void {
    this.anyMessage.emit({
      direction: 'recv',
      msg: {
        channel: 'iopub',
        header: { msg_id: `status-${++FakeKernel.count}`, msg_type: 'status' },
        parent_header: { msg_id: parentId, msg_type: parentType },
        metadata: {},
        content: { execution_state: state }
      } as unknown as KernelMessage.IMessage
    });
  }

  static count = 0;
}

/** The namespace for `FakeKernel` options. */
export namespace FakeKernel {
  /** Options for a `FakeKernel`. */
  export interface IOptions {
    handleComms?: boolean;
    language?: string;
    executeReply?: ExecuteReply;
    supportsSubshells?: boolean;
  }
}

/** The subset of `ISessionContext` the client uses. */
export class FakeSessionContext {
  constructor(kernel: FakeKernel | null) {
    this.session = { kernel };
  }

  session: { kernel: FakeKernel | null };
  /** The notebook's name, as a session context has it. */
  name = 'analysis.ipynb';
  readonly kernelChanged = new Signal<
    this,
    { name: 'kernel'; oldValue: FakeKernel | null; newValue: FakeKernel | null }
  >(this);
  readonly statusChanged = new Signal<this, Kernel.Status>(this);
  readonly connectionStatusChanged = new Signal<this, Kernel.ConnectionStatus>(
    this
  );
  private _ready = new PromiseDelegate<void>();

  get ready(): Promise<void> {
    return this._ready.promise;
  }

  /** Resolve `ready`, as a session context does once its kernel is known. */
  makeReady(): void {
    this._ready.resolve();
  }

  /** Switch to another kernel and emit `kernelChanged`. */
  changeKernel(kernel: FakeKernel | null): void {
    const oldValue = this.session.kernel;
    this.session = { kernel };
    this.kernelChanged.emit({ name: 'kernel', oldValue, newValue: kernel });
  }

  /** This fake, typed as what the client expects. */
  asContext(): ISessionContext {
    return this as unknown as ISessionContext;
  }
}

/** A notebook tracker whose panels and current one the test sets. */
export class FakeNotebookTracker {
  currentWidget: NotebookPanel | null = null;
  readonly currentChanged = new Signal<this, NotebookPanel | null>(this);
  readonly widgetAdded = new Signal<this, NotebookPanel>(this);
  readonly panels: NotebookPanel[] = [];

  /** Track a panel and emit `widgetAdded`. */
  add(panel: NotebookPanel): void {
    this.panels.push(panel);
    this.widgetAdded.emit(panel);
  }

  /** Call `fn` with every tracked panel. */
  forEach(fn: (panel: NotebookPanel) => void): void {
    this.panels.forEach(fn);
  }

  /** Make `panel` current and emit. */
  setCurrent(panel: NotebookPanel | null): void {
    this.currentWidget = panel;
    this.currentChanged.emit(panel);
  }

  /** This fake, typed as the notebook tracker. */
  asTracker(): INotebookTracker {
    return this as unknown as INotebookTracker;
  }
}

/** Records the user-facing side effects instead of showing them. */
export class RecordingUserInterface implements IUserInterface {
  missing: string[] = [];
  /** The notebook each missing-helper notice named. */
  notebooks: string[] = [];
  /** How many missing-helper notices were taken away. */
  dismissed = 0;
  mismatches: string[] = [];

  helperMissing(hint: string, notebook: string): IDisposable {
    this.missing.push(hint);
    this.notebooks.push(notebook);
    return new DisposableDelegate(() => this.dismissed++);
  }

  versionMismatch(message: string): void {
    this.mismatches.push(message);
  }
}

/** Let pending promise callbacks run. */
export async function flush(times = 10): Promise<void> {
  for (let i = 0; i < times; i++) {
    await Promise.resolve();
  }
}

/** A valid record, with overrides. */
export function makeRecord(overrides: Partial<ICellRecord> = {}): ICellRecord {
  return {
    cell_id: 'cell-1',
    execution_count: 1,
    status: 'ok',
    started_at: 1795032000.25,
    duration_s: 0.412,
    rss_before: 104857600,
    rss_after: 516857600,
    rss_delta: 412000000,
    peak_rss: 1304857600,
    peak_increase: 1200000000,
    peak_method: 'vmhwm',
    gc_collections: 2,
    py_heap_delta: null,
    py_heap_peak: null,
    growth: null,
    ...overrides
  };
}

/** A valid `hello`, with overrides. */
export function makeHello(
  overrides: Record<string, unknown> = {}
): Record<string, unknown> {
  return {
    type: 'hello',
    protocol_version: '1.0',
    helper_version: '0.1.0',
    peak_method: 'vmhwm',
    peak_exact: true,
    python: '3.11.7',
    platform: 'linux',
    pid: 4242,
    rss: 98566144,
    config: { tracemalloc: false },
    records: [],
    ...overrides
  };
}

/**
 * A notebook's service on a fake kernel, with what it was built from: the
 * model it writes and its kernel client.
 */
export interface IClientHarness {
  kernel: FakeKernel;
  context: FakeSessionContext;
  model: MemoryModel;
  settings: MemoryDoctorSettings;
  ui: RecordingUserInterface;
  service: MemoryDoctorService;
  client: KernelClient;
}

const services: MemoryDoctorService[] = [];

/** Dispose every service made by `makeClient` (call in `afterEach`). */
export function disposeClients(): void {
  for (const service of services.splice(0)) {
    service.dispose();
  }
}

/**
 * A `MemoryDoctorService` (and so a `KernelClient`) on a new `FakeKernel`,
 * with idle polling off unless `settings` say otherwise after the call (no
 * test wants it unless it asks), and its session ready unless `ready` is
 * false. The helper has not answered yet: send a `hello` on
 * `kernel.lastComm()`.
 */
export async function makeClient(
  options: {
    kernel?: FakeKernel.IOptions;
    settings?: MemoryDoctorSettings;
    requestTimeoutMs?: number;
    ready?: boolean;
    now?: () => number;
  } = {}
): Promise<IClientHarness> {
  const settings = options.settings ?? new MemoryDoctorSettings();
  settings.update({ ...settings.current, statusRefreshSeconds: 0 });
  const kernel = new FakeKernel(options.kernel);
  const context = new FakeSessionContext(kernel);
  const ui = new RecordingUserInterface();
  const service = new MemoryDoctorService({
    sessionContext: context.asContext(),
    settings,
    ui,
    requestTimeoutMs: options.requestTimeoutMs,
    now: options.now
  });
  services.push(service);
  if (options.ready !== false) {
    context.makeReady();
    await flush();
  }
  return {
    kernel,
    context,
    model: service.model,
    settings,
    ui,
    service,
    client: service.client
  };
}
