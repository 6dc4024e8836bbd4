/**
 * The renderer of `application/vnd.jupyter.memory-doctor+json` in JupyterLab
 * and Notebook 7: a magic's output drawn with the side panel's own parts.
 * Holders are the panel's sortable table (a row leads to its cell), fixes
 * are the panel's suggestions and resources (Apply asks the same
 * confirmation and goes through the notebook's service). Every string from
 * the kernel goes into the DOM as text.
 */

import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { PanelLayout, Widget } from '@lumino/widgets';

import {
  badgeText,
  formatBytes,
  formatDuration,
  tooltipText,
  Units
} from '../format';
import { limitSentence } from '../headroom';
import {
  ConfirmFix,
  FixController,
  InsertCell
} from '../panels/fixes/controller';
import { confirmLead } from '../panels/fixes/confirm';
import { outcomeLines, suggestionTitle } from '../panels/fixes/text';
import { ResourcesSection } from '../panels/fixes/resources';
import { SuggestionsSection } from '../panels/fixes/suggestions';
import { HoldersModel } from '../panels/holders/model';
import { HoldersTable } from '../panels/holders/table';
import { el } from '../panels/shared/dom';
import { revealCell } from '../panels/shared/reveal';
import { nameList } from '../panels/shared/text';
import type { ICellRecord, IFindings, IScanResult } from '../protocol';
import type { ISettingsSource } from '../settings';
import type { IMemoryDoctorEntry } from '../tokens';
import { OutputContext } from './context';
import { MemoryOutput, MIME_TYPE, OutputError, readOutput } from './data';
import {
  attributionText,
  kernelLine,
  offlineText,
  outputTitle,
  scanNote,
  shownText
} from './text';

/** The class of an output. */
export const OUTPUT_CLASS = 'jp-MemoryDoctor-output';

/**
 * One magic output.
 */
export class MemoryOutputWidget
  extends Widget
  implements IRenderMime.IRenderer
{
  constructor(options: MemoryOutputWidget.IOptions) {
    super();
    this._options = options;
    this._trans = options.trans;
    this.addClass(OUTPUT_CLASS);
    this.layout = new PanelLayout();
    options.settings.changed.connect(this._onSettings, this);
  }

  /** The output as read, or null before rendering or when unreadable. */
  get output(): MemoryOutput | null {
    return this._output;
  }

  /** The output's scan and fix outcome, on its notebook. */
  get context(): OutputContext | null {
    return this._context;
  }

  /** Draw the output (again). */
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._clear();
    this._model = model;
    try {
      this._output = readOutput(model.data[MIME_TYPE]);
    } catch (error) {
      if (!(error instanceof OutputError)) {
        throw error;
      }
      this._fallback(model, error);
      return;
    }
    const output = this._output;
    const scan = 'scan' in output ? output.scan : null;
    this._context = new OutputContext({
      result: output.view === 'fix' ? Private.fixScan(output) : scan,
      pid: output.kernel.pid,
      time: Date.now(),
      budgetS: 'budget_s' in output ? output.budget_s : 0
    });
    this._context.changed.connect(this._onContext, this);
    this._holders = new HoldersModel();
    this._holders.setEntry(this._context.entry);
    this._follow();
    this._draw(output);
  }

  /** Stop listening. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._clear();
    this._options.settings.changed.disconnect(this._onSettings, this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._follow();
  }

  /** Find the notebook this output is in (once attached) and follow it. */
  private _follow(): void {
    const context = this._context;
    if (!context || !this.isAttached) {
      return;
    }
    context.follow(this._options.findEntry(this.node));
  }

  private _onContext(): void {
    this._holders?.setEntry(this._context?.entry ?? null);
    this._drawOffline();
  }

  private _onSettings(): void {
    if (this._model && this._output) {
      void this.renderModel(this._model);
    }
  }

  private get _units(): Units {
    return this._options.settings.current.units;
  }

  private _clear(): void {
    const layout = this.layout as PanelLayout;
    while (layout.widgets.length > 0) {
      layout.widgets[0].dispose();
    }
    this._controller?.dispose();
    this._controller = null;
    this._holders?.dispose();
    this._holders = null;
    this._context?.dispose();
    this._context = null;
    this._output = null;
    this._offlineNode = null;
  }

  /** Unreadable data (another format, a malformed field): the kernel's text. */
  private _fallback(model: IRenderMime.IMimeModel, error: Error): void {
    const text = model.data['text/plain'];
    this._add(
      el(
        'p',
        'jp-MemoryDoctor-outputNote',
        this._trans.__(
          'Memory Doctor cannot draw this output (%1); here is its text.',
          error.message
        )
      )
    );
    if (typeof text === 'string') {
      this._add(el('pre', 'jp-MemoryDoctor-outputText', text));
    }
  }

  private _draw(output: MemoryOutput): void {
    const trans = this._trans;
    const units = this._units;
    this.node.dataset.view = output.view;
    if (output.view === 'badge') {
      this._drawBadge(output.record);
      return;
    }
    if (output.view === 'notice') {
      this._add(el('p', 'jp-MemoryDoctor-outputLine', output.message));
      return;
    }
    this._add(
      el('h3', 'jp-MemoryDoctor-outputTitle', outputTitle(output, units, trans))
    );
    switch (output.view) {
      case 'summary':
        this._line(kernelLine(output.kernel, units, trans));
        this._drawCells(output.cells_by_left, output.cells_by_peak);
        this._heading(
          trans.__(
            'Top holders (%1 of %2)',
            output.scan.holders.length,
            output.holders_total
          )
        );
        this._drawHolders(output.scan, output.budget_s, '%memory');
        this._drawFixes();
        if ((output.scan.resources?.length ?? 0) > 0) {
          this._line(
            trans._n(
              '%1 open resource: run %memory resources to see it.',
              '%1 open resources: run %memory resources to see them.',
              output.scan.resources?.length ?? 0
            )
          );
        }
        break;
      case 'holders':
        this._line(kernelLine(output.kernel, units, trans));
        this._line(
          shownText(
            output.scan.holders.length,
            output.holders_total,
            output.matched,
            output.filter,
            trans
          )
        );
        this._drawHolders(output.scan, output.budget_s, '%memory holders');
        this._drawFixes();
        if (output.scan.holders.length > 0) {
          this._line(attributionText(output.scan, units, trans));
        }
        break;
      case 'resources':
        this._line(kernelLine(output.kernel, units, trans));
        this._note(
          scanNote(output.scan, output.budget_s, '%memory resources', trans)
        );
        this._drawFixes(true);
        break;
      case 'cells':
        this._line(kernelLine(output.kernel, units, trans));
        this._drawCells(output.cells_by_left, output.cells_by_peak);
        break;
      case 'fix':
        this._drawFix(output);
        break;
      case 'cell': {
        const m = output.measurement;
        let facts = trans.__(
          'RSS %1 \u2192 %2, peak %3.',
          formatBytes(m.rss_before, units),
          formatBytes(m.rss_after, units),
          formatBytes(m.peak_rss, units)
        );
        if (m.status === 'error') {
          facts += ' ' + trans.__('The cell raised an error (see above).');
        }
        this._line(facts);
        const limit = limitSentence(
          output.kernel.rss,
          output.kernel.memory_limit,
          units,
          trans
        );
        if (limit) {
          this._line(limit);
        }
        if (output.scan === null) {
          this._line(trans.__('Holders were not scanned (--no-holders).'));
        } else if (output.created.length === 0) {
          this._line(
            trans.__('The cell bound no new names, so it created no holder.')
          );
        } else {
          this._heading(
            trans.__('What it left behind: %1', nameList(output.created, trans))
          );
          this._drawHolders(output.scan, output.budget_s, '%%memory');
          this._drawFixes();
        }
        break;
      }
    }
    this._drawOffline();
  }

  private _drawBadge(record: ICellRecord): void {
    const units = this._units;
    const badge = el(
      'span',
      'jp-MemoryDoctor-outputBadge',
      badgeText(record, { units, trans: this._trans })
    );
    badge.title = tooltipText([record], {
      units,
      trans: this._trans,
      historyLength: 0
    });
    this._add(badge);
  }

  private _drawCells(byLeft: ICellRecord[], byPeak: ICellRecord[]): void {
    const trans = this._trans;
    this._heading(trans.__('Top cells by memory left'));
    this._add(this._cellTable(byLeft, trans.__('Top cells by memory left')));
    this._heading(trans.__('Top cells by peak'));
    this._add(this._cellTable(byPeak, trans.__('Top cells by peak')));
  }

  /** A small table of runs; a run's prompt leads to its cell. */
  private _cellTable(records: ICellRecord[], label: string): HTMLElement {
    const trans = this._trans;
    const units = this._units;
    if (records.length === 0) {
      return el(
        'p',
        'jp-MemoryDoctor-outputLine',
        trans.__(
          'No cell has left memory or raised the peak since %load_ext memory_doctor.'
        )
      );
    }
    const table = el('table', 'jp-MemoryDoctor-outputCells');
    table.setAttribute('aria-label', label);
    const head = table.createTHead().insertRow();
    const numeric = [false, true, true, true, false];
    [
      trans.__('Cell'),
      trans.__('Left'),
      trans.__('Peak'),
      trans.__('Time'),
      trans.__('Status')
    ].forEach((text, i) => {
      const th = el('th', numeric[i] ? 'jp-mod-number' : '', text);
      th.scope = 'col';
      head.appendChild(th);
    });
    const body = table.createTBody();
    for (const record of records) {
      const row = body.insertRow();
      const prompt =
        record.execution_count === null ? '[ ]' : `[${record.execution_count}]`;
      const cell = row.insertCell();
      if (record.cell_id) {
        const link = el('button', 'jp-MemoryDoctor-holderCell', prompt);
        link.type = 'button';
        link.title = trans.__('Go to cell %1', prompt);
        link.setAttribute('aria-label', link.title);
        const cellId = record.cell_id;
        link.addEventListener('click', () => void this._reveal(cellId));
        cell.appendChild(link);
      } else {
        cell.textContent = prompt;
      }
      const figures = [
        formatBytes(record.rss_delta, units, { signed: true }),
        formatBytes(record.peak_increase, units, { signed: true }),
        formatDuration(record.duration_s)
      ];
      for (const figure of figures) {
        const td = row.insertCell();
        td.className = 'jp-mod-number';
        td.textContent = figure;
      }
      row.insertCell().textContent =
        record.status === 'error' ? trans.__('error') : '';
    }
    return table;
  }

  private _drawHolders(
    scan: IScanResult,
    budgetS: number,
    again: string
  ): void {
    const holders = this._holders;
    if (!holders) {
      return;
    }
    this._note(scanNote(scan, budgetS, again, this._trans));
    if (scan.holders.length === 0) {
      this._line(this._trans.__('No holders were found.'));
      return;
    }
    const table = new HoldersTable({
      model: holders,
      settings: this._options.settings,
      trans: this._trans,
      onReveal: holder => {
        if (holder.cell_id) {
          void this._reveal(holder.cell_id);
        }
      },
      onCopy: this._options.copy
    });
    (this.layout as PanelLayout).addWidget(table);
  }

  /**
   * The panel's fix sections: the suggestions (with the last fix's outcome)
   * and, for `%memory resources`, the resources and findings with theirs.
   */
  private _drawFixes(withResources = false): void {
    const holders = this._holders;
    if (!holders) {
      return;
    }
    const controller = (this._controller = new FixController({
      model: holders,
      trans: this._trans,
      notebook: () => this._context?.notebook ?? null,
      confirm: this._options.confirm,
      insert: this._options.insert
    }));
    const sections = {
      controller,
      settings: this._options.settings,
      trans: this._trans
    };
    const layout = this.layout as PanelLayout;
    if (withResources) {
      layout.addWidget(
        new ResourcesSection({
          ...sections,
          onReveal: cellId => void this._reveal(cellId)
        })
      );
    }
    layout.addWidget(new SuggestionsSection(sections));
  }

  private _drawFix(output: Extract<MemoryOutput, { view: 'fix' }>): void {
    const trans = this._trans;
    const units = this._units;
    const suggestion = output.suggestion;
    const title = suggestionTitle(suggestion, output.resources, trans);
    if (output.result) {
      const lines = outcomeLines(
        { kind: 'applied', suggestion, result: output.result },
        output.resources,
        units,
        trans
      );
      lines.forEach(line => this._line(line));
      this._line(trans.__('Run %memory again to see what holds memory now.'));
      return;
    }
    if (output.error) {
      this._line(title);
      this._note(output.error.message);
      this._line(
        trans.__(
          'Nothing was changed. Run %memory to get suggestions for the kernel as it is now.'
        )
      );
      return;
    }
    this._line(confirmLead(suggestion.action, trans));
    const list = el('ul', 'jp-MemoryDoctor-fixTargets');
    for (const target of output.targets) {
      const item = el('li', '');
      item.appendChild(el('code', '', target));
      list.appendChild(item);
    }
    this._add(list);
    this._drawFixes();
    this._line(
      trans.__(
        'Nothing was changed. Apply it here, or run: %memory fix %1 --yes',
        suggestion.id
      )
    );
  }

  /** Say why the fixes here cannot be applied, when they cannot. */
  private _drawOffline(): void {
    const reason = this._context?.offline ?? null;
    const text =
      reason === null || !this._controller
        ? ''
        : offlineText(reason, this._trans);
    if (!this._offlineNode && text) {
      this._offlineNode = el('p', 'jp-MemoryDoctor-outputNote');
      this._add(this._offlineNode);
    }
    if (this._offlineNode) {
      this._offlineNode.textContent = text;
      this._offlineNode.hidden = !text;
    }
  }

  private async _reveal(cellId: string): Promise<boolean> {
    const panel = this._context?.notebook;
    return panel ? this._options.reveal(panel.content, cellId) : false;
  }

  private _add(node: HTMLElement): void {
    (this.layout as PanelLayout).addWidget(new Widget({ node }));
  }

  private _line(text: string): void {
    this._add(el('p', 'jp-MemoryDoctor-outputLine', text));
  }

  private _heading(text: string): void {
    this._add(el('h4', 'jp-MemoryDoctor-outputHeading', text));
  }

  private _note(text: string | null): void {
    if (text) {
      this._add(el('p', 'jp-MemoryDoctor-outputNote', text));
    }
  }

  private _options: MemoryOutputWidget.IOptions;
  private _trans: TranslationBundle;
  private _model: IRenderMime.IMimeModel | null = null;
  private _output: MemoryOutput | null = null;
  private _context: OutputContext | null = null;
  private _holders: HoldersModel | null = null;
  private _controller: FixController | null = null;
  private _offlineNode: HTMLElement | null = null;
}

/** The namespace for `MemoryOutputWidget` statics. */
export namespace MemoryOutputWidget {
  /** Options for a `MemoryOutputWidget`. */
  export interface IOptions {
    /** The memory state of the notebook whose DOM holds `node`, if any. */
    findEntry: (node: HTMLElement) => IMemoryDoctorEntry | null;
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Copies a why-alive path. */
    copy: (text: string) => void;
    /** Reveals a cell; defaults to `revealCell` in the factory. */
    reveal: typeof revealCell;
    /** Asks before a destructive fix; defaults to the panel's dialog. */
    confirm?: ConfirmFix;
    /** Inserts a fix as a cell; defaults to the panel's. */
    insert?: InsertCell;
  }
}

namespace Private {
  const NO_FINDINGS: IFindings = {
    open_fds: null,
    threads: null,
    children: null,
    cyclic_garbage: null,
    allocator_gap: null
  };

  /**
   * A `%memory fix` preview carries one suggestion, not a scan; the panel's
   * parts take a scan, so give them one that holds just that suggestion.
   */
  export function fixScan(
    output: Extract<MemoryOutput, { view: 'fix' }>
  ): IScanResult | null {
    if (output.result || output.error) {
      return null;
    }
    return {
      scan: {
        duration_s: 0,
        objects_visited: 0,
        complete: true,
        stopped: null
      },
      rss: output.kernel.rss,
      attributed_bytes: 0,
      unattributed_bytes: output.kernel.rss,
      holders: [],
      resources: output.resources,
      findings: NO_FINDINGS,
      suggestions: [output.suggestion]
    };
  }
}
