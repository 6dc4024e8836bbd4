"""Sizing, against outside truth (tracemalloc, numpy ``nbytes``, what was
written to a mapping): 3.11 inline values, Cython typed memoryviews, resident
pages of mappings, every key of the namespace."""

from __future__ import annotations

import dataclasses
import gc
import mmap
import sys
import tempfile
import tracemalloc
from typing import Any

import numpy as np
import pytest
from heap_helpers import holder, scan_ns, walk

from memory_doctor.heap.introspect import type_name
from memory_doctor.heap.layout import is_interned

MIB = 1 << 20


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str


def _points(n: int) -> list[Point]:
    return [Point(float(i), float(-i), f"p{i}") for i in range(n)]


def test_inline_values_match_tracemalloc(eng: str) -> None:
    # 3.11: attribute values of an instance without __dict__ live in their own
    # block, invisible to __sizeof__ (about 40 B per instance here).
    n = 500_000
    _points(64)  # the class's shared keys have stopped shrinking
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        ns = {"points": _points(n)}
        truth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    got = walk(ns, eng)["labels"][(0,)]["types"]
    point = type_name(Point)
    ours = sum(got[t][0] for t in (point, "builtins.float", "builtins.str", "builtins.list"))
    assert abs(ours - truth) <= truth * 0.005, (ours, truth)
    assert got[point][1] == n


def test_materialised_dict_is_not_counted_twice(eng: str) -> None:
    objs = _points(1000)
    for p in objs:
        p.__dict__  # noqa: B018 - materialise: the values now belong to the dict
    ns = {"points": objs}
    del objs, p  # a live frame's local is a reference from outside the walk
    got = walk(ns, eng)["labels"][(0,)]["types"]
    # No inline block left: 56 B per instance, the dicts carry the values.
    assert got[type_name(Point)] == (56 * 1000, 1000)
    assert got["builtins.dict"][1] >= 1000


def _tree() -> dict[str, Any]:
    from sklearn.neighbors import KDTree  # noqa: PLC0415 - optional heavy import

    return {"tree": KDTree(np.random.default_rng(1).random((100_000, 8)))}


def test_cython_memoryviews_kdtree(eng: str) -> None:
    # KDTree keeps its arrays only in typed memoryviews: tp_traverse shows
    # none of them; the struct is read for memoryview slices instead.
    ns = _tree()
    truth = sum(a.nbytes for a in ns["tree"].get_arrays() if isinstance(a, np.ndarray))
    got = walk(ns, eng)["labels"]
    mine = got[(0,)]
    assert truth <= mine["bytes"] <= truth * 1.01, (mine["bytes"], truth)
    assert mine["types"]["numpy.ndarray"][0] >= truth


def _maps(tmp: Any) -> dict[str, Any]:
    untouched = mmap.mmap(-1, 50 * MIB)
    half = mmap.mmap(-1, 40 * MIB)
    half[: 20 * MIB] = b"x" * (20 * MIB)
    tmp.write(b"y" * (8 * MIB))
    tmp.flush()
    filemap = mmap.mmap(tmp.fileno(), 8 * MIB, access=mmap.ACCESS_READ)
    filemap[: 4 * MIB]
    return {"untouched": untouched, "half": half, "filemap": filemap}


def test_mmap_resident_pages(eng: str) -> None:
    with tempfile.TemporaryFile() as tmp:
        ns = _maps(tmp)
        got = walk(ns, eng)["labels"]
        names = sorted(ns)  # filemap, half, untouched: groups 0, 1, 2
        pages = {names[g[0]]: v["types"] for g, v in got.items() if len(g) == 1}
        assert pages["untouched"]["mmap pages (anonymous)"][0] < 1 * MIB  # not 50 MiB
        assert 20 * MIB <= pages["half"]["mmap pages (anonymous)"][0] <= 21 * MIB
        assert 4 * MIB <= pages["filemap"]["mmap pages (file)"][0] <= 8 * MIB
        for m in ns.values():
            m.close()


class Key(str):
    pass


class Opaque:
    def __repr__(self) -> str:  # must never run
        raise AssertionError("repr ran")

    def __hash__(self) -> int:
        return 7


def _odd_keys() -> dict[Any, Any]:
    ns: dict[Any, Any] = {"plain": np.ones(1000)}
    ns[Key("subclassed")] = np.ones(200_000)
    ns[42] = np.ones(300_000)
    ns[Opaque()] = np.ones(400_000)
    return ns


def test_every_namespace_key(eng: str) -> None:
    ns = _odd_keys()
    result = scan_ns(ns, eng)
    labels = {tuple(h["labels"]): h["retained_bytes"] for h in result["holders"]}
    key = f"globals()[{type_name(Key)}('subclassed')"
    assert any(k[0].startswith(key) for k in labels), labels
    assert holder(result, "globals()[42]")["retained_bytes"] >= 300_000 * 8
    opaque = [
        h
        for h in result["holders"]
        if h["labels"][0].startswith(f"globals()[<{type_name(Opaque)} key")
    ]
    assert opaque and opaque[0]["retained_bytes"] >= 400_000 * 8


@pytest.mark.parametrize("views", [1, 5])
def test_numpy_views_count_the_buffer_once(eng: str, views: int) -> None:
    base = np.ones(1_000_000)
    ns = {f"v{i}": base[i:] for i in range(views)}
    del base
    got = walk(ns, eng)["labels"]
    everyone = tuple(range(views))
    assert 8_000_000 <= got[everyone]["bytes"] <= 8_000_000 + 200 * (views + 1)


def test_interned_detection_does_not_intern() -> None:
    fresh = "".join(["not", "-", "interned", "-", "yet"])
    assert not is_interned(fresh)
    assert not is_interned(fresh)  # asking did not intern it
    assert is_interned(sys.intern("".join(["now", "interned"])))
