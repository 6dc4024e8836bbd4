/**
 * What the profile gutter of one cell shows: for each line a profiled run
 * attributed memory to, its net and at-peak bytes. Pure: no DOM, no editor.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { formatBytes, SEPARATOR, Units } from '../format';
import type { IProfile, IProfileLine } from '../protocol';

/** One line's figures in the gutter. */
export interface IGutterMark {
  /** 1-based line of the cell. */
  readonly line: number;
  /** The line's text as profiled, stripped: a mark whose line changed is dropped. */
  readonly source: string;
  /** What the gutter shows, e.g. `+8.0 MB · 32 MB`. */
  readonly text: string;
  /** The tooltip: the figures in words. */
  readonly title: string;
  /** Whether the figures are a function line's own (the cell called it). */
  readonly self: boolean;
}

/** How marks are worded. */
export interface IGutterOptions {
  /** Byte units. */
  units: Units;
  /** Translation bundle. */
  trans: TranslationBundle;
}

/**
 * The marks of `cellId` in `profile`: its lines that allocated (line 0, a
 * frame's set-up, and lines with nothing at either point are left out),
 * one per line, in line order.
 */
export function gutterMarks(
  profile: IProfile,
  cellId: string,
  options: IGutterOptions
): IGutterMark[] {
  const byLine = new Map<number, IGutterMark>();
  for (const line of profile.lines) {
    if (
      line.cell_id !== cellId ||
      line.line < 1 ||
      (!line.net_bytes && !line.peak_bytes) ||
      byLine.has(line.line)
    ) {
      continue;
    }
    byLine.set(line.line, mark(line, profile, options));
  }
  return [...byLine.values()].sort((a, b) => a.line - b.line);
}

function mark(
  line: IProfileLine,
  profile: IProfile,
  options: IGutterOptions
): IGutterMark {
  const { units, trans } = options;
  const lowerBound = profile.peak_mode === 'stale';
  const net = formatBytes(line.net_bytes, units, { signed: true });
  const peak = `${lowerBound ? '\u2265 ' : ''}${formatBytes(line.peak_bytes, units)}`;
  const self = line.scope === 'function';
  const backend =
    profile.backend === 'memray'
      ? trans.__('memray: every allocator')
      : trans.__('tracemalloc: Python allocators only');
  const title = self
    ? trans.__(
        'Line %1, as a function called by the profiled run: its own allocations left %2 at the end of the run and held %3 at its peak (%4).',
        line.line,
        net,
        peak,
        backend
      )
    : trans.__(
        'Line %1, with what the functions it called allocated: left %2 at the end of the run and held %3 at its peak (%4).',
        line.line,
        net,
        peak,
        backend
      );
  return {
    line: line.line,
    source: line.source,
    text: `${net}${SEPARATOR}${peak}`,
    title,
    self
  };
}
