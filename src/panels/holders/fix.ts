/**
 * The apply flow of a suggestion: ask first when the fix deletes or closes
 * something (naming exactly what), send `apply_fix`, keep the measured
 * outcome, then rescan so that what was freed disappears from the panel.
 * Also "Insert as cell": the same fix as code in a new cell, not run.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { Notebook, NotebookPanel } from '@jupyterlab/notebook';
import { NotebookActions } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import type { MemoryModel } from '../../model';
import {
  FIX_ACTIONS,
  FixAction,
  IFixResult,
  IResource,
  ISuggestion
} from '../../protocol';
import type { HoldersModel } from './model';

/**
 * What became of the last fix asked for in a kernel, as a typed union so the
 * view always has something specific to say.
 */
export type FixOutcome =
  /** The helper applied it and measured the RSS across it. */
  | { kind: 'applied'; suggestion: ISuggestion; result: IFixResult }
  /**
   * The helper refused (e.g. the variable changed since the scan); its
   * message says why and a rescan brings fresh suggestions.
   */
  | { kind: 'refused'; suggestion: ISuggestion; message: string }
  /** It failed or got no answer (`code` is the error code or `timeout`). */
  | { kind: 'failed'; suggestion: ISuggestion; code: string; message: string }
  /** Its code was inserted as a new cell (not run). */
  | { kind: 'inserted'; suggestion: ISuggestion }
  /** Its code could not be inserted: no notebook to insert into. */
  | { kind: 'no-notebook'; suggestion: ISuggestion };

/**
 * Asks the user whether to apply a destructive fix; resolves true to go on.
 */
export type ConfirmFix = (
  suggestion: ISuggestion,
  targets: string[]
) => Promise<boolean>;

/** Inserts code as a new cell below the active cell of a notebook. */
export type InsertCell = (notebook: Notebook, code: string) => void;

/**
 * Runs fixes for the kernel the holders model follows, and keeps the last
 * outcome of each kernel (so switching notebooks shows each one's own).
 */
export class FixController implements IDisposable {
  constructor(options: FixController.IOptions) {
    this._model = options.model;
    this._trans = options.trans;
    this._confirm =
      options.confirm ??
      ((suggestion, targets) => confirmFix(suggestion, targets, this._trans));
    this._notebook = options.notebook;
    this._insert = options.insert ?? insertCellBelow;
    this._model.changed.connect(this._onModelChanged, this);
  }

  /** The holders model whose kernel fixes are applied to. */
  get model(): HoldersModel {
    return this._model;
  }

  /** The last outcome for the followed kernel, or null. */
  get outcome(): FixOutcome | null {
    const model = this._model.entry?.model;
    return model ? (this._outcomes.get(model) ?? null) : null;
  }

  /**
   * The id of the suggestion being confirmed or applied in the followed
   * kernel, or null.
   */
  get applying(): string | null {
    const model = this._model.entry?.model;
    return model ? (this._applying.get(model) ?? null) : null;
  }

  /**
   * Whether the followed kernel's fix was sent and waits for the running
   * cell to end (the helper applies it only then).
   */
  get waiting(): boolean {
    const model = this._model.entry?.model;
    return !!model && this._sent.has(model) && model.running !== null;
  }

  /**
   * Why Apply cannot run now, as a sentence, or null when it can: only a
   * connected kernel's latest, current scan has suggestions the helper will
   * accept, and one fix runs at a time.
   */
  get blocked(): string | null {
    const model = this._model;
    const trans = this._trans;
    if (this.applying !== null) {
      return trans.__('Another fix is being applied.');
    }
    if (model.running) {
      return trans.__('A scan is running; its results bring new suggestions.');
    }
    if (model.stale) {
      return trans.__(
        'These suggestions predate a kernel restart. Press Refresh first.'
      );
    }
    if (!model.canRefresh || !model.result) {
      return trans.__('The kernel is not connected.');
    }
    return null;
  }

  /** Emitted when the outcome or the applying state changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether the controller is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * What a suggestion acts on, for people: resource ids become the
   * resource's label and detail; names stay as they are.
   */
  describeTargets(suggestion: ISuggestion): string[] {
    const resources = this._model.result?.resources ?? [];
    return describeTargets(suggestion, resources, this._trans);
  }

  /**
   * Apply a suggestion of the current scan. Destructive fixes are confirmed
   * first. Resolves with the outcome, or null when nothing was sent
   * (declined, blocked, or not a suggestion of the current scan).
   */
  async apply(suggestion: ISuggestion): Promise<FixOutcome | null> {
    const entry = this._model.entry;
    const current = this._model.result?.suggestions?.find(
      s => s.id === suggestion.id
    );
    if (!entry || !current || this.blocked !== null) {
      return null;
    }
    const memory = entry.model;
    // Claim the kernel before the dialog, so a second click cannot queue a
    // second fix behind it.
    this._setApplying(memory, current.id);
    let outcome: FixOutcome | null = null;
    try {
      if (
        current.destructive &&
        !(await this._confirm(current, this.describeTargets(current)))
      ) {
        return null;
      }
      // The scan may have changed while the dialog was open.
      if (this._model.result?.suggestions?.includes(current) !== true) {
        outcome = {
          kind: 'refused',
          suggestion: current,
          message: this._trans.__(
            'The panel was refreshed while you decided; check the new suggestions.'
          )
        };
        return outcome;
      }
      // Say whether it waits for a cell while the reply is outstanding.
      this._sent.add(memory);
      memory.liveChanged.connect(this._onLiveChanged, this);
      this._changed.emit();
      try {
        const raw = await entry.service.applyFix(current);
        outcome = {
          kind: 'applied',
          suggestion: current,
          result: normalizeFixResult(raw, current)
        };
      } catch (reason) {
        outcome = Private.failure(current, reason);
      } finally {
        this._sent.delete(memory);
        memory.liveChanged.disconnect(this._onLiveChanged, this);
      }
      return outcome;
    } finally {
      if (outcome) {
        this._outcomes.set(memory, outcome);
      }
      this._setApplying(memory, null);
      if (outcome?.kind === 'applied' && this._model.entry === entry) {
        // Rescan so what was freed leaves the table and the suggestions.
        await this._model.refresh();
      }
    }
  }

  /**
   * Insert a suggestion's code as a new code cell below the active cell of
   * the followed notebook, without running it.
   */
  insert(suggestion: ISuggestion): FixOutcome {
    const memory = this._model.entry?.model;
    const panel = this._notebook();
    const outcome: FixOutcome = panel
      ? { kind: 'inserted', suggestion }
      : { kind: 'no-notebook', suggestion };
    if (panel) {
      this._insert(panel.content, suggestion.code);
    }
    if (memory) {
      this._outcomes.set(memory, outcome);
    }
    this._changed.emit();
    return outcome;
  }

  /** Forget the followed kernel's outcome. */
  dismiss(): void {
    const memory = this._model.entry?.model;
    if (memory && this._outcomes.delete(memory)) {
      this._changed.emit();
    }
  }

  /** Stop listening. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._model.changed.disconnect(this._onModelChanged, this);
    Signal.clearData(this);
  }

  private _setApplying(memory: MemoryModel, id: string | null): void {
    if (id === null) {
      this._applying.delete(memory);
    } else {
      this._applying.set(memory, id);
    }
    this._changed.emit();
  }

  private _onLiveChanged(memory: MemoryModel): void {
    if (this._model.entry?.model === memory) {
      this._changed.emit();
    }
  }

  private _onModelChanged(_: HoldersModel, change: string): void {
    // Another notebook, a scan or a restart changes what there is to say.
    if (change === 'state') {
      this._changed.emit();
    }
  }

  private _model: HoldersModel;
  private _trans: TranslationBundle;
  private _confirm: ConfirmFix;
  private _notebook: () => NotebookPanel | null;
  private _insert: InsertCell;
  private _outcomes = new WeakMap<MemoryModel, FixOutcome>();
  private _applying = new WeakMap<MemoryModel, string>();
  private _sent = new WeakSet<MemoryModel>();
  private _changed = new Signal<this, void>(this);
  private _isDisposed = false;
}

/** The namespace for `FixController` options. */
export namespace FixController {
  /** Options for a `FixController`. */
  export interface IOptions {
    /** The holders model (followed kernel, latest scan, rescans). */
    model: HoldersModel;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** The notebook the panel follows, where "Insert as cell" inserts. */
    notebook: () => NotebookPanel | null;
    /** Asks before a destructive fix; defaults to `confirmFix`. */
    confirm?: ConfirmFix;
    /** Inserts a cell; defaults to `insertCellBelow`. */
    insert?: InsertCell;
  }
}

/**
 * What a suggestion acts on, one line per target: resource ids (of resource
 * actions) become `label (detail)`; names stay as they are. A fix with no
 * targets acts on everything of its kind, which the line then says.
 */
export function describeTargets(
  suggestion: ISuggestion,
  resources: readonly IResource[],
  trans: TranslationBundle
): string[] {
  if (suggestion.targets.length === 0) {
    switch (suggestion.action) {
      case 'close_figures':
        return [trans.__('every open pyplot figure')];
      case 'reset_output_cache':
        return [trans.__('Out and _, __, ___, _n')];
      case 'clear_traceback':
        return [trans.__('sys.last_value, sys.last_traceback, sys.last_exc')];
      default:
        return [];
    }
  }
  const byId = new Map(resources.map(r => [r.id, r]));
  return suggestion.targets.map(target => {
    const resource = byId.get(target);
    if (!resource) {
      return target;
    }
    return resource.detail
      ? `${resource.label} (${resource.detail})`
      : resource.label;
  });
}

/** The word on the button that confirms an action, e.g. `Delete`. */
export function confirmLabel(
  action: FixAction,
  trans: TranslationBundle
): string {
  switch (action) {
    case 'delete_holder':
      return trans.__('Delete');
    case 'close_resource':
    case 'close_pool':
    case 'close_figures':
      return trans.__('Close');
    case 'terminate_process':
      return trans.__('Terminate');
    case 'cancel_task':
      return trans.__('Cancel task');
    case 'clear_traceback':
    case 'cache_clear':
    case 'reset_output_cache':
      return trans.__('Clear');
    case 'clear_class_attribute':
      return trans.__('Empty');
    case 'copy_view':
      return trans.__('Replace with a copy');
    case 'gc_collect':
    case 'malloc_trim':
      return trans.__('Run');
  }
}

/** The sentence before the list of targets in the confirmation. */
export function confirmLead(
  action: FixAction,
  trans: TranslationBundle
): string {
  switch (action) {
    case 'delete_holder':
      return trans.__(
        'These names will be deleted from the kernel. Anything they alone hold is lost:'
      );
    case 'clear_traceback':
      return trans.__(
        'The last exception and the variables of its frames will be cleared:'
      );
    case 'reset_output_cache':
      return trans.__('The output cache will be emptied:');
    case 'cache_clear':
      return trans.__('The cache of this function will be cleared:');
    case 'clear_class_attribute':
      return trans.__('This class attribute will be emptied in place:');
    case 'copy_view':
      return trans.__(
        'This variable will be rebound to a copy of its view, releasing the large array behind it:'
      );
    case 'close_resource':
    case 'close_pool':
    case 'close_figures':
      return trans.__(
        'These will be closed; code that still uses them will fail:'
      );
    case 'terminate_process':
      return trans.__(
        'This child process will be terminated (killed after 3 s if it does not stop):'
      );
    case 'cancel_task':
      return trans.__('This asyncio task will be cancelled:');
    case 'gc_collect':
    case 'malloc_trim':
      return trans.__('This will run in the kernel:');
  }
}

/**
 * Ask, in a dialog, whether to apply a destructive fix. The body names every
 * target (as text: names and paths come from user data) and shows the
 * equivalent code; the accept button says what will happen.
 */
export async function confirmFix(
  suggestion: ISuggestion,
  targets: string[],
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Apply this fix?'),
    body: new Widget({ node: confirmBody(suggestion, targets, trans) }),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: confirmLabel(suggestion.action, trans) })
    ],
    defaultButton: 0
  });
  return result.button.accept;
}

/** The confirmation's body; text only. */
export function confirmBody(
  suggestion: ISuggestion,
  targets: string[],
  trans: TranslationBundle
): HTMLElement {
  const body = document.createElement('div');
  body.className = 'jp-MemoryDoctor-fixConfirm';
  const lead = document.createElement('p');
  lead.textContent = confirmLead(suggestion.action, trans);
  body.appendChild(lead);
  const list = document.createElement('ul');
  list.className = 'jp-MemoryDoctor-fixTargets';
  for (const target of targets) {
    const item = document.createElement('li');
    const code = document.createElement('code');
    code.textContent = target;
    item.appendChild(code);
    list.appendChild(item);
  }
  body.appendChild(list);
  if (suggestion.code) {
    const same = document.createElement('p');
    same.textContent = trans.__('The same as running:');
    body.appendChild(same);
    const pre = document.createElement('pre');
    pre.className = 'jp-MemoryDoctor-fixCode';
    pre.textContent = suggestion.code;
    body.appendChild(pre);
  }
  return body;
}

/**
 * Insert `code` as a new code cell below the active cell and make it active;
 * it is not run.
 */
export function insertCellBelow(notebook: Notebook, code: string): void {
  NotebookActions.insertBelow(notebook);
  // insertBelow makes the notebook's default cell type, which may be
  // markdown; the fix is Python.
  if (notebook.activeCell?.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  notebook.activeCell?.model.sharedModel.setSource(code);
}

/**
 * A well-formed copy of an `apply_fix` result: missing figures fall back to
 * the suggestion's own (the estimate) or to 0 (the measurement).
 */
export function normalizeFixResult(
  raw: unknown,
  suggestion: ISuggestion
): IFixResult {
  const value =
    typeof raw === 'object' && raw !== null
      ? (raw as Record<string, unknown>)
      : {};
  const number = (v: unknown) =>
    typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
  const estimate = number(value.estimated_freed_bytes);
  return {
    suggestion_id: suggestion.id,
    action: FIX_ACTIONS.includes(value.action as FixAction)
      ? (value.action as FixAction)
      : suggestion.action,
    estimated_freed_bytes:
      'estimated_freed_bytes' in value
        ? estimate
        : suggestion.estimated_freed_bytes,
    measured_freed_bytes: number(value.measured_freed_bytes) ?? 0,
    rss_before: number(value.rss_before) ?? 0,
    rss_after: number(value.rss_after) ?? 0,
    explanation:
      typeof value.explanation === 'string' && value.explanation !== ''
        ? value.explanation
        : null
  };
}

namespace Private {
  /** A failed `apply_fix` as an outcome. */
  export function failure(
    suggestion: ISuggestion,
    reason: unknown
  ): FixOutcome {
    const code =
      typeof (reason as { code?: unknown })?.code === 'string'
        ? (reason as { code: string }).code
        : 'internal';
    const message =
      reason instanceof Error && reason.message
        ? reason.message
        : String(reason);
    return code === 'refused'
      ? { kind: 'refused', suggestion, message }
      : { kind: 'failed', suggestion, code, message };
  }
}
