"""Does polling live readings slow the running cell down?

One kernel with Memory Doctor bootstrapped runs the same CPU-bound cell (a
pure-Python loop of about two seconds, timed with ``perf_counter`` inside the
kernel) in four modes, interleaved round-robin over several rounds so that
machine drift hits every mode alike:

* ``none``        - nobody asks for readings while the cell runs (the baseline);
* ``none (A/A)``  - the same again: its row is the noise floor of this run;
* ``every 0.5 s`` - the client sends ``get_rss`` on a kernel subshell every 0.5 s,
                    as the running-cell badge does (JupyterLab >= 4.4, ipykernel >= 7);
* ``every 0.1 s`` - the same, five times as often.

A poll waits for its reply before the next is due, like the front end. The
table gives, per mode, the cell's in-kernel time, its slowdown against
``none`` in the same round (median of rounds, IQR in brackets), and how many
readings per cell arrived while the cell was running.

Usage: ``python bench/live_updates.py [--rounds N] [--quick]``. Prints one
markdown table. Needs a kernel with subshells (ipykernel >= 7).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from memory_doctor.headless.driver import KernelSession

MODES: dict[str, float | None] = {
    "none": None,
    "none (A/A)": None,
    "every 0.5 s": 0.5,
    "every 0.1 s": 0.1,
}

# Timed inside the kernel: the client round trip is not the cell's cost.
CPU_CELL = (
    "from time import perf_counter as _bench_pc\n"
    "_bench_t0 = _bench_pc()\n"
    "_bench_s = 0\n"
    "for _bench_i in range({n}):\n"
    "    _bench_s += _bench_i * _bench_i\n"
    "print(repr(_bench_pc() - _bench_t0))\n"
)


@dataclass
class ModeData:
    """One mode's cell times (s) and live readings per cell, one entry per round."""

    seconds: list[float] = field(default_factory=list)
    live: list[int] = field(default_factory=list)


def _seconds(stdout: str) -> float:
    return float(stdout.strip().splitlines()[-1])


def _check(status: str, what: str, error: object) -> None:
    if status != "ok":
        raise SystemExit(f"bench: {what} failed: {status} {error}")


def calibrate(session: KernelSession, target_s: float) -> int:
    """Loop iterations that take about ``target_s`` seconds in this kernel."""
    n = 1_000_000
    result = session.run_cell(CPU_CELL.format(n=n))
    _check(result.status, "calibration", result.error)
    per_iteration = _seconds(result.stdout) / n
    return max(100_000, int(target_s / per_iteration))


def run_cell(
    session: KernelSession, code: str, subshell: str, interval: float | None
) -> tuple[float, int]:
    """Run ``code``, polling ``get_rss`` every ``interval`` s; (cell seconds, live readings)."""
    msg_id = session.start_cell(code)
    live = 0
    if interval is None:
        result = session.finish_cell(msg_id, timeout=600)
    else:
        due = time.monotonic() + interval
        while True:
            try:
                result = session.finish_cell(msg_id, timeout=max(0.0, due - time.monotonic()))
                break
            except TimeoutError:
                pass
            request_id = session.send_request("get_rss", subshell_id=subshell)
            reply = session.wait_reply(request_id, timeout=60)
            if reply.get("ok") and reply["result"].get("running") is not None:
                live += 1
            due += interval
    _check(result.status, "cell", result.error)
    return _seconds(result.stdout), live


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def render(data: dict[str, ModeData], args: argparse.Namespace, n: int, elapsed: float) -> str:
    """The markdown table, computed from this run only."""
    base = data["none"]
    rows = [
        "| mode | cell time in kernel, median (s) | slowdown vs `none`, median of rounds [IQR] "
        "| live readings per cell, median |",
        "| --- | ---: | ---: | ---: |",
    ]
    for mode, md in data.items():
        median = statistics.median(md.seconds)
        if mode == "none":
            slowdown = "\u2014"
        else:
            ratios = [a / b for a, b in zip(md.seconds, base.seconds)]
            lo, hi = _quartiles(ratios)
            slowdown = f"{statistics.median(ratios):.4f}\u00d7 [{lo:.4f}, {hi:.4f}]"
        live = statistics.median(md.live)
        rows.append(f"| {mode} | {median:.3f} | {slowdown} | {live:g} |")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    notes = [
        "",
        f"Machine: {os.cpu_count()} CPUs (nproc), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average {load}.",
        f"Run: {args.rounds} interleaved rounds, one cell per mode per round; the cell is a "
        f"pure-Python loop of {n:,} iterations (about {args.target:g} s); {elapsed:.0f} s in all.",
        "Goal: slowdown \u2264 1.01\u00d7 at the badge's 0.5 s. Read it against `none (A/A)`, "
        "the same cell with no polling: how far two identical runs differ here.",
    ]
    return "\n".join(rows + notes)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 12)")
    parser.add_argument(
        "--quick", action="store_true", help="fewer, shorter cells: a smoke run, noisy figures"
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 12)
    args.target = 1.0 if args.quick else 2.0
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    began = time.perf_counter()
    with KernelSession("python3") as session:
        session.start()
        if not session.supports_subshells:
            print("bench: this kernel has no subshells (needs ipykernel >= 7)", file=sys.stderr)
            return 2
        subshell = session.create_subshell()
        n = calibrate(session, args.target)
        code = CPU_CELL.format(n=n)
        run_cell(session, code, subshell, None)  # warm-up
        data = {mode: ModeData() for mode in MODES}
        modes = list(MODES)
        for r in range(args.rounds):
            print(f"bench: round {r + 1} of {args.rounds} ...", file=sys.stderr, flush=True)
            order = modes[r % len(modes) :] + modes[: r % len(modes)]
            for mode in order:
                seconds, live = run_cell(session, code, subshell, MODES[mode])
                data[mode].seconds.append(seconds)
                data[mode].live.append(live)
    print(render(data, args, n, time.perf_counter() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main())
