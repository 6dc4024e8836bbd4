"""End to end: a real ipykernel, the real helper, driven like JupyterLab drives it.

``KernelSession`` sends execute requests with ``metadata: {"cellId": ...}``,
bootstraps with a silent ``%load_ext memory_doctor`` and talks over the comm.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from memory_doctor.headless.driver import KernelSession
from memory_doctor.headless.errors import HelperMissingError
from memory_doctor.protocol import PIP_INSTALL_HINT, PROTOCOL_VERSION, RECORD_FIELDS

pytestmark = pytest.mark.kernel

MiB = 2**20


@pytest.fixture(scope="module")
def session(kernel_session: KernelSession) -> KernelSession:
    result = kernel_session.run_cell("import numpy as np", "setup")
    assert result.status == "ok", result.error
    return kernel_session


@pytest.fixture
def fresh_session(kernel_env: dict[str, str]) -> Iterator[KernelSession]:
    """A kernel of its own, not bootstrapped, for tests that change its state."""
    with KernelSession(env=kernel_env) as fresh:
        fresh.start(bootstrap=False)
        yield fresh


def cell_id() -> str:
    return str(uuid.uuid4())


def measured(session: KernelSession, comm_id: str | None = None) -> list[dict[str, Any]]:
    """cell_measured records in the last cell's messages (on one comm, or all)."""
    return [
        data["record"]
        for data in session.comm_data(session.last_messages, comm_id)
        if isinstance(data, dict) and data.get("type") == "cell_measured"
    ]


def test_hello_describes_the_kernel(session):
    hello = session.hello
    assert hello is not None
    assert hello["type"] == "hello" and hello["protocol_version"] == PROTOCOL_VERSION
    assert hello["peak_method"] in ("vmhwm", "ru_maxrss", "none")
    assert hello["peak_exact"] is (hello["peak_method"] == "vmhwm")
    assert hello["rss"] > 10 * MiB and hello["pid"] > 0
    assert hello["config"] == {"tracemalloc": False, "leak_threshold_bytes": 1 << 20}
    assert session.kernel_info["implementation"] == "ipython"


def test_allocate_and_free_300mb_shows_the_peak(session):
    result = session.run_cell("a = np.ones(300 * 2**20 // 8); a[:] = 2; del a", cell_id())
    assert result.status == "ok", result.error
    record = result.record
    assert record is not None
    assert record["peak_increase"] >= 0.98 * 300 * MiB
    assert abs(record["rss_delta"]) < 50 * MiB


def test_kept_200mb_shows_in_rss_delta(session):
    try:
        result = session.run_cell("keep = np.ones(200 * 2**20 // 8); keep[:] = 1", cell_id())
        assert result.status == "ok", result.error
        assert result.record["rss_delta"] == pytest.approx(200 * MiB, rel=0.10)
        assert result.record["peak_increase"] >= result.record["rss_delta"]
    finally:
        session.run_cell("del keep", cell_id())


def test_gil_held_spike_is_caught(session):
    # One C call holding the GIL: a sampler could never see it, VmHWM does.
    result = session.run_cell("len(b'x' * 500_000_000)", cell_id())
    assert result.status == "ok", result.error
    assert result.record["peak_increase"] >= 450 * MiB
    assert abs(result.record["rss_delta"]) < 50 * MiB


def test_record_carries_cell_id_and_execution_count(session):
    cid = cell_id()
    result = session.run_cell("x = 41 + 1", cid)
    record = result.record
    assert tuple(record) == RECORD_FIELDS
    assert record["cell_id"] == cid
    assert record["execution_count"] == result.execution_count
    assert record["status"] == "ok" and record["peak_method"] == session.hello["peak_method"]
    follow = session.run_cell("x", cell_id())
    assert follow.record["execution_count"] == result.execution_count + 1
    assert follow.stdout == ""


def test_raising_cell_is_recorded_and_kernel_keeps_working(session):
    cid = cell_id()
    result = session.run_cell("print('before'); 1 / 0", cid)
    assert result.status == "error"
    assert result.error["ename"] == "ZeroDivisionError"
    assert result.stdout == "before\n"
    assert result.record["status"] == "error" and result.record["cell_id"] == cid
    after = session.run_cell("y = 1", cell_id())
    assert after.status == "ok" and after.record["status"] == "ok"


def test_silent_and_no_history_executions_produce_no_record(session):
    silent = session.run_cell("z = 1", cell_id(), silent=True)
    assert silent.status == "ok" and silent.record is None and measured(session) == []
    quiet = session.run_cell("z = 2", cell_id(), store_history=False)
    assert quiet.status == "ok" and quiet.record is None and measured(session) == []
    normal = session.run_cell("z = 3", cell_id())
    assert normal.record is not None


def test_loading_twice_registers_once(session):
    again = session.run_cell("%load_ext memory_doctor", silent=True, store_history=False)
    assert again.status == "ok"
    second, hello = session.open_comm()
    assert hello["type"] == "hello"
    try:
        session.run_cell("w = 1", cell_id())
        assert len(measured(session, session.comm_id)) == 1
        assert len(measured(session, second)) == 1
        assert len(measured(session)) == 2  # one per comm, no duplicates
    finally:
        session.close_comm(second)
    session.run_cell("w = 2", cell_id())
    assert len(measured(session)) == 1


def test_second_comm_gets_earlier_records_in_hello(session):
    cids = [cell_id() for _ in range(3)]
    for cid in cids:
        session.run_cell("v = 1", cid)
    comm_id, hello = session.open_comm()
    try:
        replayed = [r["cell_id"] for r in hello["records"]]
        assert replayed[-3:] == cids
        assert all(tuple(r) == RECORD_FIELDS for r in hello["records"])
    finally:
        session.close_comm(comm_id)


def test_requests_get_rss_and_configure(session):
    reply = session.request("get_rss")
    assert reply["ok"] is True
    assert reply["result"]["rss"] > 10 * MiB
    assert reply["result"]["peak_rss"] >= reply["result"]["rss"]
    try:
        reply = session.request("configure", tracemalloc=True)
        assert reply["result"] == {"config": {"tracemalloc": True, "leak_threshold_bytes": 1 << 20}}
        record = session.run_cell("lst = list(range(100_000))", cell_id()).record
        assert record["py_heap_delta"] > 100_000 * 8
        assert record["py_heap_peak"] >= record["py_heap_delta"]
    finally:
        assert session.request("configure", tracemalloc=False)["ok"]
        session.run_cell("del lst", cell_id())
    record = session.run_cell("u = 1", cell_id()).record
    assert record["py_heap_delta"] is None


FUZZ: list[tuple[str, Any, str]] = [
    ("not an object", ["configure", {"tracemalloc": True}], "bad_request"),
    ("a string", "get_rss", "bad_request"),
    ("null", None, "bad_request"),
    ("no request_id", {"type": "get_rss"}, "bad_request"),
    ("numeric request_id", {"type": "get_rss", "request_id": 12}, "bad_request"),
    ("unknown type", {"type": "frobnicate", "request_id": "f1"}, "unknown_request"),
    ("type not a string", {"type": ["get_rss"], "request_id": "f2"}, "bad_request"),
    (
        "bad option value",
        {"type": "configure", "request_id": "f3", "tracemalloc": "on"},
        "bad_request",
    ),
    ("unknown option", {"type": "configure", "request_id": "f4", "eval": "1+1"}, "bad_request"),
    ("oversized", {"type": "get_rss", "request_id": "f5", "pad": "x" * 300_000}, "bad_request"),
]


@pytest.mark.parametrize(("name", "data", "code"), FUZZ, ids=[f[0] for f in FUZZ])
def test_comm_fuzz_gets_an_error_and_measuring_continues(session, name, data, code):
    (answer,) = session.comm_send(data)
    if answer["type"] == "error":
        assert answer["code"] == code
    else:
        assert answer["type"] == "reply" and answer["ok"] is False
        assert answer["error"]["code"] == code
    assert session.request("configure")["result"] == {
        "config": {"tracemalloc": False, "leak_threshold_bytes": 1 << 20}
    }
    after = session.run_cell("t = 1", cell_id())
    assert after.status == "ok" and after.record is not None


def test_protocol_mismatch_is_refused_naming_both_versions(session):
    _, first = session.open_comm(data={"protocol_version": "2.0"}, metadata={"version": "2.0"})
    assert first["type"] == "error" and first["code"] == "protocol_mismatch"
    assert "2.0" in first["message"] and PROTOCOL_VERSION in first["message"]
    assert session.run_cell("s = 1", cell_id()).record is not None


def test_timeout_interrupts_the_cell_and_the_kernel_survives(session):
    result = session.run_cell("import time; time.sleep(60)", cell_id(), timeout=1.5)
    assert result.status == "timeout"
    assert result.error["ename"] == "Timeout"
    assert result.record is not None and result.record["status"] == "error"
    assert session.run_cell("r = 1", cell_id()).status == "ok"


def test_bootstrap_adds_no_names_and_no_history(fresh_session):
    probe = {
        "names": "sorted(globals())",
        "hidden": "sorted(get_ipython().user_ns_hidden)",
        "history": "len(In)",
        "count": "get_ipython().execution_count",
    }
    fresh_session.run_cell("import numpy as np", cell_id())
    before = fresh_session.evaluate(probe)
    hello = fresh_session.bootstrap()
    assert hello["type"] == "hello"
    fresh_session.request("get_rss")
    fresh_session.request("configure", tracemalloc=False)
    after = fresh_session.evaluate(probe)
    assert after == before
    assert "'np'" in after["names"] and "'_i1'" in after["names"]  # the probe sees names


def test_restart_reloads_the_helper_even_after_the_kernel_died(fresh_session):
    fresh_session.bootstrap()
    died = fresh_session.run_cell("import os; os._exit(1)", cell_id())
    assert died.status == "kernel_died" and died.error["ename"] == "KernelDied"
    assert not fresh_session.is_alive()
    hello = fresh_session.restart()
    assert hello["type"] == "hello" and hello["records"] == []
    cid = cell_id()
    result = fresh_session.run_cell("q = 1", cid)
    assert result.status == "ok"
    assert result.record["cell_id"] == cid and result.record["execution_count"] == 1
    hello = fresh_session.restart()  # a live kernel restarts too
    assert fresh_session.run_cell("q = 2", cell_id()).record["execution_count"] == 1


def test_missing_helper_raises_with_the_pip_command(nohelper_kernel, kernel_env):
    with KernelSession(nohelper_kernel, env=kernel_env) as nohelper:
        with pytest.raises(HelperMissingError) as caught:
            nohelper.start()
        assert PIP_INSTALL_HINT in str(caught.value)
        assert nohelper.is_alive()  # the kernel itself is fine
        assert nohelper.run_cell("1 + 1").status == "ok"
