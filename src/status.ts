/**
 * The status bar item: the current notebook's kernel RSS, or a short reason
 * why there is none.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { clockTime, readingLines } from './badges/text';
import { formatBytes, peakMethodLabel, Units } from './format';
import {
  HeadroomLevel,
  headroomLevel,
  limitSentence,
  usedPercent
} from './headroom';
import type { IDeathNote, MemoryStatus } from './model';
import type { IMemoryLimit } from './protocol';
import type {
  IMemoryDoctorEntry,
  IMemoryDoctorTracker,
  IMemoryModel
} from './tokens';

/** The class of the status bar item. */
export const STATUS_CLASS = 'jp-MemoryDoctor-status';

/**
 * The status bar text, tooltip and headroom colour for a model state, with
 * the memory limit and the last death note when known.
 */
export function statusText(
  status: MemoryStatus,
  rss: number | null,
  units: Units,
  trans: TranslationBundle,
  extra: statusText.IExtra = {}
): { text: string; title: string; level: HeadroomLevel } {
  const result = Private.baseText(status, rss, units, trans);
  const limit = extra.limit ?? null;
  let level: HeadroomLevel = 'ok';
  if (status.kind === 'ready' && limit?.bytes) {
    result.text = trans.__(
      '%1 / %2',
      result.text,
      formatBytes(limit.bytes, units)
    );
    result.title = `${result.title}\n${limitSentence(rss, limit, units, trans)}`;
    level = headroomLevel(
      usedPercent(rss, limit),
      extra.warnPercent ?? Number.POSITIVE_INFINITY
    );
  }
  const death = extra.death ?? null;
  if (death) {
    if (status.kind === 'dead' && death.reading) {
      result.text = trans.__(
        'Mem: kernel dead \u00b7 last %1',
        formatBytes(death.reading.rss, units)
      );
    }
    result.title = `${result.title}\n\n${deathSummary(death, units, trans)}`;
  }
  return { ...result, level };
}

/** The namespace for `statusText` options. */
export namespace statusText {
  /** What the status bar shows besides the RSS. */
  export interface IExtra {
    /** The kernel's memory limit. */
    limit?: IMemoryLimit | null;
    /** `headroomWarnPercent`; without it the item is never coloured. */
    warnPercent?: number;
    /** The last death note. */
    death?: IDeathNote | null;
  }
}

/**
 * What was running when the kernel died and the last figures, for the
 * status bar's tooltip.
 */
export function deathSummary(
  note: IDeathNote,
  units: Units,
  trans: TranslationBundle
): string {
  const head =
    note.cellId === null
      ? trans.__(
          'The kernel died (or was killed, possibly out of memory) at %1; no measured cell was running.',
          clockTime(note.time)
        )
      : note.executionCount === null
        ? trans.__(
            'The kernel died (or was killed, possibly out of memory) at %1 while a cell was running; its badge has the details.',
            clockTime(note.time)
          )
        : trans.__(
            'The kernel died (or was killed, possibly out of memory) at %1 while cell [%2] was running.',
            clockTime(note.time),
            note.executionCount
          );
  return [head, ...readingLines(note, { units, trans })].join('\n');
}

namespace Private {
  /** The text and tooltip of each state, before the limit and death note. */
  export function baseText(
    status: MemoryStatus,
    rss: number | null,
    units: Units,
    trans: TranslationBundle
  ): { text: string; title: string } {
    const dash = '\u2014';
    switch (status.kind) {
      case 'ready': {
        const size = rss === null ? dash : formatBytes(rss, units);
        return {
          text: trans.__('Mem: %1', size),
          title: trans.__(
            'Kernel resident memory (RSS): %1. Peak method: %2. Helper %3, Python %4.',
            size,
            peakMethodLabel(status.peakMethod, trans),
            status.helperVersion,
            status.python
          )
        };
      }
      case 'connecting':
        return {
          text: trans.__('Mem: %1', dash),
          title: trans.__('Memory Doctor is connecting to the kernel helper.')
        };
      case 'no-helper':
        return {
          text: trans.__('Mem: helper missing'),
          title: trans.__(
            "The Memory Doctor helper is not installed in this kernel's environment. Run %1 in a cell, then restart the kernel.",
            status.hint
          )
        };
      case 'mismatch':
        return {
          text: trans.__('Mem: version mismatch'),
          title: status.message
        };
      case 'unsupported':
        return {
          text: trans.__('Mem: n/a'),
          title:
            status.reason === 'language'
              ? trans.__('Memory Doctor measures Python kernels only.')
              : trans.__('This kernel connection does not handle comms.')
        };
      case 'stale':
        return {
          text: trans.__('Mem: restarting\u2026'),
          title: trans.__(
            'The kernel is restarting; figures shown are from before the restart.'
          )
        };
      case 'dead':
        return {
          text: trans.__('Mem: kernel dead'),
          title: trans.__(
            'The kernel died, possibly out of memory. Restart it to measure again.'
          )
        };
      case 'error':
        return {
          text: trans.__('Mem: error'),
          title: trans.__('Memory Doctor: %1', status.message)
        };
    }
  }
}

/**
 * Shows the RSS of the current notebook's kernel.
 */
export class MemoryStatusItem extends Widget {
  constructor(options: MemoryStatusItem.IOptions) {
    super();
    this.addClass(STATUS_CLASS);
    this.addClass('jp-StatusBar-TextItem');
    this._doctor = options.doctor;
    this._trans = options.trans;
    this._doctor.currentChanged.connect(this._follow, this);
    this._doctor.settings.changed.connect(this._refresh, this);
    this._follow();
  }

  /** The model shown, if any. */
  get model(): IMemoryModel | null {
    return this._model;
  }

  /** Emitted when `isActive` may have changed. */
  get activeStateChanged(): ISignal<this, void> {
    return this._activeStateChanged;
  }

  /**
   * Whether to show the item: there is a notebook with a model whose kernel
   * we can measure (other kernels are left alone, quietly).
   */
  isActive(): boolean {
    return this._model !== null && this._model.status.kind !== 'unsupported';
  }

  /** Stop following. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._doctor.currentChanged.disconnect(this._follow, this);
    this._doctor.settings.changed.disconnect(this._refresh, this);
    this._setModel(null);
    Signal.clearData(this);
    super.dispose();
  }

  private _follow(): void {
    const entry: IMemoryDoctorEntry | null = this._doctor.current;
    this._setModel(entry?.model ?? null);
  }

  private _setModel(model: IMemoryModel | null): void {
    if (model === this._model) {
      return;
    }
    this._model?.stateChanged.disconnect(this._refresh, this);
    this._model?.rssChanged.disconnect(this._refresh, this);
    this._model?.liveChanged.disconnect(this._refresh, this);
    this._model = model;
    model?.stateChanged.connect(this._refresh, this);
    model?.rssChanged.connect(this._refresh, this);
    model?.liveChanged.connect(this._refresh, this);
    this._refresh();
  }

  private _refresh(): void {
    const model = this._model;
    let level: HeadroomLevel = 'ok';
    if (model) {
      const settings = this._doctor.settings.current;
      const shown = statusText(
        model.status,
        model.rss,
        settings.units,
        this._trans,
        {
          limit: model.memoryLimit,
          warnPercent: settings.headroomWarnPercent,
          death: model.lastDeath
        }
      );
      this.node.textContent = shown.text;
      this.node.title = shown.title;
      level = shown.level;
    } else {
      this.node.textContent = '';
      this.node.title = '';
    }
    this.toggleClass('jp-mod-warn', level === 'warn');
    this.toggleClass('jp-mod-alert', level === 'alert');
    const active = this.isActive();
    if (active !== this._wasActive) {
      this._wasActive = active;
      this._activeStateChanged.emit();
    }
  }

  private _doctor: IMemoryDoctorTracker;
  private _trans: TranslationBundle;
  private _model: IMemoryModel | null = null;
  private _wasActive = false;
  private _activeStateChanged = new Signal<this, void>(this);
}

/** The namespace for `MemoryStatusItem` options. */
export namespace MemoryStatusItem {
  /** Options for a `MemoryStatusItem`. */
  export interface IOptions {
    /** The per-notebook models; the item shows the current one's. */
    doctor: IMemoryDoctorTracker;
    /** Translation bundle. */
    trans: TranslationBundle;
  }
}
