/**
 * The fixes part of the side panel: suggestions, resources and findings,
 * and what became of the last fix.
 */

export {
  confirmBody,
  confirmFix,
  confirmLabel,
  confirmLead,
  describeTargets
} from './confirm';
export { FixController, insertCellBelow } from './controller';
export type { ConfirmFix, InsertCell } from './controller';
export {
  createOutcome,
  createSuggestion,
  FixClasses,
  handleFixClick,
  sortSuggestions,
  suggestionPlace
} from './items';
export { FixModel, fixBlocker } from './model';
export type { FixBlocker, FixOutcome } from './model';
export { ResourcesSection } from './resources';
export { SuggestionsSection } from './suggestions';
export {
  estimateText,
  outcomeLines,
  suggestionTitle,
  targetNames
} from './text';
export { FixesView } from './view';
