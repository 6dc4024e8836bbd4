/**
 * The Suggestions section: the outcome of the last fix, then the fixes for
 * holders and for the whole session (resource and finding fixes are shown
 * with their resource or finding).
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { ISuggestion } from '../../protocol';
import type { ISettingsSource } from '../../settings';
import { el, nextId } from '../shared/dom';
import type { FixController } from './controller';
import {
  createHeading,
  createOutcome,
  createSuggestion,
  FixClasses,
  handleFixClick,
  keepingFocus,
  sortSuggestions,
  suggestionPlace
} from './items';
import { applyAllSet, freedInAll, summaryText } from './rows';

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
    this._summary = options.summary === true;
    this._expanded = !this._summary;
    this.addClass(FixClasses.section);
    this.addClass('jp-MemoryDoctor-suggestions');
    this.toggleClass('jp-mod-summary', this._summary);
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
    const all = (event.target as Element | null)?.closest<HTMLElement>(
      '[data-action="apply-all"]'
    );
    if (all) {
      void this._controller.applyAll(this._applyAll);
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
    const applying = controller.applying;
    const blocked = controller.blocked;
    if (this._summary) {
      this._applyAll = applyAllSet(general, result?.holders ?? [], resources);
      this._body.appendChild(
        this._createSummary(
          general.length,
          blocked !== null || applying !== null
        )
      );
    } else {
      this._body.appendChild(
        createHeading(
          trans.__('Suggestions'),
          general.length,
          this._expanded,
          this._list.id
        )
      );
    }
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

  /**
   * The one-line summary: a toggle that says how many suggestions there are
   * and what they free in all, and "Apply all…".
   */
  private _createSummary(count: number, busy: boolean): HTMLElement {
    const trans = this._trans;
    const units = this._settings.current.units;
    const set = this._applyAll;
    const row = el('div', 'jp-MemoryDoctor-suggestionsSummary');
    const heading = el('h3', FixClasses.heading);
    const toggle = el(
      'button',
      FixClasses.toggle,
      summaryText(count, freedInAll(set), units, trans)
    );
    toggle.type = 'button';
    toggle.dataset.action = 'toggle';
    toggle.setAttribute('aria-expanded', String(this._expanded));
    toggle.setAttribute('aria-controls', this._list.id);
    toggle.disabled = count === 0;
    heading.appendChild(toggle);
    row.appendChild(heading);
    if (set.length > 0) {
      const all = el(
        'button',
        `${FixClasses.button} jp-mod-apply`,
        set.some(s => s.destructive)
          ? trans.__('Apply all\u2026')
          : trans.__('Apply all')
      );
      all.type = 'button';
      all.dataset.action = 'apply-all';
      all.disabled = busy;
      all.title =
        this._controller.blocked ??
        trans._n(
          'Apply this fix (asks first)',
          'Apply these %1 fixes, one for each distinct effect (asks first)',
          set.length
        );
      row.appendChild(all);
    }
    return row;
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
  private _expanded: boolean;
  private _summary: boolean;
  private _applyAll: ISuggestion[] = [];
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
    /**
     * Show a one-line summary with "Apply all" and fold the list (the side
     * panel, where the holders table needs the height); else the list.
     */
    summary?: boolean;
  }
}
