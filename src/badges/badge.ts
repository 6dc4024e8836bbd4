/**
 * The badge view: one small line under a cell's input with the cell's memory
 * figures. Text only (textContent and attributes), never HTML.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { badgeLabel, badgeText, tooltipText } from '../format';
import type { ICellRecord } from '../protocol';
import type { IMemoryDoctorSettings } from '../settings';

/** The class of every badge. */
export const BADGE_CLASS = 'jp-MemoryDoctor-badge';

/** How worrying a record is. */
export type Severity = 'ok' | 'warn' | 'alert';

/**
 * The larger of the RSS-change severity and the peak-increase severity.
 * Thresholds are in MB, or MiB when the units are IEC, like the badge text.
 */
export function severity(
  record: ICellRecord,
  settings: Readonly<IMemoryDoctorSettings>
): Severity {
  const mega = settings.units === 'IEC' ? 1024 * 1024 : 1000 * 1000;
  const level = (bytes: number, warn: number, alert: number): number =>
    bytes >= alert * mega ? 2 : bytes >= warn * mega ? 1 : 0;
  const worst = Math.max(
    level(record.rss_delta, settings.deltaWarnMB, settings.deltaAlertMB),
    level(record.peak_increase, settings.peakWarnMB, settings.peakAlertMB)
  );
  return (['ok', 'warn', 'alert'] as const)[worst];
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
    this.node.title = tooltipText(history, {
      ...text,
      historyLength: settings.historyLength
    });
    this.node.setAttribute('aria-label', badgeLabel(last, text));
    const level = severity(last, settings);
    this.toggleClass('jp-mod-warn', level === 'warn');
    this.toggleClass('jp-mod-alert', level === 'alert');
    this.toggleClass('jp-mod-error', last.status === 'error');
  }

  private _text: HTMLSpanElement;
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
  }
}
