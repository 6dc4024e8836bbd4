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
import type { CommandRegistry } from '@lumino/commands';

import type { IHeadroomNotifier, IHeadroomWarning } from './headroom';
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

/** The command that opens the side panel (see panels/commands.ts). */
const OPEN_HOLDERS = 'memory-doctor:open-holders';

/**
 * The headroom warning as a notification that stays until dismissed, with a
 * button to the side panel when that plugin is there.
 */
export function createHeadroomNotifier(
  trans: TranslationBundle,
  commands: CommandRegistry
): IHeadroomNotifier {
  return {
    headroomWarning(warning: IHeadroomWarning): void {
      const actions = commands.hasCommand(OPEN_HOLDERS)
        ? [
            {
              label: trans.__("Show what's holding memory"),
              callback: () => void commands.execute(OPEN_HOLDERS)
            }
          ]
        : [];
      // The toast renders the message as text, so kernel-derived names in it
      // stay inert.
      Notification.warning(warning.message, { autoClose: false, actions });
    }
  };
}
