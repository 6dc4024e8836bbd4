"""The C allocators under Python: glibc's ``malloc_trim``/``mallinfo2`` and pymalloc's arenas.

Freed memory does not always go back to the operating system: pymalloc keeps
an arena while any object in it lives, and glibc keeps free chunks of its
heap resident until ``malloc_trim``. :class:`AllocatorGap` measures both, for
the ``allocator_gap`` finding and for explaining a fix that freed less than
estimated. glibc is reached through ctypes, loaded on first use; elsewhere
every reading is None and ``malloc_trim`` is unavailable.
"""

from __future__ import annotations

import ctypes
import os
import re
from dataclasses import dataclass
from typing import Any

from ..log import guarded, quiet_logger
from ..procmem import heap_mapping_rss

_log = quiet_logger(__name__)

_libc: Any = None
_libc_failed = False


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
            _libc = lib
        except (OSError, AttributeError):
            _libc_failed = True
    return _libc


def malloc_trim_available() -> bool:
    """Whether the ``malloc_trim`` fix can run here."""
    return libc() is not None


def malloc_trim() -> bool:
    """glibc ``malloc_trim(0)``: give free heap pages back to the OS."""
    lib = libc()
    if lib is None:
        return False
    return bool(lib.malloc_trim(0))


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


def malloc_free_bytes() -> int | None:
    """Bytes free inside glibc's heap that are still resident (what
    ``malloc_trim(0)`` can give back): the ``[heap]`` mapping's RSS minus the
    bytes malloc has handed out (``mallinfo2().uordblks``), at most the free
    bytes (``fordblks``). Free chunks already given back by an earlier trim are
    not resident, so they do not count. Thread arenas are not included."""
    lib = libc()
    if lib is None:
        return None
    try:
        func = lib.mallinfo2  # glibc >= 2.33
    except AttributeError:
        return None
    func.restype = _MallInfo2
    info = func()
    heap = heap_mapping_rss()
    if heap is None:
        return None
    return int(min(info.fordblks, max(heap - info.uordblks, 0)))


_STATS_LINE = re.compile(
    rb"^(#\s*bytes in available blocks|\d+ unused pools \* \d+ bytes)\s*=\s*([\d,]+)", re.M
)


def pymalloc_free_bytes() -> int | None:
    """Bytes free inside the arenas of Python's small-object allocator (pymalloc).

    An arena (1 MiB) goes back to the OS only when every object in it is gone,
    so a few survivors pin whole arenas. The figures come from CPython's own
    ``_PyObject_DebugMallocStats`` written into a memory buffer (``fmemopen``):
    available blocks plus unused pools. Nothing is printed.
    """
    lib = libc()
    if lib is None:
        return None
    try:
        stats = ctypes.pythonapi._PyObject_DebugMallocStats
        fmemopen = lib.fmemopen
        fclose = lib.fclose
    except AttributeError:
        return None
    stats.argtypes = [ctypes.c_void_p]
    stats.restype = ctypes.c_int
    fmemopen.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    fmemopen.restype = ctypes.c_void_p
    fclose.argtypes = [ctypes.c_void_p]
    buf = ctypes.create_string_buffer(1 << 16)
    stream = fmemopen(buf, len(buf) - 1, b"w")
    if not stream:
        return None
    try:
        if not stats(stream):
            return 0  # pymalloc is not in use (PYTHONMALLOC=malloc)
    finally:
        fclose(stream)
    found = _STATS_LINE.findall(buf.value)
    if len(found) != 2:
        return None
    return sum(int(value.replace(b",", b"")) for _label, value in found)


@dataclass(frozen=True)
class AllocatorGap:
    """Memory freed by Python but still resident: the part ``malloc_trim`` could return."""

    #: Free bytes inside pymalloc's arenas (None where unknown).
    pymalloc_free: int | None
    #: Free resident bytes in glibc's main heap (None where unknown).
    malloc_free: int | None
    #: Whether the ``malloc_trim`` fix can run here.
    malloc_trim: bool

    @classmethod
    def measure(cls) -> AllocatorGap:
        """Both readings now; one that fails is None."""
        return cls(
            guarded(pymalloc_free_bytes, _log),
            guarded(malloc_free_bytes, _log),
            malloc_trim_available(),
        )

    @property
    def total(self) -> int | None:
        """Both free figures added up; None when neither is known."""
        parts = [p for p in (self.pymalloc_free, self.malloc_free) if p is not None]
        return sum(parts) if parts else None

    def as_wire(self) -> dict[str, Any]:
        """``findings.allocator_gap`` as docs/protocol.md describes it."""
        return {"bytes": self.total, "malloc_trim": self.malloc_trim}


__all__ = [
    "AllocatorGap",
    "is_glibc",
    "libc",
    "malloc_free_bytes",
    "malloc_trim",
    "malloc_trim_available",
    "pymalloc_free_bytes",
]
