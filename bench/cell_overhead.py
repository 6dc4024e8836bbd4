"""What does Memory Doctor cost per cell, and does it catch transient peaks?

Starts real kernels side by side and sends them the same cells, interleaved in
batches round-robin over several rounds so that machine drift (other
processes, CPU frequency, page cache) hits every kernel alike:

* ``plain``       - no helper at all (the baseline);
* ``helper``      - Memory Doctor bootstrapped, comm open, ``cell_measured`` flowing;
* ``sampler``     - a 1 ms RSS-sampling thread reading /proc/self/statm, with
                    pre/post_run_cell hooks recording the max (the usual
                    alternative to an exact high-water mark);
* ``tracemalloc`` - ``tracemalloc.start()`` in the kernel.

Part 1 measures the client round trip of a trivial cell (added ms versus
plain) and the in-kernel time of an allocation-heavy cell (slowdown versus
plain). Part 2 runs a 500 MB allocate-and-free cell in the helper and sampler
kernels and counts how often each saw the transient peak.

Usage: ``python bench/cell_overhead.py [--rounds N] [--quick]``. Prints one
markdown table. Linux only for the sampler and Part 2 (/proc).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from memory_doctor.headless.driver import KernelSession

# "plain (A/A)" is a second plain kernel: its row is the noise floor of this
# run, the difference two identical kernels show.
KINDS = ("plain", "plain (A/A)", "helper", "sampler", "tracemalloc")

TRIVIAL_CELL = "pass"

# Timed inside the kernel: the client round trip would drown a 1% effect in noise.
ALLOC_CELL = (
    "from time import perf_counter as _bench_pc\n"
    "_bench_t0 = _bench_pc()\n"
    "_bench_x = [{'a': i, 'b': i} for i in range(300_000)]\n"
    "del _bench_x\n"
    "print(repr(_bench_pc() - _bench_t0))\n"
)

# Held only for the duration of one C call (bytes repeat holds the GIL), then freed.
TRANSIENT_CELL = "len(b'x' * 500_000_000)"
TRANSIENT_BYTES = 500_000_000
CAUGHT_AT = 450_000_000

# Bench code, sent as a silent cell to the sampler kernel only (the product itself never
# sends code). The thread samples every 1 ms; pre_run_cell resets the max, post_run_cell
# stores max - start in `last` for the next cell to print.
SAMPLER_SETUP = """
def _bench_sampler_setup():
    import os, threading, time
    page = os.sysconf('SC_PAGE_SIZE')
    fd = os.open('/proc/self/statm', os.O_RDONLY)
    state = {'start': 0, 'max': 0, 'last': 0, 'samples': 0}

    def rss():
        return int(os.pread(fd, 200, 0).split()[1]) * page

    def loop():
        while True:
            value = rss()
            state['samples'] += 1
            if value > state['max']:
                state['max'] = value
            time.sleep(0.001)

    def pre(*args):
        state['start'] = state['max'] = rss()

    def post(*args):
        state['last'] = max(state['max'], rss()) - state['start']

    ip = get_ipython()
    ip.events.register('pre_run_cell', pre)
    ip.events.register('post_run_cell', post)
    threading.Thread(target=loop, name='bench-rss-sampler', daemon=True).start()
    return state

_bench_sampler = _bench_sampler_setup()
del _bench_sampler_setup
"""
SAMPLER_READOUT = "print(_bench_sampler['last'])"

TRACEMALLOC_SETUP = "import tracemalloc as _bench_tm\n_bench_tm.start()\n"


@dataclass
class KindData:
    """Measurements for one kernel kind, grouped by round."""

    trivial_ms: list[list[float]] = field(default_factory=list)
    busy_ms: list[list[float]] = field(default_factory=list)
    alloc_s: list[list[float]] = field(default_factory=list)
    caught: int | None = None
    tries: int = 0


def _check(result: object, what: str) -> None:
    status = getattr(result, "status", None)
    if status != "ok":
        raise SystemExit(f"bench: {what} failed: {status} {getattr(result, 'error', None)}")


def start_kernels(stack: ExitStack, kinds: Sequence[str]) -> dict[str, KernelSession]:
    """One fresh kernel per kind, each set up as its kind requires."""
    sessions: dict[str, KernelSession] = {}
    for kind in kinds:
        session = stack.enter_context(KernelSession("python3"))
        session.start(bootstrap=(kind == "helper"))
        if kind == "sampler":
            _check(session.run_cell(SAMPLER_SETUP, silent=True), "sampler setup")
        elif kind == "tracemalloc":
            _check(session.run_cell(TRACEMALLOC_SETUP, silent=True), "tracemalloc setup")
        sessions[kind] = session
    return sessions


def _rotate(items: Sequence[str], by: int) -> list[str]:
    by %= len(items)
    return list(items[by:]) + list(items[:by])


def part1(
    sessions: dict[str, KernelSession], rounds: int, trivial_batch: int, alloc_batch: int
) -> dict[str, KindData]:
    """Interleaved batches: trivial round trips and in-kernel allocation times."""
    data = {kind: KindData() for kind in sessions}
    kinds = list(sessions)
    # Warm-up: first cells pay for imports and caches.
    for kind in kinds:
        for _ in range(3):
            _check(sessions[kind].run_cell(TRIVIAL_CELL), f"{kind} warm-up")
        _check(sessions[kind].run_cell(ALLOC_CELL), f"{kind} warm-up")
    for r in range(rounds):
        order = _rotate(kinds, r)
        for kind in order:
            times, busy = [], []
            for _ in range(trivial_batch):
                t0 = time.perf_counter()
                result = sessions[kind].run_cell(TRIVIAL_CELL)
                times.append((time.perf_counter() - t0) * 1000)
                _check(result, f"{kind} trivial cell")
                busy.append(_kernel_busy_ms(sessions[kind].last_messages))
            data[kind].trivial_ms.append(times)
            data[kind].busy_ms.append(busy)
        for kind in order:
            times = []
            for _ in range(alloc_batch):
                result = sessions[kind].run_cell(ALLOC_CELL)
                _check(result, f"{kind} alloc cell")
                times.append(float(result.stdout.strip().splitlines()[-1]))
            data[kind].alloc_s.append(times)
    return data


def part2(sessions: dict[str, KernelSession], data: dict[str, KindData], tries: int) -> None:
    """Count transient 500 MB peaks seen by the helper (exact) and the sampler."""
    if "helper" in sessions:
        caught = 0
        for _ in range(tries):
            result = sessions["helper"].run_cell(TRANSIENT_CELL)
            _check(result, "helper transient cell")
            record = result.record or {}
            if (record.get("peak_increase") or 0) >= CAUGHT_AT:
                caught += 1
        data["helper"].caught, data["helper"].tries = caught, tries
    if "sampler" in sessions:
        caught = 0
        for _ in range(tries):
            _check(sessions["sampler"].run_cell(TRANSIENT_CELL), "sampler transient cell")
            result = sessions["sampler"].run_cell(SAMPLER_READOUT, store_history=False)
            _check(result, "sampler readout")
            if int(result.stdout.strip().splitlines()[-1]) >= CAUGHT_AT:
                caught += 1
        data["sampler"].caught, data["sampler"].tries = caught, tries


def _kernel_busy_ms(messages: Sequence[dict]) -> float:
    """Time between the kernel's busy and idle status for one request, in ms.

    Both timestamps come from the kernel's clock, so this is the kernel's own
    cost for the cell (hooks and the comm message included), free of the
    client's cost to receive and decode the extra message.
    """
    dates = {
        m["content"]["execution_state"]: m["header"]["date"]
        for m in messages
        if m["msg_type"] == "status"
    }
    return (dates["idle"] - dates["busy"]).total_seconds() * 1000


def _added(kind_rounds: list[list[float]], plain_rounds: list[list[float]]) -> str:
    """Median over rounds of (median minus plain's median), with its IQR."""
    # Pair each round with plain's same round, so drift between rounds cancels.
    diffs = [statistics.median(a) - statistics.median(b) for a, b in zip(kind_rounds, plain_rounds)]
    lo, hi = _quartiles(diffs)
    return f"{_median_of_rounds(diffs):+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _median_of_rounds(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def render(data: dict[str, KindData], args: argparse.Namespace, elapsed: float) -> str:
    """The markdown table, computed from this run only."""
    plain = data["plain"]
    rows = [
        "| kernel | trivial cell round trip, median (ms) | added vs plain (ms), "
        "median of rounds [IQR] | kernel busy time per trivial cell, added vs plain (ms) "
        "[IQR] | alloc-heavy cell in kernel, median (ms) | "
        "slowdown vs plain, median of rounds [IQR] | 500 MB transient peak seen |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, kd in data.items():
        trivial = statistics.median(t for batch in kd.trivial_ms for t in batch)
        alloc = statistics.median(t for batch in kd.alloc_s for t in batch) * 1000
        if kind == "plain":
            added = busy = slowdown = "\u2014"
        else:
            added = _added(kd.trivial_ms, plain.trivial_ms)
            busy = _added(kd.busy_ms, plain.busy_ms)
            ratios = [
                statistics.median(a) / statistics.median(b)
                for a, b in zip(kd.alloc_s, plain.alloc_s)
            ]
            lo, hi = _quartiles(ratios)
            slowdown = f"{_median_of_rounds(ratios):.3f}\u00d7 [{lo:.3f}, {hi:.3f}]"
        seen = f"{kd.caught}/{kd.tries}" if kd.caught is not None else "not measured"
        rows.append(
            f"| {kind} | {trivial:.3f} | {added} | {busy} | {alloc:.1f} | {slowdown} | {seen} |"
        )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    n_trivial = args.rounds * args.trivial_batch
    n_alloc = args.rounds * args.alloc_batch
    notes = [
        "",
        f"Machine: {os.cpu_count()} CPUs (nproc), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average {load}.",
        f"Run: {args.rounds} interleaved rounds; per kernel {n_trivial} trivial cells "
        f"(`{TRIVIAL_CELL}`) and {n_alloc} alloc-heavy cells "
        "(`[{'a': i, 'b': i} for i in range(300_000)]`, timed with perf_counter in the kernel); "
        f"{data['helper'].tries if 'helper' in data else 0} transient cells "
        f"(`{TRANSIENT_CELL}`, seen = peak \u2265 {CAUGHT_AT // 1_000_000} MB above the start); "
        f"{elapsed:.0f} s in all.",
        "Goals for `helper`: added \u2264 0.3 ms per trivial cell; "
        "alloc slowdown \u2264 1.01\u00d7. Read `helper` against `plain (A/A)`, a second "
        "plain kernel: its row is how far two identical kernels differ in this run.",
    ]
    return "\n".join(rows + notes)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 20)")
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds and cells: a smoke run, noisy figures"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = args.rounds or 4
        args.trivial_batch, args.alloc_batch, args.transient_tries = 10, 1, 4
    else:
        args.rounds = args.rounds or 20
        args.trivial_batch, args.alloc_batch, args.transient_tries = 25, 2, 10
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not sys.platform.startswith("linux"):
        print("bench: the sampler baseline and Part 2 read /proc and need Linux", file=sys.stderr)
        return 2

    began = time.perf_counter()
    with ExitStack() as stack:
        print(f"bench: starting {len(KINDS)} kernels ...", file=sys.stderr, flush=True)
        sessions = start_kernels(stack, KINDS)
        print(f"bench: part 1, {args.rounds} rounds ...", file=sys.stderr, flush=True)
        data = part1(sessions, args.rounds, args.trivial_batch, args.alloc_batch)
        print("bench: part 2 ...", file=sys.stderr, flush=True)
        part2(sessions, data, args.transient_tries)
    print(render(data, args, time.perf_counter() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main())
