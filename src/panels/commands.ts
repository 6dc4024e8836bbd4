/**
 * Commands of the side panel, also listed in the command palette.
 */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { MemoryDoctorPanel } from './panel';

/** Command ids. */
export namespace HoldersCommandIDs {
  /** Show the side panel. */
  export const open = 'memory-doctor:open-holders';
  /** Show the side panel and scan the current notebook's kernel. */
  export const refresh = 'memory-doctor:refresh-holders';
}

/**
 * Register the holders commands and, when a palette is available, list
 * them under "Memory Doctor".
 */
export function addHoldersCommands(options: addHoldersCommands.IOptions): void {
  const { commands, shell, panel, trans, palette } = options;
  commands.addCommand(HoldersCommandIDs.open, {
    label: trans.__("Show What's Holding Memory"),
    caption: trans.__(
      "Open the Memory Doctor panel that lists what holds the kernel's memory"
    ),
    execute: () => {
      shell.activateById(panel.id);
    }
  });
  commands.addCommand(HoldersCommandIDs.refresh, {
    label: trans.__("Refresh What's Holding Memory"),
    caption: trans.__(
      "Scan the current notebook's kernel for what holds memory"
    ),
    isEnabled: () => panel.model.canRefresh,
    execute: async () => {
      shell.activateById(panel.id);
      await panel.refresh();
    }
  });
  // The refresh command is enabled only while a scan could start.
  panel.model.changed.connect((_, change) => {
    if (change === 'state') {
      commands.notifyCommandChanged(HoldersCommandIDs.refresh);
    }
  });
  if (palette) {
    const category = trans.__('Memory Doctor');
    for (const command of Object.values(HoldersCommandIDs)) {
      if (command !== HoldersCommandIDs.open || options.listOpen !== false) {
        palette.addItem({ command, category });
      }
    }
  }
}

/** The namespace for `addHoldersCommands` options. */
export namespace addHoldersCommands {
  /** Options for `addHoldersCommands`. */
  export interface IOptions {
    /** The application's command registry. */
    commands: JupyterFrontEnd['commands'];
    /** The application shell. */
    shell: JupyterFrontEnd['shell'];
    /** The side panel. */
    panel: MemoryDoctorPanel;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** The command palette, if present. */
    palette?: ICommandPalette | null;
    /**
     * Whether to list the open command in the palette (default true). Notebook
     * 7 lists every side panel as "Show <caption>" itself, and the panel's
     * caption is this command's label without "Show".
     */
    listOpen?: boolean;
  }
}
