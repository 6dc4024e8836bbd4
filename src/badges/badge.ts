/**
 * The badge view: one small line under a cell's input with the cell's memory
 * figures. Text only (textContent and attributes), never HTML.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { badgeLabel, badgeText, shownBytes, tooltipText } from '../format';
import type { IDeathNote, IRunningCell } from '../model';
import type { ICellRecord, IMemoryLimit } from '../protocol';
import type { IMemoryDoctorSettings } from '../settings';
import {
  clusterLines,
  deathText,
  deathTooltip,
  flaggedGrowth,
  leakExplanation,
  runningText,
  runningTooltip
} from './text';

/** The class of every badge. */
export const BADGE_CLASS = 'jp-MemoryDoctor-badge';

/** How worrying a record is. */
export type Severity = 'ok' | 'warn' | 'alert';

/**
 * The larger of the RSS-change severity and the peak-increase severity.
 * Thresholds are in MB, or MiB when the units are IEC, like the badge text.
 * A figure reaches a threshold when its exact value does, or when the badge
 * shows it rounded to the threshold or above (499.6 MB reads `500 MB`, so it
 * is coloured like 500 MB: the colour never contradicts the text).
 */
export function severity(
  record: ICellRecord,
  settings: Readonly<IMemoryDoctorSettings>
): Severity {
  const units = settings.units;
  const mega = units === 'IEC' ? 1024 * 1024 : 1000 * 1000;
  const level = (bytes: number, warn: number, alert: number): number => {
    const shown = shownBytes(bytes, units);
    const reaches = (threshold: number) =>
      bytes >= threshold * mega || shown >= threshold * mega;
    return reaches(alert) ? 2 : reaches(warn) ? 1 : 0;
  };
  const worst = Math.max(
    level(record.rss_delta, settings.deltaWarnMB, settings.deltaAlertMB),
    level(record.peak_increase, settings.peakWarnMB, settings.peakAlertMB)
  );
  return (['ok', 'warn', 'alert'] as const)[worst];
}

/**
 * What an amber or red badge means, in words (its tooltip's first line and
 * its accessible name), or an empty string for a plain one.
 */
export function severityWord(
  level: Severity,
  trans: TranslationBundle
): string {
  switch (level) {
    case 'warn':
      return trans.__('Above the warning threshold');
    case 'alert':
      return trans.__('Above the alert threshold');
    case 'ok':
      return '';
  }
}

/**
 * A cell's memory badge.
 */
export class MemoryBadge extends Widget {
  constructor(options: MemoryBadge.IOptions) {
    super();
    this.addClass(BADGE_CLASS);
    this.node.setAttribute('role', 'status');
    this.node.dataset.cellId = options.cellId;
    this._text = document.createElement('span');
    this._text.className = 'jp-MemoryDoctor-badgeText';
    this.node.appendChild(this._text);
  }

  /** The id of the cell this badge describes. */
  get cellId(): string {
    return this.node.dataset.cellId ?? '';
  }

  /**
   * Show a cell's history (oldest first); the last record is the headline.
   */
  render(
    history: readonly ICellRecord[],
    options: MemoryBadge.IRenderOptions
  ): void {
    const last = history[history.length - 1];
    if (!last) {
      return;
    }
    const { settings, trans } = options;
    const text = { units: settings.units, trans };
    this._text.textContent = badgeText(last, text);
    const tooltip = tooltipText(history, {
      ...text,
      historyLength: settings.historyLength
    });
    const growth = flaggedGrowth(last);
    const leak = growth ? leakExplanation(growth, text) : '';
    // The run's Dask cluster figures (protocol 1.3), after its own.
    const cluster = clusterLines(last, text).join('\n');
    const level = severity(last, settings);
    // The colour says it to the eye; these words say it to everyone (the
    // tooltip's second line, after the run it describes).
    const word = severityWord(level, trans);
    const lines = tooltip.split('\n');
    if (word) {
      lines.splice(1, 0, word);
    }
    this.node.title = [leak, lines.join('\n'), cluster]
      .filter(Boolean)
      .join('\n\n');
    const label = badgeLabel(last, text);
    this.node.setAttribute(
      'aria-label',
      [label, word, leak ? trans.__('Possible leak.') : '']
        .filter(Boolean)
        .join('. ')
    );
    this._setMark(leak ? trans.__('\u26a0 leak') : '', leak);
    this._setState(level, last.status === 'error');
    this.toggleClass('jp-mod-leak', leak !== '');
  }

  /**
   * Show the running cell's live reading (or that none can come), with the
   * cell's past runs below in the tooltip. Touches only this badge.
   */
  renderRunning(
    running: IRunningCell,
    history: readonly ICellRecord[],
    options: MemoryBadge.IRenderOptions
  ): void {
    const text = { units: options.settings.units, trans: options.trans };
    this._setCurrent(
      runningText(running, text),
      runningTooltip(running, { ...text, limit: options.limit ?? null }),
      history,
      options
    );
    this._setState('ok', false);
    this.toggleClass('jp-mod-running', true);
  }

  /**
   * Show that the kernel died while this cell ran, with the last reading.
   */
  renderDeath(
    note: IDeathNote,
    history: readonly ICellRecord[],
    options: MemoryBadge.IRenderOptions
  ): void {
    const text = { units: options.settings.units, trans: options.trans };
    this._setCurrent(
      deathText(note, text),
      deathTooltip(note, text),
      history,
      options
    );
    this._setState('alert', false);
    this.toggleClass('jp-mod-dead', true);
  }

  /**
   * Show the current run's `line` as the text and label, and its tooltip
   * `now` above the cell's past runs; no leak mark while a run is shown.
   */
  private _setCurrent(
    line: string,
    now: string,
    history: readonly ICellRecord[],
    options: MemoryBadge.IRenderOptions
  ): void {
    const { settings, trans } = options;
    this._text.textContent = line;
    const past = tooltipText(history, {
      units: settings.units,
      trans,
      historyLength: settings.historyLength
    });
    this.node.title = past
      ? `${now}\n\n${trans.__('Before this run:')}\n${past}`
      : now;
    this.node.setAttribute('aria-label', trans.__('Memory: %1', line));
    this._setMark('', '');
  }

  /** Reset the state classes, then set the severity and error ones. */
  private _setState(level: Severity, error: boolean): void {
    this.toggleClass('jp-mod-warn', level === 'warn');
    this.toggleClass('jp-mod-alert', level === 'alert');
    this.toggleClass('jp-mod-error', error);
    this.toggleClass('jp-mod-running', false);
    this.toggleClass('jp-mod-dead', false);
    this.toggleClass('jp-mod-leak', false);
  }

  /** Show (or, with empty text, remove) the warning mark after the text. */
  private _setMark(label: string, title: string): void {
    if (!label) {
      this._mark?.remove();
      this._mark = null;
      return;
    }
    if (!this._mark) {
      this._mark = document.createElement('span');
      this._mark.className = 'jp-MemoryDoctor-leakMark';
      this.node.appendChild(this._mark);
    }
    this._mark.textContent = label;
    this._mark.title = title;
  }

  private _text: HTMLSpanElement;
  private _mark: HTMLSpanElement | null = null;
}

/** The namespace for `MemoryBadge` options. */
export namespace MemoryBadge {
  /** Options for a `MemoryBadge`. */
  export interface IOptions {
    /** The id of the cell model. */
    cellId: string;
  }

  /** What `render` needs besides the records. */
  export interface IRenderOptions {
    /** Units, thresholds and history length. */
    settings: Readonly<IMemoryDoctorSettings>;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** The kernel's memory limit, for the running cell's tooltip. */
    limit?: IMemoryLimit | null;
  }
}
