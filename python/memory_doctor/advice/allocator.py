"""The allocators under Python: pymalloc, glibc's heap and arenas, Arrow's pool.

Freed memory does not always go back to the operating system: pymalloc keeps
an arena while any object in it lives; glibc keeps free chunks of its main
heap (``[heap]``) and of the arenas other threads use resident until
``malloc_trim``; Arrow's pool (mimalloc or jemalloc) keeps freed pages until
``release_unused()`` or a later allocation purges them. This module reads
each of them, for three uses:

- :class:`AllocatorGap`, the ``allocator_gap`` finding: memory freed inside
  the process that is still resident, per allocator;
- :class:`InUse`, what the process holds *inside* its allocators (pymalloc's
  allocated blocks, glibc's ``mallinfo2``, Arrow's ``bytes_allocated()``):
  a fix reports what it freed there beside what RSS dropped;
- :func:`release_free_memory`, which returns what is free (``malloc_trim(0)``,
  Arrow's ``release_unused()``): before a fix, so memory freed earlier is not
  credited to it, and after it, so what it freed leaves the process.

glibc is reached through ctypes, loaded on first use; elsewhere its readings
are None and ``malloc_trim`` is unavailable. Arrow is only read when the user
has imported ``pyarrow`` (it is never imported here).
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Final

from ..log import guarded, quiet_logger
from ..procmem import KIB
from ..protocol import GAP_ALLOCATORS

_log = quiet_logger(__name__)

_libc: Any = None
_libc_failed = False

#: glibc's ``HEAP_MAX_SIZE`` (``2 * DEFAULT_MMAP_THRESHOLD_MAX``): a thread
#: arena's heaps are mappings of this size, aligned to it.
ARENA_HEAP_SIZE: Final = 2 * 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)
#: Where mimalloc (Arrow's default pool) places its aligned reservations: its
#: ``MI_HINT_BASE`` (2 TiB) to ``MI_HINT_MAX`` (30 TiB). glibc's mappings and the
#: kernel's default mmap base lie elsewhere on x86-64 and aarch64 Linux.
MIMALLOC_HINT_RANGE: Final = (2 << 40, 30 << 40)

#: Names of the allocators in ``allocator_gap.parts`` (the protocol's ``GAP_ALLOCATORS``).
PYMALLOC, GLIBC_HEAP, GLIBC_ARENAS, ARROW_POOL = GAP_ALLOCATORS


def is_glibc() -> bool:
    """Whether this process runs on glibc (where ``malloc_trim`` exists)."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError, AttributeError):
        return False


def libc() -> Any:
    """glibc through ctypes, loaded on first use; None elsewhere."""
    global _libc, _libc_failed  # noqa: PLW0603 - loaded once per process
    if _libc is None and not _libc_failed:
        try:
            if not is_glibc():
                raise OSError("not glibc")
            lib = ctypes.CDLL("libc.so.6")
            lib.malloc_trim.argtypes = [ctypes.c_size_t]
            lib.malloc_trim.restype = ctypes.c_int
            lib.fmemopen.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
            lib.fmemopen.restype = ctypes.c_void_p
            lib.fclose.argtypes = [ctypes.c_void_p]
            _libc = lib
        except (OSError, AttributeError):
            _libc_failed = True
    return _libc


def malloc_trim_available() -> bool:
    """Whether the ``malloc_trim`` fix can run here."""
    return libc() is not None


def malloc_trim() -> bool:
    """glibc ``malloc_trim(0)``: give the free pages of every arena back to the OS."""
    lib = libc()
    if lib is None:
        return False
    return bool(lib.malloc_trim(0))


# ---------------------------------------------------------------------- Arrow


def arrow_pool() -> Any:
    """Arrow's default memory pool when the user has imported pyarrow, else None."""
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is None:
        return None
    getter = getattr(pyarrow, "default_memory_pool", None)
    return getter() if callable(getter) else None


def arrow_backend(pool: Any) -> str | None:
    """``mimalloc``, ``jemalloc`` or ``system`` (glibc: read with glibc's figures)."""
    name = getattr(pool, "backend_name", None) if pool is not None else None
    return name if type(name) is str else None


def arrow_release_unused() -> bool:
    """Arrow's ``release_unused()``: its pool returns the pages it keeps free."""
    pool = arrow_pool()
    if pool is None:
        return False
    pool.release_unused()
    return True


def release_free_memory() -> None:
    """Return what is free in every allocator that can: glibc's arenas
    (``malloc_trim(0)``) and Arrow's pool (``release_unused()``).

    pymalloc has no such call: it returns an arena only once it is empty.
    """
    guarded(malloc_trim, _log)
    guarded(arrow_release_unused, _log)


# ---------------------------------------------------------------------- /proc/self/smaps


@dataclass(frozen=True)
class Mapping:
    """One line of ``/proc/self/maps`` with its resident bytes from ``smaps``."""

    start: int
    end: int
    perms: str
    path: str
    rss: int


def read_mappings() -> list[Mapping] | None:
    """Every mapping of this process with its RSS; None without ``/proc/self/smaps``."""
    out: list[Mapping] = []
    try:
        with open("/proc/self/smaps", "rb") as f:
            head: list[Any] | None = None
            for line in f:
                first = line.split(b" ", 1)[0]
                if b"-" in first and b":" not in first:
                    if head is not None:
                        out.append(Mapping(*head))
                    parts = line.split(None, 5)
                    lo, hi = parts[0].split(b"-")
                    path = parts[5].strip().decode("utf-8", "replace") if len(parts) > 5 else ""
                    head = [int(lo, 16), int(hi, 16), parts[1].decode(), path, 0]
                elif head is not None and line.startswith(b"Rss:"):
                    head[4] = int(line.split()[1]) * KIB
            if head is not None:
                out.append(Mapping(*head))
    except (OSError, ValueError, IndexError):
        return None
    return out


@dataclass(frozen=True)
class Resident:
    """Resident bytes of the mappings each allocator owns."""

    #: glibc's main heap: every ``[heap]`` mapping.
    glibc_heap: int
    #: The heaps of glibc's other arenas (threads'): anonymous, aligned to
    #: ``ARENA_HEAP_SIZE`` and reserved at that size.
    glibc_arenas: int
    #: mimalloc's reservations (Arrow's default pool), by their address range.
    mimalloc: int


def resident(mappings: list[Mapping]) -> Resident:
    """Sum the resident bytes of each allocator's mappings."""
    heap = arenas = mimalloc = 0
    lo, hi = MIMALLOC_HINT_RANGE
    for i, m in enumerate(mappings):
        if m.path == "[heap]":
            heap += m.rss
        elif m.path or not m.perms.startswith("rw"):
            continue
        elif _is_arena_heap(m, mappings[i + 1] if i + 1 < len(mappings) else None):
            arenas += m.rss
        elif lo <= m.start < hi:
            mimalloc += m.rss
    return Resident(heap, arenas, mimalloc)


def _is_arena_heap(m: Mapping, following: Mapping | None) -> bool:
    """A glibc arena heap: read-write from an ``ARENA_HEAP_SIZE``-aligned start, the
    rest of the reservation (if any) an inaccessible mapping right after it."""
    if m.start % ARENA_HEAP_SIZE:
        return False
    end = m.start + ARENA_HEAP_SIZE
    if m.end == end:
        return True
    return (
        following is not None
        and following.start == m.end
        and following.end == end
        and following.perms.startswith("---")
        and not following.path
    )


# ---------------------------------------------------------------------- glibc


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def mallinfo2() -> _MallInfo2 | None:
    """glibc's ``mallinfo2()`` (glibc >= 2.33), summed over every arena; None elsewhere."""
    lib = libc()
    if lib is None:
        return None
    try:
        func = lib.mallinfo2
    except AttributeError:
        return None
    func.restype = _MallInfo2
    info: _MallInfo2 = func()
    return info


def _write_to_buffer(write: Any, size: int) -> bytes | None:
    """What ``write(FILE *)`` writes, captured in memory with ``fmemopen``
    (nothing reaches a real stream); None when it fails or fills the buffer."""
    lib = libc()
    if lib is None:
        return None
    buf = ctypes.create_string_buffer(size)
    stream = lib.fmemopen(buf, size - 1, b"w")
    if not stream:
        return None
    try:
        ok = write(stream)
    finally:
        lib.fclose(stream)
    text = buf.value
    return text if ok and len(text) < size - 2 else None


_HEAP_BLOCK: Final = re.compile(rb'<heap nr="(\d+)">(.*?)</heap>', re.S)
_HEAP_FIELD: Final = re.compile(rb'<(total|system) type="(fast|rest|current)"[^>]*size="(\d+)"')


@dataclass(frozen=True)
class ArenaInfo:
    """One glibc arena from ``malloc_info``: its free bytes and the memory it has
    from the system (``system_mem``)."""

    number: int
    free: int
    system: int

    @property
    def in_use(self) -> int:
        """Bytes handed out by this arena."""
        return max(self.system - self.free, 0)


def malloc_arenas() -> list[ArenaInfo] | None:
    """Every glibc arena (``nr="0"`` is the main one), from ``malloc_info(0, f)``."""
    lib = libc()
    if lib is None:
        return None
    try:
        info = lib.malloc_info
    except AttributeError:
        return None
    info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    info.restype = ctypes.c_int
    text = _write_to_buffer(lambda stream: info(0, stream) == 0, 1 << 20)
    if text is None:
        return None
    out = []
    for number, body in _HEAP_BLOCK.findall(text):
        fields = {kind: int(size) for _tag, kind, size in _HEAP_FIELD.findall(body)}
        if b"current" not in fields:
            return None
        free = fields.get(b"fast", 0) + fields.get(b"rest", 0)
        out.append(ArenaInfo(int(number), free, fields[b"current"]))
    return out


def glibc_gaps(res: Resident, arenas: list[ArenaInfo]) -> tuple[int, int]:
    """``(main heap, other arenas)``: free bytes that are still resident, what
    ``malloc_trim(0)`` can give back. Resident bytes of the arena's mappings
    minus the bytes it has handed out, at most its free bytes: free pages an
    earlier trim returned are not resident, so they do not count twice."""
    main = [a for a in arenas if a.number == 0]
    others = [a for a in arenas if a.number != 0]

    def gap(rss: int, group: list[ArenaInfo]) -> int:
        free = sum(a.free for a in group)
        used = sum(a.in_use for a in group)
        return max(min(free, rss - used), 0)

    return gap(res.glibc_heap, main), gap(res.glibc_arenas, others)


# ---------------------------------------------------------------------- pymalloc

_STATS_LINE: Final = re.compile(
    rb"^(#\s*bytes in allocated blocks|#\s*bytes in available blocks|\d+ unused pools \* \d+ bytes)"
    rb"\s*=\s*([\d,]+)",
    re.M,
)


def pymalloc_stats() -> tuple[int, int] | None:
    """``(allocated, free)`` bytes of Python's small-object allocator (pymalloc).

    Free is the available blocks plus the unused pools of the arenas still
    allocated: an arena (1 MiB) goes back to the OS only when every object in
    it is gone, so a few survivors pin whole arenas. The figures come from
    CPython's own ``_PyObject_DebugMallocStats``, written into a memory buffer.
    ``(0, 0)`` when pymalloc is not in use (``PYTHONMALLOC=malloc``).
    """
    try:
        stats = ctypes.pythonapi._PyObject_DebugMallocStats
    except AttributeError:
        return None
    stats.argtypes = [ctypes.c_void_p]
    stats.restype = ctypes.c_int
    used = [True]

    def write(stream: Any) -> bool:
        used[0] = bool(stats(stream))
        return True

    text = _write_to_buffer(write, 1 << 17)
    if not used[0]:
        return 0, 0
    if text is None:
        return None
    values = [int(value.replace(b",", b"")) for _label, value in _STATS_LINE.findall(text)]
    if len(values) != 3:
        return None
    return values[0], values[1] + values[2]


def pymalloc_free_bytes() -> int | None:
    """Bytes free inside pymalloc's arenas (see :func:`pymalloc_stats`)."""
    found = pymalloc_stats()
    return found[1] if found is not None else None


# ---------------------------------------------------------------------- the readings


@dataclass(frozen=True)
class InUse:
    """Bytes the process holds inside its allocators now (None where unknown)."""

    #: pymalloc's allocated blocks (its arenas are mapped apart from glibc's).
    pymalloc: int | None
    #: glibc: handed out by every arena plus its own mmapped chunks.
    glibc: int | None
    #: Arrow's pool, when pyarrow is loaded and its pool is not glibc's.
    arrow: int | None

    @classmethod
    def measure(cls) -> InUse:
        """All three now."""
        stats = guarded(pymalloc_stats, _log)
        info = guarded(mallinfo2, _log)
        return cls(
            stats[0] if stats is not None else None,
            int(info.uordblks + info.hblkhd) if info is not None else None,
            guarded(_arrow_in_use, _log),
        )

    def freed_since(self, before: InUse) -> int | None:
        """Bytes freed between ``before`` and this reading, summed over the
        allocators both know (never negative); None when none is known."""
        parts = [
            b - a
            for b, a in (
                (before.pymalloc, self.pymalloc),
                (before.glibc, self.glibc),
                (before.arrow, self.arrow),
            )
            if b is not None and a is not None
        ]
        return max(sum(parts), 0) if parts else None


def _arrow_in_use() -> int | None:
    pool = arrow_pool()
    if pool is None or arrow_backend(pool) == "system":
        return None  # glibc's figures count it
    return int(pool.bytes_allocated())


@dataclass(frozen=True)
class AllocatorGap:
    """Memory freed inside the process but still resident, per allocator."""

    #: Free bytes inside pymalloc's arenas (None where unknown); not returnable.
    pymalloc_free: int | None
    #: Free resident bytes in glibc's main heap (None where unknown).
    glibc_heap: int | None
    #: Free resident bytes in glibc's other arenas (None where unknown).
    glibc_arenas: int | None
    #: Free resident bytes in Arrow's pool (None when pyarrow is not loaded or
    #: its pool cannot be read: jemalloc; with the system pool, glibc's figures
    #: count it).
    arrow_pool: int | None
    #: Whether the ``malloc_trim`` fix can run here.
    malloc_trim: bool

    @classmethod
    def measure(cls) -> AllocatorGap:
        """Every reading now; one that fails is None."""
        heap = arenas = arrow = None
        mappings = guarded(read_mappings, _log)
        infos = guarded(malloc_arenas, _log)
        res = resident(mappings) if mappings is not None else None
        if res is not None and infos is not None:
            heap, arenas = glibc_gaps(res, infos)
        pool = guarded(arrow_pool, _log)
        if res is not None and pool is not None and arrow_backend(pool) == "mimalloc":
            used = guarded(_arrow_in_use, _log)
            arrow = max(res.mimalloc - used, 0) if used is not None else None
        return cls(guarded(pymalloc_free_bytes, _log), heap, arenas, arrow, malloc_trim_available())

    def parts(self) -> list[tuple[str, int | None, bool]]:
        """``(allocator, free resident bytes, whether the fix returns it)``."""
        return [
            (PYMALLOC, self.pymalloc_free, False),
            (GLIBC_HEAP, self.glibc_heap, self.malloc_trim),
            (GLIBC_ARENAS, self.glibc_arenas, self.malloc_trim),
            (ARROW_POOL, self.arrow_pool, True),
        ]

    @property
    def returnable(self) -> int | None:
        """What ``malloc_trim(0)`` and Arrow's ``release_unused()`` can give back."""
        known = [b for _name, b, ret in self.parts() if ret and b is not None]
        return sum(known) if known else None

    @property
    def total(self) -> int | None:
        """Every part added up; None when none is known."""
        known = [b for _name, b, _ret in self.parts() if b is not None]
        return sum(known) if known else None

    def as_wire(self) -> dict[str, Any]:
        """``findings.allocator_gap`` as docs/protocol.md describes it."""
        return {
            "bytes": self.total,
            "malloc_trim": self.malloc_trim,
            "parts": [
                {"allocator": name, "bytes": b, "returnable": ret}
                for name, b, ret in self.parts()
                if b is not None
            ],
        }


__all__ = [
    "ARROW_POOL",
    "GLIBC_ARENAS",
    "GLIBC_HEAP",
    "PYMALLOC",
    "AllocatorGap",
    "ArenaInfo",
    "InUse",
    "Mapping",
    "Resident",
    "arrow_pool",
    "arrow_release_unused",
    "glibc_gaps",
    "is_glibc",
    "libc",
    "mallinfo2",
    "malloc_arenas",
    "malloc_trim",
    "malloc_trim_available",
    "pymalloc_free_bytes",
    "pymalloc_stats",
    "read_mappings",
    "release_free_memory",
    "resident",
]
