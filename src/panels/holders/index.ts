/**
 * The holders part of the side panel: what holds the kernel's memory.
 */

export { HoldersHeader } from './header';
export { HoldersModel } from './model';
export type {
  HoldersChange,
  HoldersState,
  IRunningScan,
  IScanError,
  SortDirection,
  SortKey
} from './model';
export { ScanModel } from './scan';
export type { ScanChange } from './scan';
export { filterRows, holderSearchText, sortRows } from './sort';
export { HoldersTable, TABLE_CLASS } from './table';
export { HoldersTreemap, treemapColumns } from './treemap';
export { HoldersView } from './view';
export type { HoldersMode } from './view';
