import type { NotebookPanel } from '@jupyterlab/notebook';

import { MemoryModel } from '../model';
import { FixModel } from '../panels/fixes/model';
import { HoldersModel } from '../panels/holders/model';
import { ScanModel } from '../panels/holders/scan';
import type { MemoryDoctorService } from '../service';
import { decodeScanResult } from '../protocol';
import { MemoryDoctorSettings } from '../settings';
import { flush } from './fakes';
import {
  answerScan,
  connect,
  disposeClients,
  IConnected,
  makeHolder,
  makeScanResult
} from './panel-fakes';

let warn: jest.SpyInstance;

beforeEach(() => {
  warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});

afterEach(() => {
  disposeClients();
  warn.mockRestore();
});

/** A holders model following a connected notebook. */
async function setup(
  settings = new MemoryDoctorSettings()
): Promise<IConnected & { model: HoldersModel }> {
  const connected = await connect(settings, () => 1_795_032_000_000);
  const model = new HoldersModel();
  model.setEntry(connected.entry);
  return { ...connected, model };
}

/** Run a scan that the fake kernel answers with `result`. */
async function scan(
  harness: IConnected & { model: HoldersModel },
  result: unknown
): Promise<void> {
  const done = harness.entry.service.scan();
  answerScan(harness.comm(), result);
  await done;
}

const THREE = [
  makeHolder({
    id: 'a',
    labels: ['big', 'Out[3]', '_3'],
    type: 'numpy.ndarray',
    retained_bytes: 400_000_000,
    objects: 1,
    execution_count: 3
  }),
  makeHolder({
    id: 'b',
    labels: ['df'],
    type: 'pandas.DataFrame',
    retained_bytes: 2_100_000_000,
    objects: 40,
    execution_count: 1
  }),
  makeHolder({
    id: 'c',
    labels: ['cache'],
    type: 'dict',
    retained_bytes: 9_000,
    objects: 900,
    execution_count: null,
    cell_id: null
  })
];

const ids = (model: HoldersModel) => model.rows.map(h => h.id);

describe('HoldersModel states', () => {
  it('says why there is nothing to show before a scan', async () => {
    const model = new HoldersModel();
    expect(model.state).toEqual({ kind: 'no-notebook' });
    expect(model.canRefresh).toBe(false);

    const memory = new MemoryModel();
    const entry = {
      panel: {} as NotebookPanel,
      model: memory,
      scans: new ScanModel(),
      fixes: new FixModel(),
      service: {} as MemoryDoctorService
    };
    model.setEntry(entry);
    expect(model.state).toEqual({ kind: 'connecting' });
    memory.setStatus({ kind: 'no-helper', hint: '%pip install x' });
    expect(model.state).toEqual({ kind: 'no-helper', hint: '%pip install x' });
    memory.setStatus({ kind: 'unsupported', reason: 'language' });
    expect(model.state).toEqual({ kind: 'unsupported', reason: 'language' });
    memory.setStatus({ kind: 'dead' });
    expect(model.state).toEqual({ kind: 'dead' });
    memory.setStatus({ kind: 'mismatch', message: '1.1 vs 2.0' });
    expect(model.state).toEqual({
      kind: 'unavailable',
      message: '1.1 vs 2.0'
    });
    expect(model.canRefresh).toBe(false);
  });

  it('is empty when connected and not scanned yet', async () => {
    const { model } = await setup();
    expect(model.state).toEqual({ kind: 'empty' });
    expect(model.canRefresh).toBe(true);
  });

  it('shows results, or no-holders for an empty scan', async () => {
    const harness = await setup();
    await scan(harness, makeScanResult([]));
    expect(harness.model.state).toEqual({ kind: 'no-holders' });
    await scan(harness, makeScanResult(THREE));
    expect(harness.model.state).toEqual({ kind: 'results' });
    expect(harness.model.result?.holders).toHaveLength(3);
    expect(harness.model.scannedAt).toBe(1_795_032_000_000);
  });

  it('reports a failed scan with the reply message', async () => {
    const harness = await setup();
    const done = harness.entry.service.scan();
    const request = harness.comm().lastRequest();
    harness.comm().receive({
      type: 'reply',
      request_id: request.request_id,
      ok: false,
      error: { code: 'internal', message: 'heap walk failed: boom' }
    });
    await done;
    expect(harness.model.state).toEqual({
      kind: 'error',
      error: { code: 'internal', message: 'heap walk failed: boom' }
    });
    expect(harness.model.running).toBeNull();
    // The next success clears it.
    await scan(harness, makeScanResult(THREE));
    expect(harness.model.error).toBeNull();
    expect(harness.model.state.kind).toBe('results');
  });

  it('marks partial results with the reason', async () => {
    const harness = await setup();
    await scan(harness, makeScanResult(THREE));
    expect(harness.model.partial).toBeNull();
    await scan(
      harness,
      makeScanResult(THREE, {}, { complete: false, stopped: 'budget' })
    );
    expect(harness.model.partial).toBe('budget');
    expect(harness.model.budgetSeconds).toBe(5);
    await scan(
      harness,
      makeScanResult(THREE, {}, { complete: false, stopped: 'cell_ran' })
    );
    expect(harness.model.partial).toBe('cell_ran');
    // Incomplete without a reason must still not pass for complete.
    await scan(
      harness,
      makeScanResult(THREE, {}, { complete: false, stopped: null })
    );
    expect(harness.model.partial).toBe('budget');
  });

  it('keeps results but marks them stale when the kernel restarts', async () => {
    const harness = await setup();
    await scan(harness, makeScanResult(THREE));
    expect(harness.model.stale).toBe(false);
    harness.kernel.setStatus('restarting', harness.context);
    expect(harness.model.stale).toBe(true);
    expect(harness.model.state).toEqual({ kind: 'results' });
    expect(harness.model.result?.holders).toHaveLength(3);

    // Reconnected: still stale until the next scan.
    harness.kernel.setStatus('idle', harness.context);
    await flush();
    harness.comm().receive({
      type: 'hello',
      protocol_version: '1.1',
      helper_version: '0.1.0',
      peak_method: 'vmhwm',
      peak_exact: true,
      python: '3.11',
      platform: 'linux',
      pid: 1,
      rss: 1,
      config: { tracemalloc: false },
      records: []
    });
    expect(harness.entry.model.status.kind).toBe('ready');
    expect(harness.model.stale).toBe(true);
    await scan(harness, makeScanResult(THREE));
    expect(harness.model.stale).toBe(false);
  });

  it('marks results of a notebook that is not current stale too', async () => {
    const harness = await setup();
    await scan(harness, makeScanResult(THREE));
    const other = await connect(new MemoryDoctorSettings());
    harness.model.setEntry(other.entry);
    expect(harness.model.result).toBeNull();
    harness.kernel.setStatus('dead', harness.context);
    harness.model.setEntry(harness.entry);
    expect(harness.model.stale).toBe(true);
    expect(harness.model.result?.holders).toHaveLength(3);
  });

  it('keeps each kernel its own results', async () => {
    const harness = await setup();
    await scan(harness, makeScanResult(THREE));
    const other = await connect(new MemoryDoctorSettings());
    harness.model.setEntry(other.entry);
    expect(harness.model.state).toEqual({ kind: 'empty' });
    harness.model.setEntry(harness.entry);
    expect(ids(harness.model)).toEqual(['b', 'a', 'c']);
  });
});

describe('HoldersModel sorting and filtering', () => {
  it('sorts by retained bytes, largest first, by default', async () => {
    const harness = await setup();
    await scan(harness, makeScanResult(THREE));
    expect(harness.model.sortKey).toBe('retained');
    expect(harness.model.sortDirection).toBe('descending');
    expect(ids(harness.model)).toEqual(['b', 'a', 'c']);
  });

  it('flips the direction on the same column and starts text A to Z', async () => {
    const harness = await setup();
    const model = harness.model;
    await scan(harness, makeScanResult(THREE));
    model.sortBy('retained');
    expect(model.sortDirection).toBe('ascending');
    expect(ids(model)).toEqual(['c', 'a', 'b']);
    model.sortBy('names');
    expect(model.sortDirection).toBe('ascending');
    expect(ids(model)).toEqual(['a', 'c', 'b']); // big…, cache, df
    model.sortBy('type');
    expect(ids(model)).toEqual(['c', 'a', 'b']); // dict, numpy, pandas
    model.sortBy('objects');
    expect(model.sortDirection).toBe('descending');
    expect(ids(model)).toEqual(['c', 'b', 'a']);
  });

  it('puts holders without a cell last in either direction', async () => {
    const harness = await setup();
    const model = harness.model;
    await scan(harness, makeScanResult(THREE));
    model.sortBy('cell', 'ascending');
    expect(ids(model)).toEqual(['b', 'a', 'c']);
    model.sortBy('cell', 'descending');
    expect(ids(model)).toEqual(['a', 'b', 'c']);
  });

  it('filters on names and type, ignoring case', async () => {
    const harness = await setup();
    const model = harness.model;
    await scan(harness, makeScanResult(THREE));
    const changes: string[] = [];
    model.changed.connect((_, change) => changes.push(change));
    model.setFilter('OUT[3]');
    expect(ids(model)).toEqual(['a']);
    model.setFilter('pandas');
    expect(ids(model)).toEqual(['b']);
    model.setFilter('nothing like this');
    expect(ids(model)).toEqual([]);
    model.setFilter('  ');
    expect(ids(model)).toEqual(['b', 'a', 'c']);
    expect(changes).toEqual(['rows', 'rows', 'rows', 'rows']);
    // The filter outlives a refresh.
    model.setFilter('cache');
    await scan(harness, makeScanResult(THREE));
    expect(ids(model)).toEqual(['c']);
  });

  it('expands rows and keeps a row open across scans by its names only', async () => {
    const harness = await setup();
    const model = harness.model;
    await scan(harness, makeScanResult(THREE));
    model.toggleExpanded('a');
    expect(model.isExpanded('a')).toBe(true);
    model.toggleExpanded('a');
    expect(model.isExpanded('a')).toBe(false);
    model.toggleExpanded('b');
    // The next scan numbers holders afresh: `df` is now 'x', and 'b' is `cache`.
    const renumbered = [
      { ...THREE[1], id: 'x' },
      { ...THREE[2], id: 'b' },
      { ...THREE[0], id: 'a' }
    ];
    await scan(harness, makeScanResult(renumbered));
    expect(model.isExpanded('x')).toBe(true);
    expect(model.isExpanded('b')).toBe(false);
    expect(model.isExpanded('a')).toBe(false);
    // A holder whose names changed is a different holder: it starts closed.
    await scan(
      harness,
      makeScanResult([{ ...THREE[1], id: 'x', labels: ['df2'] }])
    );
    expect(model.isExpanded('x')).toBe(false);
  });
});

describe('scanning: the service writes the scans', () => {
  it('sends the budget and holder count from the settings', async () => {
    const settings = new MemoryDoctorSettings();
    settings.update({ scanBudgetSeconds: 2.5, maxHolders: 50 });
    const harness = await setup(settings);
    void harness.entry.service.scan();
    expect(harness.comm().lastRequest()).toMatchObject({
      type: 'scan',
      budget_s: 2.5,
      max_holders: 50
    });
  });

  it('runs at most one scan per kernel at a time', async () => {
    const harness = await setup();
    const first = harness.entry.service.scan();
    expect(harness.model.running).not.toBeNull();
    expect(harness.model.state).toEqual({ kind: 'scanning' });
    expect(harness.model.canRefresh).toBe(false);
    await harness.entry.service.scan();
    const scans = harness.comm().sent.filter(r => r.type === 'scan');
    expect(scans).toHaveLength(1);
    answerScan(harness.comm(), makeScanResult(THREE));
    await first;
    expect(harness.model.running).toBeNull();
  });

  it('shows progress of its own scan only', async () => {
    const harness = await setup();
    const done = harness.entry.service.scan();
    const requestId = harness.model.running!.requestId;
    harness.comm().receive({
      type: 'scan_progress',
      request_id: 'someone-else',
      phase: 'walk',
      objects_visited: 1,
      elapsed_s: 0.1
    });
    expect(harness.model.running?.progress).toBeNull();
    harness.comm().receive({
      type: 'scan_progress',
      request_id: requestId,
      phase: 'walk',
      objects_visited: 1_250_000,
      elapsed_s: 0.8
    });
    expect(harness.model.running?.progress).toMatchObject({
      phase: 'walk',
      objects_visited: 1_250_000
    });
    answerScan(harness.comm(), makeScanResult(THREE));
    await done;
    expect(harness.model.running).toBeNull();
  });

  it('cancels the running scan by its request id', async () => {
    const harness = await setup();
    const done = harness.entry.service.scan();
    const scanRequest = harness.comm().lastRequest();
    const cancelled = harness.entry.service.cancelScan();
    expect(harness.model.running?.cancelling).toBe(true);
    const cancel = harness.comm().lastRequest();
    expect(cancel).toMatchObject({
      type: 'cancel',
      target: scanRequest.request_id
    });
    expect(cancel.request_id).not.toBe(scanRequest.request_id);
    // Cancelling twice sends nothing more.
    await harness.entry.service.cancelScan();
    expect(harness.comm().sent.filter(r => r.type === 'cancel')).toHaveLength(
      1
    );
    harness.comm().receive({
      type: 'reply',
      request_id: cancel.request_id,
      ok: true,
      result: { cancelled: true }
    });
    await cancelled;
    answerScan(
      harness.comm(),
      makeScanResult(THREE, {}, { complete: false, stopped: 'cancelled' })
    );
    await done;
    expect(harness.model.running).toBeNull();
    expect(harness.model.partial).toBe('cancelled');
    expect(harness.model.result?.holders).toHaveLength(3);
  });

  it('ends the running scan quietly when the kernel restarts', async () => {
    const harness = await setup();
    const done = harness.entry.service.scan();
    harness.kernel.setStatus('restarting', harness.context);
    await done;
    expect(harness.model.running).toBeNull();
    expect(harness.model.error).toBeNull();
    expect(harness.model.state).toEqual({ kind: 'connecting' });
  });
});

describe('decoding a scan result', () => {
  it('drops a holder that does not decode or repeats an id, and says where', () => {
    const dropped: string[] = [];
    const result = decodeScanResult(
      makeScanResult([makeHolder({ id: 'a' })], {
        holders: [
          makeHolder({ id: 'a' }),
          null as any,
          makeHolder({ id: 'x', labels: [], roots: [] }),
          makeHolder({ id: 'y', retained_bytes: 'lots' as any }),
          makeHolder({ id: 'z', kind: 'bogus' as any }),
          makeHolder({ id: 'a', labels: ['b'] })
        ]
      }),
      { onDrop: error => dropped.push(error.message) }
    );
    expect(result.holders.map(h => h.id)).toEqual(['a']);
    expect(dropped).toEqual([
      'ScanResult.holders[1]: expected an object, got null',
      'ScanResult.holders[2].labels: expected an array of at least 1 items, got an array of 0',
      'ScanResult.holders[3].retained_bytes: expected an integer ≥ 0, got "lots"',
      expect.stringMatching(
        /^ScanResult\.holders\[4\]\.kind: expected one of "variable", /
      ),
      'ScanResult.holders[5].id: expected an id not used before in this list, got "a"'
    ]);
  });

  it('rejects a result whose summary or totals do not decode', () => {
    expect(() =>
      decodeScanResult(makeScanResult([], {}, { duration_s: 'x' as any }))
    ).toThrow('ScanResult.scan.duration_s: expected a number ≥ 0, got "x"');
    expect(() => decodeScanResult(makeScanResult([], { rss: -5 }))).toThrow(
      'ScanResult.rss: expected an integer ≥ 0, got -5'
    );
    expect(() => decodeScanResult({})).toThrow(
      'ScanResult.scan: expected an object, got nothing (missing)'
    );
  });
});
