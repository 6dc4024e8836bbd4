/**
 * The words of a magic's output in JupyterLab and Notebook 7: pure
 * functions to translated plain text. They say what the kernel's own HTML
 * and text renderers say (`python/memory_doctor/kernel/words.py`), with the
 * panel's figures and phrases where those exist.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { formatBytes, formatDuration, SEPARATOR, Units } from '../format';
import { limitSentence } from '../headroom';
import type { IScanResult } from '../protocol';
import type { IMeasurement, IOutputKernel, MemoryOutput } from './data';

/** `Kernel RSS 1.4 GB. Limit: 8.0 GB, …; 18% used.` */
export function kernelLine(
  kernel: IOutputKernel,
  units: Units,
  trans: TranslationBundle
): string {
  const rss = trans.__('Kernel RSS %1.', formatBytes(kernel.rss, units));
  const limit = limitSentence(kernel.rss, kernel.memory_limit, units, trans);
  return limit ? `${rss} ${limit}` : rss;
}

/** The heading of an output. */
export function outputTitle(
  output: MemoryOutput,
  units: Units,
  trans: TranslationBundle
): string {
  switch (output.view) {
    case 'summary':
      return trans.__('Memory Doctor');
    case 'holders':
      return trans.__("What's holding memory");
    case 'resources':
      return trans.__(
        'Open resources (%1)',
        output.scan.resources?.length ?? 0
      );
    case 'cells':
      return trans._n(
        'Memory by cell (%1 measured run)',
        'Memory by cell (%1 measured runs)',
        output.runs
      );
    case 'fix':
      return output.result
        ? trans.__('Applied %1', output.suggestion.id)
        : output.error
          ? trans.__('Not applied %1', output.suggestion.id)
          : trans.__('Suggestion %1', output.suggestion.id);
    case 'cell':
      return trans.__(
        '%%memory: %1',
        measurementLine(output.measurement, units, trans)
      );
    case 'badge':
    case 'notice':
      return '';
  }
}

/** `left +412 MB · peak +1.2 GB (exact) · 4.10 s`. */
export function measurementLine(
  m: IMeasurement,
  units: Units,
  trans: TranslationBundle
): string {
  const signed = (n: number) => formatBytes(n, units, { signed: true });
  return [
    trans.__('left %1', signed(m.rss_delta)),
    trans.__(
      'peak %1 (%2)',
      signed(m.peak_increase),
      peakNote(m.peak_method, m.peak_exact, trans)
    ),
    formatDuration(m.duration_s)
  ].join(SEPARATOR);
}

/** How a peak was measured, in a few words. */
export function peakNote(
  method: string,
  exact: boolean,
  trans: TranslationBundle
): string {
  if (method === 'vmhwm' && exact) {
    return trans.__('exact');
  }
  return method === 'ru_maxrss'
    ? trans.__('a lower bound (getrusage)')
    : trans.__('larger of before and after');
}

/** `Showing 5 of 37 holders, largest first.` (with the filter when there is one). */
export function shownText(
  shown: number,
  total: number,
  matched: number,
  filter: string | null,
  trans: TranslationBundle
): string {
  return filter
    ? trans.__(
        '%1 of %2 holders match "%3"; showing %4, largest first.',
        matched,
        total,
        filter,
        shown
      )
    : trans.__('Showing %1 of %2 holders, largest first.', shown, total);
}

/**
 * Why a scan is partial and how to get a complete one, or null for a
 * complete scan. `again` is the magic to run, e.g. `%memory holders`.
 */
export function scanNote(
  scan: IScanResult,
  budgetS: number,
  again: string,
  trans: TranslationBundle
): string | null {
  if (scan.scan.complete) {
    return null;
  }
  const budget = Math.max(30, Math.round(budgetS * 4));
  const after = formatDuration(scan.scan.duration_s);
  const command = `${again} --budget ${budget}`;
  switch (scan.scan.stopped) {
    case 'cancelled':
      return trans.__(
        'This scan is partial (it was interrupted after %1): sizes are lower bounds and some holders may be missing. For a complete one run %2.',
        after,
        command
      );
    case 'cell_ran':
      return trans.__(
        'This scan is partial (a cell started after %1): sizes are lower bounds and some holders may be missing. For a complete one run %2.',
        after,
        command
      );
    default:
      return trans.__(
        'This scan is partial (it reached its time budget after %1): sizes are lower bounds and some holders may be missing. For a complete one run %2.',
        after,
        command
      );
  }
}

/** How much of the RSS the holders account for, and what the rest is. */
export function attributionText(
  scan: IScanResult,
  units: Units,
  trans: TranslationBundle
): string {
  return trans.__(
    "Holders account for %1 of the kernel's %2 RSS; the other %3 is the interpreter and libraries, native allocations outside Python objects, and memory freed but not returned to the OS.",
    formatBytes(scan.attributed_bytes, units),
    formatBytes(scan.rss, units),
    formatBytes(scan.unattributed_bytes, units)
  );
}

/** Why an output's fixes cannot be applied from here, or null when they can. */
export function offlineText(
  reason: 'other-kernel' | 'no-notebook',
  trans: TranslationBundle
): string {
  return reason === 'other-kernel'
    ? trans.__(
        'This output comes from an earlier kernel; its suggestions no longer apply. Run the magic again to see the kernel as it is now.'
      )
    : trans.__(
        'Open this output in its notebook, with its kernel running, to apply a suggestion.'
      );
}
