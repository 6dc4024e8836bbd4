import { KernelClient } from '../kernelClient';
import { MemoryDoctorService } from '../service';
import type { IScanProgressMessage } from '../protocol';
import { makeClient } from './fakes';
import { connect, disposeClients, makeScanResult } from './holders-fakes';

let warn: jest.SpyInstance;

beforeEach(() => {
  warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});

afterEach(() => {
  disposeClients();
  warn.mockRestore();
  jest.useRealTimers();
});

describe('KernelClient.scan', () => {
  it('sends a scan and resolves with its reply', async () => {
    const { entry, comm } = await connect();
    const handle = entry.service.scan({ budget_s: 3, max_holders: 20 });
    const sent = comm().lastRequest();
    expect(sent).toEqual({
      type: 'scan',
      request_id: handle.requestId,
      budget_s: 3,
      max_holders: 20
    });
    const result = makeScanResult([]);
    comm().receive({
      type: 'reply',
      request_id: handle.requestId,
      ok: true,
      result
    });
    await expect(handle.done).resolves.toEqual(result);
  });

  it('delivers scan_progress to listeners and ignores malformed ones', async () => {
    const { entry, comm } = await connect();
    const seen: IScanProgressMessage[] = [];
    entry.service.scanProgress.connect((_, message) => seen.push(message));
    const progress = {
      type: 'scan_progress',
      request_id: '9',
      phase: 'attribute',
      objects_visited: 42,
      elapsed_s: 0.3
    };
    comm().receive(progress);
    comm().receive({ type: 'scan_progress', phase: 'walk' });
    expect(seen).toEqual([progress]);
  });

  it('waits the budget plus a grace period before timing out', async () => {
    const { entry } = await connect();
    jest.useFakeTimers();
    const handle = entry.service.scan({ budget_s: 5 });
    let settled: string | null = null;
    handle.done.then(
      () => (settled = 'resolved'),
      (reason: KernelClient.RequestError) => (settled = reason.code)
    );
    jest.advanceTimersByTime(KernelClient.REQUEST_TIMEOUT_MS + 1);
    await Promise.resolve();
    expect(settled).toBeNull();
    jest.advanceTimersByTime(5000 + MemoryDoctorService.SCAN_GRACE_MS);
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe('timeout');
  });

  it('cancels by target', async () => {
    const { entry, comm } = await connect();
    const handle = entry.service.scan({});
    handle.done.catch(() => undefined); // Rejected by dispose after the test.
    const cancelled = entry.service.cancel(handle.requestId!);
    const sent = comm().lastRequest();
    expect(sent).toMatchObject({ type: 'cancel', target: handle.requestId });
    comm().receive({
      type: 'reply',
      request_id: sent.request_id,
      ok: true,
      result: { cancelled: true }
    });
    await expect(cancelled).resolves.toEqual({ cancelled: true });
  });

  it('has no request id when it cannot send', async () => {
    const { service } = await makeClient({ ready: false });
    const handle = service.scan({});
    expect(handle.requestId).toBeNull();
    await expect(handle.done).rejects.toMatchObject({
      code: 'not_connected'
    });
  });
});
