import { expect, test } from '@jupyterlab/galata';

import { hasSubshells, startActiveCell } from './compat';

/**
 * End to end: live readings on the running cell's badge (JupyterLab 4.6 sends
 * comm messages over a kernel subshell, ipykernel 7 answers them while the
 * cell runs), and the note left when the kernel is killed mid-cell.
 */

// Six steps of 80 MB, one per second: RSS grows while the cell runs.
const STEPS = [
  'import time',
  'import numpy as np',
  'xs = []',
  'for i in range(6):',
  '    xs.append(np.ones(10_000_000))',
  '    time.sleep(1)'
].join('\n');

// Holds 320 MB for two seconds, then dies as the OOM killer would kill it.
const KILLED = [
  'import os, signal, time',
  'import numpy as np',
  'hold = np.ones(40_000_000)',
  'time.sleep(2)',
  'os.kill(os.getpid(), signal.SIGKILL)'
].join('\n');

function cell(page: any, index: number) {
  return page.locator('.jp-Notebook .jp-Cell').nth(index);
}

test.describe('live readings', () => {
  test('a running cell shows at least two different live readings before it finishes', async ({
    page
  }) => {
    test.skip(
      !(await hasSubshells(page)),
      'live readings need kernel subshells (JupyterLab 4.4 or later)'
    );
    await page.notebook.createNew('live.ipynb');
    await page.notebook.setCell(0, 'code', STEPS);
    await startActiveCell(page);

    const badge = cell(page, 0).getByRole('status');
    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          const text = (await badge.textContent()) ?? '';
          if (/^running · RSS \d/.test(text)) {
            seen.add(text);
          }
          return seen.size;
        },
        { timeout: 20_000, intervals: [200] }
      )
      .toBeGreaterThanOrEqual(2);
    // Live readings arrive: the tooltip does not fall back to end-of-cell.
    await expect(badge).not.toHaveAttribute('title', /need kernel subshells/);

    // When the cell ends, the badge shows its record: 6 × 80 MB left behind.
    await expect(badge).toHaveText(/^\+4\d\d MB · peak \+4\d\d MB$/, {
      timeout: 30_000
    });
    // The status bar shows the kernel's memory against its limit.
    await expect(page.locator('.jp-MemoryDoctor-status')).toHaveText(
      /^Mem: \d+(\.\d+)? (MB|GB) \/ \d+(\.\d+)? (GB|TB)$/
    );
  });

  test('after the kernel is killed mid-cell, its badge names the last live RSS', async ({
    page
  }) => {
    test.skip(
      !(await hasSubshells(page)),
      'live readings need kernel subshells (JupyterLab 4.4 or later)'
    );
    await page.notebook.createNew('killed.ipynb');
    await page.notebook.setCell(0, 'code', KILLED);
    await startActiveCell(page);

    const badge = cell(page, 0).getByRole('status');
    // 40 M float64 are 320 MB on top of the kernel's own ~100 MB.
    await expect(badge).toHaveText(/^running · RSS [3-9]\d\d MB/, {
      timeout: 20_000
    });
    await expect(badge).toHaveText(
      /^kernel died while running · last RSS [3-9]\d\d MB$/,
      { timeout: 30_000 }
    );
    await expect(badge).toHaveAttribute('title', /possibly out of memory/);
  });

  test('a cell whose re-runs keep adding memory gets a leak mark naming what grew', async ({
    page
  }) => {
    await page.notebook.createNew('leak.ipynb');
    await page.notebook.setCell(0, 'code', 'import numpy as np\nleak = []');
    await page.notebook.addCell('code', 'leak.append(np.ones(5_000_000))');
    await page.notebook.runCell(0, true);
    const badge = cell(page, 1).getByRole('status');
    const mark = badge.locator('.jp-MemoryDoctor-leakMark');
    // 40 MB more on each run: flagged from the third.
    for (let run = 1; run <= 2; run++) {
      await page.notebook.runCell(1, true);
      await expect(badge).toHaveText(/^\+4\d MB/);
      await expect(mark).toHaveCount(0);
    }
    await page.notebook.runCell(1, true);
    await expect(mark).toHaveText('\u26a0 leak');
    await expect(mark).toHaveAttribute('title', /each of the last 3 runs/);
    await expect(mark).toHaveAttribute('title', /leak/);
  });
});
