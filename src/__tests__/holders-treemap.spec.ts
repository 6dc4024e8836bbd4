import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  MAX_TILES,
  OTHER_ID,
  ROOT_ID,
  treemapColumns
} from '../panels/holders/treemap';
import { MemoryDoctorPanel } from '../panels/panel';
import { plotlyText } from '../panels/shared/plotly';
import { flush } from './fakes';
import {
  answerScan,
  connectNotebook,
  disposeClients,
  makeHolder,
  makeScanResult,
  manyHolders
} from './panel-fakes';

// Count the imports of plotly: the factory runs when the module is first
// required, which for a dynamic import is when `import()` runs.
let mockImports = 0;
const mockReact = jest.fn((..._args: unknown[]) => Promise.resolve());
const mockPurge = jest.fn();
jest.mock('plotly.js-dist-min', () => {
  mockImports++;
  return { react: mockReact, purge: mockPurge };
});

const trans = nullTranslator.load('jupyterlab_memory_doctor');

afterEach(() => {
  disposeClients();
});

describe('lazy plotly', () => {
  it('imports plotly only when the treemap is first shown', async () => {
    const warn = jest
      .spyOn(console, 'warn')
      .mockImplementation(() => undefined);
    const connected = await connectNotebook(3);
    const { doctor } = connected;
    const panel = new MemoryDoctorPanel({
      doctor,
      trans
    });
    Widget.attach(panel, document.body);
    try {
      const evil = '<img src=x onerror=alert(1)>';
      answerScan(
        connected.comm(),
        makeScanResult([makeHolder({ id: 'e', labels: [evil], type: evil })])
      );
      await flush();
      // The panel scanned on show and renders its table: no plotly yet.
      expect(panel.node.querySelectorAll('[data-holder-id]')).toHaveLength(1);
      expect(mockImports).toBe(0);
      expect(panel.holders.treemap.isLoaded).toBe(false);

      const tab = panel.node.querySelector<HTMLElement>(
        '.jp-MemoryDoctor-holdersTab[data-mode="treemap"]'
      )!;
      tab.click();
      await flush(20);
      expect(mockImports).toBe(1);
      expect(panel.holders.treemap.isLoaded).toBe(true);
      expect(panel.holders.table.isHidden).toBe(true);
      expect(tab.getAttribute('aria-selected')).toBe('true');
      expect(mockReact).toHaveBeenCalledTimes(1);
      const [node, data] = mockReact.mock.calls[0] as [
        HTMLElement,
        Record<string, unknown>[]
      ];
      expect(panel.holders.treemap.node.contains(node)).toBe(true);
      expect(data[0].type).toBe('treemap');
      expect(data[0].ids).toEqual([ROOT_ID, 'e']);
      // User text reaches plotly with its tag characters encoded.
      expect(data[0].labels).toEqual([
        'Retained memory',
        '&lt;img src=x onerror=alert(1)&gt;'
      ]);
      expect(JSON.stringify(data)).not.toContain('<img');
      expect(data[0]).not.toHaveProperty('hovertemplate');
      expect(data[0]).not.toHaveProperty('texttemplate');

      // Back to the table and again to the treemap: no second import.
      panel.node
        .querySelector<HTMLElement>(
          '.jp-MemoryDoctor-holdersTab[data-mode="table"]'
        )!
        .click();
      tab.click();
      await flush(20);
      expect(mockImports).toBe(1);
      expect(mockReact).toHaveBeenCalledTimes(2);
    } finally {
      Widget.detach(panel);
      panel.dispose();
      warn.mockRestore();
    }
    expect(mockPurge).toHaveBeenCalled();
  });
});

describe('treemapColumns', () => {
  it('draws the largest holders and sums the rest into one tile', () => {
    const holders = manyHolders(MAX_TILES + 50);
    const columns = treemapColumns(holders, 'SI', trans);
    expect(columns.ids).toHaveLength(MAX_TILES + 2);
    expect(columns.ids[0]).toBe(ROOT_ID);
    expect(columns.ids[1]).toBe('h0');
    expect(columns.ids[columns.ids.length - 1]).toBe(OTHER_ID);
    expect(columns.labels[columns.labels.length - 1]).toBe('50 other holders');
    const children = columns.values.slice(1).reduce((a, b) => a + b, 0);
    // branchvalues "total": the root is exactly the sum of its children.
    expect(columns.values[0]).toBe(children);
    expect(columns.parents.slice(1).every(p => p === ROOT_ID)).toBe(true);
  });

  it('encodes the characters plotly would read as markup', () => {
    expect(plotlyText('<b>x</b> & <a href="javascript:1">')).toBe(
      '&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href="javascript:1"&gt;'
    );
  });
});
