import type { NotebookPanel } from '@jupyterlab/notebook';
import { signalToPromise } from '@jupyterlab/testutils';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import { MemoryDoctorSettings } from '../settings';
import { MemoryDoctorTracker } from '../tracker';
import {
  FakeKernel,
  FakeNotebookTracker,
  FakeSessionContext,
  flush,
  makeHello,
  RecordingUserInterface
} from './fakes';

const trans = nullTranslator.load('jupyterlab_memory_doctor');

/** A notebook panel as the tracker uses it: a session, cells, disposal. */
class FakePanel {
  constructor(readonly id: string) {
    this.kernel = new FakeKernel();
    this.context = new FakeSessionContext(this.kernel);
    this.context.makeReady();
  }

  readonly kernel: FakeKernel;
  readonly context: FakeSessionContext;
  readonly content = { widgets: [], model: null };
  readonly disposed = new Signal<this, void>(this);
  isDisposed = false;

  get sessionContext() {
    return this.context.asContext();
  }

  dispose(): void {
    this.isDisposed = true;
    this.disposed.emit();
  }

  asPanel(): NotebookPanel {
    return this as unknown as NotebookPanel;
  }
}

describe('MemoryDoctorTracker', () => {
  let notebooks: FakeNotebookTracker;
  let doctor: MemoryDoctorTracker;
  let settings: MemoryDoctorSettings;

  beforeEach(() => {
    notebooks = new FakeNotebookTracker();
    settings = new MemoryDoctorSettings();
  });

  afterEach(() => {
    doctor.dispose();
    settings.dispose();
  });

  function start(): void {
    doctor = new MemoryDoctorTracker({
      notebooks: notebooks.asTracker(),
      settings,
      trans,
      ui: new RecordingUserInterface()
    });
  }

  it('gives every notebook its own service and models, restored ones too', async () => {
    const restored = new FakePanel('a');
    notebooks.add(restored.asPanel());
    start();
    const added = new FakePanel('b');
    const entryAdded = signalToPromise(doctor.entryAdded);
    notebooks.add(added.asPanel());
    const [, entry] = await entryAdded;
    expect(entry.panel).toBe(added);
    const first = doctor.get(restored.asPanel())!;
    expect(first.service).not.toBe(entry.service);
    expect(first.model).not.toBe(entry.model);
    // The service writes the entry's model: the helper's hello makes it ready.
    await flush();
    restored.kernel.lastComm().receive(makeHello());
    expect(first.model.status.kind).toBe('ready');
    expect(entry.model.status.kind).toBe('connecting');
  });

  it('follows the current notebook, including one that gets its entry later', async () => {
    start();
    expect(doctor.current).toBeNull();
    const a = new FakePanel('a');
    const b = new FakePanel('b');
    notebooks.add(a.asPanel());
    const changed = signalToPromise(doctor.currentChanged);
    notebooks.setCurrent(a.asPanel());
    expect((await changed)[1]).toBe(doctor.get(a.asPanel()));
    // JupyterLab may make a panel current before it announces it.
    notebooks.setCurrent(b.asPanel());
    expect(doctor.current).toBeNull();
    notebooks.add(b.asPanel());
    expect(doctor.current).toBe(doctor.get(b.asPanel()));
    expect(doctor.current?.panel).toBe(b);
  });

  it('drops the entry of a closed notebook, the current one included', () => {
    start();
    const a = new FakePanel('a');
    notebooks.add(a.asPanel());
    notebooks.setCurrent(a.asPanel());
    const entry = doctor.get(a.asPanel())!;
    const seen: unknown[] = [];
    doctor.currentChanged.connect((_, current) => seen.push(current));
    a.dispose();
    expect(doctor.get(a.asPanel())).toBeUndefined();
    expect(doctor.current).toBeNull();
    expect(seen).toEqual([null]);
    expect(a.kernel.comms.every(c => c.closed)).toBe(true);
    expect(entry.model.status.kind).toBe('connecting');
  });
});
