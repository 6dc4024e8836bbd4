"""The allocator gap, whole, in process: every heap mapping, every arena, Arrow's pool.

Each scenario frees memory that its allocator keeps resident (a few survivors
pin it), reads the gap, then returns it and measures the RSS drop: the outside
truth. The estimate must be within a factor of 2 of what comes back, and never
0 when more than 50 MB does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from memory_doctor.advice import allocator
from memory_doctor.procmem import current_rss

pytestmark = pytest.mark.skipif(
    not allocator.malloc_trim_available() or allocator.mallinfo2() is None,
    reason="glibc >= 2.33 only (malloc_trim, mallinfo2)",
)

MB = 1_000_000


def returned() -> int:
    """What returning the free memory gives back now, by RSS."""
    before = current_rss()
    allocator.release_free_memory()
    return before - current_rss()


def gap_then_truth(make_gap: Callable[[], Any], part: str) -> tuple[int, int]:
    allocator.release_free_memory()  # start from nothing free
    keep = make_gap()
    gap = allocator.AllocatorGap.measure()
    estimate = dict((name, size) for name, size, _ret in gap.parts())[part]
    truth = returned()
    del keep
    assert estimate is not None
    return estimate, truth


def check(estimate: int, truth: int) -> None:
    assert truth > 50 * MB, truth  # the scenario really left memory behind
    assert estimate > 0
    assert truth / 2 <= estimate <= truth * 2, (estimate, truth)


def fragment(count: int) -> list[bytes]:
    """Blobs from glibc (3 kB: above pymalloc's 512 B) freed with 1 % surviving."""
    blobs = [bytes(3000) for _ in range(count)]
    return blobs[::100]


def test_the_main_heap() -> None:
    check(*gap_then_truth(lambda: fragment(100_000), allocator.GLIBC_HEAP))


def test_the_arenas_of_other_threads() -> None:
    kept: list[Any] = []

    def work() -> None:
        kept.append(fragment(40_000))

    def make() -> list[Any]:
        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return kept

    check(*gap_then_truth(make, allocator.GLIBC_ARENAS))


def test_arrows_pool() -> None:
    pa = pytest.importorskip("pyarrow")
    pc = pytest.importorskip("pyarrow.compute")
    np = pytest.importorskip("numpy")
    if pa.default_memory_pool().backend_name != "mimalloc":
        pytest.skip("Arrow's pool is read only with mimalloc")

    def make() -> Any:
        base = pa.array(np.ones(100_000))
        arrays = [pc.add(base, i) for i in range(200)]  # 160 MB from Arrow's pool
        del arrays
        return base

    check(*gap_then_truth(make, allocator.ARROW_POOL))


def test_what_a_fix_frees_in_process_is_what_the_allocators_stop_using() -> None:
    np = pytest.importorskip("numpy")
    before = allocator.InUse.measure()
    arrays = [np.ones(1_000_000) for _ in range(20)]  # 160 MB from glibc
    small = [{"i": i} for i in range(200_000)]  # pymalloc
    during = allocator.InUse.measure()
    truth = sum(a.nbytes for a in arrays)
    del arrays, small
    after = allocator.InUse.measure()
    freed = after.freed_since(during)
    assert freed is not None
    assert truth <= freed <= truth * 1.5, (freed, truth)
    grown = during.freed_since(before)  # the other way round: nothing was freed
    assert grown == 0


def test_the_gap_is_sent_per_allocator() -> None:
    wire = allocator.AllocatorGap.measure().as_wire()
    names = [part["allocator"] for part in wire["parts"]]
    assert names[:3] == [allocator.PYMALLOC, allocator.GLIBC_HEAP, allocator.GLIBC_ARENAS]
    assert wire["bytes"] == sum(part["bytes"] for part in wire["parts"])
    assert all(part["returnable"] == (part["allocator"] != "pymalloc") for part in wire["parts"])
