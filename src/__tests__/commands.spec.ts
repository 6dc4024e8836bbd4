import type { NotebookPanel } from '@jupyterlab/notebook';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';

import { addCommands, CommandIDs } from '../commands';
import type { MemoryModel } from '../model';
import type { MemoryDoctorSettings } from '../settings';
import type { IMemoryDoctorEntry, IMemoryDoctorTracker } from '../tokens';
import { disposeClients, makeClient, makeRecord } from './fakes';

const trans = nullTranslator.load('jupyterlab_memory_doctor');

describe('commands', () => {
  let commands: CommandRegistry;
  let model: MemoryModel;
  let settings: MemoryDoctorSettings;
  let reload: jest.SpyInstance;
  let palette: { addItem: jest.Mock };
  let doctor: { current: IMemoryDoctorEntry | null; settings: unknown };

  beforeEach(async () => {
    const harness = await makeClient();
    const service = harness.service;
    model = harness.model;
    settings = harness.settings;
    reload = jest.spyOn(service, 'reload').mockResolvedValue();
    commands = new CommandRegistry();
    palette = { addItem: jest.fn() };
    const { scans, fixes } = service;
    const panel = {} as NotebookPanel;
    doctor = {
      current: { panel, model, scans, fixes, service },
      settings
    };
    addCommands({
      commands,
      doctor: doctor as unknown as IMemoryDoctorTracker,
      trans,
      palette: palette as any
    });
  });

  afterEach(() => {
    disposeClients();
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
    doctor.current = null;
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
