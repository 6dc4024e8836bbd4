/**
 * The user-facing side effects of the kernel client: one unobtrusive
 * notification when the helper is missing, a dialog for a version mismatch.
 */

import {
  Clipboard,
  Notification,
  showErrorMessage
} from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IUserInterface } from './tokens';

/**
 * Notifications through JupyterLab's notification center and dialogs.
 */
export function createUserInterface(trans: TranslationBundle): IUserInterface {
  return {
    helperMissing(hint: string): void {
      Notification.warning(
        trans.__(
          "Memory Doctor: the kernel helper is not installed in this kernel's environment. Run %1 in a cell, then restart the kernel.",
          hint
        ),
        {
          autoClose: false,
          actions: [
            {
              label: trans.__('Copy command'),
              caption: hint,
              callback: event => {
                // Keep the toast open so the user can still read it.
                event.preventDefault();
                Clipboard.copyToSystem(hint);
              }
            }
          ]
        }
      );
    },
    versionMismatch(message: string): void {
      void showErrorMessage(
        trans.__('Memory Doctor version mismatch'),
        message
      );
    }
  };
}
