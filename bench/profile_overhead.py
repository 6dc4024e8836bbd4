"""What a line profile costs, against memory_profiler, and what it costs when off.

    .venv/bin/python bench/profile_overhead.py [--repeat 5]

One InteractiveShell with Memory Doctor loaded runs the same allocation-heavy
``work()`` (bench/profile_workload.py: 60 000 small dicts, an 8 MB array and an
8 MB transient) in every mode, round-robin ``--repeat`` times, and prints the
median CPU time (``time.process_time``: every thread of this process; wall
time is too noisy on a shared machine) and the ratio to the unprofiled run:

- ``profiled tracemalloc`` / ``profiled memray``: ``profile_next`` for the
  cell ``r = work()`` (``work`` lives in a file: the line hook sees one
  notebook line); ``nb:`` rows define ``work`` in a notebook cell, so the
  line hook follows its lines too; ``np:`` rows run ``work_np()`` (twenty
  8 MB arrays, where tracemalloc is cheap);
- ``%mprun -f work`` and ``%memit`` (memory_profiler) on the same function.

Then the per-cell cost when nothing is profiled: the profiler's two hooks
called directly, and a trivial cell with the helper as shipped against the
same helper with the profiler's hooks replaced by no-ops ("the plain helper"),
in interleaved blocks.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from IPython.core.interactiveshell import (  # noqa: E402
    ExecutionInfo,
    ExecutionResult,
    InteractiveShell,
)

import memory_doctor  # noqa: E402
from memory_doctor.kernel import extension  # noqa: E402
from memory_doctor.kernel.profile import ProfileRequest  # noqa: E402
from memory_doctor.kernel.profile.memray_backend import available as memray_available  # noqa: E402

NB_DEFINE = (HERE / "profile_workload.py").read_text(encoding="utf-8")


class NullProfiler:
    """The profiler's hooks as no-ops: the helper without line profiles."""

    def pre_run_cell(self, info: Any) -> None:
        pass

    def post_run_cell(self, result: Any) -> None:
        return None

    def shutdown(self) -> None:
        pass


def cpu(fn: Callable[[], None]) -> float:
    t0 = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        fn()
    return time.process_time() - t0


def slowdowns(shell: Any, profiler: Any, repeat: int) -> None:
    """The allocation-heavy cell in every mode, round-robin; the table."""

    def cell(code: str) -> Callable[[], None]:
        def run() -> None:
            result = shell.run_cell(code, store_history=True)
            assert result.success, result.error_in_exec

        return run

    def profiled(code: str, backend: str) -> Callable[[], None]:
        def run() -> None:
            profiler.arm(ProfileRequest(backend=backend))
            cell(code)()
            last = profiler.last
            assert last is not None and last["backend"] == backend, last

        return run

    cell("from profile_workload import work, work_np")()
    cell(NB_DEFINE.replace("def work", "def work_nb"))()
    shell.run_line_magic("load_ext", "memory_profiler")
    backends = ["tracemalloc"] + (["memray"] if memray_available() else [])
    modes: list[tuple[str, Callable[[], None]]] = [("unprofiled", cell("r = work()"))]
    modes += [(f"profiled {b}", profiled("r = work()", b)) for b in backends]
    modes += [
        ("%mprun -f work (memory_profiler)", cell("%mprun -f work r = work()")),
        ("%memit (memory_profiler)", cell("%memit -r 1 r = work()")),
        ("nb: unprofiled", cell("r = work_nb()")),
    ]
    modes += [(f"nb: profiled {b}", profiled("r = work_nb()", b)) for b in backends]
    modes += [("np: unprofiled", cell("r = work_np()"))]
    modes += [(f"np: profiled {b}", profiled("r = work_np()", b)) for b in backends]
    for _, fn in modes:  # warm-up: imports, caches, the first arena
        cpu(fn)
    # Round-robin, so that load from other processes hits every mode alike.
    times: dict[str, list[float]] = {name: [] for name, _ in modes}
    for _ in range(repeat):
        for name, fn in modes:
            if name.startswith("np: "):
                # The same heap state for each np row: glibc's mmap threshold
                # adapts to freed 8 MB blocks, which changes page-fault counts.
                cell("r = work_np()")()
            times[name].append(cpu(fn))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"CPU seconds, median of {repeat} round-robin runs")
    print(f"| {'mode':38} | {'CPU s':>7} | {'x unprofiled':>12} |")
    print(f"|{'-' * 40}|{'-' * 8}:|{'-' * 13}:|")
    for name, seconds in medians.items():
        prefix = name[:4] if name[:4] in ("nb: ", "np: ") else ""
        base = medians[prefix + "unprofiled"]
        print(f"| {name:38} | {seconds:7.3f} | {seconds / base:11.1f}x |")


def cost_when_off(shell: Any, doctor: Any) -> None:
    """What every cell pays for the profiler when nothing is profiled."""
    profiler = doctor.profiler
    info = ExecutionInfo("x = 1", True, False, True, "some-cell-id", cell_meta={})
    result = ExecutionResult(info)
    result.execution_count = 7

    def hooks() -> None:
        profiler.pre_run_cell(info)
        profiler.post_run_cell(result)

    calls = 100_000
    best = min(timeit.repeat(hooks, number=calls, repeat=7))  # the least disturbed run
    print(
        f"\nprofiler hooks, not armed (pre + post, direct calls): "
        f"{best / calls * 1e6:.2f} us per cell (best of 7 x {calls})"
    )

    # A trivial cell: the helper as shipped against the same helper with the
    # profiler's hooks as no-ops, in interleaved blocks of n cells (CPU time).
    n, blocks = 300, 15
    shipped, plain = [], []
    for _ in range(blocks):
        doctor._profiler = NullProfiler()
        plain.append(cpu(lambda: [shell.run_cell("x = 1") for _ in range(n)]) / n)
        doctor._profiler = profiler
        shipped.append(cpu(lambda: [shell.run_cell("x = 1") for _ in range(n)]) / n)
    p, s = statistics.median(plain), statistics.median(shipped)
    diffs = sorted((b - a) * 1e6 for a, b in zip(plain, shipped))
    q1, q3 = diffs[len(diffs) // 4], diffs[3 * len(diffs) // 4]
    print(
        f"trivial cell, plain helper:            {p * 1e6:7.1f} us CPU (median of {blocks} x {n})"
    )
    print(
        f"trivial cell, helper + profiler (off): {s * 1e6:7.1f} us CPU "
        f"({(s - p) * 1e6:+.1f} us; paired differences IQR {q1:+.1f} .. {q3:+.1f} us)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    shell = InteractiveShell.instance()
    memory_doctor.load_ipython_extension(shell)
    doctor = extension.get(shell)
    assert doctor is not None
    slowdowns(shell, doctor.profiler, args.repeat)
    cost_when_off(shell, doctor)
    print(f"\nnproc {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
