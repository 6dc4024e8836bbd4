/**
 * The Timeline section of the Memory Doctor side panel: a plotly chart of the
 * kernel's RSS and each executed cell's peak across the session (plotly is
 * loaded on the first draw, as for the treemap), and the top cells by peak
 * and by RSS change. Clicking a marker or a list entry goes to the cell.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { formatBytes, SEPARATOR, Units } from '../../format';
import type { ISettingsSource } from '../../settings';
import type { IMemoryDoctorEntry } from '../../tokens';
import {
  IPlotly,
  listenForClicks,
  loadPlotly,
  PlotlyLoader,
  plotlyText
} from '../shared/plotly';
import { revealCell } from '../shared/reveal';
import { ITopCell, TimelineModel, TopKey } from './model';
import {
  byteTicks,
  cellLabel,
  markerText,
  plotlyDate,
  runsRange,
  TIME_AXIS_FORMAT
} from './text';

/** The class of the section. */
export const TIMELINE_CLASS = 'jp-MemoryDoctor-timeline';

/** The shortest time between two redraws, so live readings stay cheap. */
export const REDRAW_MS = 1000;

/** Numbers the sections' body ids (`aria-controls` needs unique ids). */
let bodyIds = 0;

/**
 * The Timeline section. It shows the notebook it is given (`setEntry`),
 * draws only while visible and expanded, and at most once per `REDRAW_MS`.
 */
export class TimelineSection extends Widget {
  constructor(options: TimelineSection.IOptions) {
    super();
    this.addClass(TIMELINE_CLASS);
    this._settings = options.settings;
    this._trans = options.trans;
    this._load = options.loadPlotly ?? loadPlotly;
    this._reveal = options.reveal ?? revealCell;
    this._activate = options.activate ?? (() => undefined);
    this.model = new TimelineModel();
    this._build();
    this.model.changed.connect(this._onModelChanged, this);
    this._settings.changed.connect(this._schedule, this);
  }

  /** The section's data. */
  readonly model: TimelineModel;

  /** Whether the chart and lists are shown. */
  get expanded(): boolean {
    return this._expanded;
  }

  /** Whether plotly has been loaded by this view. */
  get isLoaded(): boolean {
    return this._plotly !== null;
  }

  /** Follow another notebook's memory state (or none). */
  setEntry(entry: IMemoryDoctorEntry | null): void {
    this.model.setEntry(entry);
  }

  /** Show or hide the chart and lists. */
  setExpanded(expanded: boolean): void {
    if (expanded === this._expanded) {
      return;
    }
    this._expanded = expanded;
    this._toggle.setAttribute('aria-expanded', String(expanded));
    this._body.hidden = !expanded;
    this._schedule();
  }

  /** Draw now (loading plotly first if needed); resolves when drawn. */
  async draw(): Promise<void> {
    this._cancelTimer();
    if (this.isDisposed) {
      return;
    }
    this._lastDraw = Date.now();
    const trans = this._trans;
    const points = this.model.points;
    const units = this._settings.current.units;
    const sources = this._sources();
    this._renderLists(points.length > 0, sources, units);
    if (!this.model.entry) {
      this._say(trans.__('Open a notebook to see its memory over time.'));
      this._purge();
      return;
    }
    if (points.length === 0) {
      this._say(trans.__("Run cells to see the kernel's memory over time."));
      this._purge();
      return;
    }
    if (!this._plotly) {
      this._say(trans.__('Loading the timeline\u2026'));
      try {
        this._plotly = await this._load();
      } catch (reason) {
        this._say(
          trans.__('Could not load the timeline chart: %1', String(reason))
        );
        return;
      }
      if (this.isDisposed) {
        return;
      }
    }
    this._say('');
    const line = this.model.rss;
    const peaks = points.map(p => p.record.peak_rss);
    const range = runsRange(points);
    const cluster = this.model.cluster;
    const color = (name: string, fallback: string) =>
      getComputedStyle(this.node).getPropertyValue(name).trim() || fallback;
    // The Dask clusters' memory (protocol 1.3), only for a kernel with one.
    const clusterTraces =
      cluster.times.length === 0
        ? []
        : [
            {
              type: 'scatter',
              mode: 'lines+markers',
              name: plotlyText(trans.__('Dask cluster memory')),
              x: cluster.times.map(plotlyDate),
              y: cluster.memory,
              text: cluster.memory.map(bytes =>
                plotlyText(
                  trans.__('Dask cluster memory: %1', formatBytes(bytes, units))
                )
              ),
              hoverinfo: 'text',
              line: {
                color: color('--jp-accent-color1', '#388e3c'),
                width: 1.5,
                dash: 'dot'
              },
              marker: { size: 5 }
            }
          ];
    await this._plotly.react(
      this._plot,
      [
        {
          type: 'scatter',
          mode: 'lines',
          name: plotlyText(trans.__('Kernel RSS')),
          x: line.times.map(plotlyDate),
          y: line.rss,
          // The markers are what one hovers and clicks: a line point at the
          // same time would otherwise win the hover over its cell's marker.
          hoverinfo: 'skip',
          line: { color: color('--jp-brand-color1', '#1976d2'), width: 1.5 }
        },
        {
          type: 'scatter',
          mode: 'markers',
          name: plotlyText(trans.__('Cell peak')),
          x: points.map(p => plotlyDate(p.end)),
          y: points.map(p => p.record.peak_rss),
          customdata: points.map(p => p.cellId),
          // Plain text only: templates would interpret `%{…}` in sources.
          text: points.map(p =>
            markerText(p, sources.get(p.cellId), units, trans)
          ),
          hoverinfo: 'text',
          marker: {
            size: 9,
            color: points.map(p =>
              p.record.status === 'error'
                ? color('--jp-error-color1', '#d32f2f')
                : color('--jp-warn-color1', '#f57c00')
            ),
            line: { width: 1, color: color('--jp-layout-color1', '#fff') }
          }
        },
        ...clusterTraces
      ],
      {
        height: TimelineSection.PLOT_HEIGHT,
        margin: { l: 48, r: 8, t: 8, b: 28 },
        paper_bgcolor: 'rgba(0,0,0,0)',
        plot_bgcolor: 'rgba(0,0,0,0)',
        showlegend: clusterTraces.length > 0,
        legend: { orientation: 'h', y: -0.25 },
        hovermode: 'closest',
        xaxis: {
          type: 'date',
          // The hover text writes times the same way (timelineTime).
          tickformat: TIME_AXIS_FORMAT,
          ...(range ? { range } : {}),
          gridcolor: color('--jp-border-color2', '#eee')
        },
        yaxis: {
          // Written by the panel's formatter: `800 MB`, with its units.
          ...byteTicks(
            [...line.rss, ...peaks, ...cluster.memory].reduce(
              (a, b) => Math.max(a, b),
              0
            ),
            units
          ),
          tickmode: 'array',
          rangemode: 'tozero',
          gridcolor: color('--jp-border-color2', '#eee')
        },
        font: {
          family: color('--jp-ui-font-family', 'sans-serif'),
          size: 10,
          color: color('--jp-ui-font-color1', '#000')
        }
      },
      { displayModeBar: false, responsive: true }
    );
    this._listen();
  }

  /**
   * Go to a cell of the followed notebook; says so in the section when it
   * is no longer there.
   */
  async reveal(cellId: string): Promise<boolean> {
    const panel = this.model.entry?.panel;
    if (!panel) {
      return false;
    }
    this._activate(panel);
    const found = await this._reveal(panel.content, cellId);
    this._say(
      found ? '' : this._trans.__('That cell is no longer in this notebook.')
    );
    return found;
  }

  /** Stop following and release plotly. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._cancelTimer();
    this._settings.changed.disconnect(this._schedule, this);
    this._plotly?.purge(this._plot);
    this.model.dispose();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    this._schedule();
  }

  protected onAfterShow(msg: Message): void {
    this._schedule();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    if (this.isVisible && this._plotly?.Plots) {
      this._plotly.Plots.resize(this._plot);
    }
  }

  private _build(): void {
    const trans = this._trans;
    const toggle = this._toggle;
    toggle.type = 'button';
    toggle.className = 'jp-MemoryDoctor-timelineToggle';
    toggle.textContent = trans.__('Timeline');
    // Collapsed at first: the holders table above needs the sidebar's height.
    toggle.setAttribute('aria-expanded', 'false');
    toggle.addEventListener('click', () => this.setExpanded(!this._expanded));
    const heading = document.createElement('h3');
    heading.className = 'jp-MemoryDoctor-timelineHeading';
    heading.appendChild(toggle);
    this.node.appendChild(heading);

    const body = this._body;
    body.className = 'jp-MemoryDoctor-timelineBody';
    body.hidden = true;
    body.id = `jp-MemoryDoctor-timelineBody-${++bodyIds}`;
    toggle.setAttribute('aria-controls', body.id);
    this._status.className = 'jp-MemoryDoctor-timelineStatus';
    this._status.setAttribute('role', 'status');
    this._plot.className = 'jp-MemoryDoctor-timelinePlot';
    this._plot.setAttribute('aria-label', trans.__('Memory over time'));
    body.appendChild(this._status);
    body.appendChild(this._plot);
    this._lists.className = 'jp-MemoryDoctor-timelineLists';
    body.appendChild(this._lists);
    this.node.appendChild(body);
  }

  private _onModelChanged(): void {
    const runs = this.model.points.length;
    this._toggle.textContent =
      runs === 0
        ? this._trans.__('Timeline')
        : this._trans._n('Timeline (%1 run)', 'Timeline (%1 runs)', runs);
    this._schedule();
  }

  /** Redraw soon: now if the last draw is older than `REDRAW_MS`. */
  private _schedule(): void {
    if (this.isDisposed || this._timer !== null) {
      return;
    }
    if (!this.isVisible || !this._expanded) {
      return; // After-show and expanding schedule again.
    }
    const wait = Math.max(0, this._lastDraw + REDRAW_MS - Date.now());
    this._timer = setTimeout(() => {
      this._timer = null;
      if (this.isVisible && this._expanded) {
        void this.draw();
      }
    }, wait);
  }

  private _cancelTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  /** First source line of each cell of the followed notebook, by id. */
  private _sources(): Map<string, string> {
    const sources = new Map<string, string>();
    const widgets = this.model.entry?.panel.content.widgets ?? [];
    for (const cell of widgets) {
      // A cell without a shared model (being disposed) just has no label.
      const source = cell.model.sharedModel?.getSource();
      if (typeof source === 'string') {
        sources.set(cell.model.id, source);
      }
    }
    return sources;
  }

  private _renderLists(
    any: boolean,
    sources: Map<string, string>,
    units: Units
  ): void {
    const lists = this._lists;
    lists.textContent = '';
    if (!any) {
      return;
    }
    const trans = this._trans;
    const list = (key: TopKey, title: string) => {
      const section = document.createElement('section');
      section.className = 'jp-MemoryDoctor-timelineTop';
      section.dataset.key = key;
      const heading = document.createElement('h4');
      heading.textContent = title;
      section.appendChild(heading);
      const top = this.model.top(key);
      if (top.length === 0) {
        const none = document.createElement('p');
        none.textContent = trans.__('No cell added memory.');
        section.appendChild(none);
      } else {
        const ol = document.createElement('ol');
        for (const entry of top) {
          ol.appendChild(this._topItem(entry, sources, units));
        }
        section.appendChild(ol);
      }
      lists.appendChild(section);
    };
    list('peak', trans.__('Top cells by peak'));
    list('delta', trans.__('Top cells by memory left'));
  }

  private _topItem(
    entry: ITopCell,
    sources: Map<string, string>,
    units: Units
  ): HTMLLIElement {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'jp-MemoryDoctor-timelineCell';
    button.dataset.cellId = entry.cellId;
    const size = document.createElement('span');
    size.className = 'jp-MemoryDoctor-timelineBytes';
    size.textContent = formatBytes(entry.bytes, units, { signed: true });
    const label = document.createElement('span');
    label.className = 'jp-MemoryDoctor-timelineLabel';
    label.textContent = cellLabel(
      entry.record.execution_count,
      sources.get(entry.cellId)
    );
    button.appendChild(size);
    button.appendChild(label);
    button.title = this._trans.__(
      'Go to the cell%1%2',
      SEPARATOR,
      label.textContent
    );
    button.addEventListener('click', () => void this.reveal(entry.cellId));
    item.appendChild(button);
    return item;
  }

  private _say(text: string): void {
    this._status.textContent = text;
  }

  private _purge(): void {
    this._plotly?.purge(this._plot);
  }

  /** Clicking a cell's marker goes to the cell. */
  private _listen(): void {
    if (this._listening) {
      return;
    }
    this._listening = listenForClicks(this._plot, points => {
      const cellId = points?.find(p => typeof p.customdata === 'string')
        ?.customdata as string | undefined;
      if (cellId) {
        void this.reveal(cellId);
      }
    });
  }

  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _load: PlotlyLoader;
  private _reveal: typeof revealCell;
  private _activate: (panel: NotebookPanel) => void;
  private _plotly: IPlotly | null = null;
  private _listening = false;
  private _expanded = false;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _lastDraw = 0;
  private _toggle = document.createElement('button');
  private _body = document.createElement('div');
  private _status = document.createElement('p');
  private _plot = document.createElement('div');
  private _lists = document.createElement('div');
}

/** The namespace for `TimelineSection` statics and options. */
export namespace TimelineSection {
  /** The chart's height in pixels. */
  export const PLOT_HEIGHT = 180;

  /** Options for a `TimelineSection`. */
  export interface IOptions {
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Loads plotly; defaults to the treemap's lazy import. */
    loadPlotly?: PlotlyLoader;
    /** Reveals a cell; defaults to `revealCell`. */
    reveal?: typeof revealCell;
    /** Brings the notebook to the front before one of its cells is revealed. */
    activate?: (panel: NotebookPanel) => void;
  }
}
