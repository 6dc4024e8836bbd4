"""Wire protocol between the JupyterLab extension and the kernel helper.

This module is the Python half of the single contract documented in
``docs/protocol.md``; ``src/protocol.ts`` is the TypeScript half and
``tests/test_protocol_agreement.py`` checks that both agree.
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
