/**
 * Magic outputs (`%memory`, `%%memory`) in JupyterLab and Notebook 7: the
 * renderer of `application/vnd.jupyter.memory-doctor+json`.
 */

import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { MemoryOutputWidget } from './widget';
import { MIME_TYPE } from './data';

export { OutputContext } from './context';
export type { OfflineReason } from './context';
export { MIME_FORMAT, MIME_TYPE, OutputError, readOutput } from './data';
export type {
  IMeasurement,
  IOutputKernel,
  MemoryOutput,
  OutputView
} from './data';
export * from './text';
export { MemoryOutputWidget, OUTPUT_CLASS } from './widget';

/**
 * The rank of our renderer: before HTML (50), so JupyterLab draws our data
 * rather than the HTML the kernel adds for other front ends.
 */
export const OUTPUT_RANK = 40;

/**
 * The renderer factory. It is safe: it never puts kernel strings into the
 * DOM as markup, and a fix still asks first and is re-checked by the
 * kernel, so untrusted notebooks get it too.
 */
export function createOutputFactory(
  options: MemoryOutputWidget.IOptions
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [MIME_TYPE],
    defaultRank: OUTPUT_RANK,
    createRenderer: () => new MemoryOutputWidget(options)
  };
}
