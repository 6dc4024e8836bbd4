"""Wire protocol between the JupyterLab extension and the kernel helper.

``protocol.json``, next to this file, is the protocol's one source: every
message, request and result, and every constant both sides rely on (names,
versions, limits, timing). ``jlpm build:protocol`` generates ``generated.py``
(the constants, the enumerations as ``Literal`` types and tuples, and
``TypedDict`` shapes of everything the kernel sends) and the front end's
``src/protocol/generated.ts`` from it; ``jlpm lint:check`` fails when either is
stale, and ``tests/test_protocol_schema.py`` when this module is. The tests
validate real messages against the schema; ``docs/protocol.md`` explains them
with examples.

This module re-exports the generated one and adds what is not data: the
version check, the reply builders, and the reply timeouts the timing
constants imply.

Owns: the contract's constants and shapes, and the reply builders. Every other
part of ``memory_doctor`` imports it.

May import: nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .generated import *  # noqa: F403 - the generated module is this one's public half
from .generated import (
    DEFAULT_SCAN_BUDGET_S,
    MAX_SCAN_BUDGET_S,
    MSG_ERROR,
    MSG_REPLY,
    PIP_INSTALL_HINT,
    PROTOCOL_VERSION,
    REQUEST_TIMEOUT_S,
    SCAN_OVERRUN_S,
    SCAN_REPLY_GRACE_S,
    ErrorCode,
    ErrorMessage,
    ErrorReply,
    OkReply,
)

#: Older names of ``DEFAULT_SCAN_BUDGET_S`` and ``MAX_SCAN_BUDGET_S``, for code written
#: before the schema; new code uses the schema's names.
DEFAULT_BUDGET_S: Final = DEFAULT_SCAN_BUDGET_S
MAX_BUDGET_S: Final = MAX_SCAN_BUDGET_S


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


def scan_reply_timeout_s(budget_s: float) -> float:
    """Seconds a client waits for the reply to a scan of ``budget_s``.

    The helper may wait ``budget_s + SCAN_OVERRUN_S`` for a running cell before
    the scan starts and run it as long again; then it assembles the result.
    """
    return max(REQUEST_TIMEOUT_S, 2 * (budget_s + SCAN_OVERRUN_S) + SCAN_REPLY_GRACE_S)


def reply_ok(request_id: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """A successful ``reply``; ``result`` is the request's result (e.g. a ``ScanResult``)."""
    reply: OkReply = {"type": MSG_REPLY, "request_id": request_id, "ok": True, "result": {}}
    return {**reply, "result": result}


def reply_error(request_id: str | None, code: ErrorCode, message: str) -> dict[str, Any]:
    """A failed ``reply``."""
    reply: ErrorReply = {
        "type": MSG_REPLY,
        "request_id": request_id,
        "ok": False,
        "error": {"code": code, "message": message},
    }
    return dict(reply)


def error_message(code: ErrorCode, message: str) -> dict[str, Any]:
    """An ``error`` message (not a reply: the comm itself or the request's shape failed)."""
    error: ErrorMessage = {
        "type": MSG_ERROR,
        "code": code,
        "message": message,
        "protocol_version": PROTOCOL_VERSION,
    }
    return dict(error)
