"""The tracemalloc backend: always available, Python allocators only.

What it sees: every block from Python's allocators (objects, list/dict
buffers, bytes...) plus blocks that C extensions report with
``PyTraceMalloc_Track`` (numpy's array data does). It does NOT see plain
``malloc`` from C/C++/Rust libraries (pyarrow pools, torch, most of pandas'
native parts beyond numpy, BLAS work buffers).

Whose trace it is:

* If nobody traces, we ``tracemalloc.start(nframes)`` and ``stop()`` after the
  run: the view is exactly "allocated during the run".
* If the user (or another tool) already traces, we never stop it, never reset
  its peak counter and keep its frame limit: net figures become per-stack
  *differences* against a snapshot taken at the start (a line that rebinds a
  name to a same-size array shows 0), only boundary peaks are seen, and with a
  small frame limit (the default is 1) most bytes are "unattributed". Our own
  snapshots are traced too and can raise the user's peak counter. The profile
  note says all of this.
"""

from __future__ import annotations

import time
import tracemalloc

from .cells import CellIndex
from .model import Alloc, Frame, PeakMode, RawProfile
from .peakwatch import PeakView, PeakWatcher
from .traces import OUTSIDE, UNATTRIBUTED, View, ViewReader, read_view, subtract, total

#: Frames kept per traceback. The cell's frame must be within this many frames
#: of the allocation: numpy calls are ~3 deep, pandas ~10-30.
DEFAULT_NFRAMES = 64
#: The end counts as the peak within max(this, 0.4 % of the peak).
END_TOLERANCE_BYTES = 64 * 1024


class TracemallocBackend:
    """Trace one run with tracemalloc; see the module docstring."""

    name = "tracemalloc"

    def __init__(
        self, cells: CellIndex, *, nframes: int = DEFAULT_NFRAMES, peak: bool = True
    ) -> None:
        self._cells = cells
        self._nframes = nframes
        self._want_peak = peak
        self._owns = False
        self._base_view: View = {}
        self._base_level = 0
        self._watch: PeakWatcher | None = None
        self._t0 = 0.0
        self._notes: list[str] = []
        self._running = False

    def start(self) -> None:
        """Start tracing (called from pre_run_cell). Raises only before tracing starts."""
        self._notes = []
        self._owns = not tracemalloc.is_tracing()
        if self._owns:
            tracemalloc.start(self._nframes)
            self._base_level = 0
        else:
            limit = tracemalloc.get_traceback_limit()
            self._notes.append(
                f"tracemalloc was already running (frame limit {limit}); it was left as it "
                "was: net figures are per-stack differences against the start of the run, "
                "in-line peaks are not seen, and the run's snapshots may raise your peak "
                "counter."
            )
            self._base_view = read_view(self._cells.is_notebook_file)
            self._base_level = tracemalloc.get_traced_memory()[0]
        self._running = True
        self._t0 = time.perf_counter()
        if self._want_peak:
            watch = PeakWatcher(
                self._cells.is_notebook_file,
                owns_trace=self._owns,
                base_level=self._base_level,
            )
            if watch.install():
                self._watch = watch
            else:
                self._notes.append(watch.refused)

    def abort(self) -> None:
        """Undo everything start() did, without a result (idempotent)."""
        if self._watch is not None:
            self._watch.remove()
            self._watch = None
        if self._running and self._owns and tracemalloc.is_tracing():
            tracemalloc.stop()
        self._running = False
        self._base_view = {}

    def stop(self) -> RawProfile:
        """Stop tracing and return the records. Always leaves tracing as found."""
        watch = self._watch
        try:
            if watch is not None:
                watch.uninstall()  # its caches stay alive until we have read them
            elapsed = time.perf_counter() - self._t0
            frozen = watch.frozen if watch is not None else None
            t_end = time.perf_counter()
            if frozen is not None:
                # The cell raised out: the end was read then, and the trace stopped
                # before IPython formatted the traceback.
                raw_cur, raw_peak, end_view, ours = (
                    frozen.cur,
                    frozen.peak,
                    frozen.view,
                    frozen.ours,
                )
            else:
                if not tracemalloc.is_tracing():
                    self._notes.append("tracemalloc was stopped during the run: no profile.")
                    return self._empty(elapsed)
                raw_cur, raw_peak = tracemalloc.get_traced_memory()
                reader = (
                    watch.reader if watch is not None else ViewReader(self._cells.is_notebook_file)
                )
                end_view = reader.read()
                # Our own live blocks (views, the hook's caches) are not the user's.
                ours = reader.last_ours
            spent = (watch.spent if watch is not None else 0.0) + time.perf_counter() - t_end
            cur = raw_cur - self._base_level - ours
            # The peak counter (reset after our last snapshot) holds our blocks
            # of that time, at most what is ours now (the hook's caches only grow).
            peak = max(cur, raw_peak - self._base_level - ours) if self._owns else cur
            if watch is not None:
                watch.remove()
            best = max(peak, watch.best if watch is not None else 0, cur)
            tolerance = max(END_TOLERANCE_BYTES, best >> 8)
            if watch is not None and peak > watch.best + tolerance and cur < peak - tolerance:
                self._notes.append("The run's peak came after its last line (IPython's work).")
            if self._base_view:
                end_view = subtract(end_view, self._base_view)
            peak_allocs, mode, view_level = self._peak_view(watch, end_view, cur, best)
            net = _allocs(end_view)
            self._notes.insert(
                0,
                "tracemalloc sees Python's allocators and numpy data, not other native "
                "(C/C++) allocations.",
            )
            unattributed = sum(a.size for a in net if a.stack == _UNATTR_STACK)
            if unattributed > 0.05 * max(cur, 1):
                limit = tracemalloc.get_traceback_limit()
                self._notes.append(
                    f"{unattributed} bytes have stacks deeper than {limit} frames and could "
                    "not be given to a line."
                )
            return RawProfile(
                backend="tracemalloc",
                net=net,
                peak=peak_allocs,
                peak_bytes=best,
                end_bytes=cur,
                peak_mode=mode,
                peak_view_bytes=view_level,
                elapsed_s=elapsed,
                overhead_s=spent,
                notes=self._notes,
            )
        finally:
            self.abort()

    def _peak_view(
        self, watch: PeakWatcher | None, end_view: View, cur: int, best: int
    ) -> tuple[list[Alloc], PeakMode, int]:
        """The peak records: the end view if the end is the peak, else the watcher's."""
        tolerance = max(END_TOLERANCE_BYTES, best >> 8)
        chosen = watch.peak if watch is not None else None
        if cur >= best - tolerance:
            chosen = PeakView(end_view, cur, 0, (), "exact")  # the end is the peak
        elif chosen is not None and self._base_view:
            chosen.view = subtract(chosen.view, self._base_view)
        if chosen is None:
            self._notes.append("No peak view: only the end-of-run view is available.")
            return [], "none", 0
        allocs = _allocs(chosen.view)
        if chosen.extra > 0:
            stack = tuple(Frame(f, n) for f, n in chosen.owner)
            allocs.append(Alloc(stack, chosen.extra, 0, kind="transient"))
        mode = chosen.mode
        if best - chosen.level > tolerance:
            mode = "stale"
            self._notes.append(
                f"Peak view taken at {chosen.level} of {best} bytes (snapshot rate limit)."
            )
        return allocs, mode, chosen.level

    def _empty(self, elapsed: float) -> RawProfile:
        return RawProfile("tracemalloc", [], [], 0, 0, "none", 0, elapsed, 0.0, self._notes)


_UNATTR_STACK = tuple(Frame(f, n) for f, n in UNATTRIBUTED)
_OUTSIDE_STACK = tuple(Frame(f, n) for f, n in OUTSIDE)


def _allocs(view: View) -> list[Alloc]:
    out = []
    for key, (size, count, truncated) in view.items():
        stack = tuple(Frame(filename, lineno) for filename, lineno in key)
        out.append(Alloc(stack, size, count, truncated=bool(truncated) or key == UNATTRIBUTED))
    return out


__all__ = ["DEFAULT_NFRAMES", "TracemallocBackend", "total"]
