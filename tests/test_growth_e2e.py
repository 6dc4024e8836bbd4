"""Leaks across re-runs: the ``growth`` of a record, in a real kernel, and its parts."""

from __future__ import annotations

import gc
from types import SimpleNamespace
from typing import Any

import pytest

from memory_doctor.headless.driver import KernelSession
from memory_doctor.kernel import growth as growth_module
from memory_doctor.kernel.growth import Census, GrowthTracker, take_census, what_grew
from memory_doctor.protocol import LEAK_MIN_RUNS

np = pytest.importorskip("numpy")

MB = 1_000_000
ARRAY_BYTES = 40 * MB  # np.ones(5_000_000): float64


def _run(session: KernelSession, code: str, cell_id: str | None) -> dict[str, Any]:
    result = session.run_cell(code, cell_id)
    assert result.status == "ok", result.error
    assert result.record is not None
    return result.record


def _growth(record: dict[str, Any]) -> dict[str, Any] | None:
    growth = record["growth"]
    assert growth is None or isinstance(growth, dict)
    return growth


# --------------------------------------------------------------------------- real kernel


def test_appending_40mb_to_a_global_list_is_flagged_after_3_runs(
    kernel_session: KernelSession,
) -> None:
    _run(kernel_session, "import numpy as np\nleaky = []", "leak-setup")
    records = [
        _run(kernel_session, "leaky.append(np.ones(5_000_000))", "leak-cell") for _ in range(3)
    ]
    # One growing run is just a cell that allocates.
    assert _growth(records[0]) is None
    second = _growth(records[1])
    assert second is not None
    assert second["runs"] == 2 and second["flagged"] is False
    assert second["what_grew"] == []  # not watched yet: it cost nothing
    third = _growth(records[2])
    assert third is not None
    assert third["runs"] == LEAK_MIN_RUNS == 3
    assert third["flagged"] is True
    assert 0.95 * ARRAY_BYTES <= third["growth_per_run_bytes"] <= 1.1 * ARRAY_BYTES
    assert third["what_grew"][0] == "leaky (list) +40 MB", third["what_grew"]
    # A fourth run stays flagged, with one more run counted.
    fourth = _growth(_run(kernel_session, "leaky.append(np.ones(5_000_000))", "leak-cell"))
    assert fourth is not None and fourth["runs"] == 4 and fourth["flagged"]


def test_rebinding_a_40mb_array_is_not_flagged(kernel_session: KernelSession) -> None:
    _run(kernel_session, "import numpy as np", "rebind-setup")
    records = [_run(kernel_session, "arr = np.ones(5_000_000)", "rebind-cell") for _ in range(5)]
    assert records[0]["rss_delta"] >= 0.95 * ARRAY_BYTES  # the first run does allocate
    assert [r["growth"] for r in records] == [None] * 5


def test_what_grew_names_instances_of_a_notebook_class(kernel_session: KernelSession) -> None:
    _run(
        kernel_session,
        "class Thing:\n    def __init__(self):\n        self.items = [0] * 20\n\nthings = []",
        "class-setup",
    )
    code = "things.extend(Thing() for _ in range(20_000))"
    records = [_run(kernel_session, code, "class-cell") for _ in range(3)]
    growth = _growth(records[2])
    assert growth is not None and growth["flagged"], [r["rss_delta"] for r in records]
    what = growth["what_grew"]
    assert what[0].startswith("things (list) +"), what
    assert "__main__.Thing +20000" in what
    # Each Thing's items list (IPython adds or frees a list or two per cell itself).
    lists = [int(label.split("+")[1]) for label in what if label.startswith("list +")]
    assert len(lists) == 1 and 19_900 <= lists[0] < 20_100, what


def test_threshold_and_cells_without_an_id(kernel_session: KernelSession) -> None:
    _run(kernel_session, "import numpy as np\nkept = []", "threshold-setup")
    reply = kernel_session.request("configure", leak_threshold_bytes=100 * MB)
    assert reply["ok"], reply
    try:
        records = [
            _run(kernel_session, "kept.append(np.ones(5_000_000))", "threshold-cell")
            for _ in range(3)
        ]
        assert [r["growth"] for r in records] == [None] * 3  # 40 MB < 100 MB
    finally:
        kernel_session.request("configure", leak_threshold_bytes=1 << 20)
    # Without a cell id there is nothing to key the history by.
    records = [_run(kernel_session, "kept.append(np.ones(5_000_000))", None) for _ in range(3)]
    assert [r["cell_id"] for r in records] == [None] * 3
    assert [r["growth"] for r in records] == [None] * 3


def test_a_watched_run_keeps_no_reference_to_user_objects(kernel_session: KernelSession) -> None:
    _run(kernel_session, "import numpy as np, weakref, gc\nheld = []", "ref-setup")
    for _ in range(3):
        record = _run(kernel_session, "held.append(np.ones(5_000_000))", "ref-cell")
    growth = _growth(record)
    assert growth is not None and growth["flagged"]
    result = kernel_session.run_cell(
        "probe = weakref.ref(held[-1])\ndel held\nprint(probe() is None)",
        "ref-check",
    )
    assert result.status == "ok", result.error
    assert result.stdout.strip() == "True"


# --------------------------------------------------------------------------- units


def test_tracker_counts_consecutive_growing_runs() -> None:
    tracker = GrowthTracker()
    threshold = 1000
    assert not tracker.should_watch("c", threshold)
    assert tracker.add_run("c", 5000, threshold) is None
    assert not tracker.should_watch("c", threshold)
    assert tracker.add_run("c", 7000, threshold) == {
        "runs": 2,
        "growth_per_run_bytes": 6000,
        "flagged": False,
        "what_grew": [],
    }
    assert tracker.should_watch("c", threshold)
    third = tracker.add_run("c", 6000, threshold, ["x (list) +6.0 kB"])
    assert third == {
        "runs": 3,
        "growth_per_run_bytes": 6000,
        "flagged": True,
        "what_grew": ["x (list) +6.0 kB"],
    }
    # A run that leaves less than the threshold ends the streak.
    assert tracker.add_run("c", 999, threshold) is None
    assert not tracker.should_watch("c", threshold)
    # Other cells have their own history.
    assert tracker.add_run("d", 5000, threshold) is None
    # A threshold of 0 still needs memory left behind.
    for _ in range(3):
        assert tracker.add_run("zero", 0, 0) is None
    assert tracker.add_run(None, 10**9, 0) is None


def test_tracker_uses_the_threshold_in_force() -> None:
    tracker = GrowthTracker()
    for _ in range(2):
        tracker.add_run("c", 2 * MB, 1 << 20)
    assert tracker.should_watch("c", 1 << 20)
    assert not tracker.should_watch("c", 10 * MB)
    assert tracker.add_run("c", 2 * MB, 10 * MB) is None


def test_census_and_what_grew_without_a_kernel() -> None:
    class Local:
        pass

    namespace: dict[str, Any] = {
        "data": [],
        "small": [1, 2, 3],
        "fn": test_tracker_uses_the_threshold_in_force,
        "_private": np.ones(1_000_000),
        "In": [],
    }
    hidden = {"In": namespace["In"]}
    before = take_census(namespace, hidden)
    assert set(before.variables) == {"data", "small", "fn"}  # no _names, no IPython names
    assert before.variables["fn"][1] == 0  # code is a wall, not data
    assert before.complete and before.types is not None
    namespace["data"].append(np.ones(1_000_000))
    namespace["new"] = bytearray(2 * MB)
    kept = [Local() for _ in range(1500)]
    after = take_census(namespace, hidden)
    labels = what_grew(before, after)
    assert labels[:2] == ["data (list) +8.0 MB", "new (bytearray) +2.0 MB"], labels
    local_name = f"{Local.__module__}.{Local.__qualname__}"
    assert f"{local_name} +1500" in labels  # a library-module class: at least 1,000 new
    del kept
    gc.collect()


def test_a_census_out_of_time_names_nothing() -> None:
    namespace = {"nested": [[[i] for i in range(300)] for _ in range(300)]}
    slow = take_census(namespace, {}, budget_s=0.0)
    assert not slow.complete
    done = take_census(namespace, {})
    assert done.complete
    assert what_grew(slow, done) == []
    assert what_grew(done, slow) == []


def test_type_counts_over_budget_are_dropped_but_variables_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fake clock: the variables take no time, counting types takes 10 s.
    now = [0.0]

    def slow_counts() -> dict[str, int]:
        now[0] += 10.0
        return {"bytearray": 1}

    monkeypatch.setattr(growth_module, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    monkeypatch.setattr(growth_module, "_type_counts", slow_counts)
    census = take_census({"x": bytearray(10)}, {}, budget_s=1.0)
    assert census.complete and census.variables["x"][0] == "bytearray"
    assert census.types is None and census.types_s == 10.0
    assert what_grew(Census(), census) == []
