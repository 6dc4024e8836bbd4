/**
 * Human-readable text for memory figures: byte sizes, durations, the badge
 * line and its tooltip. Pure functions, no DOM, so they are easy to test.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import type { ICellRecord, PeakMethod } from './protocol';

/** Which multiples of the byte to use. */
export type Units = 'SI' | 'IEC';

/** The minus sign used for negative figures (U+2212, not a hyphen). */
export const MINUS = '\u2212';

/** Separator between the parts of the badge line. */
export const SEPARATOR = ' \u00b7 ';

/**
 * Format a byte count with 2–3 significant digits, e.g. `412 MB`, `1.2 GB`.
 *
 * @param bytes - The size in bytes; may be negative.
 * @param units - `SI` (kB, MB, GB; powers of 1000) or `IEC` (KiB, MiB, GiB;
 *   powers of 1024).
 * @param options - `signed: true` prefixes `+` to positive figures; negative
 *   figures always carry a minus sign.
 */
export function formatBytes(
  bytes: number,
  units: Units = 'SI',
  options: formatBytes.IOptions = {}
): string {
  if (!Number.isFinite(bytes)) {
    return '\u2014';
  }
  const base = units === 'IEC' ? 1024 : 1000;
  const names = units === 'IEC' ? Private.IEC_UNITS : Private.SI_UNITS;
  let value = Math.abs(bytes);
  let index = 0;
  while (value >= base && index < names.length - 1) {
    value /= base;
    index++;
  }
  let text = Private.roundSignificant(value, index === 0);
  // 999.7 MB rounds to "1000"; show it as the next unit instead.
  if (Number(text) >= 1000 && index < names.length - 1) {
    value /= base;
    index++;
    text = Private.roundSignificant(value, false);
  }
  let sign = '';
  if (bytes < 0 && Number(text) !== 0) {
    sign = MINUS;
  } else if (options.signed && bytes > 0) {
    sign = '+';
  }
  return `${sign}${text} ${names[index]}`;
}

/**
 * The figure `formatBytes` shows for `bytes`, back in bytes: `499.6 MB` shows
 * as `500 MB`, so 500,000,000. Colours decided from the exact value can then
 * be kept consistent with the text.
 */
export function shownBytes(bytes: number, units: Units = 'SI'): number {
  const text = formatBytes(bytes, units);
  const [figure, unit] = text.replace(MINUS, '-').split(' ');
  const names = units === 'IEC' ? Private.IEC_UNITS : Private.SI_UNITS;
  const index = names.indexOf(unit);
  const base = units === 'IEC' ? 1024 : 1000;
  return index < 0 ? NaN : Number(figure) * base ** index;
}

/** The namespace for `formatBytes` options. */
export namespace formatBytes {
  /** Options for `formatBytes`. */
  export interface IOptions {
    /** Prefix positive figures with `+`. */
    signed?: boolean;
  }
}

/** A count with the locale's digit grouping, e.g. `5,012,345`. */
export function formatCount(count: number): string {
  return Math.round(count).toLocaleString();
}

/**
 * Format a duration in seconds, e.g. `412 ms`, `4.1 s`, `2 min 5 s`.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '\u2014';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** Options shared by the text builders below. */
export interface ITextOptions {
  /** Byte units to display. */
  units: Units;
  /** Translation bundle for the `jupyterlab_memory_doctor` domain. */
  trans: TranslationBundle;
}

/**
 * The badge line: the RSS change, then the peak increase,
 * e.g. `+412 MB · peak +1.2 GB`.
 */
export function badgeText(record: ICellRecord, options: ITextOptions): string {
  const { units, trans } = options;
  const delta = formatBytes(record.rss_delta, units, { signed: true });
  const peak = formatBytes(record.peak_increase, units, { signed: true });
  return `${delta}${SEPARATOR}${trans.__('peak %1', peak)}`;
}

/**
 * A sentence for screen readers, e.g. `Memory: left +412 MB, peak +1.2 GB`.
 */
export function badgeLabel(record: ICellRecord, options: ITextOptions): string {
  const { units, trans } = options;
  const delta = formatBytes(record.rss_delta, units, { signed: true });
  const peak = formatBytes(record.peak_increase, units, { signed: true });
  return record.status === 'error'
    ? trans.__(
        'Memory: left %1, peak %2 (the cell raised an error)',
        delta,
        peak
      )
    : trans.__('Memory: left %1, peak %2', delta, peak);
}

/**
 * Describe how the peak was measured: `exact (VmHWM)` or `fallback: …`.
 */
export function peakMethodLabel(
  method: PeakMethod | string,
  trans: TranslationBundle
): string {
  switch (method) {
    case 'vmhwm':
      return trans.__('exact (VmHWM reset before the cell)');
    case 'ru_maxrss':
      return trans.__(
        'fallback: getrusage high-water mark (a lower bound unless the cell set a new high)'
      );
    case 'none':
      return trans.__(
        'fallback: no peak reading on this platform (larger of before and after)'
      );
    default:
      return trans.__('fallback: %1', String(method));
  }
}

/**
 * The tooltip: every figure of the last record, then up to `historyLength`
 * runs of this cell, newest first. Plain text, one item per line.
 *
 * @param history - Records of one cell, oldest first (as the model keeps
 *   them); the last one is described in full.
 */
export function tooltipText(
  history: readonly ICellRecord[],
  options: tooltipText.IOptions
): string {
  const { units, trans } = options;
  const last = history[history.length - 1];
  if (!last) {
    return '';
  }
  const size = (n: number) => formatBytes(n, units);
  const signed = (n: number) => formatBytes(n, units, { signed: true });
  const lines = [
    trans.__('Memory Doctor \u2014 run [%1]', last.execution_count)
  ];
  if (last.status === 'error') {
    lines.push(trans.__('The cell raised an error.'));
  }
  lines.push(
    trans.__('RSS before: %1', size(last.rss_before)),
    trans.__('RSS after: %1', size(last.rss_after)),
    trans.__('RSS change: %1', signed(last.rss_delta)),
    trans.__('Peak RSS: %1', size(last.peak_rss)),
    trans.__('Peak increase: %1', signed(last.peak_increase)),
    trans.__('Peak method: %1', peakMethodLabel(last.peak_method, trans)),
    trans.__('Duration: %1', formatDuration(last.duration_s)),
    trans.__('GC collections: %1', last.gc_collections)
  );
  if (typeof last.py_heap_delta === 'number') {
    lines.push(trans.__('Python heap change: %1', signed(last.py_heap_delta)));
  }
  if (typeof last.py_heap_peak === 'number') {
    lines.push(trans.__('Python heap peak: %1', signed(last.py_heap_peak)));
  }
  const count = Math.max(0, Math.floor(options.historyLength));
  const recent = history.slice(-count).reverse();
  if (count > 0 && recent.length > 1) {
    lines.push('', trans.__('Last %1 runs, newest first:', recent.length));
    for (const record of recent) {
      const prompt = `[${record.execution_count}]`;
      const flag = record.status === 'error' ? ` ${trans.__('(error)')}` : '';
      lines.push(
        `${prompt} ${badgeText(record, options)}${SEPARATOR}${formatDuration(
          record.duration_s
        )}${flag}`
      );
    }
  }
  return lines.join('\n');
}

/** The namespace for `tooltipText` options. */
export namespace tooltipText {
  /** Options for `tooltipText`. */
  export interface IOptions extends ITextOptions {
    /** How many runs of the cell to list. */
    historyLength: number;
  }
}

namespace Private {
  export const SI_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  export const IEC_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

  /**
   * Round to 2–3 significant digits: whole numbers from 10 up, one decimal
   * below 10 (bytes are always whole). Exactly as the kernel helper's
   * `format_bytes` (python/memory_doctor/format.py), so that a figure in a
   * suggestion reads the same as the panel's next to it: whole numbers round
   * half up (`floor(v + 0.5)`), one decimal rounds like Python's
   * `f"{v:.1f}"` (checked against its output in
   * tests/fixtures/format/bytes.json).
   */
  export function roundSignificant(value: number, whole: boolean): string {
    const fixed = oneDecimal(value);
    // 9.96 rounds up to "10.0"; drop the decimal so it stays 2–3 digits.
    if (whole || Number(fixed) >= 10) {
      return String(Math.floor(value + 0.5));
    }
    return fixed;
  }

  /**
   * `value` with one decimal, ties to even like Python's `f"{v:.1f}"`.
   * Both round the exact binary value; they differ only on an exact tie,
   * where `toFixed` goes up. A double is exactly halfway between two tenths
   * only at x.25 and x.75 (a quarter: 4 × value is an odd integer).
   */
  export function oneDecimal(value: number): string {
    const quarters = value * 4;
    if (Number.isInteger(quarters) && quarters % 2 !== 0) {
      const tenths = Math.floor(value * 10);
      return ((tenths % 2 === 0 ? tenths : tenths + 1) / 10).toFixed(1);
    }
    return value.toFixed(1);
  }
}
