"""Does a scan ever block the kernel? The delay of a cell and of a cancel sent
during a scan, and how far a scan overruns its budget.

One real kernel with the helper holds a 5M-object heap (1M records
``{"id": i, "name": f"n{i}", "score": float(i), "tags": [i]}``). Each try
starts a scan (budget 30 s), waits a random 0.2-1.5 s (so the request lands
anywhere in the walk or the labelling), then:

* ``cell``: sends a cell that prints ``time.time()`` when its code starts;
  the delay is that time minus the moment the client sent it (one machine,
  one clock), so it includes the helper's ``pre_run_cell`` work (stopping the
  scan and replying with what it labelled within one more slice);
* ``cancel``: sends ``cancel`` for the scan; the delay is until its reply
  arrives at the client.

The baseline is the same cell with no scan running (the kernel's own round
trip). Then scans with ``budget_s`` 0.5, 1 and 2: the reply's ``duration_s``
(the scan's work, its advice included) against the budget, and the wall time
from the request to the reply. Goals (issue "heap engine"): a cell starts and a
cancel is answered within 100 ms; the budget is overrun by at most 10 %.

Usage: ``python bench/scan_latency.py [--tries N] [--quick]``. Linux only.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time

from memory_doctor.headless.driver import KernelSession

SETUP = (
    "import time\n"
    "records = [{'id': i, 'name': f'n{i}', 'score': float(i), 'tags': [i]}"
    " for i in range({n})]\n"
)
PROBE = "print(repr(time.time()))"
BUDGETS = (0.5, 1.0, 2.0)


def cell_delay(session: KernelSession) -> float:
    sent = time.time()
    result = session.run_cell(PROBE)
    assert result.status == "ok", result.error
    return float(result.stdout.strip().splitlines()[-1]) - sent


def try_cell(session: KernelSession, rnd: random.Random) -> tuple[float, str | None]:
    request = session.send_request("scan", budget_s=30)
    time.sleep(rnd.uniform(0.2, 1.5))
    delay = cell_delay(session)
    reply = session.wait_reply(request, timeout=120)
    return delay, reply["result"]["scan"]["stopped"]


def try_cancel(session: KernelSession, rnd: random.Random) -> tuple[float, str | None]:
    request = session.send_request("scan", budget_s=30)
    time.sleep(rnd.uniform(0.2, 1.5))
    sent = time.perf_counter()
    answer = session.request("cancel", target=request)
    delay = time.perf_counter() - sent
    assert answer["ok"] is True, answer
    reply = session.wait_reply(request, timeout=120)
    return delay, reply["result"]["scan"]["stopped"]


def budget_run(session: KernelSession, budget: float) -> dict[str, float]:
    sent = time.perf_counter()
    result = session.scan(budget_s=budget)
    wall = time.perf_counter() - sent
    info = result["scan"]
    return {
        "budget": budget,
        "duration": info["duration_s"],
        "wall": wall,
        "complete": info["complete"],
        "objects": info["objects_visited"],
    }


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms | {max(values) * 1000:.0f} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="200k records, 5 tries")
    args = parser.parse_args(argv)
    records = 200_000 if args.quick else 1_000_000
    tries = 5 if args.quick else args.tries
    rnd = random.Random(7)  # noqa: S311 - reproducible timings, not a secret
    with KernelSession() as session:
        session.start()
        result = session.run_cell(SETUP.replace("{n}", str(records)))
        assert result.status == "ok", result.error
        session.scan(budget_s=60)  # the first scan imports the engine
        base = [cell_delay(session) for _ in range(tries)]
        cells = [try_cell(session, rnd) for _ in range(tries)]
        cancels = [try_cancel(session, rnd) for _ in range(tries)]
        budgets = [budget_run(session, b) for b in BUDGETS for _ in range(3)]
        engine = session.scan(budget_s=60)["scan"]["engine"]
    load = os.getloadavg()
    print(
        f"nproc {os.cpu_count()}, Python {platform.python_version()}, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {records:,} records "
        f"(~{records * 5 / 1e6:.1f}M objects), {engine} engine, {tries} tries each\n"
    )
    print("| sent during a scan | median delay | max delay | scans stopped by it |")
    print("|---|--:|--:|---|")
    print(f"| a cell, no scan running (baseline) | {_ms(base)} | |")
    stopped = sum(1 for _d, s in cells if s == "cell_ran")
    print(f"| a cell | {_ms([d for d, _s in cells])} | {stopped}/{tries} `cell_ran` |")
    stopped = sum(1 for _d, s in cancels if s == "cancelled")
    print(f"| `cancel` | {_ms([d for d, _s in cancels])} | {stopped}/{tries} `cancelled` |")
    print(
        "\n| budget_s | duration_s (median, max) | overrun (max) | wall to reply (max) | complete |"
    )
    print("|--:|--:|--:|--:|--:|")
    for budget in BUDGETS:
        runs = [r for r in budgets if r["budget"] == budget]
        durations = [r["duration"] for r in runs]
        overrun = max(durations) / budget - 1
        print(
            f"| {budget:g} | {statistics.median(durations):.3f} s, {max(durations):.3f} s "
            f"| {overrun:+.1%} | {max(r['wall'] for r in runs):.3f} s "
            f"| {sum(1 for r in runs if r['complete'])}/{len(runs)} |"
        )


if __name__ == "__main__":
    main()
