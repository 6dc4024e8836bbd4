import { expect, test } from '@jupyterlab/galata';

/**
 * End to end: the Timeline section of the side panel draws one marker per
 * executed cell, and clicking a marker scrolls to its cell.
 */

const SMALL_CELLS = 14;

test.describe('timeline', () => {
  test('shows a marker per executed cell; clicking one scrolls to its cell', async ({
    page
  }) => {
    await page.notebook.createNew('timeline.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      'import numpy as np\nfirst = np.ones(50 * 2**20 // 8)'
    );
    // The second cell waits, so that the first cell's marker stands apart
    // from the quick ones that follow (markers sit at each run's end).
    await page.notebook.addCell('code', 'import time\ntime.sleep(1.5)');
    for (let i = 2; i <= SMALL_CELLS; i++) {
      await page.notebook.addCell('code', `x${i} = list(range(${i} * 1000))`);
    }
    await page.notebook.run();
    // The last cell ran, so the notebook is scrolled away from the first.
    const cells = page.locator('.jp-Notebook .jp-Cell');
    await expect(cells.nth(SMALL_CELLS).getByRole('status')).toHaveText(/peak/);

    await page
      .locator('.jp-SideBar.jp-mod-right [data-id="jp-MemoryDoctor-holders"]')
      .click();
    const timeline = page.locator(
      '#jp-MemoryDoctor-holders .jp-MemoryDoctor-timeline'
    );
    // Collapsed at first; its heading counts the runs.
    const toggle = timeline.getByRole('button', {
      name: `Timeline (${SMALL_CELLS + 1} runs)`
    });
    await expect(toggle).toHaveAttribute('aria-expanded', 'false');
    await toggle.click();
    const markers = timeline
      .locator('.scatterlayer .trace')
      .nth(1)
      .locator('path.point');
    await expect(markers).toHaveCount(SMALL_CELLS + 1);

    // The top cell by peak is the one that allocated (labelled by its first line).
    await expect(
      timeline.locator('[data-key="peak"] button').first()
    ).toContainText('[1] import numpy as np');

    // Scroll the first cell out of view, then click its marker (the
    // earliest: markers are in time order).
    await cells.nth(SMALL_CELLS).scrollIntoViewIfNeeded();
    await expect(cells.first()).not.toBeInViewport();
    // plotly clicks the point it hovers: hover first, as a user would. Idle
    // readings keep extending the time axis, so the marker may move between
    // finding it and hovering it: find it again until the hover is right.
    const hover = timeline.locator('.hoverlayer .hovertext');
    await expect(async () => {
      const box = await markers.first().boundingBox();
      expect(box).not.toBeNull();
      await page.mouse.move(box!.x + box!.width / 2, box!.y + box!.height / 2);
      await expect(hover).toContainText('[1] import numpy as np', {
        timeout: 1000
      });
    }).toPass({ timeout: 30_000 });
    await expect(hover).toContainText('RSS change: +');
    await expect(hover).toContainText('Peak:');
    // One time format for the hover and the axis, and units with a space.
    await expect(hover).toContainText(/Ended at \d\d:\d\d:\d\d,/);
    const xTicks = await timeline.locator('.xtick text').allTextContents();
    expect(xTicks.length).toBeGreaterThan(0);
    for (const tick of xTicks) {
      expect(tick).toMatch(/^\d\d:\d\d:\d\d$/);
    }
    const yTicks = await timeline.locator('.ytick text').allTextContents();
    expect(yTicks).toContain('0 B');
    for (const tick of yTicks) {
      expect(tick).toMatch(/^\d+(\.\d+)? (B|kB|MB|GB)$/);
    }
    await page.mouse.down();
    await page.mouse.up();

    const highlighted = page.locator('.jp-Cell.jp-MemoryDoctor-highlight');
    await expect(highlighted).toHaveCount(1);
    await expect(highlighted).toContainText('first = np.ones');
    await expect(cells.first()).toBeInViewport();
  });
});
