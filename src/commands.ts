/**
 * Commands for the current notebook, also listed in the command palette.
 */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IMemoryDoctorEntry, IMemoryDoctorTracker } from './tokens';

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
  const { commands, notebooks, doctor, trans, palette } = options;
  const current = (): IMemoryDoctorEntry | undefined => {
    const panel = notebooks.currentWidget;
    return panel ? doctor.get(panel) : undefined;
  };

  commands.addCommand(CommandIDs.reloadHelper, {
    label: trans.__('Reload Memory Doctor Helper'),
    caption: trans.__(
      "Load the Memory Doctor helper into the current notebook's kernel again"
    ),
    isEnabled: () => current() !== undefined,
    execute: async () => {
      await current()?.service.reload();
    }
  });

  commands.addCommand(CommandIDs.clearBadges, {
    label: trans.__('Clear Memory Figures'),
    caption: trans.__('Remove the memory badges of the current notebook'),
    isEnabled: () => current() !== undefined,
    execute: () => {
      current()?.model.clear();
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
    /** The notebook tracker (for the current notebook). */
    notebooks: INotebookTracker;
    /** Per-notebook memory state and settings. */
    doctor: IMemoryDoctorTracker;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** The command palette, if present. */
    palette?: ICommandPalette | null;
  }
}
