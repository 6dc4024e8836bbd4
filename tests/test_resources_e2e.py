"""End to end: every resource kind is detected and attributed in a real ipykernel.

Each test opens one kind of resource in a cell, scans through the comm, and
checks the resource's kind, description, the root labels holding it and the
cell that created it; then it closes the resource in a cell and checks that a
new scan no longer lists it (only open resources are reported).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kernel_helpers import run
from kernel_helpers import scan as complete_scan

from memory_doctor.headless.driver import KernelSession
from memory_doctor.protocol import FIX_ACTIONS, RESOURCE_KINDS

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def session(kernel_session: KernelSession) -> Iterator[KernelSession]:
    run(kernel_session, "import numpy as np, gc, sys, os, threading, time, asyncio")
    yield kernel_session


def scan(session: KernelSession) -> dict[str, Any]:
    """A complete scan whose resources and suggestions have the wire's shape."""
    result = complete_scan(session)
    for res in result["resources"]:
        assert res["kind"] in RESOURCE_KINDS
        assert set(res) == {
            "id",
            "kind",
            "label",
            "detail",
            "held_by",
            "cell_id",
            "execution_count",
            "note",
        }
    for sug in result["suggestions"]:
        assert sug["action"] in FIX_ACTIONS
        assert isinstance(sug["code"], str) and sug["code"]
    return result


def one(result: dict[str, Any], kind: str, held_by: str) -> dict[str, Any]:
    # Listed under its own name, or a registry label (``task 'x'``) when a
    # variable is only one of its holders.
    found = [
        r
        for r in result["resources"]
        if r["kind"] == kind
        and held_by in r["held_by"]
        and (r["label"] == held_by or not r["label"].isidentifier())
    ]
    assert len(found) == 1, (kind, held_by, result["resources"])
    return found[0]


def none_held_by(result: dict[str, Any], label: str) -> bool:
    return not any(label in r["held_by"] for r in result["resources"])


def suggestion_for(result: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    found = [s for s in result["suggestions"] if s["resource_id"] == resource["id"]]
    assert len(found) == 1, (resource, result["suggestions"])
    return found[0]


def test_open_file_is_listed_with_path_mode_and_cell(session: KernelSession, tmp_path: Any) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    cid = str(uuid.uuid4())
    run(session, f"fh = open({str(path)!r})", cid)
    res = one(scan(session), "file", "fh")
    assert str(path) in res["detail"] and "mode 'r'" in res["detail"]
    assert res["cell_id"] == cid
    assert suggestion_for(scan(session), res)["code"] == "fh.close()"
    run(session, "fh.close()")
    assert none_held_by(scan(session), "fh")


def test_file_inside_a_container_gets_a_pasteable_path(
    session: KernelSession, tmp_path: Any
) -> None:
    path = tmp_path / "log.txt"
    run(session, f"handles = {{'log': open({str(path)!r}, 'w')}}")
    result = scan(session)
    res = one(result, "file", "handles")
    code = suggestion_for(result, res)["code"]
    assert code == "handles['log'].close()"
    run(session, code)
    assert none_held_by(scan(session), "handles")
    run(session, "del handles")


def test_socket(session: KernelSession) -> None:
    run(session, "import socket\nsrv = socket.socket()\nsrv.bind(('127.0.0.1', 0))\nsrv.listen()")
    port = session.evaluate({"p": "srv.getsockname()[1]"})["p"]
    res = one(scan(session), "socket", "srv")
    assert res["detail"].startswith(f"TCP 127.0.0.1:{port}")
    run(session, "srv.close()")
    assert none_held_by(scan(session), "srv")


def test_sqlite_connection(session: KernelSession) -> None:
    run(
        session,
        "import sqlite3\ncon = sqlite3.connect(':memory:')\ncon.execute('create table t(x)')",
    )
    res = one(scan(session), "db_connection", "con")
    assert "SQLite" in res["detail"]
    run(session, "con.close()")
    assert none_held_by(scan(session), "con")


def test_sqlalchemy_engine_and_connection(session: KernelSession, tmp_path: Any) -> None:
    pytest.importorskip("sqlalchemy")
    db = tmp_path / "x.db"
    run(
        session,
        f"import sqlalchemy as sa\nengine = sa.create_engine('sqlite:///{db}')\n"
        "conn = engine.connect()",
    )
    result = scan(session)
    engine = one(result, "db_connection", "engine")
    assert engine["detail"] == f"SQLAlchemy engine sqlite:///{db}"
    conn = one(result, "db_connection", "conn")
    assert conn["detail"].startswith("SQLAlchemy connection to sqlite://")
    assert suggestion_for(result, engine)["code"] == "engine.dispose()"
    run(session, "conn.close(); engine.dispose(); del engine, conn")


def test_thread_is_listed_with_a_note_and_no_fix(session: KernelSession) -> None:
    run(
        session,
        "stop = threading.Event()\n"
        "def crunch():\n"
        "    block = np.ones(4_000_000)\n"
        "    stop.wait()\n"
        "worker = threading.Thread(target=crunch, name='cruncher', daemon=True)\n"
        "worker.start()",
    )
    result = scan(session)
    res = one(result, "thread", "worker")
    assert res["label"] == "thread 'cruncher'"
    assert "crunch()" in res["detail"] and "daemon" in res["detail"]
    assert "cannot be stopped safely" in res["note"]
    assert "32 MB" in res["note"]  # what the thread's frames hold
    assert not [s for s in result["suggestions"] if s["resource_id"] == res["id"]]
    run(session, "stop.set(); worker.join()")
    assert none_held_by(scan(session), "worker")


def test_child_process(session: KernelSession) -> None:
    run(session, "import subprocess\nchild = subprocess.Popen(['sleep', '60'])")
    pid = int(session.evaluate({"p": "child.pid"})["p"])
    result = scan(session)
    res = one(result, "process", "child")
    assert res["detail"] == f"pid {pid}: sleep 60 (running)"
    assert result["findings"]["children"] >= 1
    run(session, "child.kill(); child.wait()")
    assert none_held_by(scan(session), "child")


def test_pool(session: KernelSession) -> None:
    run(session, "from multiprocessing.pool import ThreadPool\npool = ThreadPool(2)")
    result = scan(session)
    res = one(result, "pool", "pool")
    assert res["detail"] == "ThreadPool with 2 threads"
    # Its worker and handler threads belong to the pool, not listed again as threads.
    assert [r for r in result["resources"] if r["kind"] == "thread"] == []
    run(session, "pool.terminate(); pool.join()")
    assert none_held_by(scan(session), "pool")


def test_pyplot_figure_is_held_by_pyplot(session: KernelSession) -> None:
    pytest.importorskip("matplotlib")
    run(
        session,
        "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\nplt.figure(7);",
    )
    result = scan(session)
    figures = [r for r in result["resources"] if r["kind"] == "figure"]
    by_label = {f["label"]: f for f in figures}
    assert set(by_label) == {"Figure 1", "Figure 7"}
    assert by_label["Figure 1"]["held_by"][0] == "matplotlib.pyplot"
    assert "fig" in by_label["Figure 1"]["held_by"]
    assert by_label["Figure 7"]["held_by"] == ["matplotlib.pyplot"]
    # Two figures: one suggestion closes both (not one each and one for all).
    codes = [s["code"] for s in result["suggestions"] if s["action"] == "close_figures"]
    assert codes == ["import matplotlib.pyplot as plt; plt.close('all')"]
    run(session, "plt.close('all')")
    assert not [r for r in scan(session)["resources"] if r["kind"] == "figure"]


def test_temporary_directory(session: KernelSession) -> None:
    run(session, "import tempfile\nscratch = tempfile.TemporaryDirectory()")
    name = session.evaluate({"n": "scratch.name"})["n"].strip("'")
    res = one(scan(session), "tempdir", "scratch")
    assert res["detail"] == name
    run(session, "scratch.cleanup()")
    assert none_held_by(scan(session), "scratch")


def test_mmap(session: KernelSession) -> None:
    run(session, "import mmap\nmapped = mmap.mmap(-1, 1 << 20)")
    res = one(scan(session), "mmap", "mapped")
    assert res["detail"] == "1.0 MB, anonymous"
    run(session, "mapped.close()")
    assert none_held_by(scan(session), "mapped")


def test_h5py_file(session: KernelSession, tmp_path: Any) -> None:
    pytest.importorskip("h5py")
    path = tmp_path / "x.h5"
    run(session, f"import h5py\nh5 = h5py.File({str(path)!r}, 'w')")
    res = one(scan(session), "h5py_file", "h5")
    assert res["detail"] == f"{path} (mode 'r+')"
    run(session, "h5.close()")
    assert none_held_by(scan(session), "h5")


def test_pending_asyncio_task(session: KernelSession) -> None:
    run(
        session,
        "async def sleeper():\n    buf = bytearray(10)\n    await asyncio.sleep(3600)\n"
        "task = asyncio.get_running_loop().create_task(sleeper(), name='napper')",
    )
    result = scan(session)
    res = one(result, "asyncio_task", "task")
    assert res["label"] == "task 'napper'"
    assert res["detail"] == "napper: sleeper() pending"
    assert suggestion_for(result, res)["action"] == "cancel_task"
    run(session, "task.cancel()")
    run(session, "await asyncio.sleep(0.05)")
    assert none_held_by(scan(session), "task")


def test_kernel_machinery_is_not_listed(session: KernelSession) -> None:
    result = scan(session)
    for res in result["resources"]:
        assert res["held_by"], res  # everything listed is held by something of the user's
    # The kernel's own threads (heartbeat, iopub, control) are never listed.
    assert not [r for r in result["resources"] if r["kind"] == "thread"]


def test_findings(session: KernelSession) -> None:
    findings = scan(session)["findings"]
    assert findings["open_fds"] > 3
    assert findings["threads"] >= 2
    assert findings["children"] >= 0
    assert findings["cyclic_garbage"]["objects"] >= 0
    assert findings["allocator_gap"]["malloc_trim"] is True  # this machine has glibc
    assert findings["allocator_gap"]["bytes"] >= 0
