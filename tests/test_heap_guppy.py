"""Against guppy3 where the semantics agree: the retained size of a variable
that nothing else reaches is guppy's ``iso(v).domisize`` (the objects it
dominates). guppy does not know ``ndarray.base`` (views would differ) nor
3.11 inline values (instances would), so the cases avoid those."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from heap_helpers import walk

guppy = pytest.importorskip("guppy")

EXACT: dict[str, Callable[[], Any]] = {
    "ints": lambda: [10**6 + i for i in range(5000)],
    "strs": lambda: [f"s{i}" * 3 for i in range(5000)],
    "floats": lambda: [i * 0.5 for i in range(5000)],
    "sets": lambda: [set(range(10**6 + i, 10**6 + i + 5)) for i in range(500)],
    "bytes": lambda: [bytes(i) for i in range(2000)],
    "array": lambda: np.ones(1_000_000),
    "arrays": lambda: [np.ones(1000 * i) for i in range(1, 20)],
    "deep": lambda: _chain(50_000),
}
#: Interned key strings are shared with code constants, which guppy sees and
#: a walk with module namespaces as stops does not: a few hundred bytes.
CLOSE: dict[str, Callable[[], Any]] = {
    "dicts": lambda: [{"id": 10**6 + i, "name": f"n{i}"} for i in range(5000)],
    "records": lambda: [
        {"id": i, "name": f"n{i}", "score": float(i), "tags": [i]} for i in range(50_000)
    ],
}


def _chain(n: int) -> Any:
    head: Any = None
    for i in range(n):
        head = [head, 10**6 + i]
    return head


def _compare(name: str, make: Callable[[], Any], eng: str) -> tuple[int, int]:
    ns = {name: make()}
    ours = walk(ns, eng)["labels"][(0,)]["bytes"]  # before guppy: it keeps references
    theirs = int(guppy.hpy().iso(ns[name]).domisize)
    return ours, theirs


@pytest.mark.parametrize("name", list(EXACT))
def test_retained_size_equals_guppy_domisize(eng: str, name: str) -> None:
    ours, theirs = _compare(name, EXACT[name], eng)
    assert ours == theirs


@pytest.mark.parametrize("name", list(CLOSE))
def test_retained_size_close_to_guppy_domisize(eng: str, name: str) -> None:
    ours, theirs = _compare(name, CLOSE[name], eng)
    assert abs(ours - theirs) <= max(512, theirs // 10_000), (ours, theirs)
