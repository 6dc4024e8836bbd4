"""Line profiles end to end: a real ipykernel, armed over the comm like JupyterLab does.

Each figure is compared with numpy's ``nbytes`` read back from the kernel
(outside truth) within 5 %, with tracemalloc and, where installed, memray.
"""

from __future__ import annotations

import ast
import os
from typing import Any

import pytest
from cluster_helpers import Recorder

from memory_doctor.headless.driver import KernelSession
from memory_doctor.kernel.profile.memray_backend import available as memray_available

pytestmark = pytest.mark.kernel

BACKENDS = [
    "tracemalloc",
    pytest.param(
        "memray", marks=pytest.mark.skipif(not memray_available(), reason="memray not installed")
    ),
]
DEFINE = "import numpy as np, time\ndef make(n):\n    return np.ones(n)\n"
#: Messages recorded for the TypeScript decoders' and the profile views' tests
#: (MEMORY_DOCTOR_WRITE_FIXTURES=1 writes them under tests/fixtures/protocol/messages/).
RECORDED = Recorder("test_profile_e2e.py")
T_BYTES = 4_000_000 * 8


def within(measured: int, truth: int, rel: float = 0.05) -> bool:
    return abs(measured - truth) <= rel * truth


@pytest.fixture(scope="module")
def session(kernel_session: KernelSession) -> KernelSession:
    result = kernel_session.run_cell(DEFINE, "define")
    assert result.status == "ok", result.error
    return kernel_session


def value(session: KernelSession, expression: str) -> Any:
    text = session.evaluate({"v": expression})["v"]
    assert isinstance(text, str), text
    return ast.literal_eval(text)


def arm(session: KernelSession, cid: str, backend: str) -> dict[str, Any]:
    reply = session.request("profile_next", cell_id=cid, backend=backend)
    assert reply["ok"], reply
    RECORDED.add("reply_profile_next", reply, "profile_next")
    return dict(reply["result"])


def profile_of(session: KernelSession) -> dict[str, Any]:
    """The cell_profile in the last cell's messages, after its cell_measured."""
    kinds = [
        data.get("type")
        for data in session.comm_data(session.last_messages, session.comm_id)
        if isinstance(data, dict)
    ]
    assert "cell_profile" in kinds, kinds
    assert kinds.index("cell_measured") < kinds.index("cell_profile")
    (message,) = [
        data
        for data in session.comm_data(session.last_messages, session.comm_id)
        if isinstance(data, dict) and data.get("type") == "cell_profile"
    ]
    return dict(message["profile"])


def line(profile: dict[str, Any], number: int, scope: str = "cell") -> dict[str, Any]:
    found = [x for x in profile["lines"] if x["line"] == number and x["scope"] == scope]
    assert found, (number, scope, profile["lines"])
    return dict(found[0])


def clean(session: KernelSession) -> None:
    """Nothing of the profile is left running in the kernel."""
    assert value(session, "__import__('tracemalloc').is_tracing()") is False
    assert value(session, "__import__('sys').gettrace() is None") is True
    threads = value(session, "[t.name for t in __import__('threading').enumerate()]")
    assert "memory-doctor-memray" not in threads


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_lines_with_cell_ids(session, backend):
    cid = f"main-{backend}"
    assert arm(session, cid, backend) == {"cell_id": cid, "backend": backend}
    code = "a = np.ones(1_000_000)\nb = make(2_000_000)\ns = float(np.ones(4_000_000).sum())\n"
    assert session.run_cell(code, cid).status == "ok"
    profile = profile_of(session)
    RECORDED.add(
        "cell_profile" if backend == "tracemalloc" else f"cell_profile_{backend}",
        last_message(session),
    )
    a, b = value(session, "a.nbytes"), value(session, "b.nbytes")
    assert profile["backend"] == backend and profile["cell"]["cell_id"] == cid
    assert within(line(profile, 1)["net_bytes"], a) and within(line(profile, 1)["peak_bytes"], a)
    assert within(line(profile, 2)["net_bytes"], b) and within(line(profile, 2)["peak_bytes"], b)
    l3 = line(profile, 3)
    assert l3["net_bytes"] < 0.05 * T_BYTES and within(l3["peak_bytes"], T_BYTES)
    fn = line(profile, 3, scope="function")
    assert fn["cell_id"] == "define" and fn["source"] == "return np.ones(n)"
    assert within(fn["net_bytes"], b) and within(fn["peak_bytes"], b)
    assert line(profile, 1)["holders"] == ["a"] and line(profile, 2)["holders"] == ["b"]
    assert profile["stacks"]
    clean(session)


@pytest.mark.parametrize("backend", BACKENDS)
def test_raising_cell(session, backend):
    cid = f"raise-{backend}"
    arm(session, cid, backend)
    result = session.run_cell("c = np.ones(300_000)\n{}['missing']\nd = 1\n", cid)
    assert result.status == "error" and result.error is not None
    assert result.error["ename"] == "KeyError" and result.error["evalue"] == "'missing'"
    profile = profile_of(session)
    assert profile["error"] == "KeyError"
    assert within(line(profile, 1)["net_bytes"], value(session, "c.nbytes"))
    assert value(session, "'d' in globals()") is False
    clean(session)


@pytest.mark.parametrize("backend", BACKENDS)
def test_interrupted_cell(session, backend):
    cid = f"loop-{backend}"
    arm(session, cid, backend)
    code = "keep = []\nwhile True:\n    keep.append(np.ones(10_000))\n    time.sleep(0.002)\n"
    result = session.run_cell(code, cid, timeout=1.5)  # then the driver interrupts it
    assert result.status == "timeout"
    profile = profile_of(session)
    assert profile["error"] == "KeyboardInterrupt", profile
    kept = value(session, "sum(x.nbytes for x in keep)")
    assert kept > 0
    assert within(line(profile, 3)["net_bytes"], kept), (kept, profile)
    clean(session)
    assert session.run_cell("z = 1", "after-interrupt").status == "ok"
    assert not [
        d
        for d in session.comm_data(session.last_messages, session.comm_id)
        if isinstance(d, dict) and d.get("type") == "cell_profile"
    ]


def test_interrupt_landing_in_the_line_hook(session):
    """A tight loop spends most of its time in our hook: the interrupt lands there."""
    arm(session, "tight", "tracemalloc")
    code = "keep = []\nwhile True:\n    keep.append(bytearray(1000))\n"
    result = session.run_cell(code, "tight", timeout=1.0)
    assert result.status == "timeout"
    profile = profile_of(session)
    assert profile["error"] == "KeyboardInterrupt"
    n = value(session, "len(keep)")
    truth = value(session, "sum(__import__('sys').getsizeof(x) for x in keep)")
    assert n > 0
    assert within(line(profile, 3)["net_bytes"], truth, 0.10)
    clean(session)


def test_requests_are_checked_and_cancelled(session):
    bad = session.request("profile_next", cell_id="x", backend="fil")
    assert not bad["ok"] and bad["error"]["code"] == "bad_request"
    assert "use one of" in bad["error"]["message"]
    missing = session.request("profile_next", backend="auto")
    assert not missing["ok"] and "cell_id" in missing["error"]["message"]
    arm(session, "cancelled", "tracemalloc")
    reply = session.request("profile_cancel", cell_id="cancelled")
    assert reply["ok"] and reply["result"] == {"cell_id": "cancelled", "cancelled": True}
    RECORDED.add("reply_profile_cancel", reply, "profile_cancel")
    assert session.run_cell("q = 1", "cancelled").status == "ok"
    kinds = [d.get("type") for d in session.comm_data(session.last_messages, session.comm_id)]
    assert "cell_profile" not in kinds


def test_the_magic_in_a_kernel(session):
    cell = "%%memory profile --backend tracemalloc\nm = make(500_000)\nm.nbytes\n"
    result = session.run_cell(cell, "magic")
    assert result.status == "ok"
    profile = profile_of_any(session)
    outputs = [m for m in session.last_messages if m["msg_type"] == "execute_result"]
    assert outputs and outputs[0]["content"]["data"]["text/plain"] == "4000000"
    shown = [m for m in session.last_messages if m["msg_type"] == "display_data"]
    assert shown and "At peak" in shown[0]["content"]["data"]["text/plain"]
    assert within(line(profile, 2)["net_bytes"], value(session, "m.nbytes"))


def last_message(session: KernelSession) -> dict[str, Any]:
    """The cell_profile message of the last cell."""
    (message,) = [
        data
        for data in session.comm_data(session.last_messages, session.comm_id)
        if isinstance(data, dict) and data.get("type") == "cell_profile"
    ]
    return dict(message)


def profile_of_any(session: KernelSession) -> dict[str, Any]:
    return dict(last_message(session)["profile"])


def test_fixtures_are_written_on_request() -> None:
    """``MEMORY_DOCTOR_WRITE_FIXTURES=1`` records the named messages for the TypeScript side."""
    expected = {"reply_profile_next", "reply_profile_cancel", "cell_profile"}
    if memray_available():
        expected.add("cell_profile_memray")
    assert set(RECORDED.named) == expected
    if os.environ.get("MEMORY_DOCTOR_WRITE_FIXTURES") != "1":
        pytest.skip("set MEMORY_DOCTOR_WRITE_FIXTURES=1 to rewrite tests/fixtures/protocol/")
    RECORDED.write()
