"""Both engines, same graphs, identical results.

Identical means: the same labels (sets of root groups) with the same bytes,
object counts, per-type breakdown and largest objects (by identity); the same
objects held from outside Python with the same unexplained reference counts;
the same numbers of objects, table nodes, inline objects, components and
pseudo nodes. Random graphs cover cycles, sharing, deep chains, wide
containers (chunked), dicts with shared keys, single-referenced children,
subclasses, closures and numpy views of one base; the sizing cases cover
inline values, Cython memoryviews, mmaps, pandas and pyarrow.
"""

from __future__ import annotations

import dataclasses
import gc
import mmap
from typing import Any

import numpy as np
import pytest
from heap_helpers import ENGINES, comparable, make_graph, walk

pytestmark = pytest.mark.skipif(len(ENGINES) < 2, reason="the native engine is not built")


def both(ns: dict[str, Any], **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two engines on one heap that does not change in between: earlier
    tests leave cyclic garbage, and a collection between the walks would change
    reference counts; a first walk warms lazy library caches (pyarrow, pandas)."""
    gc.collect()
    gc.disable()
    try:
        walk(ns, "native", **kw)
        py = walk(ns, "python", **kw)
        native = walk(ns, "native", **kw)
    finally:
        gc.enable()
    return py, native


def assert_same(py: dict[str, Any], native: dict[str, Any]) -> None:
    a, b = comparable(py), comparable(native)
    if a == b:
        return
    only = {
        k: (a["labels"].get(k), b["labels"].get(k))
        for k in set(a["labels"]) | set(b["labels"])
        if a["labels"].get(k) != b["labels"].get(k)
    }
    outside = {
        k
        for k in set(a["outside"]) | set(b["outside"])
        if a["outside"].get(k) != b["outside"].get(k)
    }
    raise AssertionError(
        f"engines differ: labels {list(only.items())[:3]}, outside {len(outside)}, "
        f"stats {a['stats']} {b['stats']}"
    )


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs(seed: int) -> None:
    ns = make_graph(seed, size=300)
    assert_same(*both(ns))


@pytest.mark.parametrize("seed", range(3))
def test_random_graphs_wide_and_deep(seed: int) -> None:
    # Containers far larger than a chunk (1024), a 20 000-link chain.
    ns = make_graph(100 + seed, size=200, wide=30_000, deep=20_000)
    py, native = both(ns)
    assert_same(py, native)
    assert py["stats"]["objects"] > 60_000


@pytest.mark.parametrize("seed", range(3))
def test_random_graphs_in_tiny_steps(seed: int) -> None:
    # 1 ms slices: every phase is resumed many times; same answer as one go.
    ns = make_graph(200 + seed, size=300, wide=20_000)
    gc.collect()
    gc.disable()
    try:
        one = walk(ns, "native", slice_s=10.0)
        many = walk(ns, "native", slice_s=0.001)
        py_many = walk(ns, "python", slice_s=0.001)
    finally:
        gc.enable()
    assert comparable(one) == comparable(many)
    assert many["steps"] > one["steps"]
    assert_same(py_many, many)


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str


class Bag:
    pass


def _sizing_ns() -> dict[str, Any]:
    import pandas as pd  # noqa: PLC0415 - optional heavy imports, local to the case
    import pyarrow as pa  # noqa: PLC0415
    from sklearn.neighbors import KDTree  # noqa: PLC0415

    base = np.arange(100_000, dtype=np.float64)
    bag = Bag()
    bag.values = [1.5, "x" * 100]
    bag.__dict__["late"] = {"materialised": True}
    table = pa.table(
        {"a": pa.array(np.arange(10_000)), "b": pa.array([str(i) for i in range(1000)] * 10)}
    )
    return {
        "points": [Point(float(i), float(-i), f"p{i}") for i in range(2000)],
        "bag": bag,
        "views": [base[::2], base[10:], base.reshape(100, 1000), base],
        "objects": np.array([{"k": i} for i in range(500)] + [None], dtype=object),
        "tree": KDTree(np.random.default_rng(0).random((2000, 3))),
        "anon": mmap.mmap(-1, 1 << 20),
        "frame": pd.DataFrame({"x": np.arange(5000), "s": [f"s{i}" for i in range(5000)]}),
        "table": table,
        "sliced": table.slice(100, 200),
    }


def test_sizing_cases() -> None:
    ns = _sizing_ns()
    py, native = both(ns)
    assert_same(py, native)
    types = {t for v in py["labels"].values() for t in v["types"]}
    assert {"mmap pages (anonymous)", "pyarrow.Buffer"} <= types


def test_without_reference_check() -> None:
    ns = make_graph(7, size=300)
    assert_same(*both(ns, check_refs=False))
