import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

/**
 * The docs' screenshots, taken from a real JupyterLab and kernel so that they
 * show what the extension draws today: a cell's badge, the "What's holding
 * memory" panel with the output-cache trap, and the outcome of its fix, in
 * the light and the dark theme. Each is cropped to its element (a system
 * Chromium's rendering of a whole page drifts). Run by
 * `scripts/screenshots.sh`, which sets MD_SCREENSHOTS to docs/images; skipped
 * otherwise.
 */

const OUT = process.env.MD_SCREENSHOTS;

async function leakThroughOut(page: IJupyterLabPageFixture, name: string) {
  await page.notebook.createNew(name);
  await page.notebook.setCell(0, 'code', 'import numpy as np');
  await page.notebook.addCell(
    'code',
    'shown = np.ones(100 * 2**20 // 8)\nshown[:] = 1\nshown'
  );
  await page.notebook.addCell('code', 'del shown');
  await page.notebook.runCellByCell();
}

for (const theme of ['light', 'dark'] as const) {
  test(`badge, panel and fix outcome (${theme})`, async ({ page }) => {
    test.skip(
      !OUT,
      'screenshots only: scripts/screenshots.sh sets MD_SCREENSHOTS'
    );
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    } else {
      await page.theme.setLightTheme();
    }
    await leakThroughOut(page, `screenshots-${theme}.ipynb`);

    const cell = page.locator('.jp-Notebook .jp-Cell').nth(1);
    const badge = cell.getByRole('status');
    await expect(badge).toHaveText(/^\+1\d\d MB/);
    // The cell from its top to its badge.
    const box = await cell.boundingBox();
    const under = await badge.boundingBox();
    if (!box || !under) {
      throw new Error('the cell or its badge is not laid out');
    }
    await page.screenshot({
      path: `${OUT}/badge-${theme}.png`,
      clip: {
        x: box.x,
        y: box.y,
        width: box.width,
        height: Math.max(under.y + under.height - box.y + 6, 20)
      }
    });

    await page
      .locator('.jp-SideBar.jp-mod-right [data-id="jp-MemoryDoctor-holders"]')
      .click();
    const panel = page.locator('#jp-MemoryDoctor-holders');
    await page.sidebar.setWidth(420, 'right');
    const refresh = panel.getByRole('button', { name: 'Refresh' }).first();
    await expect(refresh).toBeEnabled();
    await refresh.click();
    await expect(refresh).toBeEnabled();
    await expect(
      panel.getByRole('row', { name: /Out\[\d+\]/ }).first()
    ).toBeVisible();
    await page.mouse.move(0, 0); // no hover highlight in the picture
    await panel.screenshot({ path: `${OUT}/panel-${theme}.png` });

    await panel
      .getByRole('button', { name: /^Apply: Delete .*Out\[\d+\]/ })
      .first()
      .click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Delete' })
      .click();
    const outcome = panel.locator('.jp-MemoryDoctor-fixOutcome').first();
    await expect(
      outcome.locator('.jp-MemoryDoctor-fixOutcomeLine.jp-mod-result')
    ).toHaveText(/^Freed 1\d\d MB/);
    await expect(refresh).toBeEnabled();
    await page.mouse.move(0, 0);
    await panel.screenshot({ path: `${OUT}/fix-${theme}.png` });
  });
}
