"""The retained-size scan: which set of roots keeps each byte alive.

Semantics. Every reachable object belongs to exactly one *label*: the set of
root groups that reach it. A holder is a label with at least one of the
user's roots, with the bytes and objects that only that set reaches: deleting
every root in the set frees exactly those bytes. Roots naming one object form
one group, so ``big``, ``Out[3]`` and ``_3`` naming one array are one holder,
shown jointly. The walk covers the whole heap: libraries, the kernel and the
interpreter are root groups too (``groups.py``), and references the walk
cannot explain (C state) are the ``outside Python`` group. A holder's
``also_held_by`` names the non-user groups in its label; it is ``freeable``
only when there are none.

Phases, each in bounded slices (:meth:`Scan.step`): ``roots`` (the groups,
stops and walls: the engine's spec), ``walk`` (the engine: one traversal from
every seed, then the labels; see ``README.md``), ``attribute`` (holders from
labels), ``paths`` (why-alive paths to the largest object of the largest
holders, and from a library's module for memory a library also holds), and
``resources`` (what the walk noted, described by the ``resources`` hook).

The budget. The walk may use :data:`WALK_SHARE` of ``budget_s``; labelling
what it found takes about a tenth of the walk's time, and the holders, paths
and the kernel's post-scan advice fit in the rest, so that a scan stopped by
its budget ends within about 10 % of it. After :meth:`Scan.result`, nothing
of the user's is referenced, without relying on the garbage collector.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import time
import types
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Final, Protocol

from ..log import quiet_logger
from ..protocol import (
    ALSO_HELD_BY_TOP,
    COMPOSITION_TOP,
    HELD_ELSEWHERE_TOP,
    HOLDER_KINDS,
    MAX_HOLDER_INDEX,
    SCAN_STOPPED,
    STOP_BUDGET,
    STOP_CELL_RAN,
)
from . import engine as engines
from .groups import (
    KIND_EXTERNAL,
    KIND_INTERPRETER,
    KIND_KERNEL,
    KIND_LIBRARY,
    KIND_USER,
    OUTSIDE_NAME,
    Group,
    immortals,
    is_root_container,
    kernel_stops,
    library_groups,
    live_frame_expander,
    live_frames,
    odd_namespace_entries,
)
from .introspect import frame_back, frame_locals, module_dict, type_name
from .model import M_DICT, M_EXPAND, M_IGNORE, M_LEAF, M_STOP, Expander, TypeInfo, WalkSpec
from .model import materialise as _materialise
from .paths import PathSearch
from .roots import Root, RootList, shell_of, user_modules
from .sizers import Classifier, referents

_log = quiet_logger(__name__)

#: Share of the budget the walk may take: labelling what it found, the holders,
#: the paths and the kernel's advice fit in the rest (and 10 % beyond).
WALK_SHARE: Final = 0.8
#: Why-alive paths are searched within this many seconds, and only while the
#: scan is within this share of its budget.
PATHS_BUDGET_S: Final = 0.5
PATHS_SHARE: Final = 0.95
#: Paths are searched for the largest holders of at least this many bytes.
PATHS_MAX: Final = 50
PATH_MIN_BYTES: Final = 65_536
#: Library-side paths: for this many of the largest not-freeable holders, after
#: every user path, each within LIBRARY_PATH_S.
LIBRARY_PATHS_MAX: Final = 10
LIBRARY_PATH_S: Final = 0.05
#: A resource's path search stops after this long (all of them: RESOURCE_PATHS_S).
RESOURCE_PATH_S: Final = 0.01
RESOURCE_PATHS_S: Final = 0.05
OUTSIDE_TOP: Final = 20
#: Progress is reported at most this often.
PROGRESS_EVERY_S: Final = 0.25
#: Labels handled per attribute chunk.
_ATTRIBUTE_CHUNK: Final = 2048
#: Stop reasons after which nothing more is labelled: the reply goes out at once.
_AT_ONCE: Final = ("cancelled", "interrupted")
#: The engine's phases that label what the walk found (progress says "attribute").
_LABEL_PHASES: Final = frozenset({"count", "check", "scc", "propagate", "account", "result"})


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


def _edge_expander(counts: dict[int, int]) -> Expander:
    """The walk of a container whose references to some values are root edges:
    those (by id, ``counts`` times at most) are counted, never followed."""

    def expand(obj: Any) -> Any:
        count: list[Any] = []
        if type(obj) is dict:
            refs = [*dict.keys(obj), *dict.values(obj)]
        else:
            refs, cls = referents(obj)
            count.extend(cls or ())
        want = dict(counts)
        follow: list[Any] = []
        for ref in refs:
            n = want.get(id(ref), 0)
            if n:
                want[id(ref)] = n - 1
                count.append(ref)
            else:
                follow.append(ref)
        refs = []
        return follow, count, None

    return expand


class Scan:
    """One whole-heap retained-size scan, run in slices with :meth:`step`."""

    def __init__(
        self,
        roots: list[Root],
        *,
        user_ns: dict[Any, Any] | None = None,
        budget_s: float = 5.0,
        max_holders: int = 500,
        progress: Callable[[str, int, float], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        resources: ResourceHook | None = None,
        engine: str | None = None,
        user_module_names: Iterable[str] | None = None,
        paths_budget_s: float = PATHS_BUDGET_S,
    ) -> None:
        """Prepare a scan; nothing is walked until :meth:`step`.

        ``roots``: the user's roots (a :class:`~memory_doctor.heap.roots.RootList`
        brings the stops and root edges too). ``user_ns``: the namespace, for
        its keys that are not exact ``str``. ``progress(phase, objects,
        elapsed_s)`` is called at most every 0.25 s of scan time.
        ``budget_s`` bounds the time spent inside :meth:`step`. ``resources``
        makes the walk note objects of resource types; the result then has
        ``resources``. ``user_module_names``: modules whose globals are user
        roots (default: :func:`~memory_doctor.heap.roots.user_modules`).
        """
        self._roots: list[Root] = list(roots)
        is_list = type(roots) is RootList
        self._containers: list[Any] = (
            [s for s in roots.stops if is_root_container(s)] if is_list else []  # type: ignore[attr-defined]
        )
        self._edges: list[tuple[Any, list[Any]]] = list(roots.edges) if is_list else []  # type: ignore[attr-defined]
        self._user_ns = user_ns
        self._budget = float(budget_s)
        self._max_holders = max(int(max_holders), 0)
        self._progress = progress
        self._clock = clock
        self._resources = resources
        self._engine_name = engines.engine_name(engine)
        self._user_module_names = None if user_module_names is None else list(user_module_names)
        self._paths_budget = float(paths_budget_s)
        self._phase = "roots"
        self._stop: str | None = None
        self._finished = False
        self._work_s = 0.0
        self._last_report: float | None = None
        self._phase_s: dict[str, float] = {}
        self._groups: list[Group] = []
        self._n_user = 0
        self._odd: list[tuple[str, Any, Any]] = []
        self._classifier: Classifier | None = None
        self._walker: engines.Walker | None = None
        self._spec: WalkSpec | None = None
        self._objects: dict[int, Expander] = {}  # per-object expanders, by id
        self._user_frames: set[int] = set()  # executing frames of user threads
        self._walls_ids: set[int] = set()
        self._infos: dict[int, TypeInfo] = {}
        self._result: dict[str, Any] | None = None
        # attribute
        self._res: Any = None
        self._lids: list[int] = []
        self._attr_i = 0
        self._merged: dict[tuple[tuple[int, ...], bool], _Merged] = {}
        self._elsewhere: list[tuple[int, int, int]] = []
        self._elsewhere_total = [0, 0]
        self._holders: list[dict[str, Any]] = []
        self._outside: list[dict[str, Any]] = []
        self._stats: dict[str, Any] = {}
        # paths
        self._labels: Any = None
        self._targets: list[tuple[dict[str, Any] | None, int, Any, Any, str, Callable[[Any], bool]]]
        self._targets = []
        self._lib_targets: list[
            tuple[dict[str, Any] | None, int, Any, Any, str, Callable[[Any], bool]]
        ] = []
        self._search_s = 0.0
        self._search: PathSearch | None = None
        self._search_for: tuple[dict[str, Any] | None, int] | None = None
        self._paths_s = 0.0
        self._resource_entries: list[dict[str, Any]] | None = None

    # ------------------------------------------------------------------ public API

    @property
    def finished(self) -> bool:
        """Whether :meth:`result` is ready."""
        return self._finished

    @property
    def engine(self) -> str:
        """``native`` or ``python``."""
        return self._engine_name

    def stop(self, reason: str) -> None:
        """Ask the scan to stop; the next :meth:`step` finishes it.

        ``budget``: the walk ends where it is and what it found is labelled,
        in more slices. ``cell_ran``: the same within one slice, or nothing.
        ``cancelled``, ``interrupted``: nothing more is done.
        """
        if reason not in SCAN_STOPPED:
            raise ValueError(f"stop reason must be one of {SCAN_STOPPED}, not {reason!r}")
        if not self._finished and self._stop is None:
            self._stop = reason

    def step(self, slice_s: float = 0.05) -> bool:
        """About ``slice_s`` seconds of work; True once finished."""
        if self._finished:
            return True
        clock = self._clock
        start = clock()
        try:
            return self._slice(start, slice_s)
        except KeyboardInterrupt:
            # An interrupt (SIGINT) during the slice: a stopped scan, not a failure.
            self._work_s += clock() - start
            self._stop = "interrupted"
            self._finish()
            raise
        except BaseException:
            self._release()
            self._finished = True
            raise

    def result(self) -> dict[str, Any]:
        """The scan's figures; every user reference is dropped first."""
        if not self._finished or self._result is None:
            raise RuntimeError("the scan has not finished: call step() until it returns True")
        self._release()
        return self._result

    # ------------------------------------------------------------------ slices

    def _slice(self, start: float, slice_s: float) -> bool:
        clock = self._clock
        end = start + slice_s
        while True:
            now = clock()
            spent = self._work_s + (now - start)
            if self._stop is None and self._walking() and spent >= self._budget * WALK_SHARE:
                self._stop = STOP_BUDGET
            if self._stop is not None and self._settle_now(end):
                self._work_s += clock() - start
                self._finish()
                return True
            if self._stop is not None and self._walker is not None and self._walking():
                self._walker.truncate()
            self._report(spent)
            phase = self._phase
            t0 = clock()
            done = self._advance(end)
            self._phase_s[phase] = self._phase_s.get(phase, 0.0) + clock() - t0
            if done:
                self._work_s += clock() - start
                self._finish()
                return True
            if clock() >= end:
                self._work_s += clock() - start
                return False

    def _walking(self) -> bool:
        """Whether the engine is still discovering objects."""
        if self._phase == "roots":
            return True
        return (
            self._phase == "walk"
            and self._walker is not None
            and self._walker.phase in ("setup", "walk")
        )

    def _settle_now(self, end: float) -> bool:
        """For a stopped scan: whether to finish in this slice, labelling what
        can be labelled before ``end`` (True: finish now)."""
        if self._stop in _AT_ONCE or self._phase == "roots":
            return True
        if self._stop == STOP_CELL_RAN:
            # A cell waits: what is labelled within this slice goes out, else nothing.
            if self._walker is not None and self._walking():
                self._walker.truncate()
            while self._phase in ("walk", "attribute") and self._clock() < end:
                self._advance(end)
            if self._phase in ("walk", "attribute"):
                self._merged.clear()
                self._holders = []
            return True
        return False  # a budget stop: label what was found, skip the paths

    def _advance(self, end: float) -> bool:
        if self._phase == "roots":
            self._prepare()
            self._phase = "walk"
            return False
        if self._phase == "walk":
            assert self._walker is not None  # noqa: S101 - set in _prepare
            # The engines keep time on time.perf_counter: the rest of this slice.
            if self._walker.step(time.perf_counter() + max(end - self._clock(), 0.0)):
                self._attribute_begin()
                self._phase = "attribute"
            return False
        if self._phase == "attribute":
            if self._attribute_step(end):
                self._paths_begin()
                self._phase = "paths"
            return False
        if self._phase == "paths":
            if self._path_work(end):
                self._phase = "resources"
            return False
        self._collect_resources()
        return True

    def _report(self, elapsed: float) -> None:
        if self._progress is None:
            return
        if self._last_report is not None and elapsed - self._last_report < PROGRESS_EVERY_S:
            return
        self._last_report = elapsed
        phase = self._phase
        if phase == "walk" and self._walker is not None and self._walker.phase in _LABEL_PHASES:
            phase = "attribute"
        elif phase == "resources":
            phase = "paths"
        visited = self._walker.objects if self._walker is not None else 0
        try:
            self._progress(phase, visited, elapsed)
        except Exception:  # the caller's callback must not break the scan
            _log.debug("progress callback failed", exc_info=True)

    # ------------------------------------------------------------------ roots

    def _user_groups(self, user_locals: dict[int, Any]) -> list[Group]:
        """Roots naming the same object form one group (``big``, ``Out[3]``, ``_3``);
        a cache root is a group of its own (it seeds the store, not the function)."""
        by_obj: dict[tuple[int, bool], Group] = {}
        groups: list[Group] = []
        for i, root in enumerate(self._roots):
            obj = root.obj
            if root.kind == "thread" and type(obj) is types.FrameType:
                seeds: list[Any] = []
                frame: Any = obj
                while frame is not None:
                    loc = user_locals.get(id(frame))
                    if loc is not None:
                        seeds.append(loc)
                    frame = frame_back(frame)
                frame = None
                groups.append(Group(root.label, KIND_USER, seeds, [i]))
                continue
            key = (id(obj), root.seeds is not None)
            found = by_obj.get(key)
            if found is None:
                seeds = list(root.seeds) if root.seeds is not None else [obj]
                found = by_obj[key] = Group(root.label, KIND_USER, seeds, [])
                groups.append(found)
            found.roots.append(i)
        n = len(self._roots)
        for j, (label, key, value) in enumerate(self._odd):
            groups.append(Group(label, KIND_USER, [key, value], [n + j]))
        return groups

    def _object_expanders(self, frames: Any) -> dict[int, Expander]:
        counts: dict[int, Counter[int]] = {}
        holders: dict[int, Any] = {}
        for container, values in self._edges:
            holders[id(container)] = container
            counts.setdefault(id(container), Counter()).update(map(id, values))
        out: dict[int, Expander] = {cid: _edge_expander(dict(c)) for cid, c in counts.items()}
        for f, _loc in frames.user:
            out[id(f)] = live_frame_expander
        return out

    def _prepare(self) -> None:
        if self._user_ns is not None:
            self._odd = odd_namespace_entries(self._user_ns)
        frames: Any = live_frames()
        groups = self._user_groups({id(f): loc for f, loc in frames.user})
        self._n_user = len(groups)
        stops: list[Any] = list(self._containers)
        if self._user_ns is not None:
            stops.append(self._user_ns)
        names = list(user_modules()) if self._user_module_names is None else self._user_module_names
        lib, module_stops = library_groups(names, sys.modules.get("__main__"))
        groups.extend(lib)
        stops.extend(module_stops)
        kernel = kernel_stops()
        stops.extend(kernel)
        # What the kernel's stops hold is the kernel's.
        for group in lib:
            if group.kind == KIND_KERNEL and kernel:
                group.seeds.extend(gc.get_referents(*kernel))
        self._groups = groups
        resources = self._resources
        self._classifier = Classifier(
            ignore=(*engines.walker_types(), Scan, Classifier, PathSearch),
            noted=(lambda tp: resources.kind(tp) is not None) if resources is not None else None,
        )
        self._objects = self._object_expanders(frames)
        targets = {id(c): c for c, _v in self._edges}
        objects: list[tuple[Any, Expander]] = [
            (targets[i], e) for i, e in self._objects.items() if i in targets
        ]
        objects.extend((f, live_frame_expander) for f, _loc in frames.user)
        self._user_frames = {id(f) for f, _loc in frames.user}
        walls: list[Any] = immortals()
        walls.extend(frames.walls)
        # The scan's own state: its references count, it is never walked.
        walls.extend((self, self._roots, *self._roots, self._odd, *self._odd))
        walls.extend((self._groups, *self._groups, self._edges, *self._edges))
        walls.extend(values for _c, values in self._edges)
        walls.extend((self._containers, self._objects, self._targets))
        frames = None
        del targets
        self._walls_ids = {id(w) for w in walls}
        self._walls_ids.discard(id(walls))
        self._spec = WalkSpec(
            groups=[g.seeds for g in groups],
            stops=stops,
            walls=walls,
            classify=self._classifier.classify,
            objects=objects,
            late_walls=self._classifier.own_containers,
        )
        self._walker = engines.new_walker(self._spec, self._engine_name)

    # ------------------------------------------------------------------ holders

    def _group_split(self, labels: tuple[int, ...]) -> tuple[list[int], list[int]]:
        """``(user groups, other groups)``: user groups come first in the group
        list, so the split is a bisection of the sorted label."""
        cut = bisect_left(labels, self._n_user)
        return list(labels[:cut]), list(labels[cut:])

    def _other(self, g: int) -> dict[str, Any]:
        """An ``also_held_by`` entry for non-user group ``g``."""
        if g >= len(self._groups):
            return {"kind": KIND_EXTERNAL, "name": OUTSIDE_NAME, "path": None}
        group = self._groups[g]
        kind = KIND_KERNEL if group.kind == KIND_KERNEL else KIND_LIBRARY
        return {"kind": kind, "name": group.name, "path": None}

    def _root_of(self, index: int) -> tuple[str, str, str, Any]:
        """``(label, kind, path, object)`` of user root ``index`` (odd keys after the roots)."""
        if index < len(self._roots):
            r = self._roots[index]
            return r.label, r.kind, r.path, r.obj
        label, _key, value = self._odd[index - len(self._roots)]
        return label, "variable", label, value

    def _attribute_begin(self) -> None:
        assert self._walker is not None  # noqa: S101
        self._res = self._walker.result()
        self._lids = list(self._res.labels)
        self._attr_i = 0

    def _attribute_step(self, end: float) -> bool:
        """Labels into holders: one per set of user roots and whether anyone else
        holds the bytes. The labels a set of user roots shares with different
        library groups (a type, a function, a string constant each reaches)
        are one holder, "also held by" all of them, not hundreds of tiny ones."""
        res = self._res
        table = res.labels
        lids = self._lids
        merged = self._merged
        i = self._attr_i
        while i < len(lids):
            stop = min(len(lids), i + _ATTRIBUTE_CHUNK)
            for lid in lids[i:stop]:
                nbytes, count = res.totals.get(lid, (0, 0))
                if not 0 <= table.first(lid) < self._n_user:  # no user root: held elsewhere
                    self._elsewhere.append((nbytes, count, lid))
                    self._elsewhere_total[0] += nbytes
                    self._elsewhere_total[1] += count
                    continue
                user, others = self._group_split(table[lid])
                key = (tuple(user), not others)
                acc = merged.get(key)
                if acc is None:
                    acc = merged[key] = _Merged()
                acc.add(lid, nbytes, count, res.by_type.get(lid, {}), others)
            i = stop
            if self._clock() >= end:
                self._attr_i = i
                return False
        self._attribute_end()
        return True

    def _holder(self, user: tuple[int, ...], acc: _Merged) -> tuple[dict[str, Any], int, int]:
        """``(holder, index of its first root, its host bytes)``."""
        res = self._res
        indices = sorted(i for g in user for i in self._groups[g].roots)
        roots: list[tuple[str, str, str, Any]] = []
        seen: set[str] = set()
        for i in indices:
            root = self._root_of(i)
            if root[0] not in seen:  # `_` named by the namespace and by the display hook
                seen.add(root[0])
                roots.append(root)
        names = res.type_names
        rows = sorted(((b, c, t) for t, (b, c) in acc.by_type.items()), reverse=True)
        device: dict[str, int] = {}
        for b, _c, t in rows:
            name = names[t]
            if name.startswith("torch storage (") and name.endswith(")"):
                device[name[len("torch storage (") : -1]] = device.get(name, 0) + b
        first = roots[0]
        # Largest share first; among groups that reach the same bytes (every library
        # that keeps a logger reaches logging's whole manager), the package whose
        # types those bytes are comes first: `logging` for LogRecords.
        owners = {names[t].partition(".")[0] for _b, _c, t in rows}
        others = sorted(
            acc.others,
            key=lambda g: (-acc.others[g], self._other(g)["name"] not in owners, g),
        )[:ALSO_HELD_BY_TOP]
        holder: dict[str, Any] = {
            "id": "",
            "labels": [r[0] for r in roots],
            "kind": first[1] if first[1] in HOLDER_KINDS else HOLDER_KINDS[0],
            "roots": [{"label": r[0], "kind": r[1]} for r in roots],
            "type": type_name(type(first[3])),
            "retained_bytes": acc.bytes,
            "objects": acc.count,
            "path": first[2],
            "cell_id": None,
            "execution_count": None,
            "composition": [
                {"type": names[t], "bytes": b, "count": c} for b, c, t in rows[:COMPOSITION_TOP]
            ],
            "shared": len(roots) > 1,
            "device": max(device.items(), key=lambda kv: kv[1])[0] if device else None,
            "file_backed": any(names[t] == "mmap pages (file)" for _b, _c, t in rows),
            "also_held_by": [self._other(g) for g in others],
            "freeable": not others,
        }
        return holder, indices[0], acc.bytes - sum(device.values())

    def _attribute_end(self) -> None:
        res = self._res
        built = []
        for (user, _free), acc in self._merged.items():
            holder, first, host = self._holder(user, acc)
            top = res.top.get(acc.largest_lid)
            built.append((holder, first, host, user, acc, top[0][2] if top else None))
        self._merged.clear()
        built.sort(key=lambda h: (-h[0]["retained_bytes"], h[1]))
        self._attributed = sum(h[2] for h in built)
        self._freeable = sum(h[0]["retained_bytes"] for h in built if h[0]["freeable"])
        kept = built[: self._max_holders]
        self._holders = [h[0] for h in kept]
        # The rest in brief (1.3): a front end then finds any holder by name.
        self._holders_total = len(built)
        self._holder_index = [
            {
                "labels": h[0]["labels"],
                "type": h[0]["type"],
                "retained_bytes": h[0]["retained_bytes"],
                "objects": h[0]["objects"],
            }
            for h in built[self._max_holders : self._max_holders + MAX_HOLDER_INDEX]
        ]
        for rank, (holder, _first, _host, user, acc, target) in enumerate(kept, 1):
            holder["id"] = f"h{rank}"
            root_obj = self._root_of(self._groups[user[0]].roots[0])[3]
            if target is None or target is root_obj or holder["retained_bytes"] < PATH_MIN_BYTES:
                continue
            labels = res.labels[acc.largest_lid]
            if rank <= PATHS_MAX:
                self._add_user_path(holder, user[0], target, frozenset(labels))
            if not holder["freeable"] and rank <= LIBRARY_PATHS_MAX:
                self._add_library_paths(holder, labels, target)
        built.clear()
        self._elsewhere.sort(reverse=True)
        self._elsewhere_out = [
            {
                "held_by": sorted(
                    {self._other(g)["name"] for g in self._group_split(res.labels[lid])[1]}
                ),
                "bytes": b,
                "objects": c,
            }
            for b, c, lid in self._elsewhere[:HELD_ELSEWHERE_TOP]
        ]
        self._elsewhere.clear()
        self._outside = [
            {"type": type_name(type(o)), "bytes": size, "references": d}
            for o, d, size, _l in res.outside[:OUTSIDE_TOP]
        ]
        self._stats = dict(res.stats)
        self._labels = res.labels
        res.clear()  # its strong references to the largest objects
        self._res = None

    # ------------------------------------------------------------------ why-alive paths

    def _add_user_path(
        self, holder: dict[str, Any], g: int, target: Any, within: frozenset[int]
    ) -> None:
        group = self._groups[g]
        _label, _kind, path, obj = self._root_of(group.roots[0])

        def allowed(child: Any) -> bool:
            return self._allowed(child, lambda groups: g in groups and within.issuperset(groups))

        self._targets.append((holder, -1, obj, target, path, allowed))

    def _add_library_paths(
        self, holder: dict[str, Any], labels: tuple[int, ...], target: Any
    ) -> None:
        """Paths from the library side, for the groups of ``also_held_by`` that
        reach ``target``."""
        _user, others = self._group_split(labels)
        shell = shell_of(self._user_ns) if self._user_ns is not None else None
        names = [entry["name"] for entry in holder["also_held_by"]]
        for g in others:
            if g >= len(self._groups) or self._groups[g].name not in names:
                continue
            pos = names.index(self._groups[g].name)
            group = self._groups[g]
            if group.kind == KIND_KERNEL:
                start, start_path = shell, "get_ipython()"
            elif group.kind == KIND_INTERPRETER:
                start, start_path = sys, "sys"
            else:
                start, start_path = group.module, group.module_name
            if start is None:
                continue

            def allowed(child: Any, g: int = g) -> bool:
                return self._allowed(child, lambda groups: g in groups)

            self._lib_targets.append((holder, pos, start, target, start_path, allowed))

    def _allowed(self, child: Any, test: Callable[[tuple[int, ...]], bool]) -> bool:
        """Whether a path may pass through ``child``: not a wall, and (for a
        table node) its label passes ``test``; an inline object has one
        referrer, the object being expanded, so it is always allowed."""
        if id(child) in self._user_frames:
            return True  # a user thread's caller frame: its locals are the thread's
        if id(child) in self._walls_ids:
            return False
        assert self._walker is not None  # noqa: S101
        lid = self._walker.label_of(child)
        if lid is None:
            return True
        labels = self._labels
        return labels is not None and lid in labels and test(labels[lid])

    def _info(self, tp: type) -> TypeInfo:
        info = self._infos.get(id(tp))
        if info is None:
            assert self._classifier is not None  # noqa: S101
            info = self._infos[id(tp)] = self._classifier.classify(tp)
        return info

    def _children(self, obj: Any) -> list[Any]:  # noqa: PLR0911 - one answer per kind of object
        """``obj``'s references as the walk follows them."""
        if id(obj) in self._user_frames:  # a user thread's executing frame: its locals
            loc = frame_locals(obj)
            back = frame_back(obj)
            return [*(dict.values(loc) if type(loc) is dict else ()), *([back] if back else [])]
        if id(obj) in self._walls_ids:
            return []
        expander = self._objects.get(id(obj))
        info = self._info(type(obj))
        if expander is None and info.mode == M_STOP:  # a module: its namespace (path starts)
            ns = module_dict(obj)
            return [ns] if ns is not None else []
        if expander is None:
            if info.mode in (M_LEAF, M_IGNORE, M_STOP):
                return []
            if info.mode == M_DICT and type(obj) is dict:
                return [*dict.keys(obj), *dict.values(obj)]
            if info.mode != M_EXPAND or info.expander is None:
                return referents(obj)[0]
            expander = info.expander
        try:
            follow = expander(obj)[0]
        except Exception:
            return []
        return _materialise(follow)

    def _paths_begin(self) -> None:
        self._paths_s = 0.0

    def _path_work(self, end: float) -> bool:
        """The user paths (largest holders first), then the library paths, each of
        those within LIBRARY_PATH_S, all within the paths budget."""
        clock = self._clock
        while True:
            spent = self._work_s + self._phase_s.get("paths", 0.0)
            if (
                self._stop is not None
                or self._paths_s >= self._paths_budget
                or spent >= self._budget * PATHS_SHARE
            ):
                self._close_search()
                self._targets.clear()
                self._lib_targets.clear()
                return True  # the rest keep their root's path
            if self._search is None:
                queue = self._targets or self._lib_targets
                if not queue:
                    return True
                holder, pos, start, target, path, allowed = queue.pop(0)
                self._search = PathSearch(
                    start, path, target, children=self._children, allowed=allowed, clock=clock
                )
                self._search_for = (holder, pos)
                self._search_s = 0.0
                start = target = None
            t0 = clock()
            done = self._search.step(end)
            took = clock() - t0
            self._paths_s += took
            self._search_s += took
            where = self._search_for
            if done:
                self._store_path()
            elif where is not None and where[1] >= 0 and self._search_s >= LIBRARY_PATH_S:
                self._close_search()  # a library path not found quickly: none
            if clock() >= end:
                return False

    def _store_path(self) -> None:
        search, self._search = self._search, None
        where, self._search_for = self._search_for, None
        if search is None or where is None or search.path is None:
            return
        holder, pos = where
        if holder is None:
            return
        if pos < 0:
            holder["path"] = search.path
        elif pos < len(holder["also_held_by"]):
            holder["also_held_by"][pos]["path"] = search.path

    def _close_search(self) -> None:
        if self._search is not None:
            self._search.close()
        self._search = None
        self._search_for = None

    # ------------------------------------------------------------------ resources

    def _collect_resources(self) -> None:
        hook = self._resources
        if hook is None or self._classifier is None or self._walker is None:
            return
        noted: list[tuple[Any, list[tuple[str, str]]]] = []
        for obj in self._classifier.noted:
            lid = self._walker.label_of(obj)
            if lid is None or self._labels is None or lid not in self._labels:
                continue
            user, _others = self._group_split(self._labels[lid])
            held = [self._root_of(i)[:2] for g in user for i in sorted(self._groups[g].roots)]
            if held:  # only what the user's roots hold: the kernel's own are not resources
                noted.append((obj, held))
        obj = None
        spent = [0.0]
        try:
            self._resource_entries = hook.collect(noted, lambda o: self._resource_path(o, spent))
        except Exception:  # resources are an extra: the holders still go out
            _log.debug("collecting resources failed", exc_info=True)
            self._resource_entries = []
        noted.clear()

    def _resource_path(self, obj: Any, spent: list[float]) -> str | None:
        """Pasteable Python from the first root holding ``obj`` to it (bounded)."""
        if self._walker is None or self._labels is None or spent[0] >= RESOURCE_PATHS_S:
            return None
        lid = self._walker.label_of(obj)
        if lid is None or lid not in self._labels:
            return None
        labels = self._labels[lid]
        user, _others = self._group_split(labels)
        if not user:
            return None
        g = user[0]
        _label, _kind, path, root = self._root_of(self._groups[g].roots[0])
        if root is obj:
            return path
        within = frozenset(labels)
        search = PathSearch(
            root,
            path,
            obj,
            children=self._children,
            allowed=lambda c: self._allowed(c, lambda gs: g in gs and within.issuperset(gs)),
            clock=self._clock,
        )
        t0 = self._clock()
        with contextlib.suppress(Exception):
            while not search.step(t0 + RESOURCE_PATH_S):
                if self._clock() >= t0 + RESOURCE_PATH_S:
                    break
        spent[0] += self._clock() - t0
        found = search.path
        search.close()
        return found

    # ------------------------------------------------------------------ finish

    def _finish(self) -> None:
        stats = self._stats
        if not stats and self._walker is not None:
            stats = {"objects": self._walker.objects}
        self._close_search()
        result: dict[str, Any] = {
            "scan": {
                "duration_s": round(self._work_s, 6),
                "objects_visited": int(stats.get("objects", 0)),
                "complete": self._stop is None,
                "stopped": self._stop,
                "engine": self._engine_name,
                "phases": {k: round(v, 6) for k, v in self._phase_s.items()},
                "walk": {k: v for k, v in stats.items() if k != "phase_s"},
            },
            "attributed_bytes": getattr(self, "_attributed", 0) if self._holders else 0,
            "freeable_bytes": getattr(self, "_freeable", 0) if self._holders else 0,
            "holders": self._holders,
            "holders_total": getattr(self, "_holders_total", len(self._holders)),
            "holder_index": getattr(self, "_holder_index", []),
            "held_elsewhere": getattr(self, "_elsewhere_out", []),
            "held_elsewhere_total": {
                "bytes": self._elsewhere_total[0],
                "objects": self._elsewhere_total[1],
            },
            "outside": self._outside,
        }
        if self._resources is not None:
            result["resources"] = self._resource_entries or []
        self._result = result
        self._finished = True
        self._release()

    def _release(self) -> None:
        """Drop every reference to user objects; containers emptied in place."""
        self._close_search()
        if self._walker is not None:
            self._walker.release()
        self._walker = None
        if self._res is not None:
            self._res.clear()
        self._res = None
        spec = self._spec
        if spec is not None:
            # Emptied in place: anything else still pointing at one of these
            # lists (a frame, a caller's local) must not keep its contents alive.
            for seeds in spec.groups:
                seeds.clear()
            for container in (spec.groups, spec.stops, spec.walls, spec.objects):
                container.clear()
        self._spec = spec = None
        if self._classifier is not None:
            self._classifier.noted.clear()
        self._classifier = None
        self._infos.clear()
        self._objects.clear()
        self._roots.clear()
        self._containers.clear()
        self._edges.clear()
        self._odd.clear()
        for g in self._groups:
            g.seeds.clear()
            g.module = None
        self._groups.clear()
        self._targets.clear()
        self._lib_targets.clear()
        self._merged.clear()
        self._labels = None
        self._user_ns = None


class _Merged:
    """The labels of one holder: one set of user roots, held elsewhere or not."""

    __slots__ = ("by_type", "bytes", "count", "largest", "largest_lid", "others")

    def __init__(self) -> None:
        self.bytes = 0
        self.count = 0
        self.by_type: dict[int, list[int]] = {}
        #: Non-user group -> the bytes it also reaches (for the order of also_held_by).
        self.others: dict[int, int] = {}
        self.largest = -1
        self.largest_lid = -1

    def add(
        self,
        lid: int,
        nbytes: int,
        count: int,
        by_type: dict[int, tuple[int, int]],
        others: list[int],
    ) -> None:
        self.bytes += nbytes
        self.count += count
        for t, (b, c) in by_type.items():
            row = self.by_type.get(t)
            if row is None:
                self.by_type[t] = [b, c]
            else:
                row[0] += b
                row[1] += c
        for g in others:
            self.others[g] = self.others.get(g, 0) + nbytes
        if nbytes > self.largest:
            self.largest = nbytes
            self.largest_lid = lid


def scan_now(roots: list[Root], **kw: Any) -> dict[str, Any]:
    """Run a :class:`Scan` to the end in one go and return its result."""
    scan = Scan(roots, **kw)
    while not scan.step(0.25):
        pass
    return scan.result()


__all__ = [
    "PATHS_BUDGET_S",
    "WALK_SHARE",
    "ResourceHook",
    "Scan",
    "scan_now",
]
