import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

/**
 * End to end: a real kernel's suggestions in the "What's holding memory"
 * panel. An array shown as a cell's output lives on in the output cache
 * after `del`; the panel suggests deleting every hidden name, applies it on
 * an explicit click and confirmation, and shows what was really freed.
 */

/** A notebook whose `Out[n]` holds a 50 MiB array that `del` did not free. */
async function leakThroughOut(page: IJupyterLabPageFixture, name: string) {
  await page.notebook.createNew(name);
  await page.notebook.setCell(0, 'code', 'import numpy as np');
  await page.notebook.addCell(
    'code',
    'big = np.ones(50 * 2**20 // 8)\nbig[:] = 1\nbig'
  );
  await page.notebook.addCell('code', 'del big');
  await page.notebook.runCellByCell();
}

/** Open the panel and scan the kernel as it is now. */
async function scan(page: IJupyterLabPageFixture): Promise<Locator> {
  await page
    .locator('.jp-SideBar.jp-mod-right [data-id="jp-MemoryDoctor-holders"]')
    .click();
  const panel = page.locator('#jp-MemoryDoctor-holders');
  const refresh = panel.getByRole('button', { name: 'Refresh' });
  await expect(refresh).toBeEnabled();
  // The first opening scans by itself; refresh so the scan follows every cell.
  await refresh.click();
  await expect(refresh).toBeEnabled();
  return panel;
}

test.describe('fixes', () => {
  test('applying the suggested fix for an Out[n] leak shows the freed amount and the holder is gone', async ({
    page
  }) => {
    await leakThroughOut(page, 'fixes-apply.ipynb');
    const panel = await scan(page);

    const holder = panel.getByRole('row', { name: /Out\[\d+\]/ });
    await expect(holder.first()).toBeVisible();
    const apply = panel.getByRole('button', {
      name: /^Apply: Delete .*Out\[\d+\]/
    });
    await expect(apply).toHaveCount(1);
    await apply.click();

    // Destructive: a confirmation names exactly what will be deleted.
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('.jp-MemoryDoctor-fixTargets')).toContainText(
      /Out\[\d+\]/
    );
    await dialog.getByRole('button', { name: 'Delete' }).click();

    // 50 MiB of float64 is 52.4 MB: freed in the kernel, and the RSS drop.
    const result = panel.locator(
      '.jp-MemoryDoctor-fixOutcome .jp-MemoryDoctor-fixOutcomeLine.jp-mod-result'
    );
    await expect(result).toHaveText(
      /^Freed 5[0-5](\.\d)? MB \(estimated 5[0-5](\.\d)? MB\) · returned to the OS [4-5]\d(\.\d)? MB$/
    );
    // The panel rescanned: the output-cache holder is gone.
    await expect(panel.getByRole('button', { name: 'Refresh' })).toBeEnabled();
    await expect(holder).toHaveCount(0);
  });

  test('a fix whose memory glibc keeps shows what went back to the OS, not "Freed 0 B"', async ({
    page
  }) => {
    await page.notebook.createNew('fixes-glibc.ipynb');
    // Freed 8 MB arrays raise glibc's mmap threshold: the next ones live in its
    // main heap, under a later allocation (`pin`), so freeing them returns
    // nothing to the OS by itself.
    await page.notebook.setCell(
      0,
      'code',
      [
        'import numpy as np',
        'churn = [np.ones(1_000_000) for _ in range(20)]',
        'del churn'
      ].join('\n')
    );
    await page.notebook.addCell(
      'code',
      'big = [np.ones(1_000_000) for _ in range(40)]\npin = bytes(4_000_000)'
    );
    await page.notebook.runCellByCell();
    const panel = await scan(page);

    const apply = panel.getByRole('button', { name: /^Apply: Delete big$/ });
    await expect(apply).toHaveCount(1);
    await apply.click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Delete' })
      .click();

    // 40 arrays of 8 MB: freed in the kernel, and returned to the OS by the fix.
    const result = panel.locator(
      '.jp-MemoryDoctor-fixOutcome .jp-MemoryDoctor-fixOutcomeLine.jp-mod-result'
    );
    await expect(result).toHaveText(
      /^Freed 3[0-3]\d MB \(estimated 32\d MB\) · returned to the OS (2[6-9]\d|3[0-3]\d) MB$/
    );
    await expect(panel.locator('.jp-MemoryDoctor-fixOutcome')).toContainText(
      'had kept'
    );
  });

  test('Insert as cell adds the fix below the active cell without running it', async ({
    page
  }) => {
    await leakThroughOut(page, 'fixes-insert.ipynb');
    const cells = await page.notebook.getCellCount();
    await page.notebook.selectCells(0);
    const panel = await scan(page);

    // The suggestions start folded to their summary line: open the list.
    await panel
      .locator('.jp-MemoryDoctor-suggestionsSummary button[aria-expanded]')
      .click();
    const insert = panel.getByRole('button', {
      name: /^Insert as cell: Delete .*Out\[\d+\]/
    });
    await expect(insert).toHaveCount(1);
    const code = await panel
      .locator('.jp-MemoryDoctor-suggestions .jp-MemoryDoctor-suggestionCode')
      .first()
      .textContent();
    expect(code).toMatch(/Out/);
    await insert.click();

    expect(await page.notebook.getCellCount()).toBe(cells + 1);
    expect(await page.notebook.getCellTextInput(1)).toBe(code);
    expect(await page.notebook.getCellType(1)).toBe('code');
    // Not run: no execution count, and the holder is still there.
    const prompt = page
      .locator('.jp-Notebook .jp-Cell')
      .nth(1)
      .locator('.jp-InputPrompt');
    await expect(prompt).toHaveText(/\[\s*\]:/);
    await expect(panel.locator('.jp-MemoryDoctor-fixOutcome')).toContainText(
      'It has not been run.'
    );
  });

  test('a dict key, file name and class name of <img src=x onerror=alert(1)> inject nothing', async ({
    page
  }) => {
    const evil = '<img src=x onerror=alert(1)>';
    const dialogs: string[] = [];
    page.on('dialog', dialog => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.notebook.createNew('fixes-escape.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      [
        'import numpy as np',
        `Evil = type(${JSON.stringify(evil)}, (), {})`,
        'obj = Evil()',
        'obj.data = np.ones(2**20)',
        `d = {${JSON.stringify(evil)}: np.ones(2**21)}`,
        `f = open(${JSON.stringify(evil + '.txt')}, 'w')`
      ].join('\n')
    );
    await page.notebook.runCellByCell();
    const panel = await scan(page);

    const holderRow = (name: string) =>
      panel.locator('[role=row][data-holder-id]').filter({
        has: page.locator('.jp-MemoryDoctor-holderLabel', {
          hasText: new RegExp(`^${name}$`)
        })
      });
    const row = holderRow('d');
    await expect(row).toBeVisible();
    await row.locator('button.jp-MemoryDoctor-holderExpand').click();
    await expect(
      panel.locator('code.jp-MemoryDoctor-holderPath').first()
    ).toHaveText(`d['${evil}']`);
    // The largest row named obj (the instance with its 8 MB array).
    await expect(holderRow('obj').first()).toContainText(`__main__.${evil}`);
    await expect(
      panel.locator('.jp-MemoryDoctor-resourceDetail').first()
    ).toContainText(`${evil}.txt`);
    await expect(panel.locator('img')).toHaveCount(0);
    expect(dialogs).toEqual([]);
  });
});
