"""Whole-heap truth in a real kernel, through the comm: memory a library, C code or
a library registry also holds is not offered as freeable by deleting the user's
name, and the reply says who holds it (with a path from that side where one is
found); the kernel's own files and sockets never appear; rescans leave nothing
behind in the allocator; an interrupt ends a scan with a stop reason."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kernel_helpers import run, scan

from memory_doctor.headless.driver import KernelSession

pytestmark = pytest.mark.kernel

MB = 1 << 20


@pytest.fixture(scope="module")
def session(kernel_env: dict[str, str]) -> Iterator[KernelSession]:
    with KernelSession(env=kernel_env) as s:
        s.start()
        run(s, "import numpy as np")
        yield s


def largest_with(result: dict[str, Any], label: str) -> dict[str, Any]:
    found = [h for h in result["holders"] if label in h["labels"]]
    assert found, [h["labels"] for h in result["holders"][:20]]
    return max(found, key=lambda h: h["retained_bytes"])


def held_by(holder: dict[str, Any]) -> dict[str, Any]:
    return {entry["name"]: entry for entry in holder["also_held_by"]}


def freeable_of(result: dict[str, Any], label: str) -> int:
    return sum(
        h["retained_bytes"] for h in result["holders"] if h["labels"] == [label] and h["freeable"]
    )


def test_a_logger_buffering_data_is_held_by_logging(session: KernelSession) -> None:
    run(
        session,
        "import logging, logging.handlers\n"
        "log = logging.getLogger('md_truth')\n"
        "log.propagate = False\n"
        "log.addHandler(logging.handlers.MemoryHandler(10**6, flushLevel=logging.CRITICAL + 1))\n"
        "for i in range(2000):\n"
        "    log.warning('%s', np.ones(1000))\n",  # each record keeps its array: 16 MB
    )
    try:
        result = scan(session)
        holder = largest_with(result, "log")
        assert holder["retained_bytes"] >= 15 * MB
        assert holder["freeable"] is False
        logging_entry = held_by(holder)["logging"]
        assert logging_entry["kind"] == "library"
        assert logging_entry["path"] is not None
        assert logging_entry["path"].startswith("logging.getLogger('md_truth').handlers[0].buffer")
        # Deleting `log` frees nothing of the buffer.
        assert freeable_of(result, "log") < MB
    finally:
        run(session, "log.handlers[0].buffer.clear(); log.handlers.clear(); del log")


def test_an_array_registered_with_atexit_is_held_from_outside_python(
    session: KernelSession,
) -> None:
    run(
        session,
        "import atexit\nexit_data = np.ones(4 * 2**20 // 8)\natexit.register(np.sum, exit_data)",
    )
    try:
        result = scan(session)
        holder = largest_with(result, "exit_data")
        assert holder["retained_bytes"] >= 4 * MB
        assert holder["freeable"] is False
        outside = held_by(holder)["outside Python"]
        assert outside == {"kind": "external", "name": "outside Python", "path": None}
        assert freeable_of(result, "exit_data") < 4 * MB
    finally:
        run(session, "atexit.unregister(np.sum); del exit_data")


def test_a_library_registry_holding_user_data(session: KernelSession) -> None:
    run(
        session,
        "import weakref\n"
        "class Resource:\n    pass\n"
        "owner = Resource()\n"
        "registered = np.ones(4 * 2**20 // 8)\n"
        "weakref.finalize(owner, np.sum, registered)\n",
    )
    try:
        result = scan(session)
        holder = largest_with(result, "registered")
        assert holder["retained_bytes"] >= 4 * MB
        assert holder["freeable"] is False
        assert "weakref" in held_by(holder)
        assert freeable_of(result, "registered") < 4 * MB
    finally:
        run(session, "del owner, registered")


def test_a_plain_variable_is_freeable_and_the_totals_say_so(session: KernelSession) -> None:
    run(session, "plain_truth = np.ones(8 * 2**20 // 8)")
    result = scan(session)
    holder = largest_with(result, "plain_truth")
    assert holder["freeable"] is True and holder["also_held_by"] == []
    assert result["freeable_bytes"] >= holder["retained_bytes"]
    assert result["attributed_bytes"] >= result["freeable_bytes"]
    assert result["held_elsewhere_bytes"] > 0  # the libraries' and the kernel's own
    run(session, "del plain_truth")


def test_the_kernels_own_files_and_sockets_never_appear(session: KernelSession) -> None:
    # A logger reaches logging's manager, every other logger and the kernel's
    # log stream; a thread keeps sys.excepthook (the shell) and sys.stderr.
    run(
        session,
        "import threading\n"
        "root_log = logging.getLogger()\n"
        "idle = threading.Event()\n"
        "waiter = threading.Thread(target=idle.wait, daemon=True)\n"
        "waiter.start()\n",
    )
    try:
        result = scan(session)
        for res in result["resources"]:
            assert res["kind"] not in ("file", "socket"), res
        for holder in result["holders"]:
            for entry in holder["composition"]:
                assert not entry["type"].startswith(("zmq.", "ipykernel.")), holder
            assert not any(label.startswith(("get_ipython", "In[")) for label in holder["labels"])
        # What the thread reaches of the kernel is the kernel's, not the thread's.
        assert largest_with(result, "waiter")["retained_bytes"] < MB
    finally:
        run(session, "idle.set(); waiter.join(); del waiter, idle, root_log")


RSS = "__import__('memory_doctor.procmem').procmem.current_rss()"
HEAP_FREE = "__import__('memory_doctor.advice.allocator', fromlist=['m']).mallinfo2().fordblks"


def test_rescans_leave_nothing_behind(session: KernelSession) -> None:
    if os.environ.get("MEMORY_DOCTOR_ENGINE") == "python":
        # The reference engine keeps nothing either (in one process, 8 scans of 300k
        # records: gc's object count within 800 of 615k, tracemalloc's traced bytes
        # between 3.0 and 3.3 MB, after the first scan), but its millions of small
        # Python objects leave RSS wandering by tens of MB (307-341 MiB) in the
        # allocators' free lists, scan to scan.
        pytest.skip("RSS after rescans is the native engine's goal; see the comment")
    run(session, "records_truth = [{'k': i, 'v': str(i), 't': [i]} for i in range(1_000_000)]")
    # What earlier tests freed is the user's allocator gap: returned first, so that
    # any malloc_trim suggestion below could only come from the scans themselves.
    run(session, "import ctypes; ctypes.CDLL('libc.so.6').malloc_trim(0)")
    try:
        # Two scans settle glibc's thresholds: the cyclic-garbage count's object list
        # (8 bytes per tracked object) is then allocated, and freed, at the top of the
        # heap, where every later scan reuses it.
        warm = [scan(session) for _ in range(2)]
        first = session.evaluate({"rss": RSS, "free": HEAP_FREE})
        results = [scan(session) for _ in range(10)]
        after = session.evaluate({"rss": RSS, "free": HEAP_FREE})
        grown = int(after["rss"]) - int(first["rss"])
        assert grown < 4 * MB, grown  # ten rescans: nothing accumulates
        assert int(after["free"]) - int(first["free"]) < 4 * MB, (first, after)
        lefts = [r["scan"]["left_behind_bytes"] for r in results]
        assert all(left is not None for left in lefts)
        assert sum(lefts) < 4 * MB, lefts
        for r in [*warm, *results]:
            assert r["scan"]["peak_extra_bytes"] is not None
            assert r["scan"]["peak_extra_bytes"] >= 0
            # Our own scans never cause an allocator-gap suggestion.
            trims = [s for s in r["suggestions"] if s["action"] == "malloc_trim"]
            assert not trims, r["findings"]["allocator_gap"]
    finally:
        run(session, "del records_truth")


def test_an_interrupt_during_a_scan_ends_it_with_a_stop_reason(session: KernelSession) -> None:
    run(session, "many_truth = [[i] for i in range(3_000_000)]")
    try:
        request = session.send_request("scan", budget_s=120)
        time.sleep(0.5)  # well into the walk
        session._km.interrupt_kernel()  # SIGINT, as JupyterLab's interrupt button sends
        reply = session.wait_reply(request, timeout=60)
        assert reply["ok"] is True, reply  # a stopped scan, not "internal"
        assert reply["result"]["scan"]["stopped"] in ("interrupted", None)
        if reply["result"]["scan"]["stopped"] is None:
            pytest.skip("the scan ended before the interrupt arrived")
        assert reply["result"]["scan"]["complete"] is False
        after = run(session, "print('still here')")
        assert after.stdout.strip() == "still here"
    finally:
        run(session, "del many_truth")
