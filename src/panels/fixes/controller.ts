/**
 * The apply flow of a suggestion as the panel sees it: ask first when the
 * fix deletes or closes something (naming exactly what), let the service
 * apply it, then rescan so that what was freed disappears from the panel.
 * Also "Insert as cell": the same fix as code in a new cell, not run.
 */

import type { Notebook, NotebookPanel } from '@jupyterlab/notebook';
import { NotebookActions } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { Units } from '../../format';
import type { IHolder, IScanResult, ISuggestion } from '../../protocol';
import type { IFixModel } from '../../tokens';
import type { HoldersModel } from '../holders/model';
import type { IRowFix } from '../holders/row';
import { confirmFix, confirmFixes, describeTargets } from './confirm';
import { fixBlocker, FixOutcome } from './model';
import { holderFixes, rowFix } from './rows';

/**
 * Asks the user whether to apply a destructive fix; resolves true to go on.
 */
export type ConfirmFix = (
  suggestion: ISuggestion,
  targets: string[]
) => Promise<boolean>;

/**
 * Asks the user whether to apply several fixes at once (each with what it
 * acts on); resolves true to go on.
 */
export type ConfirmFixes = (
  fixes: { suggestion: ISuggestion; targets: string[] }[]
) => Promise<boolean>;

/** Inserts code as a new cell below the active cell of a notebook. */
export type InsertCell = (notebook: Notebook, code: string) => void;

/**
 * What the fix buttons do for the notebook the holders model follows: ask
 * first, then let the notebook's service apply the fix (it records the
 * outcome in the notebook's fix model), and rescan so that what was freed
 * leaves the panel; insert a fix as a cell; dismiss an outcome. It keeps no
 * state of its own and sends nothing itself.
 */
export class FixController implements IDisposable {
  constructor(options: FixController.IOptions) {
    this._model = options.model;
    this._trans = options.trans;
    this._confirm =
      options.confirm ??
      ((suggestion, targets) => confirmFix(suggestion, targets, this._trans));
    this._confirmAll =
      options.confirmAll ?? (fixes => confirmFixes(fixes, this._trans));
    this._notebook = options.notebook;
    this._insert = options.insert ?? insertCellBelow;
    this._model.changed.connect(this._onModelChanged, this);
    this._follow();
  }

  /** The holders model whose kernel fixes are applied to. */
  get model(): HoldersModel {
    return this._model;
  }

  /** The last outcome for the followed kernel, or null. */
  get outcome(): FixOutcome | null {
    return this._model.entry?.fixes.outcome ?? null;
  }

  /**
   * The id of the suggestion being confirmed or applied in the followed
   * kernel, or null.
   */
  get applying(): string | null {
    return this._model.entry?.fixes.applying ?? null;
  }

  /**
   * Whether the followed kernel's fix was sent and waits for the running
   * cell to end (the helper applies it only then).
   */
  get waiting(): boolean {
    return this._model.entry?.fixes.waiting ?? false;
  }

  /**
   * Why Apply cannot run now, as a sentence, or null when it can: only a
   * connected kernel's latest, current scan has suggestions the helper will
   * accept, and one fix runs at a time.
   */
  get blocked(): string | null {
    const entry = this._model.entry;
    const trans = this._trans;
    const blocker = entry
      ? fixBlocker(entry.model.status, entry.scans, entry.fixes)
      : 'disconnected';
    switch (blocker) {
      case 'applying':
        return trans.__('Another fix is being applied.');
      case 'scanning':
        return trans.__(
          'A scan is running; its results bring new suggestions.'
        );
      case 'stale':
        return trans.__(
          'These suggestions predate a kernel restart. Press Refresh first.'
        );
      case 'disconnected':
        return trans.__('The kernel is not connected.');
      case null:
        return null;
    }
  }

  /** Emitted when the outcome, the applying state or the scan changed. */
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
    if (!entry) {
      return null;
    }
    const outcome = await entry.service.applyFix(suggestion, current =>
      this._confirm(current, this.describeTargets(current))
    );
    if (outcome?.kind === 'applied' && this._model.entry === entry) {
      // Rescan so what was freed leaves the table and the suggestions.
      await entry.service.scan();
    }
    return outcome;
  }

  /**
   * Apply several suggestions of the current scan ("Apply all"): one
   * confirmation names every target, then they run one after the other (a
   * rescan between them would retire the rest), and one rescan follows.
   * Resolves with the outcomes, or null when nothing was sent.
   */
  async applyAll(
    suggestions: readonly ISuggestion[]
  ): Promise<FixOutcome[] | null> {
    const entry = this._model.entry;
    if (!entry || suggestions.length === 0 || this.blocked !== null) {
      return null;
    }
    const targets = suggestions.map(s => ({
      suggestion: s,
      targets: this.describeTargets(s)
    }));
    if (
      suggestions.some(s => s.destructive) &&
      !(await this._confirmAll(targets))
    ) {
      return null;
    }
    const outcomes: FixOutcome[] = [];
    for (const suggestion of suggestions) {
      if (this._model.entry !== entry) {
        break; // the panel follows another notebook now
      }
      // Confirmed above, for all of them.
      const outcome = await entry.service.applyFix(suggestion, () =>
        Promise.resolve(true)
      );
      if (outcome) {
        outcomes.push(outcome);
      }
      if (outcome?.kind === 'failed') {
        break; // the kernel did not answer or the connection went away
      }
    }
    if (outcomes.length === 0) {
      return null;
    }
    entry.fixes.setOutcome({ kind: 'batch', outcomes });
    if (
      outcomes.some(o => o.kind === 'applied') &&
      this._model.entry === entry
    ) {
      await entry.service.scan();
    }
    return outcomes;
  }

  /**
   * The fix a holder's row offers (of its holder's suggestions, the one that
   * frees most), with its button's state now; null for none.
   */
  rowFix(holder: IHolder, units: Units): IRowFix | null {
    const result = this._model.result;
    if (!result) {
      return null;
    }
    if (this._fixesOf !== result) {
      this._fixesOf = result;
      this._byHolder = holderFixes(
        result.suggestions ?? [],
        result.resources ?? []
      );
    }
    const suggestion = this._byHolder.get(holder.id);
    if (!suggestion) {
      return null;
    }
    return rowFix(
      suggestion,
      result.resources ?? [],
      { applying: this.applying, waiting: this.waiting, blocked: this.blocked },
      units,
      this._trans
    );
  }

  /**
   * Insert a suggestion's code as a new code cell below the active cell of
   * the followed notebook, without running it.
   */
  insert(suggestion: ISuggestion): FixOutcome {
    const panel = this._notebook();
    const outcome: FixOutcome = panel
      ? { kind: 'inserted', suggestion }
      : { kind: 'no-notebook', suggestion };
    if (panel) {
      this._insert(panel.content, suggestion.code);
    }
    this._model.entry?.fixes.setOutcome(outcome);
    return outcome;
  }

  /** Forget the followed kernel's outcome. */
  dismiss(): void {
    this._model.entry?.fixes.setOutcome(null);
  }

  /** Forget the outcome and scan the followed kernel again. */
  async rescan(): Promise<void> {
    this.dismiss();
    await this._model.entry?.service.scan();
  }

  /** Stop listening. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._model.changed.disconnect(this._onModelChanged, this);
    this._fixes?.changed.disconnect(this._onFixes, this);
    Signal.clearData(this);
  }

  /** Listen to the followed kernel's fixes. */
  private _follow(): void {
    const fixes = this._model.entry?.fixes ?? null;
    if (fixes !== this._fixes) {
      this._fixes?.changed.disconnect(this._onFixes, this);
      this._fixes = fixes;
      fixes?.changed.connect(this._onFixes, this);
    }
  }

  private _onFixes(): void {
    this._changed.emit();
  }

  private _onModelChanged(_: HoldersModel, change: string): void {
    // Another notebook, a scan or a restart changes what there is to say.
    if (change === 'state') {
      this._follow();
      this._changed.emit();
    }
  }

  private _model: HoldersModel;
  private _trans: TranslationBundle;
  private _confirm: ConfirmFix;
  private _confirmAll: ConfirmFixes;
  private _fixesOf: IScanResult | null = null;
  private _byHolder = new Map<string, ISuggestion>();
  private _notebook: () => NotebookPanel | null;
  private _insert: InsertCell;
  private _fixes: IFixModel | null = null;
  private _changed = new Signal<this, void>(this);
  private _isDisposed = false;
}

/** The namespace for `FixController` options. */
export namespace FixController {
  /** Options for a `FixController`. */
  export interface IOptions {
    /** The holders model (followed notebook, latest scan). */
    model: HoldersModel;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** The notebook the panel follows, where "Insert as cell" inserts. */
    notebook: () => NotebookPanel | null;
    /** Asks before a destructive fix; defaults to `confirmFix`. */
    confirm?: ConfirmFix;
    /** Asks once before "Apply all"; defaults to `confirmFixes`. */
    confirmAll?: ConfirmFixes;
    /** Inserts a cell; defaults to `insertCellBelow`. */
    insert?: InsertCell;
  }
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
