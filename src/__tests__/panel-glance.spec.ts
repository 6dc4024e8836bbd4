/**
 * Issue 12, the panel read at a glance: honest counts and a filter over
 * every holder, the treemap's share of "Attributed", each row's own fix and
 * the suggestions' one-line summary, the table's keyboard and column fit,
 * and the timeline's one time format and spaced units.
 */

import { nullTranslator } from '@jupyterlab/translation';

import { formatBytes, shownBytes } from '../format';
import {
  applyAllSet,
  fixButtonLabel,
  freedInAll,
  holderFixes,
  rowFix,
  summaryText
} from '../panels/fixes/rows';
import { briefRow, holdersTotal } from '../panels/holders/model';
import { fittingColumns, HoldersTable, nextRow } from '../panels/holders/table';
import { briefText, countText, coverageText } from '../panels/holders/text';
import {
  byteTicks,
  runsRange,
  TIME_AXIS_FORMAT,
  timelineTime
} from '../panels/timeline/text';
import type { IHolderBrief } from '../protocol';
import { flush } from './fakes';
import {
  makeFixScan,
  makeHolder,
  makeResource,
  makeScanResult,
  makeSuggestion,
  manyHolders,
  panelHarness,
  showScan,
  usePanelHooks
} from './panel-fakes';

const trans = nullTranslator.load('jupyterlab_memory_doctor');

usePanelHooks();

/** `n` brief holders past the cut, named `v{from}`… and smaller. */
function briefs(from: number, n: number): IHolderBrief[] {
  return Array.from({ length: n }, (_, i) => ({
    labels: [`v${from + i}`],
    type: 'list',
    retained_bytes: 72,
    objects: 2
  }));
}

describe('honest counts', () => {
  it('says how many of how many holders are shown, and which', () => {
    const base = { shown: 500, sent: 500, filtering: false, searchesAll: true };
    expect(countText({ ...base, total: 500 }, trans)).toBe('500 holders');
    expect(countText({ ...base, total: 1, sent: 1, shown: 1 }, trans)).toBe(
      '1 holder'
    );
    expect(countText({ ...base, total: 10_000 }, trans)).toBe(
      '500 of 10,000 holders shown (the largest)'
    );
  });

  it('counts filter matches among every holder, sent in full or in brief', () => {
    const base = { sent: 500, total: 10_000, filtering: true };
    expect(countText({ ...base, shown: 1, searchesAll: true }, trans)).toBe(
      '1 of 10,000 holders matches'
    );
    expect(countText({ ...base, shown: 3, searchesAll: true }, trans)).toBe(
      '3 of 10,000 holders match'
    );
    expect(countText({ ...base, shown: 0, searchesAll: true }, trans)).toBe(
      'No holder matches the filter.'
    );
  });

  it('says what a filter could not search (a helper before 1.3 sends no index)', () => {
    const base = { sent: 500, total: 10_000, filtering: true };
    expect(countText({ ...base, shown: 0, searchesAll: false }, trans)).toBe(
      'No holder among the 500 largest matches the filter (the other 9,500 were not sent).'
    );
    expect(countText({ ...base, shown: 2, searchesAll: false }, trans)).toBe(
      '2 of the 500 largest holders match (the other 9,500 were not sent).'
    );
  });

  it('takes the total from holders_total, never below what was sent', () => {
    const holders = manyHolders(3);
    expect(holdersTotal(null)).toBe(0);
    expect(holdersTotal(makeScanResult(holders))).toBe(3);
    expect(
      holdersTotal(makeScanResult(holders, { holders_total: 10_000 }))
    ).toBe(10_000);
    expect(holdersTotal(makeScanResult(holders, { holders_total: 1 }))).toBe(3);
  });

  it('makes a brief row that has no path, roots or composition', () => {
    const row = briefRow(briefs(9999, 1)[0], 'index-0');
    expect(row).toMatchObject({
      id: 'index-0',
      labels: ['v9999'],
      type: 'list',
      retained_bytes: 72,
      brief: true,
      path: '',
      roots: [],
      composition: [],
      cell_id: null
    });
    expect(briefText(500, trans)).toMatch(
      /^Sent without details: only the 500 largest holders come with their path and composition\./
    );
  });

  it("says what share of 'Attributed' the treemap draws", () => {
    const units = 'SI';
    expect(
      coverageText(
        {
          holders: 10_000,
          bytes: 1_000_000_000,
          attributed: 1_000_000_000,
          missing: 0,
          filtering: false
        },
        units,
        trans
      )
    ).toBe(
      'The treemap covers 100% of the 1.0 GB attributed (10,000 holders).'
    );
    expect(
      coverageText(
        {
          holders: 500,
          bytes: 50_000_000,
          attributed: 1_000_000_000,
          missing: 9_500,
          filtering: false
        },
        units,
        trans
      )
    ).toBe(
      'The treemap covers 5% of the 1.0 GB attributed: the 500 largest holders (the other 9,500 were not sent).'
    );
    expect(
      coverageText(
        {
          holders: 1,
          bytes: 250_000_000,
          attributed: 1_000_000_000,
          missing: 0,
          filtering: true
        },
        units,
        trans
      )
    ).toBe(
      'The 1 holder matching the filter: 250 MB, 25% of the 1.0 GB attributed.'
    );
    // Nothing attributed: 0%, not NaN.
    expect(
      coverageText(
        { holders: 0, bytes: 0, attributed: 0, missing: 0, filtering: false },
        units,
        trans
      )
    ).toBe('The treemap covers 0% of the 0 B attributed (0 holders).');
  });
});

describe('the panel with 10,000 holders', () => {
  it('shows "500 of 10,000", and the filter finds v9999 past the cut in brief', async () => {
    const harness = await panelHarness();
    const holders = manyHolders(500);
    await showScan(
      harness,
      makeScanResult(holders, {
        holders_total: 10_000,
        holder_index: briefs(500, 9_500)
      })
    );
    const view = harness.panel.holders;
    const count = view.toolbar.node.querySelector(
      '.jp-MemoryDoctor-holdersCount'
    );
    expect(count?.textContent).toBe(
      '500 of 10,000 holders shown (the largest)'
    );
    // Without a filter the table lists the 500 sent in full only.
    expect(harness.panel.model.rows).toHaveLength(500);
    expect(harness.panel.model.searchesAll).toBe(true);

    harness.panel.model.setFilter('v9999');
    await flush();
    const rows = harness.panel.model.rows;
    expect(rows.map(r => r.labels[0])).toEqual(['v9999']);
    expect(rows[0].brief).toBe(true);
    expect(count?.textContent).toBe('1 of 10,000 holders matches');
    const row = view.table.renderedRows[0];
    expect(row.classList.contains('jp-mod-brief')).toBe(true);
    expect(
      row.querySelector('.jp-MemoryDoctor-holderRetained')?.textContent
    ).toBe('72 B');
    // No fix, no cell link: a brief row has no details to act on.
    expect(row.querySelector('.jp-MemoryDoctor-holderFixButton')).toBeNull();

    // `v99` matches v99 (sent) and v990…v999, v9900…v9999 (in brief).
    harness.panel.model.setFilter('v99');
    await flush();
    expect(harness.panel.model.rows).toHaveLength(1 + 10 + 100);
    expect(count?.textContent).toBe('111 of 10,000 holders match');
  });

  it('says what the filter could not search when a 1.2 helper sent no index', async () => {
    const harness = await panelHarness();
    await showScan(
      harness,
      makeScanResult(manyHolders(500), { holders_total: 10_000 })
    );
    expect(harness.panel.model.searchesAll).toBe(false);
    harness.panel.model.setFilter('v9999');
    await flush();
    expect(
      harness.panel.holders.toolbar.node.querySelector(
        '.jp-MemoryDoctor-holdersCount'
      )?.textContent
    ).toBe(
      'No holder among the 500 largest matches the filter (the other 9,500 were not sent).'
    );
  });
});

describe('the table from the keyboard', () => {
  it('moves one tab stop between rows with the arrows, and Enter and Space open a row', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeScanResult(manyHolders(30)));
    const table = harness.panel.holders.table;
    const row = (i: number) =>
      table.renderedRows.find(
        r => r.getAttribute('aria-rowindex') === String(i + 2)
      )!;
    const key = (target: HTMLElement, k: string) =>
      target.dispatchEvent(
        new KeyboardEvent('keydown', { key: k, bubbles: true })
      );

    // One tab stop: the first row.
    expect(row(0).tabIndex).toBe(0);
    expect(row(1).tabIndex).toBe(-1);
    row(0).focus();
    key(row(0), 'ArrowDown');
    expect(table.activeIndex).toBe(1);
    expect(document.activeElement).toBe(row(1));
    expect(row(1).tabIndex).toBe(0);
    expect(row(0).tabIndex).toBe(-1);
    key(row(1), 'ArrowUp');
    expect(document.activeElement).toBe(row(0));
    key(row(0), 'End');
    expect(table.activeIndex).toBe(29);
    key(document.activeElement as HTMLElement, 'Home');
    expect(table.activeIndex).toBe(0);

    expect(row(0).getAttribute('aria-expanded')).toBe('false');
    key(row(0), 'Enter');
    await flush();
    expect(row(0).getAttribute('aria-expanded')).toBe('true');
    expect(
      row(0).querySelector('.jp-MemoryDoctor-holderDetails')
    ).not.toBeNull();
    key(row(0), ' ');
    await flush();
    expect(row(0).getAttribute('aria-expanded')).toBe('false');
  });

  it('picks the next row for each navigation key', () => {
    expect(nextRow('ArrowDown', 0, 10, 5)).toBe(1);
    expect(nextRow('ArrowDown', 9, 10, 5)).toBe(9);
    expect(nextRow('ArrowUp', 0, 10, 5)).toBe(0);
    expect(nextRow('Home', 7, 10, 5)).toBe(0);
    expect(nextRow('End', 2, 10, 5)).toBe(9);
    expect(nextRow('PageDown', 2, 10, 5)).toBe(7);
    expect(nextRow('PageUp', 2, 10, 5)).toBe(0);
    expect(nextRow('a', 2, 10, 5)).toBeNull();
    expect(nextRow('ArrowDown', 0, 0, 5)).toBeNull();
  });
});

describe('column fit', () => {
  const widths = { retained: 60, objects: 50, cell: 40, fix: 60 };
  const all = { type: true, objects: true, cell: true };

  it('keeps every column where the names still get their minimum', () => {
    const wide =
      60 + 50 + 40 + 60 + HoldersTable.TYPE_MIN + HoldersTable.NAMES_MIN;
    expect(fittingColumns(wide, widths)).toEqual(all);
  });

  it('drops the object count, then the type, then the cell; never a size or a fix', () => {
    const noObjects =
      60 + 40 + 60 + HoldersTable.TYPE_MIN + HoldersTable.NAMES_MIN;
    expect(fittingColumns(noObjects, widths)).toEqual({
      ...all,
      objects: false
    });
    expect(fittingColumns(noObjects - 1, widths)).toEqual({
      type: false,
      objects: false,
      cell: true
    });
    const cellOnly = 60 + 40 + 60 + HoldersTable.NAMES_MIN;
    expect(fittingColumns(cellOnly, widths).cell).toBe(true);
    expect(fittingColumns(cellOnly - 1, widths)).toEqual({
      type: false,
      objects: false,
      cell: false
    });
    expect(fittingColumns(250, widths).cell).toBe(false);
  });

  it('shows every column before layout', () => {
    expect(fittingColumns(0, widths)).toEqual(all);
    expect(
      fittingColumns(300, { ...widths, retained: 'calc(8ch + 12px)' })
    ).toEqual(all);
  });

  it('hides the cell column of a narrow table and keeps the size and fix', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeScanResult(manyHolders(3)));
    const table = harness.panel.holders.table;
    // jsdom has no layout: every column shows.
    expect(table.columns).toEqual([
      'names',
      'type',
      'retained',
      'objects',
      'cell'
    ]);
  });
});

describe('row fixes and the suggestions summary', () => {
  const state = { applying: null, waiting: false, blocked: null };

  it('gives each holder the fix that frees most of its suggestions', () => {
    const del = makeSuggestion({ id: 'del', holder_id: 'h1' });
    const copy = makeSuggestion({
      id: 'copy',
      action: 'copy_view',
      holder_id: 'h1',
      estimated_freed_bytes: 10,
      destructive: false
    });
    const other = makeSuggestion({
      id: 'gc',
      action: 'gc_collect',
      holder_id: null
    });
    const best = holderFixes([copy, del, other], []);
    expect([...best.entries()].map(([id, s]) => [id, s.id])).toEqual([
      ['h1', 'del']
    ]);
  });

  it('labels a row fix by its verb, with … when it asks first', () => {
    const del = makeSuggestion({ targets: ['big'] });
    expect(fixButtonLabel(del, trans)).toBe('Delete\u2026');
    expect(
      fixButtonLabel(
        makeSuggestion({ action: 'gc_collect', destructive: false }),
        trans
      )
    ).toBe('Collect');
    const fix = rowFix(del, [], state, 'SI', trans);
    expect(fix).toMatchObject({
      label: 'Delete\u2026',
      name: 'Apply: Delete big',
      disabled: false,
      detail: 'Suggested: Delete big (frees about 1.2 GB)'
    });
    expect(fix.tip).toBe('Delete big (frees about 1.2 GB). Asks first.');
  });

  it('says why a row fix cannot run, and which one is applying', () => {
    const del = makeSuggestion({ targets: ['big'] });
    const blocked = rowFix(
      del,
      [],
      { ...state, blocked: 'Rescan first.' },
      'SI',
      trans
    );
    expect(blocked.disabled).toBe(true);
    expect(blocked.tip).toMatch(/Rescan first\.$/);
    const applying = rowFix(
      del,
      [],
      { ...state, applying: del.id },
      'SI',
      trans
    );
    expect(applying).toMatchObject({ label: 'Applying\u2026', disabled: true });
  });

  it('applies one fix per distinct effect, and sums what they free', () => {
    const holders = [
      makeHolder({ id: 'h1', labels: ['big'] }),
      makeHolder({
        id: 'h2',
        labels: ['Out[3]', '_3'],
        roots: [
          { label: 'Out[3]', kind: 'output_cache' },
          { label: '_3', kind: 'output_cache' }
        ]
      })
    ];
    const delBig = makeSuggestion({
      id: 'a',
      holder_id: 'h1',
      estimated_freed_bytes: 300_000_000
    });
    const copyBig = makeSuggestion({
      id: 'b',
      action: 'copy_view',
      holder_id: 'h1',
      estimated_freed_bytes: 100_000_000
    });
    const delOut = makeSuggestion({
      id: 'c',
      holder_id: 'h2',
      estimated_freed_bytes: 105_000_000
    });
    const reset = makeSuggestion({
      id: 'd',
      action: 'reset_output_cache',
      holder_id: null,
      estimated_freed_bytes: 105_000_000
    });
    const set = applyAllSet([delBig, copyBig, delOut, reset], holders, []);
    expect(set.map(s => s.id)).toEqual(['a', 'd']);
    expect(freedInAll(set)).toBe(405_000_000);
    expect(freedInAll([makeSuggestion({ estimated_freed_bytes: null })])).toBe(
      null
    );
  });

  it('sums the suggestions up in one line', () => {
    expect(summaryText(0, null, 'SI', trans)).toBe('No suggestions');
    expect(summaryText(1, null, 'SI', trans)).toBe('1 suggestion');
    expect(summaryText(5, 560_000_000, 'SI', trans)).toBe(
      '5 suggestions \u00b7 frees about 560 MB'
    );
  });

  it('puts each fix on its holder row and folds the list to its summary', async () => {
    const harness = await panelHarness();
    const holders = [
      makeHolder({ id: 'h1', labels: ['big'], retained_bytes: 300_000_000 }),
      makeHolder({ id: 'h2', labels: ['small'], retained_bytes: 1_000 })
    ];
    await showScan(
      harness,
      makeFixScan({
        holders,
        resources: [makeResource()],
        suggestions: [
          makeSuggestion({
            id: 's1',
            holder_id: 'h1',
            targets: ['big'],
            estimated_freed_bytes: 300_000_000
          })
        ]
      })
    );
    const node = harness.panel.node;
    const buttons = Array.from(
      node.querySelectorAll<HTMLButtonElement>(
        '.jp-MemoryDoctor-holderFixButton'
      )
    );
    expect(buttons.map(b => b.getAttribute('aria-label'))).toEqual([
      'Apply: Delete big'
    ]);
    expect(
      buttons[0].closest('[data-holder-id]')?.getAttribute('data-holder-id')
    ).toBe('h1');
    const summary = node.querySelector('.jp-MemoryDoctor-suggestionsSummary');
    expect(summary?.textContent).toMatch(/^1 suggestion · frees about 300 MB/);
    const toggle = summary?.querySelector('[aria-expanded]');
    expect(toggle?.getAttribute('aria-expanded')).toBe('false');
  });
});

describe('units and the timeline', () => {
  it('writes the hover time as the axis does, HH:MM:SS', () => {
    const at = new Date(2026, 0, 31, 8, 7, 5).getTime() / 1000;
    expect(timelineTime(at)).toBe('08:07:05');
    expect(
      timelineTime(new Date(2026, 0, 31, 20, 37, 31).getTime() / 1000)
    ).toBe('20:37:31');
    expect(TIME_AXIS_FORMAT).toBe('%H:%M:%S');
  });

  it('writes the byte axis with the panel formatter: a space before the unit', () => {
    const ticks = byteTicks(800_000_000, 'SI');
    expect(ticks.ticktext[0]).toBe('0 B');
    expect(ticks.tickvals).toEqual([
      0, 200_000_000, 400_000_000, 600_000_000, 800_000_000
    ]);
    expect(ticks.ticktext).toEqual([
      '0 B',
      '200 MB',
      '400 MB',
      '600 MB',
      '800 MB'
    ]);
    for (const text of byteTicks(123_456_789, 'IEC').ticktext) {
      expect(text).toMatch(/^\d+(\.\d)? (B|KiB|MiB|GiB)$/);
    }
    expect(byteTicks(0, 'SI')).toEqual({ tickvals: [0], ticktext: ['0 B'] });
    expect(byteTicks(-5, 'SI')).toEqual({ tickvals: [0], ticktext: ['0 B'] });
  });

  it('frames the runs, not the session before them', () => {
    expect(runsRange([])).toBeNull();
  });

  it('colours by the figure as shown: 499.6 MB reads and counts as 500 MB', () => {
    expect(formatBytes(499_600_000)).toBe('500 MB');
    expect(shownBytes(499_600_000)).toBe(500_000_000);
    expect(shownBytes(1_250_000)).toBe(1_200_000);
    expect(shownBytes(0)).toBe(0);
  });
});
