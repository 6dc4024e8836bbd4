import { commsOverSubshells, LiveReadings } from '../live';
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

/** A client whose 1.2 helper answered `hello`, live readings on by default. */
async function setup(
  options: { subshells?: boolean; live?: boolean } = {}
): Promise<IClientHarness> {
  const settings = new MemoryDoctorSettings();
  settings.update({
    statusRefreshSeconds: 0,
    liveReadings: options.live ?? true
  });
  const harness = await makeClient({
    kernel: { supportsSubshells: options.subshells ?? true },
    settings
  });
  harness.kernel.lastComm().receive(makeHello({ protocol_version: '1.2' }));
  return harness;
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

describe('LiveReadings with comms over a subshell', () => {
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

    jest.advanceTimersByTime(LiveReadings.INTERVAL_MS);
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
    jest.advanceTimersByTime(LiveReadings.INTERVAL_MS);
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
    jest.advanceTimersByTime(10 * LiveReadings.INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(2);
  });

  it('sends one request at a time, however slow the reply', async () => {
    const { kernel } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    jest.advanceTimersByTime(LiveReadings.INTERVAL_MS);
    jest.advanceTimersByTime(5 * LiveReadings.INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(1);
  });

  it('ignores a reading taken just before the cell ended', async () => {
    const { kernel, model } = await setup();
    const msgId = kernel.sendExecute('cell-a');
    kernel.emitStatus('busy', msgId);
    jest.advanceTimersByTime(LiveReadings.INTERVAL_MS);
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
    jest.advanceTimersByTime(LiveReadings.INTERVAL_MS);
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
    jest.advanceTimersByTime(LiveReadings.INTERVAL_MS);
    await answer(kernel, { rss: 2 * GB, peak_rss: 3 * GB });
    expect(model.running).toMatchObject({
      cellId: 'cell-a',
      reading: { rss: 2 * GB, peakRss: 3 * GB }
    });
  });

  it('only records the RSS when the kernel says no measured cell runs', async () => {
    const { kernel, model } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    jest.advanceTimersByTime(LiveReadings.INTERVAL_MS);
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

describe('LiveReadings without live readings', () => {
  it('says the figures come at the end when comms cannot use a subshell', async () => {
    const { kernel, model, client } = await setup({ subshells: false });
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    expect(client.live.mode).toBe('no-subshells');
    expect(model.running).toMatchObject({
      cellId: 'cell-a',
      live: 'no-subshells'
    });
    jest.advanceTimersByTime(10 * LiveReadings.INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(0);
  });

  it('does not poll when the setting is off, and starts when it is on', async () => {
    const { kernel, model, settings } = await setup({ live: false });
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    expect(model.running?.live).toBe('off');
    jest.advanceTimersByTime(10 * LiveReadings.INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(0);
    settings.update({ ...settings.current, liveReadings: true });
    expect(model.running?.live).toBe('on');
    jest.advanceTimersByTime(LiveReadings.INTERVAL_MS);
    expect(rssRequests(kernel)).toHaveLength(1);
  });
});

describe('kernel death', () => {
  it('keeps the running cell and its last live reading', async () => {
    const { kernel, context, model } = await setup();
    kernel.emitStatus('busy', kernel.sendExecute('cell-a'));
    jest.advanceTimersByTime(LiveReadings.INTERVAL_MS);
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
    jest.advanceTimersByTime(10 * LiveReadings.INTERVAL_MS);
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
    jest.advanceTimersByTime(0);
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
    jest.advanceTimersByTime(0);
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
