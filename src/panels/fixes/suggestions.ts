/**
 * The Suggestions section: the outcome of the last fix, then the fixes for
 * holders and for the whole session (resource and finding fixes are shown
 * with their resource or finding).
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

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
