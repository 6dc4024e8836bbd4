"""The memray backend: every allocator (native too), exact high-water mark.

``memray.Tracker`` intercepts malloc/free/mmap (and, with
``trace_python_allocators=True``, every pymalloc block) in the whole process,
writes them to a file, and knows each allocation's Python stack from a C
profile function. With ``FileFormat.AGGREGATED_ALLOCATIONS`` the writer keeps,
per stack, the bytes live at the high-water mark and at the end, so the file
stays small and ``FileReader.get_high_watermark_allocation_records()`` /
``get_leaked_allocation_records()`` give exactly the two views we need. The
peak is exact: memray replays every event in order (unlike tracemalloc).

Limits: one Tracker per process (a user running ``%%memray_flamegraph`` or
``memray run`` makes ``__enter__`` raise: we fall back to tracemalloc);
Linux/macOS only; frees of memory allocated before the run are ignored, like
tracemalloc; other threads' allocations are recorded (they land in "outside").
The Tracker's own profile function uses ``PyEval_SetProfile`` (not settrace),
so it coexists with debuggers.

**Where the Tracker is entered matters.** memray's documented use is a
``with`` block, and its maintainers declined start/stop methods (memray #165,
#296). Measured here (memray 1.20, CPython 3.11): entering a Tracker in a
helper *function that returns* before the tracked code runs (as a
``pre_run_cell`` hook must) drops one outer frame from every later stack per
returned frame: with our hook's depth the cell's ``<module>`` frame and even
``ones`` vanished, so nothing could be given to a line. Entering it in a
*helper thread* instead works: memray captures every other thread's stack on
entry (memray #152) and re-reads it at that thread's next event; stacks were
complete at any hook depth. That relies on memray >= 1.19 (PR #823 fixed a
use-after-free when the captured thread has a trace function).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable
from typing import Any

from .model import Alloc, Frame, RawProfile

#: Capturing another thread's stack safely (memray PR #823) arrived in 1.19.
MIN_VERSION = (1, 19)
#: How long the cell waits for the Tracker to start / stop (it takes milliseconds).
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 60.0


def available() -> bool:
    """Whether memray imports here (it is an optional dependency)."""
    try:
        import memray  # noqa: F401, PLC0415 - optional
    except Exception:
        return False
    return True


class MemrayBackend:
    """Trace one run with memray into a private temp file, then read it back."""

    name = "memray"

    def __init__(
        self, *, native_traces: bool = False, trace_python_allocators: bool = True
    ) -> None:
        self._native = native_traces
        self._pyalloc = trace_python_allocators
        self._dir: str | None = None
        self._holder: _TrackerThread | None = None
        self._t0 = 0.0

    def start(self) -> None:
        """Start tracking. Raises (nothing left running) if memray cannot track now.

        The Tracker's ``with`` block lives in a helper thread (see module doc:
        entering it in our hook, which then returns, corrupts memray's view of
        the cell thread's stack). This thread waits until the helper is inside
        the block; memray captures the cell thread's stack at that moment and
        re-reads it at its next call/return event.
        """
        import memray  # noqa: PLC0415 - optional

        version = getattr(memray, "__version__", "0")
        if _version_tuple(version) < MIN_VERSION:
            raise RuntimeError(
                f"memray {version} is too old for in-kernel profiling: "
                f"`pip install -U 'memray>={MIN_VERSION[0]}.{MIN_VERSION[1]}'`"
            )
        self._dir = tempfile.mkdtemp(prefix="memory-doctor-profile-")
        path = os.path.join(self._dir, "run.memray")
        holder: _TrackerThread | None = None
        try:
            tracker = memray.Tracker(
                path,
                native_traces=self._native,
                trace_python_allocators=self._pyalloc,
                file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS,
                follow_fork=False,
            )
            holder = _TrackerThread(tracker)
            holder.start()
            if not holder.entered.wait(START_TIMEOUT_S) or holder.error is not None:
                raise RuntimeError(f"memray Tracker did not start: {holder.error!r}")
        except BaseException:
            # Also on KeyboardInterrupt while waiting: leave nothing running.
            if holder is not None:
                holder.release()
            self._cleanup()
            raise
        self._holder = holder
        self._t0 = time.perf_counter()

    def abort(self) -> None:
        """Leave the Tracker and delete the file, without a result (idempotent)."""
        holder, self._holder = self._holder, None
        try:
            if holder is not None:
                holder.release()
        finally:
            self._cleanup()

    def stop(self) -> RawProfile:
        """Leave the Tracker, read the two views, delete the file."""
        import memray  # noqa: PLC0415 - optional

        holder, self._holder = self._holder, None
        try:
            if holder is not None:
                holder.release()
                if holder.error is not None:
                    raise RuntimeError(f"memray Tracker failed: {holder.error!r}")
            elapsed = time.perf_counter() - self._t0
            t_read = time.perf_counter()
            if self._dir is None:
                raise RuntimeError("memray backend stopped without being started")
            with memray.FileReader(os.path.join(self._dir, "run.memray")) as reader:
                peak = _allocs(
                    reader.get_high_watermark_allocation_records(merge_threads=True), self._native
                )
                net = _allocs(
                    reader.get_leaked_allocation_records(merge_threads=True), self._native
                )
                meta = reader.metadata
            notes = [
                "memray sees every allocator, native (C/C++) ones included; the peak is exact."
            ]
            if not self._pyalloc:
                notes.append(
                    "Small Python objects are counted by pymalloc arena (1 MiB blocks on "
                    "Python >= 3.10), not one by one."
                )
            peak_bytes = int(meta.peak_memory)
            return RawProfile(
                backend="memray",
                net=net,
                peak=peak,
                peak_bytes=peak_bytes,
                end_bytes=sum(a.size for a in net),
                peak_mode="exact",
                peak_view_bytes=sum(a.size for a in peak),
                elapsed_s=elapsed,
                overhead_s=time.perf_counter() - t_read,
                notes=notes,
            )
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        directory, self._dir = self._dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


class _TrackerThread(threading.Thread):
    """Holds ``with tracker:`` open until released: one frame enters and exits."""

    def __init__(self, tracker: Any) -> None:
        super().__init__(name="memory-doctor-memray", daemon=True)
        self._tracker = tracker
        self.entered = threading.Event()
        self._release = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self._tracker:
                self.entered.set()
                self._release.wait()
        except BaseException as exc:
            self.error = exc
        finally:
            self.entered.set()

    def release(self) -> None:
        """Leave the ``with`` block and wait until the file is flushed."""
        self._release.set()
        self.join(STOP_TIMEOUT_S)


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = ([int(p) if p.isdigit() else 0 for p in version.split(".")] + [0, 0])[:2]
    return major, minor


def _allocs(records: Iterable[Any], native: bool) -> list[Alloc]:
    out = []
    for record in records:
        trace = record.hybrid_stack_trace() if native else record.stack_trace()
        stack = tuple(Frame(filename, lineno, function) for function, filename, lineno in trace)
        out.append(Alloc(stack, int(record.size), int(record.n_allocations)))
    return out
