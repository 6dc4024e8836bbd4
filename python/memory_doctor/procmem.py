"""Process memory readings, shared by the kernel hooks, the scan and the advice.

Low-level and cheap: :func:`current_rss` runs several times per cell inside
someone else's kernel, so its file descriptor stays open and is re-read with
``os.pread`` (procfs regenerates the text at offset 0), and only the bytes we
need are parsed. The rest reads ``/proc/self`` in the same way:

- :class:`ProcFile`: a procfs file kept open (and reopened after a ``fork``);
- :class:`HighWaterMark`: the resident-set high-water mark, reset by writing
  ``5`` to ``/proc/self/clear_refs`` and read as ``VmHWM`` from
  ``/proc/self/status`` (see ``kernel/measure.py`` for how the peak probe uses it);
- :func:`heap_mapping_rss`: resident bytes of glibc's ``[heap]`` mapping
  (``/proc/self/smaps``).

Nothing here raises on a platform without procfs: readers raise ``OSError``
when they are built, and :func:`current_rss` falls back to psutil, then 0.
"""

from __future__ import annotations

import contextlib
import os
from typing import Final

from .log import quiet_logger

_log = quiet_logger(__name__)

#: Bytes per KiB, the unit of ``/proc/self/status`` and ``smaps``.
KIB: Final = 1024


class ProcFile:
    """A procfs file kept open and re-read with ``pread``.

    ``/proc/self`` resolves when the file is opened, so after a ``fork`` the
    child would keep reading its parent's figures; we reopen when the pid
    changes.
    """

    __slots__ = ("_fd", "_flags", "_path", "_pid")

    def __init__(self, path: str, flags: int = os.O_RDONLY) -> None:
        self._path = path
        self._flags = flags | getattr(os, "O_CLOEXEC", 0)
        self._pid = os.getpid()
        self._fd = os.open(path, self._flags)

    def _check_pid(self) -> int:
        pid = os.getpid()
        if pid != self._pid:
            # The inherited descriptor is this process's own copy and still
            # points at the parent's /proc entry: close it, then reopen.
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = os.open(self._path, self._flags)
            self._pid = pid
        return self._fd

    def read(self, size: int = 4096) -> bytes:
        """The file's first ``size`` bytes, as procfs generates them now."""
        return os.pread(self._check_pid(), size, 0)

    def write(self, data: bytes) -> None:
        """Write ``data`` (procfs control files such as ``clear_refs``)."""
        os.write(self._check_pid(), data)

    def close(self) -> None:
        """Close the descriptor; a second call does nothing."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


def status_field_kib(status: bytes, key: bytes) -> int:
    """Parse ``key:   1234 kB`` out of ``/proc/self/status`` text, in KiB."""
    start = status.find(key)
    if start < 0:
        raise ValueError(f"{key!r} not in /proc/self/status")
    start += len(key)
    end = status.find(b"kB", start)
    return int(status[start:end])


class StatmReader:
    """Current RSS from ``/proc/self/statm`` (the cheapest procfs file)."""

    __slots__ = ("_file", "_page")

    def __init__(self) -> None:
        self._file = ProcFile("/proc/self/statm")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        """Resident bytes now."""
        # "size resident shared text lib data dt", in pages.
        fields = self._file.read(256).split(None, 2)
        return int(fields[1]) * self._page

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class HighWaterMark:
    """Linux's resident-set high-water mark (``VmHWM``), which ``clear_refs`` resets.

    Opening raises ``OSError`` where procfs or ``clear_refs`` is missing or
    not writable (gVisor and some sandboxes).
    """

    __slots__ = ("_clear", "_status")

    def __init__(self) -> None:
        self._clear = ProcFile("/proc/self/clear_refs", os.O_WRONLY)
        try:
            self._status = ProcFile("/proc/self/status")
        except OSError:
            self._clear.close()
            raise

    def reset(self) -> None:
        """Bring the mark down to the current RSS."""
        self._clear.write(b"5")

    def read(self) -> tuple[int, int]:
        """``(VmRSS, VmHWM)`` in bytes."""
        status = self._status.read()
        if b"VmHWM:" not in status:  # pragma: no cover - status larger than a page
            status = self._status.read(65536)
        return (
            status_field_kib(status, b"VmRSS:") * KIB,
            status_field_kib(status, b"VmHWM:") * KIB,
        )

    def close(self) -> None:
        """Close both files."""
        self._clear.close()
        self._status.close()


_rss_reader: StatmReader | None = None
_rss_reader_failed = False


def current_rss() -> int:
    """The resident set size of this process now, in bytes (0 if unknown)."""
    global _rss_reader, _rss_reader_failed  # noqa: PLW0603 - one cached reader per process
    reader = _rss_reader
    if reader is None and not _rss_reader_failed:
        try:
            reader = _rss_reader = StatmReader()
        except (OSError, ValueError):
            _rss_reader_failed = True
    if reader is not None:
        try:
            return reader.rss()
        except (OSError, ValueError, IndexError):
            _log.debug("reading /proc/self/statm failed", exc_info=True)
    return _rss_without_proc()


def _rss_without_proc() -> int:
    """RSS on platforms without procfs, through psutil when it is installed."""
    try:
        import psutil  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415 - optional, and only needed off Linux
    except ImportError:
        return 0
    try:
        return int(psutil.Process().memory_info().rss)
    except Exception:  # psutil raises its own hierarchy
        return 0


def heap_mapping_rss() -> int | None:
    """Resident bytes of the ``[heap]`` mapping (glibc's main arena); None without smaps."""
    try:
        with open("/proc/self/smaps", "rb") as f:
            in_heap = False
            for line in f:
                if line[:1].isupper() and b":" in line.split(b" ", 1)[0]:
                    if in_heap and line.startswith(b"Rss:"):
                        return int(line.split()[1]) * KIB
                    continue
                in_heap = line.rstrip().endswith(b"[heap]")
    except (OSError, ValueError, IndexError):
        return None
    return 0


__all__ = [
    "KIB",
    "HighWaterMark",
    "ProcFile",
    "StatmReader",
    "current_rss",
    "heap_mapping_rss",
    "status_field_kib",
]
