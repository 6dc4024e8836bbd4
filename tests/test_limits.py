"""The memory limit that applies: cgroup v2, v1, "max", none, from fake trees and this machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memory_doctor.kernel import limits
from memory_doctor.kernel.limits import (
    MemoryLimit,
    detect_limit,
    parse_mountinfo,
    parse_proc_cgroup,
)
from memory_doctor.protocol import LIMIT_SOURCES

GIB = 1 << 30
RAM = 16 * GIB

V2_MOUNT = "31 23 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n"
V1_MOUNTS = (
    "31 23 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
)
HYBRID_MOUNTS = V1_MOUNTS + (
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
)
V1_UNLIMITED = "9223372036854771712\n"


def _tree(root: Path, files: dict[str, str]) -> str:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="ascii")
    return str(root)


def _v2_tree(root: Path, memory_max: str) -> str:
    """A cgroup v2 machine whose process sits in the root cgroup, limited by ``memory_max``."""
    return _tree(
        root,
        {
            "/proc/self/cgroup": "0::/\n",
            "/proc/self/mountinfo": V2_MOUNT,
            "/sys/fs/cgroup/memory.max": memory_max,
        },
    )


def _ram() -> int:
    return RAM


def test_v2_limit(tmp_path: Path) -> None:
    root = _v2_tree(tmp_path, "536870912\n")
    limit = detect_limit(root, _ram)
    assert limit == MemoryLimit(512 << 20, "cgroup_v2", "/sys/fs/cgroup/memory.max")
    assert limit.as_wire() == {"bytes": 512 << 20, "source": "cgroup_v2"}


def test_v2_max_means_no_limit(tmp_path: Path) -> None:
    root = _v2_tree(tmp_path, "max\n")
    assert detect_limit(root, _ram) == MemoryLimit(RAM, "physical")


def test_v2_tightest_ancestor_applies(tmp_path: Path) -> None:
    # systemd: the leaf says "max" but the slice above it is limited.
    root = _tree(
        tmp_path,
        {
            "/proc/self/cgroup": "0::/user.slice/user-1000.slice/session-2.scope\n",
            "/proc/self/mountinfo": V2_MOUNT,
            "/sys/fs/cgroup/user.slice/memory.max": str(8 * GIB),
            "/sys/fs/cgroup/user.slice/user-1000.slice/memory.max": str(2 * GIB),
            "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/memory.max": "max",
        },
    )
    limit = detect_limit(root, _ram)
    assert (limit.bytes, limit.source) == (2 * GIB, "cgroup_v2")
    assert limit.path == "/sys/fs/cgroup/user.slice/user-1000.slice/memory.max"


def test_v2_host_cgroup_namespace(tmp_path: Path) -> None:
    # docker --cgroupns=host: /proc/self/cgroup shows the full path, and the
    # container's own cgroup is what is mounted at /sys/fs/cgroup.
    mount = "31 23 0:27 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    root = _tree(
        tmp_path,
        {
            "/proc/self/cgroup": "0::/docker/abc\n",
            "/proc/self/mountinfo": mount,
            "/sys/fs/cgroup/memory.max": str(GIB),
        },
    )
    assert detect_limit(root, _ram).bytes == GIB


def test_v1_limit(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "/proc/self/cgroup": "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/\n",
            "/proc/self/mountinfo": V1_MOUNTS,
            "/sys/fs/cgroup/memory/memory.limit_in_bytes": V1_UNLIMITED,
            "/sys/fs/cgroup/memory/docker/memory.limit_in_bytes": V1_UNLIMITED,
            "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "1073741824\n",
        },
    )
    limit = detect_limit(root, _ram)
    assert limit == MemoryLimit(
        GIB, "cgroup_v1", "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes"
    )


def test_v1_unlimited_is_physical(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "/proc/self/cgroup": "4:memory:/\n",
            "/proc/self/mountinfo": V1_MOUNTS,
            "/sys/fs/cgroup/memory/memory.limit_in_bytes": V1_UNLIMITED,
        },
    )
    assert detect_limit(root, _ram) == MemoryLimit(RAM, "physical")


def test_hybrid_uses_v1_when_unified_has_no_memory_controller(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "/proc/self/cgroup": "4:memory:/job\n0::/\n",
            "/proc/self/mountinfo": HYBRID_MOUNTS,
            "/sys/fs/cgroup/unified/cgroup.procs": "",
            "/sys/fs/cgroup/memory/job/memory.limit_in_bytes": str(3 * GIB),
        },
    )
    limit = detect_limit(root, _ram)
    assert (limit.bytes, limit.source) == (3 * GIB, "cgroup_v1")


def test_limit_above_ram_is_physical(tmp_path: Path) -> None:
    root = _v2_tree(tmp_path, str(64 * GIB))
    assert detect_limit(root, _ram) == MemoryLimit(RAM, "physical")


def test_no_cgroup_at_all(tmp_path: Path) -> None:
    # No /proc, no /sys: a bare chroot, or macOS.
    assert detect_limit(str(tmp_path), _ram) == MemoryLimit(RAM, "physical")


def test_no_mountinfo_falls_back_to_usual_paths(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"/sys/fs/cgroup/memory.max": str(GIB)})
    assert detect_limit(root, _ram).as_wire() == {"bytes": GIB, "source": "cgroup_v2"}
    root_v1 = _tree(tmp_path / "v1", {"/sys/fs/cgroup/memory/memory.limit_in_bytes": str(2 * GIB)})
    assert detect_limit(root_v1, _ram).as_wire() == {"bytes": 2 * GIB, "source": "cgroup_v1"}


def test_nothing_known_is_unknown(tmp_path: Path) -> None:
    assert detect_limit(str(tmp_path), lambda: None) == MemoryLimit(None, "unknown")
    assert detect_limit(str(tmp_path), lambda: None).as_wire() == {
        "bytes": None,
        "source": "unknown",
    }


@pytest.mark.parametrize("garbage", ["", "lots\n", "-5\n", "\x00\x01"])
def test_garbage_limit_files_are_ignored(tmp_path: Path, garbage: str) -> None:
    root = _v2_tree(tmp_path, garbage)
    assert detect_limit(root, _ram) == MemoryLimit(RAM, "physical")


def test_a_failing_ram_reader_never_raises(tmp_path: Path) -> None:
    def broken() -> int:
        raise OSError("no sysconf")

    assert detect_limit(str(tmp_path), broken).source == "unknown"


def test_parsers() -> None:
    v2, v1 = parse_proc_cgroup("12:memory:/a\n3:cpu,cpuacct:/b\n0::/c\nnot a line\n")
    assert v2 == "/c"
    assert v1 == {"memory": "/a", "cpu": "/b", "cpuacct": "/b"}
    mounts = parse_mountinfo(
        HYBRID_MOUNTS + r"50 31 0:40 / /mnt/with\040space rw - cgroup2 cgroup2 rw" + "\n"
    )
    assert [(m.mount_point, m.version) for m in mounts] == [
        ("/sys/fs/cgroup/cpu,cpuacct", 1),
        ("/sys/fs/cgroup/memory", 1),
        ("/sys/fs/cgroup/unified", 2),
        ("/mnt/with space", 2),
    ]
    assert "memory" in mounts[1].controllers


def test_this_machine() -> None:
    limit = detect_limit()
    assert limit.source in LIMIT_SOURCES
    ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if limit.source == "physical":
        assert limit.bytes == ram
    else:
        # A cgroup limit binds only below RAM, and it is what the named file says.
        assert limit.source in ("cgroup_v2", "cgroup_v1")
        assert limit.bytes is not None and 0 < limit.bytes < ram
        assert limit.path is not None
        assert int(Path(limit.path).read_text().strip()) == limit.bytes
    # The cached reader gives the same answer.
    assert limits.memory_limit() == limit
