/**
 * A plotly treemap of retained memory by holder. plotly.js is loaded the
 * first time the treemap is shown (see `shared/plotly.ts`).
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { formatBytes, Units } from '../../format';
import type { IHolder } from '../../protocol';
import type { ISettingsSource } from '../../settings';
import {
  IPlotly,
  listenForClicks,
  loadPlotly,
  PlotlyLoader,
  plotlyText
} from '../shared/plotly';
import type { HoldersChange, HoldersModel } from './model';
import { holderIndex } from './model';
import { coverageText, holderNames } from './text';

/** The class of the treemap widget. */
export const TREEMAP_CLASS = 'jp-MemoryDoctor-holdersTreemap';

/** The id of the treemap's root tile. */
export const ROOT_ID = 'jp-MemoryDoctor-root';

/** The id of the tile that sums the holders beyond `MAX_TILES`. */
export const OTHER_ID = 'jp-MemoryDoctor-other';

/** The most holders drawn as their own tiles; the rest share one tile. */
export const MAX_TILES = 200;

/** A treemap trace's columns. */
export interface ITreemapColumns {
  ids: string[];
  labels: string[];
  parents: string[];
  values: number[];
  text: string[];
}

/** Holders drawn only as part of the "other" tile (sent in brief). */
export interface ITreemapRest {
  /** How many. */
  count: number;
  /** Their bytes. */
  bytes: number;
}

/**
 * The treemap's tiles: a root, the `MAX_TILES` largest holders and one tile
 * for the rest (`beyond`: holders past the scan's cut, sent in brief). Every
 * label is passed through `plotlyText`.
 */
export function treemapColumns(
  holders: readonly IHolder[],
  units: Units,
  trans: TranslationBundle,
  beyond: ITreemapRest = { count: 0, bytes: 0 }
): ITreemapColumns {
  const sorted = [...holders].sort(
    (a, b) => b.retained_bytes - a.retained_bytes
  );
  const shown = sorted.slice(0, MAX_TILES);
  const rest = sorted.slice(MAX_TILES);
  const total =
    sorted.reduce((sum, h) => sum + h.retained_bytes, 0) + beyond.bytes;
  const columns: ITreemapColumns = {
    ids: [ROOT_ID],
    labels: [plotlyText(trans.__('Retained memory'))],
    parents: [''],
    values: [total],
    text: [plotlyText(formatBytes(total, units))]
  };
  for (const holder of shown) {
    columns.ids.push(holder.id);
    columns.labels.push(plotlyText(holderNames(holder)));
    columns.parents.push(ROOT_ID);
    columns.values.push(holder.retained_bytes);
    columns.text.push(
      plotlyText(
        `${holder.type} \u00b7 ${formatBytes(holder.retained_bytes, units)}`
      )
    );
  }
  const others = rest.length + beyond.count;
  if (others > 0) {
    const bytes =
      rest.reduce((sum, h) => sum + h.retained_bytes, 0) + beyond.bytes;
    columns.ids.push(OTHER_ID);
    columns.labels.push(
      plotlyText(trans._n('%1 other holder', '%1 other holders', others))
    );
    columns.parents.push(ROOT_ID);
    columns.values.push(bytes);
    columns.text.push(plotlyText(formatBytes(bytes, units)));
  }
  return columns;
}

/**
 * The treemap view. It draws only while visible, and loads plotly on the
 * first draw.
 */
export class HoldersTreemap extends Widget {
  constructor(options: HoldersTreemap.IOptions) {
    super();
    this._model = options.model;
    this._settings = options.settings;
    this._trans = options.trans;
    this._load = options.load ?? loadPlotly;
    this._onReveal = options.onReveal;
    this.addClass(TREEMAP_CLASS);
    this._status.className = 'jp-MemoryDoctor-holdersTreemapStatus';
    this._status.setAttribute('role', 'status');
    this._plot.className = 'jp-MemoryDoctor-holdersTreemapPlot';
    this._coverage.className = 'jp-MemoryDoctor-holdersTreemapCoverage';
    this.node.appendChild(this._status);
    this.node.appendChild(this._coverage);
    this.node.appendChild(this._plot);
    this._model.changed.connect(this._onModelChanged, this);
    this._settings.changed.connect(this._onSettingsChanged, this);
  }

  /** Whether plotly has been loaded by this view. */
  get isLoaded(): boolean {
    return this._plotly !== null;
  }

  /** Draw now (loading plotly first if needed); resolves when drawn. */
  async draw(): Promise<void> {
    if (this.isDisposed) {
      return;
    }
    if (!this._plotly) {
      this._status.textContent = this._trans.__('Loading the treemap\u2026');
      try {
        this._plotly = await this._load();
      } catch (reason) {
        this._status.textContent = this._trans.__(
          'Could not load the treemap: %1',
          String(reason)
        );
        return;
      }
      if (this.isDisposed) {
        return;
      }
    }
    // Brief rows (found by the filter past the cut) are drawn like the rest.
    const holders = this._model.rows;
    if (holders.length === 0) {
      this._coverage.textContent = '';
      this._status.textContent = this._trans.__('No holders to draw.');
      this._plotly.purge(this._plot);
      return;
    }
    this._status.textContent = '';
    const model = this._model;
    const units = this._settings.current.units;
    const filtering = model.filter.trim() !== '';
    // Without a filter the holders past the cut join the "other" tile.
    const brief = filtering ? [] : holderIndex(model.result);
    const beyond = {
      count: brief.length,
      bytes: brief.reduce((sum, h) => sum + h.retained_bytes, 0)
    };
    const drawn = holders.length + beyond.count;
    this._coverage.textContent = coverageText(
      {
        holders: drawn,
        bytes:
          holders.reduce((sum, h) => sum + h.retained_bytes, 0) + beyond.bytes,
        attributed: model.result?.attributed_bytes ?? 0,
        missing: filtering ? 0 : Math.max(0, model.total - drawn),
        filtering
      },
      units,
      this._trans
    );
    const columns = treemapColumns(holders, units, this._trans, beyond);
    const color = (name: string, fallback: string) =>
      getComputedStyle(this.node).getPropertyValue(name).trim() || fallback;
    await this._plotly.react(
      this._plot,
      [
        {
          type: 'treemap',
          ...columns,
          branchvalues: 'total',
          // Plain label and text only: no templates, which would interpret
          // `%{…}` inside user names.
          textinfo: 'label+text',
          hoverinfo: 'label+text+percent root',
          marker: { line: { color: color('--jp-layout-color1', '#fff') } }
        }
      ],
      {
        margin: { l: 0, r: 0, t: 0, b: 0 },
        paper_bgcolor: 'rgba(0,0,0,0)',
        font: {
          family: color('--jp-ui-font-family', 'sans-serif'),
          color: color('--jp-ui-font-color1', '#000')
        }
      },
      { displayModeBar: false, responsive: true }
    );
    this._listen();
  }

  /** Release plotly's listeners. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.changed.disconnect(this._onModelChanged, this);
    this._settings.changed.disconnect(this._onSettingsChanged, this);
    this._plotly?.purge(this._plot);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    void this.draw();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    if (this.isVisible && this._plotly?.Plots) {
      this._plotly.Plots.resize(this._plot);
    }
  }

  private _onModelChanged(_: HoldersModel, change: HoldersChange): void {
    if ((change === 'state' || change === 'rows') && this.isVisible) {
      void this.draw();
    }
  }

  private _onSettingsChanged(): void {
    if (this.isVisible) {
      void this.draw();
    }
  }

  /** Clicking a holder's tile leads to its cell, like clicking its row. */
  private _listen(): void {
    if (this._listening) {
      return;
    }
    this._listening = listenForClicks(this._plot, points => {
      const id = points?.[0]?.id;
      const holder = this._model.rows.find(h => h.id === id);
      if (holder) {
        this._onReveal(holder);
      }
    });
  }

  private _model: HoldersModel;
  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _load: PlotlyLoader;
  private _onReveal: (holder: IHolder) => void;
  private _plotly: IPlotly | null = null;
  private _listening = false;
  private _status = document.createElement('div');
  private _coverage = document.createElement('div');
  private _plot = document.createElement('div');
}

/** The namespace for `HoldersTreemap` options. */
export namespace HoldersTreemap {
  /** Options for a `HoldersTreemap`. */
  export interface IOptions {
    /** The panel model. */
    model: HoldersModel;
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Called when a holder's tile is clicked. */
    onReveal: (holder: IHolder) => void;
    /** Loads plotly; defaults to `loadPlotly`. */
    load?: PlotlyLoader;
  }
}
