"""How fast is the retained-size scan, how much memory does it take, and how does
it compare with Pympler and guppy3 on the same heap?

Each scale runs in a fresh Python process that builds a namespace of small
dicts (``{"id": i, "name": f"n{i}", "score": float(i), "tags": [i]}``: five
objects each, the dict, a str, a float, a list and an int the list shares with
the dict) plus 160 MB of numpy arrays (20 x 8 MB), then measures:

* ``memory-doctor``: ``enumerate_roots`` + a full :class:`Scan` (no budget);
* ``pympler``: ``asizeof.asizeof`` of each variable (largest scale only);
* ``guppy3``: ``hpy().heap()`` (the whole heap) and ``hpy().iso(v).domisize``
  (retained size) of each variable (largest scale only).

Time is wall time on ``time.perf_counter``. "Extra peak" is the resident-set
high-water mark during the step minus the RSS just before it, with the mark
reset first (``5`` written to ``/proc/self/clear_refs``, as the kernel helper
measures cells), so it is exact and includes everything the step allocated.
"Scanned heap" is the RSS the namespace added. A tool that is not installed
is reported as such; nothing is estimated.

Usage: ``python bench/scan.py [--quick] [--scales 0.1M,1M,5M]``. Prints one
markdown table. Linux only (procfs).
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

OBJECTS_PER_RECORD = 5
ARRAYS = 20
ARRAY_ELEMENTS = 1_000_000  # float64: 8 MB each, 160 MB in all
SCALES = {"0.1M": 100_000, "1M": 1_000_000, "5M": 5_000_000}
MIB = 1024 * 1024


# --------------------------------------------------------------------------- worker


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss() -> int:
    return _status_kib("VmRSS") * 1024


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def measure(step: Callable[[], Any]) -> tuple[Any, float, int]:
    """``(result, seconds, extra peak bytes)`` of one step."""
    gc.collect()
    before = rss()
    reset_peak()
    start = time.perf_counter()
    result = step()
    took = time.perf_counter() - start
    peak = _status_kib("VmHWM") * 1024
    return result, took, max(peak - before, 0)


def build(objects: int) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415 - the worker needs it, the table printer does not

    records = objects // OBJECTS_PER_RECORD
    data = [{"id": i, "name": f"n{i}", "score": float(i), "tags": [i]} for i in range(records)]
    arrays = [np.ones(ARRAY_ELEMENTS) for _ in range(ARRAYS)]
    return {"data": data, "arrays": arrays}


def _ours(ns: dict[str, Any]) -> dict[str, Any]:
    from memory_doctor.heap.roots import enumerate_roots  # noqa: PLC0415 - after sys.path is set
    from memory_doctor.heap.scan import scan_now  # noqa: PLC0415 - as above

    result, took, extra = measure(lambda: scan_now(enumerate_roots(ns, {}), budget_s=1e9))
    by_label = {h["labels"][0]: h for h in result["holders"] if len(h["labels"]) == 1}
    return {
        "time": took,
        "extra": extra,
        "visited": result["scan"]["objects_visited"],
        "complete": result["scan"]["complete"],
        "sizes": {k: by_label[k]["retained_bytes"] for k in ns if k in by_label},
    }


def _pympler(ns: dict[str, Any]) -> dict[str, Any] | None:
    try:
        from pympler import asizeof  # noqa: PLC0415 - optional bench dependency
    except ImportError:
        return None
    sizes, took, extra = measure(lambda: {k: asizeof.asizeof(v) for k, v in ns.items()})
    return {"time": took, "extra": extra, "sizes": sizes}


def _guppy_heap(ns: dict[str, Any]) -> dict[str, Any] | None:
    try:
        from guppy import hpy  # noqa: PLC0415 - optional bench dependency
    except ImportError:
        return None
    hp = hpy()
    heap, took, extra = measure(hp.heap)
    return {"time": took, "extra": extra, "sizes": {"whole heap": int(heap.size)}}


def _guppy_domisize(ns: dict[str, Any]) -> dict[str, Any] | None:
    try:
        from guppy import hpy  # noqa: PLC0415 - optional bench dependency
    except ImportError:
        return None
    hp = hpy()
    sizes, took, extra = measure(lambda: {k: int(hp.iso(v).domisize) for k, v in ns.items()})
    return {"time": took, "extra": extra, "sizes": sizes}


TOOLS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any] | None]]] = {
    "memory-doctor": ("Memory Doctor scan (roots + retained sizes)", _ours),
    "pympler": ("Pympler `asizeof` per variable", _pympler),
    "guppy-heap": ("guppy3 `hpy().heap()`", _guppy_heap),
    "guppy-domisize": ("guppy3 `iso(v).domisize` per variable", _guppy_domisize),
}


def worker(objects: int, tool: str) -> dict[str, Any]:
    """Build the namespace in this fresh process and measure one tool on it."""
    gc.collect()
    start_rss = rss()
    ns = build(objects)
    gc.collect()
    heap = rss() - start_rss
    return {"objects": objects, "heap": heap, "result": TOOLS[tool][1](ns)}


# --------------------------------------------------------------------------- driver


def run(name: str, tool: str) -> dict[str, Any]:
    """One tool at one scale, in a fresh process (so no tool reuses another's memory)."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.join(here, "..", "python"), env.get("PYTHONPATH", "")) if p
    )
    argv = [sys.executable, os.path.abspath(__file__), "--worker", str(SCALES[name]), tool]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {tool} at {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mib(n: float) -> str:
    return f"{n / MIB:,.0f} MiB"


def _sizes(sizes: dict[str, int] | None) -> str:
    return ", ".join(f"`{k}` {_mib(v)}" for k, v in (sizes or {}).items())


def _row(tool: str, name: str, run: dict[str, Any], ours_time: float) -> str:
    found = run["result"]
    label = TOOLS[tool][0]
    if found is None:
        return f"| {label} | {name} | | not installed | | | | | |"
    if found.get("complete") is False:
        label += " (incomplete)"
    per_m = found["time"] / (run["objects"] / 1e6)
    return (
        f"| {label} | {name} | {_mib(run['heap'])} | {found['time']:.2f} s | {per_m:.2f} s | "
        f"{found['time'] / ours_time:.2f}x | {_mib(found['extra'])} | "
        f"{found['extra'] / run['heap']:.0%} | {_sizes(found.get('sizes'))} |"
    )


def table(runs: dict[tuple[str, str], dict[str, Any]], names: list[str]) -> str:
    """One markdown table: our scan at every scale, then the others at the largest."""
    rows = [
        "| tool | objects | scanned heap | time | time per 1M objects | time vs Memory Doctor | "
        "extra peak memory | extra / heap | sizes found |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for name in names:
        ours = runs[(name, "memory-doctor")]
        rows.append(_row("memory-doctor", name, ours, ours["result"]["time"]))
    largest = names[-1]
    ours_time = runs[(largest, "memory-doctor")]["result"]["time"]
    rows.extend(
        _row(tool, largest, runs[(largest, tool)], ours_time)
        for tool in TOOLS
        if tool != "memory-doctor"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scales 0.1M and 1M only")
    parser.add_argument("--scales", default=None, help="comma-separated, from 0.1M,1M,5M")
    parser.add_argument("--worker", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(int(args.worker[0]), args.worker[1])))
        return
    if not sys.platform.startswith("linux"):
        raise SystemExit("bench/scan.py needs Linux (/proc/self/clear_refs and VmHWM)")
    names = args.scales.split(",") if args.scales else ["0.1M", "1M", "5M"]
    if args.quick and not args.scales:
        names = ["0.1M", "1M"]
    unknown = [n for n in names if n not in SCALES]
    if unknown:
        raise SystemExit(f"unknown scale(s) {unknown}; choose from {list(SCALES)}")
    names.sort(key=SCALES.__getitem__)
    runs = {(name, "memory-doctor"): run(name, "memory-doctor") for name in names}
    for tool in TOOLS:
        if tool != "memory-doctor":
            runs[(names[-1], tool)] = run(names[-1], tool)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    print(
        f"nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; namespace: `data` "
        f"(small dicts, {OBJECTS_PER_RECORD} objects each) + `arrays` "
        f"({ARRAYS} numpy arrays, {ARRAYS * ARRAY_ELEMENTS * 8 // 10**6} MB)\n"
    )
    print(table(runs, names))


if __name__ == "__main__":
    main()
