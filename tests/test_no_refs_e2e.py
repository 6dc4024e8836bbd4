"""After a scan has answered, the helper keeps nothing of the user's alive.

The honest way: no ``gc.collect()`` anywhere, the automatic collector turned
off before the scan (so the outcome cannot depend on when a collection
happens to run), a kernel that already holds a few hundred thousand small
objects and has allocated and freed big blocks before. Then ``del x`` in the
very next cell must return the memory in that cell's own ``rss_delta``, and a
weak reference to the scanned object must be dead right after the ``del``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memory_doctor.headless.driver import KernelSession
from tests.kernel_helpers import run, scan

pytestmark = pytest.mark.kernel

MIB = 1 << 20
#: Every shape holds this much in numpy buffers (exact, by ``nbytes``).
SIZE_MIB = 96

SETUP = f"""
import gc, weakref
import numpy as np, pandas as pd
N = {SIZE_MIB} * {MIB} // 8
# History: big allocations and frees, and many small objects that stay.
for _ in range(3):
    _tmp = np.ones(N * 2)
    del _tmp
records = [{{"k": i, "v": str(i)}} for i in range(150_000)]
class Holder:
    pass
def make_scaler(arr):
    def scale(x):
        return x * arr.shape[0]
    return scale
"""

#: name -> (cell that creates it, expression whose weak reference must die).
SHAPES = {
    "plain": ("plain = np.ones(N)", "plain"),
    "closure": ("closure = make_scaler(np.ones(N))", "closure"),
    "dict_of_arrays": (
        "dict_of_arrays = {'a': np.ones(N // 2), 'b': np.ones(N - N // 2)}",
        "dict_of_arrays['a']",
    ),
    "frame": ("frame = pd.DataFrame({'x': np.ones(N)})", "frame"),
    "attr": ("attr = Holder()\nattr.data = np.ones(N)", "attr"),
}


@pytest.fixture(scope="module")
def session(kernel_env: dict[str, str]) -> Iterator[KernelSession]:
    with KernelSession(env=kernel_env) as s:
        s.start()
        run(s, SETUP)
        yield s


@pytest.mark.parametrize("shape", list(SHAPES))
def test_del_right_after_a_scan_frees_at_once_without_any_gc(
    session: KernelSession, shape: str
) -> None:
    create, weak_target = SHAPES[shape]
    run(session, create)
    run(session, f"_probe = weakref.ref({weak_target})")
    run(session, "gc.disable()")
    try:
        result = scan(session)
        labels = {label for h in result["holders"] for label in h["labels"]}
        assert shape in labels, sorted(labels)[:20]
        freed = run(session, f"del {shape}")
        assert freed.record is not None
        # The buffers are mmap'ed (far above glibc's threshold), so the pages
        # go back to the OS the moment the last reference goes.
        assert freed.record["rss_delta"] <= -0.9 * SIZE_MIB * MIB, freed.record
        alive = run(session, "print(_probe() is not None)")
        assert alive.stdout.strip() == "False"
    finally:
        run(session, "gc.enable()\ndel _probe")
