import { expect, test } from '@jupyterlab/galata';

/**
 * End to end: a real kernel scan shown in the "What's holding memory" panel.
 */
test.describe("what's holding memory", () => {
  test('the top holder shows its size and path, and clicking it highlights its cell', async ({
    page
  }) => {
    await page.notebook.createNew('holders.ipynb');
    await page.notebook.setCell(0, 'code', 'import numpy as np');
    await page.notebook.addCell(
      'code',
      'big = np.ones(50 * 2**20 // 8)\nbig[:] = 1'
    );
    await page.notebook.addCell('code', 'small = list(range(10))');
    await page.notebook.runCellByCell();

    await page
      .locator('.jp-SideBar.jp-mod-right [data-id="jp-MemoryDoctor-holders"]')
      .click();
    const panel = page.locator('#jp-MemoryDoctor-holders');
    const refresh = panel.getByRole('button', { name: 'Refresh' });
    await expect(refresh).toBeVisible();
    // The first opening scans by itself; refresh again to be sure the scan
    // reflects every cell above.
    await refresh.click();

    const row = panel.getByRole('row', { name: /\bbig\b/ }).first();
    await expect(row).toBeVisible();
    // 50 MiB of float64 is 52.4 MB: the data buffer, counted once.
    await expect(row.locator('.jp-MemoryDoctor-holderRetained')).toHaveText(
      /^5[0-5](\.\d)? MB$/
    );
    await expect(row.locator('.jp-MemoryDoctor-holderType')).toHaveText(
      /ndarray/
    );
    // It is the largest holder: the first row.
    await expect(
      panel.locator('[role=row][data-holder-id]').first()
    ).toContainText('big');

    await row.locator('button.jp-MemoryDoctor-holderExpand').click();
    await expect(
      panel.locator('code.jp-MemoryDoctor-holderPath').first()
    ).toHaveText('big');

    // A click on the row leads to its cell (at the default sidebar width the
    // Cell column gives way to the names).
    await row.locator('.jp-MemoryDoctor-holderLabel').click();
    const highlighted = page.locator('.jp-Cell.jp-MemoryDoctor-highlight');
    await expect(highlighted).toHaveCount(1);
    await expect(highlighted).toContainText('big = np.ones');
  });
});
