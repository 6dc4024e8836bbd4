"""Helpers of the heap engine tests: randomized object graphs, walks with either
engine, a brute-force reference for the label semantics, and scans of a test
namespace.

A graph is built by :func:`make_graph` inside a function, so that no local
variable of a test frame holds any of it: a live frame's references are
invisible to both engines and would (rightly) show as "outside Python".
"""

from __future__ import annotations

import collections
import contextlib
import random
import sys
import time
from typing import Any

import numpy as np

from memory_doctor.heap import engine, model
from memory_doctor.heap.layout import object_size
from memory_doctor.heap.model import (
    M_DICT,
    M_EXPAND,
    M_IGNORE,
    M_LEAF,
    M_STOP,
    S_ZERO,
    TypeInfo,
    WalkSpec,
    materialise,
)
from memory_doctor.heap.roots import enumerate_roots
from memory_doctor.heap.scan import Scan
from memory_doctor.heap.sizers import Classifier, referents

ENGINES = ["native", "python"] if engine.native_available() else ["python"]
#: The reference's fallback for a type it cannot classify.
FALLBACK = TypeInfo(M_LEAF, S_ZERO, None, 0, 0, 0, 0, None, True, "?")


class Rec:
    """Instances keep attributes as 3.11 inline values (no ``__dict__`` yet)."""


class Slotted:
    __slots__ = ("a", "b")


class DictSub(dict):  # type: ignore[type-arg]
    pass


class ListSub(list):  # type: ignore[type-arg]
    pass


# Enough instances that the shared keys stopped shrinking (see layout.inline_values).
_WARM = [Rec() for _ in range(64)]
for _r in _WARM:
    _r.x = _r.y = _r.z = None
del _r

#: Walls every test walk uses (what the scan walls: immortal-ish singletons).
IMMORTALS: list[Any] = [None, True, False, Ellipsis, NotImplemented, (), "", b""]
IMMORTALS.extend(range(-5, 257))
IMMORTALS.extend(chr(i) for i in range(128))


def make_graph(seed: int, size: int = 400, wide: int = 0, deep: int = 0) -> dict[str, Any]:  # noqa: PLR0912 - one branch per shape
    """A namespace ``{"v0": obj, ...}`` over a random graph of ``size`` containers.

    Shapes: sharing (containers picked again), cycles, dicts with shared keys,
    single-referenced leaves, sets, tuples, instances with inline values and
    with slots, dict/list subclasses, closures, numpy arrays with views of one
    base and object arrays, and optionally one wide list and dict (``wide``
    items each) and a deep chain (``deep`` links).
    """
    rnd = random.Random(seed)  # noqa: S311 - a reproducible graph, not a secret
    keys = [f"key-{i}-{seed}" for i in range(12)]  # not interned: shared by identity
    pool = [f"pooled-{i}" * 3 for i in range(20)] + [10**20 + i for i in range(10)]
    containers: list[Any] = []

    def leaf() -> Any:
        r = rnd.random()
        if r < 0.3:
            return "s" * rnd.randint(1, 300) + str(rnd.random())
        if r < 0.45:
            return rnd.randint(300, 10**9)
        if r < 0.55:
            return rnd.random()
        if r < 0.65:
            return bytes(rnd.randint(0, 2000))
        if r < 0.8:
            return rnd.choice(pool)
        return rnd.randint(-5, 256)

    def child() -> Any:
        if containers and rnd.random() < 0.45:
            return rnd.choice(containers)
        return leaf()

    base = np.arange(rnd.randint(100, 5000), dtype=np.float64)
    for _ in range(size):
        kind = rnd.randrange(11)
        if kind in (0, 1):
            obj: Any = []
        elif kind in (2, 3):
            obj = {}
        elif kind == 4:
            obj = Rec()
        elif kind == 5:
            obj = Slotted()
        elif kind == 6:
            obj = DictSub() if rnd.random() < 0.5 else collections.OrderedDict()
        elif kind == 7:
            obj = ListSub()
        elif kind == 8:
            obj = set()
        elif kind == 9:
            obj = (
                base[rnd.randrange(0, 50) :: rnd.randint(1, 3)]
                if rnd.random() < 0.7
                else base.reshape(-1, 1)
            )
        else:
            obj = np.empty(rnd.randint(1, 6), dtype=object)
        containers.append(obj)
    for obj in list(containers):
        n = rnd.randint(0, 6)
        if type(obj) in (list, ListSub):
            obj.extend(child() for _ in range(n))
            if rnd.random() < 0.2:
                obj.append(tuple(child() for _ in range(rnd.randint(1, 4))))
        elif isinstance(obj, dict):
            for _ in range(n):
                k = rnd.choice(keys) if rnd.random() < 0.7 else leaf()
                try:
                    obj[k] = child()
                except TypeError:
                    obj[str(k)] = child()
            if type(obj) is DictSub and rnd.random() < 0.5:
                obj.attr = child()
        elif type(obj) is Rec:
            for name in ("x", "y", "z")[: rnd.randint(0, 3)]:
                setattr(obj, name, child())
            if rnd.random() < 0.1:
                obj.__dict__["w"] = child()  # materialised
        elif type(obj) is Slotted:
            obj.a = child()
            if rnd.random() < 0.5:
                obj.b = child()
        elif type(obj) is set:
            for _ in range(n):
                value = leaf()
                with contextlib.suppress(TypeError):  # unhashable
                    obj.add(value)
            obj.add(frozenset({leaf() for _ in range(2) if not isinstance(leaf(), float)}))
        elif isinstance(obj, np.ndarray) and obj.dtype == object:
            for i in range(obj.shape[0]):
                obj[i] = child()

    def make_closure(captured: Any) -> Any:
        def inner() -> Any:
            return captured

        return inner

    for _ in range(size // 20):
        holder = rnd.choice(containers)
        if type(holder) is list:
            holder.append(make_closure(child()))
            holder.append(child)  # a bound-free function: the generator's own closure
    if wide:
        big_list = [leaf() for _ in range(wide)]
        big_list.extend(rnd.sample(containers, min(50, len(containers))))
        big_dict = {f"w{i}": leaf() for i in range(wide // 2)}
        big_dict.update(
            {f"c{i}": c for i, c in enumerate(rnd.sample(containers, min(50, len(containers))))}
        )
        containers.extend([big_list, big_dict, set(range(10**6, 10**6 + wide))])
    if deep:
        head: Any = None
        for i in range(deep):
            head = [head, i + 1000, rnd.choice(containers) if i % 97 == 0 else None]
        containers.append(head)
    ns: dict[str, Any] = {}
    for i in range(12):
        ns[f"v{i}"] = rnd.choice(containers)
    if wide:
        ns["wide_list"], ns["wide_dict"], ns["wide_set"] = containers[
            -3 - bool(deep) : len(containers) - bool(deep)
        ]
    if deep:
        ns["deep"] = containers[-1]
    # Cycles back to the roots.
    for _ in range(5):
        holder = rnd.choice(containers)
        if type(holder) is list:
            holder.append(ns[f"v{rnd.randrange(12)}"])
    return ns


def spec_for(
    ns: dict[str, Any], groups: list[list[Any]] | None = None, eng: str | None = None, **kw: Any
) -> tuple[model.WalkSpec, Classifier]:
    """A spec with one group per namespace entry (sorted names) and ``ns`` as a stop."""
    cl = Classifier(ignore=engine.walker_types())
    if groups is None:
        groups = [[ns[name]] for name in sorted(ns)]
    # Every module namespace is a stop (as in a scan): the walk stays on the graph.
    stops: list[Any] = [ns]
    stops.extend(
        m.__dict__ for m in list(sys.modules.values()) if type(getattr(m, "__dict__", None)) is dict
    )
    spec = model.WalkSpec(
        groups=groups,
        stops=stops,
        walls=list(IMMORTALS),
        classify=cl.classify,
        late_walls=cl.own_containers,
        **kw,
    )
    return spec, cl


def walk(
    ns: dict[str, Any],
    eng: str,
    groups: list[list[Any]] | None = None,
    slice_s: float = 0.01,
    **kw: Any,
) -> dict[str, Any]:
    """Walk ``ns`` with engine ``eng``; plain comparable data, every reference released."""
    spec, cl = spec_for(ns, groups, **kw)
    w = engine.new_walker(spec, eng)
    steps = 0
    while not w.step(time.perf_counter() + slice_s):
        steps += 1
    r = w.result()
    out = {
        "labels": r.normalized(),
        "outside": r.outside_ids(),
        "stats": {
            k: r.stats[k] for k in ("objects", "nodes", "inline", "components", "pseudo", "outside")
        },
        "steps": steps,
        "names": sorted(ns),
    }
    r.clear()
    w.release()
    del r, w, spec, cl
    return out


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """The parts both engines must agree on exactly."""
    return {k: result[k] for k in ("labels", "outside", "stats")}


def refcount(obj: Any) -> int:
    return sys.getrefcount(obj) - 1


# ---------------------------------------------------------------------- brute force


def refs(obj: Any, spec: WalkSpec, infos: dict[int, Any]) -> list[Any]:
    info = infos.get(id(type(obj)))
    if info is None:
        try:
            info = infos[id(type(obj))] = spec.classify(type(obj))
        except Exception:
            info = infos[id(type(obj))] = FALLBACK
    if info.mode in (M_LEAF, M_IGNORE, M_STOP):
        return []
    if info.mode == M_DICT:
        if type(obj) is dict:
            return [*dict.keys(obj), *dict.values(obj)]
        out = referents(obj)[0]  # an instance's class is counted, not followed
        keys = list(dict.keys(obj))
        if all(type(k) is str for k in keys):
            out.extend(keys)
        return out
    if info.mode == M_EXPAND:
        got = info.expander(obj)
        return list(materialise(got[0]))
    return referents(obj)[0]


def brute_labels(spec: WalkSpec) -> dict[tuple[int, ...], tuple[int, int]]:
    """``{groups: (bytes, objects)}``, ignoring pseudo nodes and the outside root."""
    infos: dict[int, Any] = {}
    walls = {id(w) for w in spec.walls}
    stops = {id(s) for s in spec.stops}
    reached: dict[int, set[int]] = {}
    objs: dict[int, Any] = {}
    for g, seeds in enumerate(spec.groups):
        stack = [s for s in seeds if id(s) not in walls]
        seen: set[int] = set()
        while stack:
            o = stack.pop()
            if id(o) in seen or id(o) in walls:
                continue
            info = infos.get(id(type(o))) or infos.setdefault(id(type(o)), spec.classify(type(o)))
            if info.mode == M_IGNORE:
                continue
            seen.add(id(o))
            objs[id(o)] = o
            reached.setdefault(id(o), set()).add(g)
            if id(o) in stops:
                continue
            stack.extend(refs(o, spec, infos))
    out: dict[tuple[int, ...], list[int]] = {}
    for oid, groups in reached.items():
        o = objs[oid]
        info = infos[id(type(o))]
        size = object_size(o, info)
        acc = out.setdefault(tuple(sorted(groups)), [0, 0])
        acc[0] += size
        acc[1] += 1
    objs.clear()
    return {k: (v[0], v[1]) for k, v in out.items()}


# ---------------------------------------------------------------------- scans


def scan_ns(
    ns: dict[Any, Any], eng: str, hidden: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    """A whole-heap scan of ``ns`` (its roots as the kernel enumerates them).

    The test process's own modules are not the user's here: their globals are
    not roots (no user modules: they are library groups).
    """
    roots = enumerate_roots(ns, hidden if hidden is not None else {}, modules={})
    kw.setdefault("budget_s", 600.0)
    scan = Scan(roots, user_ns=ns, engine=eng, user_module_names=(), **kw)
    del roots
    while not scan.step(0.05):
        pass
    return scan.result()


def holder(result: dict[str, Any], *labels: str) -> dict[str, Any]:
    """The largest holder whose labels are exactly ``labels``."""
    found = [h for h in result["holders"] if tuple(h["labels"]) == labels]
    assert found, f"no holder {labels}: {[h['labels'] for h in result['holders'][:15]]}"
    return max(found, key=lambda h: h["retained_bytes"])


def largest_with(result: dict[str, Any], label: str) -> dict[str, Any]:
    """The largest holder among those with ``label``."""
    found = [h for h in result["holders"] if label in h["labels"]]
    assert found, f"no holder has {label!r}: {[h['labels'] for h in result['holders'][:15]]}"
    return max(found, key=lambda h: h["retained_bytes"])


def held_by(h: dict[str, Any]) -> set[str]:
    """The names in a holder's ``also_held_by``."""
    return {entry["name"] for entry in h["also_held_by"]}
