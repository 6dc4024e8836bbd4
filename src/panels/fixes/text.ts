/**
 * The words of the fix UI: what a suggestion does, what it may free, and
 * what became of it. Pure functions to translated plain text.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { formatBytes, Units } from '../../format';
import type { IFixResult, IResource, ISuggestion } from '../../protocol';
import { nameList } from '../shared/text';
import type { FixOutcome } from './model';

/** When a measurement reads this far under the estimate, say why. */
const SHORT_FRACTION = 0.5;

/**
 * The names of each suggestion's targets as its own scan's resources gave
 * them. A fix's outcome is shown after the rescan it triggers, whose resources
 * no longer list what the fix closed: the label comes from here instead of the
 * internal id (`Close fh`, not `Close r1`).
 */
const namesSeen = new WeakMap<ISuggestion, string[]>();

/** The short names of a suggestion's targets (resource ids → labels). */
export function targetNames(
  suggestion: ISuggestion,
  resources: readonly IResource[]
): string[] {
  const byId = new Map(resources.map(r => [r.id, r.label]));
  const seen = namesSeen.get(suggestion);
  const names = suggestion.targets.map(
    (target, i) => byId.get(target) ?? seen?.[i] ?? target
  );
  if (suggestion.targets.every(target => byId.has(target))) {
    namesSeen.set(suggestion, names);
  }
  return names;
}

/** What a suggestion does, in a few words, e.g. `Delete big, Out[3], _3`. */
export function suggestionTitle(
  suggestion: ISuggestion,
  resources: readonly IResource[],
  trans: TranslationBundle
): string {
  const names = nameList(targetNames(suggestion, resources), trans);
  switch (suggestion.action) {
    case 'delete_holder':
      return trans.__('Delete %1', names);
    case 'clear_traceback':
      return trans.__('Clear the last exception');
    case 'copy_view':
      return trans.__('Replace the view %1 with a copy', names);
    case 'cache_clear':
      return trans.__("Clear %1's cache", names);
    case 'clear_class_attribute':
      return trans.__('Empty %1', names);
    case 'close_resource':
    case 'close_pool':
      return trans.__('Close %1', names);
    case 'terminate_process':
      return trans.__('Terminate %1', names);
    case 'close_figures':
      return suggestion.targets.length > 0
        ? trans.__('Close %1', names)
        : trans.__('Close all pyplot figures');
    case 'cancel_task':
      return trans.__('Cancel %1', names);
    case 'reset_output_cache':
      return trans.__('Empty the output cache');
    case 'gc_collect':
      return trans.__('Collect the cyclic garbage now');
    case 'malloc_trim':
      return trans.__('Return freed memory to the OS (malloc_trim)');
    case 'clear_log_buffer':
      return trans.__('Clear the log buffer of %1', names);
  }
}

/** The estimate, e.g. `frees about 1.2 GB`, or null when unknown. */
export function estimateText(
  suggestion: ISuggestion,
  units: Units,
  trans: TranslationBundle
): string | null {
  const bytes = suggestion.estimated_freed_bytes;
  return bytes === null
    ? null
    : trans.__('frees about %1', formatBytes(bytes, units));
}

/**
 * What an applied fix did, e.g. `Freed 320 MB (estimated 320 MB) · returned to
 * the OS 318 MB`: what the allocators freed inside the kernel, then what RSS
 * dropped (the helper returns to the OS what the allocator would keep). A
 * 1.2 helper reports the RSS drop alone. `malloc_trim` frees nothing: it
 * only returns.
 */
export function appliedText(
  result: IFixResult,
  units: Units,
  trans: TranslationBundle
): string {
  const estimate = result.estimated_freed_bytes;
  const returned = formatBytes(
    result.returned_to_os_bytes ?? result.measured_freed_bytes,
    units
  );
  const freed = result.freed_in_process_bytes;
  if (result.action === 'malloc_trim') {
    return estimate === null
      ? trans.__('Returned %1 to the OS', returned)
      : trans.__(
          'Returned %1 to the OS (estimated %2)',
          returned,
          formatBytes(estimate, units)
        );
  }
  if (freed === undefined || freed === null) {
    return estimate === null
      ? trans.__('Freed %1', returned)
      : trans.__(
          'Freed %1 (estimated %2)',
          returned,
          formatBytes(estimate, units)
        );
  }
  const inProcess = formatBytes(freed, units);
  return estimate === null
    ? trans.__('Freed %1 \u00b7 returned to the OS %2', inProcess, returned)
    : trans.__(
        'Freed %1 (estimated %2) \u00b7 returned to the OS %3',
        inProcess,
        formatBytes(estimate, units),
        returned
      );
}

/**
 * The lines describing an outcome: what was done, what was measured against
 * the estimate, and why they differ when they do.
 */
export function outcomeLines(
  outcome: FixOutcome,
  resources: readonly IResource[],
  units: Units,
  trans: TranslationBundle
): string[] {
  if (outcome.kind === 'batch') {
    return batchLines(outcome.outcomes, resources, units, trans);
  }
  const title = suggestionTitle(outcome.suggestion, resources, trans);
  switch (outcome.kind) {
    case 'applied': {
      const lines = [title, appliedText(outcome.result, units, trans)];
      const result = outcome.result;
      const estimate = result.estimated_freed_bytes;
      const freed =
        result.freed_in_process_bytes ?? result.measured_freed_bytes;
      if (result.explanation) {
        lines.push(result.explanation);
      } else if (
        estimate !== null &&
        estimate > 0 &&
        freed < estimate * SHORT_FRACTION
      ) {
        lines.push(
          trans.__(
            'Less came back than estimated: other references may still hold the objects, or the allocator kept the freed memory (see Allocator gap).'
          )
        );
      }
      lines.push(
        trans.__(
          'Kernel RSS %1 \u2192 %2',
          formatBytes(result.rss_before, units),
          formatBytes(result.rss_after, units)
        )
      );
      return lines;
    }
    case 'refused':
      return [
        title,
        trans.__('Not applied: %1', outcome.message),
        trans.__('Rescan to get suggestions for the kernel as it is now.')
      ];
    case 'failed':
      if (outcome.code === 'timeout') {
        return [
          title,
          trans.__(
            'The kernel did not answer in time; it may be busy running a cell. The fix runs when the cell ends: rescan later to see its effect.'
          )
        ];
      }
      if (outcome.code === 'closed' || outcome.code === 'not_connected') {
        return [
          title,
          trans.__(
            'The kernel connection went away before the fix was confirmed: %1',
            outcome.message
          )
        ];
      }
      return [title, trans.__('The fix failed: %1', outcome.message)];
    case 'inserted':
      return [
        title,
        trans.__(
          'Inserted as a new cell below the active cell. It has not been run.'
        )
      ];
    case 'no-notebook':
      return [title, trans.__('Open the notebook to insert the code into.')];
  }
}

/**
 * The lines of "Apply all": how many fixes ran and what they freed in all,
 * then one line per fix (its title and what became of it), then the RSS
 * across them.
 */
export function batchLines(
  outcomes: readonly FixOutcome[],
  resources: readonly IResource[],
  units: Units,
  trans: TranslationBundle
): string[] {
  const applied = outcomes.filter(
    (o): o is Extract<FixOutcome, { kind: 'applied' }> => o.kind === 'applied'
  );
  const lines = [
    trans._n(
      'Applied %2 of %1 fix',
      'Applied %2 of %1 fixes',
      outcomes.length,
      applied.length
    )
  ];
  if (applied.length > 0) {
    const sum = (read: (r: IFixResult) => number | null | undefined) =>
      applied.reduce((total, o) => total + (read(o.result) ?? 0), 0);
    const freed = sum(r => r.freed_in_process_bytes ?? r.measured_freed_bytes);
    const returned = sum(r => r.returned_to_os_bytes ?? r.measured_freed_bytes);
    lines.push(
      trans.__(
        'Freed %1 in all \u00b7 returned to the OS %2',
        formatBytes(freed, units),
        formatBytes(returned, units)
      )
    );
  }
  for (const outcome of outcomes) {
    if (outcome.kind === 'batch') {
      continue;
    }
    const [title, result] = outcomeLines(outcome, resources, units, trans);
    lines.push(result === undefined ? title : `${title}: ${result}`);
  }
  if (applied.length > 0) {
    lines.push(
      trans.__(
        'Kernel RSS %1 \u2192 %2',
        formatBytes(applied[0].result.rss_before, units),
        formatBytes(applied[applied.length - 1].result.rss_after, units)
      )
    );
  }
  return lines;
}
