/**
 * Headroom: the kernel's memory against the limit that actually applies (the
 * container's cgroup limit, else the machine's RAM), its colour in the status
 * bar, and the warning before the OOM killer strikes. The text builders are
 * pure; `HeadroomWatcher` follows every notebook's model.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import { formatBytes, Units } from './format';
import type { IHolder, IMemoryLimit } from './protocol';
import type {
  IMemoryDoctorEntry,
  IMemoryDoctorTracker,
  IMemoryModel,
  IScanModel
} from './tokens';

/** How close the kernel is to its limit. */
export type HeadroomLevel = 'ok' | 'warn' | 'alert';

/** Percentage points below the warning at which the colour turns amber. */
export const CAUTION_POINTS = 15;

/**
 * Percentage points the usage must fall below the warning before another
 * warning can fire, so that a kernel hovering at the threshold does not
 * warn on every reading.
 */
export const REARM_POINTS = 5;

/** Holders named in the warning at most. */
export const WARNING_HOLDERS = 3;

/** The share of the limit in use, in percent, or null without a limit. */
export function usedPercent(
  rss: number | null,
  limit: IMemoryLimit | null
): number | null {
  if (rss === null || !limit || !limit.bytes || limit.bytes <= 0) {
    return null;
  }
  return (rss / limit.bytes) * 100;
}

/**
 * The colour for a usage: `alert` from `warnPercent`, `warn` from
 * `CAUTION_POINTS` below it, `ok` otherwise or without a limit.
 */
export function headroomLevel(
  percent: number | null,
  warnPercent: number
): HeadroomLevel {
  if (percent === null) {
    return 'ok';
  }
  if (percent >= warnPercent) {
    return 'alert';
  }
  return percent >= warnPercent - CAUTION_POINTS ? 'warn' : 'ok';
}

/** Where a limit comes from, as a phrase: "the container's cgroup v2 limit". */
export function limitSource(
  limit: IMemoryLimit,
  trans: TranslationBundle
): string {
  switch (limit.source) {
    case 'cgroup_v2':
      return trans.__("the container's cgroup limit (memory.max)");
    case 'cgroup_v1':
      return trans.__("the container's cgroup limit (memory.limit_in_bytes)");
    case 'physical':
      return trans.__("the machine's physical memory");
    default:
      return trans.__('unknown');
  }
}

/**
 * One sentence on the limit, e.g. "Limit: 8.0 GB, the container's cgroup
 * limit (memory.max); 72% used.", or an empty string without a limit.
 */
export function limitSentence(
  rss: number | null,
  limit: IMemoryLimit | null,
  units: Units,
  trans: TranslationBundle
): string {
  if (!limit || !limit.bytes) {
    return '';
  }
  const percent = usedPercent(rss, limit);
  const size = formatBytes(limit.bytes, units);
  return percent === null
    ? trans.__('Limit: %1, %2.', size, limitSource(limit, trans))
    : trans.__(
        'Limit: %1, %2; %3% used.',
        size,
        limitSource(limit, trans),
        Math.round(percent)
      );
}

/** The headroom warning's text. */
export interface IHeadroomWarning {
  /** The notification message. */
  readonly message: string;
  /** The largest holders of the last scan, already formatted. */
  readonly holders: readonly string[];
}

/**
 * The warning: how much of which limit the kernel uses, and the largest
 * holders of the last scan (or how to find them).
 */
export function headroomWarning(
  options: headroomWarning.IOptions
): IHeadroomWarning {
  const { rss, limit, units, trans, notebook, scan } = options;
  const percent = Math.round(usedPercent(rss, limit) ?? 0);
  const lead = trans.__(
    'Memory Doctor: the kernel of %1 uses %2 of its %3 limit (%4%), %5. The system may kill it soon.',
    notebook,
    formatBytes(rss, units),
    formatBytes(limit.bytes ?? 0, units),
    percent,
    limitSource(limit, trans)
  );
  const holders = scan ? topHolders(scan.holders, units) : [];
  let tail: string;
  if (!scan) {
    tail = trans.__("Open What's holding memory to see what keeps it.");
  } else if (holders.length === 0) {
    tail = trans.__('The last scan found no large holders.');
  } else {
    tail = trans.__(
      'Largest at the last scan (%1 ago): %2.',
      formatAge(options.now - scan.time, trans),
      holders.join(', ')
    );
  }
  return { message: `${lead} ${tail}`, holders };
}

/** The namespace for `headroomWarning` options. */
export namespace headroomWarning {
  /** Options for `headroomWarning`. */
  export interface IOptions {
    /** The kernel's RSS now. */
    rss: number;
    /** The limit that applies. */
    limit: IMemoryLimit;
    /** The notebook's name. */
    notebook: string;
    /** The last scan's holders and when it finished (epoch ms), if any. */
    scan: { holders: readonly IHolder[]; time: number } | null;
    /** Now, epoch ms. */
    now: number;
    /** Byte units. */
    units: Units;
    /** Translation bundle. */
    trans: TranslationBundle;
  }
}

/**
 * "big, Out[3] 4.0 GB" for the `WARNING_HOLDERS` largest holders. The names
 * come from the kernel: the notification shows them as text.
 */
export function topHolders(
  holders: readonly IHolder[],
  units: Units
): string[] {
  return holders
    .filter(
      h =>
        typeof h?.retained_bytes === 'number' &&
        Array.isArray(h.labels) &&
        h.retained_bytes > 0
    )
    .sort((a, b) => b.retained_bytes - a.retained_bytes)
    .slice(0, WARNING_HOLDERS)
    .map(h => {
      const labels = h.labels.filter(l => typeof l === 'string');
      const names =
        labels.length > 3
          ? `${labels.slice(0, 3).join(', ')}, \u2026`
          : labels.join(', ');
      return `${names} ${formatBytes(h.retained_bytes, units)}`;
    });
}

/** "40 s", "3 min", "2 h". */
export function formatAge(ms: number, trans: TranslationBundle): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) {
    return trans.__('%1 s', seconds);
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) {
    return trans.__('%1 min', minutes);
  }
  return trans.__('%1 h', Math.round(minutes / 60));
}

/** Shows the headroom warning; `notify.ts` implements it with a toast. */
export interface IHeadroomNotifier {
  /** Warn that the kernel is close to its memory limit. */
  headroomWarning(warning: IHeadroomWarning): void;
}

/**
 * Watches every notebook's kernel memory and warns once when it crosses
 * `headroomWarnPercent` of its limit; it warns again only after the usage
 * fell `REARM_POINTS` below the threshold.
 */
export class HeadroomWatcher implements IDisposable {
  constructor(options: HeadroomWatcher.IOptions) {
    this._doctor = options.doctor;
    this._notifier = options.notifier;
    this._trans = options.trans;
    this._now = options.now ?? Date.now;
    this._doctor.entryAdded.connect(this._onEntryAdded, this);
  }

  /** Whether the watcher is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Watch a notebook's model (done for every panel the tracker adds). */
  watch(panel: NotebookPanel): void {
    const entry = this._doctor.get(panel);
    if (!entry || this._watched.has(entry.model)) {
      return;
    }
    const model = entry.model;
    const check = () => this._check(panel, model, entry.scans);
    this._watched.set(model, { armed: true, check });
    model.rssChanged.connect(check, this);
    model.liveChanged.connect(check, this);
    check();
  }

  /** Stop watching. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.disconnectReceiver(this);
    Signal.clearData(this);
  }

  private _onEntryAdded(
    _: IMemoryDoctorTracker,
    entry: IMemoryDoctorEntry
  ): void {
    this.watch(entry.panel);
  }

  private _check(
    panel: NotebookPanel,
    model: IMemoryModel,
    scans: IScanModel
  ): void {
    const watched = this._watched.get(model);
    if (!watched || this._isDisposed) {
      return;
    }
    const settings = this._doctor.settings.current;
    const limit = model.memoryLimit;
    const rss = model.rss;
    const percent = usedPercent(rss, limit);
    if (percent === null || rss === null || !limit) {
      return;
    }
    const threshold = settings.headroomWarnPercent;
    if (percent < threshold - REARM_POINTS) {
      watched.armed = true;
      return;
    }
    if (percent < threshold || !watched.armed) {
      return;
    }
    watched.armed = false;
    // A scan from before a restart describes another process.
    const result = scans.stale ? null : scans.result;
    const time = scans.scannedAt;
    this._notifier.headroomWarning(
      headroomWarning({
        rss,
        limit,
        notebook: panel.title?.label || panel.context?.path || '',
        scan:
          result && time !== null ? { holders: result.holders, time } : null,
        now: this._now(),
        units: settings.units,
        trans: this._trans
      })
    );
  }

  private _doctor: IMemoryDoctorTracker;
  private _notifier: IHeadroomNotifier;
  private _trans: TranslationBundle;
  private _now: () => number;
  private _watched = new WeakMap<IMemoryModel, Private.IWatched>();
  private _isDisposed = false;
}

/** The namespace for `HeadroomWatcher` options. */
export namespace HeadroomWatcher {
  /** Options for a `HeadroomWatcher`. */
  export interface IOptions {
    /** Per-notebook memory state and the settings. */
    doctor: IMemoryDoctorTracker;
    /** Shows the warning. */
    notifier: IHeadroomNotifier;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** The clock, epoch ms; replaceable in tests. */
    now?: () => number;
  }
}

namespace Private {
  /** A watched model. */
  export interface IWatched {
    /** Whether the next crossing warns. */
    armed: boolean;
    /** Re-evaluates the model. */
    check: () => void;
  }
}
