import { signalToPromise } from '@jupyterlab/testutils';

import { MemoryModel } from '../model';
import { makeRecord } from './fakes';

describe('MemoryModel', () => {
  it('starts connecting, with no RSS and no records', () => {
    const model = new MemoryModel();
    expect(model.status).toEqual({ kind: 'connecting' });
    expect(model.rss).toBeNull();
    expect([...model.cellIds()]).toEqual([]);
    expect(model.history('x')).toEqual([]);
  });

  it('emits stateChanged only when the status differs', async () => {
    const model = new MemoryModel();
    const emitted: string[] = [];
    model.stateChanged.connect((_, status) => emitted.push(status.kind));
    const promise = signalToPromise(model.stateChanged);
    model.setStatus({ kind: 'error', message: 'boom' });
    const [, status] = await promise;
    expect(status).toEqual({ kind: 'error', message: 'boom' });
    model.setStatus({ kind: 'error', message: 'boom' });
    model.setStatus({ kind: 'error', message: 'other' });
    expect(emitted).toEqual(['error', 'error']);
  });

  it('emits cellChanged, measured and rssChanged for a record', async () => {
    const model = new MemoryModel();
    const cell = signalToPromise(model.cellChanged);
    const rss = signalToPromise(model.rssChanged);
    const measured = signalToPromise(model.measured);
    const record = makeRecord({ cell_id: 'a', rss_after: 123 });
    model.addRecord(record);
    expect((await cell)[1]).toBe('a');
    expect((await rss)[1]).toBe(123);
    expect((await measured)[1]).toBe(record);
    expect(model.last('a')).toBe(record);
  });

  it('keeps at most HISTORY_CAP records per cell, dropping the oldest', () => {
    const model = new MemoryModel();
    const total = MemoryModel.HISTORY_CAP + 7;
    for (let i = 1; i <= total; i++) {
      model.addRecord(makeRecord({ execution_count: i }));
    }
    const history = model.history('cell-1');
    expect(history.length).toBe(MemoryModel.HISTORY_CAP);
    expect(history[0].execution_count).toBe(8);
    expect(model.last('cell-1')?.execution_count).toBe(total);
  });

  it('updates the RSS but keeps no history for a record without cell id', () => {
    const model = new MemoryModel();
    const cells: string[] = [];
    model.cellChanged.connect((_, id) => cells.push(id));
    model.addRecord(makeRecord({ cell_id: null, rss_after: 77 }));
    expect(model.rss).toBe(77);
    expect(cells).toEqual([]);
    expect([...model.cellIds()]).toEqual([]);
  });

  it('replays records once, without emitting measured', () => {
    const model = new MemoryModel();
    const measured: unknown[] = [];
    const changed: string[] = [];
    model.measured.connect((_, r) => measured.push(r));
    model.cellChanged.connect((_, id) => changed.push(id));
    const records = [
      makeRecord({ cell_id: 'a', execution_count: 1, started_at: 1 }),
      makeRecord({ cell_id: 'a', execution_count: 2, started_at: 2 }),
      makeRecord({ cell_id: 'b', execution_count: 3, started_at: 3 })
    ];
    model.replay(records);
    model.replay(records); // The comm reopened on the same kernel.
    expect(model.history('a').length).toBe(2);
    expect(model.history('b').length).toBe(1);
    expect(changed).toEqual(['a', 'b']);
    expect(measured).toEqual([]);
  });

  it('clear() empties every cell and says which ones changed', () => {
    const model = new MemoryModel();
    model.addRecord(makeRecord({ cell_id: 'a' }));
    model.addRecord(makeRecord({ cell_id: 'b' }));
    const cleared: string[] = [];
    model.cellChanged.connect((_, id) => cleared.push(id));
    model.clear();
    expect(cleared.sort()).toEqual(['a', 'b']);
    expect(model.history('a')).toEqual([]);
  });

  it('disposes idempotently and disconnects listeners', () => {
    const model = new MemoryModel();
    const seen: string[] = [];
    model.cellChanged.connect((_, id) => seen.push(id));
    model.dispose();
    model.dispose();
    expect(model.isDisposed).toBe(true);
    model.addRecord(makeRecord());
    expect(seen).toEqual([]);
  });
});

describe('MemoryModel readings', () => {
  it('keeps readings in time order and only the ends of a flat stretch', () => {
    const model = new MemoryModel();
    const rss: (number | null)[] = [];
    model.rssChanged.connect((_, value) => rss.push(value));
    model.addReading({ time: 1, rss: 10, peakRss: null });
    model.addReading({ time: 2, rss: 20, peakRss: null });
    model.addReading({ time: 3, rss: 20, peakRss: null });
    model.addReading({ time: 4, rss: 20, peakRss: null });
    model.addReading({ time: 0.5, rss: 99, peakRss: null }); // a late reply
    expect(model.readings.map(r => [r.time, r.rss])).toEqual([
      [1, 10],
      [2, 20],
      [4, 20]
    ]);
    expect(model.rss).toBe(20);
    expect(rss).toEqual([10, 20]);
    model.dispose();
  });

  it('clears the running cell when its record arrives, and the death note of a re-run cell', () => {
    const model = new MemoryModel();
    const changes: (readonly string[])[] = [];
    model.liveChanged.connect((_, ids) => changes.push(ids));
    model.setRunning({
      cellId: 'a',
      executionCount: 1,
      startedAt: 0,
      rssBefore: 0,
      live: 'on',
      reading: { time: 1, rss: 5, peakRss: 6 }
    });
    expect(model.rss).toBe(5);
    model.noteDeath(2);
    expect(model.lastDeath).toMatchObject({ cellId: 'a', reading: { rss: 5 } });
    expect(model.running).toBeNull();
    model.addRecord(makeRecord({ cell_id: 'a' }));
    expect(model.lastDeath).toBeNull();
    expect(changes).toEqual([['a'], ['a'], ['a']]);
    model.dispose();
  });
});
