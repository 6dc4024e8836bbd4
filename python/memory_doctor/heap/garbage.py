"""Cyclic garbage, found read-only in bounded steps: what ``gc.collect()`` would free.

``gc.collect()`` would free it (and run finalizers), so instead this repeats
the collector's own analysis without changing anything: for every GC-tracked
object, its references from outside the tracked heap are its reference count
minus the references other tracked objects hold (``tp_traverse``); an object
with some is reachable, and so is everything it reaches. What is left is
cyclic garbage. Its bytes are the walk's sizes of those objects plus the
untracked objects (arrays, strings) only they hold.

The native engine (``_walker.GarbageCounter``) does the analysis in C; the
Python engine does the same with C-speed builtins, in chunks, up to
:data:`PY_MAX_OBJECTS` tracked objects. Either way the only piece of work
that cannot be split is ``gc.get_objects()`` itself (about 20 ns per tracked
object).
"""

from __future__ import annotations

import gc
import sys
import time
from collections import Counter
from collections.abc import Generator
from itertools import compress, repeat
from operator import gt, not_, sub
from typing import Any, Final

from . import engine as engines
from .sizers import Sizer

#: The Python engine measures at most this many tracked objects (None above).
PY_MAX_OBJECTS: Final = 500_000
#: The native engine's limit (its index is 32-bit).
NATIVE_MAX_OBJECTS: Final = 200_000_000
#: Objects handled per chunk by the Python steps and by the sizing of the garbage.
CHUNK: Final = 16_384


def _refcount_base() -> int:
    """What ``list(map(sys.getrefcount, objs))`` reports for an object whose only
    reference is the list ``objs`` (measured: it differs between versions)."""
    objs = [object()]
    return next(map(sys.getrefcount, objs))


class GarbageCount:
    """One count, driven by :meth:`step`; :meth:`result` is ``{"objects", "bytes"}``,
    or None when the heap was too large for this engine."""

    def __init__(self, engine: str | None = None) -> None:
        self._engine = engines.engine_name(engine)
        self._work: Generator[None, None, None] | None = None
        self._result: dict[str, int] | None = None
        self._done = False
        self._native: Any = None

    def step(self, deadline: float) -> bool:
        """Work until ``deadline`` (``time.perf_counter()``); True once done."""
        if self._done:
            return True
        if self._work is None:
            self._work = self._run()
        try:
            next(self._work)  # at least one piece of work per step
            while time.perf_counter() < deadline:
                next(self._work)
        except StopIteration:
            self._finish()
            return True
        except BaseException:
            self._finish()
            raise
        return False

    def result(self) -> dict[str, int] | None:
        """The figures once :meth:`step` returned True."""
        return self._result

    def close(self) -> None:
        """Drop every reference (idempotent)."""
        self._finish()

    def _finish(self) -> None:
        self._done = True
        work, self._work = self._work, None
        if work is not None:
            work.close()
        if self._native is not None:
            self._native.release()
            self._native = None

    def _run(self) -> Generator[None, None, None]:
        objs = gc.get_objects()
        yield
        native = engines.native_module() if self._engine == "native" else None
        limit = NATIVE_MAX_OBJECTS if native is not None else PY_MAX_OBJECTS
        if len(objs) > limit:
            return
        if native is not None:
            self._native = native.GarbageCounter(objs)
            del objs
            while not self._native.step(0.01):
                yield
            garbage = self._native.garbage()
            self._native.release()
            self._native = None
        else:
            garbage = yield from _python_garbage(objs)
            del objs
        yield
        nbytes = yield from _garbage_bytes(garbage)
        self._result = {"objects": len(garbage), "bytes": nbytes}
        garbage.clear()


def _python_garbage(objs: list[Any]) -> Generator[None, None, list[Any]]:
    """The same analysis as the native counter, in chunks (yields between them)."""
    base = _refcount_base()
    ids = list(map(id, objs))
    yield
    outside: list[int] = []
    for i in range(0, len(objs), CHUNK):
        outside.extend(map(sys.getrefcount, objs[i : i + CHUNK]))
        yield
    index = dict(zip(ids, range(len(ids))))
    yield
    internal: Counter[int] = Counter()
    for i in range(0, len(objs), CHUNK // 4):
        internal.update(map(id, gc.get_referents(*objs[i : i + CHUNK // 4])))
        yield
    outside = list(map(sub, outside, map(internal.get, ids, repeat(0))))
    del internal
    # Counted on slices of `objs`: the slice and `objs` each held one reference.
    reached = set(compress(ids, map(gt, outside, repeat(base + 1))))
    del outside
    frontier = list(map(objs.__getitem__, map(index.__getitem__, reached)))
    yield
    while frontier:
        new: set[int] = set()
        for i in range(0, len(frontier), CHUNK // 4):
            new.update(map(id, gc.get_referents(*frontier[i : i + CHUNK // 4])))
            yield
        new.difference_update(reached)
        new = set(filter(index.__contains__, new))  # tracked objects only
        reached |= new
        frontier = list(map(objs.__getitem__, map(index.__getitem__, new)))
        yield
    garbage = list(compress(objs, map(not_, map(reached.__contains__, ids))))
    return garbage


def _garbage_bytes(garbage: list[Any]) -> Generator[None, None, int]:
    """The walk's sizes of the garbage, plus the untracked objects (arrays,
    strings, numbers) the garbage holds every reference to."""
    sizer = Sizer()
    total = 0
    from_garbage: Counter[int] = Counter()
    unique: dict[int, Any] = {}
    for i in range(0, len(garbage), CHUNK):
        chunk = garbage[i : i + CHUNK]
        total += sum(map(sizer.size, chunk))
        kids = [k for k in gc.get_referents(*chunk) if not gc.is_tracked(k)]
        from_garbage.update(map(id, kids))
        unique.update((id(k), k) for k in kids)
        chunk = kids = []
        yield
    base = _refcount_base()
    objs = list(unique.values())
    unique.clear()
    for i in range(0, len(objs), CHUNK):
        chunk = objs[i : i + CHUNK]
        counts = list(map(sys.getrefcount, chunk))
        # `objs` and `chunk` hold one reference each beyond the list base.
        total += sum(
            sizer.size(obj)
            for obj, count in zip(chunk, counts)
            if count - base - 1 == from_garbage[id(obj)]
        )
        chunk = []
        yield
    objs.clear()
    return total


def cyclic_garbage(engine: str | None = None) -> dict[str, int] | None:
    """The count in one go (tests, the CLI's in-process uses)."""
    count = GarbageCount(engine)
    while not count.step(time.perf_counter() + 0.05):
        pass
    return count.result()


__all__ = ["CHUNK", "PY_MAX_OBJECTS", "GarbageCount", "cyclic_garbage"]
