"""Turn a backend's allocation records into per-line figures and peak stacks.

The rule (the same for both backends, applied to the net view and the peak view):

* **Lines of the profiled cell (scope "cell"), inclusive.** Each allocation goes
  to the *innermost* frame of its stack that belongs to the profiled cell. A
  top-level line therefore carries what the library and notebook functions it
  called allocated, as ``%mprun`` reports a line's increment; when the cell
  defines a function and calls it, the bytes go to the function's line, not
  twice. The cell's lines thus *partition* what the cell allocated: they sum
  to the cell's total.
* **Lines of notebook functions from other cells (scope "function"), self.**
  An allocation made under the profiled cell is also credited to the innermost
  notebook frame of its stack when that frame is in another cell: the function
  line that (directly, or through library code) allocated. These figures are a
  breakdown of part of a cell line's figure, not extra bytes.
* Stacks with no frame of the profiled cell are "outside" (kernel threads,
  IPython's own work); if the backend cut the stack short (tracemalloc's frame
  limit) they are "unattributed".
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ...protocol import PROFILE_MAX_FRAMES, PROFILE_MAX_STACKS
from .cells import CellRef
from .model import (
    Alloc,
    CellRefDict,
    Frame,
    LineDict,
    Profile,
    RawProfile,
    StackDict,
    StackFrameDict,
    TotalsDict,
)

#: Stacks kept for the icicle (the rest is folded into "other" per line).
MAX_STACKS = PROFILE_MAX_STACKS
#: Frames kept per stack (outermost ones, then "...", then the allocation site).
MAX_DEPTH = PROFILE_MAX_FRAMES
TRANSIENT_LABEL = "transient inside this line (no callee stack)"
OTHER_LABEL = "other stacks"
#: Source shown for line 0: blocks allocated while a frame was being set up.
NO_LINE = "(no line: frame setup)"


class CellLookup(Protocol):
    """What attribution needs to know about cells (``CellIndex`` provides it)."""

    def ref(self, filename: str) -> CellRef | None:
        """The cell a filename belongs to, or None."""

    def source(self, filename: str, lineno: int) -> str:
        """One line of source text."""


@dataclass
class _Where:
    """Where one stack's bytes go."""

    cell_line: tuple[str, int] | None  # (filename, lineno) in the profiled cell
    func_line: tuple[str, int] | None  # innermost notebook frame in another cell
    outer_index: int  # index (innermost-first) of the outermost profiled frame, or -1


def _locate(stack: tuple[Frame, ...], cells: CellLookup, profiled: set[str]) -> _Where:
    cell_line: tuple[str, int] | None = None
    func_line: tuple[str, int] | None = None
    outer = -1
    seen_notebook = False
    for index, frame in enumerate(stack):  # innermost first
        if frame.filename in profiled:
            if cell_line is None:
                cell_line = (frame.filename, frame.lineno)
            outer = index
            seen_notebook = True
        elif not seen_notebook and cells.ref(frame.filename) is not None:
            func_line = (frame.filename, frame.lineno)
            seen_notebook = True
    if cell_line is None:
        func_line = None  # notebook code not run by the profiled cell: outside
    return _Where(cell_line, func_line, outer)


def _short_path(filename: str) -> str:
    parts = filename.replace(os.sep, "/").split("/")
    for marker in ("site-packages", "dist-packages", "lib"):
        if marker in parts:
            index = len(parts) - 1 - parts[::-1].index(marker)
            return "/".join(parts[index + 1 :]) or filename
    return "/".join(parts[-2:])


def _frame_dict(frame: Frame, cells: CellLookup) -> StackFrameDict:
    ref = cells.ref(frame.filename)
    if ref is not None:
        line = frame.lineno + ref.line_offset
        text = cells.source(frame.filename, frame.lineno)
        where = f"In[{ref.execution_count}]" if ref.execution_count is not None else "cell"
        label = f"{where} {line}: {text[:60]}"
        return {
            "label": label,
            "file": "",
            "line": line,
            "function": frame.function,
            "cell_id": ref.cell_id,
            "execution_count": ref.execution_count,
        }
    short = _short_path(frame.filename)
    label = (
        f"{frame.function} ({short}:{frame.lineno})"
        if frame.function
        else f"{short}:{frame.lineno}"
    )
    return {
        "label": label,
        "file": short,
        "line": frame.lineno,
        "function": frame.function,
        "cell_id": None,
        "execution_count": None,
    }


def _synthetic(label: str) -> StackFrameDict:
    return {
        "label": label,
        "file": "",
        "line": 0,
        "function": "",
        "cell_id": None,
        "execution_count": None,
    }


def _path(alloc: Alloc, where: _Where) -> tuple[Frame, ...]:
    """Frames from the outermost profiled frame inward, depth-limited."""
    inner_first = alloc.stack[: where.outer_index + 1]
    path = tuple(reversed(inner_first))
    if len(path) > MAX_DEPTH:
        path = (*path[: MAX_DEPTH - 2], Frame("...", 0, "..."), path[-1])
    return path


def attribute(
    raw: RawProfile,
    cells: CellLookup,
    profiled: Iterable[str],
    cell: CellRefDict,
    *,
    error: str = "",
    holders: dict[tuple[str, int], list[str]] | None = None,
) -> Profile:
    """Build the profile of one run from a backend's records.

    ``holders`` maps (filename, line) to the names the run bound to objects
    allocated on that line.
    """
    profiled_files = set(profiled)
    memo: dict[tuple[Frame, ...], _Where] = {}

    def where_of(alloc: Alloc) -> _Where:
        found = memo.get(alloc.stack)
        if found is None:
            found = memo[alloc.stack] = _locate(alloc.stack, cells, profiled_files)
        return found

    # key -> [net_bytes, peak_bytes, net_blocks, peak_blocks]
    cell_lines: dict[tuple[str, int], list[int]] = {}
    func_lines: dict[tuple[str, int], list[int]] = {}
    outside = [0, 0]
    unattributed = [0, 0]
    stacks: dict[tuple[Frame, ...], list[int]] = {}
    transient_paths: set[tuple[Frame, ...]] = set()

    for column, allocs in ((0, raw.net), (1, raw.peak)):
        for alloc in allocs:
            where = where_of(alloc)
            if where.cell_line is None:
                (unattributed if alloc.truncated else outside)[column] += alloc.size
                continue
            row = cell_lines.setdefault(where.cell_line, [0, 0, 0, 0])
            row[column] += alloc.size
            row[column + 2] += alloc.count
            if where.func_line is not None:
                frow = func_lines.setdefault(where.func_line, [0, 0, 0, 0])
                frow[column] += alloc.size
                frow[column + 2] += alloc.count
            if column == 1:
                path = _path(alloc, where)
                if alloc.kind == "transient":
                    transient_paths.add(path)
                srow = stacks.setdefault(path, [0, 0])
                srow[0] += alloc.size
                srow[1] += alloc.count

    lines: list[LineDict] = []
    for scope, table in (("cell", cell_lines), ("function", func_lines)):
        ordered = sorted(
            table.items(),
            key=lambda item: (
                _count_key(cells.ref(item[0][0])),
                item[0][0],
                item[0][1],
            ),
        )
        for (filename, lineno), (net, peak, net_n, peak_n) in ordered:
            ref = cells.ref(filename)
            lines.append(
                {
                    "cell_id": ref.cell_id if ref else cell["cell_id"],
                    "execution_count": ref.execution_count if ref else cell["execution_count"],
                    "line": lineno + (ref.line_offset if ref else 0),
                    "source": cells.source(filename, lineno) if lineno > 0 else NO_LINE,
                    "scope": "cell" if scope == "cell" else "function",
                    "net_bytes": net,
                    "peak_bytes": peak,
                    "net_blocks": net_n,
                    "peak_blocks": peak_n,
                    "holders": sorted((holders or {}).get((filename, lineno), [])),
                }
            )

    totals: TotalsDict = {
        "peak_bytes": raw.peak_bytes,
        "peak_view_bytes": raw.peak_view_bytes,
        "net_bytes": raw.end_bytes,
        "outside_net_bytes": outside[0],
        "outside_peak_bytes": outside[1],
        "unattributed_net_bytes": unattributed[0],
        "unattributed_peak_bytes": unattributed[1],
    }
    return {
        "backend": raw.backend,
        "cell": cell,
        "peak_mode": raw.peak_mode,
        "totals": totals,
        "lines": lines,
        "stacks": _top_stacks(stacks, transient_paths, cells),
        "elapsed_s": round(raw.elapsed_s, 6),
        "overhead_s": round(raw.overhead_s, 6),
        "note": " ".join(raw.notes),
        "error": error,
    }


def _count_key(ref: CellRef | None) -> int:
    if ref is None or ref.execution_count is None:
        return 1 << 30
    return ref.execution_count


def _top_stacks(
    stacks: dict[tuple[Frame, ...], list[int]],
    transient_paths: set[tuple[Frame, ...]],
    cells: CellLookup,
) -> list[StackDict]:
    ordered = sorted(stacks.items(), key=lambda item: -item[1][0])
    kept = [item for item in ordered[:MAX_STACKS] if item[1][0] > 0]
    rest: dict[Frame, list[int]] = {}
    for path, (size, count) in ordered[MAX_STACKS:]:
        if size > 0:
            row = rest.setdefault(path[0], [0, 0])
            row[0] += size
            row[1] += count
    out: list[StackDict] = []
    for path, (size, count) in kept:
        frames = [_frame_dict(frame, cells) for frame in path]
        if path in transient_paths:
            frames.append(_synthetic(TRANSIENT_LABEL))
        out.append({"frames": frames, "peak_bytes": size, "peak_blocks": count})
    for first, (size, count) in sorted(rest.items(), key=lambda item: -item[1][0]):
        frames = [_frame_dict(first, cells), _synthetic(OTHER_LABEL)]
        out.append({"frames": frames, "peak_bytes": size, "peak_blocks": count})
    return out
