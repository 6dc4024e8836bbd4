/**
 * The "On the cluster" section's words: a holder's names and advice, a
 * worker's headroom, a scheduler's status and a release's outcome ("Freed
 * 3.2 GB on 4 workers (estimated 3.2 GB)"). Pure functions returning plain
 * text (shown with textContent); every user string goes through `trans`.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { formatBytes, Units } from '../../format';
import type {
  ClusterStatus,
  IClusterHolder,
  IClusterSection,
  IClusterWorker,
  IReleaseClusterResult
} from '../../protocol';
import type { ReleaseOutcome } from './model';

/** Options shared by the builders. */
export interface ITextOptions {
  /** Byte units. */
  units: Units;
  /** Translation bundle. */
  trans: TranslationBundle;
}

/** A holder's names (`df · Out[4] · _4 · _`), or what holds the unnamed keys. */
export function holderNames(
  holder: IClusterHolder,
  trans: TranslationBundle
): string {
  return holder.labels.length > 0
    ? holder.labels.join(' \u00b7 ')
    : trans.__('(futures no name reaches)');
}

/** What to do about a holder: one sentence per suggestion. */
export function holderAdvice(
  holder: IClusterHolder,
  trans: TranslationBundle
): string {
  switch (holder.suggestion) {
    case 'release':
      return trans.__(
        'Delete the names when you are done with it (Release does), or persist less.'
      );
    case 'output_cache':
      return trans.__(
        "Only IPython's output cache holds it: Release deletes those entries; end such lines with ';' or run %reset -f out."
      );
    case 'redefine':
      return trans.__(
        'A closure, default argument or class attribute holds it: redefine or delete its owner.'
      );
    case 'unattributed':
      return holder.note ?? trans.__('No scanned name reaches these futures.');
  }
  return '';
}

/** A holder's size (`40.0 MB`, `2 keys still computing`, or `—`). */
export function holderSize(
  holder: IClusterHolder,
  options: ITextOptions
): string {
  const { units, trans } = options;
  if (holder.bytes === null) {
    return '\u2014';
  }
  const size = formatBytes(holder.bytes, units);
  return holder.pending_keys
    ? trans.__('%1 (+%2 keys still computing)', size, holder.pending_keys)
    : size;
}

/** Which workers hold a holder's keys: `0: 24.0 MB, 1: 16.0 MB`. */
export function holderWorkers(holder: IClusterHolder, units: Units): string {
  return holder.workers
    .map(w => `${w.name}: ${formatBytes(w.bytes, units)}`)
    .join(', ');
}

/** A worker's headroom against its limit, or null without a limit. */
export function headroom(worker: IClusterWorker): number | null {
  return worker.memory_limit === null
    ? null
    : worker.memory_limit - worker.memory;
}

/** A worker's headroom as text: `312 MB free of 400 MB`, or `no limit`. */
export function headroomText(
  worker: IClusterWorker,
  options: ITextOptions
): string {
  const { units, trans } = options;
  const free = headroom(worker);
  if (free === null || worker.memory_limit === null) {
    return trans.__('no limit');
  }
  return free < 0
    ? trans.__(
        '%1 over its %2 limit',
        formatBytes(-free, units),
        formatBytes(worker.memory_limit, units)
      )
    : trans.__(
        '%1 free of %2',
        formatBytes(free, units),
        formatBytes(worker.memory_limit, units)
      );
}

/** Why a scheduler was not measured, as a sentence (its own error appended). */
export function statusText(
  section: Pick<IClusterSection, 'status' | 'error' | 'scheduler'>,
  trans: TranslationBundle
): string {
  const why: Record<ClusterStatus, string> = {
    ok: '',
    timeout: trans.__('The scheduler %1 did not answer in time.'),
    overdue: trans.__("The Dask client's event loop for %1 is not answering."),
    busy: trans.__('Too many queries to %1 are still waiting.'),
    unavailable: trans.__('The Dask client for %1 cannot be asked.'),
    error: trans.__('Asking the scheduler %1 failed.')
  };
  const head = why[section.status]?.replace('%1', section.scheduler) ?? '';
  return section.error ? `${head} ${section.error}`.trim() : head;
}

/** "Freed 3.2 GB on 4 workers (estimated 3.2 GB)", or what stopped it. */
export function releaseText(
  result: IReleaseClusterResult,
  options: ITextOptions
): string {
  const { units, trans } = options;
  if (result.freed_bytes === null) {
    return trans.__(
      'Deleted %1; what the workers freed could not be measured: %2',
      result.deleted.join(', '),
      result.error ?? result.status
    );
  }
  const lines = [
    trans._n(
      'Freed %2 on %1 worker (estimated %3)',
      'Freed %2 on %1 workers (estimated %3)',
      result.freed_on_workers,
      formatBytes(result.freed_bytes, units),
      formatBytes(result.estimate_bytes, units)
    )
  ];
  if (result.still_held_keys) {
    lines.push(
      trans._n(
        '%1 key is still held by something else (another name, another client); nothing was cancelled.',
        '%1 keys are still held by something else (another name, another client); nothing was cancelled.',
        result.still_held_keys
      )
    );
  }
  if (result.missing.length > 0) {
    lines.push(
      trans.__(
        'Changed since the scan, not released: %1.',
        result.missing.map(m => m.join(' \u00b7 ')).join('; ')
      )
    );
  }
  return lines.join(' ');
}

/** A release's outcome line. */
export function outcomeText(
  outcome: ReleaseOutcome,
  options: ITextOptions
): string {
  return outcome.kind === 'released'
    ? releaseText(outcome.result, options)
    : options.trans.__(
        'Nothing was released (%1): %2',
        outcome.labels.join(' \u00b7 '),
        outcome.message
      );
}

/** The question asked before a release. */
export function confirmText(
  holder: IClusterHolder,
  options: ITextOptions
): string {
  const { units, trans } = options;
  return trans.__(
    'Delete %1 from the kernel? The cluster then drops the keys no other name holds (%2 on the workers). Nothing is cancelled.',
    holder.labels.join(', '),
    formatBytes(holder.worker_bytes ?? holder.bytes ?? 0, units)
  );
}
