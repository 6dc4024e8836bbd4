"""What recording "which cell bound each variable" costs per cell, by namespace size.

The helper's :class:`~memory_doctor.kernel.provenance.Provenance` runs ``begin`` in
``pre_run_cell`` and ``end`` in ``post_run_cell``. It used to snapshot the whole
namespace both times; since IPython adds ``_i<n>`` (and ``_<n>`` for outputs)
every cell, that cost grew with the session. It now compares only the names
the cell's text mentions, and falls back to the whole namespace for cells that
may bind names they do not mention (magics, ``globals()``...).

This script times ``begin`` + ``end`` for the trivial cell ``x = 1`` in one
process, for namespaces of 300, 3,000 and 9,000 names, both ways:

* ``whole namespace``: ``begin`` without the cell's source (the fallback path,
  and what every cell paid before);
* ``cell text``: ``begin`` with the cell's source (what a plain cell pays now).

Each figure is the median of several rounds, interleaved, of ``--cells``
cells. Usage: ``python bench/provenance.py [--rounds N] [--cells N]``. Prints
one markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from memory_doctor.kernel.provenance import Provenance

SIZES = (300, 3_000, 9_000)
CODE = "x = 1"


def per_cell_us(namespace: dict[str, object], code: str | None, cells: int) -> float:
    """Microseconds per ``begin`` + ``end`` of one cell that rebinds ``x``."""
    provenance = Provenance()
    start = time.perf_counter()
    for key in range(cells):
        provenance.begin(key, namespace, code)
        namespace["x"] = key
        provenance.end(key, namespace, "cell", key)
    elapsed = time.perf_counter() - start
    if provenance.where("x") != ("cell", cells - 1):  # the work was really done
        raise RuntimeError("provenance did not record the cell that bound x")
    return elapsed / cells * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--cells", type=int, default=500, help="cells per round (default 500)")
    args = parser.parse_args()

    rows = []
    for size in SIZES:
        namespace: dict[str, object] = {f"_i{i}": "history" for i in range(size)}
        namespace["x"] = 0
        whole, text = [], []
        for _ in range(args.rounds):
            whole.append(per_cell_us(namespace, None, args.cells))
            text.append(per_cell_us(namespace, CODE, args.cells))
        ratios = [w / t for w, t in zip(whole, text)]
        rows.append((size, statistics.median(whole), statistics.median(text), ratios))

    print("| names in namespace | whole namespace, µs/cell | cell text, µs/cell | ratio, median |")
    print("| ---: | ---: | ---: | ---: |")
    for size, whole_us, text_us, ratios in rows:
        print(f"| {size:,} | {whole_us:.1f} | {text_us:.1f} | {statistics.median(ratios):.0f}x |")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print()
    print(
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load}. Cell: `{CODE}`; {args.rounds} rounds x {args.cells} cells, "
        "medians of rounds."
    )


if __name__ == "__main__":
    main()
