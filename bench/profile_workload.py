"""The allocation-heavy function bench/profile_overhead.py profiles every way.

In a file because memory_profiler's ``%mprun`` only profiles functions
defined in files (its issue #155).
"""

import numpy as np


def work(n=60_000):
    rows = []
    for i in range(n):
        rows.append({"i": i, "s": str(i)})  # many small Python objects
    arr = np.ones(1_000_000)  # one big native block
    total = float((arr * 2).sum())  # a transient as big as arr
    return rows, arr, total


def work_np(k=20):
    """Few, large blocks: where tracemalloc is cheap."""
    kept = [np.ones(1_000_000) for _ in range(k)]
    return float(sum(a.sum() for a in kept))
