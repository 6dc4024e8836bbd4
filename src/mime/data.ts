/**
 * The data of a magic's output (`%memory`, `%%memory`): the shape
 * `python/memory_doctor/protocol/mime.json` describes, read defensively. Its
 * scan results, records, suggestions and fix results are the comm
 * protocol's own shapes, so they go through the protocol's decoders.
 */

import {
  decodeCellRecord,
  decodeFixResult,
  decodeMemoryLimit,
  decodeResource,
  decodeScanResult,
  decodeSuggestion,
  ERROR_CODES,
  ErrorCode,
  ICellRecord,
  IFixResult,
  IMemoryLimit,
  IResource,
  IScanResult,
  ISuggestion,
  PEAK_METHODS,
  PeakMethod
} from '../protocol';

/** The MIME type of a magic's output. */
export const MIME_TYPE = 'application/vnd.jupyter.memory-doctor+json';

/** The version of the data's shape this front end reads. */
export const MIME_FORMAT = 1;

/** The kernel when the output was made. */
export interface IOutputKernel {
  /** The kernel's process id. */
  readonly pid: number;
  /** Its RSS in bytes. */
  readonly rss: number;
  /** The memory limit that applies to it. */
  readonly memory_limit: IMemoryLimit;
  /** How peaks are measured. */
  readonly peak_method: PeakMethod;
  /** Whether peaks are exact. */
  readonly peak_exact: boolean;
}

/** What every output has. */
interface IOutputBase {
  readonly format: number;
  readonly kernel: IOutputKernel;
}

/** What `%%memory` measured around the cell's body. */
export interface IMeasurement {
  readonly status: 'ok' | 'error';
  readonly duration_s: number;
  readonly rss_before: number;
  readonly rss_after: number;
  readonly rss_delta: number;
  readonly peak_rss: number;
  readonly peak_increase: number;
  readonly peak_method: PeakMethod;
  readonly peak_exact: boolean;
}

/** One magic's output, by view. */
export type MemoryOutput = IOutputBase &
  (
    | {
        readonly view: 'summary';
        readonly runs: number;
        readonly cells_by_left: ICellRecord[];
        readonly cells_by_peak: ICellRecord[];
        readonly scan: IScanResult;
        readonly holders_total: number;
        readonly budget_s: number;
      }
    | {
        readonly view: 'holders';
        readonly scan: IScanResult;
        readonly holders_total: number;
        readonly matched: number;
        readonly filter: string | null;
        readonly budget_s: number;
      }
    | {
        readonly view: 'resources';
        readonly scan: IScanResult;
        readonly holders_total: number;
        readonly budget_s: number;
      }
    | {
        readonly view: 'cells';
        readonly runs: number;
        readonly cells_by_left: ICellRecord[];
        readonly cells_by_peak: ICellRecord[];
      }
    | {
        readonly view: 'fix';
        readonly suggestion: ISuggestion;
        readonly resources: IResource[];
        readonly targets: string[];
        readonly applied: boolean;
        readonly result: IFixResult | null;
        readonly error: { code: ErrorCode; message: string } | null;
      }
    | {
        readonly view: 'cell';
        readonly measurement: IMeasurement;
        readonly created: string[];
        readonly scan: IScanResult | null;
        readonly holders_total: number;
        readonly budget_s: number;
      }
    | { readonly view: 'badge'; readonly record: ICellRecord }
    | {
        readonly view: 'notice';
        readonly message: string;
        readonly badges: boolean;
      }
  );

/** The views an output can be. */
export type OutputView = MemoryOutput['view'];

/** Data that is not an output this front end can read; the message says why. */
export class OutputError extends Error {}

/**
 * Read untrusted output data. Throws `OutputError` for another format or a
 * malformed field (the renderer then shows the output's text instead).
 */
export function readOutput(raw: unknown): MemoryOutput {
  const value = Private.object(raw, 'the output');
  if (value.format !== MIME_FORMAT) {
    throw new OutputError(
      `format ${String(value.format)} (this front end reads ${MIME_FORMAT})`
    );
  }
  try {
    const base = { format: MIME_FORMAT, kernel: Private.kernel(value.kernel) };
    const n = Private.count;
    switch (value.view) {
      case 'summary':
        return {
          ...base,
          view: 'summary',
          runs: n(value.runs),
          cells_by_left: Private.records(value.cells_by_left),
          cells_by_peak: Private.records(value.cells_by_peak),
          scan: decodeScanResult(value.scan),
          holders_total: n(value.holders_total),
          budget_s: n(value.budget_s)
        };
      case 'holders':
        return {
          ...base,
          view: 'holders',
          scan: decodeScanResult(value.scan),
          holders_total: n(value.holders_total),
          matched: n(value.matched),
          filter: typeof value.filter === 'string' ? value.filter : null,
          budget_s: n(value.budget_s)
        };
      case 'resources':
        return {
          ...base,
          view: 'resources',
          scan: decodeScanResult(value.scan),
          holders_total: n(value.holders_total),
          budget_s: n(value.budget_s)
        };
      case 'cells':
        return {
          ...base,
          view: 'cells',
          runs: n(value.runs),
          cells_by_left: Private.records(value.cells_by_left),
          cells_by_peak: Private.records(value.cells_by_peak)
        };
      case 'fix':
        return {
          ...base,
          view: 'fix',
          suggestion: decodeSuggestion(value.suggestion),
          resources: Private.array(value.resources).map(r => decodeResource(r)),
          targets: Private.array(value.targets).map(String),
          applied: value.applied === true,
          result: value.result ? decodeFixResult(value.result) : null,
          error: Private.error(value.error)
        };
      case 'cell':
        return {
          ...base,
          view: 'cell',
          measurement: Private.measurement(value.measurement),
          created: Private.array(value.created).map(String),
          scan: value.scan ? decodeScanResult(value.scan) : null,
          holders_total: n(value.holders_total),
          budget_s: n(value.budget_s)
        };
      case 'badge':
        return {
          ...base,
          view: 'badge',
          record: decodeCellRecord(value.record)
        };
      case 'notice':
        return {
          ...base,
          view: 'notice',
          message: String(value.message ?? ''),
          badges: value.badges === true
        };
      default:
        throw new OutputError(`an unknown view ${JSON.stringify(value.view)}`);
    }
  } catch (error) {
    if (error instanceof OutputError) {
      throw error;
    }
    throw new OutputError(String((error as Error).message ?? error));
  }
}

namespace Private {
  export function object(
    value: unknown,
    what: string
  ): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new OutputError(`${what} is not an object`);
    }
    return value as Record<string, unknown>;
  }

  export function array(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
  }

  export function count(value: unknown): number {
    return typeof value === 'number' && Number.isFinite(value) ? value : 0;
  }

  export function records(value: unknown): ICellRecord[] {
    return array(value).map(item => decodeCellRecord(item));
  }

  export function kernel(raw: unknown): IOutputKernel {
    const value = object(raw, 'kernel');
    const method = PEAK_METHODS.find(m => m === value.peak_method) ?? 'none';
    return {
      pid: count(value.pid),
      rss: count(value.rss),
      memory_limit: decodeMemoryLimit(value.memory_limit),
      peak_method: method,
      peak_exact: value.peak_exact === true
    };
  }

  export function measurement(raw: unknown): IMeasurement {
    const value = object(raw, 'measurement');
    return {
      status: value.status === 'error' ? 'error' : 'ok',
      duration_s: count(value.duration_s),
      rss_before: count(value.rss_before),
      rss_after: count(value.rss_after),
      rss_delta: count(value.rss_delta),
      peak_rss: count(value.peak_rss),
      peak_increase: count(value.peak_increase),
      peak_method: PEAK_METHODS.find(m => m === value.peak_method) ?? 'none',
      peak_exact: value.peak_exact === true
    };
  }

  export function error(
    raw: unknown
  ): { code: ErrorCode; message: string } | null {
    if (raw === null || raw === undefined) {
      return null;
    }
    const value = object(raw, 'error');
    const code = ERROR_CODES.find(c => c === value.code) ?? 'internal';
    return { code, message: String(value.message ?? '') };
  }
}
