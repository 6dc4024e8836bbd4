import AxeBuilder from '@axe-core/playwright';
import {
  expect,
  galata,
  IJupyterLabPageFixture,
  test
} from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

/**
 * End to end, issue 12: the "What's holding memory" panel read at a glance
 * in a real JupyterLab. The holders table is the main view (ten rows or more
 * above the fold, with five suggestions folded to a line above it), a size is
 * never cut, the counts say what was dropped and the filter finds it, the
 * table works from the keyboard, and axe-core finds no contrast problem in
 * our elements, in the light and the dark theme.
 */

const PANEL = '#jp-MemoryDoctor-holders';

/**
 * Five variables of 2 to 6 MB (each one a "Delete" suggestion: the helper
 * suggests deleting a holder of 1 MB or more) and thirty small ones.
 */
// One line per statement: Galata types the source, and the editor would
// indent a line after a `for`.
const FIVE_SUGGESTIONS = [
  "globals().update({f'big{i}': bytearray((i + 2) * 1_000_000) for i in range(5)})",
  "globals().update({f'small{i}': list(range(100 + i)) for i in range(30)})"
].join('\n');

/** Open the panel and scan the kernel as it is now. */
async function scan(page: IJupyterLabPageFixture): Promise<Locator> {
  await page
    .locator('.jp-SideBar.jp-mod-right [data-id="jp-MemoryDoctor-holders"]')
    .click();
  const panel = page.locator(PANEL);
  const refresh = panel.getByRole('button', { name: 'Refresh' });
  await expect(refresh).toBeEnabled();
  // The first opening scans by itself; refresh so the scan follows every cell.
  await refresh.click();
  await expect(refresh).toBeEnabled();
  await expect(
    panel.locator('[role=row][data-holder-id]').first()
  ).toBeVisible();
  return panel;
}

/**
 * Drag the handle between the main area and the right sidebar until the
 * panel is `width` pixels wide (Lumino may keep it a few pixels off).
 */
async function setSidebarWidth(
  page: IJupyterLabPageFixture,
  width: number
): Promise<void> {
  const panel = page.locator(PANEL);
  for (let attempt = 0; attempt < 3; attempt++) {
    const box = (await panel.boundingBox())!;
    if (Math.abs(box.width - width) <= 2) {
      return;
    }
    // The split handle sits just left of the right sidebar's panel.
    const handle = await page.evaluate(left => {
      const handles = [
        ...document.querySelectorAll<HTMLElement>(
          '#jp-main-split-panel > .lm-SplitPanel-handle'
        )
      ].filter(h => !h.classList.contains('lm-mod-hidden'));
      let best: { x: number; y: number } | null = null;
      let distance = Infinity;
      for (const h of handles) {
        const r = h.getBoundingClientRect();
        const d = Math.abs(r.right - left);
        if (r.width >= 0 && r.height > 0 && d < distance) {
          distance = d;
          best = { x: r.left + r.width / 2, y: r.top + r.height / 2 };
        }
      }
      return best;
    }, box.x);
    expect(handle).not.toBeNull();
    await page.mouse.move(handle!.x, handle!.y);
    await page.mouse.down();
    await page.mouse.move(handle!.x + (box.width - width) / 2, handle!.y);
    await page.mouse.move(handle!.x + (box.width - width), handle!.y);
    await page.mouse.up();
  }
  const box = (await panel.boundingBox())!;
  expect(Math.abs(box.width - width)).toBeLessThanOrEqual(4);
}

/** The holder rows whose whole main line is inside the table's viewport. */
async function rowsInView(panel: Locator): Promise<number> {
  return panel.evaluate(node => {
    const scroller = node.querySelector('.jp-MemoryDoctor-holdersScroller');
    if (!scroller) {
      return 0;
    }
    const view = scroller.getBoundingClientRect();
    const bottom = Math.min(view.bottom, window.innerHeight);
    return [
      ...node.querySelectorAll<HTMLElement>('[role=row][data-holder-id]')
    ].filter(row => {
      const r = row.getBoundingClientRect();
      // The main line (the first 28 px) is what a reader sees of a row.
      return r.top >= view.top - 1 && r.top + 28 <= bottom + 1;
    }).length;
  });
}

/** Size cells whose text does not fit their box. */
async function cutSizes(panel: Locator): Promise<string[]> {
  return panel.evaluate(node =>
    [
      ...node.querySelectorAll<HTMLElement>(
        '.jp-MemoryDoctor-holderRetained, .jp-MemoryDoctor-holdersColumn.jp-mod-retained, .jp-MemoryDoctor-holdersColumn.jp-mod-retained button'
      )
    ]
      .filter(cell => cell.scrollWidth > cell.clientWidth)
      .map(
        cell =>
          `${cell.className} "${cell.textContent}" ${cell.scrollWidth}>${cell.clientWidth}`
      )
  );
}

/**
 * Whether `selector`'s computed background is dark (sum of RGB under 3 x 96),
 * to be sure that the theme axe checks is the one asked for.
 */
async function darkBackground(
  page: IJupyterLabPageFixture,
  selector: string
): Promise<boolean> {
  return page.evaluate(sel => {
    const node = document.querySelector(sel);
    const [r, g, b] = (node ? getComputedStyle(node).backgroundColor : '')
      .match(/\d+/g)!
      .map(Number);
    return r + g + b < 3 * 96;
  }, selector);
}

/** axe-core's colour-contrast results for our own elements. */
interface IContrast {
  /** Our elements below 4.5:1 (3:1 for large text). */
  violations: string[];
  /** Our elements axe could not decide, but for those scrolled partly away. */
  incomplete: string[];
  /** How many of our elements passed. */
  passed: number;
}

/** Run axe-core's colour-contrast rule on the page; keep our elements. */
async function contrast(page: IJupyterLabPageFixture): Promise<IContrast> {
  // JupyterLab's <body> is 0 px high with `overflow: hidden` (the shell is
  // positioned over it), so axe-core 4.14 takes every text in the shell for
  // clipped away and checks none of it. A body as high as the window changes
  // nothing on screen and lets axe see the text.
  await page.addStyleTag({ content: 'body { height: 100vh; }' });
  const results = await new AxeBuilder({ page })
    .withRules(['color-contrast'])
    .analyze();
  type Node = { target: unknown[]; html: string; failureSummary?: string };
  // Whether a node's box crosses the edge of the area it scrolls in (the
  // table's last visible row is cut by the scroller, and axe cannot tell the
  // background of what is partly scrolled away).
  const cut = await page.evaluate(
    targets =>
      targets.map(selector => {
        const node = document.querySelector(selector);
        const area = node?.closest(
          '.jp-MemoryDoctor-holdersScroller, #jp-MemoryDoctor-holders'
        );
        if (!node || !area) {
          return false;
        }
        const r = node.getBoundingClientRect();
        const a = area.getBoundingClientRect();
        return r.top < a.top || r.bottom > a.bottom;
      }),
    results.incomplete.flatMap(group =>
      group.nodes.map(node => String(node.target[0]))
    )
  );
  let at = 0;
  const incomplete = results.incomplete.map(group => ({
    ...group,
    nodes: group.nodes.filter(() => !cut[at++])
  }));
  const ours = (nodes: Node[]) =>
    nodes
      .filter(node =>
        `${node.target.join(' ')} ${node.html}`.includes('jp-MemoryDoctor')
      )
      .map(node => `${node.html} :: ${node.failureSummary ?? ''}`);
  const all = (groups: { nodes: Node[] }[]) =>
    groups.flatMap(group => ours(group.nodes));
  return {
    violations: all(results.violations),
    incomplete: all(incomplete),
    passed: all(results.passes).length
  };
}

test.describe('panel layout', () => {
  for (const width of [250, 500]) {
    test(`at ${width} px: sizes are never cut and ten rows show under five suggestions`, async ({
      page
    }) => {
      await page.notebook.createNew(`layout-${width}.ipynb`);
      await page.notebook.setCell(0, 'code', FIVE_SUGGESTIONS);
      await page.notebook.runCellByCell();
      const panel = await scan(page);
      await setSidebarWidth(page, width);

      // Five suggestions, folded to one line above the table.
      await expect(
        panel.locator('.jp-MemoryDoctor-suggestionsSummary')
      ).toContainText(/^5 suggestions/);
      await expect(
        panel.getByRole('button', { name: /^Apply: Delete big\d$/ })
      ).toHaveCount(5);

      await expect.poll(() => rowsInView(panel)).toBeGreaterThanOrEqual(10);
      await expect.poll(() => cutSizes(panel)).toEqual([]);
      // The size column is as wide as its figures: none is shortened.
      await expect(
        panel
          .locator('[role=row][data-holder-id]')
          .first()
          .locator('.jp-MemoryDoctor-holderRetained')
      ).toHaveText(/^\d+(\.\d)? MB$/);

      // The summary lines are read whole, not cut.
      await expect
        .poll(() =>
          panel.evaluate(node =>
            [
              ...node.querySelectorAll<HTMLElement>(
                '.jp-MemoryDoctor-suggestionsSummary button, .jp-MemoryDoctor-holdersCount'
              )
            ]
              .filter(e => e.scrollWidth > e.clientWidth)
              .map(e => `${e.textContent} ${e.scrollWidth}>${e.clientWidth}`)
          )
        )
        .toEqual([]);
      // The names give way: a name cut by the width has its full list in
      // its tooltip.
      const label = panel
        .locator('[role=row][data-holder-id]')
        .first()
        .locator('.jp-MemoryDoctor-holderLabel');
      await expect(label).toHaveAttribute('title', /^big4$/);
      await expect(label).toHaveCSS('text-overflow', 'ellipsis');
      // At 250 px the object count, type and cell columns give way before a
      // short name is cut.
      expect(
        await label.evaluate(node => node.scrollWidth <= node.clientWidth)
      ).toBe(true);
      // With the Timeline opened too, the table keeps ten rows' height (the
      // panel scrolls as a whole instead).
      await panel.getByRole('button', { name: /^Timeline \(1 run\)$/ }).click();
      // The toggle's arrow is decoration: its name is the words alone.
      await expect(
        panel.getByRole('button', { name: /^Timeline \(1 run\)$/ })
      ).toHaveAttribute('aria-expanded', 'true');
      await expect(
        panel.getByRole('button', { name: /^5 suggestions · frees about/ })
      ).toHaveAttribute('aria-expanded', 'false');
      expect(
        await panel
          .locator('.jp-MemoryDoctor-holdersScroller')
          .evaluate(node => node.clientHeight)
      ).toBeGreaterThanOrEqual(10 * 28);
      await panel.getByRole('button', { name: /^Timeline \(1 run\)$/ }).click();
      // Resources and Findings start folded (nothing or little in them).
      for (const name of [/^Resources/, /^Findings/]) {
        const toggle = panel.getByRole('button', { name });
        if ((await toggle.count()) > 0) {
          await expect(toggle).toHaveAttribute('aria-expanded', 'false');
        }
      }
    });
  }

  test('the keyboard moves between rows and Enter opens one', async ({
    page
  }) => {
    await page.notebook.createNew('layout-keys.ipynb');
    await page.notebook.setCell(0, 'code', FIVE_SUGGESTIONS);
    await page.notebook.runCellByCell();
    const panel = await scan(page);
    const rows = panel.locator('[role=row][data-holder-id]');

    const first = rows.first();
    await first.focus();
    await expect(first).toBeFocused();
    // One tab stop for the table: the other rows are out of the tab order.
    await expect(first).toHaveAttribute('tabindex', '0');
    await expect(rows.nth(1)).toHaveAttribute('tabindex', '-1');

    await page.keyboard.press('ArrowDown');
    const second = rows.nth(1);
    await expect(second).toBeFocused();
    await expect(second).toHaveAttribute('tabindex', '0');
    await expect(first).toHaveAttribute('tabindex', '-1');
    await page.keyboard.press('ArrowUp');
    await expect(first).toBeFocused();
    await page.keyboard.press('ArrowDown');

    await expect(second).toHaveAttribute('aria-expanded', 'false');
    await page.keyboard.press('Enter');
    await expect(second).toHaveAttribute('aria-expanded', 'true');
    await expect(
      second.locator('.jp-MemoryDoctor-holderDetails')
    ).toBeVisible();
    await expect(second).toBeFocused();
    await page.keyboard.press(' ');
    await expect(second).toHaveAttribute('aria-expanded', 'false');
    // The focus is drawn.
    const outline = await second.evaluate(
      row => getComputedStyle(row).outlineStyle
    );
    expect(outline).not.toBe('none');
  });

  test('10,000 variables: the count says 500 of 10,000 and the filter finds v9999', async ({
    page
  }) => {
    await page.notebook.createNew('layout-10k.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      "globals().update({f'v{i}': [i] for i in range(10000)})"
    );
    await page.notebook.runCellByCell();
    const panel = await scan(page);

    await expect(panel.locator('.jp-MemoryDoctor-holdersCount')).toHaveText(
      /^500 of 10,0\d\d holders shown \(the largest\)$/
    );
    await panel
      .getByRole('searchbox', { name: /Filter holders/ })
      .fill('v9999');
    const row = panel.getByRole('row', { name: /\bv9999\b/ });
    await expect(row).toHaveCount(1);
    await expect(panel.locator('.jp-MemoryDoctor-holdersCount')).toHaveText(
      /^1 of 10,0\d\d holders matches$/
    );
    // Past the 500 largest: names, type and size only, and it says why.
    await expect(row.locator('.jp-MemoryDoctor-holderType')).toHaveText(/list/);
    await expect(row.locator('.jp-MemoryDoctor-holderRetained')).toHaveText(
      /^\d+ B$/
    );
    await row.focus();
    await page.keyboard.press('Enter');
    await expect(row.locator('.jp-MemoryDoctor-holderDetails')).toContainText(
      /largest/
    );

    // The treemap says what share of "Attributed" it draws.
    await panel.getByRole('searchbox', { name: /Filter holders/ }).fill('');
    await panel.getByRole('tab', { name: 'Treemap' }).click();
    await expect(
      panel.locator('.jp-MemoryDoctor-holdersTreemapCoverage')
    ).toHaveText(
      /^The treemap covers \d+% of the \d+(\.\d)? [kMG]?B attributed/
    );
  });
});

test.describe('contrast', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'jupyterlab-memory-doctor:plugin': {
        // Low thresholds, so that the notebook shows a plain, an amber and a
        // red badge.
        deltaWarnMB: 2,
        deltaAlertMB: 30,
        peakWarnMB: 2,
        peakAlertMB: 30
      }
    }
  });

  for (const theme of ['light', 'dark'] as const) {
    test(`${theme} theme: no contrast violation in the badges or the panel`, async ({
      page
    }) => {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      } else {
        await page.theme.setLightTheme();
      }
      expect(
        await page.evaluate(() => document.body.dataset.jpThemeLight)
      ).toBe(theme === 'light' ? 'true' : 'false');
      await page.notebook.createNew(`contrast-${theme}.ipynb`);
      await page.notebook.setCell(0, 'code', 'x = 1');
      await page.notebook.addCell('code', 'warn = bytearray(5_000_000)');
      await page.notebook.addCell('code', 'alert = bytearray(60_000_000)');
      await page.notebook.addCell('code', FIVE_SUGGESTIONS);
      await page.notebook.runCellByCell();
      // At least one amber and one red badge (the last cell is amber too).
      await expect(
        page.locator('.jp-MemoryDoctor-badge.jp-mod-warn').first()
      ).toBeVisible();
      await expect(
        page.locator('.jp-MemoryDoctor-badge.jp-mod-alert').first()
      ).toBeVisible();
      expect(await darkBackground(page, '.jp-NotebookPanel-notebook')).toBe(
        theme === 'dark'
      );
      const notebook = await contrast(page);
      expect(notebook.violations).toEqual([]);
      expect(notebook.incomplete).toEqual([]);
      // The badges were checked (not skipped as hidden).
      expect(notebook.passed).toBeGreaterThanOrEqual(4);

      const panel = await scan(page);
      // The panel as it opens: every text decided, none below AA.
      const folded = await contrast(page);
      expect(folded.violations).toEqual([]);
      expect(folded.incomplete).toEqual([]);
      expect(folded.passed).toBeGreaterThanOrEqual(20);

      // Open what starts folded, so that axe sees it too.
      await panel
        .locator(
          '.jp-MemoryDoctor-suggestionsSummary button[aria-expanded=false]'
        )
        .first()
        .click();
      await panel.locator('[role=row][data-holder-id]').first().focus();
      await page.keyboard.press('Enter');
      await panel.evaluate(node => (node.scrollTop = 0));
      expect(await page.evaluate(() => document.body.dataset.jpThemeName)).toBe(
        theme === 'light' ? 'JupyterLab Light' : 'JupyterLab Dark'
      );
      expect(await darkBackground(page, PANEL)).toBe(theme === 'dark');
      const open = await contrast(page);
      expect(open.violations).toEqual([]);
      expect(open.incomplete).toEqual([]);
      expect(open.passed).toBeGreaterThanOrEqual(30);
    });
  }
});
