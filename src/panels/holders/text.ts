/**
 * The words of the holders panel: pure functions from data to translated
 * plain text (the view puts it into the DOM with `textContent` only).
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { formatBytes, formatCount, formatDuration, Units } from '../../format';
import {
  HeadroomLevel,
  headroomLevel,
  limitSentence,
  usedPercent
} from '../../headroom';
import {
  HolderKind,
  IHolder,
  IMemoryLimit,
  IScanProgressMessage,
  SCAN_SLICE_S,
  ScanPhase,
  ScanStopped
} from '../../protocol';
import { nameList } from '../shared/text';
import type {
  HoldersState,
  IHolderRow,
  IRunningScan,
  IScanError
} from './model';

/** The names of a holder as one line, e.g. `big, Out[3], _3`. */
export function holderNames(holder: IHolder): string {
  return holder.labels.join(', ');
}

/**
 * The cell column: `[3]`, `[ ]` for a known cell without a count, or nothing
 * when no cell is known.
 */
export function cellText(holder: IHolder): string {
  if (holder.execution_count !== null) {
    return `[${holder.execution_count}]`;
  }
  return holder.cell_id ? '[ ]' : '';
}

/** The name of a root kind, e.g. `output cache`. */
export function kindLabel(kind: HolderKind, trans: TranslationBundle): string {
  switch (kind) {
    case 'variable':
      return trans.__('variable');
    case 'output_cache':
      return trans.__('output cache');
    case 'closure':
      return trans.__('closure');
    case 'default_arg':
      return trans.__('default argument');
    case 'class_attribute':
      return trans.__('class attribute');
    case 'cache':
      return trans.__('function cache');
    case 'traceback':
      return trans.__('last exception');
    case 'thread':
      return trans.__('thread');
    case 'generator':
      return trans.__('suspended generator');
    case 'module':
      return trans.__('notebook module');
  }
}

/** Whether a holder has several roots, so deleting one frees nothing. */
export function showsTrap(holder: IHolder): boolean {
  return holder.shared && holder.labels.length > 1;
}

/**
 * The trap of a shared holder, e.g. `big, Out[3], _3 jointly retain 400 MB —
 * deleting big alone frees nothing`; null for a holder with one root.
 */
export function trapText(
  holder: IHolder,
  units: Units,
  trans: TranslationBundle
): string | null {
  if (!showsTrap(holder)) {
    return null;
  }
  // Name the variable the user is most likely to `del`.
  const variable =
    holder.roots.find(root => root.kind === 'variable')?.label ??
    holder.labels[0];
  return trans.__(
    '%1 jointly retain %2 \u2014 deleting %3 alone frees nothing',
    nameList(holder.labels, trans),
    formatBytes(holder.retained_bytes, units),
    variable
  );
}

/** The roots with their kinds, e.g. `big (variable), Out[3] (output cache)`. */
export function rootsText(holder: IHolder, trans: TranslationBundle): string {
  const roots =
    holder.roots.length > 0
      ? holder.roots
      : holder.labels.map(label => ({ label, kind: holder.kind }));
  return trans.__(
    'Held by: %1',
    roots
      .map(root => `${root.label} (${kindLabel(root.kind, trans)})`)
      .join(', ')
  );
}

/** The kernel's memory now, as the panel's header line shows it. */
export interface IMemoryReadout {
  /** The line, e.g. `Kernel memory now: 2.1 GB of 8.0 GB (26%)`. */
  text: string;
  /** Its tooltip: where the limit comes from. */
  title: string;
  /** How close to the limit (also said in words in `text`). */
  level: HeadroomLevel;
}

/**
 * The kernel's memory now against its limit, for the panel's header (the
 * only place Notebook 7, which has no status bar, shows it besides its top
 * bar item). Near the limit the words say so, not only the colour.
 */
export function memoryReadout(
  rss: number | null,
  limit: IMemoryLimit | null,
  warnPercent: number,
  units: Units,
  trans: TranslationBundle
): IMemoryReadout {
  if (rss === null) {
    return {
      text: trans.__('Kernel memory now: —'),
      title: trans.__('No reading of the kernel yet.'),
      level: 'ok'
    };
  }
  const size = formatBytes(rss, units);
  const percent = usedPercent(rss, limit);
  if (percent === null || !limit?.bytes) {
    return {
      text: trans.__('Kernel memory now: %1', size),
      title: trans.__('The kernel process resident memory (RSS).'),
      level: 'ok'
    };
  }
  const level = headroomLevel(percent, warnPercent);
  const base = trans.__(
    'Kernel memory now: %1 of %2 (%3%)',
    size,
    formatBytes(limit.bytes, units),
    Math.round(percent)
  );
  const text =
    level === 'alert'
      ? trans.__('%1 — near the limit', base)
      : level === 'warn'
        ? trans.__('%1 — getting close to the limit', base)
        : base;
  return { text, title: limitSentence(rss, limit, units, trans), level };
}

/** What the count beside the filter reads. */
export interface ICountOptions {
  /** Rows in the table now (sent holders and brief ones the filter found). */
  shown: number;
  /** Holders the scan sent with details. */
  sent: number;
  /** Holders the scan found, before the `max_holders` cut. */
  total: number;
  /** Whether a filter is typed. */
  filtering: boolean;
  /** Whether the filter searched every holder's names (1.3 sends them). */
  searchesAll: boolean;
}

/**
 * The honest count: how many holders there are, how many the table shows
 * and which, e.g. `500 of 10,000 holders shown (the largest)`, `3 of 10,000
 * holders match`.
 */
export function countText(
  options: ICountOptions,
  trans: TranslationBundle
): string {
  const { shown, sent, total, filtering, searchesAll } = options;
  const all = formatCount(total);
  if (!filtering) {
    return sent >= total
      ? trans._n('%1 holder', '%1 holders', total)
      : trans.__(
          '%1 of %2 holders shown (the largest)',
          formatCount(sent),
          all
        );
  }
  if (searchesAll) {
    return shown === 0
      ? trans.__('No holder matches the filter.')
      : trans._n(
          '%2 of %3 holders matches',
          '%2 of %3 holders match',
          shown,
          formatCount(shown),
          all
        );
  }
  // A helper before 1.3 sends no names past the cut: say what was searched.
  return shown === 0
    ? trans.__(
        'No holder among the %1 largest matches the filter (the other %2 were not sent).',
        formatCount(sent),
        formatCount(total - sent)
      )
    : trans.__(
        '%1 of the %2 largest holders match (the other %3 were not sent).',
        formatCount(shown),
        formatCount(sent),
        formatCount(total - sent)
      );
}

/** What the treemap draws, against the scan's attributed memory. */
export interface ICoverage {
  /** Holders drawn (their own tiles and the "other" tile). */
  holders: number;
  /** Their bytes. */
  bytes: number;
  /** The scan's `attributed_bytes`. */
  attributed: number;
  /** Holders the scan found but did not send (not drawn). */
  missing: number;
  /** Whether a filter chose them. */
  filtering: boolean;
}

/**
 * What share of "Attributed" the treemap covers, e.g. `The treemap covers
 * 100% of the 1.0 GB attributed (10,000 holders).`
 */
export function coverageText(
  coverage: ICoverage,
  units: Units,
  trans: TranslationBundle
): string {
  const { holders, bytes, attributed, missing, filtering } = coverage;
  const share =
    attributed > 0 ? Math.min(100, Math.round((bytes / attributed) * 100)) : 0;
  const size = formatBytes(attributed, units);
  if (filtering) {
    return trans._n(
      'The %1 holder matching the filter: %2, %3% of the %4 attributed.',
      'The %1 holders matching the filter: %2, %3% of the %4 attributed.',
      holders,
      formatBytes(bytes, units),
      share,
      size
    );
  }
  return missing > 0
    ? trans.__(
        'The treemap covers %1% of the %2 attributed: the %3 largest holders (the other %4 were not sent).',
        share,
        size,
        formatCount(holders),
        formatCount(missing)
      )
    : trans.__(
        'The treemap covers %1% of the %2 attributed (%3 holders).',
        share,
        size,
        formatCount(holders)
      );
}

/** One line of a holder's names in its details, with a tooltip. */
export interface IRootLine {
  /** The text, e.g. `big (variable)`. */
  text: string;
  /** The tooltip: the full list on the heading and the `N more` line. */
  title: string;
}

/**
 * A holder's names for its details, every one (up to `max`, then `and N
 * more`, whose tooltip lists them all), each with the kind of root it is:
 * `Held by: big (variable)`, or a heading and one line per name. A brief row
 * (a holder sent without details) has its names only.
 */
export function rootLines(
  holder: IHolderRow,
  max: number,
  trans: TranslationBundle
): IRootLine[] {
  const roots = holder.brief
    ? holder.labels.map(label => label)
    : (holder.roots.length > 0
        ? holder.roots
        : holder.labels.map(label => ({ label, kind: holder.kind }))
      ).map(root => `${root.label} (${kindLabel(root.kind, trans)})`);
  const all = roots.join(', ');
  if (roots.length <= 1) {
    const text = trans.__('Held by: %1', all);
    return [{ text, title: text }];
  }
  const lines: IRootLine[] = [
    {
      text: trans._n('Held by %1 name:', 'Held by %1 names:', roots.length),
      title: all
    }
  ];
  for (const root of roots.slice(0, max)) {
    lines.push({ text: root, title: root });
  }
  if (roots.length > max) {
    lines.push({
      text: trans._n(
        'and %1 more (hover for the full list)',
        'and %1 more (hover for the full list)',
        roots.length - max
      ),
      title: all
    });
  }
  return lines;
}

/**
 * What the details of a brief row say: only the largest holders come with a
 * why-alive path and a composition.
 */
export function briefText(detailed: number, trans: TranslationBundle): string {
  return trans._n(
    'Sent without details: only the largest holder comes with its path and composition. Raise "Holders to show" in the settings, then Refresh.',
    'Sent without details: only the %1 largest holders come with their path and composition. Raise "Holders to show" in the settings, then Refresh.',
    detailed
  );
}

/** Where the memory lives when it is not ordinary host memory, or null. */
export function placementText(
  holder: IHolder,
  trans: TranslationBundle
): string | null {
  if (holder.device) {
    return trans.__(
      'On device %1: these bytes are not part of the kernel RSS.',
      holder.device
    );
  }
  if (holder.file_backed) {
    return trans.__(
      'File-backed (memory-mapped): the OS can drop these pages and read them again.'
    );
  }
  return null;
}

/** One line of the composition, e.g. `numpy.ndarray: 400 MB in 1 object`. */
export function compositionText(
  part: IHolder['composition'][number],
  units: Units,
  trans: TranslationBundle
): string {
  return trans._n(
    '%2: %3 in %1 object',
    '%2: %3 in %1 objects',
    part.count,
    part.type,
    formatBytes(part.bytes, units)
  );
}

/** The name of a scan phase. */
export function phaseText(
  phase: ScanPhase | string,
  trans: TranslationBundle
): string {
  switch (phase) {
    case 'roots':
      return trans.__('finding roots');
    case 'walk':
      return trans.__('walking the heap');
    case 'attribute':
      return trans.__('attributing memory');
    case 'paths':
      return trans.__('finding why-alive paths');
    default:
      return String(phase);
  }
}

/** The progress line of a running scan. */
export function progressText(
  running: IRunningScan,
  trans: TranslationBundle
): string {
  if (running.cancelling) {
    return trans.__('Cancelling the scan\u2026');
  }
  const progress: IScanProgressMessage | null = running.progress;
  if (!progress) {
    return trans.__('Scanning\u2026');
  }
  return trans.__(
    'Scanning: %1, %2 objects visited (%3)',
    phaseText(progress.phase, trans),
    formatCount(progress.objects_visited),
    formatDuration(progress.elapsed_s)
  );
}

/** The partial-result marker, e.g. `Partial: stopped by the 5 s budget`. */
export function partialText(
  stopped: ScanStopped,
  budgetSeconds: number | null,
  trans: TranslationBundle
): string {
  switch (stopped) {
    case 'budget':
      return budgetSeconds === null
        ? trans.__('Partial: stopped by the time budget.')
        : trans.__(
            'Partial: stopped by the %1 s budget. Raise "Holders scan budget" in the settings for a full scan.',
            budgetSeconds
          );
    case 'cancelled':
      return trans.__('Partial: cancelled.');
    case 'cell_ran':
      return trans.__(
        'Partial: a cell ran during the scan, so the heap changed. Refresh when the kernel is idle.'
      );
    default:
      // `interrupted` (1.3: an interrupt arrived during a slice), and any
      // later reason a newer helper gives.
      return trans.__(
        'Partial: the scan was interrupted. Press Refresh for a full scan.'
      );
  }
}

/**
 * How long a scan may hold up a cell: the slice in progress and a short
 * labelling slice (the settings' description and the README say the same).
 */
export function scanDelayText(trans: TranslationBundle): string {
  return trans.__(
    "The scan works in slices of about %1 ms between the kernel's other work: a cell you run meanwhile stops it and waits for the slice in progress and a 20 ms labelling slice.",
    Math.round(SCAN_SLICE_S * 1000)
  );
}

/** The stale marker. */
export function staleText(trans: TranslationBundle): string {
  return trans.__(
    'Stale: the kernel restarted or changed after this scan. Press Refresh to scan it again.'
  );
}

/** A failed scan, as a sentence. */
export function errorText(error: IScanError, trans: TranslationBundle): string {
  if (error.code === 'timeout') {
    return trans.__(
      'The kernel did not answer the scan in time; it may be busy running a cell. Press Refresh to try again.'
    );
  }
  return trans.__('The scan failed: %1', error.message);
}

/** The one-line explanation of unattributed memory. */
export function unattributedText(trans: TranslationBundle): string {
  return trans.__(
    'Unattributed: memory no holder accounts for: the interpreter and libraries, native allocations outside Python objects, and memory freed but not returned to the OS.'
  );
}

/** A message for a state without a table: text plus an optional command. */
export interface IStateMessage {
  /** The sentence to show. */
  text: string;
  /** A command for the user to copy (the pip hint), shown as code. */
  code?: string;
}

/** What to say for each state; null when the table is shown. */
export function stateMessage(
  state: HoldersState,
  trans: TranslationBundle
): IStateMessage | null {
  switch (state.kind) {
    case 'results':
      return null;
    case 'no-notebook':
      return {
        text: trans.__("Open a notebook to see what holds its kernel's memory.")
      };
    case 'connecting':
      return {
        text: trans.__(
          'Connecting to the Memory Doctor helper in the kernel\u2026'
        )
      };
    case 'no-helper':
      return {
        text: trans.__(
          "The Memory Doctor helper is not installed in this kernel's environment. Run this in a cell, then restart the kernel:"
        ),
        code: state.hint
      };
    case 'unsupported':
      return {
        text:
          state.reason === 'language'
            ? trans.__(
                'Memory Doctor finds what holds memory in Python kernels only.'
              )
            : trans.__(
                'This kernel connection does not handle comms, so Memory Doctor cannot talk to it.'
              )
      };
    case 'dead':
      return {
        text: trans.__(
          'The kernel died, possibly out of memory. Restart it, then press Refresh.'
        )
      };
    case 'unavailable':
      return { text: trans.__('Memory Doctor: %1', state.message) };
    case 'empty':
      return { text: trans.__('Press Refresh to find what holds memory.') };
    case 'scanning':
      return { text: trans.__('Looking for what holds memory\u2026') };
    case 'error':
      return { text: errorText(state.error, trans) };
    case 'no-holders':
      return {
        text: trans.__(
          'Nothing holds measurable memory yet. Run some cells, then press Refresh.'
        )
      };
  }
}
