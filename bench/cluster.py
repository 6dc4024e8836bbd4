"""What the Dask cluster measurement costs: per cell, per cluster scan, per release.

    .venv/bin/python bench/cluster.py             # ~1 minute on 2 cores
    .venv/bin/python bench/cluster.py --keys 100,1000,10000 --cells 30

A LocalCluster (2 worker processes, 1 thread each, 400 MB) in a process group
of its own, and one real kernel with the helper (``KernelSession``). Reports:

- a trivial cell's round trip (median, ms) before the kernel imports
  distributed, then with a connected client holding 0 and N keys: the hooks'
  cost (a type check per name, a C-level copy of ``Client.futures``);
- how long after the cell its ``cell_cluster`` message arrives (the readings
  wait ``CLUSTER_SETTLE_S`` for the workers' heartbeats);
- the ``scan_cluster`` round trip and its walk, by number of held keys;
- a ``release_cluster`` of all of them: seconds until the scheduler forgot
  the keys and until every worker reported.

Figures depend on the machine and its load; compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from memory_doctor.headless.driver import KernelSession

HOST = Path(__file__).resolve().parent.parent / "tests" / "cluster_host.py"


def cells_ms(session: KernelSession, code: str, n: int) -> float:
    """Median client round trip of ``n`` runs of ``code``, in ms."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = session.run_cell(code, str(uuid.uuid4()))
        times.append((time.perf_counter() - t0) * 1000)
        assert result.status == "ok", result.error
    return statistics.median(times)


def ask(session: KernelSession, request: str, **params: object) -> tuple[dict, float]:
    t0 = time.perf_counter()
    reply = session.wait_reply(session.send_request(request, **params), timeout=600)
    assert reply["ok"], reply
    return reply["result"], time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", default="100,1000,10000")
    parser.add_argument("--cells", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(k) for k in args.keys.split(",")]
    host = subprocess.Popen(
        [sys.executable, str(HOST)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert host.stdout is not None
        address = host.stdout.readline().strip()
        with KernelSession(env={"PYDEVD_DISABLE_FILE_VALIDATION": "1"}) as session:
            session.start()
            n = args.cells
            print(f"nproc {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, {n} cells each")
            print(f"{'trivial cell, no distributed':44} {cells_ms(session, 'pass', n):8.2f} ms")
            session.run_cell(
                f"from distributed import Client, wait\nclient = Client({address!r})", "setup"
            )
            print(f"{'trivial cell, client, 0 keys':44} {cells_ms(session, 'pass', n):8.2f} ms")
            waits = []
            for _ in range(5):
                result = session.run_cell("pass", str(uuid.uuid4()))
                t0 = time.perf_counter()
                assert result.execution_count is not None
                session.wait_cell_clusters([result.execution_count], 30)
                waits.append(time.perf_counter() - t0)
            print(f"{'cell_cluster after the cell':44} {statistics.median(waits):8.2f} s")
            for k in sizes:
                session.run_cell(
                    f"futs = client.scatter(list(range({k})), hash=False)\nwait(futs);", "s"
                )
                label = f"trivial cell, client, {k} keys"
                print(f"{label:44} {cells_ms(session, 'pass', n):8.2f} ms")
                result, seconds = ask(session, "scan_cluster")
                section = result["clusters"][0]
                walk = result["walk"]
                print(
                    f"{f'scan_cluster, {k} keys':44} {seconds:8.3f} s "
                    f"(walk {walk['seconds']:.3f} s over {walk['visited']} objects, "
                    f"scheduler {section['round_trip_ms']:.1f} ms)"
                )
                released, seconds = ask(
                    session, "release_cluster", scheduler=address, holders=[["futs"]]
                )
                print(
                    f"{f'release_cluster, {k} keys':44} {seconds:8.3f} s "
                    f"(forgotten after {released['seconds_to_forget']} s, "
                    f"reported after {released['seconds_to_report']} s)"
                )
    finally:
        with contextlib.suppress(Exception):
            assert host.stdin is not None
            host.stdin.close()
            host.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(host.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
