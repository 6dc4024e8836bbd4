/**
 * The fixes part of the side panel above the holders table: the last fix's
 * outcome and the Suggestions as one line ("5 suggestions · frees about
 * 560 MB · Apply all…") that unfolds into the list. Each holder's own fix is
 * on its row; the Resources and Findings sections sit below the table.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Panel } from '@lumino/widgets';

import type { ISettingsSource } from '../../settings';
import type { FixController } from './controller';
import { SuggestionsSection } from './suggestions';

/**
 * The outcome and the suggestions' summary, hidden while there is neither a
 * scan result nor an outcome to show.
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
    this.addWidget(new SuggestionsSection({ ...sections, summary: true }));
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
  }
}
