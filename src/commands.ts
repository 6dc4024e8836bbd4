/**
 * Commands for the current notebook, also listed in the command palette.
 */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { BADGE_CLASS } from './badges/badge';
import type { IMemoryDoctorEntry, IMemoryDoctorTracker } from './tokens';

/** Command ids. */
export namespace CommandIDs {
  /** Run the bootstrap again on the current notebook's kernel. */
  export const reloadHelper = 'memory-doctor:reload-helper';
  /** Forget the figures of the current notebook. */
  export const clearBadges = 'memory-doctor:clear-badges';
  /** Flip the `showBadges` setting. */
  export const toggleBadges = 'memory-doctor:toggle-badges';
  /**
   * Profile the next run of a cell line by line (the badge's cell from its
   * context menu, else the active cell); again to cancel.
   */
  export const profileCell = 'memory-doctor:profile-cell';
}

/**
 * Register the commands and, when a palette is available, list them under
 * "Memory Doctor".
 */
export function addCommands(options: addCommands.IOptions): void {
  const { commands, doctor, trans, palette } = options;
  const current = () => doctor.current;

  commands.addCommand(CommandIDs.reloadHelper, {
    label: trans.__('Reload Memory Doctor Helper'),
    caption: trans.__(
      "Load the Memory Doctor helper into the current notebook's kernel again"
    ),
    isEnabled: () => current() !== null,
    execute: async () => {
      await current()?.service.reload();
    }
  });

  commands.addCommand(CommandIDs.clearBadges, {
    label: trans.__('Clear Memory Figures'),
    caption: trans.__('Remove the memory badges of the current notebook'),
    isEnabled: () => current() !== null,
    execute: () => {
      current()?.service.clearFigures();
    }
  });

  commands.addCommand(CommandIDs.toggleBadges, {
    label: trans.__('Show Memory Badges'),
    caption: trans.__('Show or hide the memory line under each cell'),
    isToggled: () => doctor.settings.current.showBadges,
    execute: async () => {
      const settings = doctor.settings;
      await settings.set('showBadges', !settings.current.showBadges);
    }
  });
  doctor.settings.changed.connect(() =>
    commands.notifyCommandChanged(CommandIDs.toggleBadges)
  );

  const hitTest = options.hitTest ?? (() => null);
  const notify = options.notify ?? Private.notify;
  /** The cell the command is about: a right-clicked badge's, else the active one. */
  const target = (): { entry: IMemoryDoctorEntry; cellId: string } | null => {
    const entry = current();
    if (!entry) {
      return null;
    }
    const badge = hitTest(node => node.classList.contains(BADGE_CLASS));
    const cellId =
      badge?.dataset.cellId ?? entry.panel.content?.activeCell?.model.id;
    return cellId ? { entry, cellId } : null;
  };
  commands.addCommand(CommandIDs.profileCell, {
    label: trans.__('Profile Memory on Next Run'),
    caption: trans.__(
      "Trace what each line of the cell allocates the next time it runs: each line's memory left and at the peak, in the cell's gutter and the side panel"
    ),
    isEnabled: () => {
      const found = target();
      return !!found?.entry.service.profileNext && found.entry.service.isReady;
    },
    isToggled: () => {
      const found = target();
      return !!found && !!found.entry.profiles?.armed.has(found.cellId);
    },
    execute: async () => {
      const found = target();
      const service = found?.entry.service;
      if (!found || !service?.profileNext || !service.cancelProfile) {
        return;
      }
      try {
        if (found.entry.profiles?.armed.has(found.cellId)) {
          await service.cancelProfile(found.cellId);
          notify(trans.__('The next run of the cell will not be profiled.'));
          return;
        }
        const backend = await service.profileNext(found.cellId);
        notify(
          backend === 'memray'
            ? trans.__(
                'The next run of the cell will be profiled with memray (every allocator, native ones too).'
              )
            : trans.__(
                'The next run of the cell will be profiled with tracemalloc (Python allocators only; install memray in the kernel to see native allocations).'
              )
        );
      } catch (reason) {
        notify(
          trans.__(
            'Could not ask for a memory profile: %1',
            (reason as Error)?.message ?? String(reason)
          ),
          'warning'
        );
      }
    }
  });

  if (palette) {
    const category = trans.__('Memory Doctor');
    for (const command of Object.values(CommandIDs)) {
      palette.addItem({ command, category });
    }
  }
}

/** The namespace for `addCommands` options. */
export namespace addCommands {
  /** Options for `addCommands`. */
  export interface IOptions {
    /** The application's command registry. */
    commands: JupyterFrontEnd['commands'];
    /** Per-notebook memory state (the current notebook's) and settings. */
    doctor: IMemoryDoctorTracker;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** The command palette, if present. */
    palette?: ICommandPalette | null;
    /**
     * The node a context menu was opened on, when it passes `test`
     * (`JupyterFrontEnd.contextMenuHitTest`); none from the palette.
     */
    hitTest?: (test: (node: HTMLElement) => boolean) => HTMLElement | null;
    /** Tells the user what a command did; defaults to a notification. */
    notify?: (message: string, kind?: 'info' | 'warning') => void;
  }
}

namespace Private {
  /** A short notification that closes by itself. */
  export function notify(
    message: string,
    kind: 'info' | 'warning' = 'info'
  ): void {
    Notification.emit(message, kind, { autoClose: 5000 });
  }
}
