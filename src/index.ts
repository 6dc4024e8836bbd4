/**
 * Plugins: glue only. Logic lives in the modules they wire together.
 */

import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Clipboard, ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { addCommands } from './commands';
import { HeadroomWatcher } from './headroom';
import { createOutputFactory, OUTPUT_RANK } from './mime';
import { createHeadroomNotifier, createUserInterface } from './notify';
import {
  addHoldersCommands,
  holdersIcon,
  MemoryDoctorPanel,
  PANEL_ID
} from './panels';
import { revealCell } from './panels/shared/reveal';
import { MemoryDoctorSettings } from './settings';
import { MemoryStatusItem } from './status';
import {
  IMemoryDoctorTracker,
  PLUGIN_ID,
  STATUS_PLUGIN_ID,
  TRANSLATION_DOMAIN
} from './tokens';
import { MemoryDoctorTracker } from './tracker';

/**
 * Per-cell memory badges, settings and commands.
 */
const plugin: JupyterFrontEndPlugin<IMemoryDoctorTracker> = {
  id: PLUGIN_ID,
  description: 'Per-cell memory badges for notebooks.',
  autoStart: true,
  requires: [INotebookTracker, ISettingRegistry],
  optional: [ITranslator, ICommandPalette],
  provides: IMemoryDoctorTracker,
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    registry: ISettingRegistry,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): IMemoryDoctorTracker => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    // Start from the defaults so notebooks opened meanwhile are served; the
    // registry values apply live once loaded.
    const settings = new MemoryDoctorSettings();
    registry
      .load(PLUGIN_ID)
      .then(loaded => settings.attach(loaded))
      .catch(reason =>
        console.error('Memory Doctor: could not load settings.', reason)
      );
    const doctor = new MemoryDoctorTracker({
      notebooks,
      settings,
      trans,
      ui: createUserInterface(trans)
    });
    addCommands({
      commands: app.commands,
      doctor,
      trans,
      palette,
      hitTest: test => app.contextMenuHitTest(test) ?? null
    });
    // Warns near the memory limit for every notebook, current or not.
    const headroom = new HeadroomWatcher({
      doctor,
      notifier: createHeadroomNotifier(trans, app.commands),
      trans
    });
    notebooks.forEach(panel => headroom.watch(panel));
    return doctor;
  }
};

/**
 * The kernel RSS of the current notebook in the status bar, or in the top
 * bar where there is no status bar (Notebook 7).
 */
const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: STATUS_PLUGIN_ID,
  description:
    "The current notebook kernel's memory in the status bar (Notebook 7: the top bar).",
  autoStart: true,
  requires: [IMemoryDoctorTracker],
  optional: [IStatusBar, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    doctor: IMemoryDoctorTracker,
    statusBar: IStatusBar | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const item = new MemoryStatusItem({ doctor, trans });
    if (!statusBar) {
      // Notebook 7 has no status bar: the same item goes into its top bar.
      item.id = 'jp-MemoryDoctor-topbar';
      item.addClass('jp-mod-topbar');
      const show = () => item.setHidden(!item.isActive());
      item.activeStateChanged.connect(show);
      show();
      app.shell.add(item, 'top', { rank: 1000 });
      return;
    }
    statusBar.registerStatusItem(STATUS_PLUGIN_ID, {
      item,
      align: 'left',
      rank: 4,
      isActive: () => item.isActive(),
      activeStateChanged: item.activeStateChanged
    });
  }
};

/** The id of the side panel plugin. */
export const HOLDERS_PLUGIN_ID = 'jupyterlab-memory-doctor:holders';

/**
 * "What's holding memory": the side panel and its commands.
 */
const holdersPlugin: JupyterFrontEndPlugin<void> = {
  id: HOLDERS_PLUGIN_ID,
  description: "A side panel showing what holds the kernel's memory.",
  autoStart: true,
  requires: [IMemoryDoctorTracker],
  optional: [ITranslator, ICommandPalette, ILayoutRestorer, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    doctor: IMemoryDoctorTracker,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    labShell: ILabShell | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const panel = new MemoryDoctorPanel({
      doctor,
      trans,
      copy: text => Clipboard.copyToSystem(text),
      activate: notebook => app.shell.activateById(notebook.id)
    });
    panel.title.icon = holdersIcon;
    app.shell.add(panel, 'right', { rank: 700 });
    restorer?.add(panel, PANEL_ID);
    addHoldersCommands({
      commands: app.commands,
      shell: app.shell,
      panel,
      trans,
      palette,
      // Notebook 7 (no ILabShell) lists "Show <caption>" for every side
      // panel itself: a second "Show What's Holding Memory" would repeat it.
      listOpen: labShell !== null
    });
  }
};

/** The id of the plugin that draws the magics' outputs. */
export const OUTPUTS_PLUGIN_ID = 'jupyterlab-memory-doctor:outputs';

/**
 * The outputs of `%memory` and `%%memory`, drawn with the side panel's
 * parts (its table, its fix buttons) instead of the HTML the kernel adds
 * for front ends without this extension.
 */
const outputsPlugin: JupyterFrontEndPlugin<void> = {
  id: OUTPUTS_PLUGIN_ID,
  description: "Draws the %memory magics' outputs with the side panel's parts.",
  autoStart: true,
  requires: [IRenderMimeRegistry, IMemoryDoctorTracker, INotebookTracker],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    doctor: IMemoryDoctorTracker,
    notebooks: INotebookTracker,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const factory = createOutputFactory({
      findEntry: node => {
        const panel = notebooks.find(p => p.node.contains(node));
        return panel ? (doctor.get(panel) ?? null) : null;
      },
      settings: doctor.settings,
      trans,
      copy: text => Clipboard.copyToSystem(text),
      reveal: revealCell
    });
    rendermime.addFactory(factory, OUTPUT_RANK);
    // A notebook opened before this plugin activated copied the registry
    // without our factory.
    notebooks.forEach(panel =>
      panel.content.rendermime.addFactory(factory, OUTPUT_RANK)
    );
  }
};

export default [plugin, statusPlugin, holdersPlugin, outputsPlugin];
export * from './tokens';
