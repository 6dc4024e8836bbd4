/**
 * Which of one notebook's cells are executing in its kernel, from the
 * kernel's own messages, and when the kernel dies or restarts. No requests
 * and no model: the service decides what these events mean.
 *
 * The `execute_request` this notebook sent carries `metadata.cellId`, and
 * the iopub `status` that names it as parent says when it starts (busy) and
 * ends (idle). Note that `kernel.status` cannot tell: every comm reply on a
 * subshell publishes its own busy/idle pair, which JupyterLab 4.6 applies to
 * the kernel status even while the main shell is still busy with the cell.
 */

import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

/** What happened to the executions of the followed kernel. */
export type ExecutionEvent =
  /** An execution this notebook sent started (`cellId` null if unknown). */
  | { kind: 'started'; cellId: string | null }
  /** An execution ended (`cellId` null if unknown). */
  | { kind: 'ended'; cellId: string | null }
  /** The kernel died or was killed (once per death); executions are gone. */
  | { kind: 'died' }
  /** The user restarted the kernel; executions are gone. */
  | { kind: 'restarted' }
  /** The session switched to another kernel (or none). */
  | { kind: 'kernel' };

/**
 * Follows a session's kernel and the executions this notebook sent to it.
 */
export class ExecutionTracker implements IDisposable {
  constructor(options: ExecutionTracker.IOptions) {
    this._context = options.sessionContext;
    this._context.kernelChanged.connect(this._onKernelChanged, this);
    this._context.statusChanged.connect(this._onStatusChanged, this);
    this._follow(this._context.session?.kernel ?? null);
  }

  /** The followed kernel. */
  get kernel(): Kernel.IKernelConnection | null {
    return this._kernel;
  }

  /** Whether an execution this notebook sent is running in the kernel. */
  get busy(): boolean {
    return this._executing.size > 0;
  }

  /** Emitted for every start, end, death, restart and kernel change. */
  get changed(): ISignal<this, ExecutionEvent> {
    return this._changed;
  }

  /** Whether the tracker is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Stop following. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._kernel?.anyMessage.disconnect(this._onMessage, this);
    this._kernel = null;
    Signal.disconnectReceiver(this);
    Signal.clearData(this);
  }

  private _onKernelChanged(
    _: ISessionContext,
    args: { newValue: Kernel.IKernelConnection | null }
  ): void {
    if (this._follow(args.newValue)) {
      this._changed.emit({ kind: 'kernel' });
    }
  }

  private _follow(kernel: Kernel.IKernelConnection | null): boolean {
    if (kernel === this._kernel) {
      return false;
    }
    this._kernel?.anyMessage.disconnect(this._onMessage, this);
    this._forget();
    this._kernel = kernel;
    this._down = false;
    kernel?.anyMessage.connect(this._onMessage, this);
    return true;
  }

  /** Forget the executions in flight. */
  private _forget(): void {
    this._executing.clear();
    this._cellOf.clear();
  }

  private _onStatusChanged(_: ISessionContext, status: Kernel.Status): void {
    switch (status) {
      case 'autorestarting':
      case 'dead':
        // The server restarts a kernel that died (an OOM kill, a crash).
        // `dead` may follow failed restarts: report the death once.
        this._forget();
        if (!this._down) {
          this._down = true;
          this._changed.emit({ kind: 'died' });
        }
        break;
      case 'restarting':
        // JupyterLab 4.6 reports a server-side restart of a dead kernel as
        // `restarting`, then `autorestarting` one microtask later; only a
        // restart the user asked for stays `restarting`. Decide after both.
        setTimeout(() => {
          if (!this._down && !this._isDisposed) {
            this._forget();
            this._changed.emit({ kind: 'restarted' });
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
    const msgId = parent.msg_id;
    const state = (msg as KernelMessage.IStatusMsg).content.execution_state;
    if (state === 'busy') {
      this._executing.add(msgId);
      const cellId = this._cellOf.get(msgId) ?? null;
      this._changed.emit({ kind: 'started', cellId });
    } else if (state === 'idle') {
      this._executing.delete(msgId);
      const cellId = this._cellOf.get(msgId) ?? null;
      this._cellOf.delete(msgId);
      this._changed.emit({ kind: 'ended', cellId });
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
    if (this._cellOf.size > ExecutionTracker.MAX_TRACKED) {
      const oldest = this._cellOf.keys().next().value;
      if (oldest !== undefined) {
        this._cellOf.delete(oldest);
      }
    }
  }

  private _context: ISessionContext;
  private _kernel: Kernel.IKernelConnection | null = null;
  /** Execute requests that went busy and not yet idle, by msg id. */
  private _executing = new Set<string>();
  /** Cell ids of this notebook's execute requests, by msg id. */
  private _cellOf = new Map<string, string>();
  private _down = false;
  private _changed = new Signal<this, ExecutionEvent>(this);
  private _isDisposed = false;
}

/** The namespace for `ExecutionTracker` statics. */
export namespace ExecutionTracker {
  /** Execute requests remembered at most (run-all of a long notebook). */
  export const MAX_TRACKED = 5000;

  /** Options for an `ExecutionTracker`. */
  export interface IOptions {
    /** The notebook's session context. */
    sessionContext: ISessionContext;
  }
}
