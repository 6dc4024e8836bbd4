"""The retained-size scan: which set of roots keeps each byte alive.

Semantics. Every reachable object belongs to exactly one *set of roots*: the
roots that reach it. A holder is one such set with the bytes of the objects
labelled with it; deleting every root in the set frees exactly those bytes.
Most sets have one root; ``big``, ``Out[3]`` and ``_3`` naming one array form a
set of three, which is the "deleting ``big`` alone frees nothing" case.

Algorithm. Roots naming the same object form one *group* and are walked once.
Groups are walked one after the other; each object carries an interned label
(an index into a table of sorted group tuples) in ``_labels``, keyed by ``id``.
When group *g* reaches an object it maps the object's label ``S`` to
``S | {g}`` through a per-group memo; an object whose label already contains
``g`` stops the walk, so each group visits what it reaches once, and an
object's label only grows. Per label the scan keeps bytes and counts by type,
moving them when an object is relabelled.

Speed, in pure Python. The walk is batched so that the per-object work runs in
C: ``gc.get_referents(*batch)`` for a whole batch, then ``map``/``compress``/
``Counter`` over ids, labels and sizes. Objects with a single reference (the
parent being expanded) cannot be reached any other way; they are recognised
by their reference count and attributed with their parent without a ``_labels``
entry, which keeps the table to shared objects only. Pending objects are kept
per ``(old label, new label, expansion mode)`` so that a batch is homogeneous.

No recursion (explicit work lists), a time budget and cooperative slicing
(:meth:`Scan.step`), progress callbacks, and :meth:`Scan.stop`. After
:meth:`Scan.result` nothing of the user's is referenced. The why-alive path
of each holder is searched after the walk by ``heap/paths.py``.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Iterable
from itertools import chain, compress, repeat
from operator import attrgetter, eq, ge, ne, not_
from typing import Any, Callable, Final, Protocol

from ..log import quiet_logger
from ..protocol import HOLDER_KINDS, SCAN_PHASES, SCAN_STOPPED
from .introspect import frame_back, module_dict, mro_has, type_name
from .paths import PathSearch
from .roots import Root, RootList, singleton_walls, user_modules
from .sizers import (
    EXP_DICT,
    EXP_LEAF,
    EXP_SPECIAL,
    EXP_WALL,
    Classifier,
    Context,
    Pseudo,
    TypeInfo,
)

_log = quiet_logger(__name__)

#: Label 0 marks walls: never counted, never entered.
_WALL: Final = 0
#: Largest objects remembered per label (for the holder's type and path).
_LARGEST_KEPT: Final = 4
#: Progress is reported at most this often.
_PROGRESS_EVERY_S: Final = 0.25
_BATCH_MIN: Final = 64
_BATCH_MAX: Final = 4096  # larger batches lose more to cache misses than they save
#: Batches this small are walked one object at a time (see Scan._process_small).
_SMALL_BATCH: Final = 4
_SMALL_STEPS: Final = 4096
_SMALL_FANOUT: Final = 64
_COMPOSITION_TOP: Final = 5
#: Steps of path search (each at most ``paths.PATH_CHUNK`` objects) per resource.
_RESOURCE_PATH_STEPS: Final = 20


class ResourceHook(Protocol):
    """What the scan needs from ``advice.resources.ResourceTypes``."""

    def kind(self, tp: type) -> str | None:
        """The resource kind of objects of type ``tp``, or None."""
        ...

    def collect(
        self,
        noted: Iterable[tuple[Any, list[tuple[str, str]]]],
        path_of: Callable[[Any], str | None] | None = None,
    ) -> list[dict[str, Any]]:
        """Plain-data resources from the objects the walk noted."""
        ...


_SIZER = attrgetter("sizer")
_getrefcount = sys.getrefcount
_getsizeof = sys.getsizeof

try:
    from operator import call as _call  # type: ignore[attr-defined]  # Python >= 3.11
except ImportError:  # pragma: no cover - Python 3.9/3.10

    def _call(func: Callable[[Any], int], obj: Any) -> int:
        return func(obj)


def _calibrate_single_reference() -> int:
    """The reference count ``map(sys.getrefcount, referents)`` reports for an object
    whose only reference is its parent's (0 when counts cannot be trusted).

    Measured rather than assumed: how many references the call machinery adds
    differs between Python versions, and free-threaded builds defer counts.
    """
    gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if gil_enabled is not None and not gil_enabled():
        return 0
    parent = [object(), [object()]]
    counts = set(map(_getrefcount, gc.get_referents(parent)))
    shared = object()
    parent2 = [shared]
    count2 = next(iter(map(_getrefcount, gc.get_referents(parent2))))
    if len(counts) != 1 or count2 <= next(iter(counts)):
        return 0
    return next(iter(counts))


_SINGLE_REF: Final = _calibrate_single_reference()


def _calibrate_single_reference_scalar() -> int:
    """As :func:`_calibrate_single_reference`, for the one-object-at-a-time loop of
    :meth:`Scan._process_small` (same statement shape: ``for child in kids``)."""
    if not _SINGLE_REF:
        return 0
    parent = [object()]
    kids = gc.get_referents(parent)
    for child in kids:
        return _getrefcount(child)
    return 0  # pragma: no cover - kids has one element


_SINGLE_REF_SCALAR: Final = _calibrate_single_reference_scalar()


def _immortals() -> list[Any]:
    """Objects the interpreter caches and never frees: walls, or every
    container would share them with every other."""
    out: list[Any] = [None, True, False, Ellipsis, NotImplemented, (), "", b""]
    out.extend(range(-5, 257))
    out.extend(chr(i) for i in range(256))
    out.extend(i.to_bytes(1, "big") for i in range(256))
    return out


class _Transitions(dict):  # type: ignore[type-arg]  # dict[int | None, int]
    """Group ``g``'s label transitions: ``old label -> old | {g}``, memoised."""

    __slots__ = ("_group", "_scan")

    def __init__(self, scan: Scan, g: int) -> None:
        super().__init__()
        self._scan = scan
        self._group = g
        self[_WALL] = _WALL

    def __missing__(self, old: int | None) -> int:
        new = self._scan._union(old, self._group)
        self[old] = new
        return new


class _Group:
    """Roots that name the same object (and walk it the same way)."""

    __slots__ = ("cache_mode", "deferred", "obj", "roots")

    def __init__(self, obj: Any, cache_mode: bool) -> None:
        self.obj = obj
        self.roots: list[int] = []
        self.cache_mode = cache_mode
        self.deferred = True  # only generator roots: walked last, and only if unreached


class _Holder:
    """One label's figures while the result is assembled."""

    __slots__ = (
        "bytes",
        "composition",
        "device",
        "file_backed",
        "host_bytes",
        "label",
        "objects",
        "path",
        "target",
        "type",
    )

    def __init__(self, label: int) -> None:
        self.label = label
        self.bytes = 0
        self.host_bytes = 0
        self.objects = 0
        self.composition: list[dict[str, Any]] = []
        self.type = "?"
        self.target: int | None = None
        self.path: str | None = None
        self.device: str | None = None
        self.file_backed = False


class Scan:
    """One retained-size scan over ``roots``, run in slices with :meth:`step`."""

    def __init__(
        self,
        roots: list[Root],
        *,
        budget_s: float = 5.0,
        max_holders: int = 500,
        progress: Callable[[str, int, float], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        resources: ResourceHook | None = None,
    ) -> None:
        """Prepare a scan; nothing is walked until :meth:`step`.

        ``progress(phase, objects_visited, elapsed_s)`` is called at most every
        0.25 s of scan time. ``budget_s`` bounds the time spent inside
        :meth:`step` (the sum of the slices, not the wall time between them).
        ``clock`` is for tests. ``resources`` (``advice.resources.ResourceTypes``)
        makes the walk note objects of resource types with their roots; the
        result then has ``resources``.
        """
        self._roots: list[Root] = list(roots)
        self._extra_walls: list[Any] = list(roots.walls) if type(roots) is RootList else []
        self._budget_s = float(budget_s)
        self._max_holders = max(int(max_holders), 0)
        self._progress = progress
        self._clock = clock
        self._phase: str = SCAN_PHASES[0]
        self._finished = False
        self._stop_reason: str | None = None
        self._work_s = 0.0
        self._visited = 0
        self._last_report: float | None = None
        self._result: dict[str, Any] | None = None
        self._batch_size = 1024
        # Walk state.
        #: id -> label of every object that may be reached twice (label 0: a wall).
        self._labels: dict[int, int] = {}
        #: label -> the sorted group indices it stands for, and back.
        self._label_sets: list[tuple[int, ...]] = [()]
        self._label_of_set: dict[tuple[int, ...], int] = {(): _WALL}
        self._groups: list[_Group] = []
        self._group_order: list[int] = []
        self._group_cursor = -1  # index into _group_order of the group being walked
        self._transitions: _Transitions = _Transitions(self, -1)
        #: (old label, new label, expansion mode) -> objects waiting to be expanded.
        self._pending: dict[tuple[int | None, int, int], list[Any]] = {}
        self._type_infos: dict[int, TypeInfo] = {}
        self._mode_by_type_id: dict[int, int] = {}
        self._type_names: dict[int, str] = {}
        self._pseudo_keys: dict[tuple[Any, ...], int] = {}
        self._pseudo_type_ids: dict[str, int] = {}
        self._wall_refs: list[Any] = []  # wall objects whose ids must not be reused mid-scan
        self._context: Context | None = None
        self._classifier: Classifier | None = None
        # Per-label figures.
        #: (label, type id) -> [bytes, objects].
        self._totals: dict[tuple[int, int], list[int]] = {}
        #: label -> its largest objects, largest first: (bytes, object id, type id, key).
        self._largest: dict[int, list[tuple[int, int, int, int]]] = {}
        #: key of an entry in _largest -> the label whose list it is in now.
        self._largest_label: dict[int, int] = {}
        #: (label, device) -> bytes on that device (GPU tensors); label -> file-backed bytes.
        self._device_bytes: dict[tuple[int, str], int] = {}
        self._file_backed_bytes: dict[int, int] = {}
        # Result assembly.
        self._holders: list[_Holder] | None = None
        self._attributed = 0
        self._path_holder_index = 0  # the holder whose why-alive path is being searched
        self._path_search: PathSearch | None = None
        # Resources met by the walk: id -> (object, label). A noted object is
        # always in _labels too: holding it here adds a reference, so the
        # single-reference shortcut must not apply to it afterwards.
        self._resource_types = resources
        self._resource_type_ids: set[int] = set()
        self._resource_objects: dict[int, tuple[Any, int]] = {}

    # ------------------------------------------------------------------ public API

    @property
    def finished(self) -> bool:
        """Whether the scan is over (complete or stopped); :meth:`result` is ready."""
        return self._finished

    def stop(self, reason: str) -> None:
        """Ask the scan to stop; the next :meth:`step` finishes with partial results."""
        if reason not in SCAN_STOPPED:
            raise ValueError(f"stop reason must be one of {SCAN_STOPPED}, not {reason!r}")
        if not self._finished and self._stop_reason is None:
            self._stop_reason = reason

    def step(self, slice_s: float = 0.05) -> bool:
        """Do about ``slice_s`` seconds of work; True once the scan is finished."""
        if self._finished:
            return True
        clock = self._clock
        start = clock()
        deadline = start + slice_s
        try:
            self._wall_live_frames()
            while True:
                if self._stop_reason is None and self._work_s + (clock() - start) >= self._budget_s:
                    self._stop_reason = "budget"
                if self._stop_reason is not None:
                    self._work_s += clock() - start
                    self._finish()
                    return True
                t0 = clock()
                self._report(self._work_s + (t0 - start))
                done = self._advance()
                self._adapt_batch(clock() - t0, slice_s)
                if done:
                    self._work_s += clock() - start
                    self._finish()
                    return True
                if clock() >= deadline:
                    self._work_s += clock() - start
                    return False
        except BaseException:
            self._release()
            self._finished = True
            raise

    def result(self) -> dict[str, Any]:
        """The scan's figures (see ``docs/protocol.md``, ``scan`` reply).

        ``cell_id``/``execution_count`` of each holder are None, and ``rss``/
        ``unattributed_bytes`` are absent: the caller fills them in.
        """
        if not self._finished or self._result is None:
            raise RuntimeError("the scan has not finished: call step() until it returns True")
        self._release()
        return self._result

    # ------------------------------------------------------------------ driving

    def _set_phase(self, phase: str) -> None:
        self._phase = phase

    def _report(self, elapsed: float) -> None:
        if self._progress is None:
            return
        if self._last_report is not None and elapsed - self._last_report < _PROGRESS_EVERY_S:
            return
        self._last_report = elapsed
        try:
            self._progress(self._phase, self._visited, elapsed)
        except Exception:  # the caller's callback must not break the scan
            _log.debug("progress callback failed", exc_info=True)

    def _adapt_batch(self, took: float, slice_s: float) -> None:
        if took < slice_s / 8 and self._batch_size < _BATCH_MAX:
            self._batch_size *= 2
        elif took > slice_s / 2 and self._batch_size > _BATCH_MIN:
            self._batch_size //= 2

    def _advance(self) -> bool:
        phase = self._phase
        if phase == "roots":
            self._prepare()
            self._set_phase("walk")
            return False
        if phase == "walk":
            if self._pending:
                self._process_batch()
            elif not self._next_group():
                self._set_phase("attribute")
            return False
        if phase == "attribute":
            self._attribute()
            self._set_phase("paths")
            return False
        return self._path_work()

    def _finish(self) -> None:
        if self._holders is None:
            self._attribute()
        holders = self._holders or []
        out: list[dict[str, Any]] = []
        for rank, h in enumerate(holders, 1):
            out.append(self._holder_dict(rank, h))
        self._result = {
            "scan": {
                "duration_s": round(self._work_s, 6),
                "objects_visited": self._visited,
                "complete": self._stop_reason is None,
                "stopped": self._stop_reason,
            },
            "attributed_bytes": self._attributed,
            "holders": out,
        }
        if self._resource_types is not None:
            self._result["resources"] = self._resource_entries()
        self._finished = True
        self._release()

    def _release(self) -> None:
        """Drop every reference to user objects (and the tables keyed by their ids).

        Containers are emptied in place, not only rebound: anything else that
        still points at one (a frame kept as a wall, a caller's local) must not
        keep its contents alive, and nothing may wait for a GC.
        """
        for table in (
            self._roots,
            self._extra_walls,
            self._groups,
            self._wall_refs,
            self._group_order,
        ):
            table.clear()
        for mapping in (self._pending, self._type_infos, self._labels, self._totals, self._largest):
            mapping.clear()
        self._largest_label.clear()
        self._resource_objects.clear()
        self._transitions.clear()
        self._transitions._scan = None  # type: ignore[assignment]  # breaks the scan <-> memo cycle
        self._path_search = None
        self._classifier = None
        self._context = None

    # ------------------------------------------------------------------ preparation

    def _wall(self, obj: Any) -> None:
        self._labels[id(obj)] = _WALL
        self._wall_refs.append(obj)

    def _wall_live_frames(self) -> None:
        """Frames executing on the main thread and on this one are walls: they are
        not the user's data, and one of them is this scan's caller."""
        try:
            frames = sys._current_frames()
        except Exception:
            return
        # The dict holds this frame, which holds the dict: clear it on the way
        # out, or the cycle keeps the callers' locals alive until a GC.
        try:
            live: set[int] = set()
            top: Any
            for top in frames.values():
                frame: Any = top
                while frame is not None and id(frame) not in live:
                    live.add(id(frame))
                    frame = frame_back(frame)
            if self._context is not None:
                self._context.live_frames = live
            for ident in {threading.main_thread().ident, threading.get_ident()}:
                stack: Any = frames.get(ident) if ident is not None else None
                while stack is not None and self._labels.get(id(stack)) != _WALL:
                    self._wall(stack)
                    stack = frame_back(stack)
        finally:
            # This frame is among them: no local may point at it on return.
            frames.clear()
            top = frame = stack = None

    def _prepare(self) -> None:
        stop_ids = {
            id(r.owner)
            for r in self._roots
            if r.owner is not None and r.kind in ("closure", "default_arg", "cache")
        }
        self._context = Context(frozenset(user_modules()), stop_ids)
        self._classifier = Classifier(self._context)
        self._wall_live_frames()
        for obj in _immortals():
            self._wall(obj)
        for module in list(sys.modules.values()):
            if mro_has(type(module), types.ModuleType):
                ns = module_dict(module)
                if ns is not None:
                    self._wall(ns)
        self._wall(sys.modules)
        for obj in (*self._extra_walls, *singleton_walls(), *_sys_walls()):
            self._wall(obj)
        # The scan's own state: by id only. These live as long as the scan, and
        # holding them in _keep would make _keep hold itself, a cycle that keeps
        # every walled frame (and the roots in their locals) until a GC.
        for obj in (self, self.__dict__, self._labels, self._pending, self._roots, self._wall_refs):
            self._labels[id(obj)] = _WALL
        by_key: dict[tuple[int, bool], int] = {}
        for i, root in enumerate(self._roots):
            key = (id(root.obj), root.kind == "cache")
            g = by_key.get(key)
            if g is None:
                g = by_key[key] = len(self._groups)
                self._groups.append(_Group(root.obj, key[1]))
            group = self._groups[g]
            group.roots.append(i)
            if root.kind != "generator":
                group.deferred = False
        for group in self._groups:
            if not group.deferred:  # a generator a variable names is that variable's
                group.roots = [i for i in group.roots if self._roots[i].kind != "generator"]
        self._wall(self._groups)
        # Generators and coroutines count only if nothing else reaches them.
        self._group_order = [g for g, grp in enumerate(self._groups) if not grp.deferred]
        self._group_order += [g for g, grp in enumerate(self._groups) if grp.deferred]

    def _next_group(self) -> bool:
        """Start the next root group; False when there is none left."""
        while True:
            self._group_cursor += 1
            if self._group_cursor >= len(self._group_order):
                return False
            g = self._group_order[self._group_cursor]
            group = self._groups[g]
            obj = group.obj
            if group.deferred and self._labels.get(id(obj)) is not None:
                continue  # reached from another root already
            self._transitions = _Transitions(self, g)
            if group.cache_mode and self._classifier is not None:
                self._settle_shared([obj], push=False)
                self._settle_shared(self._classifier.lru.store(obj))
            else:
                self._settle_shared([obj])
            return True

    def _union(self, old: int | None, g: int) -> int:
        base = self._label_sets[old] if old is not None else ()
        if g in base:
            return old  # type: ignore[return-value]  # old is not None when base is non-empty
        key = tuple(sorted((*base, g)))
        idx = self._label_of_set.get(key)
        if idx is None:
            idx = len(self._label_sets)
            self._label_sets.append(key)
            self._label_of_set[key] = idx
        return idx

    # ------------------------------------------------------------------ the walk

    def _type_info(self, tp: type) -> TypeInfo:
        info = self._type_infos.get(id(tp))
        if info is None:
            assert self._classifier is not None  # noqa: S101 - set in _prepare
            try:
                info = self._classifier.classify(tp)
            except Exception:
                _log.debug("classifying a type failed", exc_info=True)
                info = TypeInfo(tp, EXP_LEAF, _zero_size)
            self._type_infos[id(tp)] = info
            self._mode_by_type_id[id(tp)] = info.exp
            self._type_names[id(tp)] = info.name
            if (
                self._resource_types is not None
                and info.exp != EXP_WALL
                and self._resource_types.kind(tp)
            ):
                self._resource_type_ids.add(id(tp))
        return info

    def _process_batch(self) -> None:
        key = next(reversed(self._pending))
        todo = self._pending[key]
        n = self._batch_size
        if len(todo) <= n:
            batch = todo
            del self._pending[key]
        else:
            batch = todo[-n:]
            del todo[-n:]
        old, new, mode = key
        if mode == EXP_SPECIAL:
            self._expand_special(batch)
            return
        if len(batch) <= _SMALL_BATCH:  # a chain (linked list, deep nesting)
            self._process_small([(obj, old, new, mode) for obj in batch])
            return
        children = self._referents(batch, mode)
        del batch
        self._settle_children(children, old, new)

    def _referents(self, batch: list[Any], mode: int) -> list[Any]:
        """The references of a batch of PLAIN or DICT objects, in one C call."""
        children = gc.get_referents(*batch)
        if mode == EXP_DICT:
            # str-keyed dicts traverse only their values; the keys are memory too.
            keys = list(chain.from_iterable(map(dict.keys, batch)))
            unique = dict(zip(map(id, keys), keys))
            if len(unique) == len(keys):
                children.extend(keys)  # e.g. a vocabulary: keys may have one reference
            else:
                # Records sharing their keys: dedupe here, far cheaper than per key below.
                del keys
                self._settle_shared(list(unique.values()))
        return children

    def _settle_children(self, children: list[Any], old: int | None, new: int) -> None:
        """Settle the references of a batch whose objects all moved ``old -> new``.

        A child whose only reference is its parent's (its reference count,
        taken while ``children`` holds it once, equals ``_SINGLE_REF``) cannot be
        reached otherwise: it moves with its parent and needs no ``_labels`` entry.
        """
        if not children:
            return
        single = 0
        if _SINGLE_REF:
            flags = list(map(eq, map(_getrefcount, children), repeat(_SINGLE_REF)))
            single = flags.count(True)
        if single:
            self._settle(list(compress(children, flags)), None, old, new)
            if single < len(children):
                self._settle_shared(list(compress(children, map(not_, flags))))
        else:
            self._settle_shared(children)

    def _process_small(  # noqa: PLR0912, PLR0915 - the hot loop stays in one frame
        self, stack: list[tuple[Any, Any, int, int]]
    ) -> None:
        """Walk a few objects one by one, following their children depth-first.

        Batching costs a few microseconds per batch; a linked list a million
        deep would make a million batches of one. This loop has no per-batch
        cost and does the same accounting as :meth:`_settle`.
        """
        labels = self._labels
        transitions = self._transitions
        type_infos = self._type_infos
        totals = self._totals
        largest = self._largest
        largest_label = self._largest_label
        single_ref = _SINGLE_REF_SCALAR
        resource_type_ids = self._resource_type_ids
        steps = _SMALL_STEPS
        while stack and steps > 0:
            steps -= 1
            obj, old, new, mode = stack.pop()
            if mode == EXP_SPECIAL:
                self._pending.setdefault((old, new, mode), []).append(obj)
                continue
            kids = gc.get_referents(obj)
            if mode == EXP_DICT:
                kids.extend(dict.keys(obj))
            if len(kids) > _SMALL_FANOUT:  # a wide object: the batched path is faster
                if mode == EXP_DICT:
                    kids = self._referents([obj], mode)
                obj = None
                self._settle_children(kids, old, new)
                continue
            obj = None
            for child in kids:
                single = single_ref and _getrefcount(child) == single_ref
                tp = type(child)
                tid = id(tp)
                info = type_infos.get(tid)
                if info is None:
                    info = self._type_info(tp)
                cid = id(child)
                if single:
                    o, n = old, new
                else:
                    o = labels.get(cid)
                    n = transitions[o]
                    if o == n:
                        continue
                try:
                    size = _getsizeof(child) if info.fast else int(info.sizer(child))
                except Exception:
                    size = 0
                if size < 0:  # a wall
                    if not single:
                        labels[cid] = _WALL
                        self._wall_refs.append(child)
                    continue
                if not single:
                    labels[cid] = n
                elif tid in resource_type_ids:
                    labels[cid] = n  # see _note_resources
                if tid in resource_type_ids:
                    self._resource_objects[cid] = (child, n)
                self._visited += 1
                entry = totals.get((n, tid))
                if entry is None:
                    totals[(n, tid)] = [size, 1]
                else:
                    entry[0] += size
                    entry[1] += 1
                if o is not None:
                    entry = totals.get((o, tid))
                    if entry is None:
                        totals[(o, tid)] = [-size, -1]
                    else:
                        entry[0] -= size
                        entry[1] -= 1
                    if cid in largest_label:
                        largest_label[cid] = n
                top = largest.get(n)
                if top is None or len(top) < _LARGEST_KEPT or size > top[-1][0]:
                    self._largest_add(n, (size, cid, tid, cid))
                exp = info.exp
                if exp not in (EXP_LEAF, EXP_WALL):
                    stack.append((child, o, n, exp))
            kids = []
        pending = self._pending
        for obj, old, new, mode in stack:
            pending.setdefault((old, new, mode), []).append(obj)

    def _expand_special(self, batch: list[Any]) -> None:
        ctx = self._context
        assert ctx is not None  # noqa: S101 - set in _prepare
        children: list[Any] = []
        pseudo: list[tuple[Pseudo, int]] = []
        for obj in batch:
            info = self._type_info(type(obj))
            if info.special is None:
                children.extend(gc.get_referents(obj))
                continue
            try:
                kids, found = info.special.expand(obj, ctx)
            except Exception:  # a library object in a state we did not foresee
                _log.debug("expanding %s failed", info.name, exc_info=True)
                continue
            children.extend(kids)
            pseudo.extend((p, id(obj)) for p in found)
        if pseudo:
            self._settle_pseudo(pseudo)
        if children:
            self._settle_shared(children)

    def _settle_shared(self, objs: list[Any], push: bool = True) -> None:
        """Label objects that may be reached more than once (deduplicated by id)."""
        cand = dict(zip(map(id, objs), objs))
        ids = list(cand)
        labels = self._labels
        old = list(map(labels.get, ids))
        new = list(map(self._transitions.__getitem__, old))
        changed = list(map(ne, old, new))
        count = changed.count(True)
        if not count:
            return
        if count < len(ids):
            ids = list(compress(ids, changed))
            old = list(compress(old, changed))
            new = list(compress(new, changed))
        self._settle(list(map(cand.__getitem__, ids)), ids, old, new, push)

    def _sizes(self, objs: list[Any], tids: list[int], only: TypeInfo | None) -> list[int]:
        type_infos = self._type_infos
        try:
            if only is not None:
                return list(map(only.sizer, objs))
            return list(map(_call, map(_SIZER, map(type_infos.__getitem__, tids)), objs))
        except Exception:  # one odd C type; size the batch one by one
            sizes = []
            for tid, obj in zip(tids, objs):
                try:
                    sizes.append(int(type_infos[tid].sizer(obj)))
                except Exception:
                    sizes.append(0)
            return sizes

    def _settle(
        self,
        objs: list[Any],
        ids: list[int] | None,
        old: Any,
        new: Any,
        push: bool = True,
    ) -> None:
        """Account newly (re)labelled objects and queue them for expansion.

        ``ids is None``: single-reference children of one batch, all moving
        ``old -> new`` (scalars) and absent from ``_labels``. Otherwise ``ids``,
        ``old`` and ``new`` are lists parallel to ``objs``.
        """
        tids = list(map(id, map(type, objs)))
        infos = self._distinct_infos(tids, objs)
        one_type = len(infos) == 1
        if all(info.fast for info in infos):
            sizes = list(map(_getsizeof, objs))
        else:
            sizes = self._sizes(objs, tids, infos[0] if one_type else None)
            if min(sizes) < 0:  # walls: types, modules, library functions and caches
                objs, ids, old, new, tids, sizes = self._drop_walls(
                    objs, ids=ids, old=old, new=new, tids=tids, sizes=sizes
                )
                if not objs:
                    return
        if self._resource_type_ids and not self._resource_type_ids.isdisjoint(tids):
            self._note_resources(objs, tids, new)
        self._visited += len(objs)
        scalar = True
        if ids is not None:
            self._labels.update(zip(ids, new))
            if len(set(new)) == 1 and len(set(old)) == 1:
                old, new = old[0], new[0]
            else:
                scalar = False
        if scalar:
            self._account_scalar(objs, tids=tids, sizes=sizes, old=old, new=new, one_type=one_type)
        else:
            self._account_many(objs, tids, sizes, old, new)
        if self._largest_label and (not scalar or old is not None):
            self._move_largest(objs, ids, new, scalar)
        if push:
            self._queue(objs, tids, infos[0] if one_type else None, old, new, scalar=scalar)

    def _queue(
        self,
        objs: list[Any],
        tids: list[int],
        only: TypeInfo | None,
        old: Any,
        new: Any,
        *,
        scalar: bool,
    ) -> None:
        """Queue the objects that have references of their own for expansion."""
        if only is not None:
            mode = only.exp
            if mode in (EXP_LEAF, EXP_WALL):
                return
            if scalar:
                self._pending.setdefault((old, new, mode), []).extend(objs)
                return
            exps: list[int] = [mode] * len(objs)
        else:
            exps = list(map(self._mode_by_type_id.__getitem__, tids))
        self._push(objs, old, new, exps, scalar)

    def _distinct_infos(self, tids: list[int], objs: list[Any]) -> list[TypeInfo]:
        """The :class:`TypeInfo` of each distinct type among ``objs``."""
        utids = set(tids)
        type_infos = self._type_infos
        if not utids.issubset(type_infos.keys()):  # types met for the first time: classify once
            for obj in dict(zip(tids, objs)).values():
                self._type_info(type(obj))
        return [type_infos[t] for t in utids]

    def _drop_walls(
        self,
        objs: list[Any],
        *,
        ids: list[int] | None,
        old: Any,
        new: Any,
        tids: list[int],
        sizes: list[int],
    ) -> tuple[list[Any], list[int] | None, Any, Any, list[int], list[int]]:
        """Remove the objects whose sizer said "wall" (-1); remember shared ones."""
        keep = list(map(ge, sizes, repeat(0)))
        if ids is not None:
            labels = self._labels
            dropped = list(map(not_, keep))
            for i, obj in zip(compress(ids, dropped), compress(objs, dropped)):
                labels[i] = _WALL
                self._wall_refs.append(obj)
            ids = list(compress(ids, keep))
            old = list(compress(old, keep))
            new = list(compress(new, keep))
        return (
            list(compress(objs, keep)),
            ids,
            old,
            new,
            list(compress(tids, keep)),
            list(compress(sizes, keep)),
        )

    def _account_scalar(
        self,
        objs: list[Any],
        *,
        tids: list[int],
        sizes: list[int],
        old: int | None,
        new: int,
        one_type: bool,
    ) -> None:
        """Move the bytes of objects that all went ``old -> new``."""
        if one_type:
            tid = tids[0]
            total = sum(sizes)
            self._add_total(new, tid, total, len(sizes))
            if old is not None:
                self._add_total(old, tid, -total, -len(sizes))
        else:
            counts = Counter(zip(tids, sizes))
            self._add(new, counts, 1)
            if old is not None:
                self._add(old, counts, -1)
        self._track_largest_scalar(new, objs, tids, sizes)

    def _account_many(
        self,
        objs: list[Any],
        tids: list[int],
        sizes: list[int],
        old: list[Any],
        new: list[int],
    ) -> None:
        """Move the bytes of objects with per-object transitions."""
        self._add_many(Counter(zip(new, tids, sizes)), 1)
        if old.count(None) < len(old):
            has_old = list(map(ne, old, repeat(None)))
            moved = zip(compress(old, has_old), compress(tids, has_old), compress(sizes, has_old))
            self._add_many(Counter(moved), -1)
        self._track_largest_many(new, objs, tids, sizes)

    def _push(self, objs: list[Any], old: Any, new: Any, exps: list[int], scalar: bool) -> None:
        pending = self._pending
        if scalar:
            for mode in set(exps):
                if mode not in (EXP_LEAF, EXP_WALL):
                    pending.setdefault((old, new, mode), []).extend(
                        compress(objs, map(eq, exps, repeat(mode)))
                    )
            return
        keys = list(zip(old, new, exps))
        for key in set(keys):
            if key[2] not in (EXP_LEAF, EXP_WALL):
                pending.setdefault(key, []).extend(compress(objs, map(eq, keys, repeat(key))))

    def _settle_pseudo(self, found: list[tuple[Pseudo, int]]) -> None:
        """Label buffers/storages/mappings, counted once per key."""
        labels = self._labels
        transitions = self._transitions
        for (key, size, tname, device, file_backed), owner in found:
            pk = self._pseudo_keys.get(key)
            if pk is None:
                pk = self._pseudo_keys[key] = -(len(self._pseudo_keys) + 1)
            old = labels.get(pk)
            new = transitions[old]
            if old == new:
                continue
            labels[pk] = new
            tid = self._pseudo_type_ids.get(tname)
            if tid is None:
                tid = self._pseudo_type_ids[tname] = -(len(self._pseudo_type_ids) + 1)
                self._type_names[tid] = tname
            counts = Counter({(tid, size): 1})
            self._add(new, counts, 1)
            if old is not None:
                self._add(old, counts, -1)
            if device is not None:
                self._device_bytes[(new, device)] = self._device_bytes.get((new, device), 0) + size
                if old is not None:
                    self._device_bytes[(old, device)] = (
                        self._device_bytes.get((old, device), 0) - size
                    )
            if file_backed:
                self._file_backed_bytes[new] = self._file_backed_bytes.get(new, 0) + size
                if old is not None:
                    self._file_backed_bytes[old] = self._file_backed_bytes.get(old, 0) - size
            self._visited += 1
            top = self._largest.get(new)
            if top is None or len(top) < _LARGEST_KEPT or size > top[-1][0]:
                self._largest_add(new, (size, owner, tid, pk))

    def _add(self, label: int, counts: Counter[tuple[int, int]], sign: int) -> None:
        totals = self._totals
        for (tid, size), n in counts.items():
            entry = totals.get((label, tid))
            if entry is None:
                totals[(label, tid)] = [sign * size * n, sign * n]
            else:
                entry[0] += sign * size * n
                entry[1] += sign * n

    def _add_total(self, label: int, tid: int, total: int, number: int) -> None:
        entry = self._totals.get((label, tid))
        if entry is None:
            self._totals[(label, tid)] = [total, number]
        else:
            entry[0] += total
            entry[1] += number

    def _add_many(self, counts: Counter[tuple[int, int, int]], sign: int) -> None:
        totals = self._totals
        for (label, tid, size), n in counts.items():
            entry = totals.get((label, tid))
            if entry is None:
                totals[(label, tid)] = [sign * size * n, sign * n]
            else:
                entry[0] += sign * size * n
                entry[1] += sign * n

    # ------------------------------------------------------------------ resources

    def _note_resources(self, objs: list[Any], tids: list[int], new: Any) -> None:
        """Remember the resource objects of a settled batch with their new label.

        Each goes into ``_labels`` as well: from now on it has one more reference
        (ours), so later visits must take the shared path, which moves its
        bytes from the label recorded here.
        """
        resource_type_ids = self._resource_type_ids
        labels = self._labels
        for i in compress(range(len(tids)), map(resource_type_ids.__contains__, tids)):
            obj = objs[i]
            label = new if type(new) is int else new[i]
            labels[id(obj)] = label
            self._resource_objects[id(obj)] = (obj, label)

    def _held_by(self, label: int) -> list[tuple[str, str]]:
        if label == _WALL or not self._groups:
            return []
        return [(self._roots[i].label, self._roots[i].kind) for i in self._root_indices(label)]

    def _resource_path(self, obj: Any) -> str | None:
        """Pasteable Python from the first root holding ``obj`` to it (bounded search)."""
        entry = self._resource_objects.get(id(obj))
        if entry is None or entry[1] == _WALL:
            return None
        first = self._roots[self._root_indices(entry[1])[0]]
        if id(first.obj) == id(obj):
            return first.path
        search = self._start_path(entry[1], id(obj))
        for _ in range(_RESOURCE_PATH_STEPS):
            if search is None or search.step():
                break
        return search.path if search is not None else None

    def _resource_entries(self) -> list[dict[str, Any]]:
        hook = self._resource_types
        if hook is None:
            return []
        noted = [(obj, self._held_by(label)) for obj, label in self._resource_objects.values()]
        try:
            return hook.collect(noted, self._resource_path)
        except Exception:  # resources are an extra: the holders still go out
            _log.debug("collecting resources failed", exc_info=True)
            return []

    # ------------------------------------------------------------------ largest objects

    def _largest_add(self, label: int, entry: tuple[int, int, int, int]) -> None:
        top = self._largest.setdefault(label, [])
        top.append(entry)
        top.sort(reverse=True)
        largest_label = self._largest_label
        for evicted in top[_LARGEST_KEPT:]:
            if largest_label.get(evicted[3]) == label:
                del largest_label[evicted[3]]
        del top[_LARGEST_KEPT:]
        largest_label[entry[3]] = label

    def _track_largest_scalar(
        self, label: int, objs: list[Any], tids: list[int], sizes: list[int]
    ) -> None:
        biggest = max(sizes)
        top = self._largest.get(label)
        if top is not None and len(top) >= _LARGEST_KEPT and biggest <= top[-1][0]:
            return
        i = sizes.index(biggest)
        oid = id(objs[i])
        self._largest_add(label, (biggest, oid, tids[i], oid))

    def _track_largest_many(
        self, new: list[int], objs: list[Any], tids: list[int], sizes: list[int]
    ) -> None:
        for label in set(new):
            mask = list(map(eq, new, repeat(label)))
            picked = list(compress(range(len(sizes)), mask))
            biggest = max(sizes[i] for i in picked)
            top = self._largest.get(label)
            if top is not None and len(top) >= _LARGEST_KEPT and biggest <= top[-1][0]:
                continue
            i = next(i for i in picked if sizes[i] == biggest)
            oid = id(objs[i])
            self._largest_add(label, (biggest, oid, tids[i], oid))

    def _move_largest(self, objs: list[Any], ids: list[int] | None, new: Any, scalar: bool) -> None:
        idl = ids if ids is not None else list(map(id, objs))
        largest_label = self._largest_label
        for j in compress(range(len(idl)), map(largest_label.__contains__, idl)):
            largest_label[idl[j]] = new if scalar else new[j]

    # ------------------------------------------------------------------ attribution

    def _attribute(self) -> None:
        by_label: dict[int, list[tuple[int, int, int]]] = {}
        for (label, tid), (nbytes, count) in self._totals.items():
            if label == _WALL or (nbytes <= 0 and count <= 0):
                continue
            by_label.setdefault(label, []).append((max(nbytes, 0), max(count, 0), tid))
        holders: list[_Holder] = []
        attributed = 0
        for label, rows in by_label.items():
            h = _Holder(label)
            h.bytes = sum(r[0] for r in rows)
            h.objects = sum(r[1] for r in rows)
            if h.bytes <= 0 and h.objects <= 0:
                continue
            device_bytes: dict[str, int] = {}
            for (lbl, device), nbytes in self._device_bytes.items():
                if lbl == label and nbytes > 0:
                    device_bytes[device] = nbytes
            h.host_bytes = max(h.bytes - sum(device_bytes.values()), 0)
            if device_bytes:
                h.device = max(device_bytes.items(), key=lambda kv: kv[1])[0]
            h.file_backed = self._file_backed_bytes.get(label, 0) > 0
            rows.sort(reverse=True)
            h.composition = [
                {"type": self._type_names.get(tid, "?"), "bytes": nbytes, "count": count}
                for nbytes, count, tid in rows[:_COMPOSITION_TOP]
            ]
            h.type = h.composition[0]["type"] if h.composition else "?"
            for size, target, tid, check in self._largest.get(label, []):
                del size
                if self._largest_label.get(check) == label:
                    h.type = self._type_names.get(tid, h.type)
                    h.target = target
                    break
            attributed += h.host_bytes
            holders.append(h)
        holders.sort(key=lambda h: (-h.bytes, self._first_root(h.label)))
        self._attributed = attributed
        self._holders = holders[: self._max_holders]

    def _first_root(self, label: int) -> int:
        return (
            min(min(self._groups[g].roots) for g in self._label_sets[label]) if self._groups else 0
        )

    def _root_indices(self, label: int) -> list[int]:
        out: list[int] = []
        for g in self._label_sets[label]:
            out.extend(self._groups[g].roots)
        return sorted(out)

    def _holder_dict(self, rank: int, h: _Holder) -> dict[str, Any]:
        roots = [self._roots[i] for i in self._root_indices(h.label)] if self._roots else []
        first = roots[0] if roots else None
        return {
            "id": f"h{rank}",
            "labels": [r.label for r in roots],
            "kind": first.kind if first is not None else HOLDER_KINDS[0],
            "roots": [{"label": r.label, "kind": r.kind} for r in roots],
            # The type a user recognises is the root's own (a DataFrame, not
            # its largest ndarray block); `composition` gives the breakdown.
            "type": type_name(type(first.obj)) if first is not None else h.type,
            "retained_bytes": h.bytes,
            "objects": h.objects,
            "path": h.path if h.path is not None else (first.path if first is not None else ""),
            "cell_id": None,
            "execution_count": None,
            "composition": h.composition,
            "shared": len(roots) > 1,
            "device": h.device,
            "file_backed": h.file_backed,
        }

    # ------------------------------------------------------------------ why-alive paths

    def _path_work(self) -> bool:
        """One unit of path search; True when every kept holder has its path."""
        holders = self._holders or []
        search = self._path_search
        if search is None:
            while self._path_holder_index < len(holders):
                h = holders[self._path_holder_index]
                search = self._start_path(h.label, h.target)
                if search is not None:
                    break
                self._path_holder_index += 1
            else:
                return True
            self._path_search = search
        if search.step():
            holders[self._path_holder_index].path = search.path
            self._path_search = None
            self._path_holder_index += 1
        return self._path_holder_index >= len(holders) and self._path_search is None

    def _start_path(self, label: int, target: int | None) -> PathSearch | None:
        """A search from the first root of ``label`` to the object ``target``;
        None when the root's own path says it all."""
        first = self._root_indices(label)[0]
        root = self._roots[first]
        if target is None or root.kind == "cache" or id(root.obj) == target:
            return None  # the root path is the whole story
        g = next(g for g in self._label_sets[label] if first in self._groups[g].roots)
        return PathSearch(
            root,
            g,
            target,
            labels=self._labels,
            label_sets=self._label_sets,
            type_info=self._type_info,
            context=self._context,
        )


def _sys_walls() -> list[Any]:
    """The process's streams and hooks (ipykernel's OutStream with its sockets and
    threads): a thread object keeps ``sys.stderr`` as ``_stderr``, which must not
    make the kernel's machinery look like the user's."""
    ns = module_dict(sys) or {}
    names = ("stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__")
    out = [ns[n] for n in (*names, "displayhook", "excepthook") if ns.get(n) is not None]
    # The kernel's event loop (a task's _loop): its selector and self-pipe sockets.
    events = module_dict(sys.modules.get("asyncio.events")) or {}
    running = events.get("_get_running_loop")
    if type(running) is types.BuiltinFunctionType:
        loop = running()
        if loop is not None:
            out.append(loop)
    return out


def _zero_size(obj: Any) -> int:
    return 0


def scan_now(roots: list[Root], **kw: Any) -> dict[str, Any]:
    """Run a :class:`Scan` to the end in one go and return its result."""
    scan = Scan(roots, **kw)
    while not scan.step(0.25):
        pass
    return scan.result()


__all__ = ["Scan", "scan_now"]
