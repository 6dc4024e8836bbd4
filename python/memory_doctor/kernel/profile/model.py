"""Records the backends produce and the JSON-able profile they become.

A backend reports allocations as :class:`Alloc` records: a Python stack
(innermost frame first, as tracemalloc's raw traces and memray's
``stack_trace()`` both give it), a byte total and a block count. It reports two
lists per run: what was still allocated when the run ended (``net``) and what
was allocated at the moment of the run's peak (``peak``).

:func:`.attribution.attribute` turns them into a :class:`Profile`, the
``profile`` of a ``cell_profile`` message (docs/protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The wire shapes are protocol.json's (1.3): ``Profile`` is a ``cell_profile``'s
# ``profile``. How the peak view was obtained (``PeakMode``): ``exact`` (memray,
# or the tracemalloc peak fell on a line boundary), ``line-start``/``line-end``
# (the peak was inside one line: the bytes above the line's start (end) are one
# "transient" block on it), ``stale`` (the view was taken below the peak: rate
# limit), ``none`` (no peak view). docs/profile.md explains them.
from ...protocol import Profile
from ...protocol import ProfileBackend as BackendName
from ...protocol import ProfileCell as CellRefDict
from ...protocol import ProfileFrame as StackFrameDict
from ...protocol import ProfileLine as LineDict
from ...protocol import ProfilePeakMode as PeakMode
from ...protocol import ProfileStack as StackDict
from ...protocol import ProfileTotals as TotalsDict


@dataclass(frozen=True)
class Frame:
    """One Python frame of an allocation stack."""

    filename: str
    lineno: int
    #: Function name; tracemalloc does not record it ("").
    function: str = ""


#: Innermost frame first.
Stack = tuple[Frame, ...]


@dataclass(frozen=True)
class Alloc:
    """Bytes still allocated from one stack, at the end or at the peak."""

    stack: Stack
    size: int
    count: int
    #: True when the backend cut the stack short (tracemalloc's frame limit):
    #: an allocation with no notebook frame may still come from the cell.
    truncated: bool = False
    #: "transient": a line's bytes above its start/end level at an in-line
    #: peak, with no callee stack (tracemalloc only).
    kind: str = ""


@dataclass
class RawProfile:
    """What a backend hands to the attribution step."""

    backend: BackendName
    net: list[Alloc]
    peak: list[Alloc]
    #: The traced peak (bytes allocated since the start, at their maximum).
    peak_bytes: int
    #: The traced level at the end of the run.
    end_bytes: int
    peak_mode: PeakMode
    #: The level the peak view describes (== peak_bytes unless stale/none).
    peak_view_bytes: int
    elapsed_s: float
    #: Time spent by the profiler itself while the cell ran (snapshots...).
    overhead_s: float = 0.0
    notes: list[str] = field(default_factory=list)


__all__ = [
    "Alloc",
    "BackendName",
    "CellRefDict",
    "Frame",
    "LineDict",
    "PeakMode",
    "Profile",
    "RawProfile",
    "Stack",
    "StackDict",
    "StackFrameDict",
    "TotalsDict",
]
