"""The scan survives hostile objects and never runs their code.

Every hook a proxy can define counts its calls; the scan must leave every
count at zero while still finding (and naming the path to) what the proxy holds.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from memory_doctor.heap.roots import enumerate_roots
from memory_doctor.heap.scan import Scan, scan_now

N = 1_000_000  # float64: 8 MB
NBYTES = N * 8

CALLS: Counter[str] = Counter()
ARMED = threading.Event()


def _hit(name: str) -> None:
    if ARMED.is_set():
        CALLS[name] += 1


@pytest.fixture
def armed() -> Iterator[Counter[str]]:
    """Count hook calls only while the scan runs (building the scenario may use them)."""
    saved = {
        k: sys.__dict__.pop(k)
        for k in ("last_type", "last_value", "last_traceback", "last_exc")
        if k in sys.__dict__
    }
    CALLS.clear()
    ARMED.set()
    try:
        yield CALLS
    finally:
        ARMED.clear()
        sys.__dict__.update(saved)


class Liar:
    """Lies about its class and makes every hook it has raise or allocate."""

    def __init__(self, payload: Any) -> None:
        object.__setattr__(self, "payload", payload)

    @property  # type: ignore[misc]  # the point of the test: a lying __class__
    def __class__(self) -> type:
        _hit("__class__")
        return dict

    def __getattribute__(self, name: str) -> Any:
        _hit(f"__getattribute__({name})")
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        _hit(f"__getattr__({name})")
        raise RuntimeError("no")

    def __eq__(self, other: object) -> bool:
        _hit("__eq__")
        if ARMED.is_set():
            raise RuntimeError("no")
        return self is other

    def __hash__(self) -> int:
        _hit("__hash__")
        if ARMED.is_set():
            raise RuntimeError("no")
        return id(self) >> 4

    def __repr__(self) -> str:
        _hit("__repr__")
        return "x" * 10_000_000  # allocates 10 MB

    def __str__(self) -> str:
        _hit("__str__")
        raise RuntimeError("no")

    def __sizeof__(self) -> int:
        _hit("__sizeof__")
        raise RuntimeError("no")

    def __len__(self) -> int:
        _hit("__len__")
        raise RuntimeError("no")

    def __iter__(self) -> Iterator[Any]:
        _hit("__iter__")
        raise RuntimeError("no")

    def __bool__(self) -> bool:
        _hit("__bool__")
        raise RuntimeError("no")

    def __dir__(self) -> list[str]:
        _hit("__dir__")
        raise RuntimeError("no")


class HostileMeta(type):
    """A metaclass whose every attribute hook raises and counts."""

    def __getattribute__(cls, name: str) -> Any:
        _hit(f"meta.__getattribute__({name})")
        return type.__getattribute__(cls, name)

    def __getattr__(cls, name: str) -> Any:
        _hit(f"meta.__getattr__({name})")
        raise RuntimeError("no")

    def __eq__(cls, other: object) -> bool:
        _hit("meta.__eq__")
        return type.__eq__(cls, other)

    def __hash__(cls) -> int:
        _hit("meta.__hash__")
        return type.__hash__(cls)

    def __repr__(cls) -> str:
        _hit("meta.__repr__")
        return "x" * 10_000_000

    def __instancecheck__(cls, obj: object) -> bool:
        _hit("meta.__instancecheck__")
        raise RuntimeError("no")

    def __subclasscheck__(cls, sub: type) -> bool:
        _hit("meta.__subclasscheck__")
        raise RuntimeError("no")

    def mro(cls) -> list[type]:
        _hit("meta.mro")
        return type.mro(cls)


def holder(result: dict[str, Any], label: str) -> dict[str, Any]:
    found = [h for h in result["holders"] if label in h["labels"]]
    assert found, f"no holder has {label!r}"
    return max(found, key=lambda h: h["retained_bytes"])


def test_lying_proxy_is_walked_without_running_its_code(armed: Counter[str]) -> None:
    ARMED.clear()  # building: our own getattr calls are fine
    proxy = Liar([np.ones(N)])
    key_proxy = Liar(None)

    def make() -> Any:
        held = Liar(np.ones(N))

        def f() -> Any:
            return held

        return f

    class Holder:
        kept = Liar(np.ones(N))

    ns = {
        "proxy": proxy,
        "keyed": {key_proxy: np.ones(N), "plain": proxy},
        "listed": [Liar(np.ones(N))],
        "f": make(),
        "Holder": Holder,
        Liar(None): "a non-str key in the namespace itself",
    }
    ARMED.set()
    result = scan_now(enumerate_roots(ns, {}), budget_s=120)
    ARMED.clear()
    assert dict(armed) == {}
    h = holder(result, "proxy")
    assert h["labels"] == ["proxy", "keyed"]  # the proxy is also a value in `keyed`
    assert abs(h["retained_bytes"] - NBYTES) < NBYTES * 0.1
    assert h["path"] == "proxy.payload[0]"
    # A hostile key cannot be written out; the path falls back to values() by position.
    keyed = next(x for x in result["holders"] if x["labels"] == ["keyed"])
    assert keyed["path"] == "list(keyed.values())[0]"
    assert abs(keyed["retained_bytes"] - NBYTES) < NBYTES * 0.1
    assert holder(result, "listed")["path"] == "listed[0].payload"
    closure = holder(result, "f")
    assert closure["path"] == "f.__closure__[0].cell_contents.payload"
    assert holder(result, "Holder.kept")["path"] == "Holder.kept.payload"
    # Typed by type(), not by the __class__ it claims.
    assert not any(
        part["type"] == "builtins.dict" and part["count"] > 2 for part in h["composition"]
    )
    assert any(part["type"] == "test_scan_hostile.Liar" for part in h["composition"])


def test_hostile_metaclass(armed: Counter[str]) -> None:
    ARMED.clear()

    class Weird(metaclass=HostileMeta):
        table = np.ones(N)

        def __init__(self) -> None:
            self.own = np.ones(N // 2)

    obj = Weird()
    ns = {"Weird": Weird, "obj": obj}
    ARMED.set()
    result = scan_now(enumerate_roots(ns, {}), budget_s=120)
    ARMED.clear()
    assert dict(armed) == {}
    h = holder(result, "Weird.table")
    assert h["kind"] == "class_attribute"
    assert abs(h["retained_bytes"] - NBYTES) < NBYTES * 0.1
    h = holder(result, "obj")
    assert abs(h["retained_bytes"] - NBYTES // 2) < NBYTES * 0.1
    assert h["path"] == "obj.own"
    # The root's own type, read from the type object without its metaclass.
    assert h["type"].endswith("test_hostile_metaclass.<locals>.Weird")
    assert any(part["type"] == "numpy.ndarray" for part in h["composition"])


class Node:
    __slots__ = ("next", "value")

    def __init__(self, nxt: Node | None, value: int) -> None:
        self.next = nxt
        self.value = value


def test_linked_list_a_million_deep() -> None:
    head = None
    for i in range(1_000_000):
        head = Node(head, i + 1000)
    node_size = sys.getsizeof(head)
    result = scan_now(enumerate_roots({"head": head}, {}), budget_s=600)
    assert result["scan"]["complete"] is True
    h = holder(result, "head")
    assert h["objects"] >= 1_000_000
    assert h["retained_bytes"] >= 1_000_000 * node_size
    assert {
        "type": "test_scan_hostile.Node",
        "bytes": 1_000_000 * node_size,
        "count": 1_000_000,
    } in h["composition"]
    # A deeply nested list is no different.
    nested: list[Any] = []
    for _ in range(200_000):
        nested = [nested]
    result = scan_now(enumerate_roots({"nested": nested}, {}), budget_s=600)
    assert holder(result, "nested")["objects"] == 200_001


def test_dict_with_two_million_keys() -> None:
    big = {f"key-{i}": i for i in range(2_000_000)}
    result = scan_now(enumerate_roots({"big": big}, {}), budget_s=600)
    assert result["scan"]["complete"] is True
    h = holder(result, "big")
    strs = next(p for p in h["composition"] if p["type"] == "builtins.str")
    # The keys are memory the GC never shows (str-keyed dicts traverse values only).
    assert strs["count"] == 2_000_000
    assert strs["bytes"] == sum(sys.getsizeof(k) for k in big)


def _mutable_namespace() -> dict[str, Any]:
    return {
        "rows": [{"i": i, "s": str(i), "l": [i]} for i in range(20_000)],
        "table": {i: [str(i)] * 3 for i in range(20_000)},
        "arr": np.ones(N),
    }


class FakeClock:
    def __init__(self, tick: float) -> None:
        self.now = 0.0
        self.tick = tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def _check(result: dict[str, Any]) -> None:
    assert result["scan"]["complete"] is True
    for h in result["holders"]:
        assert h["retained_bytes"] >= 0 and h["objects"] >= 0 and h["path"]


def test_containers_mutated_between_steps() -> None:
    ns = _mutable_namespace()
    scanner = Scan(enumerate_roots(ns, {}), budget_s=1e9, clock=FakeClock(0.01))
    steps = 0
    while not scanner.step(0.02):
        steps += 1
        rows, table = ns["rows"], ns["table"]
        if rows:
            rows.pop()
            rows.insert(0, {"new": list(range(50))})
        table.pop(next(iter(table)), None)
        table[("k", steps)] = ["x" * 100]
        if steps % 7 == 0:
            rows.clear()
            ns["arr"] = np.ones(10)
    assert steps > 5  # it really was interleaved
    _check(scanner.result())


def test_containers_mutated_by_another_thread() -> None:
    ns = _mutable_namespace()
    stop = threading.Event()
    errors: list[BaseException] = []

    def mutate() -> None:
        k = 0
        try:
            while not stop.is_set():
                k += 1
                ns["table"][k % 30_000] = [str(k)] * (k % 5)
                ns["table"].pop((k * 7) % 30_000, None)
                ns["rows"].append({"k": k})
                if len(ns["rows"]) > 25_000:
                    del ns["rows"][:5000]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=mutate, name="mutator", daemon=True)
    thread.start()
    try:
        for _ in range(3):
            scanner = Scan(enumerate_roots(ns, {}), budget_s=600)
            while not scanner.step(0.005):
                pass
            _check(scanner.result())
    finally:
        stop.set()
        thread.join(30)
    assert not errors


def test_user_code_in_lru_and_properties_is_not_run(armed: Counter[str]) -> None:
    ARMED.clear()

    class Prop:
        @property
        def expensive(self) -> Any:
            _hit("property")
            return np.ones(N)

        @functools.cached_property
        def cached(self) -> Any:
            _hit("cached_property")
            return np.ones(N)

    obj = Prop()
    _ = obj.cached  # computed once, before the scan: now in the instance dict
    ARMED.set()
    result = scan_now(enumerate_roots({"obj": obj}, {}), budget_s=120)
    ARMED.clear()
    assert dict(armed) == {}
    h = holder(result, "obj")
    assert abs(h["retained_bytes"] - NBYTES) < NBYTES * 0.1  # the cached value, not the property
    assert h["path"] == "obj.cached"


def test_ndarray_subclass_hooks_not_called(armed: Counter[str]) -> None:
    ARMED.clear()

    class Tracked(np.ndarray):  # type: ignore[type-arg]
        def __array_finalize__(self, obj: object) -> None:
            _hit("__array_finalize__")

        def __sizeof__(self) -> int:
            _hit("ndarray.__sizeof__")
            return 0

    items = np.empty(1000, dtype=object)
    for i in range(1000):
        items[i] = "x" * (1000 + i)
    view = items.view(Tracked)
    view.extra = np.ones(N)  # type: ignore[attr-defined]
    ARMED.set()
    result = scan_now(enumerate_roots({"view": view}, {}), budget_s=120)
    ARMED.clear()
    assert dict(armed) == {}
    h = holder(result, "view")
    strings = sum(sys.getsizeof("x" * (1000 + i)) for i in range(1000))
    truth = NBYTES + items.nbytes + strings
    assert abs(h["retained_bytes"] - truth) < truth * 0.1
    assert h["path"] == "view.extra"
