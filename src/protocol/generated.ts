/*
 * GENERATED from protocol.json (sha256 043e33cb469e0ef740220cfa6eb0fd11d2a62e75005ec2c3e883c3a5bba08e04) by scripts/generate-protocol.js; do not edit.
 * Regenerate with `jlpm build:protocol`.
 */

/**
 * @packageDocumentation
 *
 * The Memory Doctor wire protocol 1.3: types, constants and decoders.
 *
 * Types follow the reader view of protocol.json: a field added after 1.0 is optional, since a helper of an older MINOR leaves it out. Every decoder checks an untrusted value against the schema and returns a copy of the fields it knows, or throws a DecodeError naming the path that failed.
 */

/* eslint-disable @typescript-eslint/no-namespace */

// ---------------------------------------------------------------- types

/**
 * How the peak was measured: vmhwm (Linux, exact), ru_maxrss (a lifetime high-water mark: exact only when the cell set a new high, else a lower bound) or none (max of before and after).
 */
export type PeakMethod = 'vmhwm' | 'ru_maxrss' | 'none';
/**
 * Error codes of error messages and failed replies. protocol_mismatch: the MAJOR versions differ or comm_open named none; bad_request: malformed request or invalid parameters; unknown_request: an unknown request type; internal: the helper failed (the kernel keeps working); refused (1.2): apply_fix would not act on what was scanned.
 */
export type ErrorCode =
  | 'protocol_mismatch'
  | 'bad_request'
  | 'unknown_request'
  | 'internal'
  | 'refused';
/**
 * ok, or error when the cell raised.
 */
export type CellStatus = 'ok' | 'error';
/**
 * Root kinds of a holder, in the order roots are enumerated.
 */
export type HolderKind =
  | 'variable'
  | 'output_cache'
  | 'closure'
  | 'default_arg'
  | 'class_attribute'
  | 'cache'
  | 'traceback'
  | 'thread'
  | 'generator'
  | 'module';
/**
 * Scan phases reported by scan_progress.
 */
export type ScanPhase = 'roots' | 'walk' | 'attribute' | 'paths';
/**
 * Why a scan stopped early: its budget ran out, a cancel request, a cell ran between two slices (the heap changed), or an interrupt (SIGINT) arrived during a slice (interrupted, 1.3).
 */
export type ScanStopped = 'budget' | 'cancelled' | 'cell_ran' | 'interrupted';
/**
 * Kinds of resources a scan reports.
 */
export type ResourceKind =
  | 'file'
  | 'socket'
  | 'db_connection'
  | 'thread'
  | 'process'
  | 'figure'
  | 'pool'
  | 'tempdir'
  | 'mmap'
  | 'h5py_file'
  | 'asyncio_task';
/**
 * The fix operations apply_fix can run; nothing else is ever run.
 */
export type FixAction =
  | 'delete_holder'
  | 'clear_traceback'
  | 'copy_view'
  | 'cache_clear'
  | 'clear_class_attribute'
  | 'close_resource'
  | 'terminate_process'
  | 'close_pool'
  | 'close_figures'
  | 'cancel_task'
  | 'reset_output_cache'
  | 'gc_collect'
  | 'malloc_trim'
  | 'clear_log_buffer';
/**
 * An allocator in allocator_gap.parts (1.3): pymalloc (Python's small-object arenas), glibc_heap (glibc's main heap), glibc_arenas (glibc's arenas of other threads), arrow_pool (Arrow's memory pool).
 */
export type GapAllocator =
  'pymalloc' | 'glibc_heap' | 'glibc_arenas' | 'arrow_pool';
/**
 * Where memory_limit came from: cgroup_v2 (memory.max), cgroup_v1 (memory.limit_in_bytes), physical (the machine's RAM) or unknown (bytes is then null).
 */
export type LimitSource = 'cgroup_v2' | 'cgroup_v1' | 'physical' | 'unknown';
/**
 * A MAJOR.MINOR protocol version.
 */
export type ProtocolVersion = string;
/**
 * The request's id, echoed by its reply.
 */
export type RequestId = string;
/**
 * ExecutionInfo.cell_id (IPython 8.3 or later), else the execute request's metadata.cellId, clipped to MAX_ID_CHARS; null when neither is known.
 */
export type CellId = string | null;
/**
 * How a Dask scheduler answered (1.3): ok; timeout (no answer within CLUSTER_QUERY_TIMEOUT_S); overdue (the client's event loop itself has not run the query: blocked or stuck); busy (too many queries still waiting, none sent); unavailable (the client is reconnecting, closed or asynchronous: nothing asked); error (the scheduler or distributed raised).
 */
export type ClusterStatus =
  'ok' | 'timeout' | 'overdue' | 'busy' | 'unavailable' | 'error';
/**
 * Which tracer profiled a run (1.3): memray sees every allocator (native ones too) and its peak is exact; tracemalloc sees Python's allocators and what reports to them (numpy's data), not other native allocations.
 */
export type ProfileBackend = 'tracemalloc' | 'memray';
/**
 * What a profile request may ask for (1.3): auto is memray where it imports in the kernel, else tracemalloc.
 */
export type ProfileBackendChoice = 'auto' | 'tracemalloc' | 'memray';
/**
 * How the at-peak figures were taken (1.3): exact (memray, or the tracemalloc peak fell between two lines); line-start / line-end (the peak fell inside one line: what that line held above its start / end is one transient block on it); stale (a lower bound: the view was taken below the peak, see note); none (no view at the peak: peak_bytes are 0).
 */
export type ProfilePeakMode =
  'exact' | 'line-start' | 'line-end' | 'stale' | 'none';
/**
 * Whose line (1.3): cell, a line of the profiled cell (inclusive figures); function, a line of a notebook function defined in another cell (its own allocations only).
 */
export type ProfileScope = 'cell' | 'function';
/**
 * The answer to every request, with the request's request_id.
 */
export type ReplyMessage = IOkReply | IErrorReply;
/**
 * Any message the kernel sends on the comm, told apart by type. A reader logs and ignores an unknown type.
 */
export type KernelMessage =
  | IHelloMessage
  | IErrorMessage
  | ICellMeasuredMessage
  | IScanProgressMessage
  | ReplyMessage
  | ICellProfileMessage
  | ICellClusterMessage;
/**
 * Any request the front end sends, told apart by type.
 */
export type RequestMessage =
  | IConfigureRequest
  | IGetRssRequest
  | IScanRequest
  | ICancelRequest
  | IApplyFixRequest
  | IProfileNextRequest
  | IProfileCancelRequest
  | IScanClusterRequest
  | IReleaseClusterRequest;
/**
 * Who else holds memory (1.3): a library, the kernel's machinery, or references from outside Python.
 */
export type HeldByKind = 'library' | 'kernel' | 'external';
/**
 * The heap engine that ran a scan (1.3): native (the compiled walker) or python (its pure-Python reference, where no compiled walker is available or MEMORY_DOCTOR_ENGINE=python).
 */
export type ScanEngine = 'native' | 'python';
/**
 * What to do about a cluster holder (1.3): release (delete its names: release_cluster); output_cache (only IPython's output cache holds it: release it, %reset -f out, and end such lines with ';'); redefine (a closure, default argument or class attribute holds it: redefine or delete its owner); unattributed (futures no scanned name reaches hold it).
 */
export type ClusterSuggestion =
  'release' | 'output_cache' | 'redefine' | 'unattributed';

/**
 * Every definition of protocol.json by its name there, e.g. `IProtocolDefinitions["Holder"]`.
 */
export interface IProtocolDefinitions {
  PeakMethod: PeakMethod;
  ErrorCode: ErrorCode;
  CellStatus: CellStatus;
  HolderKind: HolderKind;
  ScanPhase: ScanPhase;
  ScanStopped: ScanStopped;
  ResourceKind: ResourceKind;
  FixAction: FixAction;
  GapAllocator: GapAllocator;
  LimitSource: LimitSource;
  ProtocolVersion: ProtocolVersion;
  RequestId: RequestId;
  CellId: CellId;
  KernelConfig: IKernelConfig;
  KernelConfigPatch: IKernelConfigPatch;
  CommOpenData: ICommOpenData;
  CommOpenMetadata: ICommOpenMetadata;
  MemoryLimit: IMemoryLimit;
  Growth: IGrowth;
  CellRecord: ICellRecord;
  HelloMessage: IHelloMessage;
  ErrorMessage: IErrorMessage;
  CellMeasuredMessage: ICellMeasuredMessage;
  ProfileBackend: ProfileBackend;
  ProfileBackendChoice: ProfileBackendChoice;
  ProfilePeakMode: ProfilePeakMode;
  ProfileScope: ProfileScope;
  ProfileCell: IProfileCell;
  ProfileLine: IProfileLine;
  ProfileFrame: IProfileFrame;
  ProfileStack: IProfileStack;
  ProfileTotals: IProfileTotals;
  Profile: IProfile;
  CellProfileMessage: ICellProfileMessage;
  ProfileNextRequest: IProfileNextRequest;
  ProfileNextResult: IProfileNextResult;
  ProfileCancelRequest: IProfileCancelRequest;
  ProfileCancelResult: IProfileCancelResult;
  ScanProgressMessage: IScanProgressMessage;
  OkReply: IOkReply;
  ReplyError: IReplyError;
  ErrorReply: IErrorReply;
  ReplyMessage: ReplyMessage;
  KernelMessage: KernelMessage;
  ConfigureRequest: IConfigureRequest;
  GetRssRequest: IGetRssRequest;
  ScanRequest: IScanRequest;
  CancelRequest: ICancelRequest;
  ApplyFixRequest: IApplyFixRequest;
  RequestMessage: RequestMessage;
  ConfigureResult: IConfigureResult;
  RunningCell: IRunningCell;
  GetRssResult: IGetRssResult;
  HolderRoot: IHolderRoot;
  CompositionPart: ICompositionPart;
  HeldByKind: HeldByKind;
  ScanEngine: ScanEngine;
  HeldBy: IHeldBy;
  HeldElsewhere: IHeldElsewhere;
  HolderBrief: IHolderBrief;
  Holder: IHolder;
  ScanSummary: IScanSummary;
  Resource: IResource;
  CyclicGarbage: ICyclicGarbage;
  AllocatorGapPart: IAllocatorGapPart;
  AllocatorGap: IAllocatorGap;
  Findings: IFindings;
  Suggestion: ISuggestion;
  ScanResult: IScanResult;
  CancelResult: ICancelResult;
  FixResult: IFixResult;
  ClusterStatus: ClusterStatus;
  ClusterSuggestion: ClusterSuggestion;
  ClusterMemory: IClusterMemory;
  ClusterTotals: IClusterTotals;
  ClusterWorker: IClusterWorker;
  ClusterCellKeys: IClusterCellKeys;
  ClusterCellWorker: IClusterCellWorker;
  ClusterCellEntry: IClusterCellEntry;
  CellCluster: ICellCluster;
  CellClusterMessage: ICellClusterMessage;
  ScanClusterRequest: IScanClusterRequest;
  ReleaseClusterRequest: IReleaseClusterRequest;
  ClusterKeyStatus: IClusterKeyStatus;
  ClusterHolderWorker: IClusterHolderWorker;
  ClusterHolder: IClusterHolder;
  ClusterWalk: IClusterWalk;
  ClusterSection: IClusterSection;
  ScanClusterResult: IScanClusterResult;
  ClusterFreed: IClusterFreed;
  ClusterFreedWorker: IClusterFreedWorker;
  ReleaseClusterResult: IReleaseClusterResult;
}
/**
 * The helper's configuration for this kernel, as in effect.
 */
export interface IKernelConfig {
  /**
   * Whether records carry tracemalloc figures (py_heap_delta, py_heap_peak).
   */
  tracemalloc: boolean;
  /**
   * The least rss_delta that counts as growth for leak flags.
   */
  leak_threshold_bytes?: number;
}
/**
 * Options to change; the others keep their values. The helper refuses unknown keys (bad_request) in configure and ignores an invalid config in comm_open.
 */
export interface IKernelConfigPatch {
  /**
   * Turn tracemalloc figures on or off.
   */
  tracemalloc?: boolean;
  /**
   * The least rss_delta that counts as growth.
   */
  leak_threshold_bytes?: number;
}
/**
 * The data of the front end's comm_open on COMM_TARGET.
 */
export interface ICommOpenData {
  protocol_version: ProtocolVersion;
  /**
   * Who is asking, e.g. 'jupyterlab-memory-doctor 0.1.0'.
   */
  client: string;
  config?: IKernelConfigPatch;
}
/**
 * The metadata of the comm_open (as ipywidgets sends it).
 */
export interface ICommOpenMetadata {
  version: ProtocolVersion;
}
/**
 * The memory limit that applies to the kernel.
 */
export interface IMemoryLimit {
  /**
   * The limit, or null when the source is unknown.
   */
  bytes: number | null;
  source: LimitSource;
}
/**
 * A cell's growth across re-runs: present when the last runs of this cell id each left at least leak_threshold_bytes behind.
 */
export interface IGrowth {
  /**
   * Consecutive growing runs of this cell id, ending with this one.
   */
  runs: number;
  /**
   * The mean rss_delta of those runs.
   */
  growth_per_run_bytes: number;
  /**
   * True from LEAK_MIN_RUNS runs on: re-running the cell keeps increasing retained memory.
   */
  flagged: boolean;
  /**
   * What grew during this run: variables as 'name (type) +40.0 MB', then object types as 'type +count'; empty unless this run was watched and the census finished in time.
   *
   * @maxItems 8
   */
  what_grew: string[];
}
/**
 * The measurements of one cell execution.
 */
export interface ICellRecord {
  cell_id: CellId;
  /**
   * The cell's execution count.
   */
  execution_count: number;
  status: CellStatus;
  /**
   * When the cell started, epoch seconds.
   */
  started_at: number;
  /**
   * How long the cell ran.
   */
  duration_s: number;
  /**
   * RSS when the cell started.
   */
  rss_before: number;
  /**
   * RSS when the cell ended.
   */
  rss_after: number;
  /**
   * rss_after - rss_before (negative when the cell freed memory).
   */
  rss_delta: number;
  /**
   * The highest RSS during the cell (see peak_method).
   */
  peak_rss: number;
  /**
   * peak_rss - rss_before.
   */
  peak_increase: number;
  peak_method: PeakMethod;
  /**
   * Garbage collections, all generations, during the cell.
   */
  gc_collections: number;
  /**
   * Change of the traced Python heap (tracemalloc option on), else null.
   */
  py_heap_delta: number | null;
  /**
   * The traced peak above the start (tracemalloc option on), else null.
   */
  py_heap_peak: number | null;
  /**
   * Growth across re-runs of this cell id, or null.
   */
  growth?: IGrowth | null;
  /**
   * What the cell did on the connected Dask clusters, or null when the kernel holds no Dask client (1.3).
   */
  cluster?: ICellCluster | null;
}
/**
 * A cell's Dask cluster measurement (1.3). pending while the after readings are on their way (clusters is then empty; a cell_cluster message brings the rest).
 */
export interface ICellCluster {
  pending: boolean;
  /**
   * What the cell put on the clusters (negative: released), summed over the schedulers measured; null when none was.
   */
  delta_bytes: number | null;
  clusters: IClusterCellEntry[];
}
/**
 * One Dask scheduler's part of a cell's cluster measurement (1.3).
 */
export interface IClusterCellEntry {
  /**
   * The scheduler's address.
   */
  scheduler: string;
  status: ClusterStatus;
  /**
   * One sentence when status is not ok, else null.
   */
  error: string | null;
  /**
   * keys.bytes_added - keys.bytes_removed; null when not ok.
   */
  delta_bytes: number | null;
  keys: IClusterCellKeys | null;
  /**
   * The newest reading held when the cell started (the previous cell's after, or a scan's); null for the cell that first saw the client.
   */
  before: IClusterTotals | null;
  /**
   * How much older the before reading is than the after one.
   */
  before_age_s: number | null;
  /**
   * The reading CLUSTER_SETTLE_S after the cell, settled when every worker's sample is newer than the cell's end (re-read until CLUSTER_MAX_SETTLE_S at most).
   */
  after: IClusterTotals | null;
  settled: boolean | null;
  /**
   * The after reading's first round trip.
   */
  round_trip_ms: number | null;
  workers: IClusterCellWorker[];
}
/**
 * What a cell's futures did on one cluster, by key (1.3): keys added and released, and their bytes (the scheduler's nbytes, as Client.nbytes). The exact figure: heartbeat readings lag about a second.
 */
export interface IClusterCellKeys {
  added: number;
  removed: number;
  bytes_added: number;
  bytes_removed: number;
  /**
   * Added keys still computing (a persist() running on): their bytes are not counted.
   */
  pending_keys: number;
  /**
   * Released keys whose size was never learnt (persisted before the helper saw them): their bytes are not counted.
   */
  removed_unknown: number;
}
/**
 * The cluster's memory summed over its workers (1.3). Workers inside the kernel (LocalCluster(processes=False)) count with their managed bytes only.
 */
export interface IClusterTotals {
  memory: number;
  managed: number;
  spilled: number;
  unmanaged: number;
  /**
   * The sum of the workers' memory_limit; null when a worker has none.
   */
  memory_limit: number | null;
  workers: number;
  /**
   * Tasks executing, ready, waiting or being fetched on the workers.
   */
  busy_tasks: number;
}
/**
 * One worker's memory before and after a cell (1.3); null before when it joined during the cell, null after when it left.
 */
export interface IClusterCellWorker {
  address: string;
  name: string;
  memory_limit: number | null;
  before: IClusterMemory | null;
  after: IClusterMemory | null;
}
/**
 * A worker's memory (1.3), from its last heartbeat, as distributed's MemoryState: memory is the process's RSS, managed the sizeof of the keys it holds in memory, spilled the bytes it spilled to disk, unmanaged the rest of the process (memory - managed).
 */
export interface IClusterMemory {
  memory: number;
  managed: number;
  spilled: number;
  unmanaged: number;
}
/**
 * Sent once, in answer to comm_open.
 */
export interface IHelloMessage {
  type: 'hello';
  protocol_version: ProtocolVersion;
  /**
   * The helper package's version.
   */
  helper_version: string;
  peak_method: PeakMethod;
  /**
   * Whether peaks are exact (vmhwm).
   */
  peak_exact: boolean;
  /**
   * The kernel's Python version, e.g. 3.11.7.
   */
  python: string;
  /**
   * sys.platform of the kernel.
   */
  platform: string;
  /**
   * The kernel's process id.
   */
  pid: number;
  /**
   * The kernel's RSS now (0 if unknown).
   */
  rss: number;
  config: IKernelConfig;
  /**
   * The records the helper holds, oldest first (for example after a page reload).
   *
   * @maxItems 2000
   */
  records: ICellRecord[];
  memory_limit?: IMemoryLimit;
  /**
   * Whether the malloc_trim fix can run (glibc).
   */
  malloc_trim?: boolean;
}
/**
 * Sent instead of hello when the comm cannot be served (the kernel then closes the comm), and for a comm message that is not a JSON object.
 */
export interface IErrorMessage {
  type: 'error';
  code: ErrorCode;
  /**
   * One sentence saying what to do.
   */
  message: string;
  protocol_version?: ProtocolVersion;
}
/**
 * Sent after every user cell (not for silent or store_history=False executions), parented to that cell's execute request.
 */
export interface ICellMeasuredMessage {
  type: 'cell_measured';
  record: ICellRecord;
}
/**
 * The profiled run (1.3).
 */
export interface IProfileCell {
  cell_id: CellId;
  execution_count: number | null;
}
/**
 * One source line that allocated during the profiled run (1.3). Lines of the profiled cell (scope cell) are inclusive: what the functions they called allocated counts on them, so they add up to the run's total. Lines of notebook functions defined in other cells (scope function) count their own allocations (self) and are a breakdown of a cell line's figure, not extra bytes. Line 0 holds what was allocated while a frame was being set up.
 */
export interface IProfileLine {
  cell_id: CellId;
  execution_count: number | null;
  /**
   * 1-based line of the cell's source as the user typed it (0: frame set-up).
   */
  line: number;
  /**
   * The line's text, stripped.
   */
  source: string;
  scope: ProfileScope;
  /**
   * Bytes allocated by the line during the run and still allocated at its end. Negative only when tracemalloc was already running (figures are then differences per stack).
   */
  net_bytes: number;
  /**
   * Bytes allocated by the line and still allocated at the run's peak (see peak_mode).
   */
  peak_bytes: number;
  net_blocks: number;
  peak_blocks: number;
  /**
   * Top-level names the run bound to an object allocated on this line, when the backend can tell.
   */
  holders: string[];
}
/**
 * A frame of a stack at the peak (1.3): a notebook line (cell_id / execution_count set, file empty) or library code.
 */
export interface IProfileFrame {
  /**
   * What the chart shows: In[N] LINE: source, or function (file:line).
   */
  label: string;
  /**
   * The library file, shortened to its package path; empty for notebook code and for the synthetic frames (transient, other stacks).
   */
  file: string;
  line: number;
  /**
   * The function's name (empty with tracemalloc, which does not record it).
   */
  function: string;
  cell_id: CellId;
  execution_count: number | null;
}
/**
 * Bytes allocated through one stack and still allocated at the peak (1.3), outermost frame (the profiled cell's line) first. The largest PROFILE_MAX_STACKS stacks are kept whole; the rest are folded into one stack per cell line ending in an 'other stacks' frame.
 */
export interface IProfileStack {
  /**
   * @minItems 1
   */
  frames: IProfileFrame[];
  peak_bytes: number;
  peak_blocks: number;
}
/**
 * The whole run's figures, to read the lines against (1.3).
 */
export interface IProfileTotals {
  /**
   * The traced peak: bytes allocated during the run and still allocated, at their highest.
   */
  peak_bytes: number;
  /**
   * The level the at-peak figures describe: peak_bytes, lower when peak_mode is stale, 0 when none.
   */
  peak_view_bytes: number;
  /**
   * Bytes allocated during the run and still allocated at its end.
   */
  net_bytes: number;
  /**
   * Allocated by no line of the profiled cell: the kernel's threads, IPython's own work.
   */
  outside_net_bytes: number;
  outside_peak_bytes: number;
  /**
   * Stacks cut short by tracemalloc's frame limit before any notebook frame.
   */
  unattributed_net_bytes: number;
  unattributed_peak_bytes: number;
}
/**
 * The line-level memory profile of one cell run (1.3). docs/profile.md explains the method and its limits.
 */
export interface IProfile {
  backend: ProfileBackend;
  cell: IProfileCell;
  peak_mode: ProfilePeakMode;
  totals: IProfileTotals;
  /**
   * The profiled cell's lines (scope cell) in line order, then the notebook functions' lines (scope function) by cell and line.
   */
  lines: IProfileLine[];
  /**
   * The stacks at the peak, largest first.
   */
  stacks: IProfileStack[];
  /**
   * How long the run took, traced.
   */
  elapsed_s: number;
  /**
   * Time the profiler itself spent during the run (snapshots) and reading the result.
   */
  overhead_s: number;
  /**
   * Plain-language caveats: what the backend cannot see, how the peak was taken, why the profile is empty.
   */
  note: string;
  /**
   * Empty, or the exception class that ended the run (KeyboardInterrupt when interrupted).
   */
  error: string;
}
/**
 * The line profile of a run asked for with profile_next (or execute metadata, or %%memory profile), sent after that run's cell_measured and parented to its execute request (1.3).
 */
export interface ICellProfileMessage {
  type: 'cell_profile';
  cell_id: CellId;
  execution_count: number | null;
  profile: IProfile;
}
/**
 * Profile the next run of one cell, line by line (1.3). The request stays armed until that cell runs, profile_cancel, or a restart; a second request for the cell replaces the first. The profile arrives as cell_profile.
 */
export interface IProfileNextRequest {
  type: 'profile_next';
  request_id: RequestId;
  /**
   * The cell to profile.
   */
  cell_id: string;
  backend: ProfileBackendChoice;
}
/**
 * The profile_next result (1.3).
 */
export interface IProfileNextResult {
  cell_id: string;
  backend: ProfileBackend;
}
/**
 * Forget a profile_next that has not run yet (1.3).
 */
export interface IProfileCancelRequest {
  type: 'profile_cancel';
  request_id: RequestId;
  cell_id: string;
}
/**
 * The profile_cancel result (1.3).
 */
export interface IProfileCancelResult {
  cell_id: string;
  /**
   * False when nothing was armed for the cell (it ran already, or was never asked for).
   */
  cancelled: boolean;
}
/**
 * Sent while a scan runs, at most every SCAN_PROGRESS_INTERVAL_S.
 */
export interface IScanProgressMessage {
  type: 'scan_progress';
  request_id: RequestId;
  phase: ScanPhase;
  /**
   * Objects visited so far.
   */
  objects_visited: number;
  /**
   * Scan work so far.
   */
  elapsed_s: number;
}
/**
 * A request's successful answer. result's shape depends on the request type (the request's x-result).
 */
export interface IOkReply {
  type: 'reply';
  request_id: RequestId;
  ok: true;
  /**
   * The request's result; decode it with the decoder of the request type.
   */
  result: {
    [k: string]: unknown | undefined;
  };
}
/**
 * Why a request failed.
 */
export interface IReplyError {
  code: ErrorCode;
  /**
   * One sentence saying why and what to do.
   */
  message: string;
}
/**
 * A request's failed answer. request_id is null when the request had no usable request_id or the helper failed before reading it.
 */
export interface IErrorReply {
  type: 'reply';
  request_id: RequestId | null;
  ok: false;
  error: IReplyError;
}
/**
 * A cell's Dask cluster measurement (1.3), sent once its readings arrived: CLUSTER_SETTLE_S to CLUSTER_MAX_SETTLE_S after the cell, at once when the client cannot be asked. Only for records whose cluster was pending; the helper also keeps it in the record for replay.
 */
export interface ICellClusterMessage {
  type: 'cell_cluster';
  execution_count: number;
  cell_id: CellId;
  cluster: ICellCluster;
}
/**
 * Turn options on or off for this kernel. Unknown keys are refused with bad_request.
 */
export interface IConfigureRequest {
  type: 'configure';
  request_id: RequestId;
  tracemalloc?: boolean;
  leak_threshold_bytes?: number;
}
/**
 * The kernel's memory now. Safe on a subshell while a cell runs (a live reading). The helper ignores unknown fields.
 */
export interface IGetRssRequest {
  type: 'get_rss';
  request_id: RequestId;
}
/**
 * Find what holds memory. The reply comes when the scan ends; scan_progress messages come meanwhile. One scan at a time: a second one is refused with bad_request. The helper ignores unknown fields.
 */
export interface IScanRequest {
  type: 'scan';
  request_id: RequestId;
  /**
   * Seconds of scan work before the scan stops with partial results.
   */
  budget_s?: number;
  /**
   * How many of the largest holders to return.
   */
  max_holders?: number;
}
/**
 * Stop a running scan; its own reply then arrives with stopped: cancelled and the partial results.
 */
export interface ICancelRequest {
  type: 'cancel';
  request_id: RequestId;
  target: RequestId;
}
/**
 * Apply one suggestion of the latest scan, repeating its action and targets. The helper re-resolves every target and refuses (refused) when anything changed; it waits up to FIX_WAIT_S for a running cell or scan to end.
 */
export interface IApplyFixRequest {
  type: 'apply_fix';
  request_id: RequestId;
  /**
   * The suggestion's id.
   */
  suggestion_id: string;
  action: FixAction;
  /**
   * The suggestion's targets, exactly as listed.
   *
   * @maxItems 1000
   */
  targets: string[];
}
/**
 * Which names keep which keys alive on each connected Dask cluster, and each worker's memory (1.3). The helper waits up to CLUSTER_WAIT_S for a running cell, walks the namespace for futures (CLUSTER_WALK_BUDGET_S at most) and asks each scheduler once.
 */
export interface IScanClusterRequest {
  type: 'scan_cluster';
  request_id: RequestId;
}
/**
 * Release cluster holders (1.3): delete the names of each holder (and their hidden aliases: Out[n], _n, _, the last traceback), so distributed releases the keys no other name holds; nothing is cancelled. Then measure what the scheduler reports freed. The helper waits up to FIX_WAIT_S for a running cell, walks again, and refuses (refused) holders that changed since the scan.
 */
export interface IReleaseClusterRequest {
  type: 'release_cluster';
  request_id: RequestId;
  /**
   * The scheduler the holders are on, as scan_cluster gave it.
   */
  scheduler: string;
  /**
   * Each holder's labels, exactly as scan_cluster listed them.
   *
   * @minItems 1
   * @maxItems 1000
   */
  holders: string[][];
}
/**
 * The configure result: the whole configuration after the change.
 */
export interface IConfigureResult {
  config: IKernelConfig;
}
/**
 * The measured cell executing while get_rss was answered.
 */
export interface IRunningCell {
  cell_id: CellId;
  /**
   * The count the cell will have, or null when unknown.
   */
  execution_count: number | null;
  /**
   * When the cell started, epoch seconds.
   */
  started_at: number;
  /**
   * RSS when the cell started: rss - rss_before is its change so far.
   */
  rss_before: number;
}
/**
 * The get_rss result.
 */
export interface IGetRssResult {
  /**
   * The kernel's RSS now (0 if unknown).
   */
  rss: number;
  /**
   * High-water mark since the last measured cell started (vmhwm), the lifetime ru_maxrss, or rss (none).
   */
  peak_rss: number;
  /**
   * When the reading was taken, epoch seconds.
   */
  time?: number;
  memory_limit?: IMemoryLimit;
  /**
   * The measured cell running now, or null.
   */
  running?: IRunningCell | null;
}
/**
 * One root of a holder.
 */
export interface IHolderRoot {
  /**
   * What a user calls it: a name, Out[3], f.__closure__[0], ...
   */
  label: string;
  kind: HolderKind;
}
/**
 * One type's share of a holder's retained bytes.
 */
export interface ICompositionPart {
  /**
   * The type's name.
   */
  type: string;
  bytes: number;
  count: number;
}
/**
 * Who else holds a holder's memory (1.3): a library (its top-level package, or interpreter for sys and builtins), the kernel's machinery, or references from outside Python (C state such as atexit or a signal handler).
 */
export interface IHeldBy {
  kind: HeldByKind;
  /**
   * The package (logging, numpy, interpreter), kernel, or outside Python.
   */
  name: string;
  /**
   * Python a user can paste to reach the memory from that side (logging.getLogger('x').handlers[0].buffer), or null when none was found.
   */
  path: string | null;
}
/**
 * Memory no user root reaches, by who holds it (1.3).
 */
export interface IHeldElsewhere {
  /**
   * The names, as in HeldBy.name.
   */
  held_by: string[];
  bytes: number;
  objects: number;
}
/**
 * A holder past the scan's max_holders cut, in brief (1.3): enough to find it by name and to count its bytes.
 */
export interface IHolderBrief {
  /**
   * Its root names, as a Holder's labels.
   *
   * @minItems 1
   */
  labels: string[];
  /**
   * The type of its first root.
   */
  type: string;
  retained_bytes: number;
  objects: number;
}
/**
 * One set of roots with the bytes reachable from them and from no other root: deleting every root in labels frees retained_bytes, unless also_held_by names someone else (then freeable is false).
 */
export interface IHolder {
  /**
   * Unique within the scan, e.g. h1.
   */
  id: string;
  /**
   * The roots' labels, as in roots.
   *
   * @minItems 1
   */
  labels: string[];
  kind: HolderKind;
  /**
   * @minItems 1
   */
  roots: IHolderRoot[];
  /**
   * The first root's type name.
   */
  type: string;
  retained_bytes: number;
  objects: number;
  /**
   * Python a user can paste to reach the largest object.
   */
  path: string;
  cell_id: CellId;
  /**
   * The count of the cell where the first root's name was last bound, or null.
   */
  execution_count: number | null;
  /**
   * The largest types among the retained bytes, largest first.
   *
   * @maxItems 5
   */
  composition: ICompositionPart[];
  /**
   * More than one root: deleting any one of them alone frees nothing.
   */
  shared: boolean;
  /**
   * null for host memory, else e.g. cuda:0 (those bytes are not in rss).
   */
  device: string | null;
  /**
   * Whether mmap-backed memory is among the bytes.
   */
  file_backed: boolean;
  /**
   * Who else reaches these bytes (empty: nobody but the roots in labels).
   *
   * @maxItems 8
   */
  also_held_by?: IHeldBy[];
  /**
   * Whether deleting every root in labels frees retained_bytes: also_held_by is empty.
   */
  freeable?: boolean;
}
/**
 * How the scan went.
 */
export interface IScanSummary {
  /**
   * Scan work, in seconds.
   */
  duration_s: number;
  objects_visited: number;
  complete: boolean;
  /**
   * null for a complete scan, else why it stopped.
   */
  stopped: ScanStopped | null;
  engine?: ScanEngine;
  /**
   * The scan's own high-water mark above the RSS at its start (VmHWM reset, as for cells), or null where unknown.
   */
  peak_extra_bytes?: number | null;
  /**
   * RSS after the scan minus RSS before it (negative when it shrank), or null where unknown.
   */
  left_behind_bytes?: number | null;
}
/**
 * Something the session holds open.
 */
export interface IResource {
  /**
   * Unique within the scan, e.g. r1.
   */
  id: string;
  kind: ResourceKind;
  /**
   * The short name shown first: the first root holding it, or e.g. Figure 3.
   */
  label: string;
  /**
   * A path, an address, a database, a pid.
   */
  detail: string;
  /**
   * Root labels that keep it alive.
   *
   * @maxItems 8
   */
  held_by: string[];
  cell_id: CellId;
  execution_count: number | null;
  /**
   * A sentence for the user, or null.
   */
  note: string | null;
}
/**
 * Unreachable objects waiting for the cycle collector.
 */
export interface ICyclicGarbage {
  objects: number;
  bytes: number;
}
/**
 * One allocator's share of the allocator gap (1.3).
 */
export interface IAllocatorGapPart {
  allocator: GapAllocator;
  /**
   * Freed memory this allocator keeps resident.
   */
  bytes: number;
  /**
   * Whether the malloc_trim fix returns it (malloc_trim(0), Arrow's release_unused()); pymalloc's is only reused.
   */
  returnable: boolean;
}
/**
 * Memory Python freed that the C allocator has not returned to the OS.
 */
export interface IAllocatorGap {
  /**
   * null where it cannot be read.
   */
  bytes: number | null;
  /**
   * Whether the malloc_trim fix can run.
   */
  malloc_trim: boolean;
  /**
   * The gap per allocator, those that could be read (1.3); bytes is their sum.
   */
  parts?: IAllocatorGapPart[];
}
/**
 * Cheap process-wide figures; null where unknown or not measured.
 */
export interface IFindings {
  open_fds: number | null;
  threads: number | null;
  children: number | null;
  cyclic_garbage: ICyclicGarbage | null;
  allocator_gap: IAllocatorGap | null;
}
/**
 * One fix the helper can apply.
 */
export interface ISuggestion {
  /**
   * Unique within the scan, e.g. s1.
   */
  id: string;
  action: FixAction;
  /**
   * Root labels, or resource ids for resource actions, or the logging handler (logging.getLogger('name').handlers[0]) for clear_log_buffer; empty for gc_collect and malloc_trim.
   *
   * @maxItems 1000
   */
  targets: string[];
  /**
   * The exact Python a user could type instead.
   */
  code: string;
  estimated_freed_bytes: number | null;
  /**
   * One line.
   */
  reason: string;
  /**
   * Whether it deletes or closes something (the front end then asks first).
   */
  destructive: boolean;
  /**
   * The holder it fixes, if any.
   */
  holder_id: string | null;
  /**
   * The resource it fixes, if one.
   */
  resource_id: string | null;
}
/**
 * The scan result.
 */
export interface IScanResult {
  scan: IScanSummary;
  /**
   * RSS before the scan allocated anything.
   */
  rss: number;
  /**
   * Host bytes the holders account for.
   */
  attributed_bytes: number;
  /**
   * max(rss - attributed_bytes, 0).
   */
  unattributed_bytes: number;
  /**
   * Host bytes of the holders that are freeable: what deleting their roots gives back.
   */
  freeable_bytes?: number;
  /**
   * The largest labels no user root reaches (libraries, the kernel, outside Python), largest first.
   *
   * @maxItems 20
   */
  held_elsewhere?: IHeldElsewhere[];
  /**
   * Bytes no user root reaches, in all.
   */
  held_elsewhere_bytes?: number;
  /**
   * How many holders the scan found, before the max_holders cut: holders has the largest of them.
   */
  holders_total?: number;
  /**
   * The holders past the max_holders cut, largest first, in brief (names, type, size), so that a front end can search every holder by name and count its bytes; at most MAX_HOLDER_INDEX.
   *
   * @maxItems 100000
   */
  holder_index?: IHolderBrief[];
  /**
   * Largest first, at most max_holders.
   */
  holders: IHolder[];
  resources?: IResource[];
  findings?: IFindings;
  suggestions?: ISuggestion[];
}
/**
 * The cancel result.
 */
export interface ICancelResult {
  /**
   * False when no such scan was running (finished, never started, unknown).
   */
  cancelled: boolean;
}
/**
 * The apply_fix result.
 */
export interface IFixResult {
  suggestion_id: string;
  action: FixAction;
  estimated_freed_bytes: number | null;
  /**
   * The drop in RSS across the fix (never negative); the same figure as returned_to_os_bytes, kept under its 1.2 name.
   */
  measured_freed_bytes: number;
  /**
   * What the fix freed inside the process: the drop of the allocators' in-use bytes (pymalloc's allocated blocks, glibc's mallinfo2, Arrow's pool); null where none can be read. 0 for malloc_trim, which frees nothing (1.3).
   */
  freed_in_process_bytes?: number | null;
  /**
   * The drop in RSS across the fix, the return of what the allocators kept included (1.3).
   */
  returned_to_os_bytes?: number;
  /**
   * Targets that were already done before the fix ran (a name deleted, a resource closed), by label (1.3).
   */
  already_done?: string[];
  rss_before: number;
  rss_after: number;
  /**
   * null, or one sentence: targets already done, a measurement well short of the estimate and why, or memory the allocators had kept that the fix returned to the OS.
   */
  explanation: string | null;
}
/**
 * One worker in a scan_cluster result (1.3). Its headroom is memory_limit - memory.
 */
export interface IClusterWorker {
  address: string;
  name: string;
  memory: number;
  managed: number;
  spilled: number;
  unmanaged: number;
  memory_limit: number | null;
  /**
   * How old the worker's heartbeat sample is.
   */
  age_s: number | null;
  busy_tasks: number;
  /**
   * A worker thread inside the kernel (inproc://): its memory is the kernel's own.
   */
  in_kernel: boolean;
}
/**
 * How many of a holder's keys have each future status (1.3). After a lost scheduler every future is cancelled.
 */
export interface IClusterKeyStatus {
  pending: number;
  finished: number;
  cancelled: number;
  lost: number;
  error: number;
  unknown: number;
}
/**
 * What one worker holds of a cluster holder's keys (1.3).
 */
export interface IClusterHolderWorker {
  address: string;
  name: string;
  bytes: number;
  keys: number;
  /**
   * Bytes of those keys spilled to disk; null when not known.
   */
  spilled: number | null;
}
/**
 * The keys one set of roots keeps alive on a cluster (1.3): a key reached from several names is in one holder listing them all, so shared keys count once, jointly. bytes is the keys' scheduler nbytes (as Client.nbytes), each key once; worker_bytes counts replicas (what a release frees). Without a scheduler answer the byte fields are null.
 */
export interface IClusterHolder {
  /**
   * The names, as a user writes them; empty for keys no scanned name reaches.
   */
  labels: string[];
  kinds: HolderKind[];
  keys: number;
  bytes: number | null;
  worker_bytes: number | null;
  /**
   * Keys still computing (no size yet).
   */
  pending_keys: number | null;
  status: IClusterKeyStatus;
  /**
   * Bytes of the keys spilled to disk: 0 when no worker spills, null when the workers could not be asked.
   */
  spilled: number | null;
  workers: IClusterHolderWorker[];
  /**
   * A few of the keys, as text.
   *
   * @maxItems 3
   */
  sample_keys: string[];
  /**
   * Whether release_cluster can release it (deleting the labels drops every reference).
   */
  releasable: boolean;
  suggestion: ClusterSuggestion;
  /**
   * One sentence for the unattributed row, else null.
   */
  note: string | null;
}
/**
 * The walk of the namespace for futures (1.3).
 */
export interface IClusterWalk {
  visited: number;
  /**
   * Cut short (too many objects, or CLUSTER_WALK_BUDGET_S): holders may be missing and their keys show as unattributed.
   */
  truncated: boolean;
  seconds: number;
}
/**
 * One connected Dask scheduler in a scan_cluster result (1.3). When it did not answer, status and error say why, workers is empty, total null, and the holders have their labels, key counts and statuses without bytes.
 */
export interface IClusterSection {
  scheduler: string;
  status: ClusterStatus;
  error: string | null;
  workers: IClusterWorker[];
  total: IClusterTotals | null;
  /**
   * Largest first; the unattributed row (labels []) last.
   */
  holders: IClusterHolder[];
  round_trip_ms: number | null;
}
/**
 * The scan_cluster result (1.3): one section per connected client's scheduler; empty when the kernel holds none (distributed not imported, or no client).
 */
export interface IScanClusterResult {
  clusters: IClusterSection[];
  walk: IClusterWalk | null;
}
/**
 * The drop of each cluster figure across a release (1.3); negative when it grew (other work went on).
 */
export interface IClusterFreed {
  memory: number;
  managed: number;
  spilled: number;
  unmanaged: number;
}
/**
 * The drop of one worker's figures across a release (1.3).
 */
export interface IClusterFreedWorker {
  address: string;
  name: string;
  freed_memory: number;
  freed_managed: number;
  freed_spilled: number;
  freed_unmanaged: number;
}
/**
 * The release_cluster result (1.3): what was deleted, and what the scheduler reports freed once the keys were forgotten and every worker sent a newer heartbeat (CLUSTER_RELEASE_BOUND_S at most). status is the measurement's: when not ok, the names are deleted all the same and the measured fields are null.
 */
export interface IReleaseClusterResult {
  scheduler: string;
  status: ClusterStatus;
  error: string | null;
  /**
   * Labels deleted (bound before, gone after).
   */
  deleted: string[];
  /**
   * Labels still bound (a form that cannot be deleted).
   */
  kept: string[];
  /**
   * Requested holders no longer found (changed since the scan).
   */
  missing: string[][];
  /**
   * Requested holders deleting names cannot release (releasable false).
   */
  refused: string[][];
  /**
   * Bytes the workers held for the released keys, replicas included.
   */
  estimate_bytes: number;
  /**
   * Keys no other name holds, which the deletion releases.
   */
  keys: number;
  /**
   * Of those, the keys the scheduler forgot.
   */
  released_keys: number | null;
  /**
   * Keys the scheduler still holds: another client or an unseen reference wants them; never cancelled.
   */
  still_held_keys: number | null;
  freed: IClusterFreed | null;
  /**
   * The data freed on the workers: managed plus spilled drops, each at least 0.
   */
  freed_bytes: number | null;
  workers: IClusterFreedWorker[];
  /**
   * Workers whose managed or spilled bytes dropped.
   */
  freed_on_workers: number;
  /**
   * From the deletion until the scheduler forgot the keys.
   */
  seconds_to_forget: number | null;
  seconds_to_report: number;
  /**
   * Every worker reported after the keys were forgotten.
   */
  settled: boolean;
  polls: number;
}

// ---------------------------------------------------------------- constants

/** MAJOR.MINOR, versioned separately from the package. A different MAJOR on either side is fatal; a different MINOR only adds optional fields and message types. */
export const PROTOCOL_VERSION = '1.3';
/** The comm target the helper registers. */
export const COMM_TARGET = 'memory_doctor';
/** The one execute request the front end sends (silent, store_history false) to load the helper. */
export const BOOTSTRAP_CODE = '%load_ext memory_doctor';
/** The command shown when the helper is missing from a kernel's environment. */
export const PIP_INSTALL_HINT = '%pip install jupyterlab-memory-doctor';
/** Largest request the helper parses, as compact JSON; a larger one is refused with bad_request. Unit: bytes. */
export const MAX_REQUEST_BYTES = 65536;
/** Longest request_id, cancel target, suggestion_id or cell_id on the wire. Unit: characters. */
export const MAX_ID_CHARS = 128;
/** How many stacks at the peak a profile keeps whole (1.3); smaller ones are folded per cell line. */
export const PROFILE_MAX_STACKS = 60;
/** Frames kept per profile stack (1.3): the outermost ones, an ellipsis, then the allocation site. */
export const PROFILE_MAX_FRAMES = 24;
/** The execute request's metadata key under which a driver asks for a profile without a comm round trip (1.3): {"memory_doctor": {"profile": "auto"}} (a ProfileBackendChoice). */
export const PROFILE_METADATA_KEY = 'memory_doctor';
/** How many records the helper keeps and replays in hello. */
export const MAX_REPLAY_RECORDS = 2000;
/** The scan budget when a scan request names none (also the panel's default setting). Unit: s. */
export const DEFAULT_SCAN_BUDGET_S = 5;
/** The largest budget_s a scan request may ask for. Unit: s. */
export const MAX_SCAN_BUDGET_S = 600;
/** How many of the largest holders a scan returns when the request names no max_holders. */
export const DEFAULT_MAX_HOLDERS = 500;
/** The largest max_holders a scan request may ask for. */
export const MAX_MAX_HOLDERS = 10000;
/** Work per scan slice on the kernel's event loop: a cell or a cancel waits at most this long for a running scan. Unit: s. */
export const SCAN_SLICE_S = 0.05;
/** Least time between two scan_progress messages of one scan (the first goes out at once). Unit: s. */
export const SCAN_PROGRESS_INTERVAL_S = 0.25;
/** A scan runs at most budget_s + SCAN_OVERRUN_S; a scan queued behind a running cell waits at most as long before it replies with stopped: cell_ran. A scan reply can therefore take 2 * (budget_s + SCAN_OVERRUN_S) plus the result's assembly. Unit: s. */
export const SCAN_OVERRUN_S = 5;
/** What a front end adds to 2 * (budget_s + SCAN_OVERRUN_S) before it gives up on a scan reply: assembling the result, findings and suggestions, and the reply's trip. Unit: s. */
export const SCAN_REPLY_GRACE_S = 60;
/** At most this many composition entries per holder. */
export const COMPOSITION_TOP = 5;
/** At most this many holders past the max_holders cut in a scan's holder_index (1.3). */
export const MAX_HOLDER_INDEX = 100000;
/** At most this many also_held_by entries per holder (1.3). */
export const ALSO_HELD_BY_TOP = 8;
/** At most this many held_elsewhere entries per scan (1.3). */
export const HELD_ELSEWHERE_TOP = 20;
/** At most this many root labels in a resource's held_by. */
export const MAX_HELD_BY = 8;
/** A resource's detail is clipped to this length. Unit: characters. */
export const MAX_RESOURCE_DETAIL_CHARS = 200;
/** Default of the configure option leak_threshold_bytes: the least rss_delta that counts as growth. Unit: bytes. */
export const DEFAULT_LEAK_THRESHOLD_BYTES = 1048576;
/** A record's growth is non-null from this many consecutive growing runs of its cell id on. */
export const GROWTH_MIN_RUNS = 2;
/** growth.flagged is true from this many consecutive growing runs on. */
export const LEAK_MIN_RUNS = 3;
/** Growth looks at the last this many runs of a cell id at most. */
export const GROWTH_HISTORY_RUNS = 64;
/** At most this many labels in growth.what_grew. */
export const GROWTH_MAX_LABELS = 8;
/** A variable is named in what_grew when its estimated size grew by at least this much. Unit: bytes. */
export const GROWTH_MIN_VARIABLE_BYTES = 65536;
/** Time the helper may spend finding what grew after a watched run; what_grew is empty when it runs out. Unit: s. */
export const GROWTH_CENSUS_BUDGET_S = 1;
/** How long the helper waits for a running cell or scan to end before it applies a fix; after that it refuses the fix (refused) and changes nothing. Unit: s. */
export const FIX_WAIT_S = 600;
/** At most this many targets in a suggestion and in an apply_fix request. */
export const MAX_FIX_TARGETS = 1000;
/** Longest target of a suggestion or an apply_fix request. Unit: characters. */
export const MAX_FIX_TARGET_CHARS = 1000;
/** terminate_process waits this long for the child to exit before it kills it. Unit: s. */
export const TERMINATE_WAIT_S = 3;
/** How long a front end waits for the reply to configure, get_rss or cancel. Unit: s. */
export const REQUEST_TIMEOUT_S = 10;
/** What a front end adds to the helper's own waits before it gives up on an apply_fix reply: the fix itself (gc.collect, closing) and the reply's trip. Unit: s. */
export const FIX_REPLY_GRACE_S = 60;
/** How long a front end waits for an apply_fix reply: as long as the helper may wait for a running cell, plus the fix and the trip, so a fix the helper applies is never reported as timed out. Computed: FIX_WAIT_S + TERMINATE_WAIT_S + FIX_REPLY_GRACE_S. Unit: s. */
export const FIX_REPLY_TIMEOUT_S = 663;
/** Bound on one Dask scheduler round trip, enforced on the Dask client's own event loop; past it the answer is timeout. The kernel's main thread never waits on the scheduler. Unit: s. */
export const CLUSTER_QUERY_TIMEOUT_S = 2;
/** A cell's after reading of the cluster is taken this long after the cell ends, when the workers' heartbeats (every 0.5-1 s) are likely newer than the cell. Unit: s. */
export const CLUSTER_SETTLE_S = 1;
/** The after reading is re-read, while a persist() still computes or a worker's sample is older than the cell's end, until this long after the cell at most. Unit: s. */
export const CLUSTER_MAX_SETTLE_S = 3;
/** How long release_cluster polls the scheduler for the keys to be forgotten and every worker to report after that. Unit: s. */
export const CLUSTER_RELEASE_BOUND_S = 10;
/** How long scan_cluster waits for a running cell or scan to end before it refuses (refused). Unit: s. */
export const CLUSTER_WAIT_S = 30;
/** How long the walk of the namespace for Dask futures may run, in slices between which cells run; then it is cut short (walk.truncated). Unit: s. */
export const CLUSTER_WALK_BUDGET_S = 10;
/** What a front end adds to the helper's own waits for a scan_cluster or release_cluster reply: the scheduler round trips, a walk restarted after a cell, and the reply's trip. Unit: s. */
export const CLUSTER_REPLY_GRACE_S = 30;
/** How long a front end waits for a scan_cluster reply. Computed: CLUSTER_WAIT_S + CLUSTER_WALK_BUDGET_S + CLUSTER_REPLY_GRACE_S. Unit: s. */
export const CLUSTER_SCAN_REPLY_TIMEOUT_S = 70;
/** How long a front end waits for a release_cluster reply: the helper may wait FIX_WAIT_S for a running cell, like a fix. Computed: FIX_WAIT_S + CLUSTER_WALK_BUDGET_S + CLUSTER_RELEASE_BOUND_S + CLUSTER_REPLY_GRACE_S. Unit: s. */
export const CLUSTER_RELEASE_REPLY_TIMEOUT_S = 650;

/** Every PeakMethod, in the schema's order. */
export const PEAK_METHODS = ['vmhwm', 'ru_maxrss', 'none'] as const;

/** Every ErrorCode, in the schema's order. */
export const ERROR_CODES = [
  'protocol_mismatch',
  'bad_request',
  'unknown_request',
  'internal',
  'refused'
] as const;

/** Every CellStatus, in the schema's order. */
export const CELL_STATUSES = ['ok', 'error'] as const;

/** Every HolderKind, in the schema's order. */
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

/** Every ScanPhase, in the schema's order. */
export const SCAN_PHASES = ['roots', 'walk', 'attribute', 'paths'] as const;

/** Every ScanStopped, in the schema's order. */
export const SCAN_STOPPED = [
  'budget',
  'cancelled',
  'cell_ran',
  'interrupted'
] as const;

/** Every ResourceKind, in the schema's order. */
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

/** Every FixAction, in the schema's order. */
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
  'malloc_trim',
  'clear_log_buffer'
] as const;

/** Every GapAllocator, in the schema's order. */
export const GAP_ALLOCATORS = [
  'pymalloc',
  'glibc_heap',
  'glibc_arenas',
  'arrow_pool'
] as const;

/** Every LimitSource, in the schema's order. */
export const LIMIT_SOURCES = [
  'cgroup_v2',
  'cgroup_v1',
  'physical',
  'unknown'
] as const;

/** The default of every KernelConfig option. */
export const DEFAULT_CONFIG: Readonly<Required<IKernelConfig>> = {
  tracemalloc: false,
  leak_threshold_bytes: 1048576
};

/** The fields of a CellRecord, in the schema's order. */
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
  'growth',
  'cluster'
] as const;

/** Every ProfileBackend, in the schema's order. */
export const PROFILE_BACKENDS = ['tracemalloc', 'memray'] as const;

/** Every ProfileBackendChoice, in the schema's order. */
export const PROFILE_BACKEND_CHOICES = [
  'auto',
  'tracemalloc',
  'memray'
] as const;

/** Every ProfilePeakMode, in the schema's order. */
export const PROFILE_PEAK_MODES = [
  'exact',
  'line-start',
  'line-end',
  'stale',
  'none'
] as const;

/** Every ProfileScope, in the schema's order. */
export const PROFILE_SCOPES = ['cell', 'function'] as const;

/** The `type` of each KernelMessage, in the schema's order. */
export const KERNEL_MESSAGES = [
  'hello',
  'error',
  'cell_measured',
  'scan_progress',
  'reply',
  'cell_profile',
  'cell_cluster'
] as const;

/** A KernelMessage type. */
export type KernelMessageType = (typeof KERNEL_MESSAGES)[number];

/** The `type` of each RequestMessage, in the schema's order. */
export const REQUESTS = [
  'configure',
  'get_rss',
  'scan',
  'cancel',
  'apply_fix',
  'profile_next',
  'profile_cancel',
  'scan_cluster',
  'release_cluster'
] as const;

/** A RequestMessage type. */
export type RequestType = (typeof REQUESTS)[number];

/** Every HeldByKind, in the schema's order. */
export const HELD_BY_KINDS = ['library', 'kernel', 'external'] as const;

/** Every ScanEngine, in the schema's order. */
export const SCAN_ENGINES = ['native', 'python'] as const;

/** Every ClusterStatus, in the schema's order. */
export const CLUSTER_STATUSES = [
  'ok',
  'timeout',
  'overdue',
  'busy',
  'unavailable',
  'error'
] as const;

/** Every ClusterSuggestion, in the schema's order. */
export const CLUSTER_SUGGESTIONS = [
  'release',
  'output_cache',
  'redefine',
  'unattributed'
] as const;

// ---------------------------------------------------------------- requests

/** Request parameters by request type: the request without `type` and `request_id` (as in the debugger's `sendRequest`). */
export interface IRequests {
  configure: Omit<IConfigureRequest, 'type' | 'request_id'>;
  get_rss: Omit<IGetRssRequest, 'type' | 'request_id'>;
  scan: Omit<IScanRequest, 'type' | 'request_id'>;
  cancel: Omit<ICancelRequest, 'type' | 'request_id'>;
  apply_fix: Omit<IApplyFixRequest, 'type' | 'request_id'>;
  profile_next: Omit<IProfileNextRequest, 'type' | 'request_id'>;
  profile_cancel: Omit<IProfileCancelRequest, 'type' | 'request_id'>;
  scan_cluster: Omit<IScanClusterRequest, 'type' | 'request_id'>;
  release_cluster: Omit<IReleaseClusterRequest, 'type' | 'request_id'>;
}

/** Reply results by request type. */
export interface IResults {
  configure: IConfigureResult;
  get_rss: IGetRssResult;
  scan: IScanResult;
  cancel: ICancelResult;
  apply_fix: IFixResult;
  profile_next: IProfileNextResult;
  profile_cancel: IProfileCancelResult;
  scan_cluster: IScanClusterResult;
  release_cluster: IReleaseClusterResult;
}

/** Decode the `result` of an ok reply to a request of `type`; throws a DecodeError naming the path that failed. */
export function decodeResult<K extends RequestType>(
  type: K,
  value: unknown,
  options: IDecodeOptions = {}
): IResults[K] {
  const readers: { [T in RequestType]: Private.Reader<IResults[T]> } = {
    configure: Private.readConfigureResult,
    get_rss: Private.readGetRssResult,
    scan: Private.readScanResult,
    cancel: Private.readCancelResult,
    apply_fix: Private.readFixResult,
    profile_next: Private.readProfileNextResult,
    profile_cancel: Private.readProfileCancelResult,
    scan_cluster: Private.readScanClusterResult,
    release_cluster: Private.readReleaseClusterResult
  };
  return readers[type](
    value,
    options.path ?? `result(${type})`,
    options.onDrop ?? Private.ignore
  );
}

// ---------------------------------------------------------------- decoders

/** A value from the kernel without the shape protocol.json gives it. */
export class DecodeError extends Error {
  constructor(
    /** Where the value failed, e.g. `ScanResult.holders[3].kind`. */
    readonly path: string,
    /** What protocol.json asks for there. */
    readonly expected: string,
    /** What was there (`undefined`: the field is missing). */
    readonly actual: unknown,
    /**
     * Whether the value is a well-formed message type (or variant) this
     * version does not know: a newer MINOR may add some, so log and ignore it.
     */
    readonly unknownVariant = false
  ) {
    super(`${path}: expected ${expected}, got ${Private.show(actual)}`);
    this.name = 'DecodeError';
  }
}

/** Options of every decoder. */
export interface IDecodeOptions {
  /** The value's name in error messages; defaults to its definition's name. */
  path?: string;
  /**
   * Told about every array item left out instead of failing the whole value
   * (the arrays marked x-drop-invalid, and repeated ids of x-unique-by).
   */
  onDrop?: (error: DecodeError) => void;
}

/** Decode a `KernelConfig` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeKernelConfig(
  value: unknown,
  options: IDecodeOptions = {}
): IKernelConfig {
  return Private.readKernelConfig(
    value,
    options.path ?? 'KernelConfig',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `MemoryLimit` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeMemoryLimit(
  value: unknown,
  options: IDecodeOptions = {}
): IMemoryLimit {
  return Private.readMemoryLimit(
    value,
    options.path ?? 'MemoryLimit',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `Growth` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeGrowth(
  value: unknown,
  options: IDecodeOptions = {}
): IGrowth {
  return Private.readGrowth(
    value,
    options.path ?? 'Growth',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `CellRecord` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeCellRecord(
  value: unknown,
  options: IDecodeOptions = {}
): ICellRecord {
  return Private.readCellRecord(
    value,
    options.path ?? 'CellRecord',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `HelloMessage` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeHelloMessage(
  value: unknown,
  options: IDecodeOptions = {}
): IHelloMessage {
  return Private.readHelloMessage(
    value,
    options.path ?? 'HelloMessage',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ErrorMessage` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeErrorMessage(
  value: unknown,
  options: IDecodeOptions = {}
): IErrorMessage {
  return Private.readErrorMessage(
    value,
    options.path ?? 'ErrorMessage',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `CellMeasuredMessage` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeCellMeasuredMessage(
  value: unknown,
  options: IDecodeOptions = {}
): ICellMeasuredMessage {
  return Private.readCellMeasuredMessage(
    value,
    options.path ?? 'CellMeasuredMessage',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ProfileCell` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeProfileCell(
  value: unknown,
  options: IDecodeOptions = {}
): IProfileCell {
  return Private.readProfileCell(
    value,
    options.path ?? 'ProfileCell',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ProfileLine` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeProfileLine(
  value: unknown,
  options: IDecodeOptions = {}
): IProfileLine {
  return Private.readProfileLine(
    value,
    options.path ?? 'ProfileLine',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ProfileFrame` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeProfileFrame(
  value: unknown,
  options: IDecodeOptions = {}
): IProfileFrame {
  return Private.readProfileFrame(
    value,
    options.path ?? 'ProfileFrame',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ProfileStack` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeProfileStack(
  value: unknown,
  options: IDecodeOptions = {}
): IProfileStack {
  return Private.readProfileStack(
    value,
    options.path ?? 'ProfileStack',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ProfileTotals` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeProfileTotals(
  value: unknown,
  options: IDecodeOptions = {}
): IProfileTotals {
  return Private.readProfileTotals(
    value,
    options.path ?? 'ProfileTotals',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `Profile` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeProfile(
  value: unknown,
  options: IDecodeOptions = {}
): IProfile {
  return Private.readProfile(
    value,
    options.path ?? 'Profile',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `CellProfileMessage` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeCellProfileMessage(
  value: unknown,
  options: IDecodeOptions = {}
): ICellProfileMessage {
  return Private.readCellProfileMessage(
    value,
    options.path ?? 'CellProfileMessage',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ProfileNextResult` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeProfileNextResult(
  value: unknown,
  options: IDecodeOptions = {}
): IProfileNextResult {
  return Private.readProfileNextResult(
    value,
    options.path ?? 'ProfileNextResult',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ProfileCancelResult` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeProfileCancelResult(
  value: unknown,
  options: IDecodeOptions = {}
): IProfileCancelResult {
  return Private.readProfileCancelResult(
    value,
    options.path ?? 'ProfileCancelResult',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ScanProgressMessage` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeScanProgressMessage(
  value: unknown,
  options: IDecodeOptions = {}
): IScanProgressMessage {
  return Private.readScanProgressMessage(
    value,
    options.path ?? 'ScanProgressMessage',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `OkReply` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeOkReply(
  value: unknown,
  options: IDecodeOptions = {}
): IOkReply {
  return Private.readOkReply(
    value,
    options.path ?? 'OkReply',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ReplyError` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeReplyError(
  value: unknown,
  options: IDecodeOptions = {}
): IReplyError {
  return Private.readReplyError(
    value,
    options.path ?? 'ReplyError',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ErrorReply` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeErrorReply(
  value: unknown,
  options: IDecodeOptions = {}
): IErrorReply {
  return Private.readErrorReply(
    value,
    options.path ?? 'ErrorReply',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ReplyMessage` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeReplyMessage(
  value: unknown,
  options: IDecodeOptions = {}
): ReplyMessage {
  return Private.readReplyMessage(
    value,
    options.path ?? 'ReplyMessage',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `KernelMessage` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeKernelMessage(
  value: unknown,
  options: IDecodeOptions = {}
): KernelMessage {
  return Private.readKernelMessage(
    value,
    options.path ?? 'KernelMessage',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ConfigureResult` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeConfigureResult(
  value: unknown,
  options: IDecodeOptions = {}
): IConfigureResult {
  return Private.readConfigureResult(
    value,
    options.path ?? 'ConfigureResult',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `RunningCell` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeRunningCell(
  value: unknown,
  options: IDecodeOptions = {}
): IRunningCell {
  return Private.readRunningCell(
    value,
    options.path ?? 'RunningCell',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `GetRssResult` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeGetRssResult(
  value: unknown,
  options: IDecodeOptions = {}
): IGetRssResult {
  return Private.readGetRssResult(
    value,
    options.path ?? 'GetRssResult',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `HolderRoot` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeHolderRoot(
  value: unknown,
  options: IDecodeOptions = {}
): IHolderRoot {
  return Private.readHolderRoot(
    value,
    options.path ?? 'HolderRoot',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `CompositionPart` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeCompositionPart(
  value: unknown,
  options: IDecodeOptions = {}
): ICompositionPart {
  return Private.readCompositionPart(
    value,
    options.path ?? 'CompositionPart',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `HeldBy` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeHeldBy(
  value: unknown,
  options: IDecodeOptions = {}
): IHeldBy {
  return Private.readHeldBy(
    value,
    options.path ?? 'HeldBy',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `HeldElsewhere` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeHeldElsewhere(
  value: unknown,
  options: IDecodeOptions = {}
): IHeldElsewhere {
  return Private.readHeldElsewhere(
    value,
    options.path ?? 'HeldElsewhere',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `HolderBrief` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeHolderBrief(
  value: unknown,
  options: IDecodeOptions = {}
): IHolderBrief {
  return Private.readHolderBrief(
    value,
    options.path ?? 'HolderBrief',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `Holder` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeHolder(
  value: unknown,
  options: IDecodeOptions = {}
): IHolder {
  return Private.readHolder(
    value,
    options.path ?? 'Holder',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ScanSummary` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeScanSummary(
  value: unknown,
  options: IDecodeOptions = {}
): IScanSummary {
  return Private.readScanSummary(
    value,
    options.path ?? 'ScanSummary',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `Resource` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeResource(
  value: unknown,
  options: IDecodeOptions = {}
): IResource {
  return Private.readResource(
    value,
    options.path ?? 'Resource',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `CyclicGarbage` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeCyclicGarbage(
  value: unknown,
  options: IDecodeOptions = {}
): ICyclicGarbage {
  return Private.readCyclicGarbage(
    value,
    options.path ?? 'CyclicGarbage',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `AllocatorGapPart` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeAllocatorGapPart(
  value: unknown,
  options: IDecodeOptions = {}
): IAllocatorGapPart {
  return Private.readAllocatorGapPart(
    value,
    options.path ?? 'AllocatorGapPart',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `AllocatorGap` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeAllocatorGap(
  value: unknown,
  options: IDecodeOptions = {}
): IAllocatorGap {
  return Private.readAllocatorGap(
    value,
    options.path ?? 'AllocatorGap',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `Findings` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeFindings(
  value: unknown,
  options: IDecodeOptions = {}
): IFindings {
  return Private.readFindings(
    value,
    options.path ?? 'Findings',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `Suggestion` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeSuggestion(
  value: unknown,
  options: IDecodeOptions = {}
): ISuggestion {
  return Private.readSuggestion(
    value,
    options.path ?? 'Suggestion',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ScanResult` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeScanResult(
  value: unknown,
  options: IDecodeOptions = {}
): IScanResult {
  return Private.readScanResult(
    value,
    options.path ?? 'ScanResult',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `CancelResult` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeCancelResult(
  value: unknown,
  options: IDecodeOptions = {}
): ICancelResult {
  return Private.readCancelResult(
    value,
    options.path ?? 'CancelResult',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `FixResult` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeFixResult(
  value: unknown,
  options: IDecodeOptions = {}
): IFixResult {
  return Private.readFixResult(
    value,
    options.path ?? 'FixResult',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterMemory` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterMemory(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterMemory {
  return Private.readClusterMemory(
    value,
    options.path ?? 'ClusterMemory',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterTotals` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterTotals(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterTotals {
  return Private.readClusterTotals(
    value,
    options.path ?? 'ClusterTotals',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterWorker` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterWorker(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterWorker {
  return Private.readClusterWorker(
    value,
    options.path ?? 'ClusterWorker',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterCellKeys` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterCellKeys(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterCellKeys {
  return Private.readClusterCellKeys(
    value,
    options.path ?? 'ClusterCellKeys',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterCellWorker` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterCellWorker(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterCellWorker {
  return Private.readClusterCellWorker(
    value,
    options.path ?? 'ClusterCellWorker',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterCellEntry` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterCellEntry(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterCellEntry {
  return Private.readClusterCellEntry(
    value,
    options.path ?? 'ClusterCellEntry',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `CellCluster` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeCellCluster(
  value: unknown,
  options: IDecodeOptions = {}
): ICellCluster {
  return Private.readCellCluster(
    value,
    options.path ?? 'CellCluster',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `CellClusterMessage` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeCellClusterMessage(
  value: unknown,
  options: IDecodeOptions = {}
): ICellClusterMessage {
  return Private.readCellClusterMessage(
    value,
    options.path ?? 'CellClusterMessage',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterKeyStatus` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterKeyStatus(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterKeyStatus {
  return Private.readClusterKeyStatus(
    value,
    options.path ?? 'ClusterKeyStatus',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterHolderWorker` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterHolderWorker(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterHolderWorker {
  return Private.readClusterHolderWorker(
    value,
    options.path ?? 'ClusterHolderWorker',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterHolder` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterHolder(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterHolder {
  return Private.readClusterHolder(
    value,
    options.path ?? 'ClusterHolder',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterWalk` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterWalk(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterWalk {
  return Private.readClusterWalk(
    value,
    options.path ?? 'ClusterWalk',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterSection` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterSection(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterSection {
  return Private.readClusterSection(
    value,
    options.path ?? 'ClusterSection',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ScanClusterResult` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeScanClusterResult(
  value: unknown,
  options: IDecodeOptions = {}
): IScanClusterResult {
  return Private.readScanClusterResult(
    value,
    options.path ?? 'ScanClusterResult',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterFreed` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterFreed(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterFreed {
  return Private.readClusterFreed(
    value,
    options.path ?? 'ClusterFreed',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ClusterFreedWorker` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeClusterFreedWorker(
  value: unknown,
  options: IDecodeOptions = {}
): IClusterFreedWorker {
  return Private.readClusterFreedWorker(
    value,
    options.path ?? 'ClusterFreedWorker',
    options.onDrop ?? Private.ignore
  );
}

/** Decode a `ReleaseClusterResult` from untrusted JSON; throws a DecodeError naming the path that failed. */
export function decodeReleaseClusterResult(
  value: unknown,
  options: IDecodeOptions = {}
): IReleaseClusterResult {
  return Private.readReleaseClusterResult(
    value,
    options.path ?? 'ReleaseClusterResult',
    options.onDrop ?? Private.ignore
  );
}

namespace Private {
  /** Reads one value at `path`, or throws a DecodeError. */
  export type Reader<T> = (value: unknown, path: string, drop: Drop) => T;
  export type Drop = (error: DecodeError) => void;

  /** A reader for each field; optional fields (and only they) may read `undefined`. */
  type Fields<T> = {
    [K in keyof T]-?: object extends Pick<T, K>
      ? Reader<T[K] | undefined>
      : Reader<T[K]>;
  };

  interface ILimits {
    integer?: boolean;
    minimum?: number;
    maximum?: number;
    exclusiveMinimum?: number;
    minLength?: number;
    maxLength?: number;
    pattern?: RegExp;
    minItems?: number;
    maxItems?: number;
    dropInvalid?: boolean;
    uniqueBy?: string;
  }

  export function ignore(): void {
    // Dropped items are left out without a word unless the caller listens.
  }

  /** A short description of a JSON value for an error message. */
  export function show(value: unknown): string {
    if (value === undefined) {
      return 'nothing (missing)';
    }
    if (typeof value === 'string') {
      return JSON.stringify(
        value.length > 40 ? value.slice(0, 39) + '…' : value
      );
    }
    if (Array.isArray(value)) {
      return `an array of ${value.length}`;
    }
    if (typeof value === 'object' && value !== null) {
      return 'an object';
    }
    return String(value);
  }

  export function expectation(what: string, limits: ILimits): string {
    const words: [keyof ILimits, string][] = [
      ['exclusiveMinimum', '>'],
      ['minimum', '≥'],
      ['maximum', '≤'],
      ['minLength', 'of at least % characters'],
      ['maxLength', 'of at most % characters'],
      ['pattern', 'matching'],
      ['minItems', 'of at least % items'],
      ['maxItems', 'of at most % items']
    ];
    const parts = words
      .filter(([key]) => limits[key] !== undefined)
      .map(([key, word]) =>
        word.includes('%')
          ? word.replace('%', String(limits[key]))
          : `${word} ${limits[key]}`
      );
    return [what, ...parts].join(' ');
  }

  export function check(
    ok: boolean,
    path: string,
    expected: () => string,
    value: unknown
  ): void {
    if (!ok) {
      throw new DecodeError(path, expected(), value);
    }
  }

  export function string(limits: ILimits = {}): Reader<string> {
    return (value, path) => {
      check(
        typeof value === 'string' &&
          !(
            limits.minLength !== undefined && value.length < limits.minLength
          ) &&
          !(
            limits.maxLength !== undefined && value.length > limits.maxLength
          ) &&
          !(limits.pattern !== undefined && !limits.pattern.test(value)),
        path,
        () => expectation('a string', limits),
        value
      );
      return value as string;
    };
  }

  export function number(limits: ILimits = {}): Reader<number> {
    return (value, path) => {
      check(
        typeof value === 'number' &&
          Number.isFinite(value) &&
          !(limits.integer === true && !Number.isInteger(value)) &&
          !(limits.minimum !== undefined && value < limits.minimum) &&
          !(limits.maximum !== undefined && value > limits.maximum) &&
          !(
            limits.exclusiveMinimum !== undefined &&
            value <= limits.exclusiveMinimum
          ),
        path,
        () =>
          expectation(
            limits.integer === true ? 'an integer' : 'a number',
            limits
          ),
        value
      );
      return value as number;
    };
  }

  export const boolean: Reader<boolean> = (value, path) => {
    check(typeof value === 'boolean', path, () => 'true or false', value);
    return value as boolean;
  };

  export function literal<T extends string | boolean>(expected: T): Reader<T> {
    return (value, path) => {
      check(value === expected, path, () => JSON.stringify(expected), value);
      return expected;
    };
  }

  export function member<T extends string>(values: readonly T[]): Reader<T> {
    return (value, path) => {
      check(values.includes(value as T), path, () => oneOf(values), value);
      return value as T;
    };
  }

  export function oneOf(values: readonly unknown[]): string {
    return `one of ${values.map(v => JSON.stringify(v)).join(', ')}`;
  }

  export function nullable<T>(read: Reader<T>): Reader<T | null> {
    return (value, path, drop) => {
      if (value === null) {
        return null;
      }
      try {
        return read(value, path, drop);
      } catch (error) {
        if (error instanceof DecodeError && error.path === path) {
          throw new DecodeError(path, `null or ${error.expected}`, value);
        }
        throw error;
      }
    };
  }

  export function optional<T>(read: Reader<T>): Reader<T | undefined> {
    return (value, path, drop) =>
      value === undefined ? undefined : read(value, path, drop);
  }

  export const record: Reader<Record<string, unknown>> = (value, path) => {
    check(
      typeof value === 'object' && value !== null && !Array.isArray(value),
      path,
      () => 'an object',
      value
    );
    return value as Record<string, unknown>;
  };

  /** An object with `fields`; a copy of them (fields it does not know are left out). */
  export function object<T>(fields: Fields<T>): Reader<T> {
    const entries = Object.entries(fields) as [string, Reader<unknown>][];
    return (value, path, drop) => {
      const o = record(value, path, drop);
      const out: Record<string, unknown> = {};
      for (const [key, read] of entries) {
        const field = read(o[key], `${path}.${key}`, drop);
        if (field !== undefined) {
          out[key] = field;
        }
      }
      return out as T;
    };
  }

  /**
   * One of several objects, told apart by the value of `key`. In an `open`
   * union (message types), a string nobody knows is a newer MINOR's.
   */
  export function variants<T>(
    key: string,
    cases: Record<string, Reader<T>>,
    open = false
  ): Reader<T> {
    return (value, path, drop) => {
      const o = record(value, path, drop);
      const tag = o[key];
      const read =
        (typeof tag === 'string' || typeof tag === 'boolean') &&
        Object.prototype.hasOwnProperty.call(cases, String(tag))
          ? cases[String(tag)]
          : undefined;
      if (read === undefined) {
        throw new DecodeError(
          `${path}.${key}`,
          oneOf(Object.keys(cases)),
          tag,
          open && typeof tag === 'string'
        );
      }
      return read(o, path, drop);
    };
  }

  export function array<T>(read: Reader<T>, limits: ILimits = {}): Reader<T[]> {
    return (value, path, drop) => {
      check(
        Array.isArray(value) &&
          !(limits.minItems !== undefined && value.length < limits.minItems) &&
          !(limits.maxItems !== undefined && value.length > limits.maxItems),
        path,
        () => expectation('an array', limits),
        value
      );
      const out: T[] = [];
      const seen = new Set<unknown>();
      (value as unknown[]).forEach((item, i) => {
        const at = `${path}[${i}]`;
        try {
          const decoded = read(item, at, drop);
          if (limits.uniqueBy !== undefined) {
            const id = (decoded as Record<string, unknown>)[limits.uniqueBy];
            check(
              !seen.has(id),
              `${at}.${limits.uniqueBy}`,
              () => 'an id not used before in this list',
              id
            );
            seen.add(id);
          }
          out.push(decoded);
        } catch (error) {
          if (limits.dropInvalid !== true || !(error instanceof DecodeError)) {
            throw error;
          }
          drop(error);
        }
      });
      return out;
    };
  }

  // ------------------------------------------------------------ readers

  export const readPeakMethod: Reader<PeakMethod> = member(PEAK_METHODS);

  export const readErrorCode: Reader<ErrorCode> = member(ERROR_CODES);

  export const readCellStatus: Reader<CellStatus> = member(CELL_STATUSES);

  export const readHolderKind: Reader<HolderKind> = member(HOLDER_KINDS);

  export const readScanPhase: Reader<ScanPhase> = member(SCAN_PHASES);

  export const readScanStopped: Reader<ScanStopped> = member(SCAN_STOPPED);

  export const readResourceKind: Reader<ResourceKind> = member(RESOURCE_KINDS);

  export const readFixAction: Reader<FixAction> = member(FIX_ACTIONS);

  export const readGapAllocator: Reader<GapAllocator> = member(GAP_ALLOCATORS);

  export const readLimitSource: Reader<LimitSource> = member(LIMIT_SOURCES);

  export const readProtocolVersion: Reader<ProtocolVersion> = string({
    maxLength: 128,
    pattern: /^[0-9]+\.[0-9]+$/
  });

  export const readRequestId: Reader<RequestId> = string({ maxLength: 128 });

  export const readCellId: Reader<CellId> = nullable(
    string({ maxLength: 128 })
  );

  export const readKernelConfig: Reader<IKernelConfig> = object<IKernelConfig>({
    tracemalloc: boolean,
    leak_threshold_bytes: optional(number({ integer: true, minimum: 0 }))
  });

  export const readMemoryLimit: Reader<IMemoryLimit> = object<IMemoryLimit>({
    bytes: nullable(number({ integer: true, minimum: 0 })),
    source: readLimitSource
  });

  export const readGrowth: Reader<IGrowth> = object<IGrowth>({
    runs: number({ integer: true, minimum: 2, maximum: 64 }),
    growth_per_run_bytes: number({ integer: true, minimum: 1 }),
    flagged: boolean,
    what_grew: array(string(), { maxItems: 8 })
  });

  export const readClusterStatus: Reader<ClusterStatus> =
    member(CLUSTER_STATUSES);

  export const readClusterCellKeys: Reader<IClusterCellKeys> =
    object<IClusterCellKeys>({
      added: number({ integer: true, minimum: 0 }),
      removed: number({ integer: true, minimum: 0 }),
      bytes_added: number({ integer: true, minimum: 0 }),
      bytes_removed: number({ integer: true, minimum: 0 }),
      pending_keys: number({ integer: true, minimum: 0 }),
      removed_unknown: number({ integer: true, minimum: 0 })
    });

  export const readClusterTotals: Reader<IClusterTotals> =
    object<IClusterTotals>({
      memory: number({ integer: true, minimum: 0 }),
      managed: number({ integer: true, minimum: 0 }),
      spilled: number({ integer: true, minimum: 0 }),
      unmanaged: number({ integer: true, minimum: 0 }),
      memory_limit: nullable(number({ integer: true, minimum: 0 })),
      workers: number({ integer: true, minimum: 0 }),
      busy_tasks: number({ integer: true, minimum: 0 })
    });

  export const readClusterMemory: Reader<IClusterMemory> =
    object<IClusterMemory>({
      memory: number({ integer: true, minimum: 0 }),
      managed: number({ integer: true, minimum: 0 }),
      spilled: number({ integer: true, minimum: 0 }),
      unmanaged: number({ integer: true, minimum: 0 })
    });

  export const readClusterCellWorker: Reader<IClusterCellWorker> =
    object<IClusterCellWorker>({
      address: string(),
      name: string(),
      memory_limit: nullable(number({ integer: true, minimum: 0 })),
      before: nullable(readClusterMemory),
      after: nullable(readClusterMemory)
    });

  export const readClusterCellEntry: Reader<IClusterCellEntry> =
    object<IClusterCellEntry>({
      scheduler: string(),
      status: readClusterStatus,
      error: nullable(string()),
      delta_bytes: nullable(number({ integer: true })),
      keys: nullable(readClusterCellKeys),
      before: nullable(readClusterTotals),
      before_age_s: nullable(number()),
      after: nullable(readClusterTotals),
      settled: nullable(boolean),
      round_trip_ms: nullable(number({ minimum: 0 })),
      workers: array(readClusterCellWorker, { uniqueBy: 'address' })
    });

  export const readCellCluster: Reader<ICellCluster> = object<ICellCluster>({
    pending: boolean,
    delta_bytes: nullable(number({ integer: true })),
    clusters: array(readClusterCellEntry, { uniqueBy: 'scheduler' })
  });

  export const readCellRecord: Reader<ICellRecord> = object<ICellRecord>({
    cell_id: readCellId,
    execution_count: number({ integer: true, minimum: 0 }),
    status: readCellStatus,
    started_at: number({ minimum: 0 }),
    duration_s: number({ minimum: 0 }),
    rss_before: number({ integer: true, minimum: 0 }),
    rss_after: number({ integer: true, minimum: 0 }),
    rss_delta: number({ integer: true }),
    peak_rss: number({ integer: true, minimum: 0 }),
    peak_increase: number({ integer: true, minimum: 0 }),
    peak_method: readPeakMethod,
    gc_collections: number({ integer: true, minimum: 0 }),
    py_heap_delta: nullable(number({ integer: true })),
    py_heap_peak: nullable(number({ integer: true, minimum: 0 })),
    growth: optional(nullable(readGrowth)),
    cluster: optional(nullable(readCellCluster))
  });

  export const readHelloMessage: Reader<IHelloMessage> = object<IHelloMessage>({
    type: literal('hello'),
    protocol_version: readProtocolVersion,
    helper_version: string(),
    peak_method: readPeakMethod,
    peak_exact: boolean,
    python: string(),
    platform: string(),
    pid: number({ integer: true, minimum: 0 }),
    rss: number({ integer: true, minimum: 0 }),
    config: readKernelConfig,
    records: array(readCellRecord, { maxItems: 2000, dropInvalid: true }),
    memory_limit: optional(readMemoryLimit),
    malloc_trim: optional(boolean)
  });

  export const readErrorMessage: Reader<IErrorMessage> = object<IErrorMessage>({
    type: literal('error'),
    code: readErrorCode,
    message: string(),
    protocol_version: optional(readProtocolVersion)
  });

  export const readCellMeasuredMessage: Reader<ICellMeasuredMessage> =
    object<ICellMeasuredMessage>({
      type: literal('cell_measured'),
      record: readCellRecord
    });

  export const readProfileBackend: Reader<ProfileBackend> =
    member(PROFILE_BACKENDS);

  export const readProfilePeakMode: Reader<ProfilePeakMode> =
    member(PROFILE_PEAK_MODES);

  export const readProfileScope: Reader<ProfileScope> = member(PROFILE_SCOPES);

  export const readProfileCell: Reader<IProfileCell> = object<IProfileCell>({
    cell_id: readCellId,
    execution_count: nullable(number({ integer: true, minimum: 0 }))
  });

  export const readProfileLine: Reader<IProfileLine> = object<IProfileLine>({
    cell_id: readCellId,
    execution_count: nullable(number({ integer: true, minimum: 0 })),
    line: number({ integer: true, minimum: 0 }),
    source: string(),
    scope: readProfileScope,
    net_bytes: number({ integer: true }),
    peak_bytes: number({ integer: true }),
    net_blocks: number({ integer: true }),
    peak_blocks: number({ integer: true }),
    holders: array(string())
  });

  export const readProfileFrame: Reader<IProfileFrame> = object<IProfileFrame>({
    label: string(),
    file: string(),
    line: number({ integer: true, minimum: 0 }),
    function: string(),
    cell_id: readCellId,
    execution_count: nullable(number({ integer: true, minimum: 0 }))
  });

  export const readProfileStack: Reader<IProfileStack> = object<IProfileStack>({
    frames: array(readProfileFrame, { minItems: 1 }),
    peak_bytes: number({ integer: true }),
    peak_blocks: number({ integer: true })
  });

  export const readProfileTotals: Reader<IProfileTotals> =
    object<IProfileTotals>({
      peak_bytes: number({ integer: true }),
      peak_view_bytes: number({ integer: true }),
      net_bytes: number({ integer: true }),
      outside_net_bytes: number({ integer: true }),
      outside_peak_bytes: number({ integer: true }),
      unattributed_net_bytes: number({ integer: true }),
      unattributed_peak_bytes: number({ integer: true })
    });

  export const readProfile: Reader<IProfile> = object<IProfile>({
    backend: readProfileBackend,
    cell: readProfileCell,
    peak_mode: readProfilePeakMode,
    totals: readProfileTotals,
    lines: array(readProfileLine),
    stacks: array(readProfileStack),
    elapsed_s: number({ minimum: 0 }),
    overhead_s: number({ minimum: 0 }),
    note: string(),
    error: string()
  });

  export const readCellProfileMessage: Reader<ICellProfileMessage> =
    object<ICellProfileMessage>({
      type: literal('cell_profile'),
      cell_id: readCellId,
      execution_count: nullable(number({ integer: true, minimum: 0 })),
      profile: readProfile
    });

  export const readProfileNextResult: Reader<IProfileNextResult> =
    object<IProfileNextResult>({
      cell_id: string(),
      backend: readProfileBackend
    });

  export const readProfileCancelResult: Reader<IProfileCancelResult> =
    object<IProfileCancelResult>({
      cell_id: string(),
      cancelled: boolean
    });

  export const readScanProgressMessage: Reader<IScanProgressMessage> =
    object<IScanProgressMessage>({
      type: literal('scan_progress'),
      request_id: readRequestId,
      phase: readScanPhase,
      objects_visited: number({ integer: true, minimum: 0 }),
      elapsed_s: number({ minimum: 0 })
    });

  export const readOkReply: Reader<IOkReply> = object<IOkReply>({
    type: literal('reply'),
    request_id: readRequestId,
    ok: literal(true),
    result: record
  });

  export const readReplyError: Reader<IReplyError> = object<IReplyError>({
    code: readErrorCode,
    message: string()
  });

  export const readErrorReply: Reader<IErrorReply> = object<IErrorReply>({
    type: literal('reply'),
    request_id: nullable(readRequestId),
    ok: literal(false),
    error: readReplyError
  });

  export const readReplyMessage: Reader<ReplyMessage> = variants<ReplyMessage>(
    'ok',
    {
      true: readOkReply,
      false: readErrorReply
    }
  );

  export const readCellClusterMessage: Reader<ICellClusterMessage> =
    object<ICellClusterMessage>({
      type: literal('cell_cluster'),
      execution_count: number({ integer: true, minimum: 0 }),
      cell_id: readCellId,
      cluster: readCellCluster
    });

  export const readKernelMessage: Reader<KernelMessage> =
    variants<KernelMessage>(
      'type',
      {
        hello: readHelloMessage,
        error: readErrorMessage,
        cell_measured: readCellMeasuredMessage,
        scan_progress: readScanProgressMessage,
        reply: readReplyMessage,
        cell_profile: readCellProfileMessage,
        cell_cluster: readCellClusterMessage
      },
      true
    );

  export const readConfigureResult: Reader<IConfigureResult> =
    object<IConfigureResult>({
      config: readKernelConfig
    });

  export const readRunningCell: Reader<IRunningCell> = object<IRunningCell>({
    cell_id: readCellId,
    execution_count: nullable(number({ integer: true, minimum: 0 })),
    started_at: number({ minimum: 0 }),
    rss_before: number({ integer: true, minimum: 0 })
  });

  export const readGetRssResult: Reader<IGetRssResult> = object<IGetRssResult>({
    rss: number({ integer: true, minimum: 0 }),
    peak_rss: number({ integer: true, minimum: 0 }),
    time: optional(number({ minimum: 0 })),
    memory_limit: optional(readMemoryLimit),
    running: optional(nullable(readRunningCell))
  });

  export const readHolderRoot: Reader<IHolderRoot> = object<IHolderRoot>({
    label: string(),
    kind: readHolderKind
  });

  export const readCompositionPart: Reader<ICompositionPart> =
    object<ICompositionPart>({
      type: string(),
      bytes: number({ integer: true, minimum: 0 }),
      count: number({ integer: true, minimum: 0 })
    });

  export const readHeldByKind: Reader<HeldByKind> = member(HELD_BY_KINDS);

  export const readScanEngine: Reader<ScanEngine> = member(SCAN_ENGINES);

  export const readHeldBy: Reader<IHeldBy> = object<IHeldBy>({
    kind: readHeldByKind,
    name: string(),
    path: nullable(string())
  });

  export const readHeldElsewhere: Reader<IHeldElsewhere> =
    object<IHeldElsewhere>({
      held_by: array(string()),
      bytes: number({ integer: true, minimum: 0 }),
      objects: number({ integer: true, minimum: 0 })
    });

  export const readHolderBrief: Reader<IHolderBrief> = object<IHolderBrief>({
    labels: array(string(), { minItems: 1 }),
    type: string(),
    retained_bytes: number({ integer: true, minimum: 0 }),
    objects: number({ integer: true, minimum: 0 })
  });

  export const readHolder: Reader<IHolder> = object<IHolder>({
    id: string({ minLength: 1 }),
    labels: array(string(), { minItems: 1 }),
    kind: readHolderKind,
    roots: array(readHolderRoot, { minItems: 1 }),
    type: string(),
    retained_bytes: number({ integer: true, minimum: 0 }),
    objects: number({ integer: true, minimum: 0 }),
    path: string(),
    cell_id: readCellId,
    execution_count: nullable(number({ integer: true, minimum: 0 })),
    composition: array(readCompositionPart, { maxItems: 5 }),
    shared: boolean,
    device: nullable(string()),
    file_backed: boolean,
    also_held_by: optional(array(readHeldBy, { maxItems: 8 })),
    freeable: optional(boolean)
  });

  export const readScanSummary: Reader<IScanSummary> = object<IScanSummary>({
    duration_s: number({ minimum: 0 }),
    objects_visited: number({ integer: true, minimum: 0 }),
    complete: boolean,
    stopped: nullable(readScanStopped),
    engine: optional(readScanEngine),
    peak_extra_bytes: optional(nullable(number({ integer: true, minimum: 0 }))),
    left_behind_bytes: optional(nullable(number({ integer: true })))
  });

  export const readResource: Reader<IResource> = object<IResource>({
    id: string({ minLength: 1 }),
    kind: readResourceKind,
    label: string(),
    detail: string({ maxLength: 200 }),
    held_by: array(string(), { maxItems: 8 }),
    cell_id: readCellId,
    execution_count: nullable(number({ integer: true, minimum: 0 })),
    note: nullable(string())
  });

  export const readCyclicGarbage: Reader<ICyclicGarbage> =
    object<ICyclicGarbage>({
      objects: number({ integer: true, minimum: 0 }),
      bytes: number({ integer: true, minimum: 0 })
    });

  export const readAllocatorGapPart: Reader<IAllocatorGapPart> =
    object<IAllocatorGapPart>({
      allocator: readGapAllocator,
      bytes: number({ integer: true, minimum: 0 }),
      returnable: boolean
    });

  export const readAllocatorGap: Reader<IAllocatorGap> = object<IAllocatorGap>({
    bytes: nullable(number({ integer: true, minimum: 0 })),
    malloc_trim: boolean,
    parts: optional(array(readAllocatorGapPart, { uniqueBy: 'allocator' }))
  });

  export const readFindings: Reader<IFindings> = object<IFindings>({
    open_fds: nullable(number({ integer: true, minimum: 0 })),
    threads: nullable(number({ integer: true, minimum: 0 })),
    children: nullable(number({ integer: true, minimum: 0 })),
    cyclic_garbage: nullable(readCyclicGarbage),
    allocator_gap: nullable(readAllocatorGap)
  });

  export const readSuggestion: Reader<ISuggestion> = object<ISuggestion>({
    id: string({ minLength: 1, maxLength: 128 }),
    action: readFixAction,
    targets: array(string({ maxLength: 1000 }), { maxItems: 1000 }),
    code: string(),
    estimated_freed_bytes: nullable(number({ integer: true, minimum: 0 })),
    reason: string(),
    destructive: boolean,
    holder_id: nullable(string()),
    resource_id: nullable(string())
  });

  export const readScanResult: Reader<IScanResult> = object<IScanResult>({
    scan: readScanSummary,
    rss: number({ integer: true, minimum: 0 }),
    attributed_bytes: number({ integer: true, minimum: 0 }),
    unattributed_bytes: number({ integer: true, minimum: 0 }),
    freeable_bytes: optional(number({ integer: true, minimum: 0 })),
    held_elsewhere: optional(array(readHeldElsewhere, { maxItems: 20 })),
    held_elsewhere_bytes: optional(number({ integer: true, minimum: 0 })),
    holders_total: optional(number({ integer: true, minimum: 0 })),
    holder_index: optional(array(readHolderBrief, { maxItems: 100000 })),
    holders: array(readHolder, { dropInvalid: true, uniqueBy: 'id' }),
    resources: optional(
      array(readResource, { dropInvalid: true, uniqueBy: 'id' })
    ),
    findings: optional(readFindings),
    suggestions: optional(
      array(readSuggestion, { dropInvalid: true, uniqueBy: 'id' })
    )
  });

  export const readCancelResult: Reader<ICancelResult> = object<ICancelResult>({
    cancelled: boolean
  });

  export const readFixResult: Reader<IFixResult> = object<IFixResult>({
    suggestion_id: string({ minLength: 1 }),
    action: readFixAction,
    estimated_freed_bytes: nullable(number({ integer: true, minimum: 0 })),
    measured_freed_bytes: number({ integer: true, minimum: 0 }),
    freed_in_process_bytes: optional(
      nullable(number({ integer: true, minimum: 0 }))
    ),
    returned_to_os_bytes: optional(number({ integer: true, minimum: 0 })),
    already_done: optional(array(string())),
    rss_before: number({ integer: true, minimum: 0 }),
    rss_after: number({ integer: true, minimum: 0 }),
    explanation: nullable(string())
  });

  export const readClusterSuggestion: Reader<ClusterSuggestion> =
    member(CLUSTER_SUGGESTIONS);

  export const readClusterWorker: Reader<IClusterWorker> =
    object<IClusterWorker>({
      address: string(),
      name: string(),
      memory: number({ integer: true, minimum: 0 }),
      managed: number({ integer: true, minimum: 0 }),
      spilled: number({ integer: true, minimum: 0 }),
      unmanaged: number({ integer: true, minimum: 0 }),
      memory_limit: nullable(number({ integer: true, minimum: 0 })),
      age_s: nullable(number()),
      busy_tasks: number({ integer: true, minimum: 0 }),
      in_kernel: boolean
    });

  export const readClusterKeyStatus: Reader<IClusterKeyStatus> =
    object<IClusterKeyStatus>({
      pending: number({ integer: true, minimum: 0 }),
      finished: number({ integer: true, minimum: 0 }),
      cancelled: number({ integer: true, minimum: 0 }),
      lost: number({ integer: true, minimum: 0 }),
      error: number({ integer: true, minimum: 0 }),
      unknown: number({ integer: true, minimum: 0 })
    });

  export const readClusterHolderWorker: Reader<IClusterHolderWorker> =
    object<IClusterHolderWorker>({
      address: string(),
      name: string(),
      bytes: number({ integer: true, minimum: 0 }),
      keys: number({ integer: true, minimum: 0 }),
      spilled: nullable(number({ integer: true, minimum: 0 }))
    });

  export const readClusterHolder: Reader<IClusterHolder> =
    object<IClusterHolder>({
      labels: array(string()),
      kinds: array(readHolderKind),
      keys: number({ integer: true, minimum: 0 }),
      bytes: nullable(number({ integer: true, minimum: 0 })),
      worker_bytes: nullable(number({ integer: true, minimum: 0 })),
      pending_keys: nullable(number({ integer: true, minimum: 0 })),
      status: readClusterKeyStatus,
      spilled: nullable(number({ integer: true, minimum: 0 })),
      workers: array(readClusterHolderWorker, { uniqueBy: 'address' }),
      sample_keys: array(string(), { maxItems: 3 }),
      releasable: boolean,
      suggestion: readClusterSuggestion,
      note: nullable(string())
    });

  export const readClusterWalk: Reader<IClusterWalk> = object<IClusterWalk>({
    visited: number({ integer: true, minimum: 0 }),
    truncated: boolean,
    seconds: number({ minimum: 0 })
  });

  export const readClusterSection: Reader<IClusterSection> =
    object<IClusterSection>({
      scheduler: string(),
      status: readClusterStatus,
      error: nullable(string()),
      workers: array(readClusterWorker, { uniqueBy: 'address' }),
      total: nullable(readClusterTotals),
      holders: array(readClusterHolder),
      round_trip_ms: nullable(number({ minimum: 0 }))
    });

  export const readScanClusterResult: Reader<IScanClusterResult> =
    object<IScanClusterResult>({
      clusters: array(readClusterSection),
      walk: nullable(readClusterWalk)
    });

  export const readClusterFreed: Reader<IClusterFreed> = object<IClusterFreed>({
    memory: number({ integer: true }),
    managed: number({ integer: true }),
    spilled: number({ integer: true }),
    unmanaged: number({ integer: true })
  });

  export const readClusterFreedWorker: Reader<IClusterFreedWorker> =
    object<IClusterFreedWorker>({
      address: string(),
      name: string(),
      freed_memory: number({ integer: true }),
      freed_managed: number({ integer: true }),
      freed_spilled: number({ integer: true }),
      freed_unmanaged: number({ integer: true })
    });

  export const readReleaseClusterResult: Reader<IReleaseClusterResult> =
    object<IReleaseClusterResult>({
      scheduler: string(),
      status: readClusterStatus,
      error: nullable(string()),
      deleted: array(string()),
      kept: array(string()),
      missing: array(array(string())),
      refused: array(array(string())),
      estimate_bytes: number({ integer: true, minimum: 0 }),
      keys: number({ integer: true, minimum: 0 }),
      released_keys: nullable(number({ integer: true, minimum: 0 })),
      still_held_keys: nullable(number({ integer: true, minimum: 0 })),
      freed: nullable(readClusterFreed),
      freed_bytes: nullable(number({ integer: true, minimum: 0 })),
      workers: array(readClusterFreedWorker, { uniqueBy: 'address' }),
      freed_on_workers: number({ integer: true, minimum: 0 }),
      seconds_to_forget: nullable(number({ minimum: 0 })),
      seconds_to_report: number({ minimum: 0 }),
      settled: boolean,
      polls: number({ integer: true, minimum: 0 })
    });
}
