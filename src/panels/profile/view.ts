/**
 * The "Line profile" section of the side panel: the followed notebook's
 * latest line profile as a table of lines (net and at-peak bytes, the names
 * holding what a line allocated) and an icicle chart of the stacks at the
 * peak. Which backend measured, and what it cannot see, is said in words.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { formatBytes, SEPARATOR, Units } from '../../format';
import type { IProfile } from '../../protocol';
import type { ISettingsSource } from '../../settings';
import type { IMemoryDoctorEntry, IProfileModel } from '../../tokens';
import { el, nextId } from '../shared/dom';
import type { PlotlyLoader } from '../shared/plotly';
import { revealCell } from '../shared/reveal';
import { ProfileChart } from './chart';
import { ILineRow, IProfileRun, lineRows } from './model';

/** The class of the section. */
export const PROFILE_CLASS = 'jp-MemoryDoctor-profile';

/**
 * The Line profile section. It shows the notebook it is given
 * (`setEntry`); it opens by itself when a profile of that notebook arrives.
 */
export class ProfileSection extends Widget {
  constructor(options: ProfileSection.IOptions) {
    super();
    this.addClass(PROFILE_CLASS);
    this._settings = options.settings;
    this._trans = options.trans;
    this._reveal = options.reveal ?? revealCell;
    this._activate = options.activate ?? (() => undefined);
    this._onHolder = options.onHolder ?? (() => undefined);
    this.chart = new ProfileChart({
      trans: this._trans,
      loadPlotly: options.loadPlotly,
      onLine: (cellId, line) => void this.reveal(cellId, line)
    });
    this._build();
    this._settings.changed.connect(this._render, this);
  }

  /** The icicle chart. */
  readonly chart: ProfileChart;

  /** The notebook whose profiles are shown. */
  get entry(): IMemoryDoctorEntry | null {
    return this._entry;
  }

  /** Whether the table and chart are shown. */
  get expanded(): boolean {
    return this._expanded;
  }

  /** Follow another notebook (or none). */
  setEntry(entry: IMemoryDoctorEntry | null): void {
    if (entry === this._entry) {
      return;
    }
    this._profiles()?.changed.disconnect(this._onProfiles, this);
    this._entry = entry;
    this._profiles()?.changed.connect(this._onProfiles, this);
    this._render();
  }

  /** Show or hide the table and chart. */
  setExpanded(expanded: boolean): void {
    if (expanded === this._expanded) {
      return;
    }
    this._expanded = expanded;
    this._toggle.setAttribute('aria-expanded', String(expanded));
    this._body.hidden = !expanded;
    this._render();
  }

  /**
   * Go to a line of a cell of the followed notebook (its cursor there);
   * says so in the section when the cell is no longer there.
   */
  async reveal(cellId: string, line: number): Promise<boolean> {
    const panel = this._entry?.panel;
    if (!panel) {
      return false;
    }
    this._activate(panel);
    const found = await this._reveal(panel.content, cellId);
    const cell = panel.content.widgets.find(c => c.model.id === cellId);
    if (found && cell?.editor && line > 0) {
      cell.editor.setCursorPosition({ line: line - 1, column: 0 });
    }
    this._say(
      found ? '' : this._trans.__('That cell is no longer in this notebook.')
    );
    return found;
  }

  /** Stop following. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._profiles()?.changed.disconnect(this._onProfiles, this);
    this._settings.changed.disconnect(this._render, this);
    this.chart.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    this._render();
  }

  private _profiles(): IProfileModel | null {
    return this._entry?.profiles ?? null;
  }

  private _build(): void {
    const trans = this._trans;
    const toggle = this._toggle;
    toggle.type = 'button';
    toggle.className = 'jp-MemoryDoctor-profileToggle';
    toggle.textContent = trans.__('Line profile');
    toggle.setAttribute('aria-expanded', 'false');
    toggle.addEventListener('click', () => this.setExpanded(!this._expanded));
    const heading = el('h3', 'jp-MemoryDoctor-profileHeading');
    heading.appendChild(toggle);
    this.node.appendChild(heading);

    const body = this._body;
    body.className = 'jp-MemoryDoctor-profileBody';
    body.hidden = true;
    body.id = `jp-MemoryDoctor-profileBody-${nextId()}`;
    toggle.setAttribute('aria-controls', body.id);
    this._status.className = 'jp-MemoryDoctor-profileStatus';
    this._status.setAttribute('role', 'status');
    this._summary.className = 'jp-MemoryDoctor-profileSummary';
    this._note.className = 'jp-MemoryDoctor-profileNote';
    body.appendChild(this._status);
    body.appendChild(this._summary);
    body.appendChild(this._note);
    body.appendChild(this._table);
    body.appendChild(this.chart.node);
    this.node.appendChild(body);
  }

  private _onProfiles(): void {
    const latest = this._profiles()?.latest ?? null;
    if (latest && latest !== this._shown) {
      this.setExpanded(true); // a profile asked for is worth showing
    }
    this._render();
  }

  private _render(): void {
    if (this.isDisposed) {
      return;
    }
    const trans = this._trans;
    const profiles = this._profiles();
    const latest = profiles?.latest ?? null;
    const armed = profiles ? [...profiles.armed] : [];
    this._toggle.textContent =
      armed.length > 0
        ? trans.__('Line profile (waiting for a run)')
        : trans.__('Line profile');
    if (!this._expanded || !this.isVisible) {
      return;
    }
    this._shown = latest;
    const units = this._settings.current.units;
    this._status.textContent = this._statusText(armed, latest);
    this._summary.textContent = latest ? this._summaryText(latest, units) : '';
    this._note.textContent = latest?.profile.note ?? '';
    this._renderTable(latest ? lineRows(latest.profile) : [], latest, units);
    void this.chart.draw(latest?.profile ?? null, units);
  }

  private _statusText(
    armed: Array<[string, string]>,
    latest: IProfileRun | null
  ): string {
    const trans = this._trans;
    if (!this._entry) {
      return trans.__('Open a notebook to profile its cells.');
    }
    if (armed.length > 0) {
      const [cellId, backend] = armed[armed.length - 1];
      return trans.__(
        'Cell %1 will be profiled the next time it runs (%2).',
        this._cellLabel(cellId),
        backend === 'memray'
          ? trans.__('memray: every allocator')
          : trans.__('tracemalloc: Python allocators only')
      );
    }
    if (!latest) {
      return trans.__(
        'No profile yet. Right-click a cell\u2019s memory badge and choose "Profile Memory on Next Run", or run the cell with %%memory profile.'
      );
    }
    return this._profiles()?.stale
      ? trans.__('This profile is from before the kernel restarted.')
      : '';
  }

  private _summaryText(run: IProfileRun, units: Units): string {
    const trans = this._trans;
    const profile = run.profile;
    const parts = [
      run.cellId
        ? trans.__('Cell %1', this._cellLabel(run.cellId))
        : trans.__('A cell'),
      trans.__(
        'peak %1, left %2',
        formatBytes(profile.totals.peak_bytes, units),
        formatBytes(profile.totals.net_bytes, units, { signed: true })
      ),
      profile.backend === 'memray'
        ? trans.__('memray: every allocator, native ones too')
        : trans.__('tracemalloc: Python allocators only'),
      this._peakModeText(profile)
    ];
    if (profile.error) {
      parts.push(trans.__('stopped with %1', profile.error));
    }
    return parts.join(SEPARATOR);
  }

  private _peakModeText(profile: IProfile): string {
    const trans = this._trans;
    switch (profile.peak_mode) {
      case 'exact':
        return trans.__('exact peak');
      case 'line-start':
      case 'line-end':
        return trans.__(
          'the peak fell inside a line: its transient is one block'
        );
      case 'stale':
        return trans.__('peak figures are lower bounds (\u2265)');
      default:
        return trans.__('no view at the peak');
    }
  }

  /** `[3]` (the cell's execution count) or its place in the notebook. */
  private _cellLabel(cellId: string): string {
    const widgets = this._entry?.panel.content.widgets ?? [];
    const index = widgets.findIndex(cell => cell.model.id === cellId);
    return index < 0 ? cellId : String(index + 1);
  }

  private _renderTable(
    rows: ILineRow[],
    run: IProfileRun | null,
    units: Units
  ): void {
    const trans = this._trans;
    const table = this._table;
    table.textContent = '';
    table.className = 'jp-MemoryDoctor-profileTable';
    if (!run) {
      return;
    }
    if (rows.length === 0) {
      const empty = el(
        'p',
        'jp-MemoryDoctor-profileEmpty',
        trans.__('No line of this run allocated memory the backend could see.')
      );
      table.appendChild(empty);
      return;
    }
    const stale = run.profile.peak_mode === 'stale';
    const grid = el('table', 'jp-MemoryDoctor-profileLines');
    grid.setAttribute('aria-label', trans.__('Memory by line'));
    const head = grid.createTHead().insertRow();
    for (const [text, numeric] of [
      [trans.__('Cell'), false],
      [trans.__('Line'), true],
      [trans.__('Net'), true],
      [trans.__('At peak'), true],
      [trans.__('Held by'), false],
      [trans.__('Source'), false]
    ] as Array<[string, boolean]>) {
      const th = el('th', numeric ? 'jp-MemoryDoctor-num' : '', text);
      th.scope = 'col';
      head.appendChild(th);
    }
    const body = grid.createTBody();
    for (const row of rows) {
      body.appendChild(this._row(row, stale, units));
    }
    table.appendChild(grid);
  }

  private _row(row: ILineRow, stale: boolean, units: Units): HTMLElement {
    const trans = this._trans;
    const tr = el('tr', row.self ? 'jp-MemoryDoctor-profileSelf' : '');
    const cell = el(
      'td',
      '',
      row.cellId ? this._cellLabel(row.cellId) : trans.__('this cell')
    );
    if (row.self) {
      cell.appendChild(
        el('span', 'jp-MemoryDoctor-profileSelfTag', ` ${trans.__('(self)')}`)
      );
      cell.title = trans.__(
        'A line of a function defined in that cell: its own allocations, already counted in the calling line.'
      );
    }
    tr.appendChild(cell);
    tr.appendChild(el('td', 'jp-MemoryDoctor-num', String(row.line)));
    tr.appendChild(
      el(
        'td',
        'jp-MemoryDoctor-num',
        formatBytes(row.netBytes, units, { signed: true })
      )
    );
    const peak = formatBytes(row.peakBytes, units);
    tr.appendChild(
      el('td', 'jp-MemoryDoctor-num', stale ? `\u2265 ${peak}` : peak)
    );
    const holders = el('td', 'jp-MemoryDoctor-profileHolders');
    for (const name of row.holders) {
      holders.appendChild(this._holderLink(name, units));
    }
    tr.appendChild(holders);
    const source = el('td', 'jp-MemoryDoctor-profileSource');
    const go = el('button', 'jp-MemoryDoctor-profileGo', row.source);
    go.type = 'button';
    go.title = trans.__('Go to line %1 of the cell', row.line);
    const cellId = row.cellId;
    go.disabled = cellId === null;
    go.addEventListener('click', () => {
      if (cellId) {
        void this.reveal(cellId, row.line);
      }
    });
    source.appendChild(go);
    tr.appendChild(source);
    return tr;
  }

  /** A name holding what a line allocated, leading to its holder row. */
  private _holderLink(name: string, units: Units): HTMLElement {
    const trans = this._trans;
    const holder = this._entry?.scans.result?.holders.find(h =>
      h.labels.includes(name)
    );
    const text = holder
      ? `${name} (${formatBytes(holder.retained_bytes, units)})`
      : name;
    const link = el('button', 'jp-MemoryDoctor-profileHolder', text);
    link.type = 'button';
    link.title = holder
      ? trans.__('Show %1 in the holders table', name)
      : trans.__('Filter the holders table by %1 (scan to see it)', name);
    link.addEventListener('click', () => this._onHolder(name));
    return link;
  }

  private _say(text: string): void {
    this._status.textContent = text;
  }

  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _reveal: typeof revealCell;
  private _activate: (panel: NotebookPanel) => void;
  private _onHolder: (name: string) => void;
  private _entry: IMemoryDoctorEntry | null = null;
  private _shown: IProfileRun | null = null;
  private _expanded = false;
  private _toggle = document.createElement('button');
  private _body = document.createElement('div');
  private _status = document.createElement('p');
  private _summary = document.createElement('p');
  private _note = document.createElement('p');
  private _table = document.createElement('div');
}

/** The namespace for `ProfileSection` options. */
export namespace ProfileSection {
  /** Options for a `ProfileSection`. */
  export interface IOptions {
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Loads plotly; defaults to a dynamic import on first use. */
    loadPlotly?: PlotlyLoader;
    /** Reveals a cell; defaults to `revealCell`. */
    reveal?: typeof revealCell;
    /** Brings the notebook to the front before a cell is revealed. */
    activate?: (panel: NotebookPanel) => void;
    /** Shows a holder (by one of its names) in the holders table. */
    onHolder?: (name: string) => void;
  }
}
