/**
 * Builders for the holders panel tests: holders, scan results, a connected
 * kernel client on the fake kernel, and fake notebook/tracker objects.
 */

import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';

import { KernelClient } from '../kernelClient';
import { MemoryModel } from '../model';
import type { IHolder, IScanResult } from '../protocol';
import { MemoryDoctorSettings } from '../settings';
import type { IMemoryDoctorEntry, IMemoryDoctorTracker } from '../tokens';
import {
  FakeComm,
  FakeKernel,
  FakeSessionContext,
  flush,
  makeHello,
  RecordingUserInterface
} from './fakes';

/** A valid holder, with overrides. */
export function makeHolder(overrides: Partial<IHolder> = {}): IHolder {
  const labels = overrides.labels ?? ['df'];
  return {
    id: 'h1',
    labels,
    kind: 'variable',
    roots: labels.map(label => ({ label, kind: 'variable' as const })),
    type: 'pandas.DataFrame',
    retained_bytes: 2_100_000_000,
    objects: 12,
    path: labels[0],
    cell_id: 'cell-1',
    execution_count: 1,
    composition: [{ type: 'numpy.ndarray', bytes: 2_000_000_000, count: 4 }],
    shared: labels.length > 1,
    device: null,
    file_backed: false,
    ...overrides
  };
}

/** A complete scan result with these holders. */
export function makeScanResult(
  holders: IHolder[],
  overrides: Partial<IScanResult> = {},
  scan: Partial<IScanResult['scan']> = {}
): IScanResult {
  const attributed = holders.reduce((sum, h) => sum + h.retained_bytes, 0);
  return {
    scan: {
      duration_s: 1.42,
      objects_visited: 5_012_345,
      complete: true,
      stopped: null,
      ...scan
    },
    rss: attributed + 750_000_000,
    attributed_bytes: attributed,
    unattributed_bytes: 750_000_000,
    holders,
    ...overrides
  };
}

/** `n` distinct holders, largest first, named `v0`, `v1`, … */
export function manyHolders(n: number): IHolder[] {
  const holders: IHolder[] = [];
  for (let i = 0; i < n; i++) {
    holders.push(
      makeHolder({
        id: `h${i}`,
        labels: [`v${i}`],
        retained_bytes: (n - i) * 1000,
        objects: i + 1,
        execution_count: (i % 50) + 1,
        cell_id: `cell-${i % 50}`
      })
    );
  }
  return holders;
}

/** A notebook's memory state, connected to a fake kernel. */
export interface IConnected {
  kernel: FakeKernel;
  context: FakeSessionContext;
  entry: IMemoryDoctorEntry;
  settings: MemoryDoctorSettings;
  /** The open comm. */
  comm(): FakeComm;
}

const clients: KernelClient[] = [];

/** Dispose every client made by `connect` (call in `afterEach`). */
export function disposeClients(): void {
  for (const client of clients.splice(0)) {
    client.dispose();
  }
}

/** A `MemoryModel` + `KernelClient` whose helper answered `hello`. */
export async function connect(
  settings = new MemoryDoctorSettings()
): Promise<IConnected> {
  settings.update({ ...settings.current, statusRefreshSeconds: 0 });
  const kernel = new FakeKernel();
  const context = new FakeSessionContext(kernel);
  const model = new MemoryModel();
  const client = new KernelClient({
    sessionContext: context.asContext(),
    model,
    settings,
    ui: new RecordingUserInterface()
  });
  clients.push(client);
  context.makeReady();
  await flush();
  kernel.lastComm().receive(makeHello({ protocol_version: '1.1' }));
  return {
    kernel,
    context,
    entry: { model, client },
    settings,
    comm: () => kernel.lastComm()
  };
}

/** Answer the last `scan` request sent on `comm` with `result`. */
export function answerScan(comm: FakeComm, result: unknown): string {
  const request = [...comm.sent].reverse().find(r => r.type === 'scan');
  if (!request) {
    throw new Error('No scan was requested.');
  }
  const requestId = request.request_id as string;
  comm.receive({ type: 'reply', request_id: requestId, ok: true, result });
  return requestId;
}

/** A cell widget as `revealCell` sees it. */
export interface IFakeCell {
  model: { id: string };
  node: HTMLElement;
}

/** A notebook panel with cells `cell-0` … `cell-(n-1)`. */
export function makeNotebookPanel(
  cellCount = 3,
  id = 'notebook-1'
): NotebookPanel & {
  content: { scrolledTo: number[]; activeCellIndex: number };
} {
  const widgets: IFakeCell[] = [];
  for (let i = 0; i < cellCount; i++) {
    widgets.push({
      model: { id: `cell-${i}` },
      node: document.createElement('div')
    });
  }
  const content = {
    widgets,
    activeCellIndex: 0,
    scrolledTo: [] as number[],
    scrollToItem(index: number): Promise<void> {
      this.scrolledTo.push(index);
      return Promise.resolve();
    }
  };
  return { id, content } as unknown as NotebookPanel & {
    content: { scrolledTo: number[]; activeCellIndex: number };
  };
}

/** A notebook tracker with a settable current widget. */
export class FakeNotebookTracker {
  currentWidget: NotebookPanel | null = null;
  readonly currentChanged = new Signal<this, NotebookPanel | null>(this);

  /** Make `panel` current and emit. */
  setCurrent(panel: NotebookPanel | null): void {
    this.currentWidget = panel;
    this.currentChanged.emit(panel);
  }

  /** This fake, typed as the panel expects. */
  asTracker(): INotebookTracker {
    return this as unknown as INotebookTracker;
  }
}

/** An `IMemoryDoctorTracker` over a fixed panel → entry map. */
export class FakeDoctor implements IMemoryDoctorTracker {
  constructor(readonly settings: MemoryDoctorSettings) {}

  readonly entries = new Map<NotebookPanel, IMemoryDoctorEntry>();
  readonly entryAdded: Signal<IMemoryDoctorTracker, NotebookPanel> = new Signal<
    IMemoryDoctorTracker,
    NotebookPanel
  >(this);

  get(panel: NotebookPanel): IMemoryDoctorEntry | undefined {
    return this.entries.get(panel);
  }

  /** Track a panel and emit `entryAdded`. */
  add(panel: NotebookPanel, entry: IMemoryDoctorEntry): void {
    this.entries.set(panel, entry);
    this.entryAdded.emit(panel);
  }
}

/** A connected kernel client registered for one current notebook. */
export interface IConnectedNotebook extends IConnected {
  notebook: ReturnType<typeof makeNotebookPanel>;
  tracker: FakeNotebookTracker;
  doctor: FakeDoctor;
}

/**
 * `connect`, then a notebook of `cells` cells that the fake tracker holds as
 * current and the fake doctor maps to that client: what a holders panel needs.
 */
export async function connectNotebook(
  cells: number,
  settings = new MemoryDoctorSettings()
): Promise<IConnectedNotebook> {
  const connected = await connect(settings);
  const tracker = new FakeNotebookTracker();
  const doctor = new FakeDoctor(settings);
  const notebook = makeNotebookPanel(cells);
  doctor.add(notebook, connected.entry);
  tracker.setCurrent(notebook);
  return { ...connected, notebook, tracker, doctor };
}
