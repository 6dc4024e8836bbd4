import { Cell } from '@jupyterlab/cells';
import { Notebook, NotebookModel, StaticNotebook } from '@jupyterlab/notebook';
import { NBTestUtils } from '@jupyterlab/notebook/lib/testutils';
import { nullTranslator } from '@jupyterlab/translation';
import { MessageLoop } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { BADGE_CLASS, BadgeManager, MemoryBadge, severity } from '../badges';
import { MemoryModel } from '../model';
import { DEFAULT_SETTINGS, MemoryDoctorSettings } from '../settings';
import { flush, makeRecord } from './fakes';

const trans = nullTranslator.load('jupyterlab_memory_doctor');
const MB = 1000 * 1000;
const XSS = '<img src=x onerror=alert(1)>';

/**
 * @jupyter/ydoc trips yjs's "Invalid access" warnings when cells are built
 * outside a provider: upstream noise, silenced for that step only.
 */
function quietly(build: () => void): void {
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    build();
  } finally {
    warn.mockRestore();
  }
}

function render(
  history = [makeRecord()],
  settings = DEFAULT_SETTINGS
): MemoryBadge {
  const badge = new MemoryBadge({ cellId: history[0].cell_id ?? '' });
  badge.render(history, { settings, trans });
  return badge;
}

describe('MemoryBadge', () => {
  it('shows the delta and peak, with role, label and cell id', () => {
    const badge = render();
    expect(badge.node.textContent).toBe('+412 MB \u00b7 peak +1.2 GB');
    expect(badge.hasClass(BADGE_CLASS)).toBe(true);
    expect(badge.node.getAttribute('role')).toBe('status');
    // Amber (412 MB left is above the 100 MB warning): said in words too.
    expect(badge.node.getAttribute('aria-label')).toBe(
      'Memory: left +412 MB, peak +1.2 GB. Above the warning threshold'
    );
    expect(badge.node.title.split('\n')[1]).toBe('Above the warning threshold');
    expect(badge.node.getAttribute('data-cell-id')).toBe('cell-1');
  });

  it('has a plain-text tooltip with every figure and the history, newest first', () => {
    const history = [1, 2, 3].map(n => makeRecord({ execution_count: n }));
    const title = render(history).node.title;
    expect(title).toContain('Peak RSS: 1.3 GB');
    expect(title).toContain('GC collections: 2');
    expect(title.indexOf('[3] +412 MB')).toBeLessThan(
      title.indexOf('[1] +412 MB')
    );
  });

  it.each([
    [50 * MB, 100 * MB, 'ok'],
    [150 * MB, 100 * MB, 'warn'],
    [50 * MB, 600 * MB, 'warn'],
    [1500 * MB, 100 * MB, 'alert'],
    [150 * MB, 2500 * MB, 'alert']
  ])('rates delta %d and peak %d as %s', (delta, peak, expected) => {
    const record = makeRecord({ rss_delta: delta, peak_increase: peak });
    expect(severity(record, DEFAULT_SETTINGS)).toBe(expected);
    const badge = render([record]);
    expect(badge.hasClass('jp-mod-warn')).toBe(expected === 'warn');
    expect(badge.hasClass('jp-mod-alert')).toBe(expected === 'alert');
  });

  it('reads thresholds in MiB with IEC units', () => {
    const record = makeRecord({ rss_delta: 102 * MB, peak_increase: 0 });
    expect(severity(record, DEFAULT_SETTINGS)).toBe('warn');
    expect(severity(record, { ...DEFAULT_SETTINGS, units: 'IEC' })).toBe('ok');
  });

  it('colours a figure shown rounded to the threshold like the threshold', () => {
    // 499.6 MB reads "+500 MB": the 500 MB peak warning, not grey.
    const near = makeRecord({ rss_delta: 0, peak_increase: 499_600_000 });
    expect(render([near]).node.textContent).toContain('peak +500 MB');
    expect(severity(near, DEFAULT_SETTINGS)).toBe('warn');
    // 499.4 MB reads "+499 MB": below it, and the colour agrees.
    const below = makeRecord({ rss_delta: 0, peak_increase: 499_400_000 });
    expect(severity(below, DEFAULT_SETTINGS)).toBe('ok');
    // A threshold that is not a round figure: the exact value decides.
    const settings = { ...DEFAULT_SETTINGS, peakWarnMB: 1234 };
    const over = makeRecord({ rss_delta: 0, peak_increase: 1_240_000_000 });
    expect(severity(over, settings)).toBe('warn');
    expect(
      severity(
        makeRecord({ rss_delta: 0, peak_increase: 1_230_000_000 }),
        settings
      )
    ).toBe('ok');
  });

  it('says amber and red in words, not only in colour', () => {
    const alert = render([
      makeRecord({ rss_delta: 0, peak_increase: 2_500_000_000 })
    ]);
    expect(alert.hasClass('jp-mod-alert')).toBe(true);
    expect(alert.node.getAttribute('aria-label')).toContain(
      'Above the alert threshold'
    );
    const plain = render([makeRecord({ rss_delta: 0, peak_increase: 0 })]);
    expect(plain.node.getAttribute('aria-label')).not.toContain('threshold');
  });

  it('marks a cell that raised', () => {
    expect(
      render([makeRecord({ status: 'error' })]).hasClass('jp-mod-error')
    ).toBe(true);
    expect(render().hasClass('jp-mod-error')).toBe(false);
  });

  it('renders hostile strings as text, never as elements', () => {
    const record = {
      ...makeRecord({ cell_id: XSS, status: 'error' }),
      peak_method: XSS,
      ename: XSS,
      evalue: XSS
    } as any;
    const badge = render([record]);
    expect(badge.node.querySelector('img')).toBeNull();
    expect(badge.node.children.length).toBe(1);
    expect(badge.node.getAttribute('data-cell-id')).toBe(XSS);
    expect(badge.node.title).toContain(XSS);
  });
});

describe('leak mark', () => {
  const growth = {
    runs: 3,
    growth_per_run_bytes: 40 * MB,
    flagged: true,
    what_grew: ['data (list) +40.0 MB', XSS]
  };

  it('marks a flagged cell and explains what grew, as text', () => {
    const badge = render([makeRecord({ growth })]);
    const mark = badge.node.querySelector('.jp-MemoryDoctor-leakMark');
    expect(mark?.textContent).toBe('\u26a0 leak');
    expect(badge.hasClass('jp-mod-leak')).toBe(true);
    const title = mark?.getAttribute('title') ?? '';
    expect(title).toContain('each of the last 3 runs');
    expect(title).toContain('+40 MB');
    expect(title).toContain('data (list) +40.0 MB');
    expect(title).toContain(XSS);
    expect(badge.node.querySelector('img')).toBeNull();
    expect(badge.node.title.startsWith('Possible leak')).toBe(true);
    expect(badge.node.getAttribute('aria-label')).toContain('Possible leak');
  });

  it('shows no mark for growth that is not flagged, and drops a stale one', () => {
    const badge = render([
      makeRecord({ growth: { ...growth, runs: 2, flagged: false } })
    ]);
    expect(badge.node.querySelector('.jp-MemoryDoctor-leakMark')).toBeNull();
    badge.render([makeRecord({ growth })], {
      settings: DEFAULT_SETTINGS,
      trans
    });
    expect(
      badge.node.querySelector('.jp-MemoryDoctor-leakMark')
    ).not.toBeNull();
    badge.render([makeRecord()], { settings: DEFAULT_SETTINGS, trans });
    expect(badge.node.querySelector('.jp-MemoryDoctor-leakMark')).toBeNull();
    expect(badge.hasClass('jp-mod-leak')).toBe(false);
  });
});

describe('BadgeManager', () => {
  let notebook: Notebook;
  let model: MemoryModel;
  let settings: MemoryDoctorSettings;
  let manager: BadgeManager;

  function createNotebook(windowingMode: 'none' | 'full'): Notebook {
    const widget = new Notebook({
      rendermime: NBTestUtils.defaultRenderMime(),
      contentFactory: NBTestUtils.createNotebookFactory(),
      mimeTypeService: NBTestUtils.mimeTypeService,
      notebookConfig: { ...StaticNotebook.defaultNotebookConfig, windowingMode }
    });
    const notebookModel = new NotebookModel();
    quietly(() =>
      notebookModel.fromJSON({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {},
        cells: ['a', 'b', 'c'].map(source => ({
          cell_type: 'code',
          source,
          metadata: {},
          outputs: [],
          execution_count: null
        }))
      })
    );
    widget.model = notebookModel;
    return widget;
  }

  function setup(windowingMode: 'none' | 'full' = 'none'): void {
    notebook = createNotebook(windowingMode);
    model = new MemoryModel();
    settings = new MemoryDoctorSettings();
    manager = new BadgeManager({ notebook, model, settings, trans });
  }

  const idOf = (index: number) => notebook.widgets[index].model.id;
  const badgesIn = (cell: Cell) =>
    cell.node.querySelectorAll(`.${BADGE_CLASS}`);

  afterEach(() => {
    manager.dispose();
    if (notebook.isAttached) {
      Widget.detach(notebook);
    }
    notebook.model?.dispose();
    notebook.dispose();
    model.dispose();
    settings.dispose();
  });

  it('does nothing until a record arrives, then O(1) lookups per record', () => {
    setup();
    const widgets = jest.spyOn(notebook, 'widgets', 'get');
    expect(widgets).not.toHaveBeenCalled();
    expect(notebook.node.querySelector(`.${BADGE_CLASS}`)).toBeNull();
    const id = idOf(1);
    widgets.mockClear();
    for (let i = 1; i <= 100; i++) {
      model.addRecord(makeRecord({ cell_id: id, execution_count: i }));
    }
    // The id -> cell map is built once, not walked per record.
    expect(widgets).toHaveBeenCalledTimes(1);
    expect(manager.badgeFor(id)?.node.title).toContain('[100]');
  });

  it('inserts the badge right after the input wrapper', () => {
    setup();
    Widget.attach(notebook, document.body);
    const id = idOf(0);
    model.addRecord(makeRecord({ cell_id: id }));
    const cell = notebook.widgets[0];
    const badges = badgesIn(cell);
    expect(badges.length).toBe(1);
    expect(badges[0].previousElementSibling?.classList).toContain(
      'jp-Cell-inputWrapper'
    );
    expect(badges[0].textContent).toBe('+412 MB \u00b7 peak +1.2 GB');
    expect(badgesIn(notebook.widgets[1]).length).toBe(0);
    // A second run updates the same badge.
    model.addRecord(makeRecord({ cell_id: id, rss_delta: 5 * MB }));
    expect(badgesIn(cell).length).toBe(1);
    expect(badgesIn(cell)[0].textContent).toMatch(/^\+5\.0 MB/);
  });

  it('still finds its place when the input is collapsed', () => {
    setup();
    const cell = notebook.widgets[2];
    cell.inputHidden = true;
    model.addRecord(makeRecord({ cell_id: cell.model.id }));
    expect(badgesIn(cell).length).toBe(1);
  });

  it('waits for a windowed placeholder cell and renders its latest data', async () => {
    setup('full');
    const cell = notebook.widgets[1];
    expect(cell.isPlaceholder()).toBe(true);
    model.addRecord(makeRecord({ cell_id: cell.model.id, execution_count: 1 }));
    model.addRecord(makeRecord({ cell_id: cell.model.id, execution_count: 2 }));
    expect(manager.badgeFor(cell.model.id)).toBeUndefined();
    // What the windowed layout does when the cell scrolls into view.
    MessageLoop.sendMessage(cell, Widget.Msg.BeforeAttach);
    await cell.ready;
    await flush();
    const badge = manager.badgeFor(cell.model.id);
    expect(badge?.parent).toBe(cell);
    expect(badge?.node.title.split('\n')[0]).toContain('[2]');
  });

  it('removes badges live when showBadges is off and restores them', async () => {
    setup();
    const id = idOf(0);
    model.addRecord(makeRecord({ cell_id: id }));
    await settings.set('showBadges', false);
    expect(notebook.node.querySelector(`.${BADGE_CLASS}`)).toBeNull();
    model.addRecord(makeRecord({ cell_id: id }));
    expect(manager.badgeFor(id)).toBeUndefined();
    await settings.set('showBadges', true);
    expect(badgesIn(notebook.widgets[0]).length).toBe(1);
  });

  it('re-renders on a units change', async () => {
    setup();
    const id = idOf(0);
    model.addRecord(makeRecord({ cell_id: id, rss_delta: 2 * 1024 * 1024 }));
    await settings.set('units', 'IEC');
    expect(manager.badgeFor(id)?.node.textContent).toMatch(/^\+2\.0 MiB/);
  });

  it('removes badges when the model is cleared', () => {
    setup();
    model.addRecord(makeRecord({ cell_id: idOf(0) }));
    model.addRecord(makeRecord({ cell_id: idOf(1) }));
    model.clear();
    expect(notebook.node.querySelector(`.${BADGE_CLASS}`)).toBeNull();
  });

  it('follows cells inserted after the map was built', () => {
    setup();
    model.addRecord(makeRecord({ cell_id: idOf(0) }));
    quietly(() =>
      notebook.model!.sharedModel.insertCell(0, {
        cell_type: 'code',
        source: 'new'
      })
    );
    const id = idOf(0);
    model.addRecord(makeRecord({ cell_id: id }));
    expect(manager.badgeFor(id)?.parent).toBe(notebook.widgets[0]);
  });

  it('shows live readings on the running cell only, and the record after', () => {
    setup();
    const running = idOf(1);
    const other = idOf(0);
    model.addRecord(makeRecord({ cell_id: other }));
    const otherBadge = manager.badgeFor(other)!;
    const otherRender = jest.spyOn(otherBadge, 'render');
    const base = {
      cellId: running,
      executionCount: 4,
      startedAt: 1795032000,
      rssBefore: 1000 * MB,
      live: 'on' as const
    };
    model.setRunning({ ...base, reading: null });
    const badge = manager.badgeFor(running)!;
    expect(badge.node.textContent).toBe('running\u2026');
    expect(badge.hasClass('jp-mod-running')).toBe(true);
    model.setRunning({
      ...base,
      reading: { time: 1795032001, rss: 1200 * MB, peakRss: 1400 * MB }
    });
    expect(badge.node.textContent).toBe(
      'running \u00b7 RSS 1.2 GB \u00b7 peak 1.4 GB'
    );
    expect(badge.node.title).toContain('RSS now: 1.2 GB (+200 MB');
    expect(badge.node.title).toContain('Peak so far: 1.4 GB (+400 MB)');
    model.setRunning({
      ...base,
      reading: { time: 1795032002, rss: 1300 * MB, peakRss: 1400 * MB }
    });
    expect(badge.node.textContent).toContain('RSS 1.3 GB');
    // A reading re-renders the running cell's badge, no other.
    expect(otherRender).not.toHaveBeenCalled();
    model.addRecord(makeRecord({ cell_id: running }));
    expect(badge.node.textContent).toBe('+412 MB \u00b7 peak +1.2 GB');
    expect(badge.hasClass('jp-mod-running')).toBe(false);
  });

  it('says in the tooltip when figures only come at the end of the cell', () => {
    setup();
    const id = idOf(0);
    model.setRunning({
      cellId: id,
      executionCount: null,
      startedAt: 1795032000,
      rssBefore: null,
      live: 'no-subshells',
      reading: null
    });
    expect(manager.badgeFor(id)?.node.title).toContain(
      'Live readings need kernel subshells'
    );
  });

  it('shows what was running when the kernel died, with the last RSS', () => {
    setup();
    const id = idOf(2);
    model.addRecord(makeRecord({ cell_id: id, execution_count: 1 }));
    model.setRunning({
      cellId: id,
      executionCount: 2,
      startedAt: 1795032000,
      rssBefore: 1000 * MB,
      live: 'on',
      reading: { time: 1795032009, rss: 7900 * MB, peakRss: 8000 * MB }
    });
    model.noteDeath(1795032010);
    const badge = manager.badgeFor(id)!;
    expect(badge.node.textContent).toBe(
      'kernel died while running \u00b7 last RSS 7.9 GB'
    );
    expect(badge.hasClass('jp-mod-dead')).toBe(true);
    expect(badge.hasClass('jp-mod-alert')).toBe(true);
    expect(badge.node.title).toContain('running as [2]');
    expect(badge.node.title).toContain('RSS 7.9 GB, peak 8.0 GB');
    // The earlier run stays in the tooltip.
    expect(badge.node.title).toContain('Before this run:');
    model.clear();
    expect(manager.badgeFor(id)).toBeUndefined();
  });

  it('removes its badges on dispose, idempotently', () => {
    setup();
    model.addRecord(makeRecord({ cell_id: idOf(0) }));
    manager.dispose();
    manager.dispose();
    expect(manager.isDisposed).toBe(true);
    expect(notebook.node.querySelector(`.${BADGE_CLASS}`)).toBeNull();
  });
});
