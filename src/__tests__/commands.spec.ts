import type { NotebookPanel } from '@jupyterlab/notebook';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';

import { addCommands, CommandIDs } from '../commands';
import type { MemoryModel } from '../model';
import type { MemoryDoctorSettings } from '../settings';
import type { IMemoryDoctorEntry, IMemoryDoctorTracker } from '../tokens';
import {
  disposeClients,
  flush,
  makeClient,
  makeHello,
  makeRecord
} from './fakes';

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
      { command: CommandIDs.toggleBadges, category: 'Memory Doctor' },
      { command: CommandIDs.profileCell, category: 'Memory Doctor' }
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

describe('the profile-cell command', () => {
  afterEach(() => disposeClients());

  async function setUp(badge: HTMLElement | null) {
    const harness = await makeClient();
    const { service, model, settings, kernel } = harness;
    kernel.lastComm().receive(makeHello({ protocol_version: '1.3' }));
    await flush();
    const commands = new CommandRegistry();
    const notify = jest.fn();
    const panel = {
      content: { activeCell: { model: { id: 'active-cell' } } }
    } as unknown as NotebookPanel;
    const { scans, fixes, profiles } = service;
    const doctor = {
      current: { panel, model, scans, fixes, profiles, service },
      settings
    };
    addCommands({
      commands,
      doctor: doctor as unknown as IMemoryDoctorTracker,
      trans,
      hitTest: test => (badge && test(badge) ? badge : null),
      notify
    });
    return { ...harness, commands, notify, comm: kernel.lastComm() };
  }

  function answer(comm: any, result: Record<string, unknown>): void {
    const request = comm.lastRequest();
    comm.receive({
      type: 'reply',
      request_id: request.request_id,
      ok: true,
      result
    });
  }

  it("profiles the right-clicked badge's cell, and cancels when run again", async () => {
    const badge = document.createElement('div');
    badge.className = 'jp-MemoryDoctor-badge';
    badge.dataset.cellId = 'badge-cell';
    const { commands, comm, notify, service } = await setUp(badge);
    expect(commands.isEnabled(CommandIDs.profileCell)).toBe(true);
    const done = commands.execute(CommandIDs.profileCell);
    expect(comm.lastRequest()).toMatchObject({
      type: 'profile_next',
      cell_id: 'badge-cell'
    });
    answer(comm, { cell_id: 'badge-cell', backend: 'tracemalloc' });
    await done;
    expect(notify.mock.calls[0][0]).toContain('Python allocators only');
    expect(commands.isToggled(CommandIDs.profileCell)).toBe(true);
    expect(service.profiles.armed.has('badge-cell')).toBe(true);
    const cancel = commands.execute(CommandIDs.profileCell);
    expect(comm.lastRequest()).toMatchObject({ type: 'profile_cancel' });
    answer(comm, { cell_id: 'badge-cell', cancelled: true });
    await cancel;
    expect(commands.isToggled(CommandIDs.profileCell)).toBe(false);
  });

  it('profiles the active cell from the palette, and says why it could not', async () => {
    const { commands, comm, notify } = await setUp(null);
    const done = commands.execute(CommandIDs.profileCell);
    const request = comm.lastRequest();
    expect(request).toMatchObject({ cell_id: 'active-cell', backend: 'auto' });
    comm.receive({
      type: 'reply',
      request_id: request.request_id,
      ok: false,
      error: { code: 'bad_request', message: 'memray is not installed' }
    });
    await done;
    expect(notify).toHaveBeenCalledWith(
      expect.stringContaining('memray is not installed'),
      'warning'
    );
  });
});
