/**
 * The Timeline's words: cell labels, marker hover text and plotly's dates.
 * Pure functions; anything that reaches plotly goes through `plotlyText`.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { clockTime } from '../../badges/text';
import { formatBytes, formatDuration, Units } from '../../format';
import { plotlyText } from '../shared/plotly';
import type { ITimelinePoint } from './model';

/** Characters of a cell's first line shown in labels. */
export const LABEL_CHARS = 40;

/**
 * A cell's label: `[3] x = load()`, from its last run's execution count and
 * the first non-empty line of its source (plain text; escape for plotly).
 */
export function cellLabel(
  executionCount: number | null,
  source: string | undefined
): string {
  const prompt = executionCount === null ? '[ ]' : `[${executionCount}]`;
  const line = (source ?? '')
    .split('\n')
    .map(l => l.trim())
    .find(l => l !== '');
  if (!line) {
    return prompt;
  }
  const short =
    line.length > LABEL_CHARS
      ? `${line.slice(0, LABEL_CHARS - 1)}\u2026`
      : line;
  return `${prompt} ${short}`;
}

/**
 * A marker's hover text: the cell, RSS change, peak and when, one item per
 * line. Every part is passed through `plotlyText`.
 */
export function markerText(
  point: ITimelinePoint,
  source: string | undefined,
  units: Units,
  trans: TranslationBundle
): string {
  const r = point.record;
  const signed = (n: number) => formatBytes(n, units, { signed: true });
  const lines = [
    cellLabel(r.execution_count, source),
    trans.__('RSS change: %1', signed(r.rss_delta)),
    trans.__(
      'Peak: %1 (%2)',
      formatBytes(r.peak_rss, units),
      signed(r.peak_increase)
    ),
    trans.__(
      'Ended at %1, after %2',
      clockTime(point.end),
      formatDuration(r.duration_s)
    )
  ];
  if (r.status === 'error') {
    lines.push(trans.__('The cell raised an error.'));
  }
  return lines.map(plotlyText).join('<br>');
}

/**
 * Epoch seconds as plotly's local date string (`2026-01-31 14:03:07.250`):
 * plotly draws date strings as they are, where numbers would be shown in UTC.
 */
export function plotlyDate(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.` +
    String(d.getMilliseconds()).padStart(3, '0')
  );
}
