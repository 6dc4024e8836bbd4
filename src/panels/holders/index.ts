/**
 * The "What's holding memory" side panel.
 */

export { addHoldersCommands, HoldersCommandIDs } from './commands';
export { HoldersHeader } from './header';
export { holdersIcon } from './icon';
export { HoldersModel } from './model';
export { filterRows, holderSearchText, sortRows } from './sort';
export type {
  HoldersChange,
  HoldersState,
  IRunningScan,
  IScanError,
  SortDirection,
  SortKey
} from './model';
export { HIGHLIGHT_CLASS, highlight, revealCell } from './reveal';
export { HoldersTable, TABLE_CLASS } from './table';
export {
  HoldersTreemap,
  loadPlotly,
  plotlyText,
  treemapColumns
} from './treemap';
export type { IPlotly, PlotlyLoader } from './treemap';
export { normalizeHolder, normalizeScanResult } from './validate';
export { HOLDERS_PANEL_CLASS, HOLDERS_PANEL_ID, HoldersPanel } from './view';
export type { HoldersMode } from './view';
