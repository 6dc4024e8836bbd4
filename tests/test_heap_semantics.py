"""The one-pass labels equal the definition: an object's label is the set of
root groups that reach it (checked against one BFS per group, which is
quadratic in sharing but obviously right), on random graphs and on the
shapes the inline shortcut must get right."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from heap_helpers import brute_labels, make_graph, spec_for

from memory_doctor.heap import engine


def labels_of(
    ns: dict[str, Any], eng: str, groups: list[list[Any]] | None = None
) -> dict[tuple[int, ...], tuple[int, int]]:
    spec, _cl = spec_for(ns, groups, check_refs=False)
    r, w = engine.run(spec, eng)
    got = {g: (v["bytes"], v["objects"]) for g, v in r.normalized().items()}
    r.clear()
    w.release()
    return got


def brute(
    ns: dict[str, Any], groups: list[list[Any]] | None = None
) -> dict[tuple[int, ...], tuple[int, int]]:
    spec, _cl = spec_for(ns, groups, check_refs=False)
    return brute_labels(spec)


@pytest.mark.parametrize("seed", range(10))
def test_random_graphs_match_brute_force(eng: str, seed: int) -> None:
    ns = make_graph(seed, size=250, deep=300 if seed % 3 == 0 else 0)
    gc.collect()
    want = brute(ns)
    assert labels_of(ns, eng) == want


def _cycle_with_single_children() -> dict[str, Any]:
    # a -> x -> y -> a, where x and y are referenced once each (inline), and
    # b reaches y's payload only through the cycle.
    a: list[Any] = []
    x = [["payload-x" * 10]]
    y = {"back": a, "payload": "payload-y" * 10}
    x.append(y)
    a.append(x)
    b = [a]
    return {"a": a, "b": b}


def test_inline_children_inside_a_cycle(eng: str) -> None:
    ns = _cycle_with_single_children()
    want = brute(ns)
    got = labels_of(ns, eng)
    assert got == want
    # Everything a reaches is reached by b too (b -> a): one shared label.
    assert set(got) == {(0, 1), (1,)}


def _chain(n: int) -> dict[str, Any]:
    head: Any = None
    for i in range(n):
        head = [head, f"link{i}"]
    return {"chain": head, "tail_ref": head[0][0][0]}


def test_deep_chain_no_recursion(eng: str) -> None:
    ns = _chain(200_000)  # far beyond any recursion limit
    got = labels_of(ns, eng)
    assert got == brute(ns)
    assert got[(0,)][1] == 3 * 2  # the first three links and their strings


def test_one_group_per_object_of_several_roots(eng: str) -> None:
    # Two seeds in one group: one label, the union.
    ns = {"a": [["x" * 50]], "b": [["y" * 50]]}
    got = labels_of(ns, eng, groups=[[ns["a"], ns["b"]]])
    assert set(got) == {(0,)}
    assert got[(0,)][1] == 6


def test_sharing_is_joint(eng: str) -> None:
    shared = [f"s{i}" * 20 for i in range(100)]
    ns = {f"n{i}": [shared] for i in range(50)}
    del shared
    got = labels_of(ns, eng)
    everyone = tuple(range(50))
    assert got[everyone][1] == 101  # the list and its 100 strings, once
    assert all(got[(g,)][1] == 1 for g in range(50))  # each name's own list
