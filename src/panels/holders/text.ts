/**
 * The words of the holders panel: pure functions from data to translated
 * plain text (the view puts it into the DOM with `textContent` only).
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { formatBytes, formatCount, formatDuration, Units } from '../../format';
import type {
  HolderKind,
  IHolder,
  IScanProgressMessage,
  ScanPhase,
  ScanStopped
} from '../../protocol';
import { nameList } from '../shared/text';
import type { HoldersState, IRunningScan, IScanError } from './model';

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
  }
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
