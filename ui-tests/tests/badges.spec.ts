import { expect, galata, test } from '@jupyterlab/galata';

import { openNotebook } from './compat';

/**
 * End to end: a real JupyterLab, a real ipykernel with the helper loaded by
 * the extension, Debian's Chromium.
 */

const KEEP_200MB =
  'import numpy as np\nkeep = np.ones(200 * 2**20 // 8)\nkeep[:] = 1';
const KEEP_400MB =
  'import numpy as np\nkeep = np.ones(400 * 2**20 // 8)\nkeep[:] = 1';

function cell(page: any, index: number) {
  return page.locator('.jp-Notebook .jp-Cell').nth(index);
}

test.describe('per-cell memory badges', () => {
  test('a cell that keeps 200 MB gets a badge of that magnitude', async ({
    page
  }) => {
    await page.notebook.createNew('badge.ipynb');
    await page.notebook.setCell(0, 'code', KEEP_200MB);
    await page.notebook.runCell(0);

    const badge = cell(page, 0).getByRole('status');
    // 200 MiB is 209.7 MB: "+2xx MB · peak +2xx MB".
    await expect(badge).toHaveText(/^\+2\d\d MB · peak \+2\d\d MB$/);
    await expect(badge).toHaveAttribute('aria-label', /Memory/);
    await expect(badge).toHaveAttribute('title', /Peak/i);
    // Amber (over the 100 MB change threshold) is said in words, not by colour
    // alone: in the accessible name and the tooltip.
    await expect(badge).toHaveAttribute(
      'aria-label',
      /Above the warning threshold/
    );
    await expect(badge).toHaveAttribute('title', /Above the warning threshold/);

    // The status bar shows the kernel's resident memory.
    await expect(page.locator('.jp-MemoryDoctor-status')).toHaveText(
      /\d+(\.\d+)? (MB|GB)/
    );
  });

  test('after a kernel restart the helper is reloaded and the badge updates', async ({
    page
  }) => {
    await page.notebook.createNew('restart.ipynb');
    await page.notebook.setCell(0, 'code', KEEP_200MB);
    await page.notebook.runCell(0);
    const badge = cell(page, 0).getByRole('status');
    await expect(badge).toHaveText(/^\+2\d\d MB/);

    // Galata 5.6.4's runner tracking answers every POST /api/kernels/* with
    // 201, which JupyterLab 4.6.6 rejects for a restart; a later route wins,
    // so send restarts straight to the server.
    await page.route(/\/api\/kernels\/[^/]+\/restart/, route =>
      route.continue()
    );
    await page.menu.clickMenuItem('Kernel>Restart Kernel…');
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Confirm Kernel Restart' })
      .click();
    await page.waitForSelector('.jp-Dialog', { state: 'detached' });

    await page.notebook.setCell(0, 'code', KEEP_400MB);
    await page.notebook.runCell(0);
    // Only a reloaded helper can send this figure: 400 MiB is 419 MB.
    await expect(badge).toHaveText(/^\+4\d\d MB/);
  });

  test('a kernel without the helper shows the pip command', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(
      page,
      tmpPath,
      'nohelper.ipynb',
      [''],
      'python3-nohelper'
    );
    await expect(
      page
        .getByText('%pip install jupyterlab-memory-doctor')
        .locator('visible=true')
        .first()
    ).toBeVisible();
    await page.notebook.setCell(0, 'code', 'x = 1');
    await page.notebook.runCell(0);
    await expect(cell(page, 0).getByRole('status')).toHaveCount(0);
  });
});

test.describe('windowed notebook', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      '@jupyterlab/notebook-extension:tracker': {
        ...galata.DEFAULT_SETTINGS['@jupyterlab/notebook-extension:tracker'],
        windowingMode: 'full'
      }
    }
  });

  test('a 1,000-cell notebook: cells executed off-screen show their badge when scrolled to', async ({
    page,
    tmpPath
  }) => {
    const cells = Array.from({ length: 1000 }, (_, i) => ({
      cell_type: 'code',
      id: `cell-${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source:
        i === 0
          ? 'import numpy as np'
          : i === 999
            ? 'last = np.ones(2**24)'
            : `v${i} = ${i}`
    }));
    const notebook = {
      cells,
      metadata: {
        kernelspec: {
          name: 'python3',
          display_name: 'Python 3',
          language: 'python'
        }
      },
      nbformat: 4,
      nbformat_minor: 5
    };
    await page.contents.uploadContent(
      JSON.stringify(notebook),
      'text',
      `${tmpPath}/many.ipynb`
    );
    await page.notebook.openByPath(`${tmpPath}/many.ipynb`);
    await page.notebook.activate('many.ipynb');
    await page.notebook.run();

    const last = cell(page, 999);
    await last.scrollIntoViewIfNeeded();
    // 2**24 float64 = 134 MB.
    await expect(last.getByRole('status')).toHaveText(/^\+1[23]\d MB/);

    // A cell in the middle, rendered only now, has its own figures too.
    // Off-window cells are hidden placeholders: scroll the windowed list
    // itself, then find the badge by the cell id it carries.
    await page.evaluate(async () => {
      const notebook = (window as any).jupyterapp.shell.currentWidget.content;
      await notebook.scrollToItem(500, 'center');
    });
    const middle = page.locator(
      '.jp-MemoryDoctor-badge[data-cell-id="cell-500"]'
    );
    await expect(middle).toBeVisible();
    await expect(middle).toHaveText(/^[+−]?\d/);
  });
});
