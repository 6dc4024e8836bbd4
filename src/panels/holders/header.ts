/**
 * The top of the holders panel: the refresh/cancel button, the kernel's RSS
 * against what the holders account for, when the scan ran, progress and the
 * partial / stale / error notices.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { formatBytes, formatCount, formatDuration } from '../../format';
import type { ISettingsSource } from '../../settings';
import type { IMemoryModel } from '../../tokens';
import { el } from '../shared/dom';
import type { HoldersModel } from './model';
import {
  errorText,
  memoryReadout,
  partialText,
  progressText,
  scanDelayText,
  staleText,
  unattributedText
} from './text';

/** The class of the header widget. */
export const HEADER_CLASS = 'jp-MemoryDoctor-holdersHeader';

/**
 * The header. It reads everything from the model on `render()`.
 */
export class HoldersHeader extends Widget {
  constructor(options: HoldersHeader.IOptions) {
    super();
    this._model = options.model;
    this._onRefresh = options.onRefresh;
    this._onCancel = options.onCancel;
    this._settings = options.settings;
    this._trans = options.trans;
    const trans = this._trans;
    this.addClass(HEADER_CLASS);

    const titleRow = el('div', 'jp-MemoryDoctor-holdersTitleRow');
    titleRow.appendChild(
      el(
        'span',
        'jp-MemoryDoctor-holdersTitle',
        trans.__("What's holding memory")
      )
    );
    this._button.type = 'button';
    this._button.className = 'jp-MemoryDoctor-holdersRefresh';
    this._button.addEventListener('click', () => this._onButton());
    titleRow.appendChild(this._button);
    this.node.appendChild(titleRow);

    // The kernel's memory now, against its limit: Notebook 7 has no status
    // bar, so this line (and its top bar item) is where it shows there.
    this._memory.className = 'jp-MemoryDoctor-holdersMemory';
    this.node.appendChild(this._memory);

    this._figures.className = 'jp-MemoryDoctor-holdersFigures';
    this._rss = this._figure('rss', trans.__('Kernel RSS'));
    this._attributed = this._figure('attributed', trans.__('Attributed'));
    this._unattributed = this._figure('unattributed', trans.__('Unattributed'));
    // What "unattributed" means, on hover (the sentence is long for a sidebar).
    const explain = unattributedText(trans);
    this._unattributed.parentElement!.title = explain;
    const bar = el('div', 'jp-MemoryDoctor-holdersBar');
    bar.setAttribute('aria-hidden', 'true');
    this._barFill.className = 'jp-MemoryDoctor-holdersBarFill';
    bar.appendChild(this._barFill);
    this._figures.appendChild(bar);
    this._scanned.className = 'jp-MemoryDoctor-holdersScanned';
    this._figures.appendChild(this._scanned);
    this.node.appendChild(this._figures);

    this._progress.className = 'jp-MemoryDoctor-holdersProgress';
    this._progress.setAttribute('role', 'status');
    this._progress.setAttribute('aria-live', 'polite');
    this.node.appendChild(this._progress);
    this._notices.className = 'jp-MemoryDoctor-holdersNotices';
    this.node.appendChild(this._notices);
    this._toast.className = 'jp-MemoryDoctor-holdersToast';
    this._toast.setAttribute('role', 'status');
    this.node.appendChild(this._toast);
  }

  /** The refresh / cancel button. */
  get button(): HTMLButtonElement {
    return this._button;
  }

  /** Show a short message (e.g. why a cell could not be revealed). */
  say(text: string): void {
    this._toast.textContent = text;
  }

  /** Stop following the kernel's memory. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._follow(null);
    super.dispose();
  }

  /** Redraw from the model. */
  render(): void {
    const model = this._model;
    const trans = this._trans;
    const running = model.running;
    this._follow(model.entry?.model ?? null);
    this._renderMemory();

    const button = this._button;
    if (running) {
      button.textContent = trans.__('Cancel');
      button.title = trans.__('Stop the scan and show what it found so far');
      button.disabled = running.cancelling;
      button.classList.add('jp-mod-cancel');
    } else {
      button.textContent = trans.__('Refresh');
      button.title = `${trans.__('Scan the kernel for what holds memory.')} ${scanDelayText(trans)}`;
      button.disabled = !model.canRefresh;
      button.classList.remove('jp-mod-cancel');
    }
    this._progress.textContent = running ? progressText(running, trans) : '';
    this._progress.title = running ? scanDelayText(trans) : '';

    const result = model.result;
    this._figures.hidden = result === null;
    if (result) {
      const units = this._settings.current.units;
      this._rss.textContent = formatBytes(result.rss, units);
      this._attributed.textContent = formatBytes(
        result.attributed_bytes,
        units
      );
      this._unattributed.textContent = formatBytes(
        result.unattributed_bytes,
        units
      );
      const share =
        result.rss > 0
          ? Math.min(1, Math.max(0, result.attributed_bytes / result.rss))
          : 0;
      this._barFill.style.width = `${(share * 100).toFixed(1)}%`;
      const at = model.scannedAt;
      this._scanned.textContent = trans.__(
        'Scanned at %1 in %2; %3 objects visited.',
        at === null ? '\u2014' : new Date(at).toLocaleTimeString(),
        formatDuration(result.scan.duration_s),
        formatCount(result.scan.objects_visited)
      );
    }

    this._notices.textContent = '';
    const partial = model.partial;
    if (partial) {
      this._notice(
        'jp-mod-partial',
        partialText(partial, model.budgetSeconds, trans)
      );
    }
    if (model.stale) {
      this._notice('jp-mod-stale', staleText(trans));
    }
    const error = model.error;
    // Without results the message area already says it.
    if (error && result) {
      this._notice('jp-mod-error', errorText(error, trans));
    }
  }

  /** Listen to the readings of the followed kernel (or none). */
  private _follow(memory: IMemoryModel | null): void {
    if (memory === this._memoryModel) {
      return;
    }
    this._memoryModel?.rssChanged.disconnect(this._renderMemory, this);
    this._memoryModel?.liveChanged.disconnect(this._renderMemory, this);
    this._memoryModel = memory;
    memory?.rssChanged.connect(this._renderMemory, this);
    memory?.liveChanged.connect(this._renderMemory, this);
  }

  /** The memory line: the RSS now, the limit, and how close it is. */
  private _renderMemory(): void {
    const memory = this._memoryModel;
    const node = this._memory;
    const ready = memory?.status.kind === 'ready';
    node.hidden = !ready;
    if (!memory || !ready) {
      node.textContent = '';
      return;
    }
    const settings = this._settings.current;
    const readout = memoryReadout(
      memory.rss,
      memory.memoryLimit,
      settings.headroomWarnPercent,
      settings.units,
      this._trans
    );
    node.textContent = readout.text;
    node.title = readout.title;
    node.classList.toggle('jp-mod-warn', readout.level === 'warn');
    node.classList.toggle('jp-mod-alert', readout.level === 'alert');
  }

  private _onButton(): void {
    this._toast.textContent = '';
    if (this._model.running) {
      this._onCancel();
    } else {
      this._onRefresh();
    }
  }

  /** Add a labelled figure; returns the element holding its value. */
  private _figure(name: string, label: string): HTMLElement {
    const figure = el('div', 'jp-MemoryDoctor-holdersFigure');
    figure.dataset.figure = name;
    figure.appendChild(el('span', 'jp-MemoryDoctor-holdersFigureLabel', label));
    const value = el('span', 'jp-MemoryDoctor-holdersFigureValue');
    figure.appendChild(value);
    this._figures.appendChild(figure);
    return value;
  }

  private _notice(className: string, text: string): void {
    this._notices.appendChild(
      el('div', `jp-MemoryDoctor-holdersNotice ${className}`, text)
    );
  }

  private _model: HoldersModel;
  private _onRefresh: () => void;
  private _onCancel: () => void;
  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _button = document.createElement('button');
  private _memory = document.createElement('div');
  private _memoryModel: IMemoryModel | null = null;
  private _figures = document.createElement('div');
  private _rss: HTMLElement;
  private _attributed: HTMLElement;
  private _unattributed: HTMLElement;
  private _barFill = document.createElement('div');
  private _scanned = document.createElement('div');
  private _progress = document.createElement('div');
  private _notices = document.createElement('div');
  private _toast = document.createElement('div');
}

/** The namespace for `HoldersHeader` options. */
export namespace HoldersHeader {
  /** Options for a `HoldersHeader`. */
  export interface IOptions {
    /** The panel model. */
    model: HoldersModel;
    /** Scans the followed kernel (the button, when no scan runs). */
    onRefresh: () => void;
    /** Cancels the running scan (the button, while one runs). */
    onCancel: () => void;
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
  }
}
