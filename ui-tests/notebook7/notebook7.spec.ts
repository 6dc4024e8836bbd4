import { notebookJson } from '../tests/compat';
import { expect, test } from './fixtures';

/**
 * Notebook 7: the prebuilt extension from the wheel in a real Notebook 7
 * server, a real kernel, Debian's Chromium. Notebook 7 has no status bar,
 * so the kernel's memory shows in the top bar (`#jp-MemoryDoctor-topbar`)
 * and in the panel's header.
 */

const KEEP_200MB =
  'import numpy as np\nkeep = np.ones(200 * 2**20 // 8)\nkeep[:] = 1';

/** Notebook 7.6.5 itself throws this while loading settings (also without us). */
const NOTEBOOK_OWN_ERROR =
  "Cannot read properties of undefined (reading 'schema')";

test('a badge, a magic output and the panel with the kernel memory', async ({
  page,
  tmpPath
}) => {
  const errors: string[] = [];
  page.on('pageerror', error => errors.push(String(error.message)));
  page.on('console', message => {
    if (message.type() === 'error') {
      errors.push(message.text());
    }
  });

  await page.contents.uploadContent(
    notebookJson([KEEP_200MB, '%memory holders -n 3']),
    'text',
    `${tmpPath}/mem.ipynb`
  );
  await page.goto(`notebooks/${tmpPath}/mem.ipynb`);
  await page.waitForSelector('.jp-Notebook .jp-Cell');
  await page.waitForFunction(
    () =>
      (window as any).jupyterapp.shell.currentWidget?.sessionContext?.session
        ?.kernel?.status === 'idle'
  );

  const cells = page.locator('.jp-Notebook .jp-Cell');
  await cells.first().locator('.jp-InputArea-prompt').click();
  await page.keyboard.press('Shift+Enter');
  const badge = cells.first().getByRole('status');
  await expect(badge).toHaveText(/^\+2\d\d MB · peak \+2\d\d MB$/);

  // No status bar in Notebook 7: the kernel's memory is in the top bar.
  const readout = page.locator('#jp-MemoryDoctor-topbar');
  await expect(readout).toBeVisible();
  await expect(readout).toHaveText(/^Mem: \d+(\.\d)? (MB|GB)/);

  await page.keyboard.press('Shift+Enter');
  const output = cells.nth(1).locator('.jp-MemoryDoctor-output');
  await expect(
    output.getByRole('row', { name: /\bkeep\b/ }).first()
  ).toBeVisible();
  if (process.env.MD_SCREENSHOTS) {
    // The whole page: the top bar's memory readout is outside #main-panel.
    await page.screenshot({
      path: `${process.env.MD_SCREENSHOTS}/notebook7.png`
    });
  }

  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('memory-doctor:open-holders')
  );
  const panel = page.locator('#jp-MemoryDoctor-holders');
  await expect(panel).toBeVisible();
  await expect(panel).toContainText('Kernel RSS');
  await expect(panel).toContainText(/\d+(\.\d+)? (MB|GB)/);
  await expect(
    panel.getByRole('row', { name: /\bkeep\b/ }).first()
  ).toBeVisible();

  expect(errors.filter(e => !e.includes(NOTEBOOK_OWN_ERROR))).toEqual([]);
});

test("the palette lists the panel's open command once", async ({
  page,
  tmpPath
}) => {
  await page.contents.uploadContent(
    notebookJson(['1 + 1']),
    'text',
    `${tmpPath}/palette.ipynb`
  );
  await page.goto(`notebooks/${tmpPath}/palette.ipynb`);
  await page.waitForSelector('.jp-Notebook .jp-Cell');
  await page.waitForFunction(
    () =>
      (window as any).jupyterapp.shell.currentWidget?.sessionContext?.session
        ?.kernel?.status === 'idle'
  );
  // The modal palette closes when the notebook takes the focus while the
  // page settles: open it until it stays.
  const palette = page.locator('.jp-ModalCommandPalette');
  await expect(async () => {
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute(
        'apputils:activate-command-palette'
      )
    );
    await expect(palette).toBeVisible({ timeout: 2000 });
  }).toPass();
  await palette.locator('.lm-CommandPalette-input').fill('holding memory');
  const labels = palette.locator('.lm-CommandPalette-itemLabel');
  await expect(labels.first()).toBeVisible();
  const texts = await labels.allTextContents();
  // Notebook 7.6.5 lists "Show <caption>" for each side panel itself; the
  // extension adds its own open command only where that listing is absent.
  expect(
    texts.filter(t => /^show what.s holding memory$/i.test(t.trim()))
  ).toHaveLength(1);
  expect(
    texts.filter(t => /^refresh what.s holding memory$/i.test(t.trim()))
  ).toHaveLength(1);
});
