"""Leaks across re-runs: per-cell growth history and the "what grew" census.

:class:`GrowthTracker` keeps, per cell id, the ``rss_delta`` of its last runs
(integers only). A run "grew" when its ``rss_delta`` is positive and at least
``leak_threshold_bytes``; ``runs`` is the number of consecutive growing runs
ending with the latest. From ``LEAK_MIN_RUNS`` such runs on the cell is
flagged: re-running it keeps increasing retained memory.

Only the run that can be flagged pays for naming what grew: once a cell id has
``LEAK_MIN_RUNS - 1`` growing runs behind it, its next run is *watched* — a
:func:`take_census` before and after it, compared by :func:`what_grew`. Every
other cell costs a dictionary lookup.

A census holds names, type names and numbers, never the objects: per user
variable an estimated size (exact builtin containers are walked a few levels
deep with sampling; numpy arrays, bytes and other known types are sized by the
scan's known-type sizers, which run no user code), and a count of live
objects per type from ``gc.get_objects()`` (objects the garbage collector
tracks: containers and class instances; arrays, strings and bytes show up
through the variables that hold them). It is bounded by a time budget: a
census whose variables run out of time is incomplete and the run's
``what_grew`` is empty; type counts that push it over the budget are dropped,
and the next censuses skip them.
"""

from __future__ import annotations

import gc
import threading
import time
import types
from collections import Counter, OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..format import format_bytes
from ..log import quiet_logger
from ..protocol import (
    GROWTH_CENSUS_BUDGET_S,
    GROWTH_HISTORY_RUNS,
    GROWTH_MAX_LABELS,
    GROWTH_MIN_RUNS,
    GROWTH_MIN_VARIABLE_BYTES,
    LEAK_MIN_RUNS,
    Growth,
)

_log = quiet_logger(__name__)

#: Runs kept per cell id; ``runs`` counts at most this many.
HISTORY_RUNS: Final = GROWTH_HISTORY_RUNS
#: Cell ids remembered (least recently run forgotten first).
MAX_CELLS: Final = 10_000
#: Wall-clock budget of one census (variables and type counts together).
CENSUS_BUDGET_S: Final = GROWTH_CENSUS_BUDGET_S
#: Objects one variable's size estimate may visit; beyond it items count shallowly.
NODES_PER_VARIABLE: Final = 20_000
#: Items of one container looked at; the rest are estimated from them.
SAMPLE_ITEMS: Final = 256
#: How deep a variable's size estimate follows references.
MAX_DEPTH: Final = 6
#: A variable is named when it grew by at least this much during the run.
MIN_VARIABLE_GROWTH: Final = GROWTH_MIN_VARIABLE_BYTES
#: A library or builtin type is named when its live count grew by at least this
#: many (IPython's own bookkeeping adds a few objects per cell); a class
#: defined in the notebook (``__main__``) is named for any growth.
MIN_TYPE_GROWTH: Final = 1000
#: Labels reported per run.
MAX_LABELS: Final = GROWTH_MAX_LABELS

#: Reached from a variable, these are code or shared machinery, not its data.
_CENSUS_WALLS: Final = frozenset(
    {
        types.FunctionType,
        types.MethodType,
        types.BuiltinFunctionType,
        types.FrameType,
        types.GeneratorType,
        types.CoroutineType,
        types.AsyncGeneratorType,
        types.TracebackType,
        types.CellType,
    }
)


@dataclass
class Census:
    """What a namespace and the heap looked like at one moment: numbers and names only."""

    #: Variable name -> (type name, estimated bytes).
    variables: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: Type name -> live GC-tracked objects; None when not counted.
    types: dict[str, int] | None = None
    #: False when the budget ran out before the census was done.
    complete: bool = True
    #: How long it took, in seconds.
    elapsed_s: float = 0.0
    #: Set when type counting ran over the budget (and was dropped): its duration.
    types_s: float | None = None


class _Sizer:
    """Bounded size estimates of the objects reachable from one variable."""

    def __init__(self, deadline: float) -> None:
        from ..heap.sizers import Sizer  # noqa: PLC0415 - heavy, and only watched runs need it

        self._sizer = Sizer()
        self._deadline = deadline
        self.out_of_time = False
        self._seen: set[int] = set()
        self._pseudo: set[Any] = set()
        self._nodes = 0

    def size_of(self, obj: Any) -> int:
        """Estimated bytes reachable from ``obj`` (each object once)."""
        self._seen = set()
        self._pseudo = set()
        self._nodes = 0
        return int(self._size(obj, 0))

    def _own(self, obj: Any) -> float | None:
        """Bytes of ``obj`` itself, or None for shared structure or a repeat."""
        oid = id(obj)
        if oid in self._seen:
            return None
        self._seen.add(oid)
        if type(obj) in _CENSUS_WALLS or self._sizer.boundary(obj):
            return None
        return self._sizer.size(obj)

    def _refs(self, obj: Any) -> tuple[list[Any], int]:
        """What ``obj`` refers to, and the bytes of buffers it holds not counted yet."""
        extra = 0
        try:
            refs, pseudo = self._sizer.references(obj)
        except Exception:  # a closed file, a released buffer: its header is all we know
            return [], 0
        for key, nbytes, *_rest in pseudo:
            if key not in self._pseudo:
                self._pseudo.add(key)
                extra += nbytes
        return refs, extra

    def _size(self, obj: Any, depth: int) -> float:
        size = self._own(obj)
        if size is None:
            return 0
        self._nodes += 1
        if depth >= MAX_DEPTH:
            return size
        if self._nodes & 1023 == 0 and time.perf_counter() > self._deadline:
            self.out_of_time = True
        if self.out_of_time or self._nodes > NODES_PER_VARIABLE:
            return size
        refs, extra = self._refs(obj)
        size += extra
        if len(refs) > SAMPLE_ITEMS:
            step = len(refs) / SAMPLE_ITEMS
            sample = [refs[int(i * step)] for i in range(SAMPLE_ITEMS)]
            scale = len(refs) / SAMPLE_ITEMS
        else:
            sample, scale = refs, 1.0
        del refs
        return size + scale * sum(self._size(ref, depth + 1) for ref in sample)


def _short_type(tp: type) -> str:
    from ..heap.introspect import type_name  # noqa: PLC0415 - as in _Sizer

    name = type_name(tp)
    return name[len("builtins.") :] if name.startswith("builtins.") else name


def _variables(namespace: Mapping[Any, Any], hidden: Mapping[Any, Any]) -> list[tuple[str, Any]]:
    """The user's variables (plus ``Out``, which holds every displayed result)."""
    items = list(dict.items(namespace)) if type(namespace) is dict else []
    out: list[tuple[str, Any]] = []
    for name, value in items:
        if type(name) is not str:
            continue
        if name == "Out":
            out.append((name, value))
            continue
        if name.startswith("_"):
            continue
        if name in hidden and hidden[name] is value:
            continue  # IPython's own (In, exit, get_ipython, ...)
        out.append((name, value))
    return out


def _type_counts() -> dict[str, int]:
    """Live GC-tracked objects per type name.

    Types are counted by ``id``: hashing a type could run a metaclass's
    ``__hash__``. Everything here is C loops over one list.
    """
    objects = gc.get_objects()
    kinds = list(map(type, objects))
    del objects
    counts = Counter(map(id, kinds))
    by_id = dict(zip(map(id, kinds), kinds))
    del kinds
    named: dict[str, int] = {}
    for type_id, count in counts.items():
        name = _short_type(by_id[type_id])
        named[name] = named.get(name, 0) + count
    return named


def take_census(
    namespace: Mapping[Any, Any],
    hidden: Mapping[Any, Any] | None = None,
    *,
    count_types: bool = True,
    budget_s: float = CENSUS_BUDGET_S,
) -> Census:
    """Estimate each variable's size and count live objects per type; never raises."""
    started = time.perf_counter()
    census = Census()
    try:
        sizer = _Sizer(started + budget_s)
        for name, value in _variables(namespace, hidden or {}):
            if time.perf_counter() > started + budget_s:
                sizer.out_of_time = True  # thousands of small variables
                census.complete = False
                break
            estimate = sizer.size_of(value)
            census.variables[name] = (_short_type(type(value)), estimate)
            if sizer.out_of_time:
                census.complete = False
                break
        if census.complete and count_types:
            types_started = time.perf_counter()
            census.types = _type_counts()
            if time.perf_counter() > started + budget_s:
                # Over budget: the variables still count, the type counts are
                # dropped, and the caller skips them from now on.
                census.types = None
                census.types_s = time.perf_counter() - types_started
    except Exception:  # a guest: a failed census names nothing
        _log.debug("census failed", exc_info=True)
        census.complete = False
    census.elapsed_s = time.perf_counter() - started
    return census


def what_grew(before: Census, after: Census, limit: int = MAX_LABELS) -> list[str]:
    """Labels for what grew between two censuses, largest first; empty if either is incomplete.

    Variables first, by bytes: ``"data (list) +40.0 MB"``; then types, by count:
    ``"dict +10000"``.
    """
    if not (before.complete and after.complete):
        return []
    grown_vars: list[tuple[int, str]] = []
    for name, (type_name, size) in after.variables.items():
        prior = before.variables.get(name)
        # A name bound to an object of another type is a new variable.
        old = prior[1] if prior is not None and prior[0] == type_name else 0
        if size - old >= MIN_VARIABLE_GROWTH:
            label = f"{name} ({type_name}) {format_bytes(size - old, signed=True)}"
            grown_vars.append((size - old, label))
    grown_types: list[tuple[int, str]] = []
    if before.types is not None and after.types is not None:
        for type_name, count in after.types.items():
            grown = count - before.types.get(type_name, 0)
            user_class = type_name.startswith("__main__.")
            if grown >= (1 if user_class else MIN_TYPE_GROWTH):
                grown_types.append((grown, f"{type_name} +{grown}"))
    grown_vars.sort(key=lambda item: -item[0])
    grown_types.sort(key=lambda item: -item[0])
    return [label for _, label in grown_vars + grown_types][:limit]


def _growth_floor(threshold: int) -> int:
    """The smallest ``rss_delta`` that counts as growing: a run that left nothing
    behind never grew, whatever the threshold."""
    return max(threshold, 1)


class GrowthTracker:
    """Per cell id: the ``rss_delta`` of its last runs, and the ``growth`` of a record.

    Hooks may run on several threads (subshells), so the history is locked.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: OrderedDict[str, deque[int]] = OrderedDict()
        #: Set once a type count took longer than the budget: later censuses skip it.
        self.skip_type_counts = False

    def clear(self) -> None:
        """Forget every cell."""
        with self._lock:
            self._history.clear()

    @staticmethod
    def _streak(deltas: deque[int] | list[int], threshold: int) -> list[int]:
        floor = _growth_floor(threshold)
        streak: list[int] = []
        for delta in reversed(deltas):
            if delta < floor:
                break
            streak.append(delta)
        return streak

    def should_watch(self, cell_id: str | None, threshold: int) -> bool:
        """Whether the next run of ``cell_id`` can be flagged, so it is worth a census."""
        if cell_id is None:
            return False
        with self._lock:
            deltas = self._history.get(cell_id)
            return deltas is not None and len(self._streak(deltas, threshold)) >= LEAK_MIN_RUNS - 1

    def grew(self, rss_delta: int, threshold: int) -> bool:
        """Whether one run with this ``rss_delta`` counts as growing."""
        return rss_delta >= _growth_floor(threshold)

    def add_run(
        self,
        cell_id: str | None,
        rss_delta: int,
        threshold: int,
        what: list[str] | None = None,
    ) -> Growth | None:
        """Record one run; return the record's ``growth`` (``None`` unless it grew twice or more).

        ``what`` names what grew during this run, when it was watched.
        """
        if cell_id is None:
            return None
        with self._lock:
            deltas = self._history.get(cell_id)
            if deltas is None:
                deltas = self._history[cell_id] = deque(maxlen=HISTORY_RUNS)
                while len(self._history) > MAX_CELLS:
                    self._history.popitem(last=False)
            else:
                self._history.move_to_end(cell_id)
            deltas.append(int(rss_delta))
            streak = self._streak(deltas, threshold)
        runs = len(streak)
        if runs < GROWTH_MIN_RUNS:
            return None
        return {
            "runs": runs,
            "growth_per_run_bytes": sum(streak) // runs,
            "flagged": runs >= LEAK_MIN_RUNS,
            "what_grew": list(what or [])[:GROWTH_MAX_LABELS],
        }
