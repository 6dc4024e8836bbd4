/**
 * Suggestions: their words, their DOM (text only: targets, reasons and code
 * come from user data) with Apply / Insert as cell buttons, the outcome line
 * ("Freed 1.2 GB (estimated 1.2 GB)"), and the Suggestions section.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { formatBytes, Units } from '../../format';
import type { IResource, ISuggestion } from '../../protocol';
import type { ISettingsSource } from '../../settings';
import { el, nextId } from './dom';
import type { FixController, FixOutcome } from './fix';
import { nameList } from './text';

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

/** When a measurement reads this far under the estimate, say why. */
const SHORT_FRACTION = 0.5;

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

/** The short names of a suggestion's targets (resource ids → labels). */
export function targetNames(
  suggestion: ISuggestion,
  resources: readonly IResource[]
): string[] {
  const byId = new Map(resources.map(r => [r.id, r.label]));
  return suggestion.targets.map(target => byId.get(target) ?? target);
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
      return trans.__('Clear the cache of %1', names);
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
 * The lines describing an outcome: what was done, what was measured against
 * the estimate, and why they differ when they do.
 */
export function outcomeLines(
  outcome: FixOutcome,
  resources: readonly IResource[],
  units: Units,
  trans: TranslationBundle
): string[] {
  const title = suggestionTitle(outcome.suggestion, resources, trans);
  switch (outcome.kind) {
    case 'applied': {
      const result = outcome.result;
      const measured = formatBytes(result.measured_freed_bytes, units);
      const estimate = result.estimated_freed_bytes;
      const trim = result.action === 'malloc_trim';
      const freed =
        estimate === null
          ? trim
            ? trans.__('malloc_trim(0) returned %1 to the OS', measured)
            : trans.__('Freed %1', measured)
          : trim
            ? trans.__(
                'malloc_trim(0) returned %1 to the OS (estimated %2)',
                measured,
                formatBytes(estimate, units)
              )
            : trans.__(
                'Freed %1 (estimated %2)',
                measured,
                formatBytes(estimate, units)
              );
      const lines = [title, freed];
      if (result.explanation) {
        lines.push(result.explanation);
      } else if (
        estimate !== null &&
        estimate > 0 &&
        result.measured_freed_bytes < estimate * SHORT_FRACTION
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
  let label = suggestion.destructive
    ? trans.__('Apply\u2026')
    : trans.__('Apply');
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

/**
 * The outcome of the last fix and the Suggestions list: fixes for holders
 * and whole-session fixes (resource and finding fixes are shown with their
 * resource or finding).
 */
export class SuggestionsSection extends Widget {
  constructor(options: SuggestionsSection.IOptions) {
    super();
    this._controller = options.controller;
    this._settings = options.settings;
    this._trans = options.trans;
    this.addClass(FixClasses.section);
    this.addClass('jp-MemoryDoctor-suggestions');
    this.node.appendChild(this._outcome);
    this.node.appendChild(this._body);
    this._list.id = `jp-MemoryDoctor-suggestions-list-${nextId()}`;
    this.node.addEventListener('click', this);
    this._controller.changed.connect(this.render, this);
    this._settings.changed.connect(this.render, this);
    this.render();
  }

  /** Handle clicks on the buttons. */
  handleEvent(event: Event): void {
    if (event.type !== 'click') {
      return;
    }
    const toggle = (event.target as Element | null)?.closest<HTMLElement>(
      '[data-action="toggle"]'
    );
    if (toggle) {
      this._expanded = !this._expanded;
      this.render();
      return;
    }
    handleFixClick(event, this._controller);
  }

  /** Redraw from the controller's model. */
  render(): void {
    keepingFocus(this.node, () => this._render());
  }

  private _render(): void {
    const controller = this._controller;
    const trans = this._trans;
    const units = this._settings.current.units;
    const result = controller.model.result;
    const resources = result?.resources ?? [];

    this._outcome.textContent = '';
    const outcome = controller.outcome;
    if (outcome) {
      this._outcome.appendChild(
        createOutcome(outcome, resources, units, trans)
      );
    }

    this._body.textContent = '';
    const suggestions = result?.suggestions;
    // A 1.1 helper suggests nothing: say nothing rather than "no fixes".
    this._body.hidden = suggestions === undefined;
    if (suggestions === undefined) {
      return;
    }
    const general = sortSuggestions(
      suggestions.filter(s => suggestionPlace(s, resources) === 'general')
    );
    this._body.appendChild(
      createHeading(
        trans.__('Suggestions'),
        general.length,
        this._expanded,
        this._list.id
      )
    );
    const list = this._list;
    list.className = FixClasses.list;
    list.setAttribute('role', 'list');
    list.setAttribute('aria-label', trans.__('Suggestions'));
    list.textContent = '';
    list.hidden = !this._expanded;
    if (general.length === 0) {
      list.appendChild(
        el(
          'div',
          FixClasses.empty,
          trans.__(
            'No fix to suggest for the holders: nothing large is kept alive by a hidden copy, a traceback or a cache.'
          )
        )
      );
    }
    const applying = controller.applying;
    const blocked = controller.blocked;
    for (const suggestion of general) {
      list.appendChild(
        createSuggestion({
          suggestion,
          resources,
          applying: applying === suggestion.id,
          waiting: controller.waiting,
          blocked,
          units,
          trans
        })
      );
    }
    this._body.appendChild(list);
  }

  /** Stop listening. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.node.removeEventListener('click', this);
    this._controller.changed.disconnect(this.render, this);
    this._settings.changed.disconnect(this.render, this);
    super.dispose();
  }

  private _controller: FixController;
  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _outcome = document.createElement('div');
  private _body = document.createElement('div');
  private _list = document.createElement('div');
  private _expanded = true;
}

/** The namespace for `SuggestionsSection` options. */
export namespace SuggestionsSection {
  /** Options for a `SuggestionsSection`. */
  export interface IOptions {
    /** Applies fixes and keeps their outcomes. */
    controller: FixController;
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
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
