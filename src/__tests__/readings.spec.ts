import { commsOverSubshells, ReadingsPoll } from '../readings';
import { MemoryDoctorSettings } from '../settings';
import {
  disposeClients,
  FakeKernel,
  flush,
  IClientHarness,
  makeClient,
  makeHello,
  makeRecord
} from './fakes';

const GB = 1000 ** 3;
const LIMIT = { bytes: 8 * GB, source: 'cgroup_v2' as const };

/**
 * A service whose 1.2 helper answered `hello`, live readings on by default,
 * idle readings every `idleSeconds` (default: off).
 */
async function setup(
  options: { subshells?: boolean; live?: boolean; idleSeconds?: number } = {}
): Promise<IClientHarness> {
  const settings = new MemoryDoctorSettings();
  const harness = await makeClient({
    kernel: { supportsSubshells: options.subshells ?? true },
    settings
  });
  settings.update({
    ...settings.current,
    statusRefreshSeconds: options.idleSeconds ?? 0,
    liveReadings: options.live ?? true
  });
  harness.kernel.lastComm().receive(makeHello({ protocol_version: '1.2' }));
  return harness;
}

/** Make the browser tab hidden or visible, as the page would tell. */
function setHidden(hidden: boolean): void {
  if (hidden) {
    Object.defineProperty(document, 'visibilityState', {
      configurable: true,
      get: () => 'hidden'
    });
  } else {
    delete (document as { visibilityState?: unknown }).visibilityState;
  }
  document.dispatchEvent(new Event('visibilitychange'));
}

/** The get_rss requests sent so far. */
function rssRequests(kernel: FakeKernel): Record<string, unknown>[] {
  return kernel.lastComm().sent.filter(m => m.type === 'get_rss');
}

/** Answer the last request with a get_rss result. */
async function answer(
  kernel: FakeKernel,
  result: Record<string, unknown>
): Promise<void> {
  const request = kernel.lastComm().lastRequest();
  expect(request.type).toBe('get_rss');
  kernel.lastComm().receive({
    type: 'reply',
    request_id: request.request_id,
    ok: true,
    result
  });
  await flush();
}

function running(cellId: string, startedAt = 1795032000.25) {
  return {
    cell_id: cellId,
    execution_count: 4,
    started_at: startedAt,
    rss_before: 1 * GB
  };
}

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  disposeClients();
  jest.useRealTimers();
});

describe('commsOverSubshells', () => {
  it('needs kernel support and comms not disabled', () => {
    expect(
      commsOverSubshells({
        supportsSubshells: true,
        commsOverSubshells: 'perCommTarget'
      })
    ).toBe(true);
    expect(
      commsOverSubshells({
        supportsSubshells: true,
        commsOverSubshells: 'disabled'
      })
    ).toBe(false);
    expect(
      commsOverSubshells({
        supportsSubshells: false,
        commsOverSubshells: 'perComm'
      })
    ).toBe(false);
    // JupyterLab < 4.4 has no such property: no subshells for comms.
    expect(commsOverSubshells({ supportsSubshells: true })).toBe(false);
  });
});

describe('live readings with comms over a subshell', () => {
  it('marks the running cell and polls get_rss until it ends', async () => {
    const { kernel, model } = await setup();
    const msgId = kernel.sendExecute('cell-a');
    kernel.emitStatus('busy', msgId);
    expect(model.running).toMatchObject({
      cellId: 'cell-a',
      live: 'on',
      reading: null
    });
    expect(rssRequests(kernel)).toHaveLength(0);

    await jest.advanceTimersByTimeAsync(ReadingsPoll.LIVE_INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(1);
    await answer(kernel, {
      rss: 2 * GB,
      peak_rss: 3 * GB,
      time: 1795032001.5,
      memory_limit: LIMIT,
      running: running('cell-a')
    });
    expect(model.running).toMatchObject({
      cellId: 'cell-a',
      executionCount: 4,
      rssBefore: GB,
      reading: { rss: 2 * GB, peakRss: 3 * GB, time: 1795032001.5 }
    });
    expect(model.rss).toBe(2 * GB);
    expect(model.memoryLimit).toEqual(LIMIT);

    // The next reading differs: the badge changes while the cell runs.
    await jest.advanceTimersByTimeAsync(ReadingsPoll.LIVE_INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(2);
    await answer(kernel, {
      rss: 2.5 * GB,
      peak_rss: 3 * GB,
      time: 1795032002,
      running: running('cell-a')
    });
    expect(model.running?.reading?.rss).toBe(2.5 * GB);
    expect(model.readings.map(r => r.rss)).toEqual([2 * GB, 2.5 * GB]);

    // The cell's record ends the running state, its idle ends polling.
    kernel.lastComm().receive({
      type: 'cell_measured',
      record: makeRecord({ cell_id: 'cell-a' })
    });
    expect(model.running).toBeNull();
    kernel.emitStatus('idle', msgId);
    await jest.advanceTimersByTimeAsync(10 * ReadingsPoll.LIVE_INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(2);
  });

  it('sends one request at a time, however slow the reply', async () => {
    const { kernel } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    await jest.advanceTimersByTimeAsync(ReadingsPoll.LIVE_INTERVAL_MS);
    await jest.advanceTimersByTimeAsync(5 * ReadingsPoll.LIVE_INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(1);
  });

  it('ignores a reading taken just before the cell ended', async () => {
    const { kernel, model } = await setup();
    const msgId = kernel.sendExecute('cell-a');
    kernel.emitStatus('busy', msgId);
    await jest.advanceTimersByTimeAsync(ReadingsPoll.LIVE_INTERVAL_MS);
    const record = makeRecord({ cell_id: 'cell-a', started_at: 1795032000.25 });
    kernel.lastComm().receive({ type: 'cell_measured', record });
    await answer(kernel, {
      rss: 2 * GB,
      peak_rss: 3 * GB,
      time: 1795032001.5,
      running: running('cell-a', record.started_at)
    });
    expect(model.running).toBeNull();
  });

  it('trusts the kernel about which cell runs', async () => {
    const { kernel, model } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    await jest.advanceTimersByTimeAsync(ReadingsPoll.LIVE_INTERVAL_MS);
    await answer(kernel, {
      rss: 2 * GB,
      peak_rss: 2 * GB,
      time: 5,
      running: running('cell-b')
    });
    expect(model.running?.cellId).toBe('cell-b');
  });

  it('applies a 1.1 reply (no running field) to the cell iopub named', async () => {
    const { kernel, model } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    await jest.advanceTimersByTimeAsync(ReadingsPoll.LIVE_INTERVAL_MS);
    await answer(kernel, { rss: 2 * GB, peak_rss: 3 * GB });
    expect(model.running).toMatchObject({
      cellId: 'cell-a',
      reading: { rss: 2 * GB, peakRss: 3 * GB }
    });
  });

  it('only records the RSS when the kernel says no measured cell runs', async () => {
    const { kernel, model } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    await jest.advanceTimersByTimeAsync(ReadingsPoll.LIVE_INTERVAL_MS);
    await answer(kernel, {
      rss: 2 * GB,
      peak_rss: 3 * GB,
      time: 5,
      running: null
    });
    expect(model.running?.reading).toBeNull();
    expect(model.rss).toBe(2 * GB);
  });

  it('marks no running cell on a kernel without the helper', async () => {
    const { kernel, context, model } = await makeClient({
      kernel: {
        supportsSubshells: true,
        executeReply: {
          status: 'error',
          ename: 'ModuleNotFoundError',
          evalue: "No module named 'memory_doctor'"
        }
      }
    });
    expect(model.status.kind).toBe('no-helper');
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    expect(model.running).toBeNull();
    kernel.setStatus('dead', context);
    expect(model.lastDeath).toBeNull();
  });

  it('does not track silent executions or other comms', async () => {
    const { kernel, model } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a', true));
    expect(model.running).toBeNull();
    kernel.emitStatus('busy', 'x', 'comm_msg');
    expect(model.running).toBeNull();
  });
});

describe('no live readings', () => {
  it('says the figures come at the end when comms cannot use a subshell', async () => {
    const { kernel, model, service } = await setup({ subshells: false });
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    expect(service.liveMode).toBe('no-subshells');
    expect(model.running).toMatchObject({
      cellId: 'cell-a',
      live: 'no-subshells'
    });
    await jest.advanceTimersByTimeAsync(10 * ReadingsPoll.LIVE_INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(0);
  });

  it('does not poll when the setting is off, and starts when it is on', async () => {
    const { kernel, model, settings } = await setup({ live: false });
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    expect(model.running?.live).toBe('off');
    await jest.advanceTimersByTimeAsync(10 * ReadingsPoll.LIVE_INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(0);
    settings.update({ ...settings.current, liveReadings: true });
    expect(model.running?.live).toBe('on');
    await jest.advanceTimersByTimeAsync(ReadingsPoll.LIVE_INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(1);
  });
});

describe('kernel death', () => {
  it('keeps the running cell and its last live reading', async () => {
    const { kernel, context, model } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    await jest.advanceTimersByTimeAsync(ReadingsPoll.LIVE_INTERVAL_MS);
    await answer(kernel, {
      rss: 7.9 * GB,
      peak_rss: 8 * GB,
      time: 1795032009,
      memory_limit: LIMIT,
      running: running('cell-a')
    });
    // What the server reports after the OOM killer struck.
    kernel.setStatus('autorestarting', context);
    expect(model.running).toBeNull();
    expect(model.lastDeath).toMatchObject({
      cellId: 'cell-a',
      executionCount: 4,
      reading: { rss: 7.9 * GB, peakRss: 8 * GB },
      limit: LIMIT
    });
    // Restarts that fail end in `dead`: the first note stays.
    kernel.setStatus('dead', context);
    expect(model.lastDeath?.cellId).toBe('cell-a');
    await jest.advanceTimersByTimeAsync(10 * ReadingsPoll.LIVE_INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(1);
  });

  it('notes the last known RSS when no cell was running', async () => {
    const { kernel, context, model } = await setup({ subshells: false });
    model.addRecord(makeRecord({ cell_id: 'cell-z', rss_after: 3 * GB }));
    kernel.setStatus('dead', context);
    expect(model.lastDeath).toMatchObject({
      cellId: null,
      reading: { rss: 3 * GB }
    });
  });

  it('leaves no note for a restart the user asked for', async () => {
    const { kernel, context, model } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    kernel.setStatus('restarting', context);
    await jest.advanceTimersByTimeAsync(0);
    expect(model.running).toBeNull();
    expect(model.lastDeath).toBeNull();
  });

  it('notes a death that JupyterLab reports as restarting, then autorestarting', async () => {
    const { kernel, context, model } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    // What KernelConnection does on the server's `restarting` status.
    void Promise.resolve().then(() =>
      kernel.setStatus('autorestarting', context)
    );
    kernel.setStatus('restarting', context);
    await flush();
    await jest.advanceTimersByTimeAsync(0);
    expect(model.lastDeath?.cellId).toBe('cell-a');
    expect(model.running).toBeNull();
  });

  it('clears the note when the cell runs again', async () => {
    const { kernel, context, model } = await setup({ subshells: false });
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    kernel.setStatus('autorestarting', context);
    expect(model.lastDeath?.cellId).toBe('cell-a');
    // The client loads the helper into the restarted kernel.
    kernel.setStatus('idle', context);
    await flush();
    kernel.lastComm().receive(makeHello({ protocol_version: '1.2' }));
    expect(model.lastDeath?.cellId).toBe('cell-a');
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    expect(model.lastDeath).toBeNull();
  });
});

describe('idle readings', () => {
  const IDLE_S = 5;

  afterEach(() => setHidden(false));

  it('reads every statusRefreshSeconds and records the reading, limit included', async () => {
    const { kernel, model } = await setup({ idleSeconds: IDLE_S });
    await jest.advanceTimersByTimeAsync(IDLE_S * 1000 - 1);
    expect(rssRequests(kernel)).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(rssRequests(kernel)).toHaveLength(1);
    await answer(kernel, {
      rss: 3 * GB,
      peak_rss: 4 * GB,
      time: 1795032100,
      memory_limit: LIMIT,
      running: null
    });
    expect(model.memoryLimit).toEqual(LIMIT);
    expect(model.rss).toBe(3 * GB);
    expect(model.readings).toEqual([
      { time: 1795032100, rss: 3 * GB, peakRss: 4 * GB }
    ]);
    expect(model.running).toBeNull();
    await jest.advanceTimersByTimeAsync(IDLE_S * 1000);
    expect(rssRequests(kernel)).toHaveLength(2);
  });

  it('takes the time of a 1.1 reply from the clock', async () => {
    const { kernel, model } = await setup({ idleSeconds: IDLE_S });
    await jest.advanceTimersByTimeAsync(IDLE_S * 1000);
    await answer(kernel, { rss: 3 * GB, peak_rss: 4 * GB });
    expect(model.readings[0].time).toBe(Date.now() / 1000);
    expect(model.memoryLimit).toBeNull();
  });

  it('does not ask a busy kernel (the request would wait behind the cell)', async () => {
    const { kernel, context } = await setup({ idleSeconds: IDLE_S });
    kernel.setStatus('busy', context);
    await jest.advanceTimersByTimeAsync(3 * IDLE_S * 1000);
    expect(rssRequests(kernel)).toHaveLength(0);
    kernel.setStatus('idle', context);
    await jest.advanceTimersByTimeAsync(IDLE_S * 1000);
    expect(rssRequests(kernel)).toHaveLength(1);
  });

  it('stands by while the tab is hidden and resumes when it shows', async () => {
    const { kernel } = await setup({ idleSeconds: IDLE_S });
    setHidden(true);
    await jest.advanceTimersByTimeAsync(3 * IDLE_S * 1000);
    expect(rssRequests(kernel)).toHaveLength(0);
    setHidden(false);
    await jest.advanceTimersByTimeAsync(IDLE_S * 1000);
    expect(rssRequests(kernel)).toHaveLength(1);
  });

  it('goes on reading a running cell in a hidden tab, for the death note', async () => {
    const { kernel } = await setup({ idleSeconds: IDLE_S });
    setHidden(true);
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    await jest.advanceTimersByTimeAsync(ReadingsPoll.LIVE_INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(1);
  });

  it('never reads when statusRefreshSeconds is 0, and starts when it is set', async () => {
    const { kernel, settings } = await setup({ idleSeconds: 0 });
    await jest.advanceTimersByTimeAsync(3600 * 1000);
    expect(rssRequests(kernel)).toHaveLength(0);
    settings.update({ ...settings.current, statusRefreshSeconds: 2 });
    await jest.advanceTimersByTimeAsync(2000);
    expect(rssRequests(kernel)).toHaveLength(1);
  });

  it('stops when the kernel restarts and starts again with the next hello', async () => {
    const { kernel, context } = await setup({ idleSeconds: IDLE_S });
    kernel.setStatus('restarting', context);
    await jest.advanceTimersByTimeAsync(3 * IDLE_S * 1000);
    expect(kernel.comms).toHaveLength(1);
    expect(rssRequests(kernel)).toHaveLength(0);
    kernel.setStatus('idle', context);
    await flush();
    kernel.lastComm().receive(makeHello({ protocol_version: '1.2' }));
    await jest.advanceTimersByTimeAsync(IDLE_S * 1000);
    expect(rssRequests(kernel)).toHaveLength(1);
  });
});

describe('one poll, two cadences', () => {
  const IDLE_S = 5;
  const LIVE = ReadingsPoll.LIVE_INTERVAL_MS;

  const reply = { rss: GB, peak_rss: GB, running: null };

  it('reads twice a second while a cell runs, then at the idle cadence again', async () => {
    const { kernel, service } = await setup({ idleSeconds: IDLE_S });
    expect(service.readings.interval).toBe(IDLE_S * 1000);
    await jest.advanceTimersByTimeAsync(IDLE_S * 1000 - LIVE);
    const msgId = kernel.sendExecute('cell-a');
    kernel.emitStatus('busy', msgId);
    expect(service.readings.interval).toBe(LIVE);
    // The idle countdown does not fire in between: the next is LIVE away.
    await jest.advanceTimersByTimeAsync(LIVE - 1);
    expect(rssRequests(kernel)).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(rssRequests(kernel)).toHaveLength(1);
    await answer(kernel, reply);
    await jest.advanceTimersByTimeAsync(LIVE);
    expect(rssRequests(kernel)).toHaveLength(2);
    await answer(kernel, reply);

    kernel.emitStatus('idle', msgId);
    expect(service.readings.interval).toBe(IDLE_S * 1000);
    await jest.advanceTimersByTimeAsync(IDLE_S * 1000 - 1);
    expect(rssRequests(kernel)).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(rssRequests(kernel)).toHaveLength(3);
  });

  it('sends nothing while a cell runs on a kernel without subshells', async () => {
    const { kernel, service } = await setup({
      idleSeconds: IDLE_S,
      subshells: false
    });
    const msgId = kernel.sendExecute('cell-a');
    kernel.emitStatus('busy', msgId);
    await jest.advanceTimersByTimeAsync(10 * IDLE_S * 1000);
    expect(rssRequests(kernel)).toHaveLength(0);
    expect(service.readings.interval).toBe(Infinity);
    kernel.emitStatus('idle', msgId);
    await jest.advanceTimersByTimeAsync(IDLE_S * 1000);
    expect(rssRequests(kernel)).toHaveLength(1);
  });

  it('keeps the live countdown when a second execution starts', async () => {
    const { kernel } = await setup({ idleSeconds: IDLE_S });
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    await jest.advanceTimersByTimeAsync(LIVE - 100);
    kernel.emitStatus('busy', kernel.sendExecute('cell-b'));
    await jest.advanceTimersByTimeAsync(100);
    expect(rssRequests(kernel)).toHaveLength(1);
  });
});
