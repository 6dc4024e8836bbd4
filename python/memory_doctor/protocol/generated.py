"""The Memory Doctor wire protocol 1.3: constants and the shapes of what the kernel sends.

GENERATED from protocol.json (sha256 043e33cb469e0ef7...) by
scripts/generate-protocol.js; do not edit. Regenerate with `jlpm build:protocol`.
The TypedDicts are the producer's view: every field is required, as a
1.3 helper sends it.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypedDict, Union

#: sha256 of the protocol.json this module was generated from (tests compare it).
SCHEMA_SHA256: Final = "043e33cb469e0ef740220cfa6eb0fd11d2a62e75005ec2c3e883c3a5bba08e04"

# ---------------------------------------------------------------- constants

#: MAJOR.MINOR, versioned separately from the package. A different MAJOR on either side is fatal; a
#: different MINOR only adds optional fields and message types.
PROTOCOL_VERSION: Final = "1.3"
#: The comm target the helper registers.
COMM_TARGET: Final = "memory_doctor"
#: The one execute request the front end sends (silent, store_history false) to load the helper.
BOOTSTRAP_CODE: Final = "%load_ext memory_doctor"
#: The command shown when the helper is missing from a kernel's environment.
PIP_INSTALL_HINT: Final = "%pip install jupyterlab-memory-doctor"
#: Largest request the helper parses, as compact JSON; a larger one is refused with bad_request.
#: Unit: bytes.
MAX_REQUEST_BYTES: Final = 65536
#: Longest request_id, cancel target, suggestion_id or cell_id on the wire. Unit: characters.
MAX_ID_CHARS: Final = 128
#: How many stacks at the peak a profile keeps whole (1.3); smaller ones are folded per cell line.
PROFILE_MAX_STACKS: Final = 60
#: Frames kept per profile stack (1.3): the outermost ones, an ellipsis, then the allocation site.
PROFILE_MAX_FRAMES: Final = 24
#: The execute request's metadata key under which a driver asks for a profile without a comm round
#: trip (1.3): {"memory_doctor": {"profile": "auto"}} (a ProfileBackendChoice).
PROFILE_METADATA_KEY: Final = "memory_doctor"
#: How many records the helper keeps and replays in hello.
MAX_REPLAY_RECORDS: Final = 2000
#: The scan budget when a scan request names none (also the panel's default setting). Unit: s.
DEFAULT_SCAN_BUDGET_S: Final = 5
#: The largest budget_s a scan request may ask for. Unit: s.
MAX_SCAN_BUDGET_S: Final = 600
#: How many of the largest holders a scan returns when the request names no max_holders.
DEFAULT_MAX_HOLDERS: Final = 500
#: The largest max_holders a scan request may ask for.
MAX_MAX_HOLDERS: Final = 10000
#: Work per scan slice on the kernel's event loop: a cell or a cancel waits at most this long for a
#: running scan. Unit: s.
SCAN_SLICE_S: Final = 0.05
#: Least time between two scan_progress messages of one scan (the first goes out at once). Unit: s.
SCAN_PROGRESS_INTERVAL_S: Final = 0.25
#: A scan runs at most budget_s + SCAN_OVERRUN_S; a scan queued behind a running cell waits at most
#: as long before it replies with stopped: cell_ran. A scan reply can therefore take 2 * (budget_s +
#: SCAN_OVERRUN_S) plus the result's assembly. Unit: s.
SCAN_OVERRUN_S: Final = 5
#: What a front end adds to 2 * (budget_s + SCAN_OVERRUN_S) before it gives up on a scan reply:
#: assembling the result, findings and suggestions, and the reply's trip. Unit: s.
SCAN_REPLY_GRACE_S: Final = 60
#: At most this many composition entries per holder.
COMPOSITION_TOP: Final = 5
#: At most this many holders past the max_holders cut in a scan's holder_index (1.3).
MAX_HOLDER_INDEX: Final = 100000
#: At most this many also_held_by entries per holder (1.3).
ALSO_HELD_BY_TOP: Final = 8
#: At most this many held_elsewhere entries per scan (1.3).
HELD_ELSEWHERE_TOP: Final = 20
#: At most this many root labels in a resource's held_by.
MAX_HELD_BY: Final = 8
#: A resource's detail is clipped to this length. Unit: characters.
MAX_RESOURCE_DETAIL_CHARS: Final = 200
#: Default of the configure option leak_threshold_bytes: the least rss_delta that counts as growth.
#: Unit: bytes.
DEFAULT_LEAK_THRESHOLD_BYTES: Final = 1048576
#: A record's growth is non-null from this many consecutive growing runs of its cell id on.
GROWTH_MIN_RUNS: Final = 2
#: growth.flagged is true from this many consecutive growing runs on.
LEAK_MIN_RUNS: Final = 3
#: Growth looks at the last this many runs of a cell id at most.
GROWTH_HISTORY_RUNS: Final = 64
#: At most this many labels in growth.what_grew.
GROWTH_MAX_LABELS: Final = 8
#: A variable is named in what_grew when its estimated size grew by at least this much. Unit: bytes.
GROWTH_MIN_VARIABLE_BYTES: Final = 65536
#: Time the helper may spend finding what grew after a watched run; what_grew is empty when it runs
#: out. Unit: s.
GROWTH_CENSUS_BUDGET_S: Final = 1
#: How long the helper waits for a running cell or scan to end before it applies a fix; after that
#: it refuses the fix (refused) and changes nothing. Unit: s.
FIX_WAIT_S: Final = 600
#: At most this many targets in a suggestion and in an apply_fix request.
MAX_FIX_TARGETS: Final = 1000
#: Longest target of a suggestion or an apply_fix request. Unit: characters.
MAX_FIX_TARGET_CHARS: Final = 1000
#: terminate_process waits this long for the child to exit before it kills it. Unit: s.
TERMINATE_WAIT_S: Final = 3
#: How long a front end waits for the reply to configure, get_rss or cancel. Unit: s.
REQUEST_TIMEOUT_S: Final = 10
#: What a front end adds to the helper's own waits before it gives up on an apply_fix reply: the fix
#: itself (gc.collect, closing) and the reply's trip. Unit: s.
FIX_REPLY_GRACE_S: Final = 60
#: How long a front end waits for an apply_fix reply: as long as the helper may wait for a running
#: cell, plus the fix and the trip, so a fix the helper applies is never reported as timed out.
#: Computed: FIX_WAIT_S + TERMINATE_WAIT_S + FIX_REPLY_GRACE_S. Unit: s.
FIX_REPLY_TIMEOUT_S: Final = 663
#: Bound on one Dask scheduler round trip, enforced on the Dask client's own event loop; past it the
#: answer is timeout. The kernel's main thread never waits on the scheduler. Unit: s.
CLUSTER_QUERY_TIMEOUT_S: Final = 2
#: A cell's after reading of the cluster is taken this long after the cell ends, when the workers'
#: heartbeats (every 0.5-1 s) are likely newer than the cell. Unit: s.
CLUSTER_SETTLE_S: Final = 1
#: The after reading is re-read, while a persist() still computes or a worker's sample is older than
#: the cell's end, until this long after the cell at most. Unit: s.
CLUSTER_MAX_SETTLE_S: Final = 3
#: How long release_cluster polls the scheduler for the keys to be forgotten and every worker to
#: report after that. Unit: s.
CLUSTER_RELEASE_BOUND_S: Final = 10
#: How long scan_cluster waits for a running cell or scan to end before it refuses (refused). Unit:
#: s.
CLUSTER_WAIT_S: Final = 30
#: How long the walk of the namespace for Dask futures may run, in slices between which cells run;
#: then it is cut short (walk.truncated). Unit: s.
CLUSTER_WALK_BUDGET_S: Final = 10
#: What a front end adds to the helper's own waits for a scan_cluster or release_cluster reply: the
#: scheduler round trips, a walk restarted after a cell, and the reply's trip. Unit: s.
CLUSTER_REPLY_GRACE_S: Final = 30
#: How long a front end waits for a scan_cluster reply. Computed: CLUSTER_WAIT_S +
#: CLUSTER_WALK_BUDGET_S + CLUSTER_REPLY_GRACE_S. Unit: s.
CLUSTER_SCAN_REPLY_TIMEOUT_S: Final = 70
#: How long a front end waits for a release_cluster reply: the helper may wait FIX_WAIT_S for a
#: running cell, like a fix. Computed: FIX_WAIT_S + CLUSTER_WALK_BUDGET_S + CLUSTER_RELEASE_BOUND_S
#: + CLUSTER_REPLY_GRACE_S. Unit: s.
CLUSTER_RELEASE_REPLY_TIMEOUT_S: Final = 650

# ---------------------------------------------------------------- enumerations

# How the peak was measured: vmhwm (Linux, exact), ru_maxrss (a lifetime high-water mark: exact only
# when the cell set a new high, else a lower bound) or none (max of before and after).
PeakMethod = Literal["vmhwm", "ru_maxrss", "none"]
PEAK_METHODS: Final[tuple[PeakMethod, ...]] = ("vmhwm", "ru_maxrss", "none")
PEAK_VMHWM: Final = "vmhwm"
PEAK_RU_MAXRSS: Final = "ru_maxrss"
PEAK_NONE: Final = "none"

# Error codes of error messages and failed replies. protocol_mismatch: the MAJOR versions differ or
# comm_open named none; bad_request: malformed request or invalid parameters; unknown_request: an
# unknown request type; internal: the helper failed (the kernel keeps working); refused (1.2):
# apply_fix would not act on what was scanned.
ErrorCode = Literal["protocol_mismatch", "bad_request", "unknown_request", "internal", "refused"]
ERROR_CODES: Final[tuple[ErrorCode, ...]] = (
    "protocol_mismatch",
    "bad_request",
    "unknown_request",
    "internal",
    "refused",
)
ERR_PROTOCOL_MISMATCH: Final = "protocol_mismatch"
ERR_BAD_REQUEST: Final = "bad_request"
ERR_UNKNOWN_REQUEST: Final = "unknown_request"
ERR_INTERNAL: Final = "internal"
ERR_REFUSED: Final = "refused"

# ok, or error when the cell raised.
CellStatus = Literal["ok", "error"]
CELL_STATUSES: Final[tuple[CellStatus, ...]] = ("ok", "error")

# Root kinds of a holder, in the order roots are enumerated.
HolderKind = Literal[
    "variable",
    "output_cache",
    "closure",
    "default_arg",
    "class_attribute",
    "cache",
    "traceback",
    "thread",
    "generator",
    "module",
]
HOLDER_KINDS: Final[tuple[HolderKind, ...]] = (
    "variable",
    "output_cache",
    "closure",
    "default_arg",
    "class_attribute",
    "cache",
    "traceback",
    "thread",
    "generator",
    "module",
)

# Scan phases reported by scan_progress.
ScanPhase = Literal["roots", "walk", "attribute", "paths"]
SCAN_PHASES: Final[tuple[ScanPhase, ...]] = ("roots", "walk", "attribute", "paths")

# Why a scan stopped early: its budget ran out, a cancel request, a cell ran between two slices (the
# heap changed), or an interrupt (SIGINT) arrived during a slice (interrupted, 1.3).
ScanStopped = Literal["budget", "cancelled", "cell_ran", "interrupted"]
SCAN_STOPPED: Final[tuple[ScanStopped, ...]] = ("budget", "cancelled", "cell_ran", "interrupted")
STOP_BUDGET: Final = "budget"
STOP_CANCELLED: Final = "cancelled"
STOP_CELL_RAN: Final = "cell_ran"
STOP_INTERRUPTED: Final = "interrupted"

# Kinds of resources a scan reports.
ResourceKind = Literal[
    "file",
    "socket",
    "db_connection",
    "thread",
    "process",
    "figure",
    "pool",
    "tempdir",
    "mmap",
    "h5py_file",
    "asyncio_task",
]
RESOURCE_KINDS: Final[tuple[ResourceKind, ...]] = (
    "file",
    "socket",
    "db_connection",
    "thread",
    "process",
    "figure",
    "pool",
    "tempdir",
    "mmap",
    "h5py_file",
    "asyncio_task",
)

# The fix operations apply_fix can run; nothing else is ever run.
FixAction = Literal[
    "delete_holder",
    "clear_traceback",
    "copy_view",
    "cache_clear",
    "clear_class_attribute",
    "close_resource",
    "terminate_process",
    "close_pool",
    "close_figures",
    "cancel_task",
    "reset_output_cache",
    "gc_collect",
    "malloc_trim",
    "clear_log_buffer",
]
FIX_ACTIONS: Final[tuple[FixAction, ...]] = (
    "delete_holder",
    "clear_traceback",
    "copy_view",
    "cache_clear",
    "clear_class_attribute",
    "close_resource",
    "terminate_process",
    "close_pool",
    "close_figures",
    "cancel_task",
    "reset_output_cache",
    "gc_collect",
    "malloc_trim",
    "clear_log_buffer",
)

# An allocator in allocator_gap.parts (1.3): pymalloc (Python's small-object arenas), glibc_heap
# (glibc's main heap), glibc_arenas (glibc's arenas of other threads), arrow_pool (Arrow's memory
# pool).
GapAllocator = Literal["pymalloc", "glibc_heap", "glibc_arenas", "arrow_pool"]
GAP_ALLOCATORS: Final[tuple[GapAllocator, ...]] = (
    "pymalloc",
    "glibc_heap",
    "glibc_arenas",
    "arrow_pool",
)

# Where memory_limit came from: cgroup_v2 (memory.max), cgroup_v1 (memory.limit_in_bytes), physical
# (the machine's RAM) or unknown (bytes is then null).
LimitSource = Literal["cgroup_v2", "cgroup_v1", "physical", "unknown"]
LIMIT_SOURCES: Final[tuple[LimitSource, ...]] = ("cgroup_v2", "cgroup_v1", "physical", "unknown")

# Which tracer profiled a run (1.3): memray sees every allocator (native ones too) and its peak is
# exact; tracemalloc sees Python's allocators and what reports to them (numpy's data), not other
# native allocations.
ProfileBackend = Literal["tracemalloc", "memray"]
PROFILE_BACKENDS: Final[tuple[ProfileBackend, ...]] = ("tracemalloc", "memray")

# What a profile request may ask for (1.3): auto is memray where it imports in the kernel, else
# tracemalloc.
ProfileBackendChoice = Literal["auto", "tracemalloc", "memray"]
PROFILE_BACKEND_CHOICES: Final[tuple[ProfileBackendChoice, ...]] = ("auto", "tracemalloc", "memray")

# How the at-peak figures were taken (1.3): exact (memray, or the tracemalloc peak fell between two
# lines); line-start / line-end (the peak fell inside one line: what that line held above its start
# / end is one transient block on it); stale (a lower bound: the view was taken below the peak, see
# note); none (no view at the peak: peak_bytes are 0).
ProfilePeakMode = Literal["exact", "line-start", "line-end", "stale", "none"]
PROFILE_PEAK_MODES: Final[tuple[ProfilePeakMode, ...]] = (
    "exact",
    "line-start",
    "line-end",
    "stale",
    "none",
)

# Whose line (1.3): cell, a line of the profiled cell (inclusive figures); function, a line of a
# notebook function defined in another cell (its own allocations only).
ProfileScope = Literal["cell", "function"]
PROFILE_SCOPES: Final[tuple[ProfileScope, ...]] = ("cell", "function")

# The type of each KernelMessage.
KernelMessageType = Literal[
    "hello",
    "error",
    "cell_measured",
    "scan_progress",
    "reply",
    "cell_profile",
    "cell_cluster",
]
KERNEL_MESSAGES: Final[tuple[KernelMessageType, ...]] = (
    "hello",
    "error",
    "cell_measured",
    "scan_progress",
    "reply",
    "cell_profile",
    "cell_cluster",
)
MSG_HELLO: Final = "hello"
MSG_ERROR: Final = "error"
MSG_CELL_MEASURED: Final = "cell_measured"
MSG_SCAN_PROGRESS: Final = "scan_progress"
MSG_REPLY: Final = "reply"
MSG_CELL_PROFILE: Final = "cell_profile"
MSG_CELL_CLUSTER: Final = "cell_cluster"

# The type of each RequestMessage.
RequestType = Literal[
    "configure",
    "get_rss",
    "scan",
    "cancel",
    "apply_fix",
    "profile_next",
    "profile_cancel",
    "scan_cluster",
    "release_cluster",
]
REQUESTS: Final[tuple[RequestType, ...]] = (
    "configure",
    "get_rss",
    "scan",
    "cancel",
    "apply_fix",
    "profile_next",
    "profile_cancel",
    "scan_cluster",
    "release_cluster",
)
REQ_CONFIGURE: Final = "configure"
REQ_GET_RSS: Final = "get_rss"
REQ_SCAN: Final = "scan"
REQ_CANCEL: Final = "cancel"
REQ_APPLY_FIX: Final = "apply_fix"
REQ_PROFILE_NEXT: Final = "profile_next"
REQ_PROFILE_CANCEL: Final = "profile_cancel"
REQ_SCAN_CLUSTER: Final = "scan_cluster"
REQ_RELEASE_CLUSTER: Final = "release_cluster"

# Who else holds memory (1.3): a library, the kernel's machinery, or references from outside Python.
HeldByKind = Literal["library", "kernel", "external"]
HELD_BY_KINDS: Final[tuple[HeldByKind, ...]] = ("library", "kernel", "external")
HELD_BY_LIBRARY: Final = "library"
HELD_BY_KERNEL: Final = "kernel"
HELD_BY_EXTERNAL: Final = "external"

# The heap engine that ran a scan (1.3): native (the compiled walker) or python (its pure-Python
# reference, where no compiled walker is available or MEMORY_DOCTOR_ENGINE=python).
ScanEngine = Literal["native", "python"]
SCAN_ENGINES: Final[tuple[ScanEngine, ...]] = ("native", "python")
ENGINE_NATIVE: Final = "native"
ENGINE_PYTHON: Final = "python"

# How a Dask scheduler answered (1.3): ok; timeout (no answer within CLUSTER_QUERY_TIMEOUT_S);
# overdue (the client's event loop itself has not run the query: blocked or stuck); busy (too many
# queries still waiting, none sent); unavailable (the client is reconnecting, closed or
# asynchronous: nothing asked); error (the scheduler or distributed raised).
ClusterStatus = Literal["ok", "timeout", "overdue", "busy", "unavailable", "error"]
CLUSTER_STATUSES: Final[tuple[ClusterStatus, ...]] = (
    "ok",
    "timeout",
    "overdue",
    "busy",
    "unavailable",
    "error",
)

# What to do about a cluster holder (1.3): release (delete its names: release_cluster); output_cache
# (only IPython's output cache holds it: release it, %reset -f out, and end such lines with ';');
# redefine (a closure, default argument or class attribute holds it: redefine or delete its owner);
# unattributed (futures no scanned name reaches hold it).
ClusterSuggestion = Literal["release", "output_cache", "redefine", "unattributed"]
CLUSTER_SUGGESTIONS: Final[tuple[ClusterSuggestion, ...]] = (
    "release",
    "output_cache",
    "redefine",
    "unattributed",
)

#: The defaults of every KernelConfig option.
DEFAULT_CONFIG: Final = {"tracemalloc": False, "leak_threshold_bytes": 1048576}
#: The fields of a CellRecord, in the schema's order.
RECORD_FIELDS: Final = (
    "cell_id",
    "execution_count",
    "status",
    "started_at",
    "duration_s",
    "rss_before",
    "rss_after",
    "rss_delta",
    "peak_rss",
    "peak_increase",
    "peak_method",
    "gc_collections",
    "py_heap_delta",
    "py_heap_peak",
    "growth",
    "cluster",
)

# ---------------------------------------------------------------- shapes


class KernelConfig(TypedDict):
    """The helper's configuration for this kernel, as in effect."""

    #: Whether records carry tracemalloc figures (py_heap_delta, py_heap_peak).
    tracemalloc: bool
    #: The least rss_delta that counts as growth for leak flags.
    leak_threshold_bytes: int


class MemoryLimit(TypedDict):
    """The memory limit that applies to the kernel."""

    #: The limit, or null when the source is unknown.
    bytes: int | None
    source: LimitSource


class Growth(TypedDict):
    """A cell's growth across re-runs: present when the last runs of this cell id each left at
    least leak_threshold_bytes behind."""

    #: Consecutive growing runs of this cell id, ending with this one.
    runs: int
    #: The mean rss_delta of those runs.
    growth_per_run_bytes: int
    #: True from LEAK_MIN_RUNS runs on: re-running the cell keeps increasing retained memory.
    flagged: bool
    #: What grew during this run: variables as 'name (type) +40.0 MB', then object types as 'type
    #: +count'; empty unless this run was watched and the census finished in time.
    what_grew: list[str]


class CellRecord(TypedDict):
    """The measurements of one cell execution."""

    #: ExecutionInfo.cell_id (IPython 8.3 or later), else the execute request's metadata.cellId,
    #: clipped to MAX_ID_CHARS; null when neither is known.
    cell_id: str | None
    #: The cell's execution count.
    execution_count: int
    status: CellStatus
    #: When the cell started, epoch seconds.
    started_at: float
    #: How long the cell ran.
    duration_s: float
    #: RSS when the cell started.
    rss_before: int
    #: RSS when the cell ended.
    rss_after: int
    #: rss_after - rss_before (negative when the cell freed memory).
    rss_delta: int
    #: The highest RSS during the cell (see peak_method).
    peak_rss: int
    #: peak_rss - rss_before.
    peak_increase: int
    peak_method: PeakMethod
    #: Garbage collections, all generations, during the cell.
    gc_collections: int
    #: Change of the traced Python heap (tracemalloc option on), else null.
    py_heap_delta: int | None
    #: The traced peak above the start (tracemalloc option on), else null.
    py_heap_peak: int | None
    #: Growth across re-runs of this cell id, or null.
    growth: Growth | None
    #: What the cell did on the connected Dask clusters, or null when the kernel holds no Dask
    #: client (1.3).
    cluster: CellCluster | None


class HelloMessage(TypedDict):
    """Sent once, in answer to comm_open."""

    type: Literal["hello"]
    #: A MAJOR.MINOR protocol version.
    protocol_version: str
    #: The helper package's version.
    helper_version: str
    peak_method: PeakMethod
    #: Whether peaks are exact (vmhwm).
    peak_exact: bool
    #: The kernel's Python version, e.g. 3.11.7.
    python: str
    #: sys.platform of the kernel.
    platform: str
    #: The kernel's process id.
    pid: int
    #: The kernel's RSS now (0 if unknown).
    rss: int
    config: KernelConfig
    #: The records the helper holds, oldest first (for example after a page reload).
    records: list[CellRecord]
    memory_limit: MemoryLimit
    #: Whether the malloc_trim fix can run (glibc).
    malloc_trim: bool


class ErrorMessage(TypedDict):
    """Sent instead of hello when the comm cannot be served (the kernel then closes the comm),
    and for a comm message that is not a JSON object."""

    type: Literal["error"]
    code: ErrorCode
    #: One sentence saying what to do.
    message: str
    #: The helper's protocol version.
    protocol_version: str


class CellMeasuredMessage(TypedDict):
    """Sent after every user cell (not for silent or store_history=False executions), parented to
    that cell's execute request."""

    type: Literal["cell_measured"]
    record: CellRecord


class ProfileCell(TypedDict):
    """The profiled run (1.3)."""

    #: ExecutionInfo.cell_id (IPython 8.3 or later), else the execute request's metadata.cellId,
    #: clipped to MAX_ID_CHARS; null when neither is known.
    cell_id: str | None
    execution_count: int | None


class ProfileLine(TypedDict):
    """One source line that allocated during the profiled run (1.3). Lines of the profiled cell
    (scope cell) are inclusive: what the functions they called allocated counts on them, so
    they add up to the run's total. Lines of notebook functions defined in other cells (scope
    function) count their own allocations (self) and are a breakdown of a cell line's figure,
    not extra bytes. Line 0 holds what was allocated while a frame was being set up."""

    #: The cell the line belongs to, when the kernel knows its id.
    cell_id: str | None
    execution_count: int | None
    #: 1-based line of the cell's source as the user typed it (0: frame set-up).
    line: int
    #: The line's text, stripped.
    source: str
    scope: ProfileScope
    #: Bytes allocated by the line during the run and still allocated at its end. Negative only when
    #: tracemalloc was already running (figures are then differences per stack).
    net_bytes: int
    #: Bytes allocated by the line and still allocated at the run's peak (see peak_mode).
    peak_bytes: int
    net_blocks: int
    peak_blocks: int
    #: Top-level names the run bound to an object allocated on this line, when the backend can tell.
    holders: list[str]


class ProfileFrame(TypedDict):
    """A frame of a stack at the peak (1.3): a notebook line (cell_id / execution_count set, file
    empty) or library code."""

    #: What the chart shows: In[N] LINE: source, or function (file:line).
    label: str
    #: The library file, shortened to its package path; empty for notebook code and for the
    #: synthetic frames (transient, other stacks).
    file: str
    line: int
    #: The function's name (empty with tracemalloc, which does not record it).
    function: str
    #: ExecutionInfo.cell_id (IPython 8.3 or later), else the execute request's metadata.cellId,
    #: clipped to MAX_ID_CHARS; null when neither is known.
    cell_id: str | None
    execution_count: int | None


class ProfileStack(TypedDict):
    """Bytes allocated through one stack and still allocated at the peak (1.3), outermost frame
    (the profiled cell's line) first. The largest PROFILE_MAX_STACKS stacks are kept whole;
    the rest are folded into one stack per cell line ending in an 'other stacks' frame."""

    frames: list[ProfileFrame]
    peak_bytes: int
    peak_blocks: int


class ProfileTotals(TypedDict):
    """The whole run's figures, to read the lines against (1.3)."""

    #: The traced peak: bytes allocated during the run and still allocated, at their highest.
    peak_bytes: int
    #: The level the at-peak figures describe: peak_bytes, lower when peak_mode is stale, 0 when
    #: none.
    peak_view_bytes: int
    #: Bytes allocated during the run and still allocated at its end.
    net_bytes: int
    #: Allocated by no line of the profiled cell: the kernel's threads, IPython's own work.
    outside_net_bytes: int
    outside_peak_bytes: int
    #: Stacks cut short by tracemalloc's frame limit before any notebook frame.
    unattributed_net_bytes: int
    unattributed_peak_bytes: int


class Profile(TypedDict):
    """The line-level memory profile of one cell run (1.3). docs/profile.md explains the method
    and its limits."""

    backend: ProfileBackend
    cell: ProfileCell
    peak_mode: ProfilePeakMode
    totals: ProfileTotals
    #: The profiled cell's lines (scope cell) in line order, then the notebook functions' lines
    #: (scope function) by cell and line.
    lines: list[ProfileLine]
    #: The stacks at the peak, largest first.
    stacks: list[ProfileStack]
    #: How long the run took, traced.
    elapsed_s: float
    #: Time the profiler itself spent during the run (snapshots) and reading the result.
    overhead_s: float
    #: Plain-language caveats: what the backend cannot see, how the peak was taken, why the profile
    #: is empty.
    note: str
    #: Empty, or the exception class that ended the run (KeyboardInterrupt when interrupted).
    error: str


class CellProfileMessage(TypedDict):
    """The line profile of a run asked for with profile_next (or execute metadata, or %%memory
    profile), sent after that run's cell_measured and parented to its execute request (1.3)."""

    type: Literal["cell_profile"]
    #: ExecutionInfo.cell_id (IPython 8.3 or later), else the execute request's metadata.cellId,
    #: clipped to MAX_ID_CHARS; null when neither is known.
    cell_id: str | None
    execution_count: int | None
    profile: Profile


class ProfileNextResult(TypedDict):
    """The profile_next result (1.3)."""

    cell_id: str
    backend: ProfileBackend


class ProfileCancelResult(TypedDict):
    """The profile_cancel result (1.3)."""

    cell_id: str
    #: False when nothing was armed for the cell (it ran already, or was never asked for).
    cancelled: bool


class ScanProgressMessage(TypedDict):
    """Sent while a scan runs, at most every SCAN_PROGRESS_INTERVAL_S."""

    type: Literal["scan_progress"]
    #: The request's id, echoed by its reply.
    request_id: str
    phase: ScanPhase
    #: Objects visited so far.
    objects_visited: int
    #: Scan work so far.
    elapsed_s: float


class OkReply(TypedDict):
    """A request's successful answer. result's shape depends on the request type (the request's
    x-result)."""

    type: Literal["reply"]
    #: The request's id, echoed by its reply.
    request_id: str
    ok: Literal[True]
    #: The request's result; decode it with the decoder of the request type.
    result: dict[str, Any]


class ReplyError(TypedDict):
    """Why a request failed."""

    code: ErrorCode
    #: One sentence saying why and what to do.
    message: str


class ErrorReply(TypedDict):
    """A request's failed answer. request_id is null when the request had no usable request_id or
    the helper failed before reading it."""

    type: Literal["reply"]
    request_id: str | None
    ok: Literal[False]
    error: ReplyError


class ConfigureResult(TypedDict):
    """The configure result: the whole configuration after the change."""

    config: KernelConfig


class RunningCell(TypedDict):
    """The measured cell executing while get_rss was answered."""

    #: ExecutionInfo.cell_id (IPython 8.3 or later), else the execute request's metadata.cellId,
    #: clipped to MAX_ID_CHARS; null when neither is known.
    cell_id: str | None
    #: The count the cell will have, or null when unknown.
    execution_count: int | None
    #: When the cell started, epoch seconds.
    started_at: float
    #: RSS when the cell started: rss - rss_before is its change so far.
    rss_before: int


class GetRssResult(TypedDict):
    """The get_rss result."""

    #: The kernel's RSS now (0 if unknown).
    rss: int
    #: High-water mark since the last measured cell started (vmhwm), the lifetime ru_maxrss, or rss
    #: (none).
    peak_rss: int
    #: When the reading was taken, epoch seconds.
    time: float
    memory_limit: MemoryLimit
    #: The measured cell running now, or null.
    running: RunningCell | None


class HolderRoot(TypedDict):
    """One root of a holder."""

    #: What a user calls it: a name, Out[3], f.__closure__[0], ...
    label: str
    kind: HolderKind


class CompositionPart(TypedDict):
    """One type's share of a holder's retained bytes."""

    #: The type's name.
    type: str
    bytes: int
    count: int


class HeldBy(TypedDict):
    """Who else holds a holder's memory (1.3): a library (its top-level package, or interpreter
    for sys and builtins), the kernel's machinery, or references from outside Python (C state
    such as atexit or a signal handler)."""

    kind: HeldByKind
    #: The package (logging, numpy, interpreter), kernel, or outside Python.
    name: str
    #: Python a user can paste to reach the memory from that side
    #: (logging.getLogger('x').handlers[0].buffer), or null when none was found.
    path: str | None


class HeldElsewhere(TypedDict):
    """Memory no user root reaches, by who holds it (1.3)."""

    #: The names, as in HeldBy.name.
    held_by: list[str]
    bytes: int
    objects: int


class HolderBrief(TypedDict):
    """A holder past the scan's max_holders cut, in brief (1.3): enough to find it by name and to
    count its bytes."""

    #: Its root names, as a Holder's labels.
    labels: list[str]
    #: The type of its first root.
    type: str
    retained_bytes: int
    objects: int


class Holder(TypedDict):
    """One set of roots with the bytes reachable from them and from no other root: deleting every
    root in labels frees retained_bytes, unless also_held_by names someone else (then freeable
    is false)."""

    #: Unique within the scan, e.g. h1.
    id: str
    #: The roots' labels, as in roots.
    labels: list[str]
    kind: HolderKind
    roots: list[HolderRoot]
    #: The first root's type name.
    type: str
    retained_bytes: int
    objects: int
    #: Python a user can paste to reach the largest object.
    path: str
    #: ExecutionInfo.cell_id (IPython 8.3 or later), else the execute request's metadata.cellId,
    #: clipped to MAX_ID_CHARS; null when neither is known.
    cell_id: str | None
    #: The count of the cell where the first root's name was last bound, or null.
    execution_count: int | None
    #: The largest types among the retained bytes, largest first.
    composition: list[CompositionPart]
    #: More than one root: deleting any one of them alone frees nothing.
    shared: bool
    #: null for host memory, else e.g. cuda:0 (those bytes are not in rss).
    device: str | None
    #: Whether mmap-backed memory is among the bytes.
    file_backed: bool
    #: Who else reaches these bytes (empty: nobody but the roots in labels).
    also_held_by: list[HeldBy]
    #: Whether deleting every root in labels frees retained_bytes: also_held_by is empty.
    freeable: bool


class ScanSummary(TypedDict):
    """How the scan went."""

    #: Scan work, in seconds.
    duration_s: float
    objects_visited: int
    complete: bool
    #: null for a complete scan, else why it stopped.
    stopped: ScanStopped | None
    engine: ScanEngine
    #: The scan's own high-water mark above the RSS at its start (VmHWM reset, as for cells), or
    #: null where unknown.
    peak_extra_bytes: int | None
    #: RSS after the scan minus RSS before it (negative when it shrank), or null where unknown.
    left_behind_bytes: int | None


class Resource(TypedDict):
    """Something the session holds open."""

    #: Unique within the scan, e.g. r1.
    id: str
    kind: ResourceKind
    #: The short name shown first: the first root holding it, or e.g. Figure 3.
    label: str
    #: A path, an address, a database, a pid.
    detail: str
    #: Root labels that keep it alive.
    held_by: list[str]
    #: ExecutionInfo.cell_id (IPython 8.3 or later), else the execute request's metadata.cellId,
    #: clipped to MAX_ID_CHARS; null when neither is known.
    cell_id: str | None
    execution_count: int | None
    #: A sentence for the user, or null.
    note: str | None


class CyclicGarbage(TypedDict):
    """Unreachable objects waiting for the cycle collector."""

    objects: int
    bytes: int


class AllocatorGapPart(TypedDict):
    """One allocator's share of the allocator gap (1.3)."""

    allocator: GapAllocator
    #: Freed memory this allocator keeps resident.
    bytes: int
    #: Whether the malloc_trim fix returns it (malloc_trim(0), Arrow's release_unused()); pymalloc's
    #: is only reused.
    returnable: bool


class AllocatorGap(TypedDict):
    """Memory Python freed that the C allocator has not returned to the OS."""

    #: null where it cannot be read.
    bytes: int | None
    #: Whether the malloc_trim fix can run.
    malloc_trim: bool
    #: The gap per allocator, those that could be read (1.3); bytes is their sum.
    parts: list[AllocatorGapPart]


class Findings(TypedDict):
    """Cheap process-wide figures; null where unknown or not measured."""

    open_fds: int | None
    threads: int | None
    children: int | None
    cyclic_garbage: CyclicGarbage | None
    allocator_gap: AllocatorGap | None


class Suggestion(TypedDict):
    """One fix the helper can apply."""

    #: Unique within the scan, e.g. s1.
    id: str
    action: FixAction
    #: Root labels, or resource ids for resource actions, or the logging handler
    #: (logging.getLogger('name').handlers[0]) for clear_log_buffer; empty for gc_collect and
    #: malloc_trim.
    targets: list[str]
    #: The exact Python a user could type instead.
    code: str
    estimated_freed_bytes: int | None
    #: One line.
    reason: str
    #: Whether it deletes or closes something (the front end then asks first).
    destructive: bool
    #: The holder it fixes, if any.
    holder_id: str | None
    #: The resource it fixes, if one.
    resource_id: str | None


class ScanResult(TypedDict):
    """The scan result."""

    scan: ScanSummary
    #: RSS before the scan allocated anything.
    rss: int
    #: Host bytes the holders account for.
    attributed_bytes: int
    #: max(rss - attributed_bytes, 0).
    unattributed_bytes: int
    #: Host bytes of the holders that are freeable: what deleting their roots gives back.
    freeable_bytes: int
    #: The largest labels no user root reaches (libraries, the kernel, outside Python), largest
    #: first.
    held_elsewhere: list[HeldElsewhere]
    #: Bytes no user root reaches, in all.
    held_elsewhere_bytes: int
    #: How many holders the scan found, before the max_holders cut: holders has the largest of them.
    holders_total: int
    #: The holders past the max_holders cut, largest first, in brief (names, type, size), so that a
    #: front end can search every holder by name and count its bytes; at most MAX_HOLDER_INDEX.
    holder_index: list[HolderBrief]
    #: Largest first, at most max_holders.
    holders: list[Holder]
    resources: list[Resource]
    findings: Findings
    suggestions: list[Suggestion]


class CancelResult(TypedDict):
    """The cancel result."""

    #: False when no such scan was running (finished, never started, unknown).
    cancelled: bool


class FixResult(TypedDict):
    """The apply_fix result."""

    suggestion_id: str
    action: FixAction
    estimated_freed_bytes: int | None
    #: The drop in RSS across the fix (never negative); the same figure as returned_to_os_bytes,
    #: kept under its 1.2 name.
    measured_freed_bytes: int
    #: What the fix freed inside the process: the drop of the allocators' in-use bytes (pymalloc's
    #: allocated blocks, glibc's mallinfo2, Arrow's pool); null where none can be read. 0 for
    #: malloc_trim, which frees nothing (1.3).
    freed_in_process_bytes: int | None
    #: The drop in RSS across the fix, the return of what the allocators kept included (1.3).
    returned_to_os_bytes: int
    #: Targets that were already done before the fix ran (a name deleted, a resource closed), by
    #: label (1.3).
    already_done: list[str]
    rss_before: int
    rss_after: int
    #: null, or one sentence: targets already done, a measurement well short of the estimate and
    #: why, or memory the allocators had kept that the fix returned to the OS.
    explanation: str | None


class ClusterMemory(TypedDict):
    """A worker's memory (1.3), from its last heartbeat, as distributed's MemoryState: memory is
    the process's RSS, managed the sizeof of the keys it holds in memory, spilled the bytes it
    spilled to disk, unmanaged the rest of the process (memory - managed)."""

    memory: int
    managed: int
    spilled: int
    unmanaged: int


class ClusterTotals(TypedDict):
    """The cluster's memory summed over its workers (1.3). Workers inside the kernel
    (LocalCluster(processes=False)) count with their managed bytes only."""

    memory: int
    managed: int
    spilled: int
    unmanaged: int
    #: The sum of the workers' memory_limit; null when a worker has none.
    memory_limit: int | None
    workers: int
    #: Tasks executing, ready, waiting or being fetched on the workers.
    busy_tasks: int


class ClusterWorker(TypedDict):
    """One worker in a scan_cluster result (1.3). Its headroom is memory_limit - memory."""

    address: str
    name: str
    memory: int
    managed: int
    spilled: int
    unmanaged: int
    memory_limit: int | None
    #: How old the worker's heartbeat sample is.
    age_s: float | None
    busy_tasks: int
    #: A worker thread inside the kernel (inproc://): its memory is the kernel's own.
    in_kernel: bool


class ClusterCellKeys(TypedDict):
    """What a cell's futures did on one cluster, by key (1.3): keys added and released, and their
    bytes (the scheduler's nbytes, as Client.nbytes). The exact figure: heartbeat readings lag
    about a second."""

    added: int
    removed: int
    bytes_added: int
    bytes_removed: int
    #: Added keys still computing (a persist() running on): their bytes are not counted.
    pending_keys: int
    #: Released keys whose size was never learnt (persisted before the helper saw them): their bytes
    #: are not counted.
    removed_unknown: int


class ClusterCellWorker(TypedDict):
    """One worker's memory before and after a cell (1.3); null before when it joined during the
    cell, null after when it left."""

    address: str
    name: str
    memory_limit: int | None
    before: ClusterMemory | None
    after: ClusterMemory | None


class ClusterCellEntry(TypedDict):
    """One Dask scheduler's part of a cell's cluster measurement (1.3)."""

    #: The scheduler's address.
    scheduler: str
    status: ClusterStatus
    #: One sentence when status is not ok, else null.
    error: str | None
    #: keys.bytes_added - keys.bytes_removed; null when not ok.
    delta_bytes: int | None
    keys: ClusterCellKeys | None
    #: The newest reading held when the cell started (the previous cell's after, or a scan's); null
    #: for the cell that first saw the client.
    before: ClusterTotals | None
    #: How much older the before reading is than the after one.
    before_age_s: float | None
    #: The reading CLUSTER_SETTLE_S after the cell, settled when every worker's sample is newer than
    #: the cell's end (re-read until CLUSTER_MAX_SETTLE_S at most).
    after: ClusterTotals | None
    settled: bool | None
    #: The after reading's first round trip.
    round_trip_ms: float | None
    workers: list[ClusterCellWorker]


class CellCluster(TypedDict):
    """A cell's Dask cluster measurement (1.3). pending while the after readings are on their way
    (clusters is then empty; a cell_cluster message brings the rest)."""

    pending: bool
    #: What the cell put on the clusters (negative: released), summed over the schedulers measured;
    #: null when none was.
    delta_bytes: int | None
    clusters: list[ClusterCellEntry]


class CellClusterMessage(TypedDict):
    """A cell's Dask cluster measurement (1.3), sent once its readings arrived: CLUSTER_SETTLE_S
    to CLUSTER_MAX_SETTLE_S after the cell, at once when the client cannot be asked. Only for
    records whose cluster was pending; the helper also keeps it in the record for replay."""

    type: Literal["cell_cluster"]
    execution_count: int
    #: ExecutionInfo.cell_id (IPython 8.3 or later), else the execute request's metadata.cellId,
    #: clipped to MAX_ID_CHARS; null when neither is known.
    cell_id: str | None
    cluster: CellCluster


class ClusterKeyStatus(TypedDict):
    """How many of a holder's keys have each future status (1.3). After a lost scheduler every
    future is cancelled."""

    pending: int
    finished: int
    cancelled: int
    lost: int
    error: int
    unknown: int


class ClusterHolderWorker(TypedDict):
    """What one worker holds of a cluster holder's keys (1.3)."""

    address: str
    name: str
    bytes: int
    keys: int
    #: Bytes of those keys spilled to disk; null when not known.
    spilled: int | None


class ClusterHolder(TypedDict):
    """The keys one set of roots keeps alive on a cluster (1.3): a key reached from several names
    is in one holder listing them all, so shared keys count once, jointly. bytes is the keys'
    scheduler nbytes (as Client.nbytes), each key once; worker_bytes counts replicas (what a
    release frees). Without a scheduler answer the byte fields are null."""

    #: The names, as a user writes them; empty for keys no scanned name reaches.
    labels: list[str]
    kinds: list[HolderKind]
    keys: int
    bytes: int | None
    worker_bytes: int | None
    #: Keys still computing (no size yet).
    pending_keys: int | None
    status: ClusterKeyStatus
    #: Bytes of the keys spilled to disk: 0 when no worker spills, null when the workers could not
    #: be asked.
    spilled: int | None
    workers: list[ClusterHolderWorker]
    #: A few of the keys, as text.
    sample_keys: list[str]
    #: Whether release_cluster can release it (deleting the labels drops every reference).
    releasable: bool
    suggestion: ClusterSuggestion
    #: One sentence for the unattributed row, else null.
    note: str | None


class ClusterWalk(TypedDict):
    """The walk of the namespace for futures (1.3)."""

    visited: int
    #: Cut short (too many objects, or CLUSTER_WALK_BUDGET_S): holders may be missing and their keys
    #: show as unattributed.
    truncated: bool
    seconds: float


class ClusterSection(TypedDict):
    """One connected Dask scheduler in a scan_cluster result (1.3). When it did not answer,
    status and error say why, workers is empty, total null, and the holders have their labels,
    key counts and statuses without bytes."""

    scheduler: str
    status: ClusterStatus
    error: str | None
    workers: list[ClusterWorker]
    total: ClusterTotals | None
    #: Largest first; the unattributed row (labels []) last.
    holders: list[ClusterHolder]
    round_trip_ms: float | None


class ScanClusterResult(TypedDict):
    """The scan_cluster result (1.3): one section per connected client's scheduler; empty when
    the kernel holds none (distributed not imported, or no client)."""

    clusters: list[ClusterSection]
    walk: ClusterWalk | None


class ClusterFreed(TypedDict):
    """The drop of each cluster figure across a release (1.3); negative when it grew (other work
    went on)."""

    memory: int
    managed: int
    spilled: int
    unmanaged: int


class ClusterFreedWorker(TypedDict):
    """The drop of one worker's figures across a release (1.3)."""

    address: str
    name: str
    freed_memory: int
    freed_managed: int
    freed_spilled: int
    freed_unmanaged: int


class ReleaseClusterResult(TypedDict):
    """The release_cluster result (1.3): what was deleted, and what the scheduler reports freed
    once the keys were forgotten and every worker sent a newer heartbeat
    (CLUSTER_RELEASE_BOUND_S at most). status is the measurement's: when not ok, the names are
    deleted all the same and the measured fields are null."""

    scheduler: str
    status: ClusterStatus
    error: str | None
    #: Labels deleted (bound before, gone after).
    deleted: list[str]
    #: Labels still bound (a form that cannot be deleted).
    kept: list[str]
    #: Requested holders no longer found (changed since the scan).
    missing: list[list[str]]
    #: Requested holders deleting names cannot release (releasable false).
    refused: list[list[str]]
    #: Bytes the workers held for the released keys, replicas included.
    estimate_bytes: int
    #: Keys no other name holds, which the deletion releases.
    keys: int
    #: Of those, the keys the scheduler forgot.
    released_keys: int | None
    #: Keys the scheduler still holds: another client or an unseen reference wants them; never
    #: cancelled.
    still_held_keys: int | None
    freed: ClusterFreed | None
    #: The data freed on the workers: managed plus spilled drops, each at least 0.
    freed_bytes: int | None
    workers: list[ClusterFreedWorker]
    #: Workers whose managed or spilled bytes dropped.
    freed_on_workers: int
    #: From the deletion until the scheduler forgot the keys.
    seconds_to_forget: float | None
    seconds_to_report: float
    #: Every worker reported after the keys were forgotten.
    settled: bool
    polls: int


# The answer to every request, with the request's request_id.
ReplyMessage = Union[OkReply, ErrorReply]

# Any message the kernel sends on the comm, told apart by type. A reader logs and ignores an unknown
# type.
KernelMessage = Union[
    HelloMessage,
    ErrorMessage,
    CellMeasuredMessage,
    ScanProgressMessage,
    ReplyMessage,
    CellProfileMessage,
    CellClusterMessage,
]
