/**
 * The Timeline's words: cell labels, marker hover text and plotly's dates.
 * Pure functions; anything that reaches plotly goes through `plotlyText`.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

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
      timelineTime(point.end),
      formatDuration(r.duration_s)
    )
  ];
  if (r.status === 'error') {
    lines.push(trans.__('The cell raised an error.'));
  }
  return lines.map(plotlyText).join('<br>');
}

/**
 * A wall-clock time as the timeline's axis writes it (plotly's `%H:%M:%S`),
 * so the hover text and the axis read alike: `20:37:31`.
 */
export function timelineTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** The axis format that matches `timelineTime`. */
export const TIME_AXIS_FORMAT = '%H:%M:%S';

/**
 * The byte axis' ticks, written by the panel's formatter (`800 MB`, never
 * plotly's `800MB` or `0.0B`): 0 and round steps (1, 2 or 5 times a power of
 * the unit base) up to `max`, about `count` of them.
 */
export function byteTicks(
  max: number,
  units: Units,
  count = 4
): { tickvals: number[]; ticktext: string[] } {
  const top = Math.max(0, max);
  if (top === 0) {
    return { tickvals: [0], ticktext: [formatBytes(0, units)] };
  }
  const base = units === 'IEC' ? 1024 : 1000;
  const raw = top / Math.max(1, count);
  // The unit the step is written in, then a 1-2-5 step in it.
  let unit = 1;
  while (raw >= unit * base) {
    unit *= base;
  }
  const scaled = raw / unit;
  const decade = 10 ** Math.floor(Math.log10(scaled));
  const step =
    [1, 2, 5, 10].map(m => m * decade).find(m => m >= scaled) ?? 10 * decade;
  const tickvals: number[] = [];
  for (let v = 0; v <= top + 1e-9 * unit; v += step * unit) {
    tickvals.push(Math.round(v));
  }
  return {
    tickvals,
    ticktext: tickvals.map(v => formatBytes(v, units))
  };
}

/**
 * The part of the session the chart shows: from the first run's start to
 * the last run's end, with a margin, so that the runs are not squeezed
 * against the edge by the time before them; null without runs.
 */
export function runsRange(
  points: readonly ITimelinePoint[]
): [string, string] | null {
  if (points.length === 0) {
    return null;
  }
  const start = points.reduce(
    (a, p) => Math.min(a, p.record.started_at),
    Infinity
  );
  const end = points.reduce((a, p) => Math.max(a, p.end), -Infinity);
  const margin = Math.max(2, (end - start) * 0.05);
  return [plotlyDate(start - margin), plotlyDate(end + margin)];
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
