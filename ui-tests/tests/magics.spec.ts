import { expect, test } from '@jupyterlab/galata';

import { openNotebook } from './compat';

/**
 * End to end: a magic's output drawn by our renderer with the side panel's
 * parts, in a real JupyterLab with a real kernel. With MD_SCREENSHOTS=dir
 * the output is also saved, cropped, for the README.
 */

const KEEP_200MB =
  'import numpy as np\nkeep = np.ones(200 * 2**20 // 8)\nkeep[:] = 1';

function cell(page: any, index: number) {
  return page.locator('.jp-Notebook .jp-Cell').nth(index);
}

test.describe('magic outputs', () => {
  test('%memory holders: the panel table, a row leads to its cell, Apply asks then frees', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(page, tmpPath, 'magics.ipynb', [
      KEEP_200MB,
      '%memory holders -n 5'
    ]);
    // The helper measures (and knows the cell of) what runs once it is loaded.
    await expect(page.locator('.jp-MemoryDoctor-status')).toHaveText(/\d/);
    await page.notebook.runCellByCell();

    const output = cell(page, 1).locator('.jp-MemoryDoctor-output');
    await expect(output).toBeVisible();
    // Our renderer drew the data, not the HTML meant for other front ends.
    await expect(cell(page, 1).locator('.jp-MemoryDoctor-out')).toHaveCount(0);
    const row = output.getByRole('row', { name: /\bkeep\b/ }).first();
    await expect(row.locator('.jp-MemoryDoctor-holderRetained')).toHaveText(
      /^2\d\d(\.\d)? MB$/
    );
    if (process.env.MD_SCREENSHOTS) {
      await output.screenshot({
        path: `${process.env.MD_SCREENSHOTS}/jupyterlab-output.png`
      });
    }

    await row.locator('.jp-MemoryDoctor-holderCell').click();
    const highlighted = page.locator('.jp-Cell.jp-MemoryDoctor-highlight');
    await expect(highlighted).toHaveCount(1);
    await expect(highlighted).toContainText('keep = np.ones');

    await output.getByRole('button', { name: /^Apply: Delete keep/ }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('keep');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await expect(output.locator('.jp-MemoryDoctor-fixOutcome')).toContainText(
      /Freed 2\d\d MB/
    );
  });

  test('%memory badges on stays off while the extension draws badges', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(page, tmpPath, 'badges-on.ipynb', [
      '%memory badges on',
      'x = 1'
    ]);
    // Connected: the status bar shows the kernel's memory from the hello on.
    await expect(page.locator('.jp-MemoryDoctor-status')).toHaveText(/\d/);
    await page.notebook.runCellByCell();
    await expect(
      cell(page, 0).locator('.jp-MemoryDoctor-output')
    ).toContainText('JupyterLab extension is connected');
    // The extension's own badge, and no badge output under the cell.
    await expect(cell(page, 1).getByRole('status')).toHaveText(/peak/);
    await expect(cell(page, 1).locator('.jp-MemoryDoctor-output')).toHaveCount(
      0
    );
  });
});
