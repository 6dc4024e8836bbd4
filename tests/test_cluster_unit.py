"""The Dask cluster parts that need no cluster: the walk, the holders, the release plan,
the readings; and that nothing of dask's is touched without a client.

The walk is tested on stand-in classes passed as ``DaskTypes`` (it recognises
distributed's classes by identity, so any class works); the end-to-end
behaviour against a real LocalCluster is ``test_cluster_e2e.py``'s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from memory_doctor.advice import cluster as advice
from memory_doctor.advice.futures import (
    DaskTypes,
    FutureWalker,
    KeyGroup,
    group_keys,
    key_text,
    walk_roots,
)
from memory_doctor.heap.roots import Root

CALLS: list[str] = []


class FakeClient:
    """Stands in for ``distributed.Client``."""


class FakeFuture:
    """Stands in for ``distributed.Future``: ``key`` in a slot, ``_client`` in the dict."""

    __slots__ = ("__dict__", "key")

    def __init__(self, key: Any, client: FakeClient) -> None:
        self.key = key
        self._client = client
        self._state = None


class Hostile:
    """Every hook a careless reader would run records itself."""

    def __init__(self, fut: FakeFuture) -> None:
        object.__setattr__(self, "payload", {"f": fut})

    def __getattribute__(self, name: str) -> Any:
        CALLS.append(name)
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        CALLS.append(name)
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        CALLS.append("__eq__")
        return False

    def __hash__(self) -> int:
        CALLS.append("__hash__")
        return 1

    def __dask_graph__(self) -> dict[Any, Any]:
        CALLS.append("__dask_graph__")
        return {}


DT = DaskTypes(FakeClient, FakeFuture, None)


def roots(**named: Any) -> list[Root]:
    return [Root(name, "variable", value, name) for name, value in named.items()]


def test_shared_keys_are_one_holder_listing_every_root() -> None:
    client = FakeClient()
    a, b, c = (FakeFuture(k, client) for k in ("a", "b", "c"))
    walk = walk_roots(
        [
            *roots(pair=[a, b], single=a),
            Root("Out[3]", "output_cache", {"x": c}, "Out[3]"),
            Root("_3", "output_cache", (c,), "_3"),
        ],
        DT,
    )
    groups = {tuple(g.labels): sorted(g.keys) for g in group_keys(walk)}
    assert groups == {("pair", "single"): ["a"], ("pair",): ["b"], ("Out[3]", "_3"): ["c"]}
    assert [r() for r in walk.clients] == [client]


def test_the_walk_runs_no_user_code_and_stops_at_clients_and_walls() -> None:
    client = FakeClient()
    hostile = Hostile(FakeFuture("h", client))
    client.futures = {"behind-the-client": FakeFuture("x", client)}  # type: ignore[attr-defined]
    namespace = {"inside": FakeFuture("w", client)}
    CALLS.clear()
    walk = walk_roots(roots(hostile=hostile, c=client, ns=namespace), DT, walls=[namespace])
    assert CALLS == []
    keys = {r.label: set(r.keys) for r in walk.roots}
    assert keys == {"hostile": {"h"}, "c": set(), "ns": set()}


def test_the_walk_stops_at_the_kernels_machinery() -> None:
    """An in-kernel LocalCluster reaches the shell and its display hook through
    tornado's loop: their futures are the display hook's own roots (``_``), not the
    cluster variable's."""
    client = FakeClient()
    Hook = type("DisplayHook", (), {"__module__": "IPython.core.displayhook"})
    hook = Hook()
    hook._ = [FakeFuture("shown", client)]
    loop = {"callbacks": [hook]}
    walk = walk_roots([*roots(cluster=loop), Root("_", "output_cache", hook._, "_")], DT)
    assert {r.label: set(r.keys) for r in walk.roots} == {"cluster": set(), "_": {"shown"}}


def test_a_label_the_roots_list_twice_is_one_label() -> None:
    fut = FakeFuture("k", FakeClient())
    walk = walk_roots(
        [
            Root("_", "output_cache", fut, "_"),
            Root("_", "output_cache", fut, "get_ipython().displayhook._"),
            Root("Out[3]", "output_cache", fut, "Out[3]"),
        ],
        DT,
    )
    (group,) = group_keys(walk)
    assert group.labels == ["_", "Out[3]"] and group.kinds == ["output_cache"] * 2


def test_the_walk_is_sliced_and_bounded() -> None:
    client = FakeClient()
    deep = [[FakeFuture(i, client)] for i in range(2000)]
    walker = FutureWalker(roots(deep=deep), DT)
    steps = 1
    while not walker.step(0.0):
        steps += 1
    assert steps > 1
    assert len(walker.result().roots[0].keys) == 2000
    cut = walk_roots(roots(deep=deep), DT, max_objects=100)
    assert cut.truncated and len(cut.roots[0].keys) < 2000


def test_thread_roots_are_not_walked() -> None:
    fut = FakeFuture("t", FakeClient())
    walk = walk_roots([Root("thread 'IO loop'", "thread", [fut], "x")], DT)
    assert walk.roots == []


def test_key_text_shows_dask_keys_without_running_their_repr() -> None:
    assert key_text(("random_sample-99a3", 0, 1)) == "('random_sample-99a3', 0, 1)"
    assert key_text("finalize-1") == "'finalize-1'"
    assert key_text(Hostile.__new__(Hostile)) == "<Hostile key>"


def reading(**workers: dict[str, Any]) -> dict[str, Any]:
    info = {"address": "tcp://s:1", "workers": {}}
    for address, w in workers.items():
        info["workers"][address] = {
            "name": address[-1],
            "memory_limit": w.get("limit", 400),
            "metrics": {
                "memory": w["memory"],
                "managed_bytes": w["managed"],
                "spilled_bytes": {"memory": w.get("spilled_memory", 0), "disk": w.get("disk", 0)},
                "time": w.get("time", 100.0),
                "task_counts": {"executing": w.get("busy", 0), "memory": 3},
            },
        }
    return advice.memory_from_identity(info, 101.0)


def test_readings_follow_distributed_memory_state() -> None:
    r = reading(
        **{
            "tcp://w:0": {"memory": 300, "managed": 120, "spilled_memory": 20, "disk": 15},
            "tcp://w:1": {"memory": 100, "managed": 500, "busy": 2},  # managed capped at RSS
        }
    )
    w0, w1 = r["workers"]
    assert (w0["managed"], w0["spilled"], w0["unmanaged"]) == (100, 15, 200)
    assert (w1["managed"], w1["unmanaged"], w1["busy_tasks"]) == (100, 0, 2)
    assert r["total"] == {
        "memory": 400,
        "managed": 200,
        "spilled": 15,
        "unmanaged": 200,
        "memory_limit": 800,
        "workers": 2,
        "busy_tasks": 2,
    }
    assert advice.is_fresh(r, 100.0) and not advice.is_fresh(r, 100.5)


def test_workers_inside_the_kernel_count_their_managed_bytes_only() -> None:
    r = reading(
        **{
            "inproc://k/1": {"memory": 64, "managed": 10},
            "inproc://k/2": {"memory": 64, "managed": 6},
        }
    )
    assert all(w["in_kernel"] for w in r["workers"])
    assert (r["total"]["memory"], r["total"]["unmanaged"]) == (16, 0)


def test_a_cell_entry_lists_workers_that_joined_or_left() -> None:
    before = reading(**{"tcp://w:0": {"memory": 10, "managed": 0}})
    after = reading(**{"tcp://w:1": {"memory": 30, "managed": 8}})
    keys = {
        "added": 1,
        "removed": 0,
        "bytes_added": 8,
        "bytes_removed": 0,
        "pending_keys": 0,
        "removed_unknown": 0,
    }
    entry = advice.cell_entry("tcp://s:1", before, {**after, "settled": True}, keys, 1.5)
    assert entry["delta_bytes"] == 8 and entry["settled"] is True
    by = {w["address"]: (w["before"], w["after"]) for w in entry["workers"]}
    assert by["tcp://w:1"][0] is None and by["tcp://w:0"][1] is None
    failed = advice.failed_cell_entry("tcp://s:1", "timeout", "no answer")
    assert advice.cell_delta([entry, failed]) == 8
    assert advice.cell_delta([failed]) is None


def group(labels: list[str], kinds: list[str], keys: list[Any]) -> KeyGroup:
    return KeyGroup(labels, kinds, 0, keys, {"finished": len(keys)})


def test_holders_price_keys_once_and_replicas_per_worker() -> None:
    groups = [
        group(["df", "Out[4]"], ["variable", "output_cache"], ["k1", "k2"]),
        group(["Out[5]", "_"], ["output_cache", "output_cache"], ["k3"]),
        group(["f.__closure__[0].cell_contents"], ["closure"], ["k4"]),
    ]
    answers = {
        "nbytes": {"k1": 100, "k2": 50, "k3": 7, "k4": -1},
        "who_has": {"k1": ["tcp://w:0", "tcp://w:1"], "k2": ["tcp://w:1"], "k3": ["tcp://w:0"]},
        "spilled": {"tcp://w:1": {"k2": 50}},
    }
    rows = advice.holders(groups, answers, None)
    df, out, closure = rows
    assert (df["bytes"], df["worker_bytes"], df["spilled"]) == (150, 250, 50)
    assert [(w["address"], w["bytes"], w["keys"]) for w in df["workers"]] == [
        ("tcp://w:0", 100, 1),
        ("tcp://w:1", 150, 2),
    ]
    assert df["status"] == {**dict.fromkeys(advice.KEY_STATUSES, 0), "finished": 2}
    assert (df["suggestion"], out["suggestion"], closure["suggestion"]) == (
        "release",
        "output_cache",
        "redefine",
    )
    assert closure["pending_keys"] == 1 and not closure["releasable"]
    offline = advice.holders(groups, None, None)
    assert all(r["bytes"] is None for r in offline)


def test_a_function_deleted_with_its_closure_is_releasable() -> None:
    assert advice.is_releasable(["f", "f.__closure__[0].cell_contents"], ["variable", "closure"])
    assert not advice.is_releasable(["C.cache"], ["class_attribute"])
    assert advice.is_releasable(["sys.last_traceback"], ["traceback"])


def test_the_plan_deletes_whole_holders_and_never_a_key_another_name_holds() -> None:
    groups = [
        group(["pair", "single"], ["variable", "variable"], ["a"]),
        group(["pair"], ["variable"], ["b"]),
        group(["g"], ["closure"], ["c"]),
    ]
    plan = advice.plan(groups, [["pair"], ["gone"], ["g"]])
    assert plan["labels"] == ["pair"]
    assert plan["keys"] == ["b"]
    assert plan["missing"] == [["gone"]] and plan["refused"] == [["g"]]
    both = advice.plan(groups, [["pair"], ["single", "pair"]])
    assert sorted(both["keys"]) == ["a", "b"]
    estimate = advice.estimate(
        both["groups"], {"nbytes": {"a": 4, "b": 5}, "who_has": {"a": ["x", "y"]}}
    )
    assert estimate == 4 * 2 + 5


def test_release_result_counts_workers_that_freed_data() -> None:
    before = reading(
        **{"tcp://w:0": {"memory": 300, "managed": 200}, "tcp://w:1": {"memory": 90, "managed": 10}}
    )
    after = reading(
        **{"tcp://w:0": {"memory": 150, "managed": 40}, "tcp://w:1": {"memory": 95, "managed": 10}}
    )
    result = advice.release_result(before, after, keys=3, still_held=0)
    assert result["freed_bytes"] == 160 and result["freed_on_workers"] == 1
    assert result["freed"] == {"memory": 145, "managed": 160, "spilled": 0, "unmanaged": -15}


WITHOUT_DASK = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
config = Config()
config.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell.instance(config=config)
shell.run_cell("%load_ext memory_doctor", store_history=False)
from memory_doctor.kernel import extension
doctor = extension.get(shell)
shell.run_cell("x = [1, 2, 3]", store_history=True)
scan = doctor.handle_request({"type": "scan_cluster", "request_id": "1"})
release = doctor.handle_request(
    {"type": "release_cluster", "request_id": "2", "scheduler": "tcp://x:1", "holders": [["x"]]}
)
print(json.dumps({
    "record": doctor.records[-1]["cluster"],
    "scan": scan["result"],
    "release": release["error"]["code"],
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")),
}))
"""


def test_without_distributed_nothing_of_dask_is_imported_or_measured() -> None:
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_DASK], capture_output=True, text=True, check=True
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {
        "record": None,
        "scan": {"clusters": [], "walk": None},
        "release": "refused",
        "loaded": [],
    }
