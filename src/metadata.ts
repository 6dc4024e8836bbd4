/**
 * Writes each cell's latest figures into its metadata (`memory_doctor`)
 * when the `storeInMetadata` setting asks for it. It is off by default:
 * metadata changes make the notebook dirty after every run.
 */

import type { ICellModel } from '@jupyterlab/cells';
import type { Notebook } from '@jupyterlab/notebook';
import type { JSONObject } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';

import type { ICellRecord } from './protocol';
import type { ISettingsSource } from './settings';
import { IMemoryModel, METADATA_KEY } from './tokens';

/**
 * Copies every live measurement of one notebook into the measured cell's
 * metadata, without its `cell_id` (the cell already knows it). Records
 * replayed by the helper are not written again.
 */
export class MetadataWriter implements IDisposable {
  constructor(options: MetadataWriter.IOptions) {
    this._notebook = options.notebook;
    this._model = options.model;
    this._settings = options.settings;
    this._model.measured.connect(this._onMeasured, this);
  }

  /** Whether the writer is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Stop writing. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._model.measured.disconnect(this._onMeasured, this);
    this._byId = null;
  }

  private _onMeasured(_: IMemoryModel, record: ICellRecord): void {
    if (!this._settings.current.storeInMetadata || !record.cell_id) {
      return;
    }
    const cell = this._find(record.cell_id);
    if (cell) {
      const { cell_id, ...figures } = record; // eslint-disable-line @typescript-eslint/no-unused-vars
      cell.setMetadata(METADATA_KEY, figures as unknown as JSONObject);
    }
  }

  /**
   * The cell model with this id. The id → model map is built on first use
   * and again when it misses (cells added, moved out or replaced since).
   */
  private _find(cellId: string): ICellModel | undefined {
    const cell = this._byId?.get(cellId);
    if (cell && !cell.isDisposed && cell.id === cellId) {
      return cell;
    }
    const byId = new Map<string, ICellModel>();
    for (const model of this._notebook.model?.cells ?? []) {
      byId.set(model.id, model);
    }
    this._byId = byId;
    return byId.get(cellId);
  }

  private _notebook: Notebook;
  private _model: IMemoryModel;
  private _settings: ISettingsSource;
  private _byId: Map<string, ICellModel> | null = null;
  private _isDisposed = false;
}

/** The namespace for `MetadataWriter` options. */
export namespace MetadataWriter {
  /** Options for a `MetadataWriter`. */
  export interface IOptions {
    /** The notebook whose cells get the figures. */
    notebook: Notebook;
    /** The notebook's memory model. */
    model: IMemoryModel;
    /** Live settings (`storeInMetadata`). */
    settings: ISettingsSource;
  }
}
