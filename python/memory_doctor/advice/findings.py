"""Process-wide findings: open file descriptors, threads, children, cyclic garbage.

Measured once after a scan (see ``docs/protocol.md``, ``scan.findings``),
from ``/proc`` where there is one; each figure is None where unknown. Cyclic
garbage is found read-only, without collecting it (``gc.collect()`` would run
finalizers), and sized with the scan's known-type sizers.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress, repeat
from operator import gt, not_, sub
from typing import Any, Final

from ..heap.sizers import Classifier, Context
from ..log import guarded, quiet_logger
from .allocator import AllocatorGap

_log = quiet_logger(__name__)

#: Cyclic garbage is not measured above this many GC-tracked objects: the pass
#: is linear in the heap and runs in one go on the kernel's loop, after the scan.
MAX_GC_OBJECTS: Final = 500_000


@dataclass(frozen=True)
class Findings:
    """The figures of one scan's ``findings``; None where unknown or not measured."""

    open_fds: int | None = None
    threads: int | None = None
    children: int | None = None
    cyclic_garbage: dict[str, int] | None = None
    allocator_gap: AllocatorGap | None = None

    @classmethod
    def measure(cls) -> Findings:
        """Every figure now; one that fails is None."""
        return cls(
            open_fds=guarded(open_fds, _log),
            threads=guarded(thread_count, _log),
            children=guarded(child_count, _log),
            cyclic_garbage=guarded(cyclic_garbage, _log),
            allocator_gap=guarded(AllocatorGap.measure, _log),
        )

    def as_wire(self) -> dict[str, Any]:
        """``scan.findings`` as docs/protocol.md describes it."""
        gap = self.allocator_gap
        return {
            "open_fds": self.open_fds,
            "threads": self.threads,
            "children": self.children,
            "cyclic_garbage": self.cyclic_garbage,
            "allocator_gap": gap.as_wire() if gap is not None else None,
        }


def open_fds() -> int | None:
    """Open file descriptors of this process (``/proc/self/fd``)."""
    try:
        # listdir's own directory descriptor is listed too.
        return max(len(os.listdir("/proc/self/fd")) - 1, 0)
    except OSError:
        return None


def thread_count() -> int | None:
    """OS threads of this process (``Threads:`` of ``/proc/self/status``)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return threading.active_count()


def child_pids() -> list[int] | None:
    """Pids of this process's children (``/proc/<pid>/task/*/children``, else a
    scan of ``/proc/*/stat``), None without procfs."""
    me = os.getpid()
    try:
        tasks = os.listdir(f"/proc/{me}/task")
    except OSError:
        return None
    pids: set[int] = set()
    try:
        for tid in tasks:
            with open(f"/proc/{me}/task/{tid}/children", "rb") as f:
                pids.update(int(p) for p in f.read().split())
        return sorted(pids)
    except (OSError, ValueError):
        pass  # no CONFIG_PROC_CHILDREN: scan the process table
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(me).encode():
            pids.add(int(entry))
    return sorted(pids)


def child_count() -> int | None:
    """How many child processes this process has."""
    pids = child_pids()
    return None if pids is None else len(pids)


def _refcount_base() -> int:
    """What ``list(map(sys.getrefcount, objs))`` reports for an object whose only
    reference is the list ``objs`` (measured: it differs between versions)."""
    objs = [object()]
    return next(map(sys.getrefcount, objs))


def cyclic_garbage(limit: int = MAX_GC_OBJECTS) -> dict[str, int] | None:
    """Objects unreachable except through reference cycles, without collecting them.

    ``gc.collect()`` would free them (and run their finalizers), so instead this
    repeats the collector's own analysis read-only: for every GC-tracked object,
    its references from outside the tracked heap are its reference count minus
    the references other tracked objects hold (``gc.get_referents``); objects
    with outside references are reachable, and so is everything they reach.
    What is left is cyclic garbage. Its bytes are the known-type sizes of those
    objects plus the untracked objects (arrays, strings) only they hold.
    None when the heap has more than ``limit`` tracked objects.
    """
    objs = gc.get_objects()
    if len(objs) > limit:
        return None
    base = _refcount_base()
    ids = list(map(id, objs))
    outside = list(map(sys.getrefcount, objs))
    index = dict(zip(ids, range(len(ids))))
    internal = Counter(map(id, gc.get_referents(*objs)))
    outside = list(map(sub, outside, map(internal.get, ids, repeat(0))))
    reached = set(compress(ids, map(gt, outside, repeat(base))))
    del internal, outside
    frontier = list(map(objs.__getitem__, map(index.__getitem__, reached)))
    while frontier:
        new = set(map(id, gc.get_referents(*frontier)))
        new.difference_update(reached)
        new = set(filter(index.__contains__, new))  # tracked objects only
        reached |= new
        frontier = list(map(objs.__getitem__, map(index.__getitem__, new)))
    garbage = list(compress(objs, map(not_, map(reached.__contains__, ids))))
    del objs, frontier, reached, index, ids
    if not garbage:
        return {"objects": 0, "bytes": 0}
    return {"objects": len(garbage), "bytes": _garbage_bytes(garbage)}


def _garbage_bytes(garbage: list[Any]) -> int:
    classifier = Classifier(Context(frozenset(), set()))
    sizers: dict[int, Callable[[Any], int]] = {}

    def size(obj: Any) -> int:
        tid = id(type(obj))
        sizer = sizers.get(tid)
        if sizer is None:
            sizer = sizers[tid] = classifier.classify(type(obj)).sizer
        try:
            return max(int(sizer(obj)), 0)
        except Exception:
            return 0

    total = sum(map(size, garbage))
    # Untracked objects (arrays, strings, numbers) count when the garbage holds
    # every reference to them.
    kids = [k for k in gc.get_referents(*garbage) if not gc.is_tracked(k)]
    from_garbage = Counter(map(id, kids))
    unique = list({id(k): k for k in kids}.values())
    del kids
    base = _refcount_base()
    counts = list(map(sys.getrefcount, unique))
    for obj, count in zip(unique, counts):
        if count - base == from_garbage[id(obj)]:
            total += size(obj)
    return total


__all__ = [
    "MAX_GC_OBJECTS",
    "Findings",
    "child_count",
    "child_pids",
    "cyclic_garbage",
    "open_fds",
    "thread_count",
]
