"""Read tracemalloc's live traces into a compact view keyed by (cut) stack.

``tracemalloc._get_traces()`` (what ``take_snapshot()`` calls) returns one
tuple per live block: ``(domain, size, traceback, total_nframe)`` with the
traceback innermost-first, and identical tracebacks shared as one tuple object
within a call. We sum per traceback object, then cut each traceback just past
its outermost notebook frame (the IPython/ipykernel frames above the cell are
the same for every block and only cost memory), so a view is small: one entry
per distinct allocation stack under the cell.

The public fallback (``take_snapshot().traces``) is used if the private
function disappears; it is several times slower.
"""

from __future__ import annotations

import os
import tracemalloc
from itertools import groupby
from operator import itemgetter
from typing import Any, Callable

RawFrame = tuple[str, int]
#: A cut stack (innermost first) or one of the two sentinel keys.
Key = tuple[RawFrame, ...]
OUTSIDE: Key = (("<outside>", 0),)
UNATTRIBUTED: Key = (("<unattributed>", 0),)
#: key -> [bytes, blocks, truncated (0/1: the stack hit the frame limit)]
View = dict[Key, list[int]]

OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

_get_traces: Callable[[], list[Any]] | None = getattr(tracemalloc, "_get_traces", None)


def _raw_traces() -> list[Any]:
    if _get_traces is not None:
        return _get_traces()
    traces = []
    for trace in tracemalloc.take_snapshot().traces:
        frames = tuple((f.filename, f.lineno) for f in reversed(trace.traceback))
        total = trace.traceback.total_nframe or len(frames)
        traces.append((trace.domain, trace.size, frames, total))
    return traces


class ViewReader:
    """Reads views during one profiled run, caching per-traceback work.

    ``_get_traces()`` returns new tuples each call, but equal tracebacks are
    equal tuples, so the cut of each distinct traceback (a Python scan of up
    to ``nframes`` frames, ~20 us) is computed once per run and found again by
    hashing (C-level, ~1 us). The caches are dropped with the reader.
    """

    def __init__(self, is_notebook_file: Callable[[str], bool]) -> None:
        self._is_nb = is_notebook_file
        self._kinds: dict[str, int] = {}
        self._cuts: dict[tuple[RawFrame, ...], Key | None] = {}
        #: Bytes of our own blocks (views, hook caches) seen by the last read.
        self.last_ours = 0

    def read(self) -> View:
        """Sum the live blocks per cut stack. Blocks allocated by this package are left out.

        Runs while tracemalloc traces *us* too (with deep tracebacks), so the
        loop over blocks allocates nearly nothing per block: sort by the
        (shared) traceback tuple and sum each run with C-level ``sum``/``map``.
        """
        traces = _raw_traces()
        traces.sort(key=_TB)
        cuts = self._cuts
        ours = 0
        view: View = {}
        for tb, group in groupby(traces, key=_TB):
            first = next(group)
            sizes = [first[1], *map(_SIZE, group)]  # noqa: B031 - next() took the first
            # tracemalloc interns a traceback with its total depth: one per group.
            truncated = len(first) > 3 and first[3] is not None and first[3] > len(tb)
            if tb in cuts:
                key = cuts[tb]
            else:
                key = cuts[tb] = _cut(tb, truncated, self._is_nb, self._kinds)
            if key is None:
                ours += sum(sizes)
                continue
            row = view.get(key)
            if row is None:
                view[key] = [sum(sizes), len(sizes), int(truncated)]
            else:
                row[0] += sum(sizes)
                row[1] += len(sizes)
                row[2] |= int(truncated)
        del traces
        self.last_ours = ours
        return view


def read_view(is_notebook_file: Callable[[str], bool]) -> View:
    """One-off :meth:`ViewReader.read`."""
    return ViewReader(is_notebook_file).read()


_TB = itemgetter(2)
_SIZE = itemgetter(1)


_LIB, _NOTEBOOK, _OURS = 0, 1, 2


def _cut(
    tb: tuple[RawFrame, ...],
    truncated: bool,
    is_notebook_file: Callable[[str], bool],
    kinds: dict[str, int],
) -> Key | None:
    """The stack up to its outermost notebook frame; None for our own blocks.

    Our own blocks are those allocated by our code running *inside* the
    traced code (the line hook, its snapshots): one of our frames comes before
    any notebook frame. Our frames further out (the magic that runs a body)
    are ordinary callers.
    """
    outer = -1
    for index, (filename, _line) in enumerate(tb):
        kind = kinds.get(filename)
        if kind is None:
            if is_notebook_file(filename):
                kind = _NOTEBOOK
            elif filename.startswith(OWN_DIR):
                kind = _OURS
            else:
                kind = _LIB
            kinds[filename] = kind
        if kind == _NOTEBOOK:
            outer = index
        elif kind == _OURS and outer < 0:
            return None
    if outer < 0:
        return UNATTRIBUTED if truncated else OUTSIDE
    return tb[: outer + 1]


def total(view: View) -> int:
    """Bytes in a view."""
    return sum(row[0] for row in view.values())


def subtract(view: View, base: View) -> View:
    """Per-stack difference (used when the user's trace was already running)."""
    out: View = {key: list(row) for key, row in view.items()}
    for key, (size, count, truncated) in base.items():
        row = out.setdefault(key, [0, 0, truncated])
        row[0] -= size
        row[1] -= count
    return {key: row for key, row in out.items() if row[0] != 0 or row[1] != 0}
