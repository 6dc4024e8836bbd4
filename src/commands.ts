/**
 * Commands for the current notebook, also listed in the command palette.
 */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IMemoryDoctorTracker } from './tokens';

/** Command ids. */
export namespace CommandIDs {
  /** Run the bootstrap again on the current notebook's kernel. */
  export const reloadHelper = 'memory-doctor:reload-helper';
  /** Forget the figures of the current notebook. */
  export const clearBadges = 'memory-doctor:clear-badges';
  /** Flip the `showBadges` setting. */
  export const toggleBadges = 'memory-doctor:toggle-badges';
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
  }
}
