/**
 * The DOM of the fix UI, shared by the Suggestions and Resources sections:
 * a suggestion with its Apply / Insert as cell buttons, the outcome box, a
 * folding heading, and the handling of their clicks. Text only: targets,
 * reasons and code come from user data.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import type { Units } from '../../format';
import type { IResource, ISuggestion } from '../../protocol';
import { el } from '../shared/dom';
import type { FixController } from './controller';
import type { FixOutcome } from './model';
import { fixButtonLabel } from './rows';
import { estimateText, outcomeLines, suggestionTitle } from './text';

/** CSS classes of the fix UI. */
export namespace FixClasses {
  export const section = 'jp-MemoryDoctor-fixSection';
  export const heading = 'jp-MemoryDoctor-fixHeading';
  export const toggle = 'jp-MemoryDoctor-fixToggle';
  export const list = 'jp-MemoryDoctor-fixList';
  export const empty = 'jp-MemoryDoctor-fixEmpty';
  export const suggestion = 'jp-MemoryDoctor-suggestion';
  export const title = 'jp-MemoryDoctor-suggestionTitle';
  export const estimate = 'jp-MemoryDoctor-suggestionEstimate';
  export const reason = 'jp-MemoryDoctor-suggestionReason';
  export const code = 'jp-MemoryDoctor-suggestionCode';
  export const actions = 'jp-MemoryDoctor-suggestionActions';
  export const button = 'jp-MemoryDoctor-fixButton';
  export const outcome = 'jp-MemoryDoctor-fixOutcome';
  export const outcomeLine = 'jp-MemoryDoctor-fixOutcomeLine';
}

/** Where a suggestion is shown: with its resource, its finding, or alone. */
export type SuggestionPlace = 'resource' | 'finding' | 'general';

/**
 * Where a suggestion belongs: with the resource it closes, with the finding
 * it addresses (gc_collect: cyclic garbage; malloc_trim: the allocator gap),
 * or in the Suggestions list (holders and the rest).
 */
export function suggestionPlace(
  suggestion: ISuggestion,
  resources: readonly IResource[]
): SuggestionPlace {
  if (
    suggestion.resource_id !== null &&
    resources.some(r => r.id === suggestion.resource_id)
  ) {
    return 'resource';
  }
  if (
    suggestion.action === 'gc_collect' ||
    suggestion.action === 'malloc_trim'
  ) {
    return 'finding';
  }
  return 'general';
}

/** Suggestions by estimated bytes freed, largest first; unknown last. */
export function sortSuggestions(
  suggestions: readonly ISuggestion[]
): ISuggestion[] {
  const size = (s: ISuggestion) => s.estimated_freed_bytes ?? -1;
  // Array.prototype.sort is stable, so equal estimates keep the helper's order.
  return [...suggestions].sort((a, b) => size(b) - size(a));
}

/** Options for `createSuggestion`. */
export interface ISuggestionOptions {
  /** The suggestion. */
  suggestion: ISuggestion;
  /** The scan's resources (to name resource targets). */
  resources: readonly IResource[];
  /** Whether this suggestion is being confirmed or applied. */
  applying: boolean;
  /** Whether it was sent and waits for the running cell to end. */
  waiting?: boolean;
  /** Why Apply cannot run now, or null. */
  blocked: string | null;
  /** Byte units. */
  units: Units;
  /** Translation bundle. */
  trans: TranslationBundle;
}

/**
 * Build one suggestion: title, estimate, reason, the equivalent code and
 * the two buttons. Clicks are left to the section, which reads
 * `data-action` and `data-suggestion-id` (see `handleFixClick`).
 */
export function createSuggestion(options: ISuggestionOptions): HTMLElement {
  const { suggestion, resources, applying, blocked, units, trans } = options;
  const waiting = applying && options.waiting === true;
  const item = el('div', FixClasses.suggestion);
  item.setAttribute('role', 'listitem');
  item.dataset.suggestionId = suggestion.id;
  const title = suggestionTitle(suggestion, resources, trans);

  const head = el('div', 'jp-MemoryDoctor-suggestionHead');
  const titleNode = el('span', FixClasses.title, title);
  titleNode.title = title;
  head.appendChild(titleNode);
  const estimate = estimateText(suggestion, units, trans);
  if (estimate !== null) {
    head.appendChild(el('span', FixClasses.estimate, estimate));
  }
  item.appendChild(head);
  if (suggestion.reason) {
    item.appendChild(el('div', FixClasses.reason, suggestion.reason));
  }
  if (suggestion.code) {
    const code = el('pre', FixClasses.code, suggestion.code);
    code.setAttribute('aria-label', trans.__('Equivalent code'));
    item.appendChild(code);
  }

  const actions = el('div', FixClasses.actions);
  // The verb says what the button does (`Delete…`, `Collect`); `…` asks first.
  let label = fixButtonLabel(suggestion, trans);
  let tip = suggestion.destructive
    ? trans.__('Apply this fix in the kernel (asks first)')
    : trans.__('Apply this fix in the kernel');
  if (waiting) {
    label = trans.__('Waiting for the running cell\u2026');
    tip = trans.__('The kernel applies this fix when the running cell ends.');
  } else if (applying) {
    label = trans.__('Applying\u2026');
  }
  const apply = Private.button(label, 'apply', suggestion.id);
  apply.classList.add('jp-mod-apply');
  apply.setAttribute('aria-label', trans.__('Apply: %1', title));
  apply.disabled = applying || blocked !== null;
  apply.title = waiting ? tip : (blocked ?? tip);
  actions.appendChild(apply);
  if (suggestion.code) {
    const insert = Private.button(
      trans.__('Insert as cell'),
      'insert',
      suggestion.id
    );
    insert.setAttribute('aria-label', trans.__('Insert as cell: %1', title));
    insert.title = trans.__(
      'Insert this code as a new cell below the active cell, without running it'
    );
    actions.appendChild(insert);
  }
  item.appendChild(actions);
  return item;
}

/** Build the outcome box, with Rescan (after a refusal) and Dismiss. */
export function createOutcome(
  outcome: FixOutcome,
  resources: readonly IResource[],
  units: Units,
  trans: TranslationBundle
): HTMLElement {
  const box = el('div', FixClasses.outcome);
  box.classList.add(`jp-mod-${outcome.kind}`);
  box.setAttribute('role', 'status');
  const lines = outcomeLines(outcome, resources, units, trans);
  lines.forEach((line, index) => {
    const node = el('div', FixClasses.outcomeLine, line);
    if (index === 0) {
      node.classList.add('jp-mod-title');
    } else if (index === 1) {
      node.classList.add('jp-mod-result');
    }
    box.appendChild(node);
  });
  const actions = el('div', FixClasses.actions);
  if (outcome.kind === 'refused' || outcome.kind === 'failed') {
    actions.appendChild(Private.button(trans.__('Rescan'), 'rescan'));
  }
  actions.appendChild(Private.button(trans.__('Dismiss'), 'dismiss'));
  box.appendChild(actions);
  return box;
}

/**
 * A section heading that folds its section, e.g. `Suggestions (3)`.
 * `data-action="toggle"` is handled by the section.
 */
export function createHeading(
  label: string,
  count: number | null,
  expanded: boolean,
  controls: string
): HTMLElement {
  const heading = el('h3', FixClasses.heading);
  const toggle = el(
    'button',
    FixClasses.toggle,
    count === null ? label : `${label} (${count})`
  );
  toggle.type = 'button';
  toggle.dataset.action = 'toggle';
  toggle.setAttribute('aria-expanded', String(expanded));
  toggle.setAttribute('aria-controls', controls);
  heading.appendChild(toggle);
  return heading;
}

/**
 * Run `render`, which rebuilds the buttons inside `node`, and give focus
 * back to the rebuilt twin of the control that had it (same action and
 * suggestion), so keyboard users stay where they were.
 */
export function keepingFocus(node: HTMLElement, render: () => void): void {
  const active = document.activeElement as HTMLElement | null;
  const had =
    active && node.contains(active) && active.dataset.action
      ? {
          action: active.dataset.action,
          id: active.dataset.suggestionId,
          controls: active.getAttribute('aria-controls')
        }
      : null;
  render();
  if (!had) {
    return;
  }
  const twin = Array.from(
    node.querySelectorAll<HTMLElement>('[data-action]')
  ).find(
    candidate =>
      candidate.dataset.action === had.action &&
      candidate.dataset.suggestionId === had.id &&
      candidate.getAttribute('aria-controls') === had.controls
  );
  twin?.focus();
}

/**
 * Handle a click inside a fix section: Apply, Insert as cell, Rescan or
 * Dismiss. Returns whether the click was one of them.
 */
export function handleFixClick(
  event: Event,
  controller: FixController
): boolean {
  const target = (event.target as Element | null)?.closest<HTMLElement>(
    '[data-action]'
  );
  const action = target?.dataset.action;
  const id = target?.dataset.suggestionId;
  const suggestion =
    id === undefined
      ? undefined
      : controller.model.result?.suggestions?.find(s => s.id === id);
  switch (action) {
    case 'apply':
      if (suggestion) {
        void controller.apply(suggestion);
      }
      return true;
    case 'insert':
      if (suggestion) {
        controller.insert(suggestion);
      }
      return true;
    case 'rescan':
      void controller.rescan();
      return true;
    case 'dismiss':
      controller.dismiss();
      return true;
    default:
      return false;
  }
}

namespace Private {
  /** A button with a `data-action` (and the suggestion it acts on). */
  export function button(
    label: string,
    action: string,
    suggestionId?: string
  ): HTMLButtonElement {
    const node = el('button', FixClasses.button, label);
    node.type = 'button';
    node.dataset.action = action;
    if (suggestionId !== undefined) {
      node.dataset.suggestionId = suggestionId;
    }
    return node;
  }
}
