import type { NotebookPanel, INotebookTracker } from '@jupyterlab/notebook';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';

import { addCommands, CommandIDs } from '../commands';
import { MemoryModel } from '../model';
import { MemoryDoctorSettings } from '../settings';
import type { IMemoryDoctorTracker } from '../tokens';
import { makeRecord } from './fakes';

const trans = nullTranslator.load('jupyterlab_memory_doctor');

describe('commands', () => {
  const panel = {} as NotebookPanel;
  let commands: CommandRegistry;
  let model: MemoryModel;
  let settings: MemoryDoctorSettings;
  let reload: jest.Mock;
  let palette: { addItem: jest.Mock };
  let notebooks: { currentWidget: NotebookPanel | null };

  beforeEach(() => {
    commands = new CommandRegistry();
    model = new MemoryModel();
    settings = new MemoryDoctorSettings();
    reload = jest.fn(() => Promise.resolve());
    palette = { addItem: jest.fn() };
    notebooks = { currentWidget: panel };
    const doctor = {
      get: (p: NotebookPanel) =>
        p === panel ? { model, service: { reload } } : undefined,
      entryAdded: new Signal<object, NotebookPanel>({}),
      settings
    };
    addCommands({
      commands,
      notebooks: notebooks as unknown as INotebookTracker,
      doctor: doctor as unknown as IMemoryDoctorTracker,
      trans,
      palette: palette as any
    });
  });

  afterEach(() => {
    model.dispose();
    settings.dispose();
  });

  it('lists every command in the palette under Memory Doctor', () => {
    expect(palette.addItem.mock.calls.map(([item]) => item)).toEqual([
      { command: CommandIDs.reloadHelper, category: 'Memory Doctor' },
      { command: CommandIDs.clearBadges, category: 'Memory Doctor' },
      { command: CommandIDs.toggleBadges, category: 'Memory Doctor' }
    ]);
  });

  it('reloads the helper of the current notebook', async () => {
    await commands.execute(CommandIDs.reloadHelper);
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('clears the figures of the current notebook', async () => {
    model.addRecord(makeRecord());
    await commands.execute(CommandIDs.clearBadges);
    expect(model.history('cell-1')).toEqual([]);
  });

  it('is disabled without a notebook', () => {
    notebooks.currentWidget = null;
    expect(commands.isEnabled(CommandIDs.reloadHelper)).toBe(false);
    expect(commands.isEnabled(CommandIDs.clearBadges)).toBe(false);
  });

  it('toggles showBadges', async () => {
    expect(commands.isToggled(CommandIDs.toggleBadges)).toBe(true);
    await commands.execute(CommandIDs.toggleBadges);
    expect(settings.current.showBadges).toBe(false);
    expect(commands.isToggled(CommandIDs.toggleBadges)).toBe(false);
  });
});
