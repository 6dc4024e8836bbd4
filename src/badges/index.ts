/**
 * Keeps one notebook's badges in step with its `MemoryModel`.
 *
 * Cost model: nothing happens until the first record arrives (a 1,000-cell
 * notebook opens and scrolls without any work from us); then each record
 * costs O(1): a map lookup and one badge update. Cells that the windowed
 * notebook has not rendered yet are only touched once they are ready.
 */

import type { Cell, ICellModel } from '@jupyterlab/cells';
import type { Notebook } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import { PanelLayout, Widget } from '@lumino/widgets';

import type { IMemoryDoctorSettings, ISettingsSource } from '../settings';
import type { IMemoryModel } from '../tokens';
import { MemoryBadge } from './badge';

export { BADGE_CLASS, MemoryBadge, severity } from './badge';
export type { Severity } from './badge';
export {
  clockTime,
  deathText,
  deathTooltip,
  flaggedGrowth,
  leakExplanation,
  readingLines,
  runningText,
  runningTooltip
} from './text';

/**
 * Renders a notebook's memory badges (the figures go into cell metadata
 * elsewhere, see `metadata.ts`).
 */
export class BadgeManager implements IDisposable {
  constructor(options: BadgeManager.IOptions) {
    this._notebook = options.notebook;
    this._model = options.model;
    this._settings = options.settings;
    this._trans = options.trans;
    this._model.cellChanged.connect(this._onCellChanged, this);
    this._model.liveChanged.connect(this._onLiveChanged, this);
    this._settings.changed.connect(this._onSettingsChanged, this);
  }

  /** Whether the manager is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The badge currently shown for a cell, if any. */
  badgeFor(cellId: string): MemoryBadge | undefined {
    return this._badges.get(cellId);
  }

  /** Remove every badge and stop listening. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._removeAll();
    this._watchCells(null);
    this._cells = null;
    Signal.clearData(this);
  }

  private _onCellChanged(_: IMemoryModel, cellId: string): void {
    if (this._settings.current.showBadges) {
      this._render(cellId);
    }
  }

  /** Only the cells named change: a live reading re-renders one badge. */
  private _onLiveChanged(_: IMemoryModel, cellIds: readonly string[]): void {
    if (this._settings.current.showBadges) {
      for (const cellId of cellIds) {
        this._render(cellId);
      }
    }
  }

  private _onSettingsChanged(
    _: ISettingsSource,
    previous: Readonly<IMemoryDoctorSettings>
  ): void {
    const current = this._settings.current;
    if (!current.showBadges) {
      this._removeAll();
      return;
    }
    // Shown again: render every cell with figures. Otherwise re-render only
    // what is on screen (units, thresholds or history length may differ).
    const ids = previous.showBadges
      ? [...this._badges.keys()]
      : [...this._model.cellIds(), ...this._liveCellIds()];
    for (const cellId of ids) {
      this._render(cellId);
    }
  }

  /** Cells whose badge shows a running or death state. */
  private _liveCellIds(): string[] {
    const ids: string[] = [];
    const running = this._model.running?.cellId;
    const dead = this._model.lastDeath?.cellId;
    if (running) {
      ids.push(running);
    }
    if (dead) {
      ids.push(dead);
    }
    return ids;
  }

  /**
   * Create, update or remove the badge of one cell from the model's data:
   * the running state first, then a death note, then the last record.
   */
  private _render(cellId: string): void {
    const model = this._model;
    const history = model.history(cellId);
    const running = model.running?.cellId === cellId ? model.running : null;
    const death =
      !running && model.lastDeath?.cellId === cellId ? model.lastDeath : null;
    if (history.length === 0 && !running && !death) {
      this._removeBadge(cellId);
      return;
    }
    const cell = this._findCell(cellId);
    if (!cell) {
      this._removeBadge(cellId);
      return;
    }
    if (Private.isPlaceholder(cell)) {
      this._whenReady(cell, cellId);
      return;
    }
    let badge = this._badges.get(cellId);
    if (!badge || badge.isDisposed || badge.parent !== cell) {
      badge?.dispose();
      badge = new MemoryBadge({ cellId });
      if (!Private.insertBelowInput(cell, badge)) {
        badge.dispose();
        this._badges.delete(cellId);
        return;
      }
      this._badges.set(cellId, badge);
    }
    const options = {
      settings: this._settings.current,
      trans: this._trans,
      limit: model.memoryLimit
    };
    if (running) {
      badge.renderRunning(running, history, options);
    } else if (death) {
      badge.renderDeath(death, history, options);
    } else {
      badge.render(history, options);
    }
  }

  /** Render once the windowed notebook has initialised the cell. */
  private _whenReady(cell: Cell, cellId: string): void {
    if (this._waiting.has(cellId)) {
      return;
    }
    this._waiting.add(cellId);
    void cell.ready.then(() => {
      this._waiting.delete(cellId);
      if (!this._isDisposed && this._settings.current.showBadges) {
        this._render(cellId);
      }
    });
  }

  private _removeBadge(cellId: string): void {
    const badge = this._badges.get(cellId);
    if (badge) {
      this._badges.delete(cellId);
      badge.dispose();
    }
  }

  private _removeAll(): void {
    for (const badge of this._badges.values()) {
      badge.dispose();
    }
    this._badges.clear();
  }

  /** Look a cell widget up by model id; the map is built on first use. */
  private _findCell(cellId: string): Cell | undefined {
    if (
      !this._cells ||
      this._watched !== (this._notebook.model?.cells ?? null)
    ) {
      this._buildCellMap(); // First use, or the notebook got another model.
    }
    let cell = this._cells!.get(cellId);
    if (cell && (cell.isDisposed || cell.model.id !== cellId)) {
      this._buildCellMap();
      cell = this._cells!.get(cellId);
    }
    return cell;
  }

  private _buildCellMap(): void {
    const cells = new Map<string, Cell>();
    for (const cell of this._notebook.widgets) {
      cells.set(cell.model.id, cell);
    }
    this._cells = cells;
    this._watchCells(this._notebook.model?.cells ?? null);
  }

  private _watchCells(cells: Private.CellList | null): void {
    if (this._watched === cells) {
      return;
    }
    this._watched?.changed.disconnect(this._onCellsChanged, this);
    this._watched = cells;
    cells?.changed.connect(this._onCellsChanged, this);
  }

  /**
   * Keep the id → widget map current. The notebook connected to this signal
   * before us, so its widgets already reflect the change.
   */
  private _onCellsChanged(
    _: Private.CellList,
    args: Private.ICellsChange
  ): void {
    const cells = this._cells;
    if (!cells) {
      return;
    }
    switch (args.type) {
      case 'add':
        args.newValues.forEach((cellModel, offset) => {
          const widget = this._notebook.widgets[args.newIndex + offset];
          if (widget?.model === cellModel) {
            cells.set(cellModel.id, widget);
            // e.g. undo of a delete brings back a cell we have figures for.
            if (
              this._settings.current.showBadges &&
              (this._model.history(cellModel.id).length > 0 ||
                this._liveCellIds().includes(cellModel.id))
            ) {
              this._render(cellModel.id);
            }
          } else {
            this._cells = null; // Out of step; rebuild on next lookup.
          }
        });
        break;
      case 'remove':
        for (const cellModel of args.oldValues) {
          cells.delete(cellModel.id);
          // The notebook disposes the cell widget, and our badge with it.
          this._badges.delete(cellModel.id);
        }
        break;
      case 'move':
        break;
      default:
        this._cells = null;
        break;
    }
  }

  private _notebook: Notebook;
  private _model: IMemoryModel;
  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _badges = new Map<string, MemoryBadge>();
  private _cells: Map<string, Cell> | null = null;
  private _watched: Private.CellList | null = null;
  private _waiting = new Set<string>();
  private _isDisposed = false;
}

/** The namespace for `BadgeManager` options. */
export namespace BadgeManager {
  /** Options for a `BadgeManager`. */
  export interface IOptions {
    /** The notebook whose cells get badges. */
    notebook: Notebook;
    /** The notebook's memory model. */
    model: IMemoryModel;
    /** Live settings. */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
  }
}

namespace Private {
  /** The part of a cell list change we read (IObservableList.IChangedArgs). */
  export interface ICellsChange {
    type: string;
    newIndex: number;
    newValues: readonly ICellModel[];
    oldValues: readonly ICellModel[];
  }

  /** The observable cell list of a notebook model. */
  export type CellList = NonNullable<Notebook['model']>['cells'];

  /** Whether the windowed notebook has not initialised the cell yet. */
  export function isPlaceholder(cell: Cell): boolean {
    return typeof cell.isPlaceholder === 'function' && cell.isPlaceholder();
  }

  /**
   * Insert the badge right after the cell's input wrapper. Returns false if
   * the cell has no such layout.
   */
  export function insertBelowInput(cell: Cell, badge: Widget): boolean {
    const layout = cell.layout;
    if (!(layout instanceof PanelLayout)) {
      return false;
    }
    const widgets = layout.widgets;
    const wrapper = cell.inputArea?.parent;
    let index = wrapper ? widgets.indexOf(wrapper) : -1;
    if (index < 0) {
      // A collapsed input is detached from its wrapper; find it by class.
      index = widgets.findIndex(w => w.hasClass('jp-Cell-inputWrapper'));
    }
    if (index < 0) {
      return false;
    }
    layout.insertWidget(index + 1, badge);
    return true;
  }
}
