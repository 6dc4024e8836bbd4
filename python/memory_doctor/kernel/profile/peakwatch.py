"""Catch the tracemalloc peak with a line hook on notebook code only.

tracemalloc knows the peak *value* exactly (``get_traced_memory()[1]``) but
offers no callback when it rises, and a snapshot costs O(live blocks). So we
read the two counters at every *line boundary of notebook code* (the profiled
cell and the notebook functions it calls) and take a snapshot only when needed.

Between two boundaries one notebook line runs (with whatever library code it
calls, untraced), or IPython runs between two top-level statements of the cell
(it runs them one by one). If the peak rose during that segment:

* peak ~= current at the boundary: the peak *is* the state now; snapshot now.
  Mode ``exact``.
* peak > current (a transient inside the line, e.g. ``np.ones(n).sum()``): the
  state at the peak no longer exists.

  - If we hold a snapshot of the *start* of this segment, the view is that
    snapshot plus ``peak - level_at_start`` given to the running line as one
    "transient" block. Mode ``line-start``: exact unless the line freed blocks
    allocated earlier in the run *before* reaching its peak (rare).
  - Otherwise snapshot now and give ``peak - current`` to the line. Mode
    ``line-end``: exact unless the line freed blocks allocated earlier in the
    run, e.g. ``x = x * 2`` (the old ``x`` is then counted on this line).

To hold start snapshots where they matter, a boundary that follows notebook
code and lies within ``near_fraction`` of the best peak is snapshotted too.

Rate bound: snapshots cost O(live blocks) (~2-5 us per block here) and may use
``budget_fraction`` of the elapsed time plus ``min_budget_s`` (start snapshots
at most half of it). A new high more than ``force_fraction`` above the held
view is snapshotted even over budget, so that the held view is never below
``1 / (1 + force_fraction)`` of the peak, and monotonic growth costs at most
``(1 + f) / f`` times the final snapshot. Otherwise the view is "stale" and the
output says at what level it was taken.

Cost discipline: the hook runs while tracemalloc traces it, with tracebacks
that include IPython's frames, so every Python allocation in the hot path
(a float from ``perf_counter``, an int from ``a - b`` above 256) costs a
traced allocation. The fast path therefore only compares the raw counters
against precomputed raw thresholds; arithmetic and clocks happen on the slow
path (a new high above the held view, or a candidate start snapshot).

The hook is ``sys.settrace`` on the cell's thread: the global function returns
None for library code (their lines are never traced) but is still called once
per Python call. Python >= 3.12 could use ``sys.monitoring`` LINE events on
notebook code objects only, with no cost per library call (not done yet).
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from types import CodeType, FrameType
from typing import Any, Callable

from ...log import quiet_logger
from .model import PeakMode
from .traces import OWN_DIR, View, ViewReader

_log = quiet_logger(__name__)

TraceFn = Callable[[FrameType, str, Any], Any]
#: notebook stack entry: [code, filename, current line]
_Entry = list[Any]
_HUGE = 1 << 62
#: Exceptions that end an iteration or a generator, not the cell.
_ITERATION_ENDS = (StopIteration, StopAsyncIteration, GeneratorExit)


class PeakView:
    """A snapshot view plus the transient block of the line running at the peak."""

    def __init__(
        self,
        view: View,
        level: int,
        extra: int,
        owner: tuple[tuple[str, int], ...],
        mode: PeakMode,
    ) -> None:
        self.view = view
        #: The level (bytes above the start) this view describes.
        self.level = level
        self.extra = extra
        #: Notebook frames running at the peak, innermost first.
        self.owner = owner
        self.mode: PeakMode = mode


class Frozen:
    """The end of a run seen early: the cell was raising out of its last frame."""

    def __init__(self, view: View, cur: int, peak: int, ours: int) -> None:
        self.view = view
        #: tracemalloc's raw counters at that moment (before the view was read).
        self.cur = cur
        self.peak = peak
        #: Bytes of our own blocks in ``view``'s reading.
        self.ours = ours


class PeakWatcher:
    """Line hook that keeps the best available view of the traced peak."""

    def __init__(
        self,
        is_notebook_file: Callable[[str], bool],
        *,
        owns_trace: bool,
        base_level: int,
        budget_fraction: float = 0.25,
        min_budget_s: float = 0.05,
        near_fraction: float = 0.05,
        rise_fraction: float = 0.01,
        force_fraction: float = 0.25,
        tolerance_bytes: int = 4096,
    ) -> None:
        self._is_nb = is_notebook_file
        self.reader = ViewReader(is_notebook_file)
        self._owns = owns_trace
        self._budget_fraction = budget_fraction
        self._min_budget = min_budget_s
        self._near = near_fraction
        self._rise = rise_fraction
        self._force = force_fraction
        self._tol = tolerance_bytes
        self._codes: dict[CodeType, bool] = {}
        self._nb: list[_Entry] = []
        self._just_called = False
        #: Bytes held by our own views (traced, not the user's).
        self.overhead = 0
        self._shift = base_level  # raw counter value = level + shift
        self._best_raw = base_level
        self._act_raw = base_level  # a new high above this needs the slow path
        self._near_raw = _HUGE  # near-peak boundaries start here (raw)
        self._start_lo = self._start_hi = 0  # raw band where the start snapshot holds
        self._cool_lo = self._cool_hi = 0  # raw band with no new near snapshot
        self.spent = 0.0
        self.captures = 0
        self.stale = False
        self.peak: PeakView | None = None
        #: The last snapshot and the level it was taken at.
        self._start: tuple[View, int] | None = None
        #: Whether that snapshot still describes the state at the last boundary.
        self._start_ok = False
        self._t0 = time.perf_counter()
        self._installed = False
        self.refused = ""
        #: The notebook frame an exception is passing through, if any.
        self._raising: FrameType | None = None
        #: Set when the run ended by an exception: the end view, taken then.
        self.frozen: Frozen | None = None

    @property
    def best(self) -> int:
        """The highest level seen (bytes above the start, our views excluded)."""
        return self._best_raw - self._shift

    # -- install / remove ----------------------------------------------------
    def install(self) -> bool:
        """Install the hook on this thread, unless another tracer is active."""
        if sys.gettrace() is not None:
            self.refused = (
                "A trace function (a debugger or coverage?) is active, so no line hook "
                "was installed: the peak view is only available if the peak is at the end."
            )
            return False
        sys.settrace(self._global)
        self._installed = True
        return True

    def uninstall(self) -> None:
        """Remove the hook if it is still ours (never another tool's)."""
        if self._installed:
            self._installed = False
            if sys.gettrace() == self._global:
                sys.settrace(None)

    def remove(self) -> None:
        """Uninstall and drop the caches (idempotent)."""
        self.uninstall()
        self._codes.clear()
        self._nb.clear()

    # -- the hook ------------------------------------------------------------
    def _global(self, frame: FrameType, event: str, arg: Any) -> TraceFn | None:
        # A call after an exception event: it was handled (or a __exit__ runs).
        self._raising = None
        code = frame.f_code
        flag = self._codes.get(code)
        if flag is None:
            name = code.co_filename
            flag = self._codes[code] = self._is_nb(name) and not name.startswith(OWN_DIR)
        if not flag:
            return None
        # At a call the stack is still the caller's: it ran if it is notebook
        # code; an empty stack means IPython ran (between two statements).
        self._check(bool(self._nb))
        self._nb.append([code, code.co_filename, frame.f_lineno])
        self._just_called = True
        return self._local

    def _local(self, frame: FrameType, event: str, arg: Any) -> TraceFn | None:
        # Between a frame's "call" and its first "line" no code of it ran.
        ran = not self._just_called
        self._just_called = False
        if event == "line":
            self._raising = None
            self._check(ran)
            top = self._nb[-1] if self._nb else None
            if top is not None and top[0] is frame.f_code:
                top[2] = frame.f_lineno
        elif event == "return":
            self._check(ran)
            if self._raising is frame and len(self._nb) == 1:
                # The cell's statement raises out: IPython formats the traceback
                # next, which is neither the cell's nor worth tracing (slow).
                self._freeze()
                self._nb.pop()
                return None
            if self._nb and self._nb[-1][0] is frame.f_code:
                self._nb.pop()
        elif event == "exception" and arg[0] not in _ITERATION_ENDS:
            # (A coroutine cell sees StopIteration when what it awaited ends.)
            self._raising = frame
        return self._local

    # -- decisions -----------------------------------------------------------
    def levels(self) -> tuple[int, int]:
        """(current, peak) in bytes above the start, our own views excluded."""
        cur, peak = tracemalloc.get_traced_memory()
        return cur - self._shift, peak - self._shift

    def _check(self, busy: bool) -> None:
        """A boundary; ``busy``: notebook code ran in the segment that just ended."""
        try:
            self._boundary(busy)
        except BaseException:
            # A KeyboardInterrupt landing in the hook: CPython removes the hook
            # and the cell raises; take the end now, as for any raising cell.
            self._freeze()
            raise

    def _freeze(self) -> None:
        """Take the end view now and stop tracing (a trace we own): the run is over."""
        if self.frozen is not None:
            return
        try:
            t0 = time.perf_counter()
            cur, peak = tracemalloc.get_traced_memory()
            view = self.reader.read()
            self.frozen = Frozen(view, cur, peak, self.reader.last_ours)
            self.spent += time.perf_counter() - t0
            self.uninstall()
            if self._owns:
                tracemalloc.stop()
        except BaseException:  # an interrupt here: the usual end-of-run path reads the end
            self.frozen = None
            _log.debug("freezing the profile failed", exc_info=True)

    def _boundary(self, busy: bool) -> None:
        cur_raw, peak_raw = tracemalloc.get_traced_memory()
        if not self._owns:
            # The peak counter is the user's: don't reset it, read boundaries only.
            peak_raw = cur_raw
        if peak_raw > self._best_raw:
            self._best_raw = peak_raw
            # Decided with _start_ok as it was at the start of this segment;
            # True: the snapshot just taken describes this boundary.
            if peak_raw > self._act_raw and self._new_high(
                cur_raw - self._shift, peak_raw - self._shift
            ):
                return
        if self._start_ok and (busy or not self._start_lo <= cur_raw <= self._start_hi):
            # Notebook code ran (or the level moved): the held snapshot no
            # longer describes the state at this boundary.
            self._start_ok = False
        if (
            busy
            and not self._start_ok
            and cur_raw >= self._near_raw
            and not self._cool_lo <= cur_raw <= self._cool_hi
        ):
            # Near the peak: keep a snapshot of this boundary in case the
            # next segment peaks inside a line (mode "line-start").
            # Half the budget at most, so that new highs still find some.
            if self._budget_ok(0.5):
                self._capture(cur_raw - self._shift, keep_as_peak=False)
            else:
                # Over budget: don't even look at the clock again before the
                # level moves by the tolerance (the clock allocates a float).
                tol = self._tolerance()
                self._cool_lo, self._cool_hi = cur_raw - tol, cur_raw + tol

    def _tolerance(self) -> int:
        return max(self._tol, self.best >> 10)

    def _budget_ok(self, share: float = 1.0) -> bool:
        """Snapshot time so far within ``share`` of the budget."""
        elapsed = time.perf_counter() - self._t0
        return self.spent <= share * (self._min_budget + self._budget_fraction * elapsed)

    def _new_high(self, cur: int, peak: int) -> bool:
        """Slow path of a new high above the held view; True if it snapshotted."""
        held = self.peak
        allowed = self._budget_ok() or held is None or peak > held.level * (1.0 + self._force)
        transient = peak - cur
        tol = self._tolerance()
        start = self._start
        if transient > tol and self._start_ok and start is not None:
            # We hold the state at the start of this very segment.
            self.peak = PeakView(start[0], peak, peak - start[1], self._owner(), "line-start")
            self.stale = False
            self._thresholds()
            return False
        if allowed:
            mode: PeakMode = "exact" if transient <= tol else "line-end"
            self._capture(
                cur, keep_as_peak=True, level=peak, extra=transient, owner=self._owner(), mode=mode
            )
            return True
        self.stale = True
        # Come back after a further rise (budget may allow it then), and at the
        # latest at the force level.
        force_at = int((held.level if held else 0) * (1.0 + self._force)) + self._shift
        retry_at = self._best_raw + max(tol, int(self._rise * self.best))
        self._act_raw = min(force_at, retry_at)
        return False

    def _owner(self) -> tuple[tuple[str, int], ...]:
        return tuple((entry[1], entry[2]) for entry in reversed(self._nb))

    def _thresholds(self) -> None:
        """Recompute the raw thresholds the fast path compares against."""
        tol = self._tolerance()
        held = self.peak.level if self.peak is not None else -tol - 1
        self._act_raw = held + tol + self._shift
        self._near_raw = int((1.0 - self._near) * self.best) + self._shift
        if self._start is not None:
            level = self._start[1] + self._shift
            self._start_lo, self._start_hi = level - tol, level + tol
        self._cool_lo, self._cool_hi = 0, -1  # empty band

    def _capture(
        self,
        cur: int,
        *,
        keep_as_peak: bool,
        level: int = 0,
        extra: int = 0,
        owner: tuple[tuple[str, int], ...] = (),
        mode: PeakMode = "exact",
    ) -> None:
        t0 = time.perf_counter()
        before = tracemalloc.get_traced_memory()[0]
        view = self.reader.read()
        self._start = (view, cur)
        self._start_ok = True
        if keep_as_peak:
            self.peak = PeakView(view, level, extra, owner, mode)
            self.stale = False
        after = tracemalloc.get_traced_memory()[0]
        grown = after - before
        self.overhead += grown
        self._shift += grown
        self._best_raw += grown
        if self._owns:
            tracemalloc.reset_peak()  # our temporaries must not become the peak
        self._thresholds()
        self.captures += 1
        self.spent += time.perf_counter() - t0
