"""Memory measurement backends for the kernel helper.

Every backend implements :class:`PeakProbe`. :func:`select_probe` picks the
best one this process supports, once, at load time:

``vmhwm``
    Linux. Writing ``5`` to ``/proc/self/clear_refs`` resets the kernel's
    resident-set high-water mark to the current RSS; ``VmHWM`` in
    ``/proc/self/status`` read after the cell is then the exact peak *during*
    the cell, however short the spike and whichever thread or C library caused
    it. The kernel folds the current RSS into the mark before it unmaps
    anything, so a buffer allocated and freed inside the cell still counts.
``ru_maxrss``
    ``getrusage`` high-water mark. It cannot be reset, so it only tells us
    about a cell that set a new lifetime high; otherwise the peak is a lower
    bound.
``none``
    Nothing to read; the peak is ``max(rss_before, rss_after)``.

These functions run twice per cell inside someone else's kernel, so they are
built to cost microseconds; the procfs readers they use live in
``memory_doctor.procmem``.
"""

from __future__ import annotations

import gc
import sys
from typing import Protocol

from ..log import quiet_logger
from ..procmem import KIB, HighWaterMark, StatmReader, current_rss
from ..protocol import PEAK_NONE, PEAK_RU_MAXRSS, PEAK_VMHWM, PeakMethod

_log = quiet_logger(__name__)

#: Slack allowed between VmHWM and VmRSS right after a reset when we check that
#: the reset works: other threads may allocate in between.
_RESET_CHECK_SLACK = 8 * 2**20


class PeakProbe(Protocol):
    """Measures the resident set before a cell and its peak during the cell."""

    #: How the peak is measured.
    method: PeakMethod
    #: Whether ``peak_rss`` is the true peak (not a lower bound).
    exact: bool

    def start(self) -> int:
        """Begin a measurement; return the RSS in bytes now."""
        ...

    def stop(self) -> tuple[int, int]:
        """End the measurement; return ``(rss_after, peak_rss)`` in bytes."""
        ...

    def peak(self) -> int:
        """The peak RSS since the last :meth:`start` (best effort), in bytes."""
        ...

    def close(self) -> None:
        """Release any file descriptors."""
        ...


class VmHWMProbe:
    """Exact peak on Linux: reset ``VmHWM`` through ``clear_refs``, read it after."""

    method: PeakMethod = PEAK_VMHWM
    exact = True

    def __init__(self) -> None:
        # Opening can fail (no procfs, clear_refs missing in gVisor and some
        # sandboxes, or not writable); :func:`select_probe` falls back then.
        self._mark = HighWaterMark()
        try:
            self._statm = StatmReader()
        except OSError:  # no procfs files: let select_probe fall back
            self._mark.close()
            raise
        self._verify()

    def _verify(self) -> None:
        """Check that a reset really brings VmHWM down to VmRSS."""
        self._mark.reset()
        rss, hwm = self._mark.read()
        if hwm > rss + _RESET_CHECK_SLACK:
            self.close()
            raise OSError(f"clear_refs did not reset VmHWM ({hwm} > {rss})")

    def start(self) -> int:
        self._mark.reset()
        return self._statm.rss()

    def stop(self) -> tuple[int, int]:
        return self._mark.read()

    def peak(self) -> int:
        return self._mark.read()[1]

    def close(self) -> None:
        self._mark.close()
        self._statm.close()


def _maxrss_bytes() -> int:
    import resource  # noqa: PLC0415 - absent on Windows

    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux and the BSDs report KiB, macOS reports bytes.
    return int(value) if sys.platform == "darwin" else int(value) * KIB


class RuMaxrssProbe:
    """Lifetime high-water mark from ``getrusage``; exact only for new highs."""

    method: PeakMethod = PEAK_RU_MAXRSS
    exact = False

    def __init__(self) -> None:
        _maxrss_bytes()  # raises ImportError/OSError where unsupported
        self._before = 0
        self._maxrss_before = 0

    def start(self) -> int:
        self._maxrss_before = _maxrss_bytes()
        self._before = current_rss()
        return self._before

    def stop(self) -> tuple[int, int]:
        after = current_rss()
        maxrss = _maxrss_bytes()
        floor = max(self._before, after)
        # Only a rise of the lifetime mark tells us about this cell.
        peak = maxrss if maxrss > self._maxrss_before else floor
        return after, max(peak, floor)

    def peak(self) -> int:
        return _maxrss_bytes()

    def close(self) -> None:
        pass


class NoPeakProbe:
    """No peak source: the peak is the larger of the two RSS readings."""

    method: PeakMethod = PEAK_NONE
    exact = False

    def __init__(self) -> None:
        self._before = 0

    def start(self) -> int:
        self._before = current_rss()
        return self._before

    def stop(self) -> tuple[int, int]:
        after = current_rss()
        return after, max(self._before, after)

    def peak(self) -> int:
        return current_rss()

    def close(self) -> None:
        pass


def select_probe() -> PeakProbe:
    """The most precise probe that works in this process."""
    if sys.platform.startswith("linux"):
        try:
            return VmHWMProbe()
        except (OSError, ValueError):
            _log.debug("vmhwm probe unavailable", exc_info=True)
    try:
        return RuMaxrssProbe()
    except (ImportError, OSError):
        _log.debug("ru_maxrss probe unavailable", exc_info=True)
    return NoPeakProbe()


def gc_collections() -> int:
    """Garbage collections run so far, all generations."""
    return sum(stat["collections"] for stat in gc.get_stats())


class HeapTracer:
    """Optional tracemalloc figures, switched by the ``tracemalloc`` option.

    Starts tracemalloc only if nobody traces already and stops only what it
    started. When the user traces too, :meth:`begin` resets the traced peak,
    which their own ``get_traced_memory()`` peak then also sees.
    """

    def __init__(self) -> None:
        self._started_by_us = False
        self.enabled = False
        # A line profile (profile/) stopped our trace to run its own.
        self._lent = False
        self._settled: tuple[int, int] | None = None

    def enable(self) -> None:
        """Turn the figures on, starting tracemalloc if needed."""
        import tracemalloc  # noqa: PLC0415 - only when the option is used

        if not tracemalloc.is_tracing():
            tracemalloc.start()
            self._started_by_us = True
        self.enabled = True

    def disable(self) -> None:
        """Turn the figures off, stopping tracemalloc only if we started it."""
        self.enabled = False
        if self._started_by_us:
            import tracemalloc  # noqa: PLC0415 - as above

            self._started_by_us = False
            if tracemalloc.is_tracing() and not self._lent:  # a lent trace is the profile's
                tracemalloc.stop()

    def lend(self) -> bool:
        """Stop our own trace for a line profile that runs its own; True if stopped.

        A trace the user started is not ours to stop: the profile then shares it.
        """
        if not (self.enabled and self._started_by_us) or self._lent:
            return False
        import tracemalloc  # noqa: PLC0415 - cached in sys.modules after enable()

        if tracemalloc.is_tracing():
            tracemalloc.stop()
        self._lent = True
        return True

    def settle(self, figures: tuple[int, int] | None) -> None:
        """The profile is over: restart our trace. ``figures`` (the profiled run's
        net and peak traced bytes) are what the next :meth:`end` returns."""
        if not self._lent:
            return
        self._lent = False
        self._settled = figures
        if self.enabled:
            import tracemalloc  # noqa: PLC0415 - as above

            if not tracemalloc.is_tracing():
                tracemalloc.start()

    def begin(self) -> int | None:
        """Traced bytes now (and reset the traced peak), or None when off."""
        if not self.enabled:
            return None
        if self._lent:
            return 0  # the profile's trace runs: its figures arrive through settle()
        import tracemalloc  # noqa: PLC0415 - cached in sys.modules after enable()

        if not tracemalloc.is_tracing():
            return None
        tracemalloc.reset_peak()
        return tracemalloc.get_traced_memory()[0]

    def end(self, begin: int | None) -> tuple[int | None, int | None]:
        """``(py_heap_delta, py_heap_peak)`` since :meth:`begin`."""
        settled, self._settled = self._settled, None
        if begin is None or not self.enabled:
            return None, None
        if settled is not None:
            return settled
        import tracemalloc  # noqa: PLC0415 - cached in sys.modules after enable()

        if not tracemalloc.is_tracing():
            return None, None
        current, peak = tracemalloc.get_traced_memory()
        return current - begin, max(peak - begin, 0)
