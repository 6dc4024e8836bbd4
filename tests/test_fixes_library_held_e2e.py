"""End to end: memory a library (or C) also holds is never offered as freed by ``del``.

These depend on the heap engine's whole-heap attribution: a holder whose
objects a library, the kernel or references from outside Python also hold
carries ``also_held_by`` (``[{"kind": "library"|"kernel"|"external", ...}]``),
and the suggestions then offer no delete for it.

- A user's logger with a buffering handler: ``logging`` keeps every logger in
  its manager, so ``del lg`` frees nothing of the buffered records; the
  handler's own release (``clear_log_buffer``) frees them, measured.
- An array registered with ``atexit``: the registration (held in C) keeps it,
  so ``del data`` frees nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fix_helpers import applied, within
from kernel_helpers import run, scan

from memory_doctor.headless.driver import KernelSession

pytestmark = pytest.mark.kernel

MB = 1_000_000


@pytest.fixture
def session(kernel_env: dict[str, str]) -> Iterator[KernelSession]:
    with KernelSession(env=kernel_env) as s:
        s.start()
        run(s, "import numpy as np, logging, logging.handlers, atexit")
        yield s


def deletes_of(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [
        s for s in result["suggestions"] if s["action"] == "delete_holder" and name in s["targets"]
    ]


def holder_of(result: dict[str, Any], name: str) -> dict[str, Any]:
    found = [h for h in result["holders"] if name in h["labels"]]
    assert found, [h["labels"] for h in result["holders"][:20]]
    return max(found, key=lambda h: h["retained_bytes"])


def test_a_buffering_logger_is_released_by_its_handler_not_by_del(
    session: KernelSession,
) -> None:
    run(
        session,
        "lg = logging.getLogger('md.held')\nlg.propagate = False\n"
        "handler = logging.handlers.MemoryHandler(capacity=10**6, "
        "flushLevel=logging.CRITICAL + 1)\nlg.addHandler(handler)\n"
        "for i in range(10):\n    lg.warning('chunk %s', np.full(1_000_000, i))",
    )
    result = scan(session)
    assert holder_of(result, "lg").get("also_held_by"), holder_of(result, "lg")
    assert deletes_of(result, "lg") == []
    assert deletes_of(result, "handler") == []
    [release] = [s for s in result["suggestions"] if s["action"] == "clear_log_buffer"]
    fixed = applied(session, release)
    assert within(fixed["freed_in_process_bytes"], release["estimated_freed_bytes"]), fixed


def test_an_array_registered_with_atexit_is_not_offered_to_del(session: KernelSession) -> None:
    run(session, "data = np.ones(10_000_000)\natexit.register(print, data)")
    result = scan(session)
    held = holder_of(result, "data")
    kinds = {entry["kind"] for entry in held.get("also_held_by") or []}
    assert kinds & {"external", "library"}, held
    assert deletes_of(result, "data") == []
