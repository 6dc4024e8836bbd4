"""The retained-size scan engine, in process: one scenario per holder kind.

Each scenario builds a namespace (a plain dict stands in for IPython's
``user_ns``), scans it and checks the holder's labels, kind, retained bytes
(within 10 % of numpy's ``nbytes``, which is exact) and why-alive path.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import sys
import textwrap
import threading
import types
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memory_doctor.heap.roots import Root, RootList, enumerate_roots, user_modules
from memory_doctor.heap.scan import Scan, scan_now
from memory_doctor.protocol import HOLDER_KINDS, SCAN_PHASES

N = 5_000_000  # float64 elements: 40 MB per array
NBYTES = N * 8

HOLDER_KEYS = {
    "id",
    "labels",
    "kind",
    "roots",
    "type",
    "retained_bytes",
    "objects",
    "path",
    "cell_id",
    "execution_count",
    "composition",
    "shared",
    "device",
    "file_backed",
    "also_held_by",
    "freeable",
}
RESULT_KEYS = {
    "scan",
    "attributed_bytes",
    "freeable_bytes",
    "holders",
    "held_elsewhere",
    "held_elsewhere_total",
    "holders_total",
    "holder_index",
    "outside",
}
SUMMARY_KEYS = {
    "duration_s",
    "objects_visited",
    "complete",
    "stopped",
    "engine",
    "phases",
    "walk",
}


@pytest.fixture(autouse=True)
def _no_last_exception() -> Iterator[None]:
    """pytest sets sys.last_* after a failing test; keep them out of every scan."""
    saved = {
        k: sys.__dict__.pop(k)
        for k in ("last_type", "last_value", "last_traceback", "last_exc")
        if k in sys.__dict__
    }
    yield
    for key in ("last_type", "last_value", "last_traceback", "last_exc"):
        sys.__dict__.pop(key, None)
    sys.__dict__.update(saved)


def scan(ns: dict[str, Any], hidden: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("budget_s", 120.0)
    return scan_now(enumerate_roots(ns, hidden if hidden is not None else {}), **kw)


def holder(result: dict[str, Any], label: str) -> dict[str, Any]:
    found = [h for h in result["holders"] if label in h["labels"]]
    assert found, f"no holder has {label!r}: {[h['labels'] for h in result['holders'][:20]]}"
    return max(found, key=lambda h: h["retained_bytes"])


def near(value: int, truth: int) -> bool:
    return abs(value - truth) <= truth * 0.10


def check_well_formed(result: dict[str, Any]) -> None:
    assert set(result) == RESULT_KEYS
    assert set(result["scan"]) == SUMMARY_KEYS
    sizes = [h["retained_bytes"] for h in result["holders"]]
    assert sizes == sorted(sizes, reverse=True)
    for rank, h in enumerate(result["holders"], 1):
        assert set(h) == HOLDER_KEYS
        assert h["id"] == f"h{rank}"
        assert h["labels"] and all(isinstance(x, str) for x in h["labels"])
        assert [r["label"] for r in h["roots"]] == h["labels"]
        assert h["kind"] == h["roots"][0]["kind"] and h["kind"] in HOLDER_KINDS
        assert isinstance(h["retained_bytes"], int) and h["retained_bytes"] >= 0
        assert isinstance(h["objects"], int) and h["objects"] >= 0
        assert isinstance(h["path"], str) and h["path"]
        assert isinstance(h["type"], str) and h["type"]
        assert h["cell_id"] is None and h["execution_count"] is None
        assert h["shared"] == (len(h["labels"]) > 1)
        assert len(h["composition"]) <= 5
        for part in h["composition"]:
            assert set(part) == {"type", "bytes", "count"}
        assert h["freeable"] == (not h["also_held_by"])
        for other in h["also_held_by"]:
            assert set(other) == {"kind", "name", "path"}
            assert other["kind"] in ("library", "kernel", "external")


# ---------------------------------------------------------------------- one scenario per kind


def test_variable() -> None:
    ns = {"big": np.ones(N)}
    result = scan(ns)
    check_well_formed(result)
    h = holder(result, "big")
    assert h["labels"] == ["big"]
    assert h["kind"] == "variable"
    assert h["type"] == "numpy.ndarray"
    assert near(h["retained_bytes"], NBYTES)
    assert h["path"] == "big"
    assert not h["shared"]
    assert result["scan"]["complete"] is True and result["scan"]["stopped"] is None


def test_output_cache_aliases_share_one_holder() -> None:
    arr = np.ones(N)
    out = {3: arr}
    ns = {"big": arr, "Out": out, "_3": arr, "_": arr, "__": "", "___": ""}
    hidden = {"Out": out, "_oh": out, "_3": arr, "_": arr, "__": "", "___": ""}
    del arr
    result = scan(ns, hidden)
    check_well_formed(result)
    h = holder(result, "big")
    assert h["labels"] == ["big", "Out[3]", "_3", "_"]
    assert [r["kind"] for r in h["roots"]] == [
        "variable",
        "output_cache",
        "output_cache",
        "output_cache",
    ]
    assert h["kind"] == "variable"
    assert h["shared"] is True
    assert near(h["retained_bytes"], NBYTES)
    # Deleting `big` alone frees nothing: no holder of `big` by itself has the array.
    alone = [x for x in result["holders"] if x["labels"] == ["big"]]
    assert all(x["retained_bytes"] < NBYTES // 10 for x in alone)

    del ns["big"]
    after = scan(ns, hidden)
    h = holder(after, "Out[3]")
    assert h["labels"] == ["Out[3]", "_3", "_"]
    assert h["kind"] == "output_cache"
    assert near(h["retained_bytes"], NBYTES)


def test_output_cache_copy_only_in_user_ns_hidden() -> None:
    # The user deleted _5 but IPython's hidden namespace still holds it.
    ns: dict[str, Any] = {"Out": {}}
    hidden = {"Out": ns["Out"], "_5": np.ones(N)}
    result = scan(ns, hidden)
    h = holder(result, "_5")
    assert h["kind"] == "output_cache"
    assert h["path"] == "get_ipython().user_ns_hidden['_5']"
    assert near(h["retained_bytes"], NBYTES)


def _make_closure() -> Any:
    arr = np.ones(N)

    def f() -> Any:
        return arr

    return f


def test_closure() -> None:
    ns = {"f": _make_closure()}
    result = scan(ns)
    check_well_formed(result)
    # A variable's function retains its closure: `del f` frees it.
    h = holder(result, "f")
    assert h["labels"] == ["f"]
    assert h["kind"] == "variable"
    assert near(h["retained_bytes"], NBYTES)
    assert h["path"] == "f.__closure__[0].cell_contents"
    assert h["type"] == "builtins.function"


def _class_with_a_closure() -> type:
    arr = np.ones(N)

    class C:
        def m(self) -> Any:
            return arr

    return C


def test_closure_of_a_class_method() -> None:
    result = scan({"C": _class_with_a_closure()})
    h = holder(result, "C.m.__closure__[0].cell_contents")
    assert h["labels"] == ["C.m.__closure__[0].cell_contents"]
    assert h["kind"] == "closure"
    assert near(h["retained_bytes"], NBYTES)


def test_default_and_keyword_default_args() -> None:
    def g(x: Any, cache: Any = np.ones(N)) -> Any:  # noqa: B008 - the scenario is this trap
        return x

    def k(*, buf: Any = np.ones(N // 2)) -> Any:  # noqa: B008 - as above
        return buf

    result = scan({"g": g, "k": k})
    check_well_formed(result)
    h = holder(result, "g")
    assert h["kind"] == "variable"
    assert near(h["retained_bytes"], NBYTES)
    assert h["path"] == "g.__defaults__[0]"
    h = holder(result, "k")
    assert near(h["retained_bytes"], NBYTES // 2)
    assert h["path"] == "k.__kwdefaults__['buf']"

    class C:
        def m(self, cache: Any = np.ones(N)) -> Any:  # noqa: B008 - as above
            return cache

    h = holder(scan({"C": C}), "C.m.__defaults__[0]")
    assert h["kind"] == "default_arg"
    assert near(h["retained_bytes"], NBYTES)


def test_view_retains_its_base() -> None:
    ns = {"v": np.ones(N)[:10]}
    result = scan(ns)
    h = holder(result, "v")
    assert h["labels"] == ["v"]
    assert near(h["retained_bytes"], NBYTES)  # 10 elements, 40 MB retained
    assert h["path"] == "v.base"
    assert h["type"] == "numpy.ndarray"


@pytest.mark.parametrize("maxsize", [None, 4])
def test_lru_cache(maxsize: int | None) -> None:
    @functools.lru_cache(maxsize=maxsize)
    def load(n: int) -> Any:
        return np.ones(n)

    load(N)
    result = scan({"load": load})
    check_well_formed(result)
    # The store is a holder of its own, named after the cached function.
    h = next(x for x in result["holders"] if x["kind"] == "cache")
    assert h["labels"] == ["load"]
    assert near(h["retained_bytes"], NBYTES)
    assert h["path"] == "load.cache_info()"
    load.cache_clear()
    cleared = scan({"load": load})
    assert all(x["retained_bytes"] < NBYTES // 10 for x in cleared["holders"])


def test_class_attribute() -> None:
    class Registry:
        items: list[Any] = [np.ones(N)]  # noqa: RUF012 - the scenario is a class-level store

    result = scan({"Registry": Registry})
    check_well_formed(result)
    h = holder(result, "Registry.items")
    assert h["labels"] == ["Registry.items"]
    assert h["kind"] == "class_attribute"
    assert near(h["retained_bytes"], NBYTES)
    assert h["path"] == "Registry.items[0]"


def _fail() -> None:
    scratch = np.ones(N)
    raise ValueError(f"boom {scratch.size}")


def _capture() -> tuple[Any, Any, Any]:
    try:
        _fail()
    except ValueError:
        return sys.exc_info()
    raise AssertionError("unreachable")


def test_traceback_keeps_frame_locals() -> None:
    etype, value, tb = _capture()
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    del etype, value, tb
    result = scan({})
    check_well_formed(result)
    h = holder(result, "sys.last_traceback")
    assert h["kind"] == "traceback"
    assert h["labels"][0] == "sys.last_traceback"
    assert near(h["retained_bytes"], NBYTES)
    assert h["path"].startswith("sys.last_traceback.tb_")
    assert h["path"].endswith(".tb_frame.f_locals['scratch']")


def test_shared_buffer_counted_once() -> None:
    base = np.ones(N)
    ns = {"a": base[:10], "b": base[10:20]}
    del base
    result = scan(ns)
    check_well_formed(result)
    h = holder(result, "a")
    assert h["labels"] == ["a", "b"]
    assert h["shared"] is True
    assert near(h["retained_bytes"], NBYTES)
    total = sum(x["retained_bytes"] for x in result["holders"] if {"a", "b"} & set(x["labels"]))
    assert near(total, NBYTES)  # once, not twice


def test_pandas_with_object_columns() -> None:
    pd = pytest.importorskip("pandas")
    n = 200_000
    df = pd.DataFrame(
        {
            "x": np.arange(n, dtype=np.float64),
            "name": pd.Series([f"name-{i}" for i in range(n)], dtype=object),
            "tags": pd.Series([[i, i + 1] for i in range(n)], dtype=object),
        }
    )
    truth = int(df.memory_usage(deep=True, index=True).sum())
    # memory_usage(deep) sizes each list shallowly (sys.getsizeof) and misses its items.
    truth += sum(sys.getsizeof(x) for i in range(n) for x in (i, i + 1) if x > 256)
    result = scan({"df": df})
    check_well_formed(result)
    h = holder(result, "df")
    assert h["labels"] == ["df"]
    assert near(h["retained_bytes"], truth), (h["retained_bytes"], truth)
    assert h["objects"] > 3 * n  # the strings, the lists and their ints are counted one by one
    types = {part["type"] for part in h["composition"]}
    assert {"builtins.str", "builtins.list"} <= types
    assert h["path"].startswith("df.")


def test_pyarrow_buffers_counted_once() -> None:
    pa = pytest.importorskip("pyarrow")
    ints = pa.array(np.arange(N // 5, dtype=np.int64))  # 8 MB buffer
    table = pa.table({"ints": ints, "strs": pa.array([f"s{i}" for i in range(N // 5)])})
    ns = {"ints": ints, "view": ints.slice(10, 20), "table": table}
    result = scan(ns)
    check_well_formed(result)
    shared = holder(result, "view")
    assert shared["labels"] == ["ints", "view", "table"]
    assert shared["type"] == "pyarrow.lib.Int64Array"  # the first root's own type
    assert any(part["type"] == "pyarrow.Buffer" for part in shared["composition"])
    assert near(shared["retained_bytes"], ints.nbytes)
    own = next(h for h in result["holders"] if h["labels"] == ["table"])
    assert near(own["retained_bytes"], table.column("strs").nbytes)


def test_mmap_is_file_backed(tmp_path: Path) -> None:
    import mmap  # noqa: PLC0415 - only this test maps files

    path = tmp_path / "data.bin"
    path.write_bytes(b"\0" * NBYTES)
    with path.open("r+b") as f:
        mapped = mmap.mmap(f.fileno(), 0)
    anonymous = mmap.mmap(-1, NBYTES // 2)
    untouched = mmap.mmap(-1, NBYTES // 2)
    arr = np.memmap(path, dtype=np.float64, mode="r", shape=(N,))
    # A mapping counts its resident pages, not its length: touch them.
    assert set(mapped[::4096]) == {0}
    anonymous.write(b"x" * (NBYTES // 2))
    assert float(np.asarray(arr).sum()) == 0.0
    try:
        ns = {"mapped": mapped, "anonymous": anonymous, "arr": arr, "untouched": untouched}
        result = scan(ns)
        check_well_formed(result)
        h = holder(result, "mapped")
        assert h["file_backed"] is True
        assert near(h["retained_bytes"], NBYTES)
        h = holder(result, "anonymous")
        assert h["file_backed"] is False
        assert near(h["retained_bytes"], NBYTES // 2)
        h = holder(result, "arr")
        assert h["file_backed"] is True  # a numpy memmap's base is an mmap
        assert near(h["retained_bytes"], NBYTES)
        # Almost nothing resident: a small holder, which in a process with many
        # modules (the whole suite) can rank past max_holders, into the index.
        (brief,) = [
            h for h in result["holders"] + result["holder_index"] if h["labels"] == ["untouched"]
        ]
        assert brief["retained_bytes"] < NBYTES // 100
    finally:
        del arr
        mapped.close()
        anonymous.close()
        untouched.close()


def test_thread_frame_locals() -> None:
    release = threading.Event()
    ready = threading.Event()

    def work() -> None:
        local_big = np.ones(N)
        ready.set()
        release.wait(60)
        del local_big

    thread = threading.Thread(target=work, name="worker", daemon=True)
    thread.start()
    try:
        assert ready.wait(30)
        result = scan({})
        check_well_formed(result)
        h = holder(result, "thread 'worker'")
        assert h["kind"] == "thread"
        assert near(h["retained_bytes"], NBYTES)
        assert h["path"].startswith("sys._current_frames()[")
        assert h["path"].endswith("f_locals['local_big']")
    finally:
        release.set()
        thread.join(30)


def test_user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "mdoc_scan_usermod"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            f"""
            import numpy as np
            x = np.ones({N})
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        __import__(name)
        result = scan({})
        check_well_formed(result)
        h = holder(result, f"{name}.x")
        assert h["labels"] == [f"{name}.x"]
        assert h["kind"] == "module"
        assert near(h["retained_bytes"], NBYTES)
        assert h["path"] == f"{name}.x"
        # A library module is a wall: numpy's own globals are nobody's holder.
        assert not any(
            label.startswith("numpy.") for x in result["holders"] for label in x["labels"]
        )
    finally:
        sys.modules.pop(name, None)


def _suspended() -> Iterator[int]:
    pending = np.ones(N)
    yield 1
    yield int(pending.size)


def test_suspended_generator_and_pending_task() -> None:
    gen = _suspended()
    next(gen)  # suspended, holding `pending`
    # Reached from a variable, the generator is that variable's. (One that only a
    # running frame holds, as this test's, is reached by nothing the walk enters.)
    result = scan({"g": gen})
    assert holder(result, "g")["labels"] == ["g"]
    assert near(holder(result, "g")["retained_bytes"], NBYTES)
    gen.close()

    async def waiter(fut: asyncio.Future[None]) -> None:
        held = np.ones(N)
        await fut
        del held

    loop = asyncio.new_event_loop()
    try:
        fut = loop.create_future()
        task = loop.create_task(waiter(fut), name="md-waiter")
        loop.run_until_complete(asyncio.sleep(0))
        result = scan({})
        h = holder(result, "task 'md-waiter'")
        assert h["kind"] == "generator"
        assert near(h["retained_bytes"], NBYTES)
        fut.set_result(None)
        loop.run_until_complete(task)
    finally:
        loop.close()


# ---------------------------------------------------------------------- contract


def test_roots_come_in_holder_kind_order() -> None:
    def f(x: Any = [1]) -> Any:  # noqa: B006 - a variable's default: walked, not a root
        return x

    class C:
        attr = [2]  # noqa: RUF012

        def m(self, x: Any = [5]) -> Any:  # noqa: B006 - a default-arg root
            return x

    out = {1: [3]}
    roots = enumerate_roots({"f": f, "C": C, "Out": out, "_1": out[1], "v": [4]}, {"Out": out})
    kinds = [r.kind for r in roots]
    assert kinds == sorted(kinds, key=HOLDER_KINDS.index)
    labels = [r.label for r in roots]
    assert {"f", "C", "v", "Out[1]", "_1", "C.m.__defaults__[0]", "C.attr"} <= set(labels)
    assert "f.__defaults__[0]" not in labels
    assert "Out" not in labels
    assert isinstance(roots, RootList)
    assert any(s is out for s in roots.stops)


def test_ipython_names_are_not_variables() -> None:
    ns = {
        "In": [""],
        "Out": {},
        "_ih": [""],
        "_oh": {},
        "_dh": [],
        "_i": "",
        "_ii": "",
        "_iii": "",
        "_i7": "x = 1",
        "exit": object(),
        "quit": object(),
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "_items": [1],  # a user's name that merely starts with _i
    }
    hidden = {k: ns[k] for k in ("In", "Out", "_ih", "_oh", "_dh", "exit", "quit")}
    variables = [r.label for r in enumerate_roots(ns, hidden) if r.kind == "variable"]
    assert variables == ["_items"]


def test_no_references_kept() -> None:
    class Payload:
        pass

    arr = np.ones(1000)
    obj = Payload()
    obj.data = [arr]  # type: ignore[attr-defined]
    refs = [weakref.ref(arr), weakref.ref(obj)]
    ns: dict[str, Any] = {"obj": obj, "arr": arr}
    roots = enumerate_roots(ns, {})
    scanner = Scan(roots, budget_s=60)
    while not scanner.step(0.05):
        pass
    result = scanner.result()
    assert holder(result, "obj")
    del roots, ns, obj, arr
    gc.collect()
    assert [r() for r in refs] == [None, None]
    assert scanner.finished


def test_no_references_kept_when_stopped() -> None:
    arr = np.ones(1000)
    ref = weakref.ref(arr)
    roots = enumerate_roots({"arr": [arr] * 10}, {})
    scanner = Scan(roots)
    scanner.stop("cancelled")
    assert scanner.step()
    scanner.result()
    del roots, arr
    gc.collect()
    assert ref() is None


class FakeClock:
    """Time that advances by ``tick`` on every reading: no timing in tests."""

    def __init__(self, tick: float) -> None:
        self.now = 0.0
        self.tick = tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def _wide_namespace() -> dict[str, Any]:
    return {f"v{i}": [[j, str(j)] for j in range(2000)] for i in range(50)}


def test_budget_stop_gives_partial_well_formed_result() -> None:
    ns = _wide_namespace()
    scanner = Scan(enumerate_roots(ns, {}), budget_s=1.0, clock=FakeClock(0.05))
    steps = 0
    while not scanner.step(0.2):
        steps += 1
        assert steps < 1000
    result = scanner.result()
    check_well_formed(result)
    assert result["scan"]["complete"] is False
    assert result["scan"]["stopped"] == "budget"
    assert result["holders"], "the part scanned before the budget ran out is reported"
    assert result["scan"]["objects_visited"] > 0
    # The same namespace scanned without a budget reports more.
    full = scan(ns)
    assert full["scan"]["complete"] is True
    assert full["scan"]["objects_visited"] > result["scan"]["objects_visited"]


def test_stop_cancels() -> None:
    ns = _wide_namespace()
    scanner = Scan(enumerate_roots(ns, {}), budget_s=1e9, clock=FakeClock(0.01))
    assert scanner.step(0.02) is False
    scanner.stop("cancelled")
    assert scanner.step() is True
    assert scanner.finished
    result = scanner.result()
    check_well_formed(result)
    assert result["scan"]["complete"] is False
    assert result["scan"]["stopped"] == "cancelled"
    with pytest.raises(ValueError, match="stop reason"):
        Scan([]).stop("bored")


def test_result_before_finish_raises() -> None:
    scanner = Scan(enumerate_roots({"x": [1]}, {}))
    with pytest.raises(RuntimeError, match="not finished"):
        scanner.result()


def test_progress_reports_phases_in_order() -> None:
    calls: list[tuple[str, int, float]] = []
    ns = {"data": [{"k": str(i)} for i in range(20_000)], "big": np.ones(1000)}
    scanner = Scan(
        enumerate_roots(ns, {}),
        budget_s=1e9,
        progress=lambda *args: calls.append(args),
        clock=FakeClock(0.3),
    )
    while not scanner.step(1.0):
        pass
    phases = [c[0] for c in calls]
    assert phases[0] == "roots"
    assert set(phases) == set(SCAN_PHASES)
    order = [SCAN_PHASES.index(p) for p in phases]
    assert order == sorted(order)
    visited = [c[1] for c in calls]
    assert visited == sorted(visited)
    elapsed = [c[2] for c in calls]
    assert elapsed == sorted(elapsed)
    assert scanner.result()["scan"]["complete"]


def test_progress_is_rate_limited() -> None:
    calls: list[float] = []
    ns = {"data": [[i] for i in range(50_000)]}
    scanner = Scan(
        enumerate_roots(ns, {}),
        budget_s=1e9,
        progress=lambda phase, n, elapsed: calls.append(elapsed),
        clock=FakeClock(0.01),
    )
    while not scanner.step(0.05):
        pass
    assert len(calls) >= 2
    assert all(b - a >= 0.25 for a, b in zip(calls, calls[1:]))


def test_roots_built_by_hand_are_accepted() -> None:
    arr = np.ones(N // 10)
    result = scan_now([Root("mine", "variable", [arr], "mine")])
    check_well_formed(result)
    h = holder(result, "mine")
    assert h["path"] == "mine[0]"
    assert near(h["retained_bytes"], NBYTES // 10)


def test_max_holders_keeps_the_largest() -> None:
    # MB-sized arrays: modules pytest imported from tests/ count as user-written
    # modules, and their constants must not outrank these.
    ns = {f"x{i}": np.ones(2**17 * (i + 1)) for i in range(8)}
    result = scan(ns, max_holders=3)
    assert [h["labels"] for h in result["holders"]] == [[f"x{i}"] for i in (7, 6, 5)]
    # Attributed bytes count every holder, not only the five kept.
    assert result["attributed_bytes"] >= sum(a.nbytes for a in ns.values())


def test_paths_through_dicts_attributes_and_cells() -> None:
    class Box:
        def __init__(self) -> None:
            self.payload = {"key": [0, np.ones(N // 10)]}

    result = scan({"box": Box()})
    assert holder(result, "box")["path"] == "box.payload['key'][1]"


def test_aliases_of_main_are_not_user_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    # multiprocessing (imported by torch, among others) registers __main__ again
    # as __mp_main__; its variables must not appear twice.
    main = types.ModuleType("__main__")
    main.__file__ = "/home/user/notebook_main.py"
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setitem(sys.modules, "__mp_main__", main)
    assert "__mp_main__" not in user_modules()


def test_scipy_sparse_counts_its_buffers() -> None:
    sparse = pytest.importorskip("scipy.sparse")
    m = sparse.random(2000, 2000, density=0.1, format="csr", dtype=np.float64, random_state=0)
    truth = m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
    h = holder(scan({"m": m}), "m")
    assert h["type"] == "scipy.sparse._csr.csr_matrix"
    assert near(h["retained_bytes"], truth)


def test_torch_tensor_and_its_view_share_one_storage() -> None:
    torch = pytest.importorskip("torch")
    t = torch.ones(10 * 2**20 // 4)  # 10 MiB of float32
    result = scan({"t": t, "tv": t[:10]})
    shared = holder(result, "t")
    assert shared["labels"] == ["t", "tv"]
    assert near(shared["retained_bytes"], t.untyped_storage().nbytes())
    assert shared["device"] is None  # host memory


def test_holders_past_the_cut_are_counted_and_listed_in_brief() -> None:
    """30 variables of known, distinct sizes and max_holders 10: ten holders in
    full, every other one in the index, largest first, counted in holders_total,
    with the sizes numpy says. (The test process's modules are holders too.)"""
    ns = {f"v{i}": np.ones(1000 * (i + 1)) for i in range(30)}
    result = scan(ns, max_holders=10)
    check_well_formed(result)
    holders, index = result["holders"], result["holder_index"]
    assert len(holders) == 10
    assert result["holders_total"] == len(holders) + len(index)
    sizes = [h["retained_bytes"] for h in holders + index]
    assert sizes == sorted(sizes, reverse=True)
    mine = [h for h in holders + index if h["labels"][0].startswith("v")]
    assert [h["labels"] for h in mine] == [[f"v{i}"] for i in range(29, -1, -1)]
    assert any(b["labels"] == ["v0"] for b in index)
    for brief in index:
        assert set(brief) == {"labels", "type", "retained_bytes", "objects"}
    for h in mine:
        truth = ns[h["labels"][0]].nbytes
        assert truth <= h["retained_bytes"] <= truth + 200, h
        assert h["type"] == "numpy.ndarray"
