/**
 * The sidebar icon of the Memory Doctor panel: a memory chip under a magnifier.
 */

import { LabIcon } from '@jupyterlab/ui-components';

/** The SVG, drawn with `jp-icon3` so every theme recolours it. */
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 6h11v2H6v7h3v2H4z"/>
    <path d="M5 3h2v3H5zM9 3h2v3H9zM13 3h2v3h-2zM2 9h2v2H2zM2 13h2v2H2z"/>
    <path d="M15.5 10a4.5 4.5 0 0 1 3.72 7.03l2.87 2.88-1.41 1.41-2.88-2.87A4.5 4.5 0 1 1 15.5 10zm0 2a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z"/>
  </g>
</svg>`;

/** The side panel's icon. */
export const holdersIcon = new LabIcon({
  name: 'jupyterlab-memory-doctor:holders',
  svgstr: SVG
});
