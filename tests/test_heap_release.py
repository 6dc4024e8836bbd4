"""After the result, nothing of the user's is referenced and there is no
reference cycle: with the automatic collector off and no ``gc.collect()``
before the checks, ``del`` of a scanned object kills its weak reference at
once, and its reference count is what it was before the scan."""

from __future__ import annotations

import gc
import json
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from heap_helpers import scan_ns, spec_for

from memory_doctor.heap import engine
from memory_doctor.heap.roots import enumerate_roots
from memory_doctor.heap.scan import Scan

MB = 1_000_000


class Holder:
    pass


def _closure() -> Any:
    arr = np.ones(MB)

    def scale(x: Any) -> Any:
        return x * arr.shape[0]

    return scale


def _attr() -> Holder:
    h = Holder()
    h.data = np.ones(MB)
    return h


def _frame() -> Any:
    import pandas as pd  # noqa: PLC0415 - heavy, local to the shape

    return pd.DataFrame({"x": np.ones(MB), "s": [str(i) for i in range(1000)] * 1000})


class Records(list):  # type: ignore[type-arg] - a list that takes weak references
    pass


SHAPES: dict[str, Callable[[], Any]] = {
    "plain": lambda: np.ones(MB),
    "closure": _closure,
    "dict_of_arrays": lambda: {"a": np.ones(MB // 2), "b": np.ones(MB // 2)},
    "frame": _frame,
    "attr": _attr,
    "records": lambda: Records({"k": i, "v": str(i), "t": [i]} for i in range(100_000)),
}
#: What the weak reference points at (plain dicts take none).
PROBE: dict[str, Callable[[Any], Any]] = {"dict_of_arrays": lambda d: d["a"]}


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _ours(obj: Any) -> bool:
    module = getattr(type(obj), "__module__", "") or ""
    return module.startswith(("memory_doctor", "test_heap", "heap_helpers"))


def assert_no_cycles_of_ours() -> None:
    """Checked last: a collection that finds any of our objects in garbage means a cycle."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        ours = [type(o).__qualname__ for o in gc.garbage if _ours(o)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert not ours, ours


@pytest.mark.parametrize("shape", list(SHAPES))
def test_scan_keeps_nothing(eng: str, shape: str, collector_off: None) -> None:
    ns = {shape: SHAPES[shape](), "other": np.ones(10)}
    probe = weakref.ref(PROBE.get(shape, lambda x: x)(ns[shape]))
    before = sys.getrefcount(ns[shape])
    result = scan_ns(ns, eng)
    json.dumps(result)  # plain data only
    assert any(shape in h["labels"] for h in result["holders"])
    after = sys.getrefcount(ns[shape])  # outside the assert: pytest's rewrite holds operands
    assert after == before
    del ns[shape]
    assert probe() is None
    assert_no_cycles_of_ours()


def test_stopped_and_cancelled_scans_keep_nothing(eng: str, collector_off: None) -> None:
    for reason in ("budget", "cancelled", "cell_ran", "interrupted"):
        ns = {"records": SHAPES["records"]()}
        probe = weakref.ref(ns["records"])
        roots = enumerate_roots(ns, {}, modules={})
        scan = Scan(roots, user_ns=ns, engine=eng, user_module_names=(), budget_s=600)
        del roots
        scan.step(0.002)
        scan.step(0.002)
        scan.stop(reason)
        while not scan.step(0.01):
            pass
        result = scan.result()
        assert result["scan"]["complete"] is False and result["scan"]["stopped"] == reason
        json.dumps(result)
        del ns["records"], scan
        assert probe() is None, reason
    assert_no_cycles_of_ours()


def test_walker_dropped_mid_walk_keeps_nothing(eng: str, collector_off: None) -> None:
    ns = {"records": SHAPES["records"]()}
    probe = weakref.ref(ns["records"])
    spec, cl = spec_for(ns)
    w = engine.new_walker(spec, eng)
    w.step(time.perf_counter() + 0.005)
    assert w.phase != "done"  # mid-walk
    del w, spec, cl  # no release(): reference counting alone frees it all
    del ns["records"]
    assert probe() is None
    assert_no_cycles_of_ours()


def test_walker_release_is_idempotent(eng: str) -> None:
    ns = {"x": [np.ones(10)]}
    spec, _cl = spec_for(ns)
    r, w = engine.run(spec, eng)
    r.clear()
    w.release()
    w.release()
    with pytest.raises(RuntimeError):
        w.result()
