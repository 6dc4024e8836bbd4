import { expect, test } from '@jupyterlab/galata';

/**
 * End to end: a real Dask LocalCluster (two worker processes, 400 MB each)
 * started by the notebook, shown in the side panel's "On the cluster"
 * section; a Release measured on the scheduler; the cell's delta on its
 * badge. The cluster is closed at the end whatever happens.
 */
test.describe('on the cluster', () => {
  test('shows the workers and the names holding keys, and releases one', async ({
    page
  }) => {
    test.setTimeout(180 * 1000);
    await page.notebook.createNew('cluster.ipynb');
    // One statement per line, no bracket spanning lines: the editor types it.
    await page.notebook.setCell(
      0,
      'code',
      [
        'import dask.array as da',
        'from distributed import Client, LocalCluster, wait',
        'cluster = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="400MB", dashboard_address=None)',
        'client = Client(cluster)'
      ].join('\n')
    );
    await page.notebook.addCell(
      'code',
      'arr = da.random.random((2500, 2000), chunks=(500, 2000)).persist()\nwait(arr);'
    );
    await page.notebook.addCell(
      'code',
      'shown = da.random.random((1000, 2000), chunks=(500, 2000)).persist()\nwait(shown)\nshown'
    );
    try {
      await page.notebook.runCellByCell();
      // A failing cell (no dask, no cluster) says why here rather than as a missing badge.
      const errors = page.locator(
        '.jp-OutputArea-output[data-mime-type*="error"]'
      );
      expect(await errors.allTextContents()).toEqual([]);

      // The persisting cell's badge: its cluster delta, once the workers reported.
      const badge = page.locator('.jp-MemoryDoctor-badge').nth(1);
      await expect(badge).toHaveAttribute(
        'title',
        /Dask cluster: \+40 MB held by this run/
      );

      await page
        .locator('.jp-SideBar.jp-mod-right [data-id="jp-MemoryDoctor-holders"]')
        .click();
      const panel = page.locator('#jp-MemoryDoctor-holders');
      await panel.getByRole('button', { name: 'Refresh', exact: true }).click();

      const section = panel.locator('.jp-MemoryDoctor-cluster');
      await expect(
        section.getByRole('button', { name: 'On the cluster' })
      ).toBeVisible();
      const workers = section.locator(
        '.jp-MemoryDoctor-clusterWorkers tbody tr'
      );
      await expect(workers).toHaveCount(2);
      await expect(workers.first()).toContainText('free of 400 MB');
      await expect(section.getByRole('row', { name: /^arr\b/ })).toContainText(
        '40 MB'
      );
      const shown = section.getByRole('row', { name: /shown · Out\[3\]/ });
      await expect(shown).toContainText('16 MB');

      await shown.getByRole('button', { name: /^Release shown/ }).click();
      await page.getByRole('button', { name: 'Release', exact: true }).click();
      await expect(
        section.locator('.jp-MemoryDoctor-clusterStatus')
      ).toContainText(/Freed 1[5-7] MB on 2 workers \(estimated 16 MB\)/, {
        timeout: 60 * 1000
      });
      // Asked again after the release: the holder is gone.
      await expect(section.getByRole('row', { name: /shown/ })).toHaveCount(0);
    } finally {
      await page.notebook.addCell('code', 'client.close(); cluster.close()');
      await page.notebook.runCell(3);
    }
  });
});
