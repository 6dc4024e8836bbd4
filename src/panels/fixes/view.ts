/**
 * The fixes part of the side panel: the Suggestions section (with the last
 * fix's outcome) and the Resources and Findings sections. They scroll
 * together above the holders table, which keeps the rest of the height.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Panel } from '@lumino/widgets';

import type { ISettingsSource } from '../../settings';
import type { FixController } from './controller';
import { ResourcesSection } from './resources';
import { SuggestionsSection } from './suggestions';

/**
 * The fix sections, hidden while there is neither a scan result nor an
 * outcome to show (resources and findings matter even when no holder does).
 */
export class FixesView extends Panel {
  constructor(options: FixesView.IOptions) {
    super();
    this._controller = options.controller;
    this.addClass('jp-MemoryDoctor-holdersFixes');
    const sections = {
      controller: options.controller,
      settings: options.settings,
      trans: options.trans
    };
    this.addWidget(new SuggestionsSection(sections));
    this.addWidget(
      new ResourcesSection({ ...sections, onReveal: options.onReveal })
    );
    this._controller.changed.connect(this._update, this);
    this._update();
  }

  /** Stop listening. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._controller.changed.disconnect(this._update, this);
    super.dispose();
  }

  private _update(): void {
    const controller = this._controller;
    this.setHidden(!controller.model.result && !controller.outcome);
  }

  private _controller: FixController;
}

/** The namespace for `FixesView` options. */
export namespace FixesView {
  /** Options for a `FixesView`. */
  export interface IOptions {
    /** Applies fixes for the followed notebook. */
    controller: FixController;
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Reveals the cell (by id) that created the resource named `name`. */
    onReveal: (cellId: string, name: string) => void;
  }
}
