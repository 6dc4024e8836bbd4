"""Dask cluster memory, end to end: a real LocalCluster and a real kernel.

The cluster (two worker processes, 400 MB each) runs in a process group of
its own (``cluster_helpers.ClusterHost``); the kernel is driven through
``KernelSession`` and connects a ``distributed.Client`` to it, as a notebook
would. The tests share both and run in file order, each building on the
previous one like a notebook session; the last two freeze and then kill the
scheduler. The outside truths are the collections' known sizes (float64
arrays and columns), ``Client.nbytes`` and ``Client.who_has``, evaluated in
the kernel without a cell. Nothing here times anything.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from cluster_helpers import (
    MB,
    ClusterHost,
    Recorder,
    cell,
    close_to,
    dask_missing,
    holder,
    measured,
    release,
    scan_cluster,
    truth,
    wait_until,
)

from memory_doctor.headless.driver import KernelSession

pytestmark = [dask_missing, pytest.mark.timeout(600)]

#: Known sizes: float64 arrays and columns, 8 bytes each.
ARR = 2500 * 2000 * 8  # 40 MB
FRAME = 1_500_000 * 2 * 8  # 24 MB, plus the partitions' RangeIndex
SHOWN = 1000 * 2000 * 8  # 16 MB
EXTRA = 1250 * 1000 * 8  # 10 MB
ONE = 250_000 * 8  # 2 MB

#: Messages recorded for the TypeScript decoders' tests (MEMORY_DOCTOR_WRITE_FIXTURES=1).
RECORDED = Recorder("test_cluster_e2e.py")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHost]:
    with ClusterHost(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def session(host: ClusterHost, kernel_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """One kernel with a client connected to ``host``; state the tests share."""
    kernel = KernelSession(env=kernel_env)
    try:
        kernel.start()
        cell(
            kernel,
            "import numpy as np, pandas as pd, dask.array as da, dask.dataframe as dd\n"
            "from distributed import Client, wait\n"
            f"client = Client({host.address!r})",
        )
        yield {"kernel": kernel, "host": host}
    finally:
        kernel.shutdown()


def section_of(result: dict[str, Any], host: ClusterHost) -> dict[str, Any]:
    (found,) = [c for c in result["clusters"] if c["scheduler"] == host.address]
    return found


def nbytes_truth(k: KernelSession, name: str) -> int:
    """``Client.nbytes`` of the keys the named collection's futures hold."""
    expr = (
        "sum(client.nbytes([f.key for f in __import__('distributed').futures_of("
        f"{name})], summary=False).values())"
    )
    value: int = truth(k, expr)
    return value


def in_memory(k: KernelSession, name: str) -> tuple[int, int]:
    """(keys, keys some worker holds) for the named collection, from ``Client.who_has``."""
    expr = (
        f"(lambda fs: (len(fs), sum(1 for v in client.who_has(fs).values() if v)))"
        f"(__import__('distributed').futures_of({name}))"
    )
    value: tuple[int, int] = truth(k, expr)
    return value


def test_an_idle_cell_puts_nothing_on_the_cluster(session: dict[str, Any]) -> None:
    """The first cell after the client connected: measured, nothing added."""
    k: KernelSession = session["kernel"]
    result = cell(k, "nothing_yet = 1")
    cluster = measured(k, result)
    (entry,) = cluster["clusters"]
    assert entry["status"] == "ok", entry
    assert cluster["delta_bytes"] == 0
    assert entry["after"]["workers"] == 2


def test_persisting_three_collections_is_attributed_to_their_cells(
    session: dict[str, Any],
) -> None:
    k: KernelSession = session["kernel"]
    arr = cell(k, "arr = da.random.random((2500, 2000), chunks=(500, 2000)).persist()\nwait(arr);")
    frame = cell(
        k,
        "rng = np.random.default_rng(0)\n"
        "frame = dd.from_pandas(pd.DataFrame({'a': rng.random(1_500_000),"
        " 'b': rng.random(1_500_000)}), npartitions=3).persist()\n"
        "del rng\nwait(frame);",
    )
    shown = cell(
        k,
        "shown = da.random.random((1000, 2000), chunks=(500, 2000)).persist()\nwait(shown)\nshown",
    )
    assert any(m["msg_type"] == "execute_result" for m in k.last_messages), "Out[n] holds it"
    session["shown_count"] = shown.execution_count
    for result, size in ((arr, ARR), (frame, FRAME), (shown, SHOWN)):
        cluster = measured(k, result)
        if result is arr:
            assert result.execution_count is not None
            RECORDED.add("cell_cluster", k.cell_clusters[result.execution_count])
        assert close_to(cluster["delta_bytes"], size), (size, cluster)
        (entry,) = cluster["clusters"]
        assert entry["keys"]["pending_keys"] == 0, entry
        assert {w["name"] for w in entry["workers"]} == {"0", "1"}
        for w in entry["workers"]:
            assert w["memory_limit"] == 400 * MB
            assert w["after"]["memory"] == w["after"]["managed"] + w["after"]["unmanaged"]


def test_holders_match_client_nbytes_and_find_the_output_cache(session: dict[str, Any]) -> None:
    k: KernelSession = session["kernel"]
    n = session["shown_count"]
    replies: list[dict[str, Any]] = []
    section = section_of(scan_cluster(k, keep=replies), session["host"])
    RECORDED.add("reply_scan_cluster", replies[0], "scan_cluster")
    assert section["status"] == "ok", section
    for name, size in (("arr", ARR), ("frame", FRAME), ("shown", SHOWN)):
        row = holder(section, name)
        assert close_to(row["bytes"], nbytes_truth(k, name)), (name, row)
        assert close_to(row["bytes"], size), (name, row["bytes"], size)
        assert row["status"]["finished"] == row["keys"] > 0
        assert sum(w["bytes"] for w in row["workers"]) == row["worker_bytes"] >= row["bytes"]
        assert row["spilled"] == 0  # no worker spills at 400 MB
    shown = holder(section, "shown")
    # The displayed collection: one holder listing every alias of it.
    assert {"shown", f"Out[{n}]", f"_{n}", "_"} <= set(shown["labels"]), shown["labels"]
    assert shown["releasable"] and shown["suggestion"] == "release"
    assert len(section["workers"]) == 2
    for w in section["workers"]:
        assert w["memory_limit"] == 400 * MB
        assert w["memory"] == w["managed"] + w["unmanaged"]
    session["section"] = section


def test_cell_records_give_the_keys_a_cell_added_and_released(session: dict[str, Any]) -> None:
    k: KernelSession = session["kernel"]
    grow = cell(k, "extra = da.random.random((1250, 1000), chunks=(625, 1000)).persist()")
    cluster = measured(k, grow)
    (entry,) = cluster["clusters"]
    # persist() returned before the data existed: the record waited for it.
    assert entry["keys"]["added"] == 2 and entry["keys"]["pending_keys"] == 0, entry
    assert close_to(cluster["delta_bytes"], EXTRA), cluster
    assert entry["settled"] is True, entry
    shrink = measured(k, cell(k, "del extra"))
    (entry,) = shrink["clusters"]
    assert entry["keys"]["removed"] == 2 and entry["keys"]["removed_unknown"] == 0, entry
    assert close_to(-shrink["delta_bytes"], EXTRA), shrink
    idle = measured(k, cell(k, "idle = 1"))
    assert idle["delta_bytes"] == 0, idle
    # Run All: back-to-back cells each get their own keys.
    results = [
        cell(k, f"burst_{i} = client.submit(np.ones, 125_000, pure=False)") for i in range(5)
    ]
    for result in results:
        (entry,) = measured(k, result)["clusters"]
        assert entry["status"] == "ok" and entry["keys"]["added"] == 1, entry
    cell(k, "del burst_0, burst_1, burst_2, burst_3, burst_4")


def test_release_frees_the_holder_and_keeps_the_others(session: dict[str, Any]) -> None:
    k: KernelSession = session["kernel"]
    n = session["shown_count"]
    section = session["section"]
    shown = holder(section, "shown")
    # Tab completion on the name (as JupyterLab sends it): Jedi keeps the object in
    # cyclic garbage, so deleting the names alone would free nothing (found by Galata).
    kc = k._kc
    kc.complete("shown.", 6)
    assert kc.get_shell_msg(timeout=30)["content"]["status"] == "ok"
    reply = release(k, section["scheduler"], [shown["labels"]])
    assert reply["ok"], reply
    RECORDED.add("reply_release_cluster", reply, "release_cluster")
    result = reply["result"]
    assert result["status"] == "ok", result
    assert set(result["deleted"]) == set(shown["labels"]), result
    assert result["still_held_keys"] == 0 and result["released_keys"] == shown["keys"], result
    assert close_to(result["estimate_bytes"], SHOWN)
    # Measured against the scheduler: the workers' managed memory dropped by it.
    assert close_to(result["freed_bytes"], SHOWN), result
    assert result["freed_on_workers"] == 2, result
    for name in ("arr", "frame"):
        keys, held = in_memory(k, name)
        assert keys == held > 0, (name, keys, held)
    assert truth(k, f"('shown' in globals(), {n} in Out, '_{n}' in globals())") == (
        False,
        False,
        False,
    )


def test_release_never_drops_keys_another_name_holds(session: dict[str, Any]) -> None:
    k: KernelSession = session["kernel"]
    cell(
        k,
        "f1 = client.submit(np.ones, 250_000, pure=False)\n"
        "f2 = client.submit(np.ones, 250_000, pure=False)\n"
        "pair, single = [f1, f2], f1\n"
        "del f1, f2\n"
        "wait(pair);",
    )
    section = section_of(scan_cluster(k), session["host"])
    both = holder(section, "pair", "single")
    alone = [h for h in section["holders"] if h["labels"] == ["pair"]]
    assert both["keys"] == 1 and alone and alone[0]["keys"] == 1, section["holders"]
    reply = release(k, section["scheduler"], [["pair"]])
    assert reply["ok"], reply
    result = reply["result"]
    assert result["deleted"] == ["pair"]
    assert result["keys"] == 1 and result["still_held_keys"] == 0, result
    assert close_to(result["estimate_bytes"], ONE)  # f1 is not counted: single holds it
    assert truth(k, "single.status") == "finished"
    assert in_memory(k, "single") == (1, 1)


def test_a_collection_only_the_output_cache_holds_gets_its_suggestion(
    session: dict[str, Any],
) -> None:
    k: KernelSession = session["kernel"]
    shown = cell(k, "da.ones((500, 500), chunks=250).persist() + 0")
    n = shown.execution_count
    section = section_of(scan_cluster(k), session["host"])
    row = holder(section, f"Out[{n}]")
    assert set(row["kinds"]) == {"output_cache"}, row
    assert row["suggestion"] == "output_cache" and row["releasable"], row


def test_the_walk_runs_no_user_code(session: dict[str, Any]) -> None:
    """A hostile class holding a future: neither the hooks nor the scan run its hooks."""
    k: KernelSession = session["kernel"]
    cell(
        k,
        "CALLS = []\n"
        "class Tricky:\n"
        "    def __init__(self, fut): object.__setattr__(self, 'payload', {'f': fut})\n"
        "    def __getattribute__(self, name):\n"
        "        CALLS.append(name); return object.__getattribute__(self, name)\n"
        "    def __getattr__(self, name): CALLS.append(name); raise AttributeError(name)\n"
        "    def __eq__(self, other): CALLS.append('eq'); return False\n"
        "    def __hash__(self): CALLS.append('hash'); return 1\n"
        "    def __dask_graph__(self): CALLS.append('graph'); return {}\n"
        "tricky = Tricky(client.submit(np.ones, 1000, pure=False))\n"
        "CALLS.clear()",
    )
    section = section_of(scan_cluster(k), session["host"])
    assert holder(section, "tricky")["keys"] == 1
    assert truth(k, "CALLS") == []
    cell(k, "del tricky, Tricky, CALLS")


def test_two_clients_of_one_scheduler_measure_a_cell_once(session: dict[str, Any]) -> None:
    k: KernelSession = session["kernel"]
    host: ClusterHost = session["host"]
    cell(k, f"second = Client({host.address!r})")
    cluster = measured(k, cell(k, "x2 = second.submit(np.ones, 125_000, pure=False)"))
    (entry,) = cluster["clusters"]  # one entry per scheduler (the schema's x-unique-by)
    assert entry["status"] == "ok", entry
    assert entry["keys"]["added"] == 1 and close_to(cluster["delta_bytes"], 1 * MB), entry
    cell(k, "del x2; second.close(); del second")


def test_a_frozen_scheduler_is_reported_and_cells_keep_running(
    session: dict[str, Any],
) -> None:
    k: KernelSession = session["kernel"]
    host: ClusterHost = session["host"]
    host.signal(signal.SIGSTOP)
    try:
        result = cell(k, "frozen_check = 1 + 1")
        (entry,) = measured(k, result)["clusters"]
        assert entry["status"] in {"timeout", "overdue"}, entry
        assert "did not answer" in entry["error"] or "event loop" in entry["error"], entry
        replies: list[dict[str, Any]] = []
        section = section_of(scan_cluster(k, keep=replies), host)
        RECORDED.add("reply_scan_cluster_timeout", replies[0], "scan_cluster")
        assert section["status"] == "timeout", section
        assert section["holders"] and all(h["bytes"] is None for h in section["holders"])
    finally:
        host.signal(signal.SIGCONT)


def test_a_dead_scheduler_is_reported_and_cells_keep_running(session: dict[str, Any]) -> None:
    k: KernelSession = session["kernel"]
    host: ClusterHost = session["host"]
    host.signal(signal.SIGKILL)
    host.proc.wait(30)
    wait_until(lambda: truth(k, "client.status") != "running")
    for i in range(2):
        result = cell(k, f"dead_check_{i} = {i}")
        cluster = measured(k, result)
        assert result.execution_count is not None
        RECORDED.add("cell_cluster_unavailable", k.cell_clusters[result.execution_count])
        (entry,) = cluster["clusters"]
        assert entry["status"] in {"unavailable", "timeout"}, entry
        assert cluster["delta_bytes"] is None
    section = section_of(scan_cluster(k), host)
    assert section["status"] == "unavailable", section
    # distributed cancels every future once the scheduler connection is lost.
    statuses = {s for h in section["holders"] for s, n in h["status"].items() if n}
    assert statuses == {"cancelled"}, section["holders"]


def test_fixtures_are_written_on_request() -> None:
    """``MEMORY_DOCTOR_WRITE_FIXTURES=1`` records the named messages for the TypeScript side."""
    assert set(RECORDED.named) == {
        "cell_cluster",
        "cell_cluster_unavailable",
        "reply_scan_cluster",
        "reply_scan_cluster_timeout",
        "reply_release_cluster",
    }
    if os.environ.get("MEMORY_DOCTOR_WRITE_FIXTURES") != "1":
        pytest.skip("set MEMORY_DOCTOR_WRITE_FIXTURES=1 to rewrite tests/fixtures/protocol/")
    RECORDED.write()
