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
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import type { IHeadroomNotifier, IHeadroomWarning } from './headroom';
import type { IUserInterface } from './tokens';

/**
 * Notifications through JupyterLab's notification center and dialogs.
 */
export function createUserInterface(trans: TranslationBundle): IUserInterface {
  return {
    helperMissing(hint: string, notebook: string): IDisposable {
      const id = Notification.warning(
        helperMissingText(hint, notebook, trans),
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
      // Gone once the helper loads or the notebook's kernel changes.
      return new DisposableDelegate(() => Notification.dismiss(id));
    },
    versionMismatch(message: string): void {
      void showErrorMessage(
        trans.__('Memory Doctor version mismatch'),
        message
      );
    }
  };
}

/** JupyterLab cuts a toast's message after this many characters. */
export const TOAST_LENGTH = 140;

/**
 * The notice that the helper is missing: which notebook, the command, and
 * the restart, within `TOAST_LENGTH` so that a toast shows all of it (a long
 * notebook name is shortened, never the instructions).
 */
export function helperMissingText(
  hint: string,
  notebook: string,
  trans: TranslationBundle
): string {
  const text = (name: string) =>
    trans.__(
      "Memory Doctor's helper is missing: run %1 in a cell of %2, then restart its kernel.",
      hint,
      name
    );
  const room = TOAST_LENGTH - text('').length;
  const name =
    notebook.length <= room
      ? notebook
      : `${notebook.slice(0, Math.max(1, room - 1))}\u2026`;
  return text(name);
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
