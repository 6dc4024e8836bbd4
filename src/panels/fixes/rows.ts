/**
 * The fixes as the holders table and the Suggestions summary offer them:
 * each holder's own suggestion (its row's button), the set "Apply all" runs
 * (one fix per distinct effect) and what it frees. Pure functions.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { formatBytes, Units } from '../../format';
import type {
  FixAction,
  IHolder,
  IResource,
  ISuggestion
} from '../../protocol';
import type { IRowFix } from '../holders/row';
import { suggestionPlace } from './items';
import { estimateText, suggestionTitle } from './text';

/** The word on a fix's button, e.g. `Delete`; a destructive one adds `…`. */
export function fixVerb(action: FixAction, trans: TranslationBundle): string {
  switch (action) {
    case 'delete_holder':
      return trans.__('Delete');
    case 'clear_traceback':
    case 'cache_clear':
    case 'clear_log_buffer':
      return trans.__('Clear');
    case 'copy_view':
      return trans.__('Copy');
    case 'clear_class_attribute':
    case 'reset_output_cache':
      return trans.__('Empty');
    case 'close_resource':
    case 'close_pool':
    case 'close_figures':
      return trans.__('Close');
    case 'terminate_process':
      return trans.__('Terminate');
    case 'cancel_task':
      return trans.__('Cancel');
    case 'gc_collect':
      return trans.__('Collect');
    case 'malloc_trim':
      return trans.__('Return');
  }
}

/** The button's text: the verb, with `…` when it asks first. */
export function fixButtonLabel(
  suggestion: ISuggestion,
  trans: TranslationBundle
): string {
  const verb = fixVerb(suggestion.action, trans);
  return suggestion.destructive ? trans.__('%1\u2026', verb) : verb;
}

/**
 * The suggestion each holder's row offers, by holder id: of the Suggestions
 * list's fixes for that holder, the one that frees most (a delete before a
 * copy of the same view).
 */
export function holderFixes(
  suggestions: readonly ISuggestion[],
  resources: readonly IResource[]
): Map<string, ISuggestion> {
  const best = new Map<string, ISuggestion>();
  for (const suggestion of suggestions) {
    const id = suggestion.holder_id;
    if (id === null || suggestionPlace(suggestion, resources) !== 'general') {
      continue;
    }
    const kept = best.get(id);
    if (
      !kept ||
      (suggestion.estimated_freed_bytes ?? -1) >
        (kept.estimated_freed_bytes ?? -1)
    ) {
      best.set(id, suggestion);
    }
  }
  return best;
}

/** What a row's fix button needs to know about the fix flow right now. */
export interface IFixState {
  /** The id of the suggestion being confirmed or applied, or null. */
  applying: string | null;
  /** Whether that fix waits for the running cell. */
  waiting: boolean;
  /** Why no fix can run now, or null. */
  blocked: string | null;
}

/** A row's fix: its button's word, name, tooltip and state. */
export function rowFix(
  suggestion: ISuggestion,
  resources: readonly IResource[],
  state: IFixState,
  units: Units,
  trans: TranslationBundle
): IRowFix {
  const title = suggestionTitle(suggestion, resources, trans);
  const estimate = estimateText(suggestion, units, trans);
  const what = estimate === null ? title : `${title} (${estimate})`;
  const applying = state.applying === suggestion.id;
  let tip = suggestion.destructive
    ? trans.__('%1. Asks first.', what)
    : trans.__('%1.', what);
  let label = fixButtonLabel(suggestion, trans);
  if (applying) {
    // Short words: the column is as wide as its widest button.
    label = state.waiting
      ? trans.__('Waiting\u2026')
      : trans.__('Applying\u2026');
    tip = state.waiting
      ? trans.__('The kernel applies this fix when the running cell ends.')
      : trans.__('Applying this fix in the kernel\u2026');
  } else if (state.blocked !== null) {
    tip = `${tip} ${state.blocked}`;
  }
  return {
    suggestion,
    label,
    name: trans.__('Apply: %1', title),
    tip,
    disabled: applying || state.blocked !== null,
    detail: trans.__('Suggested: %1', what)
  };
}

/**
 * The fixes "Apply all" runs, one per distinct effect: per holder the one
 * that frees most; a holder kept only by the output cache is left to
 * "Empty the output cache" when that is offered (it frees the same bytes and
 * more); the fixes for no holder as they are.
 */
export function applyAllSet(
  suggestions: readonly ISuggestion[],
  holders: readonly IHolder[],
  resources: readonly IResource[]
): ISuggestion[] {
  const best = holderFixes(suggestions, resources);
  const resets = suggestions.some(s => s.action === 'reset_output_cache');
  const byId = new Map(holders.map(h => [h.id, h]));
  return suggestions.filter(suggestion => {
    const id = suggestion.holder_id;
    if (id === null) {
      return true;
    }
    if (best.get(id) !== suggestion) {
      return false;
    }
    const roots = byId.get(id)?.roots ?? [];
    const cacheOnly =
      roots.length > 0 && roots.every(root => root.kind === 'output_cache');
    return !(resets && cacheOnly && suggestion.action === 'delete_holder');
  });
}

/** What a set of fixes frees in all, or null when none says. */
export function freedInAll(suggestions: readonly ISuggestion[]): number | null {
  let total: number | null = null;
  for (const suggestion of suggestions) {
    if (suggestion.estimated_freed_bytes !== null) {
      total = (total ?? 0) + suggestion.estimated_freed_bytes;
    }
  }
  return total;
}

/**
 * The Suggestions summary, e.g. `5 suggestions · frees about 560 MB`, or
 * `No suggestions` when there is none.
 */
export function summaryText(
  count: number,
  freed: number | null,
  units: Units,
  trans: TranslationBundle
): string {
  if (count === 0) {
    return trans.__('No suggestions');
  }
  const head = trans._n('%1 suggestion', '%1 suggestions', count);
  return freed === null || freed <= 0
    ? head
    : trans.__('%1 \u00b7 frees about %2', head, formatBytes(freed, units));
}
