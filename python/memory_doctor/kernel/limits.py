"""The memory limit that actually applies to this process.

A kernel in a container is killed at the container's cgroup limit, not when
the machine runs out of RAM, so headroom is measured against:

``cgroup_v2``
    the smallest numeric ``memory.max`` of the process's cgroup and its
    ancestors up to the cgroup2 mount (``max`` means no limit at that level);
``cgroup_v1``
    the smallest ``memory.limit_in_bytes`` of the process's memory cgroup and
    its ancestors (v1 reports "unlimited" as a huge page-rounded number);
``physical``
    no cgroup limit below the machine's RAM (``SC_PHYS_PAGES * SC_PAGE_SIZE``);
``unknown``
    nothing could be read; ``bytes`` is then ``None``.

A cgroup limit at or above physical RAM cannot bind first, so it is reported
as ``physical``. The process's cgroup comes from ``/proc/self/cgroup`` and
the mount points from ``/proc/self/mountinfo``; where those are missing, the
usual ``/sys/fs/cgroup`` paths are tried. Every path is taken relative to a
``root`` so that tests can build a fake tree in a temporary directory.

The answer is cached (see :func:`memory_limit`): ``get_rss`` includes it on
every status-bar poll, and it must stay a dictionary lookup there.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..log import quiet_logger
from ..protocol import LimitSource
from ..protocol import MemoryLimit as WireMemoryLimit

_log = quiet_logger(__name__)

SOURCE_V2: Final = "cgroup_v2"
SOURCE_V1: Final = "cgroup_v1"
SOURCE_PHYSICAL: Final = "physical"
SOURCE_UNKNOWN: Final = "unknown"

#: How long a cached answer is used before the files are read again: a
#: container can be resized in place (Kubernetes in-place pod resize).
CACHE_TTL_S: Final = 60.0

#: Where cgroup file systems are usually mounted, for when mountinfo is unreadable.
_DEFAULT_MOUNT: Final = "/sys/fs/cgroup"
#: Files larger than this are not a cgroup value; never read more.
_MAX_READ: Final = 4096


@dataclass(frozen=True)
class MemoryLimit:
    """A limit in bytes (``None`` when unknown) and where it came from."""

    bytes: int | None
    source: LimitSource
    #: The file the cgroup limit was read from (for logs and the CLI), or None.
    path: str | None = None

    def as_wire(self) -> WireMemoryLimit:
        """The protocol's ``memory_limit`` object: ``{"bytes", "source"}``."""
        return {"bytes": self.bytes, "source": self.source}


@dataclass(frozen=True)
class _Mount:
    """One cgroup mount from mountinfo."""

    root: str  # the cgroup path mounted there (field 4)
    mount_point: str  # where (field 5)
    version: int  # 1 or 2
    controllers: frozenset[str]  # v1 super options naming controllers; empty for v2


def _join(root: str, path: str) -> str:
    """``path`` (absolute, as the process sees it) inside the tree at ``root``."""
    return os.path.join(root, path.lstrip("/"))


def _read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(_MAX_READ).decode("ascii", "replace")
    except OSError:
        return None


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_proc_cgroup(text: str) -> tuple[str | None, dict[str, str]]:
    """``/proc/self/cgroup`` as ``(v2 path or None, {v1 controller: path})``.

    Lines are ``hierarchy-id:controller-list:path``; the v2 line is ``0::path``.
    """
    v2: str | None = None
    v1: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2 = path
        else:
            for controller in controllers.split(","):
                if controller:
                    v1[controller] = path
    return v2, v1


def parse_mountinfo(text: str) -> list[_Mount]:
    """The cgroup and cgroup2 mounts listed in ``/proc/self/mountinfo``.

    A line is ``id parent major:minor root mount-point options [optional...] -
    fstype source super-options``.
    """
    mounts: list[_Mount] = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        tail = right.split()
        if len(fields) < 5 or not tail:
            continue
        fstype = tail[0]
        if fstype == "cgroup2":
            mounts.append(_Mount(_unescape(fields[3]), _unescape(fields[4]), 2, frozenset()))
        elif fstype == "cgroup" and len(tail) >= 3:
            options = frozenset(tail[2].split(","))
            mounts.append(_Mount(_unescape(fields[3]), _unescape(fields[4]), 1, options))
    return mounts


def _parse_limit(text: str | None) -> int | None:
    """A limit file's value in bytes; ``None`` for ``max``, garbage or a missing file."""
    if text is None:
        return None
    value = text.strip()
    if not value or value == "max":
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if number >= 0 else None  # v1 writes -1 to mean "unlimited"


def _cgroup_dir(mount: _Mount, cgroup_path: str) -> str:
    """The directory of ``cgroup_path`` under ``mount`` (as the process sees paths).

    Without a cgroup namespace the mount's root can be a sub-path of the
    process's cgroup path (docker with ``--cgroupns=host`` mounts
    ``/docker/<id>`` at ``/sys/fs/cgroup``); a path outside the mount's root
    (``/..`` from a foreign namespace) falls back to the mount point itself.
    """
    root = mount.root.rstrip("/")
    path = cgroup_path if cgroup_path.startswith("/") else "/" + cgroup_path
    if root and path != root and not path.startswith(root + "/"):
        return mount.mount_point
    relative = path[len(root) :].strip("/")
    if ".." in relative.split("/"):
        return mount.mount_point
    return os.path.join(mount.mount_point, relative) if relative else mount.mount_point


def _smallest_up_to(
    root: str, start: str, stop: str, filename: str
) -> tuple[int | None, str | None]:
    """The smallest limit in ``filename`` from ``start`` up to ``stop`` (both inclusive)."""
    best: int | None = None
    best_path: str | None = None
    current = os.path.normpath(start)
    stop = os.path.normpath(stop)
    while True:
        file_path = os.path.join(current, filename)
        value = _parse_limit(_read_text(_join(root, file_path)))
        if value is not None and (best is None or value < best):
            best, best_path = value, file_path
        if current == stop or len(current) <= len(stop):
            break
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return best, best_path


def _cgroup_limit(root: str) -> tuple[int, LimitSource, str] | None:
    """``(bytes, source, file)`` of the tightest cgroup limit, or ``None`` if there is none."""
    v2_path, v1_paths = parse_proc_cgroup(_read_text(_join(root, "/proc/self/cgroup")) or "")
    mounts = parse_mountinfo(_read_text(_join(root, "/proc/self/mountinfo")) or "")
    if not mounts:
        # No mountinfo (or no cgroup mounts listed): try the usual places.
        mounts = [
            _Mount("/", _DEFAULT_MOUNT, 2, frozenset()),
            _Mount("/", os.path.join(_DEFAULT_MOUNT, "memory"), 1, frozenset({"memory"})),
        ]
    found: list[tuple[int, LimitSource, str]] = []
    # v2 first: on a hybrid system the unified mount usually has no memory
    # controller (no memory.max files) and v1 holds the limit.
    for mount in (m for m in mounts if m.version == 2):
        start = _cgroup_dir(mount, v2_path if v2_path is not None else "/")
        value, path = _smallest_up_to(root, start, mount.mount_point, "memory.max")
        if value is not None and path is not None:
            found.append((value, SOURCE_V2, path))
    if not found:
        for mount in (m for m in mounts if m.version == 1 and "memory" in m.controllers):
            start = _cgroup_dir(mount, v1_paths.get("memory", "/"))
            value, path = _smallest_up_to(root, start, mount.mount_point, "memory.limit_in_bytes")
            if value is not None and path is not None:
                found.append((value, SOURCE_V1, path))
    return min(found) if found else None


def physical_memory() -> int | None:
    """The machine's RAM in bytes, or ``None`` where ``sysconf`` cannot say."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX, or the name is unknown
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return int(pages) * int(page_size)


def detect_limit(
    root: str = "/", physical: Callable[[], int | None] = physical_memory
) -> MemoryLimit:
    """Read the limit that applies now (no cache); never raises.

    ``root`` is where ``/proc`` and ``/sys`` are looked up (a temporary tree in
    tests); ``physical`` gives the machine's RAM.
    """
    try:
        ram = physical()
    except Exception:  # an injected reader; never raise from here
        ram = None
    try:
        cgroup = _cgroup_limit(root)
    except Exception:  # malformed files: fall back rather than fail the hello
        _log.debug("reading the cgroup limit failed", exc_info=True)
        cgroup = None
    if cgroup is not None:
        value, source, path = cgroup
        if ram is None or value < ram:
            return MemoryLimit(value, source, path)
    if ram is not None:
        return MemoryLimit(ram, SOURCE_PHYSICAL)
    return MemoryLimit(None, SOURCE_UNKNOWN)


_cache_lock = threading.Lock()
_cached: tuple[float, int, MemoryLimit] | None = None  # (monotonic time, pid, answer)


def memory_limit(max_age_s: float = CACHE_TTL_S) -> MemoryLimit:
    """The limit that applies to this process, cached for ``max_age_s`` seconds.

    Cheap enough for ``get_rss`` on a subshell thread: a cached answer is a
    tuple read; a stale one is refreshed by whichever thread asks first (a few
    small file reads), and a forked child never uses its parent's answer.
    """
    global _cached  # noqa: PLW0603 - one cached answer per process
    now = time.monotonic()
    pid = os.getpid()
    cached = _cached
    if cached is not None and cached[1] == pid and now - cached[0] < max_age_s:
        return cached[2]
    with _cache_lock:
        cached = _cached
        if cached is not None and cached[1] == pid and now - cached[0] < max_age_s:
            return cached[2]
        answer = detect_limit()
        _cached = (time.monotonic(), pid, answer)
        return answer
