/**
 * The Timeline section: kernel RSS and per-cell peaks across the session.
 */

export { rssLine, timelinePoints, TimelineModel, topCells } from './model';
export type { IRssLine, ITimelinePoint, ITopCell, TopKey } from './model';
export { cellLabel, LABEL_CHARS, markerText, plotlyDate } from './text';
export { REDRAW_MS, TIMELINE_CLASS, TimelineSection } from './view';
