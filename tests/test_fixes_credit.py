"""Memory under a function is credited to the name a user deletes, in process.

A closure cell or a default argument of a function bound to a variable is
that variable's memory (``del scale`` frees it), and the why-alive path shows
the route. (An ``lru_cache``'s store is a holder of its own, named after the cached
function: ``test_scan_engine.py``'s ``test_lru_cache``.) Sizes are checked
against numpy's ``nbytes``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from memory_doctor.heap.roots import enumerate_roots
from memory_doctor.heap.scan import scan_now

N = 5_000_000  # float64: 40 MB
NBYTES = N * 8


@pytest.fixture(autouse=True)
def _no_last_exception() -> Iterator[None]:
    """pytest sets sys.last_* after a failing test; keep them out of every scan."""
    for key in ("last_type", "last_value", "last_traceback", "last_exc"):
        sys.__dict__.pop(key, None)
    yield


def scan(ns: dict[str, Any]) -> dict[str, Any]:
    return scan_now(enumerate_roots(ns, {}), budget_s=120)


def holders_of(result: dict[str, Any], *labels: str) -> list[dict[str, Any]]:
    """The holders whose roots are exactly ``labels`` (tiny shared ones, such as a
    function's name string, are left out that way)."""
    return [h for h in result["holders"] if h["labels"] == list(labels)]


def near(value: int, expected: int) -> bool:
    return abs(value - expected) <= 0.1 * expected


def make_scaler() -> Any:
    table = np.ones(N)

    def scale(x: Any) -> Any:
        return x * table

    return scale


def test_a_closure_is_the_variables_memory() -> None:
    result = scan({"scale": make_scaler()})
    [h] = holders_of(result, "scale")
    assert h["kind"] == "variable"
    assert near(h["retained_bytes"], NBYTES)
    assert h["path"] == "scale.__closure__[0].cell_contents"
    # No holder is named by the path: the closure is scale's (the test process's
    # modules are holders too, with closures of their own: only ours are checked).
    assert not any(
        label.startswith("scale") and "__closure__" in label
        for x in result["holders"]
        for label in x["labels"]
    )


def test_a_closure_shared_by_two_names_is_held_by_both() -> None:
    scale = make_scaler()
    result = scan({"scale": scale, "alias": scale})
    [h] = holders_of(result, "scale", "alias")
    assert near(h["retained_bytes"], NBYTES)


def test_default_arguments_are_the_variables_memory() -> None:
    def g(x: Any, cache: Any = np.ones(N)) -> Any:  # noqa: B008 - the scenario is this trap
        return x

    def k(*, buf: Any = np.ones(N // 2)) -> Any:  # noqa: B008 - as above
        return buf

    result = scan({"g": g, "k": k})
    [hg] = holders_of(result, "g")
    assert near(hg["retained_bytes"], NBYTES) and hg["path"] == "g.__defaults__[0]"
    [hk] = holders_of(result, "k")
    assert near(hk["retained_bytes"], NBYTES // 2)
    assert hk["path"] == "k.__kwdefaults__['buf']"


def make_lookup() -> Any:
    table = np.ones(N)

    @functools.cache
    def lookup(i: int) -> Any:
        return table[i]

    return lookup


def test_a_closure_of_a_cached_function_is_the_variables_memory() -> None:
    result = scan({"lookup": make_lookup()})
    [h] = [x for x in holders_of(result, "lookup") if x["kind"] == "variable"]
    assert near(h["retained_bytes"], NBYTES)
