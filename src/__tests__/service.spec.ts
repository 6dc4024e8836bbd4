import { signalToPromise } from '@jupyterlab/testutils';

import { KernelClient } from '../kernelClient';
import {
  disposeClients,
  FakeKernel,
  FakeSessionContext,
  flush,
  makeClient,
  makeHello,
  makeRecord,
  RecordingUserInterface
} from './fakes';

const GB = 1000 ** 3;

let warn: jest.SpyInstance;

beforeEach(() => {
  warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});

afterEach(() => {
  disposeClients();
  warn.mockRestore();
});

describe('the service writes the model', () => {
  it('from hello: status, RSS, memory limit and the replayed records', async () => {
    const { kernel, model } = await makeClient();
    const ready = signalToPromise(model.stateChanged);
    const replayed = signalToPromise(model.cellChanged);
    const limit = { bytes: 8 * GB, source: 'cgroup_v2' as const };
    kernel.lastComm().receive(
      makeHello({
        protocol_version: '1.2',
        rss: 2 * GB,
        memory_limit: limit,
        records: [makeRecord({ cell_id: 'cell-9' }), { cell_id: 'bad' }]
      })
    );
    const [, status] = await ready;
    expect(status).toMatchObject({ kind: 'ready', helperVersion: '0.1.0' });
    expect(await replayed).toEqual([model, 'cell-9']);
    expect(model.rss).toBe(2 * GB);
    expect(model.memoryLimit).toEqual(limit);
    expect([...model.cellIds()]).toEqual(['cell-9']);
  });

  it('from cell_measured: the record, once, through `measured`', async () => {
    const { kernel, model } = await makeClient();
    kernel.lastComm().receive(makeHello());
    const measured = signalToPromise(model.measured);
    const record = makeRecord({ rss_after: 3 * GB });
    kernel.lastComm().receive({ type: 'cell_measured', record });
    expect(await measured).toEqual([model, record]);
    expect(model.history('cell-1')).toEqual([record]);
    expect(model.rss).toBe(3 * GB);
  });

  it("mirrors the client's connection status, restarts included", async () => {
    const { kernel, context, model, client } = await makeClient();
    kernel.lastComm().receive(makeHello());
    const stale = signalToPromise(model.stateChanged);
    kernel.setStatus('restarting', context);
    expect((await stale)[1]).toEqual({ kind: 'stale' });
    expect(model.status).toBe(client.status);
  });

  it('marks the running cell from the kernel messages once the helper answered', async () => {
    const { kernel, model } = await makeClient();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    expect(model.running).toBeNull();
    kernel.lastComm().receive(makeHello());
    const live = signalToPromise(model.liveChanged);
    const msgId = kernel.sendExecute('cell-b');
    kernel.emitStatus('busy', msgId);
    expect((await live)[1]).toEqual(['cell-b']);
    expect(model.running).toMatchObject({ cellId: 'cell-b', reading: null });
    kernel.emitStatus('idle', msgId);
    expect(model.running).toBeNull();
  });
});

describe('the kernel client alone', () => {
  it('keeps its status and tells what arrives, with no model to write', async () => {
    const context = new FakeSessionContext(null);
    const client = new KernelClient({
      sessionContext: context.asContext(),
      config: () => ({ tracemalloc: true }),
      ui: new RecordingUserInterface()
    });
    const kernel = new FakeKernel();
    context.changeKernel(kernel);
    await flush();
    expect(kernel.lastComm().opened[0][0]).toMatchObject({
      config: { tracemalloc: true }
    });
    const hello = signalToPromise(client.hello);
    kernel.lastComm().receive(makeHello());
    expect((await hello)[1]).toMatchObject({ type: 'hello' });
    expect(client.status.kind).toBe('ready');
    const record = signalToPromise(client.cellMeasured);
    kernel.lastComm().receive({ type: 'cell_measured', record: makeRecord() });
    expect((await record)[1]).toEqual(makeRecord());
    client.dispose();
  });
});
