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
export {
  confirmFix,
  describeTargets,
  FixController,
  insertCellBelow
} from './fix';
export type { ConfirmFix, FixOutcome, InsertCell } from './fix';
export { HIGHLIGHT_CLASS, highlight, revealCell } from './reveal';
export { ResourcesSection } from './resources';
export { SuggestionsSection } from './suggestions';
export { HoldersTable, TABLE_CLASS } from './table';
export {
  HoldersTreemap,
  loadPlotly,
  plotlyText,
  treemapColumns
} from './treemap';
export type { IPlotly, PlotlyLoader } from './treemap';
export {
  normalizeFindings,
  normalizeHolder,
  normalizeResources,
  normalizeScanResult,
  normalizeSuggestions
} from './validate';
export { HOLDERS_PANEL_CLASS, HOLDERS_PANEL_ID, HoldersPanel } from './view';
export type { HoldersMode } from './view';
