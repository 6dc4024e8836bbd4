"""Wire protocol between the JupyterLab extension and the kernel helper.

This package is the Python half of the single contract documented in
``docs/protocol.md``; ``src/protocol.ts`` is the TypeScript half and
``tests/test_protocol_agreement.py`` checks that both agree. It holds the
names, versions, limits and timing constants both sides rely on, and the
helpers that build replies.

Owns: the contract's constants and reply builders. Every other part of
``memory_doctor`` imports it.

May import: nothing.
"""

from __future__ import annotations

from typing import Any, Final

#: Comm target name registered by the helper.
COMM_TARGET: Final = "memory_doctor"

#: ``MAJOR.MINOR``; versioned separately from the package.
PROTOCOL_VERSION: Final = "1.2"

#: The bootstrap line the front end sends, silently and without history.
BOOTSTRAP_CODE: Final = "%load_ext memory_doctor"

#: The command shown when the helper is missing from a kernel's environment.
PIP_INSTALL_HINT: Final = "%pip install jupyterlab-memory-doctor"

# Messages sent by the kernel.
MSG_HELLO: Final = "hello"
MSG_ERROR: Final = "error"
MSG_CELL_MEASURED: Final = "cell_measured"
MSG_REPLY: Final = "reply"
MSG_SCAN_PROGRESS: Final = "scan_progress"

# Requests sent by the front end.
REQ_CONFIGURE: Final = "configure"
REQ_GET_RSS: Final = "get_rss"
REQ_SCAN: Final = "scan"
REQ_CANCEL: Final = "cancel"
REQ_APPLY_FIX: Final = "apply_fix"

KERNEL_MESSAGES: Final = (MSG_HELLO, MSG_ERROR, MSG_CELL_MEASURED, MSG_SCAN_PROGRESS, MSG_REPLY)
REQUESTS: Final = (REQ_CONFIGURE, REQ_GET_RSS, REQ_SCAN, REQ_CANCEL, REQ_APPLY_FIX)

# Error codes.
ERR_PROTOCOL_MISMATCH: Final = "protocol_mismatch"
ERR_BAD_REQUEST: Final = "bad_request"
ERR_UNKNOWN_REQUEST: Final = "unknown_request"
ERR_INTERNAL: Final = "internal"
ERR_REFUSED: Final = "refused"

ERROR_CODES: Final = (
    ERR_PROTOCOL_MISMATCH,
    ERR_BAD_REQUEST,
    ERR_UNKNOWN_REQUEST,
    ERR_INTERNAL,
    ERR_REFUSED,
)

# Peak measurement methods.
PEAK_VMHWM: Final = "vmhwm"
PEAK_RU_MAXRSS: Final = "ru_maxrss"
PEAK_NONE: Final = "none"

PEAK_METHODS: Final = (PEAK_VMHWM, PEAK_RU_MAXRSS, PEAK_NONE)

#: Keys of a ``cell_measured`` record, in documented order.
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
)

#: Root kinds of a holder, in the order roots are enumerated.
HOLDER_KINDS: Final = (
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

#: Scan phases reported by ``scan_progress``.
SCAN_PHASES: Final = ("roots", "walk", "attribute", "paths")

#: Why a scan stopped early (``scan.stopped``); ``None`` when complete.
SCAN_STOPPED: Final = ("budget", "cancelled", "cell_ran")

#: Resource kinds in ``scan.resources`` (1.2).
RESOURCE_KINDS: Final = (
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

#: Fix operations accepted by ``apply_fix`` (1.2); nothing else is ever run.
FIX_ACTIONS: Final = (
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
)

#: Where ``memory_limit`` came from (1.2).
LIMIT_SOURCES: Final = ("cgroup_v2", "cgroup_v1", "physical", "unknown")

#: A cell re-run this many times in a row, growing each time, is flagged as a leak.
LEAK_MIN_RUNS: Final = 3

#: Options accepted by ``configure`` and their defaults.
DEFAULT_CONFIG: Final = {"tracemalloc": False, "leak_threshold_bytes": 1 << 20}

#: How many records the helper keeps to replay in ``hello``.
MAX_REPLAY_RECORDS: Final = 2000

#: Largest request the helper parses further, as compact JSON. Real requests are < 200 B.
MAX_REQUEST_BYTES: Final = 64 * 1024
#: Longest ``request_id`` / ``type`` / version string the helper echoes back.
MAX_ID_CHARS: Final = 128

# Why a scan stopped early (the values of ``SCAN_STOPPED``).
STOP_BUDGET: Final = "budget"
STOP_CANCELLED: Final = "cancelled"
STOP_CELL_RAN: Final = "cell_ran"

# ---------------------------------------------------------------- timing and scan limits
# Part of the contract: a client waits as long as the helper may take.

#: Seconds of scan work per slice before the kernel's loop handles other messages.
SLICE_S: Final = 0.05
#: Least time between two ``scan_progress`` messages of one scan.
PROGRESS_INTERVAL_S: Final = 0.25
#: ``budget_s`` of a ``scan`` that gives none, and the largest one accepted.
DEFAULT_BUDGET_S: Final = 5.0
MAX_BUDGET_S: Final = 600.0
#: Margin over the budget after which the helper stops a scan itself; a scan
#: waiting for a running cell also gives up after its budget plus this.
OVERRUN_S: Final = 5.0
#: ``max_holders`` of a ``scan`` that gives none, and the largest one accepted.
DEFAULT_MAX_HOLDERS: Final = 500
MAX_MAX_HOLDERS: Final = 10_000
#: How long an ``apply_fix`` waits for a running cell (or scan) to end before
#: it is refused; a client waits at least this long for its reply.
FIX_WAIT_S: Final = 600.0
#: How long past its budget a client waits for a scan's reply (the result is
#: assembled after the budget: resources, findings, suggestions).
SCAN_REPLY_GRACE_S: Final = 60.0


def major(version: str) -> str:
    """Return the MAJOR part of a ``MAJOR.MINOR`` version string."""
    return version.split(".", 1)[0]


def is_compatible(version: object) -> bool:
    """Whether a peer speaking ``version`` can talk to this side."""
    return isinstance(version, str) and major(version) == major(PROTOCOL_VERSION)


def mismatch_message(frontend_version: str, kernel_version: str) -> str:
    """One sentence naming both versions and what to do about it."""
    return (
        f"Memory Doctor front end speaks protocol {frontend_version} but the kernel "
        f"helper speaks {kernel_version}. Install matching versions: "
        f"{PIP_INSTALL_HINT.replace('install', 'install -U')}, then restart the kernel."
    )


def reply_ok(request_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """A successful ``reply``."""
    return {"type": MSG_REPLY, "request_id": request_id, "ok": True, "result": result}


def reply_error(request_id: str | None, code: str, message: str) -> dict[str, Any]:
    """A failed ``reply``."""
    return {
        "type": MSG_REPLY,
        "request_id": request_id,
        "ok": False,
        "error": {"code": code, "message": message},
    }


def error_message(code: str, message: str) -> dict[str, Any]:
    """An ``error`` message (not a reply: the comm itself or the request's shape failed)."""
    return {
        "type": MSG_ERROR,
        "code": code,
        "message": message,
        "protocol_version": PROTOCOL_VERSION,
    }
