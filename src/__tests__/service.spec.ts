import { signalToPromise } from '@jupyterlab/testutils';

import { KernelClient } from '../kernelClient';
import { MemoryModel } from '../model';
import {
  IScanProgressMessage,
  SCAN_OVERRUN_S,
  scanReplyTimeoutS
} from '../protocol';
import { MemoryDoctorSettings } from '../settings';
import {
  FakeKernel,
  FakeSessionContext,
  flush,
  makeClient,
  makeHello,
  makeRecord,
  RecordingUserInterface
} from './fakes';
import {
  answerFix,
  answerScan,
  connect,
  makeFixResult,
  makeFixScan,
  makeScanResult,
  makeSuggestion,
  usePanelHooks
} from './panel-fakes';

const GB = 1000 ** 3;

usePanelHooks();

afterEach(() => {
  jest.useRealTimers();
});

describe('the service writes the model', () => {
  it('from hello: status, RSS, memory limit and the replayed records', async () => {
    const { kernel, model } = await makeClient();
    const ready = signalToPromise(model.stateChanged);
    const replayed = signalToPromise(model.cellChanged);
    const limit = { bytes: 8 * GB, source: 'cgroup_v2' as const };
    const error = jest.spyOn(console, 'error').mockImplementation(() => {});
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
    // The malformed record is left out, and the developer told where.
    expect(error).toHaveBeenCalledTimes(1);
    expect(error.mock.calls[0][0]).toContain(
      'KernelMessage.records[1].execution_count'
    );
    error.mockRestore();
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

describe('the service writes the scans', () => {
  it('sends the budget and holder count of the settings and stores the result', async () => {
    const settings = new MemoryDoctorSettings();
    settings.update({ scanBudgetSeconds: 3, maxHolders: 20 });
    const { entry, comm } = await connect(settings, () => 42);
    const { scans, service } = entry;
    const started = signalToPromise(scans.changed);
    const done = service.scan();
    expect((await started)[1]).toBe('state');
    const sent = comm().lastRequest();
    expect(sent).toEqual({
      type: 'scan',
      request_id: scans.running?.requestId,
      budget_s: 3,
      max_holders: 20
    });
    const result = makeScanResult([]);
    answerScan(comm(), result);
    await done;
    expect(scans.result).toEqual(result);
    expect(scans.scannedAt).toBe(42);
    expect(scans.budgetSeconds).toBe(3);
    expect(scans.running).toBeNull();
  });

  it('keeps the progress of its own scan only, and ignores malformed progress', async () => {
    const { entry, service, comm } = await connect();
    const seen: IScanProgressMessage[] = [];
    service.client.scanProgress.connect((_, m) => seen.push(m));
    void entry.service.scan();
    const requestId = entry.scans.running!.requestId;
    const progress = {
      type: 'scan_progress',
      request_id: requestId,
      phase: 'attribute',
      objects_visited: 42,
      elapsed_s: 0.3
    };
    comm().receive({ ...progress, request_id: 'someone-else' });
    expect(entry.scans.running?.progress).toBeNull();
    const changed = signalToPromise(entry.scans.changed);
    comm().receive(progress);
    expect((await changed)[1]).toBe('progress');
    expect(entry.scans.running?.progress).toEqual(progress);
    comm().receive({ type: 'scan_progress', phase: 'walk' });
    expect(seen).toHaveLength(2);
  });

  it('waits as long as the helper may take (a queued scan, then the scan) before the scan times out', async () => {
    const settings = new MemoryDoctorSettings();
    settings.update({ scanBudgetSeconds: 600 });
    const { entry } = await connect(settings);
    jest.useFakeTimers();
    const done = entry.service.scan();
    // Queued behind a cell for the budget plus the overrun, then run as long.
    const helperMayTakeMs = 2 * (600 + SCAN_OVERRUN_S) * 1000;
    expect(scanReplyTimeoutS(600) * 1000).toBeGreaterThan(helperMayTakeMs);
    jest.advanceTimersByTime(helperMayTakeMs);
    await flush();
    expect(entry.scans.running).not.toBeNull();
    jest.advanceTimersByTime(scanReplyTimeoutS(600) * 1000 - helperMayTakeMs);
    await done;
    expect(entry.scans.running).toBeNull();
    expect(entry.scans.error?.code).toBe('timeout');
  });

  it('cancels the running scan by its request id', async () => {
    const { entry, comm } = await connect();
    void entry.service.scan();
    const target = entry.scans.running!.requestId;
    const cancelled = entry.service.cancelScan();
    expect(entry.scans.running?.cancelling).toBe(true);
    const sent = comm().lastRequest();
    expect(sent).toMatchObject({ type: 'cancel', target });
    comm().receive({
      type: 'reply',
      request_id: sent.request_id,
      ok: true,
      result: { cancelled: true }
    });
    await cancelled;
  });

  it('sends nothing when not connected', async () => {
    const { kernel, service } = await makeClient({ ready: false });
    await service.scan();
    expect(kernel.comms).toHaveLength(0);
    expect(service.scans.running).toBeNull();
    expect(service.scans.error).toBeNull();
  });
});

describe('the service writes the fixes', () => {
  it('claims the kernel, asks, applies and records the outcome', async () => {
    const { entry, comm } = await connect();
    const scanned = entry.service.scan();
    answerScan(comm(), makeFixScan());
    await scanned;
    const asked: string[] = [];
    const applying = signalToPromise(entry.fixes.changed);
    const done = entry.service.applyFix(makeSuggestion(), s => {
      asked.push(s.id);
      return Promise.resolve(true);
    });
    await applying;
    expect(entry.fixes.applying).toBe('s1');
    await flush();
    expect(asked).toEqual(['s1']);
    expect(comm().lastRequest()).toMatchObject({
      type: 'apply_fix',
      suggestion_id: 's1'
    });
    answerFix(comm(), { result: makeFixResult() });
    const outcome = await done;
    expect(outcome?.kind).toBe('applied');
    expect(entry.fixes.outcome).toBe(outcome);
    expect(entry.fixes.applying).toBeNull();
  });

  it("takes the kernel's memory after a fix from its reply, not the last poll", async () => {
    const { entry, comm } = await connect();
    const scanned = entry.service.scan();
    answerScan(comm(), makeFixScan());
    await scanned;
    (entry.model as MemoryModel).setRss(174_000_000); // the last poll
    const done = entry.service.applyFix(makeSuggestion(), () =>
      Promise.resolve(true)
    );
    await flush();
    answerFix(comm(), {
      result: {
        ...makeFixResult(),
        rss_before: 174_000_000,
        rss_after: 74_000_000
      }
    });
    await done;
    expect(entry.model.rss).toBe(74_000_000);
  });

  it('sends nothing for a suggestion of no scan, or when declined', async () => {
    const { entry, comm } = await connect();
    const no = () => Promise.resolve(false);
    expect(await entry.service.applyFix(makeSuggestion(), no)).toBeNull();
    const scanned = entry.service.scan();
    answerScan(comm(), makeFixScan());
    await scanned;
    const sent = comm().sent.length;
    expect(await entry.service.applyFix(makeSuggestion(), no)).toBeNull();
    expect(comm().sent).toHaveLength(sent);
    expect(entry.fixes.applying).toBeNull();
    expect(entry.fixes.outcome).toBeNull();
  });
});
