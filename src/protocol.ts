/**
 * Wire protocol between the JupyterLab extension and the kernel helper.
 *
 * This is the TypeScript half of the contract in `docs/protocol.md`;
 * `python/memory_doctor/_protocol.py` is the Python half, and
 * `tests/test_protocol_agreement.py` checks that both agree.
 */

/** Comm target name registered by the kernel helper. */
export const COMM_TARGET = 'memory_doctor';

/** `MAJOR.MINOR`; versioned separately from the package. */
export const PROTOCOL_VERSION = '1.2';

/** The bootstrap line, sent silently and without history. */
export const BOOTSTRAP_CODE = '%load_ext memory_doctor';

/** The command shown when the helper is missing from a kernel's environment. */
export const PIP_INSTALL_HINT = '%pip install jupyterlab-memory-doctor';

/**
 * Seconds the helper waits for a running cell (or scan) to end before it
 * applies a fix, or refuses it when they are still running; the front end
 * waits at least as long for the `apply_fix` reply.
 */
export const FIX_WAIT_S = 600;

/** Message types sent by the kernel. */
export const KERNEL_MESSAGES = [
  'hello',
  'error',
  'cell_measured',
  'scan_progress',
  'reply'
] as const;

/** Request types sent by the front end. */
export const REQUESTS = [
  'configure',
  'get_rss',
  'scan',
  'cancel',
  'apply_fix'
] as const;

/** Error codes used in `error` messages and failed replies. */
export const ERROR_CODES = [
  'protocol_mismatch',
  'bad_request',
  'unknown_request',
  'internal',
  'refused'
] as const;

/** How the peak was measured; see docs/protocol.md. */
export const PEAK_METHODS = ['vmhwm', 'ru_maxrss', 'none'] as const;

/** Root kinds of a holder, in the order roots are enumerated. */
export const HOLDER_KINDS = [
  'variable',
  'output_cache',
  'closure',
  'default_arg',
  'class_attribute',
  'cache',
  'traceback',
  'thread',
  'generator',
  'module'
] as const;

/** Scan phases reported by `scan_progress`. */
export const SCAN_PHASES = ['roots', 'walk', 'attribute', 'paths'] as const;

/** Why a scan stopped early (`scan.stopped`); null when complete. */
export const SCAN_STOPPED = ['budget', 'cancelled', 'cell_ran'] as const;

/** Resource kinds in `scan.resources` (1.2). */
export const RESOURCE_KINDS = [
  'file',
  'socket',
  'db_connection',
  'thread',
  'process',
  'figure',
  'pool',
  'tempdir',
  'mmap',
  'h5py_file',
  'asyncio_task'
] as const;

/** Fix operations accepted by `apply_fix` (1.2). */
export const FIX_ACTIONS = [
  'delete_holder',
  'clear_traceback',
  'copy_view',
  'cache_clear',
  'clear_class_attribute',
  'close_resource',
  'terminate_process',
  'close_pool',
  'close_figures',
  'cancel_task',
  'reset_output_cache',
  'gc_collect',
  'malloc_trim'
] as const;

/** Where `memory_limit` came from (1.2). */
export const LIMIT_SOURCES = [
  'cgroup_v2',
  'cgroup_v1',
  'physical',
  'unknown'
] as const;

/** Keys of a `cell_measured` record, in documented order. */
export const RECORD_FIELDS = [
  'cell_id',
  'execution_count',
  'status',
  'started_at',
  'duration_s',
  'rss_before',
  'rss_after',
  'rss_delta',
  'peak_rss',
  'peak_increase',
  'peak_method',
  'gc_collections',
  'py_heap_delta',
  'py_heap_peak',
  'growth'
] as const;

/** A kernel message type. */
export type KernelMessageType = (typeof KERNEL_MESSAGES)[number];
/** A request type. */
export type RequestType = (typeof REQUESTS)[number];
/** An error code. */
export type ErrorCode = (typeof ERROR_CODES)[number];
/** A peak measurement method. */
export type PeakMethod = (typeof PEAK_METHODS)[number];

/** A holder root kind. */
export type HolderKind = (typeof HOLDER_KINDS)[number];
/** A scan phase. */
export type ScanPhase = (typeof SCAN_PHASES)[number];
/** Why a scan stopped early. */
export type ScanStopped = (typeof SCAN_STOPPED)[number];
/** A resource kind. */
export type ResourceKind = (typeof RESOURCE_KINDS)[number];
/** A fix operation. */
export type FixAction = (typeof FIX_ACTIONS)[number];
/** Where the memory limit came from. */
export type LimitSource = (typeof LIMIT_SOURCES)[number];

/** The memory limit that applies to the kernel (1.2). */
export interface IMemoryLimit {
  bytes: number | null;
  source: LimitSource;
}

/** Something the session holds open (1.2). */
export interface IResource {
  id: string;
  kind: ResourceKind;
  label: string;
  detail: string;
  held_by: string[];
  cell_id: string | null;
  execution_count: number | null;
  note: string | null;
}

/** Process-wide findings of a scan (1.2); null where unknown. */
export interface IFindings {
  open_fds: number | null;
  threads: number | null;
  children: number | null;
  cyclic_garbage: { objects: number; bytes: number } | null;
  allocator_gap: { bytes: number | null; malloc_trim: boolean } | null;
}

/** One fix the helper can apply (1.2). */
export interface ISuggestion {
  id: string;
  action: FixAction;
  targets: string[];
  code: string;
  estimated_freed_bytes: number | null;
  reason: string;
  destructive: boolean;
  holder_id: string | null;
  resource_id: string | null;
}

/** The `apply_fix` reply's result (1.2). */
export interface IFixResult {
  suggestion_id: string;
  action: FixAction;
  estimated_freed_bytes: number | null;
  measured_freed_bytes: number;
  rss_before: number;
  rss_after: number;
  explanation: string | null;
}

/** A cell's growth across re-runs (record field `growth`, 1.2). */
export interface IGrowth {
  runs: number;
  growth_per_run_bytes: number;
  flagged: boolean;
  what_grew: string[];
}

/** The measured cell running while `get_rss` was answered (1.2). */
export interface IRunningCell {
  cell_id: string | null;
  execution_count: number | null;
  started_at: number;
  rss_before: number;
}

/** One root of a holder. */
export interface IHolderRoot {
  label: string;
  kind: HolderKind;
}

/** One entry of a scan: a set of roots and what only they keep alive. */
export interface IHolder {
  id: string;
  labels: string[];
  kind: HolderKind;
  roots: IHolderRoot[];
  type: string;
  retained_bytes: number;
  objects: number;
  path: string;
  cell_id: string | null;
  execution_count: number | null;
  composition: { type: string; bytes: number; count: number }[];
  shared: boolean;
  device: string | null;
  file_backed: boolean;
}

/** The `scan` reply's result. */
export interface IScanResult {
  scan: {
    duration_s: number;
    objects_visited: number;
    complete: boolean;
    stopped: ScanStopped | null;
  };
  rss: number;
  attributed_bytes: number;
  unattributed_bytes: number;
  holders: IHolder[];
  /** 1.2; absent from a 1.1 helper. */
  resources?: IResource[];
  /** 1.2; absent from a 1.1 helper. */
  findings?: IFindings;
  /** 1.2; absent from a 1.1 helper. */
  suggestions?: ISuggestion[];
}

/** `scan_progress`: sent while a scan runs. */
export interface IScanProgressMessage {
  type: 'scan_progress';
  request_id: string;
  phase: ScanPhase;
  objects_visited: number;
  elapsed_s: number;
}

/** Options accepted by `configure`. */
export interface IKernelConfig {
  tracemalloc: boolean;
  /** 1.2: the least `rss_delta` that counts as growth for leak flags. */
  leak_threshold_bytes?: number;
}

/** The measurements of one cell execution. */
export interface ICellRecord {
  cell_id: string | null;
  execution_count: number | null;
  status: 'ok' | 'error';
  started_at: number;
  duration_s: number;
  rss_before: number;
  rss_after: number;
  rss_delta: number;
  peak_rss: number;
  peak_increase: number;
  peak_method: PeakMethod;
  gc_collections: number;
  py_heap_delta: number | null;
  py_heap_peak: number | null;
  /** 1.2; absent (undefined) from a 1.1 helper. */
  growth?: IGrowth | null;
}

/** `hello`: the kernel's answer to comm_open. */
export interface IHelloMessage {
  type: 'hello';
  protocol_version: string;
  helper_version: string;
  peak_method: PeakMethod;
  peak_exact: boolean;
  python: string;
  platform: string;
  pid: number;
  rss: number;
  config: IKernelConfig;
  records: ICellRecord[];
  /** 1.2; absent from a 1.1 helper. */
  memory_limit?: IMemoryLimit;
  /** 1.2: whether the `malloc_trim` fix can run. */
  malloc_trim?: boolean;
}

/** `error`: the comm cannot be served, or a message was malformed. */
export interface IErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  protocol_version?: string;
}

/** `cell_measured`: sent after every user cell. */
export interface ICellMeasuredMessage {
  type: 'cell_measured';
  record: ICellRecord;
}

/** `reply`: the answer to a request. */
export interface IReplyMessage {
  type: 'reply';
  request_id: string | null;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: { code: ErrorCode; message: string };
}

/** Any message the kernel may send. */
export type KernelMessage =
  | IHelloMessage
  | IErrorMessage
  | ICellMeasuredMessage
  | IScanProgressMessage
  | IReplyMessage;

/** Request payloads, keyed by request type (as in the debugger's `sendRequest`). */
export interface IRequests {
  configure: Partial<IKernelConfig>;
  get_rss: Record<string, never>;
  scan: { budget_s?: number; max_holders?: number };
  cancel: { target: string };
  apply_fix: { suggestion_id: string; action: FixAction; targets: string[] };
}

/** Reply results, keyed by request type. */
export interface IResults {
  configure: { config: IKernelConfig };
  get_rss: {
    rss: number;
    peak_rss: number;
    /** 1.2 fields; absent from a 1.1 helper. */
    time?: number;
    memory_limit?: IMemoryLimit;
    running?: IRunningCell | null;
  };
  scan: IScanResult;
  cancel: { cancelled: boolean };
  apply_fix: IFixResult;
}

/** Return the MAJOR part of a `MAJOR.MINOR` version string. */
export function major(version: string): string {
  return version.split('.', 1)[0];
}

/** Whether a peer speaking `version` can talk to this side. */
export function isCompatible(version: unknown): boolean {
  return (
    typeof version === 'string' && major(version) === major(PROTOCOL_VERSION)
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value` is a well-formed cell record. */
export function isCellRecord(value: unknown): value is ICellRecord {
  if (!isObject(value)) {
    return false;
  }
  const numbers = [
    'started_at',
    'duration_s',
    'rss_before',
    'rss_after',
    'rss_delta',
    'peak_rss',
    'peak_increase',
    'gc_collections'
  ];
  return (
    (value.cell_id === null || typeof value.cell_id === 'string') &&
    (value.status === 'ok' || value.status === 'error') &&
    numbers.every(key => typeof value[key] === 'number')
  );
}

/**
 * Narrow an untrusted comm payload to a kernel message, or return null for
 * anything malformed or of an unknown type (the caller logs and ignores it).
 */
export function parseKernelMessage(value: unknown): KernelMessage | null {
  if (!isObject(value) || typeof value.type !== 'string') {
    return null;
  }
  switch (value.type) {
    case 'hello':
      return typeof value.protocol_version === 'string' &&
        Array.isArray(value.records)
        ? (value as unknown as IHelloMessage)
        : null;
    case 'error':
      return typeof value.code === 'string' && typeof value.message === 'string'
        ? (value as unknown as IErrorMessage)
        : null;
    case 'cell_measured':
      return isCellRecord(value.record)
        ? (value as unknown as ICellMeasuredMessage)
        : null;
    case 'scan_progress':
      return typeof value.request_id === 'string' &&
        typeof value.objects_visited === 'number'
        ? (value as unknown as IScanProgressMessage)
        : null;
    case 'reply':
      return typeof value.ok === 'boolean'
        ? (value as unknown as IReplyMessage)
        : null;
    default:
      return null;
  }
}
