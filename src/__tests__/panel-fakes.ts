/**
 * Builders for the side panel tests: holders, scan results, a connected
 * kernel client on the fake kernel, and fake notebook/tracker objects.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { MemoryDoctorPanel } from '../panels/panel';
import type {
  IFindings,
  IFixResult,
  IHolder,
  IResource,
  IScanResult,
  ISuggestion
} from '../protocol';
import type { MemoryDoctorService } from '../service';
import { MemoryDoctorSettings } from '../settings';
import type { IMemoryDoctorEntry, IMemoryDoctorTracker } from '../tokens';
import {
  disposeClients,
  FakeComm,
  FakeKernel,
  FakeSessionContext,
  flush,
  makeClient,
  makeHello
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
  /** The notebook's entry, as views see it through the token. */
  entry: IMemoryDoctorEntry;
  /** The same service, with what only the extension sees (its client). */
  service: MemoryDoctorService;
  settings: MemoryDoctorSettings;
  /** The notebook (a fake panel with `cells` cells). */
  notebook: ReturnType<typeof makeNotebookPanel>;
  /** The open comm. */
  comm(): FakeComm;
}

/** Dispose every client made by `connect` (call in `afterEach`). */
export { disposeClients };

/**
 * A notebook of `cells` cells whose service's helper answered `hello`;
 * `now` is the service's clock (epoch ms).
 */
export async function connect(
  settings = new MemoryDoctorSettings(),
  now?: () => number,
  cells = 3
): Promise<IConnected> {
  const { kernel, context, service } = await makeClient({ settings, now });
  kernel.lastComm().receive(makeHello({ protocol_version: '1.1' }));
  const notebook = makeNotebookPanel(cells);
  const { model, scans, fixes } = service;
  return {
    kernel,
    context,
    entry: { panel: notebook, model, scans, fixes, service },
    service,
    settings,
    notebook,
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

/** An `IMemoryDoctorTracker` over entries the test adds and makes current. */
export class FakeDoctor implements IMemoryDoctorTracker {
  constructor(readonly settings: MemoryDoctorSettings) {}

  readonly entries = new Map<NotebookPanel, IMemoryDoctorEntry>();
  readonly entryAdded: Signal<IMemoryDoctorTracker, IMemoryDoctorEntry> =
    new Signal<IMemoryDoctorTracker, IMemoryDoctorEntry>(this);
  readonly currentChanged: Signal<
    IMemoryDoctorTracker,
    IMemoryDoctorEntry | null
  > = new Signal<IMemoryDoctorTracker, IMemoryDoctorEntry | null>(this);
  current: IMemoryDoctorEntry | null = null;

  get(panel: NotebookPanel): IMemoryDoctorEntry | undefined {
    return this.entries.get(panel);
  }

  /** Track an entry and emit `entryAdded`. */
  add(entry: IMemoryDoctorEntry): void {
    this.entries.set(entry.panel, entry);
    this.entryAdded.emit(entry);
  }

  /** Make `entry` current and emit. */
  setCurrent(entry: IMemoryDoctorEntry | null): void {
    this.current = entry;
    this.currentChanged.emit(entry);
  }
}

/** A connected notebook that the fake doctor holds as current. */
export interface IConnectedNotebook extends IConnected {
  doctor: FakeDoctor;
}

/**
 * `connect` a notebook of `cells` cells and make it the fake doctor's
 * current one: what the side panel needs.
 */
export async function connectNotebook(
  cells: number,
  settings = new MemoryDoctorSettings()
): Promise<IConnectedNotebook> {
  const connected = await connect(settings, undefined, cells);
  const doctor = new FakeDoctor(settings);
  doctor.add(connected.entry);
  doctor.setCurrent(connected.entry);
  return { ...connected, doctor };
}

/** A valid resource (an open file), with overrides. */
export function makeResource(overrides: Partial<IResource> = {}): IResource {
  return {
    id: 'r1',
    kind: 'file',
    label: 'f',
    detail: "/data/big.csv (mode 'r', fd 7)",
    held_by: ['f'],
    cell_id: 'cell-2',
    execution_count: 5,
    note: null,
    ...overrides
  };
}

/** Findings with every figure known, with overrides. */
export function makeFindings(overrides: Partial<IFindings> = {}): IFindings {
  return {
    open_fds: 23,
    threads: 4,
    children: 1,
    cyclic_garbage: { objects: 120000, bytes: 9_600_000 },
    allocator_gap: { bytes: 188_000_000, malloc_trim: true },
    ...overrides
  };
}

/** A valid suggestion (delete a shared holder), with overrides. */
export function makeSuggestion(
  overrides: Partial<ISuggestion> = {}
): ISuggestion {
  return {
    id: 's1',
    action: 'delete_holder',
    targets: ['big', 'Out[3]', '_3'],
    code: 'del big; Out.pop(3, None); del _3',
    estimated_freed_bytes: 1_200_000_000,
    reason:
      'big is also held by the output cache; deleting all three frees it.',
    destructive: true,
    holder_id: 'h1',
    resource_id: null,
    ...overrides
  };
}

/** A 1.2 scan result: holders plus resources, findings and suggestions. */
export function makeFixScan(
  options: {
    holders?: IHolder[];
    resources?: IResource[];
    findings?: IFindings;
    suggestions?: ISuggestion[];
  } = {}
): IScanResult {
  return makeScanResult(
    options.holders ?? [
      makeHolder({ id: 'h1', labels: ['big', 'Out[3]', '_3'] })
    ],
    {
      resources: options.resources ?? [],
      findings: options.findings ?? makeFindings(),
      suggestions: options.suggestions ?? [makeSuggestion()]
    }
  );
}

/** A fix result for `suggestion`, with overrides. */
export function makeFixResult(overrides: Partial<IFixResult> = {}): IFixResult {
  return {
    suggestion_id: 's1',
    action: 'delete_holder',
    estimated_freed_bytes: 1_200_000_000,
    measured_freed_bytes: 1_180_000_000,
    rss_before: 9_663_676_416,
    rss_after: 8_483_676_416,
    explanation: null,
    ...overrides
  };
}

/**
 * Answer the last `apply_fix` request on `comm`: a result, or an error
 * reply when `error` is given.
 */
export function answerFix(
  comm: FakeComm,
  answer: { result: unknown } | { error: { code: string; message: string } }
): Record<string, unknown> {
  const request = [...comm.sent].reverse().find(r => r.type === 'apply_fix');
  if (!request) {
    throw new Error('No fix was requested.');
  }
  comm.receive({
    type: 'reply',
    request_id: request.request_id,
    ok: 'result' in answer,
    ...answer
  });
  return request;
}

/** A side panel on a connected notebook, with recorded side effects. */
export interface IPanelHarness extends IConnectedNotebook {
  panel: MemoryDoctorPanel;
  /** Confirmations asked: the suggestion id and the described targets. */
  confirms: { id: string; targets: string[] }[];
  /** "Apply all" confirmations asked: the suggestion ids of each. */
  confirmsAll: string[][];
  /** What the next confirmation answers. */
  answer: { accept: boolean };
  /** Code inserted as cells. */
  inserted: string[];
  /** Cells revealed. */
  revealed: string[];
}

const harnessPanels: MemoryDoctorPanel[] = [];

/** The translation bundle the panel tests read their words from. */
export const trans = nullTranslator.load('jupyterlab_memory_doctor');

/** A user-derived string that would run script if it were parsed as HTML. */
export const XSS = '<img src=x onerror=alert(1)>';

/**
 * The hooks of a panel test file: console warnings muted (malformed replies
 * are warned about on purpose), every harness panel and client disposed.
 */
export function usePanelHooks(): void {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    disposePanels();
    disposeClients();
    warn.mockRestore();
  });
}

/** Dispose every panel made by `panelHarness` (call in `afterEach`). */
export function disposePanels(): void {
  for (const panel of harnessPanels.splice(0)) {
    if (panel.isAttached) {
      Widget.detach(panel);
    }
    panel.dispose();
  }
}

/**
 * A side panel following a connected notebook, attached but hidden (so it
 * does not scan by itself), whose confirmations and insertions are recorded.
 */
export async function panelHarness(cells = 10): Promise<IPanelHarness> {
  const connected = await connectNotebook(cells);
  const confirms: IPanelHarness['confirms'] = [];
  const confirmsAll: IPanelHarness['confirmsAll'] = [];
  const answer = { accept: true };
  const inserted: string[] = [];
  const revealed: string[] = [];
  const panel = new MemoryDoctorPanel({
    doctor: connected.doctor,
    trans,
    copy: () => undefined,
    activate: () => undefined,
    reveal: (_, cellId) => {
      revealed.push(cellId);
      return Promise.resolve(true);
    },
    loadPlotly: () => Promise.reject(new Error('no plotly in this test')),
    confirmFix: (suggestion, targets) => {
      confirms.push({ id: suggestion.id, targets });
      return Promise.resolve(answer.accept);
    },
    confirmFixes: fixes => {
      confirmsAll.push(fixes.map(f => f.suggestion.id));
      return Promise.resolve(answer.accept);
    },
    insertCell: (_, code) => {
      inserted.push(code);
    }
  });
  harnessPanels.push(panel);
  panel.hide();
  Widget.attach(panel, document.body);
  return {
    ...connected,
    panel,
    confirms,
    confirmsAll,
    answer,
    inserted,
    revealed
  };
}

/** Press Refresh and answer the scan with `result`. */
export async function showScan(
  harness: IPanelHarness,
  result: IScanResult
): Promise<void> {
  harness.panel.holders.header.button.click();
  answerScan(harness.comm(), result);
  await flush();
}
