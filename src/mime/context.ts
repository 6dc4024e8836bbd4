/**
 * What a magic's output acts through: its own scan (the one the magic made,
 * kept as it was) and its own fix outcome, on its notebook's service. The
 * panel's parts (holders model, fix controller) take an entry; an output
 * gives them a view of its notebook's entry whose scans and fixes are the
 * output's, so a fix clicked in the output goes through the notebook's
 * service (the same confirmation, the same `apply_fix`) and its outcome
 * stays with the output.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { MemoryModel } from '../model';
import { FixModel } from '../panels/fixes/model';
import { ScanModel } from '../panels/holders/scan';
import type { IScanResult } from '../protocol';
import type {
  IFixSource,
  IMemoryDoctorEntry,
  IMemoryDoctorService,
  IMemoryModel
} from '../tokens';

/** Why an output's fixes cannot be applied, or null when they can. */
export type OfflineReason = 'other-kernel' | 'no-notebook' | null;

/**
 * One output's scan and fix outcome, following the notebook it is in.
 */
export class OutputContext implements IDisposable {
  constructor(options: OutputContext.IOptions) {
    this._pid = options.pid;
    if (options.result) {
      // Not a request of this front end: the id only has to match itself.
      this.scans.finish(
        'output',
        options.result,
        options.time,
        options.budgetS
      );
    }
    this._offline.setStatus({
      kind: 'unsupported',
      reason: 'comms'
    });
  }

  /** The output's scan, as the magic made it. */
  readonly scans = new ScanModel();

  /** The output's fix in progress and outcome. */
  readonly fixes = new FixModel();

  /** The entry the panel's parts are given (changes with `follow`). */
  get entry(): IMemoryDoctorEntry {
    return this._entry;
  }

  /** The notebook the output is in, once found. */
  get notebook(): NotebookPanel | null {
    return this._notebook?.panel ?? null;
  }

  /** Why fixes cannot be applied from the output, or null. */
  get offline(): OfflineReason {
    if (!this._notebook) {
      return 'no-notebook';
    }
    return this.scans.stale ? 'other-kernel' : null;
  }

  /** Emitted when `entry` or `offline` changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether the context is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Follow the entry of the notebook the output is in (or none). */
  follow(notebook: IMemoryDoctorEntry | null): void {
    if (notebook === this._notebook) {
      return;
    }
    this._notebook?.model.stateChanged.disconnect(this._check, this);
    this._notebook = notebook;
    notebook?.model.stateChanged.connect(this._check, this);
    this._entry = this._view();
    this._check();
    this._changed.emit();
  }

  /** Stop following. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._notebook?.model.stateChanged.disconnect(this._check, this);
    this.scans.dispose();
    this.fixes.dispose();
    this._offline.dispose();
    Signal.clearData(this);
  }

  /**
   * An output of another kernel process (or of a kernel that restarted or
   * died since) describes objects that are gone: mark its scan stale, which
   * blocks its fixes. The pid tells them apart when the hello gave one.
   */
  private _check(): void {
    const status = this._notebook?.model.status;
    if (!status) {
      return;
    }
    const other =
      status.kind === 'ready'
        ? status.pid !== undefined && status.pid !== this._pid
        : status.kind === 'stale' || status.kind === 'dead';
    if (other && !this.scans.stale) {
      this.scans.markStale();
      this._changed.emit();
    }
  }

  private _view(): IMemoryDoctorEntry {
    const notebook = this._notebook;
    const source: IFixSource = { scans: this.scans, fixes: this.fixes };
    return {
      // The holders model and the fix controller never read the panel; an
      // output outside a notebook has none.
      panel: notebook?.panel as NotebookPanel,
      model: notebook?.model ?? (this._offline as IMemoryModel),
      scans: this.scans,
      fixes: this.fixes,
      service: Private.service(notebook?.service ?? null, source)
    };
  }

  private _pid: number;
  private _notebook: IMemoryDoctorEntry | null = null;
  private _offline = new MemoryModel();
  private _entry: IMemoryDoctorEntry = this._view();
  private _changed = new Signal<this, void>(this);
  private _isDisposed = false;
}

/** The namespace for `OutputContext` statics. */
export namespace OutputContext {
  /** Options for an `OutputContext`. */
  export interface IOptions {
    /** The scan the magic made, if it made one. */
    result: IScanResult | null;
    /** The kernel process that made the output. */
    pid: number;
    /** When the output was rendered (epoch ms). */
    time: number;
    /** The scan's budget in seconds. */
    budgetS: number;
  }
}

namespace Private {
  /**
   * The notebook's service as the output's fixes use it: a fix goes through
   * it with the output's scan and outcome; a rescan after a fix refreshes
   * the notebook's own scan (the panel's), not the output's record.
   */
  export function service(
    real: IMemoryDoctorService | null,
    source: IFixSource
  ): IMemoryDoctorService {
    return {
      get isReady() {
        return real?.isReady ?? false;
      },
      get liveMode() {
        return real?.liveMode ?? 'off';
      },
      reload: () => real?.reload() ?? Promise.resolve(),
      scan: () => real?.scan() ?? Promise.resolve(),
      cancelScan: () => real?.cancelScan() ?? Promise.resolve(),
      applyFix: (suggestion, confirm) =>
        real?.applyFix(suggestion, confirm, source) ?? Promise.resolve(null),
      clearFigures: () => undefined
    };
  }
}
