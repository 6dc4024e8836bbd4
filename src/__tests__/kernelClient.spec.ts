import {
  BOOTSTRAP_CODE,
  COMM_TARGET,
  PIP_INSTALL_HINT,
  PROTOCOL_VERSION
} from '../protocol';
import { CLIENT_NAME } from '../tokens';
import {
  disposeClients,
  FakeKernel,
  flush,
  IClientHarness,
  makeClient,
  makeHello,
  makeRecord
} from './fakes';

function setup(
  kernelOptions: FakeKernel.IOptions = {},
  extra: { requestTimeoutMs?: number; ready?: boolean } = {}
): Promise<IClientHarness> {
  return makeClient({ kernel: kernelOptions, ...extra });
}

/** Set up and answer the comm_open with a hello. */
async function setupReady(
  extra: { requestTimeoutMs?: number } = {}
): Promise<IClientHarness> {
  const harness = await setup({}, extra);
  harness.kernel.lastComm().receive(makeHello());
  return harness;
}

let warn: jest.SpyInstance;

beforeEach(() => {
  warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});

afterEach(() => {
  disposeClients();
  warn.mockRestore();
});

describe('bootstrap', () => {
  it('sends exactly one silent execute request with the bootstrap line', async () => {
    const { kernel, model } = await setup();
    expect(kernel.executed).toEqual([
      {
        code: BOOTSTRAP_CODE,
        silent: true,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false
      }
    ]);
    expect(model.status.kind).toBe('connecting');
  });

  it('opens the comm with the protocol version in data and metadata', async () => {
    const { kernel } = await setup();
    expect(kernel.comms.length).toBe(1);
    const comm = kernel.lastComm();
    expect(comm.targetName).toBe(COMM_TARGET);
    expect(comm.opened).toEqual([
      [
        {
          protocol_version: PROTOCOL_VERSION,
          client: CLIENT_NAME,
          config: { tracemalloc: false }
        },
        { version: PROTOCOL_VERSION }
      ]
    ]);
  });

  it('never sends other code, whatever the kernel says', async () => {
    const { kernel, client } = await setupReady();
    const comm = kernel.lastComm();
    comm.receive({ type: 'cell_measured', record: makeRecord() });
    const pending = client.request('get_rss', {});
    comm.receive({
      type: 'reply',
      request_id: comm.lastRequest().request_id,
      ok: true,
      result: { rss: 1, peak_rss: 2 }
    });
    await pending;
    expect(kernel.executed.map(e => e.code)).toEqual([BOOTSTRAP_CODE]);
  });

  it('bootstraps once when kernelChanged precedes ready', async () => {
    const { kernel, context } = await setup({}, { ready: false });
    context.changeKernel(kernel);
    context.makeReady();
    await flush();
    expect(kernel.executed.length).toBe(1);
    expect(kernel.comms.length).toBe(1);
  });

  it('reports a missing helper once, with the pip command', async () => {
    const { kernel, context, model, ui } = await setup({
      executeReply: {
        status: 'error',
        ename: 'ModuleNotFoundError',
        evalue: "No module named 'memory_doctor'"
      }
    });
    expect(model.status).toEqual({ kind: 'no-helper', hint: PIP_INSTALL_HINT });
    expect(ui.missing).toEqual([PIP_INSTALL_HINT]);
    expect(PIP_INSTALL_HINT).toBe('%pip install jupyterlab-memory-doctor');
    expect(kernel.comms.length).toBe(0);
    // A restart bootstraps again but does not notify again.
    kernel.setStatus('restarting', context);
    kernel.setStatus('idle', context);
    await flush();
    expect(kernel.executed.length).toBe(2);
    expect(ui.missing.length).toBe(1);
  });

  it('names the notebook, and takes the notice away once the helper loads', async () => {
    const { kernel, context, model, ui } = await setup({
      executeReply: {
        status: 'error',
        ename: 'ModuleNotFoundError',
        evalue: "No module named 'memory_doctor'"
      }
    });
    expect(ui.notebooks).toEqual(['analysis.ipynb']);
    // A restart that still lacks the helper leaves the notice up.
    kernel.setStatus('restarting', context);
    kernel.setStatus('idle', context);
    await flush();
    expect(ui.dismissed).toBe(0);
    // Installed and restarted: the helper answers, the notice goes.
    kernel.executeReply = { status: 'ok' };
    kernel.setStatus('restarting', context);
    kernel.setStatus('idle', context);
    await flush();
    kernel.lastComm().receive(makeHello());
    await flush();
    expect(model.status.kind).toBe('ready');
    expect(ui.dismissed).toBe(1);
  });

  it("takes the notice away when the notebook's kernel changes", async () => {
    const { context, ui } = await setup({
      executeReply: {
        status: 'error',
        ename: 'ModuleNotFoundError',
        evalue: "No module named 'memory_doctor'"
      }
    });
    expect(ui.missing).toHaveLength(1);
    const other = new FakeKernel({
      executeReply: {
        status: 'error',
        ename: 'ModuleNotFoundError',
        evalue: "No module named 'memory_doctor'"
      }
    });
    context.changeKernel(other);
    await flush();
    expect(ui.dismissed).toBe(1);
    // The new kernel lacks it too: said again, for it.
    expect(ui.missing).toHaveLength(2);
  });

  it('turns any other bootstrap error into an error state', async () => {
    const { model, kernel } = await setup({
      executeReply: { status: 'error', ename: 'ImportError', evalue: 'bad so' }
    });
    expect(model.status).toEqual({
      kind: 'error',
      message: 'ImportError: bad so'
    });
    expect(kernel.comms.length).toBe(0);
  });
});

describe('unsupported kernels', () => {
  it('leaves a non-Python kernel alone', async () => {
    const { kernel, model, ui } = await setup({ language: 'R' });
    expect(model.status).toEqual({ kind: 'unsupported', reason: 'language' });
    expect(kernel.executed).toEqual([]);
    expect(kernel.comms).toEqual([]);
    expect(ui.missing).toEqual([]);
  });

  it('leaves a connection that does not handle comms alone', async () => {
    const { kernel, model } = await setup({ handleComms: false });
    expect(model.status).toEqual({ kind: 'unsupported', reason: 'comms' });
    expect(kernel.executed).toEqual([]);
  });
});

describe('messages', () => {
  it('becomes ready on hello and replays its records', async () => {
    const { kernel, model } = await setup();
    kernel
      .lastComm()
      .receive(
        makeHello({ records: [makeRecord({ cell_id: 'a' })], rss: 5000 })
      );
    expect(model.status).toEqual({
      kind: 'ready',
      peakMethod: 'vmhwm',
      peakExact: true,
      helperVersion: '0.1.0',
      python: '3.11.7',
      pid: 4242
    });
    expect(model.rss).toBe(5000);
    expect(model.history('a').length).toBe(1);
  });

  it('reports a version mismatch naming both versions', async () => {
    const { kernel, model, ui } = await setup();
    const comm = kernel.lastComm();
    comm.receive(
      makeHello({ protocol_version: '2.0', helper_version: '9.9.9' })
    );
    expect(model.status.kind).toBe('mismatch');
    const message = (model.status as { message: string }).message;
    expect(message).toContain(`protocol ${PROTOCOL_VERSION}`);
    expect(message).toContain('2.0');
    expect(message).toContain('9.9.9');
    expect(ui.mismatches).toEqual([message]);
    expect(comm.closed).toBe(true);
  });

  it('treats a protocol_mismatch error as a mismatch', async () => {
    const { kernel, model, ui } = await setup();
    const text = 'front end speaks 2.0 but helper speaks 1.0';
    kernel.lastComm().receive({
      type: 'error',
      code: 'protocol_mismatch',
      message: text,
      protocol_version: '1.0'
    });
    expect(model.status).toEqual({ kind: 'mismatch', message: text });
    expect(ui.mismatches).toEqual([text]);
  });

  it('adds measured cells to the model and updates the RSS', async () => {
    const { kernel, model } = await setupReady();
    kernel.lastComm().receive({
      type: 'cell_measured',
      record: makeRecord({ cell_id: 'c', rss_after: 4242 })
    });
    expect(model.last('c')?.rss_after).toBe(4242);
    expect(model.rss).toBe(4242);
  });

  it('ignores malformed and unknown messages, warning once for each problem, naming its path', async () => {
    const { kernel, model } = await setupReady();
    const comm = kernel.lastComm();
    for (let i = 0; i < 2; i++) {
      comm.receive({ type: 'cell_measured', record: { cell_id: 'x' } });
      comm.receive({ type: 'frobnicate' });
      comm.receive('not an object');
    }
    expect(model.status.kind).toBe('ready');
    expect([...model.cellIds()]).toEqual([]);
    expect(warn.mock.calls.map(call => call[0])).toEqual([
      'Memory Doctor: Ignoring a malformed message from the kernel helper: KernelMessage.record.execution_count: expected an integer ≥ 0, got nothing (missing)',
      'Memory Doctor: Ignoring a "frobnicate" message: the kernel helper is newer than this front end.',
      'Memory Doctor: Ignoring a malformed message from the kernel helper: KernelMessage: expected an object, got "not an object"'
    ]);
  });

  it('fails a request at once when its reply is malformed', async () => {
    const { client, kernel } = await setupReady();
    const error = jest.spyOn(console, 'error').mockImplementation(() => {});
    const pending = client.request('get_rss', {});
    const { request_id } = kernel.lastComm().lastRequest();
    kernel.lastComm().receive({
      type: 'reply',
      request_id,
      ok: false,
      error: { code: 'some_newer_code', message: 'no' }
    });
    await expect(pending).rejects.toMatchObject({
      code: 'bad_reply',
      message: expect.stringContaining('KernelMessage.error.code')
    });
    const second = client.request('get_rss', {});
    kernel.lastComm().receive({
      type: 'reply',
      request_id: kernel.lastComm().lastRequest().request_id,
      ok: true,
      result: { rss: 'lots', peak_rss: 1 }
    });
    await expect(second).rejects.toMatchObject({
      code: 'bad_reply',
      message: expect.stringContaining(
        'get_rss result.rss: expected an integer ≥ 0, got "lots"'
      )
    });
    expect(error).toHaveBeenCalledTimes(2);
    error.mockRestore();
  });

  it('goes to an error state when the kernel closes the comm', async () => {
    const { kernel, model, client } = await setupReady();
    const pending = client.request('get_rss', {});
    kernel.lastComm().receiveClose();
    await expect(pending).rejects.toMatchObject({ code: 'closed' });
    expect(model.status.kind).toBe('error');
    expect(client.isReady).toBe(false);
  });
});

describe('requests', () => {
  it('resolves the request whose id the reply carries', async () => {
    const { kernel, client } = await setupReady();
    const comm = kernel.lastComm();
    const first = client.request('get_rss', {});
    const firstId = comm.lastRequest().request_id;
    const second = client.request('configure', { tracemalloc: true });
    const secondId = comm.lastRequest().request_id;
    expect(comm.lastRequest()).toEqual({
      type: 'configure',
      request_id: secondId,
      tracemalloc: true
    });
    expect(firstId).not.toBe(secondId);
    comm.receive({
      type: 'reply',
      request_id: secondId,
      ok: true,
      result: { config: { tracemalloc: true } }
    });
    comm.receive({
      type: 'reply',
      request_id: firstId,
      ok: true,
      result: { rss: 10, peak_rss: 20 }
    });
    await expect(second).resolves.toEqual({ config: { tracemalloc: true } });
    await expect(first).resolves.toEqual({ rss: 10, peak_rss: 20 });
  });

  it('rejects with the error code of a failed reply', async () => {
    const { kernel, client } = await setupReady();
    const comm = kernel.lastComm();
    const pending = client.request('configure', { tracemalloc: true });
    comm.receive({
      type: 'reply',
      request_id: comm.lastRequest().request_id,
      ok: false,
      error: { code: 'bad_request', message: 'nope' }
    });
    await expect(pending).rejects.toMatchObject({
      code: 'bad_request',
      message: 'nope'
    });
  });

  it('ignores a reply with an unknown id', async () => {
    const { kernel, client } = await setupReady();
    const comm = kernel.lastComm();
    const pending = client.request('get_rss', {});
    const id = comm.lastRequest().request_id;
    comm.receive({ type: 'reply', request_id: 'nope', ok: true, result: {} });
    expect(warn).toHaveBeenCalledTimes(1);
    comm.receive({
      type: 'reply',
      request_id: id,
      ok: true,
      result: { rss: 1, peak_rss: 1 }
    });
    await expect(pending).resolves.toEqual({ rss: 1, peak_rss: 1 });
  });

  it('rejects after the timeout', async () => {
    const { client } = await setupReady({ requestTimeoutMs: 5 });
    await expect(client.request('get_rss', {})).rejects.toMatchObject({
      code: 'timeout'
    });
  });

  it('rejects at once when not connected', async () => {
    const { client } = await setup({ language: 'R' });
    await expect(client.request('get_rss', {})).rejects.toMatchObject({
      code: 'not_connected'
    });
  });

  it('sends configure when the tracemalloc setting changes', async () => {
    const { kernel, settings } = await setupReady();
    await settings.set('tracemalloc', true);
    const comm = kernel.lastComm();
    expect(comm.lastRequest()).toMatchObject({
      type: 'configure',
      tracemalloc: true
    });
    comm.receive({
      type: 'reply',
      request_id: comm.lastRequest().request_id,
      ok: true,
      result: { config: { tracemalloc: true } }
    });
    await flush();
    expect(warn).not.toHaveBeenCalled();
  });

  it('polls get_rss while idle only', async () => {
    const { kernel, settings, context, model } = await setupReady();
    const comm = kernel.lastComm();
    jest.useFakeTimers();
    try {
      settings.update({ statusRefreshSeconds: 2 });
      await jest.advanceTimersByTimeAsync(2000);
      expect(comm.lastRequest()).toMatchObject({ type: 'get_rss' });
      comm.receive({
        type: 'reply',
        request_id: comm.lastRequest().request_id,
        ok: true,
        result: { rss: 777, peak_rss: 800 }
      });
      await flush();
      expect(model.rss).toBe(777);
      const count = comm.sent.length;
      kernel.setStatus('busy', context);
      await jest.advanceTimersByTimeAsync(10000);
      expect(comm.sent.length).toBe(count);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('lifecycle', () => {
  it('marks the model stale on restart and bootstraps again once idle', async () => {
    const { kernel, context, model, client } = await setupReady();
    const oldComm = kernel.lastComm();
    const pending = client.request('get_rss', {});
    kernel.setStatus('restarting', context);
    expect(model.status.kind).toBe('stale');
    await expect(pending).rejects.toMatchObject({ code: 'closed' });
    kernel.setStatus('starting', context);
    await flush();
    expect(kernel.executed.length).toBe(1); // Not while restarting.
    kernel.setStatus('idle', context);
    await flush();
    expect(kernel.executed.length).toBe(2);
    expect(kernel.comms.length).toBe(2);
    // A late message on the old comm is dropped.
    oldComm.receive({ type: 'cell_measured', record: makeRecord() });
    expect(model.history('cell-1')).toEqual([]);
    kernel.lastComm().receive(makeHello());
    expect(model.status.kind).toBe('ready');
    // Later idles do not bootstrap again.
    kernel.setStatus('busy', context);
    kernel.setStatus('idle', context);
    await flush();
    expect(kernel.executed.length).toBe(2);
  });

  it('waits for the connection before bootstrapping after a restart', async () => {
    const { kernel, context } = await setupReady();
    kernel.setStatus('autorestarting', context);
    kernel.setConnectionStatus('connecting', context);
    kernel.setStatus('idle', context);
    await flush();
    expect(kernel.executed.length).toBe(1);
    kernel.setConnectionStatus('connected', context);
    await flush();
    expect(kernel.executed.length).toBe(2);
  });

  it('re-registers on kernelChanged and drops the old comm', async () => {
    const { kernel, context, model } = await setupReady();
    const oldComm = kernel.lastComm();
    const next = new FakeKernel();
    context.changeKernel(next);
    await flush();
    expect(next.executed.map(e => e.code)).toEqual([BOOTSTRAP_CODE]);
    expect(next.comms.length).toBe(1);
    oldComm.receive({ type: 'cell_measured', record: makeRecord() });
    expect(model.history('cell-1')).toEqual([]);
    next.lastComm().receive({ type: 'cell_measured', record: makeRecord() });
    expect(model.history('cell-1').length).toBe(1);
  });

  it('ignores a stale bootstrap when the kernel changes meanwhile', async () => {
    const { kernel, context, model } = await setup({}, { ready: false });
    context.changeKernel(kernel);
    const next = new FakeKernel({ language: 'R' });
    context.changeKernel(next);
    await flush();
    expect(kernel.comms.length).toBe(0);
    expect(model.status).toEqual({ kind: 'unsupported', reason: 'language' });
  });

  it('reports a dead kernel', async () => {
    const { kernel, context, model, client } = await setupReady();
    kernel.setStatus('dead', context);
    expect(model.status).toEqual({ kind: 'dead' });
    expect(client.isReady).toBe(false);
  });

  it('reload() runs the bootstrap again', async () => {
    const { kernel, client } = await setupReady();
    await client.reload();
    expect(kernel.executed.length).toBe(2);
    expect(kernel.comms.length).toBe(2);
  });

  it('closes the comm on dispose, idempotently', async () => {
    const { kernel, client, model } = await setupReady();
    client.dispose();
    client.dispose();
    expect(client.isDisposed).toBe(true);
    expect(kernel.lastComm().closed).toBe(true);
    kernel.lastComm().receive({ type: 'cell_measured', record: makeRecord() });
    expect(model.history('cell-1')).toEqual([]);
  });
});
