/**
 * The allocation stacks at a profiled run's peak as a plotly icicle: the
 * root is the run, its children the cell's lines, then the functions each
 * line called, down to where the bytes were allocated. plotly.js is loaded
 * the first time the chart is drawn (see `shared/plotly.ts`).
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { formatBytes, Units } from '../../format';
import type { IProfile, IProfileStack } from '../../protocol';
import {
  IPlotly,
  listenForClicks,
  loadPlotly,
  PlotlyLoader,
  plotlyText
} from '../shared/plotly';

/** The class of the chart widget. */
export const CHART_CLASS = 'jp-MemoryDoctor-profileChart';

/** The id of the icicle's root node. */
export const PROFILE_ROOT_ID = 'jp-MemoryDoctor-profileRoot';

/** Separates the frames of a node's id (a character no label holds). */
const SEP = '\u001f';

/** An icicle trace's columns (`branchvalues: 'total'`). */
export interface IIcicleColumns {
  ids: string[];
  labels: string[];
  parents: string[];
  values: number[];
  /** The bytes, formatted (what the hover shows). */
  text: string[];
  /** For each node, the notebook cell and line it stands for, when it is one. */
  customdata: Array<{ cellId: string; line: number } | null>;
}

/**
 * Merge the stacks into a tree rooted at the run, keyed by the frame path,
 * so that each node's value is the sum of its subtree (plotly's
 * `branchvalues: 'total'`: a parent is never smaller than its children).
 * Every label is passed through `plotlyText`.
 */
export function icicleColumns(
  stacks: readonly IProfileStack[],
  rootLabel: string,
  units: Units
): IIcicleColumns {
  const values = new Map<string, number>([[PROFILE_ROOT_ID, 0]]);
  const columns: IIcicleColumns = {
    ids: [PROFILE_ROOT_ID],
    labels: [plotlyText(rootLabel)],
    parents: [''],
    values: [],
    text: [],
    customdata: [null]
  };
  for (const stack of stacks) {
    const bytes = Math.max(0, stack.peak_bytes);
    values.set(PROFILE_ROOT_ID, (values.get(PROFILE_ROOT_ID) ?? 0) + bytes);
    let parent = PROFILE_ROOT_ID;
    for (const frame of stack.frames) {
      const id = `${parent}${SEP}${frame.label}`;
      if (!values.has(id)) {
        values.set(id, 0);
        columns.ids.push(id);
        columns.labels.push(plotlyText(frame.label));
        columns.parents.push(parent);
        columns.customdata.push(
          frame.cell_id !== null && frame.line > 0
            ? { cellId: frame.cell_id, line: frame.line }
            : null
        );
      }
      values.set(id, (values.get(id) ?? 0) + bytes);
      parent = id;
    }
  }
  for (const id of columns.ids) {
    const bytes = values.get(id) ?? 0;
    columns.values.push(bytes);
    columns.text.push(plotlyText(formatBytes(bytes, units)));
  }
  return columns;
}

/**
 * The icicle view: draws the profile it is given, loading plotly on the
 * first draw. Clicking a node of a notebook line reveals that line.
 */
export class ProfileChart extends Widget {
  constructor(options: ProfileChart.IOptions) {
    super();
    this._trans = options.trans;
    this._load = options.loadPlotly ?? loadPlotly;
    this._onLine = options.onLine;
    this.addClass(CHART_CLASS);
    this._status.className = 'jp-MemoryDoctor-profileChartStatus';
    this._status.setAttribute('role', 'status');
    this._plot.className = 'jp-MemoryDoctor-profileChartPlot';
    this._plot.setAttribute('role', 'img');
    this._plot.setAttribute(
      'aria-label',
      this._trans.__(
        'Icicle chart of what was allocated at the peak, by line and function; the table above has the same figures.'
      )
    );
    this.node.appendChild(this._status);
    this.node.appendChild(this._plot);
  }

  /** Whether plotly has been loaded by this view. */
  get isLoaded(): boolean {
    return this._plotly !== null;
  }

  /** Draw `profile`'s stacks (or clear with null); resolves when drawn. */
  async draw(profile: IProfile | null, units: Units): Promise<void> {
    if (this.isDisposed) {
      return;
    }
    const trans = this._trans;
    if (!profile || profile.stacks.length === 0) {
      this._status.textContent = profile
        ? trans.__('No allocation was live at the peak.')
        : '';
      this._plotly?.purge(this._plot);
      return;
    }
    if (!this._plotly) {
      this._status.textContent = trans.__('Loading the chart\u2026');
      try {
        this._plotly = await this._load();
      } catch (reason) {
        this._status.textContent = trans.__(
          'Could not load the chart: %1',
          String(reason)
        );
        return;
      }
      if (this.isDisposed) {
        return;
      }
    }
    this._status.textContent = '';
    const columns = icicleColumns(
      profile.stacks,
      trans.__('At the peak'),
      units
    );
    this._columns = columns;
    const color = (name: string, fallback: string) =>
      getComputedStyle(this.node).getPropertyValue(name).trim() || fallback;
    await this._plotly.react(
      this._plot,
      [
        {
          type: 'icicle',
          ...columns,
          branchvalues: 'total',
          // Plain label and text only: no templates, which would interpret
          // `%{…}` inside user code.
          textinfo: 'label+text',
          hoverinfo: 'label+text+percent root',
          tiling: { orientation: 'v' },
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
    this._plotly?.purge(this._plot);
    super.dispose();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    if (this.isVisible && this._plotly?.Plots) {
      this._plotly.Plots.resize(this._plot);
    }
  }

  private _listen(): void {
    if (this._listening) {
      return;
    }
    this._listening = listenForClicks(this._plot, points => {
      const id = points?.[0]?.id;
      const index = this._columns?.ids.indexOf(String(id)) ?? -1;
      const where = index >= 0 ? this._columns?.customdata[index] : null;
      if (where) {
        this._onLine(where.cellId, where.line);
      }
    });
  }

  private _trans: TranslationBundle;
  private _load: PlotlyLoader;
  private _onLine: (cellId: string, line: number) => void;
  private _plotly: IPlotly | null = null;
  private _columns: IIcicleColumns | null = null;
  private _listening = false;
  private _status = document.createElement('div');
  private _plot = document.createElement('div');
}

/** The namespace for `ProfileChart` options. */
export namespace ProfileChart {
  /** Options for a `ProfileChart`. */
  export interface IOptions {
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Called when a node of a notebook line is clicked. */
    onLine: (cellId: string, line: number) => void;
    /** Loads plotly; defaults to `loadPlotly`. */
    loadPlotly?: PlotlyLoader;
  }
}
