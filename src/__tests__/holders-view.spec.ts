import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { IHolder } from '../protocol';
import { HoldersTable } from '../panels/holders/table';
import { MemoryDoctorPanel, PANEL_ID } from '../panels/panel';
import { HIGHLIGHT_CLASS, revealCell } from '../panels/shared/reveal';
import { flush, makeRecord } from './fakes';
import {
  answerScan,
  connectNotebook,
  disposeClients,
  IConnectedNotebook,
  makeNotebookPanel,
  makeHolder,
  makeScanResult,
  manyHolders
} from './panel-fakes';

const trans = nullTranslator.load('jupyterlab_memory_doctor');

interface IHarness extends IConnectedNotebook {
  panel: MemoryDoctorPanel;
  copied: string[];
  activated: string[];
}

const panels: MemoryDoctorPanel[] = [];
let warn: jest.SpyInstance;

beforeEach(() => {
  warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});

afterEach(() => {
  for (const panel of panels.splice(0)) {
    if (panel.isAttached) {
      Widget.detach(panel);
    }
    panel.dispose();
  }
  disposeClients();
  warn.mockRestore();
});

/** A panel following one connected notebook, attached but not scanned. */
async function setup(
  options: { attach?: boolean; cells?: number } = {}
): Promise<IHarness> {
  const connected = await connectNotebook(options.cells ?? 60);
  const { doctor } = connected;
  const copied: string[] = [];
  const activated: string[] = [];
  const panel = new MemoryDoctorPanel({
    doctor,
    trans,
    copy: text => copied.push(text),
    activate: nb => activated.push(nb.id),
    loadPlotly: () => Promise.reject(new Error('no plotly in this test'))
  });
  panels.push(panel);
  // Hidden first, so that attaching does not scan on its own.
  panel.hide();
  if (options.attach !== false) {
    Widget.attach(panel, document.body);
  }
  return { ...connected, panel, copied, activated };
}

/** Press Refresh and let the fake kernel answer with these holders. */
async function showHolders(
  harness: IHarness,
  holders: IHolder[],
  scan: Parameters<typeof makeScanResult>[2] = {}
): Promise<void> {
  harness.panel.holders.header.button.click();
  answerScan(harness.comm(), makeScanResult(holders, {}, scan));
  await flush();
}

const rows = (panel: MemoryDoctorPanel) =>
  Array.from(
    panel.node.querySelectorAll<HTMLElement>('[role="row"][data-holder-id]')
  );
const rowIds = (panel: MemoryDoctorPanel) =>
  rows(panel).map(r => r.dataset.holderId);
const message = (panel: MemoryDoctorPanel) =>
  panel.node.querySelector('.jp-MemoryDoctor-holdersMessage')!;

describe('MemoryDoctorPanel', () => {
  it('has the id, caption and roles that Galata relies on', async () => {
    const harness = await setup();
    const { panel } = harness;
    expect(panel.id).toBe(PANEL_ID);
    // Title case: Notebook 7 lists it as "Show What's Holding Memory".
    expect(panel.title.caption).toBe("What's Holding Memory");
    await showHolders(harness, [
      makeHolder({ id: 'h1', labels: ['big'], execution_count: 3 })
    ]);
    // A grid: its rows take the arrow keys and Enter.
    const table = panel.node.querySelector('[role="grid"]')!;
    expect(table).not.toBeNull();
    const headers = Array.from(table.querySelectorAll('[role="columnheader"]'));
    expect(headers.map(h => h.textContent)).toEqual([
      'Names',
      'Type',
      'Retained',
      'Objects',
      'Cell',
      'Fix'
    ]);
    const row = rows(panel)[0];
    expect(row.dataset.holderId).toBe('h1');
    const cells = Array.from(row.querySelectorAll('[role="gridcell"]')).map(
      c => c.textContent
    );
    // The last cell is the row's fix (none suggested here).
    expect(cells).toEqual([
      'big',
      'pandas.DataFrame',
      '2.1 GB',
      '12',
      '[3]',
      ''
    ]);
  });

  it('shows the empty state until the user refreshes', async () => {
    const harness = await setup();
    expect(message(harness.panel).textContent).toBe(
      'Press Refresh to find what holds memory.'
    );
    expect(harness.panel.holders.table.isHidden).toBe(true);
    expect(harness.panel.holders.header.button.textContent).toBe('Refresh');
    expect(harness.panel.holders.header.button.disabled).toBe(false);
  });

  it('scans when the panel is shown', async () => {
    const harness = await setup();
    harness.panel.show();
    expect(harness.comm().lastRequest().type).toBe('scan');
  });

  it('scans on show only when the kernel has no scan yet', async () => {
    const harness = await setup();
    const scans = () =>
      harness.comm().sent.filter(r => r.type === 'scan').length;
    harness.panel.show();
    expect(scans()).toBe(1);
    answerScan(harness.comm(), makeScanResult([makeHolder()]));
    await flush();
    harness.panel.hide();
    harness.panel.show();
    expect(scans()).toBe(1);
  });

  it('scans again after a cell only when the setting is on and the panel visible', async () => {
    const harness = await setup();
    const settings = harness.settings;
    const scans = () =>
      harness.comm().sent.filter(r => r.type === 'scan').length;
    await showHolders(harness, [makeHolder()]);
    const cell = () =>
      harness.comm().receive({ type: 'cell_measured', record: makeRecord() });

    harness.panel.show();
    cell();
    expect(scans()).toBe(1); // Setting off.
    settings.update({ ...settings.current, autoRefreshHolders: true });
    cell();
    expect(scans()).toBe(2);
    cell(); // A scan is running: no second one.
    expect(scans()).toBe(2);
    answerScan(harness.comm(), makeScanResult([makeHolder()]));
    await flush();
    harness.panel.hide();
    cell();
    expect(scans()).toBe(2);
  });

  it('shows the no-helper hint as text', async () => {
    const harness = await setup();
    harness.service.model.setStatus({
      kind: 'no-helper',
      hint: '%pip install jupyterlab-memory-doctor'
    });
    expect(message(harness.panel).textContent).toContain(
      'not installed in this kernel'
    );
    expect(message(harness.panel).querySelector('code')?.textContent).toBe(
      '%pip install jupyterlab-memory-doctor'
    );
    expect(harness.panel.holders.header.button.disabled).toBe(true);
  });

  it('says when no notebook is open', async () => {
    const harness = await setup();
    harness.doctor.setCurrent(null);
    expect(message(harness.panel).textContent).toBe(
      "Open a notebook to see what holds its kernel's memory."
    );
  });

  it('turns Refresh into Cancel and cancels the right scan', async () => {
    const harness = await setup();
    const button = harness.panel.holders.header.button;
    button.click();
    const scan = harness.comm().lastRequest();
    expect(scan.type).toBe('scan');
    expect(button.textContent).toBe('Cancel');
    harness.comm().receive({
      type: 'scan_progress',
      request_id: scan.request_id,
      phase: 'walk',
      objects_visited: 1250000,
      elapsed_s: 0.8
    });
    const progress = harness.panel.node.querySelector(
      '.jp-MemoryDoctor-holdersProgress'
    )!;
    expect(progress.textContent).toMatch(/walking the heap, 1.250.000 objects/);

    button.click();
    const cancel = harness.comm().lastRequest();
    expect(cancel).toMatchObject({ type: 'cancel', target: scan.request_id });
    expect(button.disabled).toBe(true);
    expect(progress.textContent).toBe('Cancelling the scan\u2026');

    answerScan(
      harness.comm(),
      makeScanResult(
        [makeHolder()],
        {},
        {
          complete: false,
          stopped: 'cancelled'
        }
      )
    );
    await flush();
    expect(button.textContent).toBe('Refresh');
    expect(progress.textContent).toBe('');
    const notice = harness.panel.node.querySelector(
      '.jp-MemoryDoctor-holdersNotice.jp-mod-partial'
    );
    expect(notice?.textContent).toBe('Partial: cancelled.');
    expect(rows(harness.panel)).toHaveLength(1);
  });

  it('marks a budget-stopped scan with the budget', async () => {
    const harness = await setup();
    await showHolders(harness, [makeHolder()], {
      complete: false,
      stopped: 'budget'
    });
    const notice = harness.panel.node.querySelector(
      '.jp-MemoryDoctor-holdersNotice.jp-mod-partial'
    );
    expect(notice?.textContent).toMatch(/^Partial: stopped by the 5 s budget/);
  });

  it('keeps rows but marks them stale after a restart', async () => {
    const harness = await setup();
    await showHolders(harness, [makeHolder()]);
    harness.kernel.setStatus('restarting', harness.context);
    expect(rows(harness.panel)).toHaveLength(1);
    expect(
      harness.panel.node.querySelector(
        '.jp-MemoryDoctor-holdersNotice.jp-mod-stale'
      )?.textContent
    ).toMatch(/^Stale: the kernel restarted/);
  });

  it('shows the header figures and the unattributed explanation', async () => {
    const harness = await setup();
    await showHolders(harness, [makeHolder({ retained_bytes: 2_000_000_000 })]);
    const figure = (name: string) =>
      harness.panel.node.querySelector(
        `[data-figure="${name}"] .jp-MemoryDoctor-holdersFigureValue`
      )?.textContent;
    expect(figure('rss')).toBe('2.8 GB');
    expect(figure('attributed')).toBe('2.0 GB');
    expect(figure('unattributed')).toBe('750 MB');
    // The explanation is the figure's tooltip: the sidebar keeps its height.
    expect(
      harness.panel.node.querySelector<HTMLElement>(
        '[data-figure="unattributed"]'
      )?.title
    ).toContain('native allocations outside Python objects');
  });

  it('spells out the trap of a shared holder', async () => {
    const harness = await setup();
    await showHolders(harness, [
      makeHolder({
        id: 's',
        labels: ['big', 'Out[3]', '_3'],
        roots: [
          { label: 'big', kind: 'variable' },
          { label: 'Out[3]', kind: 'output_cache' },
          { label: '_3', kind: 'output_cache' }
        ],
        retained_bytes: 400_000_000
      })
    ]);
    const trap = rows(harness.panel)[0].querySelector(
      '.jp-MemoryDoctor-holderTrap'
    );
    expect(trap?.textContent).toBe(
      'big, Out[3], _3 jointly retain 400 MB \u2014 deleting big alone frees nothing'
    );
  });

  it('sorts when a column header is clicked and sets aria-sort', async () => {
    const harness = await setup();
    await showHolders(harness, [
      makeHolder({ id: 'small', labels: ['b'], retained_bytes: 10 }),
      makeHolder({ id: 'large', labels: ['a'], retained_bytes: 1000 })
    ]);
    const header = (key: string) =>
      harness.panel.node
        .querySelector(`[data-sort-key="${key}"]`)!
        .closest('[role="columnheader"]')!;
    expect(header('retained').getAttribute('aria-sort')).toBe('descending');
    expect(header('names').getAttribute('aria-sort')).toBe('none');
    expect(rowIds(harness.panel)).toEqual(['large', 'small']);
    (header('retained').querySelector('button') as HTMLElement).click();
    expect(header('retained').getAttribute('aria-sort')).toBe('ascending');
    expect(rowIds(harness.panel)).toEqual(['small', 'large']);
    (header('names').querySelector('button') as HTMLElement).click();
    expect(header('names').getAttribute('aria-sort')).toBe('ascending');
    expect(header('retained').getAttribute('aria-sort')).toBe('none');
    expect(rowIds(harness.panel)).toEqual(['large', 'small']);
  });

  it('filters rows from the text box', async () => {
    const harness = await setup();
    await showHolders(harness, [
      makeHolder({ id: 'x', labels: ['frame'], type: 'pandas.DataFrame' }),
      makeHolder({ id: 'y', labels: ['arr'], type: 'numpy.ndarray' })
    ]);
    const input = harness.panel.node.querySelector<HTMLInputElement>(
      '.jp-MemoryDoctor-holdersFilter'
    )!;
    input.value = 'NUMPY';
    input.dispatchEvent(new Event('input'));
    expect(rowIds(harness.panel)).toEqual(['y']);
    expect(
      harness.panel.node.querySelector('.jp-MemoryDoctor-holdersCount')
        ?.textContent
    ).toBe('1 of 2 holders matches');
  });

  it('expands a row into the why-alive path and composition, and copies the path', async () => {
    const harness = await setup();
    const path = "sys.last_traceback.tb_next.tb_frame.f_locals['scratch']";
    await showHolders(harness, [
      makeHolder({
        id: 't',
        labels: ['scratch'],
        path,
        composition: [
          { type: 'numpy.ndarray', bytes: 800_000_000, count: 1 },
          { type: 'dict', bytes: 1_000, count: 3 }
        ]
      })
    ]);
    const expand = rows(harness.panel)[0].querySelector<HTMLButtonElement>(
      '.jp-MemoryDoctor-holderExpand'
    )!;
    expect(expand.getAttribute('aria-expanded')).toBe('false');
    expand.click();
    const row = rows(harness.panel)[0];
    expect(
      row
        .querySelector('.jp-MemoryDoctor-holderExpand')
        ?.getAttribute('aria-expanded')
    ).toBe('true');
    expect(
      row.querySelector('code.jp-MemoryDoctor-holderPath')?.textContent
    ).toBe(path);
    const parts = Array.from(
      row.querySelectorAll('.jp-MemoryDoctor-holderPart')
    ).map(p => p.textContent);
    expect(parts).toEqual([
      'numpy.ndarray: 800 MB in 1 object',
      'dict: 1.0 kB in 3 objects'
    ]);
    // The row grew by the details' height.
    expect(parseInt(row.style.height)).toBeGreaterThan(28);
    row.querySelector<HTMLElement>('.jp-MemoryDoctor-holderCopy')!.click();
    expect(harness.copied).toEqual([path]);
    // Neither expanding nor copying jumped to the cell.
    expect(harness.notebook.content.scrolledTo).toEqual([]);
  });

  it('reveals and highlights the cell that created a holder', async () => {
    jest.useFakeTimers();
    try {
      const harness = await setup();
      await showHolders(harness, [
        makeHolder({ id: 'r', labels: ['df'], cell_id: 'cell-42' })
      ]);
      rows(harness.panel)[0]
        .querySelector<HTMLElement>('.jp-MemoryDoctor-holderCell')!
        .click();
      await flush();
      const content = harness.notebook.content;
      expect(harness.activated).toEqual(['notebook-1']);
      expect(content.activeCellIndex).toBe(42);
      expect(content.scrolledTo).toEqual([42]);
      const node = (content as unknown as { widgets: { node: HTMLElement }[] })
        .widgets[42].node;
      expect(node.classList.contains(HIGHLIGHT_CLASS)).toBe(true);
      jest.runAllTimers();
      expect(node.classList.contains(HIGHLIGHT_CLASS)).toBe(false);
    } finally {
      jest.useRealTimers();
    }
  });

  it('says so when the cell is gone', async () => {
    const harness = await setup({ cells: 2 });
    await showHolders(harness, [
      makeHolder({ id: 'r', labels: ['df'], cell_id: 'deleted-cell' })
    ]);
    rows(harness.panel)[0].click();
    await flush();
    expect(
      harness.panel.node.querySelector('.jp-MemoryDoctor-holdersToast')
        ?.textContent
    ).toBe('The cell that created df is no longer in this notebook.');
  });
});

describe('escaping', () => {
  it('renders hostile names, types and paths as text, never as HTML', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    const harness = await setup();
    await showHolders(harness, [
      makeHolder({
        id: 'evil',
        labels: [evil, `${evil}2`],
        roots: [
          { label: evil, kind: 'variable' },
          { label: `${evil}2`, kind: 'class_attribute' }
        ],
        type: evil,
        path: evil,
        composition: [{ type: evil, bytes: 10, count: 1 }],
        shared: true
      })
    ]);
    rows(harness.panel)[0]
      .querySelector<HTMLElement>('.jp-MemoryDoctor-holderExpand')!
      .click();
    const node = harness.panel.node;
    expect(node.querySelector('img')).toBeNull();
    const row = rows(harness.panel)[0];
    expect(row.querySelector('.jp-MemoryDoctor-holderType')?.textContent).toBe(
      evil
    );
    expect(row.querySelector('.jp-MemoryDoctor-holderPath')?.textContent).toBe(
      evil
    );
    expect(
      row.querySelector('.jp-MemoryDoctor-holderTrap')?.textContent
    ).toContain(evil);
    expect(row.innerHTML).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('virtualization', () => {
  it('renders a small window of 10,000 holders and moves it on scroll', async () => {
    const harness = await setup();
    await showHolders(harness, manyHolders(10_000));
    const table = harness.panel.holders.table;
    const scroller = table.scroller;
    Object.defineProperty(scroller, 'clientHeight', {
      configurable: true,
      value: 560
    });
    table.renderWindow();
    const first = rowIds(harness.panel);
    // 560 px / 28 px = 20 visible rows, plus the overscan below.
    expect(first.length).toBe(20 + HoldersTable.OVERSCAN);
    expect(first[0]).toBe('h0');
    const body = harness.panel.node.querySelector<HTMLElement>(
      '.jp-MemoryDoctor-holdersBody'
    )!;
    expect(body.style.height).toBe(`${10_000 * 28}px`);
    expect(
      harness.panel.node
        .querySelector('[role="grid"]')
        ?.getAttribute('aria-rowcount')
    ).toBe('10001');

    let scrollTop = 0;
    Object.defineProperty(scroller, 'scrollTop', {
      configurable: true,
      get: () => scrollTop,
      set: (value: number) => (scrollTop = value)
    });
    scrollTop = 5000 * 28;
    scroller.dispatchEvent(new Event('scroll'));
    const moved = rowIds(harness.panel);
    expect(moved.length).toBeLessThan(60);
    expect(moved).toContain('h5000');
    expect(moved).not.toContain('h0');
    const row5000 = rows(harness.panel).find(
      r => r.dataset.holderId === 'h5000'
    )!;
    expect(row5000.style.top).toBe(`${5000 * 28}px`);
    expect(row5000.getAttribute('aria-rowindex')).toBe('5002');

    // The end of the list renders without running past it.
    scrollTop = 10_000 * 28 - 560;
    scroller.dispatchEvent(new Event('scroll'));
    const last = rowIds(harness.panel);
    expect(last).toContain('h9999');
    expect(last.length).toBeLessThan(60);
  });
});

describe('revealCell', () => {
  it('returns false for an unknown cell', async () => {
    const notebook = makeNotebookPanel(2);
    expect(await revealCell(notebook.content, 'nope')).toBe(false);
    expect(notebook.content.scrolledTo).toEqual([]);
  });
});
