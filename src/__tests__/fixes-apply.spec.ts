import { Notebook, NotebookModel } from '@jupyterlab/notebook';
import { NBTestUtils } from '@jupyterlab/notebook/lib/testutils';
import {
  dangerDialog,
  dismissDialog,
  waitForDialog
} from '@jupyterlab/testutils';

import {
  confirmBody,
  confirmFix,
  describeTargets,
  insertCellBelow
} from '../panels/fixes';
import { decodeFixResult, FIX_REPLY_TIMEOUT_S, FIX_WAIT_S } from '../protocol';
import { flush } from './fakes';
import {
  answerFix,
  answerScan,
  IPanelHarness,
  makeFixResult,
  makeFixScan,
  makeHolder,
  makeResource,
  makeSuggestion,
  panelHarness,
  showScan,
  trans,
  usePanelHooks,
  XSS
} from './panel-fakes';

usePanelHooks();

/**
 * The one button on screen named `name`: a holder's fix is its row's button
 * (the same fix in the folded Suggestions list is not on screen).
 */
const button = (harness: IPanelHarness, name: RegExp) => {
  const found = Array.from(
    harness.panel.node.querySelectorAll<HTMLButtonElement>('button')
  ).filter(
    b =>
      !b.closest('[hidden]') &&
      name.test(b.getAttribute('aria-label') ?? b.textContent!)
  );
  expect(found).toHaveLength(1);
  return found[0];
};
const outcome = (harness: IPanelHarness) =>
  harness.panel.node.querySelector<HTMLElement>('.jp-MemoryDoctor-fixOutcome');
const holderRows = (harness: IPanelHarness) =>
  Array.from(
    harness.panel.node.querySelectorAll<HTMLElement>('[data-holder-id]')
  ).map(row => row.dataset.holderId);

describe('applying a suggestion', () => {
  it('confirms a destructive fix naming every target, sends it, shows the measured drop and rescans', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    expect(holderRows(harness)).toEqual(['h1']);

    button(harness, /^Apply: Delete big, Out\[3\], _3$/).click();
    await flush();
    expect(harness.confirms).toEqual([
      { id: 's1', targets: ['big', 'Out[3]', '_3'] }
    ]);
    const request = harness.comm().lastRequest();
    expect(request).toMatchObject({
      type: 'apply_fix',
      suggestion_id: 's1',
      action: 'delete_holder',
      targets: ['big', 'Out[3]', '_3']
    });
    // While it runs, its button says so and nothing else can be applied.
    expect(button(harness, /^Apply: Delete/).textContent).toBe(
      'Applying\u2026'
    );
    expect(button(harness, /^Apply: Delete/).disabled).toBe(true);

    answerFix(harness.comm(), { result: makeFixResult() });
    await flush();
    // The rescan: the holder is gone once the kernel answers.
    expect(harness.comm().lastRequest().type).toBe('scan');
    answerScan(
      harness.comm(),
      makeFixScan({
        holders: [makeHolder({ id: 'h2', labels: ['small'] })],
        suggestions: []
      })
    );
    await flush();
    expect(holderRows(harness)).toEqual(['h2']);
    const box = outcome(harness)!;
    expect(box.getAttribute('role')).toBe('status');
    expect(box.querySelector('.jp-mod-result')?.textContent).toBe(
      'Freed 1.2 GB (estimated 1.2 GB)'
    );
    expect(box.textContent).toContain('Delete big, Out[3], _3');
    expect(box.textContent).toContain('Kernel RSS 9.7 GB \u2192 8.5 GB');
  });

  it('sends nothing when the user declines the confirmation', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    harness.answer.accept = false;
    const sent = harness.comm().sent.length;
    button(harness, /^Apply: Delete/).click();
    await flush();
    expect(harness.confirms).toHaveLength(1);
    expect(harness.comm().sent).toHaveLength(sent);
    expect(outcome(harness)).toBeNull();
    // The button is usable again.
    expect(button(harness, /^Apply: Delete/).disabled).toBe(false);
  });

  it('applies a non-destructive fix without asking', async () => {
    const harness = await panelHarness();
    await showScan(
      harness,
      makeFixScan({
        suggestions: [
          makeSuggestion({
            id: 's9',
            action: 'gc_collect',
            targets: [],
            code: 'import gc; gc.collect()',
            destructive: false,
            holder_id: null,
            estimated_freed_bytes: 9_600_000
          })
        ]
      })
    );
    button(harness, /^Apply: Collect/).click();
    await flush();
    expect(harness.confirms).toEqual([]);
    expect(harness.comm().lastRequest()).toMatchObject({
      type: 'apply_fix',
      suggestion_id: 's9',
      action: 'gc_collect',
      targets: []
    });
  });

  it('names resources, not their ids, in the confirmation', async () => {
    const harness = await panelHarness();
    await showScan(
      harness,
      makeFixScan({
        resources: [makeResource()],
        suggestions: [
          makeSuggestion({
            id: 's2',
            action: 'close_resource',
            targets: ['r1'],
            code: 'f.close()',
            resource_id: 'r1',
            holder_id: null
          })
        ]
      })
    );
    button(harness, /^Apply: Close f$/).click();
    await flush();
    expect(harness.confirms[0].targets).toEqual([
      "f (/data/big.csv (mode 'r', fd 7))"
    ]);
    expect(harness.comm().lastRequest()).toMatchObject({
      action: 'close_resource',
      targets: ['r1']
    });
  });

  it('shows a refusal with the kernel message and rescans on request', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    button(harness, /^Apply: Delete/).click();
    await flush();
    answerFix(harness.comm(), {
      error: {
        code: 'refused',
        message:
          'big now points at a different object than when it was scanned.'
      }
    });
    await flush();
    const box = outcome(harness)!;
    expect(box.classList).toContain('jp-mod-refused');
    expect(box.textContent).toContain(
      'Not applied: big now points at a different object than when it was scanned.'
    );
    // No automatic rescan after a refusal: the user decides.
    expect(harness.comm().lastRequest().type).toBe('apply_fix');
    button(harness, /^Rescan$/).click();
    expect(harness.comm().lastRequest().type).toBe('scan');
    expect(outcome(harness)).toBeNull();
  });

  it('says so when the kernel goes away during a fix', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    button(harness, /^Apply: Delete/).click();
    await flush();
    harness.comm().receiveClose();
    await flush();
    expect(outcome(harness)?.textContent).toContain(
      'The kernel connection went away before the fix was confirmed'
    );
  });

  it('blocks Apply while a scan runs and after a restart', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    harness.panel.holders.header.button.click(); // a second scan starts
    const apply = button(harness, /^Apply: Delete/);
    expect(apply.disabled).toBe(true);
    expect(apply.title).toMatch(/scan is running/);
    const sent = harness.comm().sent.length;
    await harness.panel.fixes.apply(makeSuggestion());
    expect(harness.comm().sent).toHaveLength(sent);

    answerScan(harness.comm(), makeFixScan());
    await flush();
    expect(button(harness, /^Apply: Delete/).disabled).toBe(false);
    harness.kernel.setStatus('restarting', harness.context);
    expect(button(harness, /^Apply: Delete/).disabled).toBe(true);
  });

  it('ignores a suggestion that is not from the current scan', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    const sent = harness.comm().sent.length;
    const result = await harness.panel.fixes.apply(
      makeSuggestion({ id: 'from-an-old-scan' })
    );
    expect(result).toBeNull();
    expect(harness.comm().sent).toHaveLength(sent);
  });
});

describe('a fix clicked while a cell runs', () => {
  /** The helper's wait for a running cell, in ms. */
  const HELPER_WAIT_MS = FIX_WAIT_S * 1000;

  afterEach(() => {
    jest.useRealTimers();
  });

  /** A panel with a fix on screen and cell `cell-1` running. */
  async function whileACellRuns(): Promise<{
    harness: IPanelHarness;
    endCell: () => void;
  }> {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    const msgId = harness.kernel.sendExecute('cell-1');
    harness.kernel.emitStatus('busy', msgId);
    jest.useFakeTimers();
    return {
      harness,
      endCell: () => harness.kernel.emitStatus('idle', msgId)
    };
  }

  it('says it waits for the cell, waits as long as the helper may, and shows the real outcome', async () => {
    const { harness, endCell } = await whileACellRuns();
    button(harness, /^Apply: Delete/).click();
    await flush();
    expect(harness.comm().lastRequest().type).toBe('apply_fix');
    const waiting = button(harness, /^Apply: Delete/);
    expect(waiting.textContent).toBe('Waiting\u2026');
    expect(waiting.title).toBe(
      'The kernel applies this fix when the running cell ends.'
    );
    // Longer than any front-end deadline shorter than the helper's wait.
    jest.advanceTimersByTime(HELPER_WAIT_MS - 1000);
    await flush();
    expect(outcome(harness)).toBeNull();
    endCell();
    await flush();
    expect(button(harness, /^Apply: Delete/).textContent).toBe(
      'Applying\u2026'
    );
    answerFix(harness.comm(), { result: makeFixResult() });
    await flush();
    expect(outcome(harness)?.querySelector('.jp-mod-result')?.textContent).toBe(
      'Freed 1.2 GB (estimated 1.2 GB)'
    );
    expect(harness.comm().lastRequest().type).toBe('scan');
  });

  it("keeps waiting while the cell runs, past the helper's wait (the request queues behind it without subshells)", async () => {
    const { harness, endCell } = await whileACellRuns();
    button(harness, /^Apply: Delete/).click();
    await flush();
    jest.advanceTimersByTime(3 * HELPER_WAIT_MS);
    await flush();
    expect(outcome(harness)).toBeNull();
    endCell();
    answerFix(harness.comm(), {
      error: { code: 'refused', message: 'big changed.' }
    });
    await flush();
    expect(outcome(harness)?.textContent).toContain(
      'Not applied: big changed.'
    );
  });

  /** A panel whose fix was clicked while no cell runs, timers faked. */
  async function applying(): Promise<IPanelHarness> {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    jest.useFakeTimers();
    button(harness, /^Apply: Delete/).click();
    await flush();
    return harness;
  }

  it('shows a reply that comes after minutes, within FIX_REPLY_TIMEOUT_S, as applied', async () => {
    const harness = await applying();
    jest.advanceTimersByTime(FIX_REPLY_TIMEOUT_S * 1000 - 1000);
    await flush();
    expect(outcome(harness)).toBeNull();
    answerFix(harness.comm(), { result: makeFixResult() });
    await flush();
    expect(outcome(harness)?.querySelector('.jp-mod-result')?.textContent).toBe(
      'Freed 1.2 GB (estimated 1.2 GB)'
    );
  });

  it('gives up only after the helper would have', async () => {
    const harness = await applying();
    expect(button(harness, /^Apply: Delete/).textContent).toBe(
      'Applying\u2026'
    );
    jest.advanceTimersByTime(HELPER_WAIT_MS);
    await flush();
    expect(outcome(harness)).toBeNull();
    jest.advanceTimersByTime(HELPER_WAIT_MS);
    await flush();
    expect(outcome(harness)?.classList).toContain('jp-mod-failed');
  });
});

describe('Insert as cell', () => {
  it('inserts the code through the notebook and says it was not run', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    // "Insert as cell" is in the Suggestions list, folded under its summary.
    button(harness, /^1 suggestion/).click();
    button(harness, /^Insert as cell: Delete/).click();
    expect(harness.inserted).toEqual(['del big; Out.pop(3, None); del _3']);
    // Inserting runs nothing in the kernel.
    expect(harness.comm().lastRequest().type).toBe('scan');
    expect(outcome(harness)?.textContent).toContain(
      'Inserted as a new cell below the active cell. It has not been run.'
    );
    button(harness, /^Dismiss$/).click();
    expect(outcome(harness)).toBeNull();
  });

  it('insertCellBelow adds a code cell with the code below the active cell', () => {
    const notebook: Notebook = NBTestUtils.createNotebook();
    const model = new NotebookModel();
    model.sharedModel.insertCells(0, [
      { cell_type: 'code', source: 'a = 1' },
      { cell_type: 'markdown', source: '# notes' },
      { cell_type: 'code', source: 'b = 2' }
    ]);
    notebook.model = model;
    notebook.notebookConfig = {
      ...notebook.notebookConfig,
      defaultCell: 'markdown'
    };
    notebook.activeCellIndex = 1;
    insertCellBelow(notebook, 'del big');
    const cells = notebook.model!.sharedModel.cells;
    expect(cells.map(c => c.source)).toEqual([
      'a = 1',
      '# notes',
      'del big',
      'b = 2'
    ]);
    expect(cells[2].cell_type).toBe('code');
    expect(notebook.activeCellIndex).toBe(2);
    expect(
      (cells[2] as unknown as { execution_count: number | null })
        .execution_count
    ).toBeNull();
    notebook.dispose();
  });
});

describe('the confirmation dialog', () => {
  it('lists the targets as text and resolves true when the warn button is pressed', async () => {
    const suggestion = makeSuggestion({
      targets: ['big', XSS],
      code: `del ${XSS}`
    });
    const answered = confirmFix(suggestion, suggestion.targets, trans);
    await waitForDialog();
    const dialog = document.querySelector('.jp-Dialog')!;
    expect(dialog.querySelector('img')).toBeNull();
    expect(
      Array.from(dialog.querySelectorAll('.jp-MemoryDoctor-fixTargets li')).map(
        li => li.textContent
      )
    ).toEqual(['big', XSS]);
    expect(
      Array.from(dialog.querySelectorAll('button')).map(b => b.textContent)
    ).toEqual(expect.arrayContaining(['Cancel', 'Delete']));
    await dangerDialog();
    expect(await answered).toBe(true);
  });

  it('resolves false when dismissed', async () => {
    const suggestion = makeSuggestion();
    const answered = confirmFix(suggestion, suggestion.targets, trans);
    await dismissDialog();
    expect(await answered).toBe(false);
  });

  it('builds a body that names targets and code without interpreting them', () => {
    const suggestion = makeSuggestion({
      targets: ['big', XSS],
      code: `del ${XSS}`
    });
    const body = confirmBody(suggestion, suggestion.targets, trans);
    expect(body.querySelector('img')).toBeNull();
    expect(
      Array.from(body.querySelectorAll('li')).map(li => li.textContent)
    ).toEqual(['big', XSS]);
    expect(body.querySelector('pre')?.textContent).toBe(`del ${XSS}`);
    expect(body.textContent).toContain('These names will be deleted');
  });
});

describe('describeTargets', () => {
  it('says what an empty target list means', () => {
    expect(
      describeTargets(
        makeSuggestion({ action: 'close_figures', targets: [] }),
        [],
        trans
      )
    ).toEqual(['every open pyplot figure']);
  });

  it('keeps names that are not resource ids', () => {
    expect(
      describeTargets(
        makeSuggestion({ targets: ['r1', 'x'] }),
        [makeResource({ detail: '' })],
        trans
      )
    ).toEqual(['f', 'x']);
  });
});

describe('a malformed fix result', () => {
  it('is rejected, naming the field, and shown as a failure', async () => {
    const { measured_freed_bytes, ...partial } = makeFixResult();
    expect(measured_freed_bytes).toBeGreaterThan(0);
    expect(() => decodeFixResult(partial)).toThrow(
      'FixResult.measured_freed_bytes: expected an integer ≥ 0, got nothing (missing)'
    );
    expect(
      decodeFixResult(makeFixResult({ estimated_freed_bytes: null }))
    ).toEqual(makeFixResult({ estimated_freed_bytes: null }));

    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    button(harness, /^Apply: Delete/).click();
    await flush();
    const error = jest.spyOn(console, 'error').mockImplementation(() => {});
    answerFix(harness.comm(), { result: partial });
    await flush();
    expect(error).toHaveBeenCalledWith(
      expect.stringContaining('apply_fix result.measured_freed_bytes')
    );
    error.mockRestore();
    const box = outcome(harness)!;
    expect(box.classList).toContain('jp-mod-failed');
    expect(box.textContent).toContain('malformed apply_fix reply');
  });
});
