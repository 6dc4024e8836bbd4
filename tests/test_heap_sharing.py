"""The sharing series: N names that reach one 300k-object structure.

The old engine walked once per name (quadratic); this one walks once. Times
are measured and printed (``pytest -s``), never asserted; what is asserted is
the answer: one label with every name for the shared structure, and each
name's own object apart.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import pytest
from heap_helpers import walk

SERIES = (1, 10, 100, 300)


def _shared(names: int) -> dict[str, Any]:
    shared = [[i, f"s{i}"] for i in range(100_000)]  # 300k objects
    return {f"v{i}": {"ref": shared, "own": [i]} for i in range(names)}


@pytest.mark.parametrize("names", SERIES)
def test_sharing_series(eng: str, names: int) -> None:
    if eng == "python" and names > 100:
        pytest.skip("the reference engine is not timed beyond 100 names")
    ns = _shared(names)
    gc.collect()
    start = time.process_time()
    got = walk(ns, eng, slice_s=10.0)
    took = time.process_time() - start
    print(f"\n{eng}: {names} names sharing 300k objects: {took:.3f} s CPU")
    labels = got["labels"]
    everyone = tuple(range(names))
    assert labels[everyone]["objects"] >= 299_700  # ints 0..256 are walls
    if names > 1:
        assert all(
            labels[(g,)]["objects"] in (2, 3) for g in range(names)
        )  # own dict, list (, int)
