import { expect, test } from '@jupyterlab/galata';

/**
 * End to end: "Profile Memory on Next Run" from a badge's context menu, the
 * cell's gutter with each line's figures, and the panel's Line profile.
 */

const DEFINE = 'import numpy as np\ndef make(n):\n    return np.ones(n)';
// 8 MB kept, 16 MB kept (in make), 32 MB only at the peak.
const PROFILED =
  'a = np.ones(1_000_000)\nb = make(2_000_000)\ns = float(np.ones(4_000_000).sum())';

function cell(page: any, index: number) {
  return page.locator('.jp-Notebook .jp-Cell').nth(index);
}

test.describe('line profile', () => {
  test('profiling a cell from its badge shows each line in the gutter and the panel', async ({
    page
  }) => {
    await page.notebook.createNew('profile.ipynb');
    await page.notebook.setCell(0, 'code', DEFINE);
    await page.notebook.addCell('code', PROFILED);
    await page.notebook.runCellByCell();
    const badge = cell(page, 1).getByRole('status');
    await expect(badge).toHaveText(/MB/);

    // Right-click the badge: "Profile Memory on Next Run".
    await badge.click({ button: 'right' });
    await page
      .locator('.lm-Menu')
      .getByText('Profile Memory on Next Run')
      .click();
    await expect(
      page.locator('.jp-toast-message').getByText(/will be profiled/)
    ).toBeVisible();
    await page.notebook.runCell(1);

    // The gutter: net and at-peak bytes next to each line.
    const figures = cell(page, 1).locator(
      '.jp-MemoryDoctor-profileGutter .jp-MemoryDoctor-profileFigure'
    );
    await expect(figures).toHaveCount(3);
    await expect(figures.nth(0)).toHaveText(/^\+8\.0 MB · 8\.0 MB$/);
    await expect(figures.nth(1)).toHaveText(/^\+16 MB · 16 MB$/);
    await expect(figures.nth(2)).toHaveText(/ · 32 MB$/);
    await expect(figures.nth(0)).toHaveAttribute('title', /Line 1/);
    // The defining cell's line, with its own (self) figures.
    await expect(
      cell(page, 0).locator('.jp-MemoryDoctor-profileFigure')
    ).toHaveText(/^\+16 MB · 16 MB$/);

    // The panel's Line profile section opens with the table of lines.
    await page.sidebar.openTab('jp-MemoryDoctor-holders');
    const section = page.locator('.jp-MemoryDoctor-profile');
    await expect(
      section.getByRole('button', { name: /Line profile/ })
    ).toHaveAttribute('aria-expanded', 'true');
    const rows = section.locator('.jp-MemoryDoctor-profileLines tbody tr');
    await expect(rows).toHaveCount(4);
    await expect(rows.nth(2)).toContainText('32 MB');
    await expect(section).toContainText(
      /memray: every allocator|tracemalloc: Python allocators only/
    );

    // Editing the cell clears its gutter.
    await cell(page, 1).locator('.cm-content').click();
    await page.keyboard.press('End');
    await page.keyboard.type(' # edited');
    await expect(figures).toHaveCount(0);
  });
});
