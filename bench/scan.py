"""How fast is the retained-size scan, with each engine, against guppy3; and is it
linear whatever the sharing?

Part 1. A worker process builds the bench heap: 1M records
``{"id": i, "name": f"n{i}", "score": float(i), "tags": [i]}`` (about 5M
objects) and 160 MB of numpy arrays (20 x 8 MB), after importing what a kernel
has loaded (IPython, ipykernel, pandas), so that the whole-heap scan walks a
realistic library side. It then measures, on that same heap and in that same
process, the kernel's scan (``enumerate_roots`` + :class:`Scan`, the resources
noted as in a kernel) and guppy3's retained size of each variable
(``hpy().iso(v).domisize``): the ratio column compares each with guppy3. The
native engine and the Python engine run in a worker each.

Part 2, the sharing series: N names (1, 10, 100, 300) each ``{"ref": shared,
"own": [i]}`` over one 300k-object list, scanned by each engine in a fresh
process; the last column is the time against one name.

Time is CPU time of the worker (``time.process_time``; the machine may be
shared: wall time is printed too). "Extra peak" is VmHWM after a reset
(``/proc/self/clear_refs`` = 5) minus the RSS just before the step; "left
behind" is RSS after minus before; "heap" is the RSS the namespace added.
Goals (issue "heap engine"): native <= 0.5x guppy3 on part 1's heap; 300 names
<= 1.5x one name; extra peak <= 15 % of the scanned heap; left behind <= 1 % of
RSS.

Usage: ``python bench/scan.py [--quick]``. Prints markdown tables. Linux only.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

ARRAYS = 20
ARRAY_ELEMENTS = 1_000_000  # float64: 8 MB each, 160 MB in all
RECORDS = 1_000_000
QUICK_RECORDS = 100_000
SERIES = (1, 10, 100, 300)
SHARED = 100_000  # [[i, f"s{i}"] ...]: 300k objects
MIB = 1 << 20


# --------------------------------------------------------------------------- worker


def _kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def measure(step: Callable[[], Any]) -> dict[str, Any]:
    """CPU and wall time, extra peak and what is left behind of one step (no
    collection before: the scan must not need one)."""
    before = _kib("VmRSS")
    reset_peak()
    wall, cpu = time.perf_counter(), time.process_time()
    out = step()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = _kib("VmHWM")
    return {
        "out": out,
        "cpu": cpu,
        "wall": wall,
        "extra": max(peak - before, 0),
        "left": _kib("VmRSS") - before,
        "rss": _kib("VmRSS"),
    }


def kernel_imports() -> None:
    """What a kernel has loaded: the library side the whole-heap scan walks."""
    import ipykernel.ipkernel  # noqa: F401, PLC0415
    import IPython  # noqa: F401, PLC0415 - the library side of a kernel
    import pandas  # noqa: F401, PLC0415


def records_heap(records: int) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415 - the worker's heap

    data = [{"id": i, "name": f"n{i}", "score": float(i), "tags": [i]} for i in range(records)]
    arrays = [np.ones(ARRAY_ELEMENTS) for _ in range(ARRAYS)]
    return {"data": data, "arrays": arrays}


def shared_heap(names: int) -> dict[str, Any]:
    shared = [[i, f"s{i}"] for i in range(SHARED)]
    return {f"v{i}": {"ref": shared, "own": [i]} for i in range(names)}


def scan_ns(ns: dict[str, Any], engine: str) -> dict[str, Any]:
    """The kernel's scan of ``ns`` (as ``kernel/runner.engine_scan``): roots, the
    whole-heap walk with resources noted, holders, paths."""
    from memory_doctor.advice.resources import ResourceTypes  # noqa: PLC0415
    from memory_doctor.heap.roots import enumerate_roots  # noqa: PLC0415
    from memory_doctor.heap.scan import Scan  # noqa: PLC0415

    scan = Scan(
        enumerate_roots(ns, {}, modules={}),
        user_ns=ns,
        budget_s=600,
        engine=engine,
        user_module_names=(),
        resources=ResourceTypes([id(ns)]),
    )
    steps: list[float] = []
    while True:
        t0 = time.perf_counter()
        done = scan.step(0.05)
        steps.append(time.perf_counter() - t0)
        if done:
            break
    result = scan.result()
    steps.sort()
    # A name can have two holders: what only it reaches (freeable), and what it
    # shares with a library (small ints, interned strings; not freeable). The
    # first is its retained size, as guppy3's domisize counts it.
    by_label: dict[str, dict[str, Any]] = {}
    for h in result["holders"]:
        if len(h["labels"]) == 1 and h["freeable"]:
            by_label.setdefault(h["labels"][0], h)
    return {
        "sizes": {k: by_label[k]["retained_bytes"] for k in ns if k in by_label},
        "freeable": {k: by_label[k]["freeable"] for k in ns if k in by_label},
        "objects": result["scan"]["objects_visited"],
        "walk": result["scan"]["walk"],
        "complete": result["scan"]["complete"],
        "steps": len(steps),
        "longest_step": steps[-1],
        "median_step": steps[len(steps) // 2],
    }


def guppy_domisize(ns: dict[str, Any]) -> dict[str, Any] | None:
    try:
        from guppy import hpy  # noqa: PLC0415 - optional bench dependency
    except ImportError:
        return None
    hp = hpy()
    return {"sizes": {k: int(hp.iso(v).domisize) for k, v in ns.items()}}


def worker(kind: str, engine: str, size: int) -> dict[str, Any]:
    kernel_imports()
    gc.collect()
    start = _kib("VmRSS")
    ns = records_heap(size) if kind == "records" else shared_heap(size)
    gc.collect()
    out: dict[str, Any] = {"heap": _kib("VmRSS") - start}
    out["scan"] = measure(lambda: scan_ns(ns, engine))
    if kind == "records" and engine == "native":
        out["guppy"] = measure(lambda: guppy_domisize(ns))  # same heap, same process, after ours
    return out


# --------------------------------------------------------------------------- driver


def run(kind: str, engine: str, size: int) -> dict[str, Any]:
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.join(here, "..", "python"), env.get("PYTHONPATH", "")) if p
    )
    argv = [sys.executable, os.path.abspath(__file__), "--worker", kind, engine, str(size)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {kind} {engine} {size} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mib(n: float) -> str:
    return f"{n / MIB:,.1f} MiB"


def records_table(runs: dict[str, dict[str, Any]]) -> str:
    rows = [
        "| tool | CPU s | wall s | vs guppy3 (CPU) | extra peak | extra / heap | left behind "
        "| left / RSS | steps (longest, median) | sizes: data, arrays |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    native = runs["native"]
    guppy = native.get("guppy")
    base = guppy["cpu"] if guppy and guppy["out"] is not None else None
    heap = native["heap"]
    for name, label in (("native", "scan, native engine"), ("python", "scan, Python engine")):
        m = runs[name]["scan"]
        out = m["out"]
        ratio = f"{m['cpu'] / base:.2f}x" if base else "n/a"
        sizes = ", ".join(_mib(out["sizes"].get(k, 0)) for k in ("data", "arrays"))
        rows.append(
            f"| {label} | {m['cpu']:.2f} | {m['wall']:.2f} | {ratio} | {_mib(m['extra'])} "
            f"| {m['extra'] / heap:.1%} | {_mib(m['left'])} | {m['left'] / m['rss']:.2%} "
            f"| {out['steps']} ({out['longest_step'] * 1000:.0f} ms, "
            f"{out['median_step'] * 1000:.0f} ms) | {sizes} |"
        )
    if guppy is None or guppy["out"] is None:
        rows.append("| guppy3 `iso(v).domisize` | | | not installed | | | | | | |")
    else:
        sizes = ", ".join(_mib(guppy["out"]["sizes"][k]) for k in ("data", "arrays"))
        rows.append(
            f"| guppy3 `iso(v).domisize` | {guppy['cpu']:.2f} | {guppy['wall']:.2f} | 1.00x "
            f"| {_mib(guppy['extra'])} | {guppy['extra'] / heap:.1%} | {_mib(guppy['left'])} "
            f"| {guppy['left'] / guppy['rss']:.2%} | | {sizes} |"
        )
    return "\n".join(rows)


def series_table(series: dict[tuple[str, int], dict[str, Any]]) -> str:
    rows = [
        "| names | native CPU s | Python CPU s | native vs 1 name | Python vs 1 name |",
        "|--:|--:|--:|--:|--:|",
    ]
    for n in SERIES:
        nat = series[("native", n)]["scan"]["cpu"]
        py = series[("python", n)]["scan"]["cpu"]
        nat1 = series[("native", 1)]["scan"]["cpu"]
        py1 = series[("python", 1)]["scan"]["cpu"]
        rows.append(f"| {n} | {nat:.2f} | {py:.2f} | {nat / nat1:.2f}x | {py / py1:.2f}x |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k records: a smoke run")
    parser.add_argument("--worker", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        kind, engine, size = args.worker
        print(json.dumps(worker(kind, engine, int(size))))
        return
    if not sys.platform.startswith("linux"):
        raise SystemExit("bench/scan.py needs Linux (/proc/self/clear_refs and VmHWM)")
    records = QUICK_RECORDS if args.quick else RECORDS
    runs = {engine: run("records", engine, records) for engine in ("native", "python")}
    series = {(e, n): run("shared", e, n) for e in ("native", "python") for n in SERIES}
    load = os.getloadavg()
    print(
        f"nproc {os.cpu_count()}, Python {platform.python_version()}, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; heap: {records:,} records "
        f"(~{records * 5 / 1e6:.1f}M objects) + {ARRAYS} numpy arrays "
        f"({ARRAYS * ARRAY_ELEMENTS * 8 // 10**6} MB), {_mib(runs['native']['heap'])} of RSS\n"
    )
    print(records_table(runs))
    walk = runs["native"]["scan"]["out"]["walk"]
    print(
        f"\nnative walk: {walk['objects']:,} objects, {walk['nodes']:,} table nodes, "
        f"{walk['labels']:,} labels\n"
    )
    print(f"Sharing series: N names over one {3 * SHARED:,}-object list (CPU s)\n")
    print(series_table(series))


if __name__ == "__main__":
    main()
