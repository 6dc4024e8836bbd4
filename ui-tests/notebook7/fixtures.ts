import { test as base } from '@jupyterlab/galata';

/**
 * Galata for Notebook 7: its shell is `#main-panel`, not JupyterLab's, and
 * it has no `/lab` (the config sets `appPath: ''` and `autoGoto: false`;
 * each test goes to its notebook). The same approach as jupyter/notebook's
 * own ui-tests.
 */
export const test = base.extend({
  waitForApplication: async ({}, use) => {
    await use(async page => {
      await page.waitForSelector('#main-panel');
    });
  }
});

export { expect } from '@jupyterlab/galata';
