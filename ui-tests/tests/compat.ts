import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

/**
 * What the shared specs need from Galata, written once so that they run on
 * every Galata from 5.2 on (the JupyterLab 4.2 job has its own 5.2.x, the
 * main job 5.6.x): open a notebook naming its kernel, start a cell without
 * waiting for it, and tell which JupyterLab serves the page.
 */

/** A notebook's cells, as sources of code cells. */
export type Sources = string[];

/** An nbformat 4.5 notebook of code `cells` for the kernelspec `kernel`. */
export function notebookJson(cells: Sources, kernel = 'python3'): string {
  return JSON.stringify({
    cells: cells.map((source, i) => ({
      cell_type: 'code',
      id: `cell-${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source
    })),
    metadata: {
      kernelspec: { name: kernel, display_name: kernel, language: 'python' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

/**
 * Upload a notebook and open it in JupyterLab. Its kernelspec names the
 * kernel: Galata 5.2's `createNew(name)` has no kernel option (5.3 added it).
 */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  name: string,
  cells: Sources,
  kernel = 'python3'
): Promise<void> {
  await page.contents.uploadContent(
    notebookJson(cells, kernel),
    'text',
    `${tmpPath}/${name}`
  );
  await page.notebook.openByPath(`${tmpPath}/${name}`);
  await page.notebook.activate(name);
}

/**
 * Run the active cell and return at once. Galata 5.6's
 * `runCell(i, { wait: false })` is `runCell(i, inplace)` before, which waits.
 */
export async function startActiveCell(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.evaluate(() => {
    void (window as any).jupyterapp.commands.execute('notebook:run-cell');
  });
}

/** The `[major, minor]` of the JupyterLab (or Notebook 7's JupyterLab) serving the page. */
export async function labVersion(
  page: IJupyterLabPageFixture
): Promise<[number, number]> {
  const version: string = await page.evaluate(
    () => (window as any).jupyterapp.version
  );
  const [major, minor] = version.split('.').map(Number);
  return [major, minor];
}

/**
 * Whether live readings can work: comm messages over kernel subshells need
 * JupyterLab 4.4 or later (the badge's tooltip says so below).
 */
export async function hasSubshells(
  page: IJupyterLabPageFixture
): Promise<boolean> {
  const [major, minor] = await labVersion(page);
  return major > 4 || (major === 4 && minor >= 4);
}
