"""Process-wide findings: open file descriptors, threads, children, cyclic garbage.

Measured once after a scan (see ``docs/protocol.md``, ``scan.findings``),
from ``/proc`` where there is one; each figure is None where unknown. Cyclic
garbage is found read-only, without collecting it (``gc.collect()`` would run
finalizers), by the heap engine (``heap.garbage``).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from ..heap.garbage import cyclic_garbage as count_cyclic_garbage
from ..log import guarded, quiet_logger
from .allocator import AllocatorGap

_log = quiet_logger(__name__)


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


def cyclic_garbage() -> dict[str, int] | None:
    """Objects unreachable except through reference cycles, without collecting them.

    ``gc.collect()`` would free them (and run their finalizers); the heap
    engine repeats the collector's own analysis read-only instead
    (``heap.garbage``, in C when the native engine is built). This runs it in
    one go; the kernel's scans drive the same count in slices
    (``heap.garbage.GarbageCount``). None when the heap is too large for the
    engine.
    """
    return count_cyclic_garbage()


__all__ = [
    "Findings",
    "child_count",
    "child_pids",
    "cyclic_garbage",
    "open_fds",
    "thread_count",
]
