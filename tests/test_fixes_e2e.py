"""End to end: every fix applies in a real ipykernel and reports its measured effect.

numpy arrays of 64 MB (above glibc's largest mmap threshold, so freeing one
returns it to the OS at once) make the estimates checkable: the measured RSS
drop must reach 90 % of the estimate. Also: the output-cache alias trap, the
exact ``code`` of a suggestion doing the same as the fix, refusals when a
target changed, the allocator gap, and a fuzzed ``apply_fix``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fix_helpers import applied, apply, only, value
from kernel_helpers import run, scan

from memory_doctor.headless.driver import KernelSession
from memory_doctor.protocol import ERR_BAD_REQUEST, ERR_REFUSED

pytestmark = pytest.mark.kernel

N = 8_000_000  # float64: 64 MB
NBYTES = N * 8
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def session(kernel_env: dict[str, str]) -> Iterator[KernelSession]:
    """A fresh kernel per test: fixes change the namespace and the allocator's state."""
    with KernelSession(env=kernel_env) as s:
        s.start()
        run(s, f"import numpy as np, gc, sys, functools\nN = {N}")
        yield s


def freed_most(result: dict[str, Any]) -> None:
    estimate = result["estimated_freed_bytes"]
    assert estimate is not None and estimate >= 0.99 * NBYTES
    assert result["measured_freed_bytes"] >= 0.9 * estimate, result
    assert result["explanation"] is None


# ------------------------------------------------------------------ holders


def test_output_cache_alias_trap(session: KernelSession) -> None:
    run(session, "big = np.ones(N)")
    count = run(session, "big").execution_count
    result = scan(session)
    sug = only(result, "delete_holder", targets=["big", f"Out[{count}]", f"_{count}", "_"])
    assert sug["destructive"] is True
    assert sug["estimated_freed_bytes"] >= NBYTES
    assert "also held by" in sug["reason"]
    # Deleting big alone frees nothing: the output cache still has it.
    assert value(session, f"Out[{count}] is big") == "True"
    freed_most(applied(session, sug))
    assert value(session, f"('big' in globals(), {count} in Out, '_{count}' in globals())") == (
        "(False, False, False)"
    )


def test_suggested_code_frees_what_the_fix_frees(session: KernelSession) -> None:
    run(session, "big = np.ones(N)")
    count = run(session, "big").execution_count
    sug = only(scan(session), "delete_holder", holder_id="h1")
    assert f"Out.pop({count}, None)" in sug["code"] and "del big" in sug["code"]
    record = run(session, sug["code"]).record
    assert record is not None
    assert -record["rss_delta"] >= 0.9 * sug["estimated_freed_bytes"]


def test_fix_is_refused_when_the_name_now_holds_another_object(session: KernelSession) -> None:
    run(session, "big = np.ones(N)")
    sug = only(scan(session), "delete_holder", targets=["big"])
    run(session, "big = np.zeros(N)")
    reply = apply(session, sug)
    assert reply["ok"] is False and reply["error"]["code"] == ERR_REFUSED
    assert "big" in reply["error"]["message"] and "nothing was changed" in reply["error"]["message"]
    assert value(session, "float(big.sum())") == "0.0"  # untouched


def test_fix_is_refused_when_the_name_is_gone_or_the_request_differs(
    session: KernelSession,
) -> None:
    run(session, "a = np.ones(N)\nb = np.ones(N)")
    result = scan(session)
    sug_a = only(result, "delete_holder", targets=["a"])
    sug_b = only(result, "delete_holder", targets=["b"])
    for override in (
        {"targets": ["b"]},
        {"action": "gc_collect"},
        {"suggestion_id": "s999"},
    ):
        reply = apply(session, sug_a, **override)
        assert reply["ok"] is False and reply["error"]["code"] == ERR_REFUSED, override
    run(session, "del b")
    done = applied(session, sug_b)  # already deleted: reported as done, nothing else touched
    assert done["already_done"] == ["b"] and done["measured_freed_bytes"] >= 0
    assert value(session, "'a' in globals()") == "True"
    # A newer scan replaces the table: the old suggestion id means nothing now.
    scan(session)
    freed_most(applied(session, only(scan(session), "delete_holder", targets=["a"])))


def test_copy_view(session: KernelSession) -> None:
    run(session, "base = np.ones(N)\nhead = base[:1000]\ndel base")
    sug = only(scan(session), "copy_view", targets=["head"])
    assert sug["code"] == "head = head.copy()"
    freed_most(applied(session, sug))
    assert value(session, "(head.base is None, head.shape)") == "(True, (1000,))"


def test_cache_clear(session: KernelSession) -> None:
    run(session, "@functools.lru_cache\ndef load(i):\n    return np.ones(N)\nload(1);")
    sug = only(scan(session), "cache_clear", targets=["load"])
    assert sug["code"] == "load.cache_clear()"
    freed_most(applied(session, sug))
    assert value(session, "load.cache_info().currsize") == "0"


def test_clear_class_attribute(session: KernelSession) -> None:
    run(session, "class Registry:\n    seen = []\nRegistry.seen.append(np.ones(N))")
    sug = only(scan(session), "clear_class_attribute", targets=["Registry.seen"])
    assert sug["code"] == "Registry.seen.clear()"
    freed_most(applied(session, sug))
    assert value(session, "len(Registry.seen)") == "0"


def test_clear_traceback(session: KernelSession) -> None:
    run(session, "def boom():\n    scratch = np.ones(N)\n    raise ValueError('boom')")
    failed = session.run_cell("boom()", str(uuid.uuid4()))
    assert failed.status == "error"
    sug = only(scan(session), "clear_traceback")
    assert "sys.last_traceback" in sug["targets"]
    assert sug["code"].startswith("import sys, traceback; traceback.clear_frames(")
    freed_most(applied(session, sug))
    assert value(session, "hasattr(sys, 'last_traceback')") == "False"


def test_reset_output_cache(session: KernelSession) -> None:
    run(session, "np.ones(N)")
    run(session, "np.ones(N) * 2")
    sug = only(scan(session), "reset_output_cache")
    assert sug["code"] == "%reset -f out" and sug["targets"] == ["Out"]
    assert sug["estimated_freed_bytes"] >= 2 * NBYTES
    freed_most(applied(session, sug))
    assert value(session, "(len(Out), _)") == "(0, '')"


# ------------------------------------------------------------------ resources


@pytest.mark.parametrize(
    ("setup", "label", "check"),
    [
        ("f = open('/etc/hostname')", "f", "f.closed"),
        ("import socket\nf = socket.socket()", "f", "f.fileno() == -1"),
        ("import mmap\nf = mmap.mmap(-1, 1 << 20)", "f", "f.closed"),
        (
            "import tempfile, os\nf = tempfile.TemporaryDirectory()",
            "f",
            "not os.path.isdir(f.name)",
        ),
    ],
)
def test_close_resource(session: KernelSession, setup: str, label: str, check: str) -> None:
    run(session, setup)
    result = scan(session)
    res = next(r for r in result["resources"] if label in r["held_by"])
    sug = only(result, "close_resource", resource_id=res["id"])
    assert sug["targets"] == [res["id"]]
    applied(session, sug)
    assert value(session, check) == "True"
    again = applied(session, sug)  # already closed: reported as done, nothing raised
    assert again["already_done"] == [label]


def test_close_sqlite_and_h5py(session: KernelSession, tmp_path: Any) -> None:
    h5py = pytest.importorskip("h5py")
    del h5py
    run(
        session,
        "import sqlite3, h5py\ncon = sqlite3.connect(':memory:')\n"
        f"h5 = h5py.File({str(tmp_path / 'x.h5')!r}, 'w')",
    )
    result = scan(session)
    for label in ("con", "h5"):
        res = next(r for r in result["resources"] if r["label"] == label)
        applied(session, only(result, "close_resource", resource_id=res["id"]))
    assert value(session, "bool(h5.id.valid)") == "False"
    closed = session.run_cell("con.execute('select 1')", str(uuid.uuid4()))
    assert closed.status == "error" and "closed" in closed.error["evalue"]


def test_terminate_process(session: KernelSession) -> None:
    run(session, "import subprocess\nchild = subprocess.Popen(['sleep', '600'])")
    result = scan(session)
    res = next(r for r in result["resources"] if r["kind"] == "process")
    applied(session, only(result, "terminate_process", resource_id=res["id"]))
    assert value(session, "child.returncode") == "-15"  # SIGTERM, reaped


def test_close_pool(session: KernelSession) -> None:
    run(session, "import multiprocessing\npool = multiprocessing.get_context('fork').Pool(2)")
    result = scan(session)
    res = next(r for r in result["resources"] if r["kind"] == "pool")
    applied(session, only(result, "close_pool", resource_id=res["id"]))
    assert value(session, "pool._state") == "'TERMINATE'"


def test_close_figures(session: KernelSession) -> None:
    pytest.importorskip("matplotlib")
    run(
        session,
        "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
        "for i in range(3):\n    plt.figure().add_subplot().imshow(np.ones((2000, 2000)))",
    )
    result = scan(session)
    everything = only(result, "close_figures", resource_id=None)
    assert len(everything["targets"]) == 3
    applied(session, everything)
    assert value(session, "plt.get_fignums()") == "[]"


def test_cancel_task(session: KernelSession) -> None:
    run(
        session,
        "import asyncio\nasync def nap():\n    await asyncio.sleep(3600)\n"
        "job = asyncio.get_running_loop().create_task(nap(), name='nap')",
    )
    result = scan(session)
    res = next(r for r in result["resources"] if r["kind"] == "asyncio_task")
    applied(session, only(result, "cancel_task", resource_id=res["id"]))
    run(session, "await asyncio.sleep(0.05)")
    assert value(session, "job.cancelled()") == "True"


# ------------------------------------------------------------------ findings


def test_gc_collect_frees_cyclic_garbage(session: KernelSession) -> None:
    run(
        session,
        "gc.disable()\nclass Node:\n    pass\n"
        "a, b = Node(), Node()\na.other, b.other = b, a\na.data = np.ones(N)\ndel a, b",
    )
    try:
        result = scan(session)
        garbage = result["findings"]["cyclic_garbage"]
        assert garbage["objects"] >= 2 and garbage["bytes"] >= NBYTES
        sug = only(result, "gc_collect")
        assert sug["targets"] == [] and sug["destructive"] is False
        freed_most(applied(session, sug))
    finally:
        run(session, "gc.enable()")


def test_allocator_gap_is_explained_and_malloc_trim_returns_the_c_heap(
    session: KernelSession,
) -> None:
    # Python frees 2M small dicts but 0.1 % survive, spread over every arena:
    # pymalloc cannot give any arena back, so RSS stays.
    run(session, "rows = [{'id': i, 'v': float(i)} for i in range(2_000_000)]\nkeep = rows[::1000]")
    sug = only(scan(session), "delete_holder", targets=["rows"])
    result = applied(session, sug)
    assert result["measured_freed_bytes"] < 0.5 * sug["estimated_freed_bytes"]
    assert result["explanation"] is not None and "allocator gap" in result["explanation"]
    # Medium-sized objects come from glibc's heap: the same pattern leaves free
    # pages that malloc_trim(0) returns.
    run(session, "blobs = [bytes(3000) for _ in range(200_000)]\nsome = blobs[::100]\ndel blobs")
    found = scan(session)
    gap = found["findings"]["allocator_gap"]
    assert gap["malloc_trim"] is True and gap["bytes"] >= 300e6
    trim = only(found, "malloc_trim")
    assert "small-object arenas" in trim["reason"]  # the pymalloc part is explained
    assert trim["estimated_freed_bytes"] >= 300e6
    measured = applied(session, trim)
    assert measured["measured_freed_bytes"] >= 0.8 * trim["estimated_freed_bytes"], measured


# ------------------------------------------------------------------ hostile input


def test_hostile_names_are_data(session: KernelSession, tmp_path: Any) -> None:
    path = tmp_path / XSS
    run(
        session,
        f"d = {{{XSS!r}: np.ones(N)}}\n"
        f"fh = open({str(path)!r}, 'w')\n"
        f"Evil = type({XSS!r}, (), {{}})\nevil = Evil()\nevil.data = np.ones(N)",
    )
    result = scan(session)
    text = json.dumps(result)
    assert XSS in text  # carried as plain data; the front end and report escape it
    res = next(r for r in result["resources"] if r["label"] == "fh")
    assert XSS in res["detail"]
    types = {h["type"] for h in result["holders"]}
    assert f"__main__.{XSS}" in types
    for sug in result["suggestions"]:
        if not sug["code"].startswith("%"):
            compile(sug["code"], "<suggestion>", "exec")  # valid Python, nothing injected


BAD_REQUESTS: list[dict[str, Any]] = [
    {},
    {"suggestion_id": 1, "action": "delete_holder", "targets": []},
    {"suggestion_id": "s1", "action": "exec", "targets": []},
    {"suggestion_id": "s1", "action": "delete_holder", "targets": "big"},
    {"suggestion_id": "s1", "action": "delete_holder", "targets": [1, 2]},
    {"suggestion_id": "s1", "action": "delete_holder", "targets": [{"$": "x"}]},
    {"suggestion_id": "s1", "action": "delete_holder", "targets": ["x" * 2000]},
    {"suggestion_id": "s1" * 200, "action": "delete_holder", "targets": []},
    {"suggestion_id": "s1", "action": ["delete_holder"], "targets": []},
    {"suggestion_id": "s1", "action": "delete_holder", "targets": ["big"] * 5000},
    {"suggestion_id": "s1", "action": "delete_holder", "targets": ["x" * 70_000]},
]


def test_fuzzed_apply_fix_is_answered_and_the_kernel_keeps_working(
    session: KernelSession,
) -> None:
    run(session, "big = np.ones(N)")
    result = scan(session)
    for params in BAD_REQUESTS:
        request_id = session.send_request("apply_fix", **params)
        reply = session.wait_reply(request_id, timeout=60)
        assert reply["ok"] is False, params
        assert reply["error"]["code"] in (ERR_BAD_REQUEST, ERR_REFUSED), (params, reply)
    # Forged but well-formed: refused, nothing deleted.
    for forged in (
        {"suggestion_id": "s1", "action": "delete_holder", "targets": ["__builtins__"]},
        {"suggestion_id": "s1", "action": "close_resource", "targets": ["big"]},
        {"suggestion_id": "nope", "action": "gc_collect", "targets": []},
    ):
        request_id = session.send_request("apply_fix", **forged)
        reply = session.wait_reply(request_id, timeout=60)
        assert reply["error"]["code"] == ERR_REFUSED, (forged, reply)
    assert value(session, "float(big.sum())") == f"{float(N)}"
    assert session.request("get_rss")["ok"] is True
    run(session, "x = 1 + 1")
    freed_most(applied(session, only(result, "delete_holder", targets=["big"])))


def test_fix_sent_on_a_subshell_waits_for_the_running_cell(session: KernelSession) -> None:
    if not session.supports_subshells:
        pytest.skip("the kernel has no subshells (ipykernel < 7)")
    run(session, "big = np.ones(N)")
    sug = only(scan(session), "delete_holder", targets=["big"])
    subshell = session.create_subshell()
    msg_id = session.start_cell("import time\ntime.sleep(3)\nstill_there = 'big' in globals()")
    # A live reading on the subshell proves the cell is running when the fix arrives.
    while True:
        rss_id = session.send_request("get_rss", subshell_id=subshell)
        if session.wait_reply(rss_id, timeout=30)["result"]["running"] is not None:
            break
    fix_id = session.send_request(
        "apply_fix",
        subshell_id=subshell,
        suggestion_id=sug["id"],
        action=sug["action"],
        targets=sug["targets"],
    )
    assert session.finish_cell(msg_id, timeout=60).status == "ok"
    reply = session.wait_reply(fix_id, timeout=60)
    assert reply["ok"] is True, reply
    # The cell saw big to its end: the fix ran after it, on the main thread.
    assert value(session, "(still_there, 'big' in globals())") == "(True, False)"
    session.delete_subshell(subshell)
