import type { JupyterFrontEnd } from '@jupyterlab/application';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';

import { HOLDER_KINDS } from '../protocol';
import { addHoldersCommands, HoldersCommandIDs } from '../panels/commands';
import type { HoldersState } from '../panels/holders/model';
import {
  cellText,
  errorText,
  kindLabel,
  placementText,
  progressText,
  stateMessage,
  trapText
} from '../panels/holders/text';
import { VirtualWindow } from '../panels/holders/virtual';
import { nameList } from '../panels/shared/text';
import { MemoryDoctorPanel } from '../panels/panel';
import { flush } from './fakes';
import { connectNotebook, disposeClients, makeHolder } from './panel-fakes';

const trans = nullTranslator.load('jupyterlab_memory_doctor');

describe('holder text', () => {
  it('names a long root set by its first three and a count', () => {
    expect(nameList(['a', 'b', 'c', 'd'], trans)).toBe('a, b, c, d');
    expect(nameList(['a', 'b', 'c', 'd', 'e', 'f'], trans)).toBe(
      'a, b, c and 3 more'
    );
  });

  it('names the variable, not the cache entry, in the trap', () => {
    const holder = makeHolder({
      labels: ['Out[3]', '_3', 'big'],
      roots: [
        { label: 'Out[3]', kind: 'output_cache' },
        { label: '_3', kind: 'output_cache' },
        { label: 'big', kind: 'variable' }
      ],
      retained_bytes: 419_430_400
    });
    expect(trapText(holder, 'IEC', trans)).toBe(
      'Out[3], _3, big jointly retain 400 MiB \u2014 deleting big alone frees nothing'
    );
    expect(trapText(makeHolder({ labels: ['df'] }), 'SI', trans)).toBeNull();
  });

  it('has a distinct name for every holder kind', () => {
    const names = HOLDER_KINDS.map(kind => kindLabel(kind, trans));
    expect(new Set(names).size).toBe(HOLDER_KINDS.length);
    expect(kindLabel('output_cache', trans)).toBe('output cache');
  });

  it('writes the cell column as a prompt', () => {
    expect(cellText(makeHolder({ execution_count: 3 }))).toBe('[3]');
    expect(cellText(makeHolder({ execution_count: null }))).toBe('[ ]');
    expect(cellText(makeHolder({ execution_count: null, cell_id: null }))).toBe(
      ''
    );
  });

  it('says where device and file-backed memory lives', () => {
    expect(placementText(makeHolder(), trans)).toBeNull();
    expect(placementText(makeHolder({ device: 'cuda:0' }), trans)).toContain(
      'cuda:0'
    );
    expect(placementText(makeHolder({ file_backed: true }), trans)).toContain(
      'File-backed'
    );
  });

  it('explains a timeout and quotes other failures', () => {
    expect(errorText({ code: 'timeout', message: 'x' }, trans)).toContain(
      'did not answer the scan in time'
    );
    expect(errorText({ code: 'internal', message: 'boom' }, trans)).toBe(
      'The scan failed: boom'
    );
  });

  it('shows progress before the first message and while cancelling', () => {
    expect(
      progressText({ requestId: '1', cancelling: false, progress: null }, trans)
    ).toBe('Scanning\u2026');
    expect(
      progressText({ requestId: '1', cancelling: true, progress: null }, trans)
    ).toBe('Cancelling the scan\u2026');
    expect(
      progressText(
        {
          requestId: '1',
          cancelling: false,
          progress: {
            type: 'scan_progress',
            request_id: '1',
            phase: 'paths',
            objects_visited: 7,
            elapsed_s: 1.5
          }
        },
        trans
      )
    ).toBe('Scanning: finding why-alive paths, 7 objects visited (1.5 s)');
  });

  it('has a message for every state but results', () => {
    const states: HoldersState[] = [
      { kind: 'no-notebook' },
      { kind: 'connecting' },
      { kind: 'no-helper', hint: '%pip install x' },
      { kind: 'unsupported', reason: 'language' },
      { kind: 'unsupported', reason: 'comms' },
      { kind: 'dead' },
      { kind: 'unavailable', message: 'versions differ' },
      { kind: 'empty' },
      { kind: 'scanning' },
      { kind: 'error', error: { code: 'internal', message: 'boom' } },
      { kind: 'no-holders' }
    ];
    const texts = states.map(state => stateMessage(state, trans)?.text);
    expect(
      texts.every(text => typeof text === 'string' && text.length > 10)
    ).toBe(true);
    expect(new Set(texts).size).toBe(states.length);
    expect(stateMessage({ kind: 'no-helper', hint: 'H' }, trans)?.code).toBe(
      'H'
    );
    expect(stateMessage({ kind: 'results' }, trans)).toBeNull();
  });
});

describe('VirtualWindow', () => {
  it('finds the rows in view with uneven heights', () => {
    const window = new VirtualWindow();
    window.setHeights([10, 50, 10, 10]);
    expect(window.totalHeight).toBe(80);
    expect(window.offset(2)).toBe(60);
    expect(window.indexAt(59)).toBe(1);
    expect(window.indexAt(60)).toBe(2);
    expect(window.indexAt(1000)).toBe(3);
    expect(window.range(15, 20)).toEqual({ start: 1, end: 2 });
    expect(window.range(15, 50, 1)).toEqual({ start: 0, end: 4 });
    window.setHeights([]);
    expect(window.range(0, 100, 5)).toEqual({ start: 0, end: 0 });
  });
});

describe('holders commands', () => {
  afterEach(() => disposeClients());

  it('opens the panel and refreshes the current kernel', async () => {
    const warn = jest
      .spyOn(console, 'warn')
      .mockImplementation(() => undefined);
    const connected = await connectNotebook(1);
    const { doctor } = connected;
    const panel = new MemoryDoctorPanel({
      doctor,
      trans
    });
    const commands = new CommandRegistry();
    const activated: string[] = [];
    const palette = { addItem: jest.fn() };
    addHoldersCommands({
      commands,
      shell: {
        activateById: (id: string) => activated.push(id)
      } as unknown as JupyterFrontEnd['shell'],
      panel,
      trans,
      palette: palette as any
    });
    try {
      expect(palette.addItem.mock.calls.map(c => c[0].command)).toEqual([
        'memory-doctor:open-holders',
        'memory-doctor:refresh-holders'
      ]);
      await commands.execute(HoldersCommandIDs.open);
      expect(activated).toEqual(['jp-MemoryDoctor-holders']);
      expect(commands.isEnabled(HoldersCommandIDs.refresh)).toBe(true);
      void commands.execute(HoldersCommandIDs.refresh);
      await flush();
      expect(connected.comm().lastRequest().type).toBe('scan');
      // While the scan runs, a second refresh is not offered.
      expect(commands.isEnabled(HoldersCommandIDs.refresh)).toBe(false);
    } finally {
      panel.dispose();
      warn.mockRestore();
    }
  });
});
