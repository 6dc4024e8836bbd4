import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { MemoryModel } from '../model';
import {
  cellLabel,
  markerText,
  plotlyDate,
  rssLine,
  timelinePoints,
  TimelineSection,
  topCells
} from '../panels/timeline';
import type { IPlotly } from '../panels/shared/plotly';
import { flush, makeRecord } from './fakes';
import { connectNotebook, disposeClients } from './panel-fakes';

const trans = nullTranslator.load('jupyterlab_memory_doctor');
const MB = 1000 * 1000;
const XSS = '<img src=x onerror=alert(1)>';

/** A record of `cellId` that ran from `start` for 1 s. */
function run(cellId: string, start: number, overrides = {}) {
  return makeRecord({
    cell_id: cellId,
    started_at: start,
    duration_s: 1,
    ...overrides
  });
}

describe('timeline data', () => {
  it('lists every run by end time, across cells', () => {
    const model = new MemoryModel();
    model.addRecord(run('b', 100));
    model.addRecord(run('a', 50));
    model.addRecord(run('b', 200));
    expect(timelinePoints(model).map(p => [p.cellId, p.end])).toEqual([
      ['a', 51],
      ['b', 101],
      ['b', 201]
    ]);
    model.dispose();
  });

  it('draws the RSS from run starts, run ends and readings, once each', () => {
    const model = new MemoryModel();
    model.addRecord(
      run('a', 10, { rss_before: 100 * MB, rss_after: 300 * MB })
    );
    model.addReading({ time: 20, rss: 250 * MB, peakRss: null });
    const line = rssLine(timelinePoints(model), model);
    expect(line.times).toEqual([10, 11, 20]);
    expect(line.rss).toEqual([100 * MB, 300 * MB, 250 * MB]);
    model.dispose();
  });

  it('ranks cells by their largest run, leaving out cells that added nothing', () => {
    const model = new MemoryModel();
    model.addRecord(run('a', 1, { peak_increase: 100 * MB, rss_delta: 0 }));
    model.addRecord(run('a', 2, { peak_increase: 900 * MB, rss_delta: 0 }));
    model.addRecord(run('b', 3, { peak_increase: 500 * MB, rss_delta: 50 }));
    model.addRecord(run('c', 4, { peak_increase: -5, rss_delta: -50 }));
    const points = timelinePoints(model);
    expect(topCells(points, 'peak', 5).map(t => [t.cellId, t.bytes])).toEqual([
      ['a', 900 * MB],
      ['b', 500 * MB]
    ]);
    expect(topCells(points, 'delta', 5).map(t => t.cellId)).toEqual(['b']);
    expect(topCells(points, 'peak', 1)).toHaveLength(1);
    model.dispose();
  });

  it('labels cells by prompt and first line, and escapes hover text', () => {
    expect(cellLabel(3, '\n  x = load()  \nmore')).toBe('[3] x = load()');
    expect(cellLabel(null, '')).toBe('[ ]');
    expect(cellLabel(1, 'y'.repeat(100))).toHaveLength(4 + 40);
    const point = { cellId: 'a', record: run('a', 0), end: 1 };
    const text = markerText(point, XSS, 'SI', trans);
    expect(text).not.toContain('<img');
    expect(text).toContain('&lt;img');
    expect(text).toContain('RSS change: +412 MB');
    expect(text.split('<br>')).toHaveLength(4);
  });

  it('writes local date strings for plotly', () => {
    const date = new Date(2026, 0, 31, 14, 3, 7, 250);
    expect(plotlyDate(date.getTime() / 1000)).toBe('2026-01-31 14:03:07.250');
  });
});

describe('TimelineSection', () => {
  let section: TimelineSection | null = null;

  afterEach(() => {
    section?.dispose();
    section = null;
    disposeClients();
  });

  async function setup(loader?: () => Promise<IPlotly>) {
    const connected = await connectNotebook(3);
    const cells = connected.notebook.content.widgets as unknown as {
      model: { id: string; sharedModel?: { getSource(): string } };
    }[];
    cells.forEach((cell, i) => {
      cell.model.sharedModel = {
        getSource: () => (i === 1 ? XSS : `x${i} = ${i}`)
      };
    });
    const react = jest.fn(
      (root: HTMLElement & { on?: unknown }, ..._rest: unknown[]) => {
        root.on = (event: string, handler: (data: unknown) => void) => {
          handlers.set(event, handler);
        };
        return Promise.resolve();
      }
    );
    const handlers = new Map<string, (data: unknown) => void>();
    const plotly = { react, purge: jest.fn() } as unknown as IPlotly;
    const load = jest.fn(loader ?? (() => Promise.resolve(plotly)));
    const reveal = jest.fn(() => Promise.resolve(true));
    section = new TimelineSection({
      settings: connected.settings,
      trans,
      loadPlotly: load,
      reveal
    });
    section.setEntry(connected.entry);
    Widget.attach(section, document.body);
    return { ...connected, react, handlers, load, reveal, section };
  }

  it('says what to do before any cell ran, without loading plotly', async () => {
    const { load, section } = await setup();
    await section.draw();
    expect(section.node.textContent).toContain(
      "Run cells to see the kernel's memory over time."
    );
    expect(load).not.toHaveBeenCalled();
  });

  it('draws one marker per run that leads to its cell', async () => {
    const { service, react, handlers, load, reveal, section, notebook } =
      await setup();
    service.model.addRecord(run('cell-0', 10, { peak_rss: 900 * MB }));
    service.model.addRecord(run('cell-1', 20, { execution_count: 2 }));
    service.model.addRecord(run('cell-0', 30, { execution_count: 3 }));
    await section.draw();
    expect(load).toHaveBeenCalledTimes(1);
    const [, data, layout] = react.mock.calls[0] as unknown as [
      HTMLElement,
      Record<string, unknown>[],
      Record<string, unknown>
    ];
    const markers = data[1];
    expect(markers.customdata).toEqual(['cell-0', 'cell-1', 'cell-0']);
    expect(markers.y).toEqual([
      900 * MB,
      makeRecord().peak_rss,
      makeRecord().peak_rss
    ]);
    const texts = markers.text as string[];
    expect(texts[1]).toContain('[2] &lt;img');
    expect(texts.join('')).not.toContain('<img');
    // Only plain text in hover: no templates that could read `%{…}`.
    expect(JSON.stringify(data)).not.toContain('hovertemplate');
    // The RSS line leaves hover and clicks to the markers.
    expect(data[0].hoverinfo).toBe('skip');
    expect(markers.hoverinfo).toBe('text');
    expect(layout.xaxis).toMatchObject({ type: 'date' });

    handlers.get('plotly_click')!({ points: [{ customdata: 'cell-1' }] });
    await flush();
    expect(reveal).toHaveBeenCalledWith(notebook.content, 'cell-1');

    // Drawing again reuses plotly.
    await section.draw();
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('lists the top cells by peak and by memory left, as buttons to the cell', async () => {
    const { service, reveal, section, notebook } = await setup();
    service.model.addRecord(
      run('cell-1', 10, { peak_increase: 2000 * MB, rss_delta: 10 * MB })
    );
    service.model.addRecord(
      run('cell-2', 20, { peak_increase: 100 * MB, rss_delta: 700 * MB })
    );
    await section.draw();
    const peak = section.node.querySelector('[data-key="peak"]')!;
    const buttons = peak.querySelectorAll('button');
    expect(Array.from(buttons).map(b => b.dataset.cellId)).toEqual([
      'cell-1',
      'cell-2'
    ]);
    expect(buttons[0].textContent).toBe(`+2.0 GB[1] ${XSS}`);
    expect(section.node.querySelector('img')).toBeNull();
    const delta = section.node.querySelector('[data-key="delta"]')!;
    expect(delta.querySelector('button')?.dataset.cellId).toBe('cell-2');
    (delta.querySelector('button') as HTMLButtonElement).click();
    await flush();
    expect(reveal).toHaveBeenCalledWith(notebook.content, 'cell-2');
  });

  it('says when plotly could not be loaded and keeps the lists', async () => {
    const { service, section } = await setup(() =>
      Promise.reject(new Error('offline'))
    );
    service.model.addRecord(run('cell-0', 10));
    await section.draw();
    expect(section.node.textContent).toContain(
      'Could not load the timeline chart: Error: offline'
    );
    expect(section.node.querySelectorAll('button[data-cell-id]')).toHaveLength(
      2
    );
  });

  it('starts collapsed, counts the runs in its heading, and expands', async () => {
    const { service, section } = await setup();
    const toggle = section.node.querySelector(
      '.jp-MemoryDoctor-timelineToggle'
    ) as HTMLButtonElement;
    const body = document.getElementById(toggle.getAttribute('aria-controls')!);
    expect(section.expanded).toBe(false);
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(body?.hidden).toBe(true);
    expect(toggle.textContent).toBe('Timeline');
    service.model.addRecord(run('cell-0', 10));
    service.model.addRecord(run('cell-0', 20));
    expect(toggle.textContent).toBe('Timeline (2 runs)');
    toggle.click();
    expect(section.expanded).toBe(true);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(body?.hidden).toBe(false);
    toggle.click();
    expect(body?.hidden).toBe(true);
  });
});
