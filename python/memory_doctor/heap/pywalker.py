"""The pure-Python engine: the reference for ``_walker.c`` (identical results).

Phases, each resumable in bounded steps (``step(deadline)``):

``setup``     walls, stops and seeds enter the node table.
``walk``      one traversal from every seed. A reference to an object whose
              reference count says "only this one" (the referrer is its only
              holder) is handled inline: the object is sized and counted for
              the referrer's *owner* (the nearest table node above it), per
              type, and never enters the table. Anything else becomes a node;
              edges ``owner -> node`` are recorded (consecutive duplicates
              dropped) and every reference to a node is counted.
``count``     references held by stops, walls and count-only edges are counted.
``check``     a node whose reference count exceeds the references found plus
              our own is held from outside Python: it seeds the outside root.
``scc``       iterative Tarjan over the node graph; components come out in
              reverse topological order.
``propagate`` in topological order, a component's label is the union of its
              own root groups and its predecessors' labels (interned sets,
              unions memoised).
``account``   bytes, objects, per-type breakdown and largest objects per label.

See README.md for why handling single-referenced objects inline is exact.
"""

from __future__ import annotations

import gc
import sys
import time
from array import array
from itertools import accumulate, chain, islice
from typing import Any, Final

from .introspect import TPFLAGS_HEAPTYPE, TPFLAGS_TYPE_SUBCLASS, type_flags
from .layout import is_interned, object_size
from .model import (
    CHUNK,
    M_DICT,
    M_EXPAND,
    M_IGNORE,
    M_LEAF,
    M_SEQ,
    M_SET,
    M_STOP,
    M_TRAVERSE,
    TypeInfo,
    WalkResult,
    WalkSpec,
    materialise,
    spec_containers,
)

F_WALL: Final = 1
F_STOP: Final = 2
F_UNREACHED: Final = 4
F_SEED: Final = 8
F_OUTSIDE: Final = 16

NONE: Final = 0xFFFFFFFF
BATCH: Final = 1024
#: Work item: a long list returned by an expander, walked in chunks.
_LIST: Final = 100
#: Work item: an expander's ``more(pos) -> (list, next_pos)`` source, one chunk at a time.
_MORE: Final = 101
#: Work item: the references of one huge ``tp_traverse``, handled in chunks.
_KIDS: Final = 102
#: References from one traversal beyond this many are handled in chunks.
KIDS_CHUNK: Final = 4 * CHUNK
_OUTSIDE_CAP: Final = 1000
_IMMORTAL: Final = 1 << 28

_getrefcount = sys.getrefcount
_get_referents = gc.get_referents
_FALLBACK = TypeInfo(M_LEAF, 3, None, 0, 0, 0, 0, None, True, "?")

PHASES: Final = ("setup", "walk", "count", "check", "scc", "propagate", "account", "result", "done")


def _calibrate() -> tuple[int, int]:
    """``(single, check)``: what ``getrefcount`` reports, in the two places it is
    read, for an object whose only other reference is the one being examined."""
    parent = [object()]
    kids = _get_referents(parent)
    single = next(map(_getrefcount, kids))
    objs = [object()]
    extra = 0
    for i in range(1):
        o = objs[i]
        extra = _getrefcount(o) - 1
        o = None
    return single, extra


_SINGLE, _CHECK_EXTRA = _calibrate()


def _exempt(o: Any) -> bool:
    """Objects whose unexplained references are the interpreter's own."""
    tp = type(o)
    if tp is str:
        return is_interned(o)
    if type_flags(tp) & TPFLAGS_TYPE_SUBCLASS:
        return not type_flags(o) & TPFLAGS_HEAPTYPE  # static types: held by C
    return False


class PyWalker:
    """One walk over ``spec`` (see :class:`~memory_doctor.heap.model.WalkSpec`)."""

    engine = "python"

    def __init__(self, spec: WalkSpec) -> None:  # noqa: PLR0915 - the state, in one place
        self._spec: WalkSpec | None = spec
        self.phase: str = "setup"
        self._busy = False
        self._release_pending = False
        self._phase_s: dict[str, float] = {}
        self._n_groups = len(spec.groups)
        self._outside_group = self._n_groups
        # Node table.
        self._tab: dict[int, int] = {}
        self._objs: list[Any] = []
        self._found: list[int] = []
        self._size: list[int] = []
        self._tix: list[int] = []
        self._last: list[int] = []
        self._flags = bytearray()
        self._esrc = array("I")
        self._edst = array("I")
        self._seedpairs: list[tuple[int, int]] = []
        # Types (and pseudo kinds, in the same index space).
        self._tix_of: dict[int, int] = {}
        self._types: list[Any] = []
        self._infos: list[TypeInfo] = []
        self._names: list[str] = []
        self._kinds: dict[str, int] = {}
        self._pseudo: dict[Any, int] = {}
        self._obj_exp: dict[int, int] = {id(pair[0]): i for i, pair in enumerate(spec.objects)}
        #: Whether a type is a heap type (its instances visit it in tp_traverse).
        self._heap_types: dict[int, bool] = {}
        # Inline objects: (owner, tix) -> [bytes, count, best size, best address, best obj].
        self._inl: dict[tuple[int, int], list[Any]] = {}
        # Work.
        self._pend: dict[tuple[int, int], list[Any]] = {}
        self._solo: list[tuple[Any, ...]] = []
        self._deferred: list[Any] = []
        self._setup_i = 0
        self._setup_items: list[tuple[int, Any]] = []
        #: Count phase: 0 = late walls, 1 = walls and stops by index, 2 = deferred refs.
        self._count_stage = 0
        self._count_i = 0
        self._late: list[Any] = []
        self._check_i = 0
        self._outside: list[tuple[int, int]] = []
        self.objects = 0
        # SCC / labels.
        self._csr: dict[str, Any] = {}
        self._off: array[int] | None = None
        self._tgt: array[int] | None = None
        self._index: array[int] | None = None
        self._low: array[int] | None = None
        self._comp: array[int] | None = None
        self._order = array("I")
        self._cstart = array("I")
        self._scc_v = 0
        self._scc_counter = 0
        self._tstack: list[int] = []
        self._call: list[list[int]] = []
        self._labels: list[tuple[int, ...]] = [()]
        self._label_of: dict[tuple[int, ...], int] = {(): 0}
        self._umemo: dict[tuple[int, int], int] = {}
        self._clab: list[int] = []
        self._prop_c = -1
        #: Propagate: own labels from the seeds (stage 0), the outside root (1), then the graph.
        self._prop_stage = 0
        self._prop_i = 0
        self._acc_i = 0
        self._acc_inl: Any = None  # an iterator over the inline table (not mutated meanwhile)
        self._res_stage = 0
        self._res_i = 0
        self._res_lids: list[int] = []
        self._res_raw: dict[str, Any] = {}
        self._res_nodes = 0
        self._res_real = 0
        self._totals: dict[int, list[int]] = {}
        self._bytype: dict[int, dict[int, list[int]]] = {}
        self._cands: dict[int, list[tuple[int, int, int, Any]]] = {}
        self._result: WalkResult | None = None

    # ------------------------------------------------------------------ driving

    def step(self, deadline: float) -> bool:
        """Work until ``deadline`` (``time.perf_counter()``); True once done."""
        if self._busy:
            raise RuntimeError("the walker is already stepping")
        self._busy = True
        try:
            return self._steps(deadline)
        finally:
            self._busy = False
            if self._release_pending:
                self._release_pending = False
                self.release()

    def _steps(self, deadline: float) -> bool:
        clock = time.perf_counter
        while self.phase != "done":
            t0 = clock()
            finished = getattr(self, "_phase_" + self.phase)(deadline)
            self._phase_s[self.phase] = self._phase_s.get(self.phase, 0.0) + clock() - t0
            if finished:
                self.phase = PHASES[PHASES.index(self.phase) + 1]
            elif clock() >= deadline:
                return False
        return True

    def truncate(self) -> None:
        """Stop discovering: drop pending work and go on with what was found (the
        later phases label and size it; objects not reached yet are left out)."""
        if self._busy:
            raise RuntimeError("truncate() while the walker is stepping")
        if self.phase in ("setup", "walk"):
            self._pend.clear()
            self._solo.clear()
            self._setup_items = []
            self.phase = "count"

    def result(self) -> WalkResult:
        """The labels and figures (only once :meth:`step` returned True)."""
        if self._result is None:
            raise RuntimeError("the walk has not finished")
        return self._result

    def label_of(self, obj: Any) -> int | None:
        """The label id of a table node (None for inline objects and walls)."""
        if self._busy or self.phase != "done":
            return None
        idx = self._tab.get(id(obj))
        if idx is None or self._comp is None or self._flags[idx] & (F_WALL | F_UNREACHED):
            return None
        c = self._comp[idx]
        return self._clab[c] if 0 <= c < len(self._clab) else None

    def release(self) -> None:
        """Drop every reference (idempotent); the result keeps its own until cleared.
        Called during a step (from another thread), it waits for the step's end."""
        if self._busy:
            self._release_pending = True
            return
        self._spec = None
        for seq in (
            self._objs,
            self._types,
            self._infos,
            self._solo,
            self._deferred,
            self._setup_items,
        ):
            seq.clear()
        for mapping in (
            self._tab,
            self._pend,
            self._inl,
            self._obj_exp,
            self._pseudo,
            self._tix_of,
            self._cands,
            self._heap_types,
        ):
            mapping.clear()
        self._late.clear()
        self._acc_inl = None
        self._res_raw = {}
        self._result = None
        self._call.clear()
        self._tstack.clear()

    # ------------------------------------------------------------------ types and nodes

    def _type_index(self, tp: type) -> int:
        tix = self._tix_of.get(id(tp))
        if tix is not None:
            return tix
        spec = self._spec
        info = _FALLBACK
        if spec is not None:
            try:
                got = spec.classify(tp)
                if isinstance(got, tuple) and len(got) == 10:
                    info = got if isinstance(got, TypeInfo) else TypeInfo(*got)
            except Exception:  # a type we cannot read: counted as 0 bytes, not entered
                info = _FALLBACK
        tix = len(self._names)
        self._tix_of[id(tp)] = tix
        self._types.append(tp)
        self._infos.append(info)
        self._names.append(info.name if info is not _FALLBACK else _type_label(tp))
        return tix

    def _kind_index(self, kind: str) -> int:
        tix = self._kinds.get(kind)
        if tix is None:
            tix = self._kinds[kind] = len(self._names)
            self._types.append(None)
            self._infos.append(_FALLBACK)
            self._names.append(kind)
        return tix

    _sizeof = staticmethod(object_size)

    def _new_node(self, o: Any, flags: int) -> int:
        idx = len(self._objs)
        self._tab[id(o)] = idx
        self._objs.append(o)
        self._found.append(0)
        self._size.append(0)
        self._tix.append(0)
        self._last.append(NONE)
        self._flags.append(flags)
        return idx

    def _materialise(self, idx: int, o: Any) -> int:
        """Size a node and give it its type; returns its walk mode."""
        tix = self._type_index(type(o))
        info = self._infos[tix]
        self._tix[idx] = tix
        self._size[idx] = self._sizeof(o, info)
        self.objects += 1
        return info.mode

    def _push(  # noqa: PLR0912 - one branch per walk mode
        self, o: Any, owner: int, mode: int, info: TypeInfo | None, node: bool
    ) -> None:
        if node:
            oi = self._obj_exp.get(id(o))
            if oi is not None and self._spec is not None:
                self._solo.append((M_EXPAND, owner, o, self._spec.objects[oi][1]))
                return
        if mode == M_TRAVERSE:
            self._pend.setdefault((owner, M_TRAVERSE), []).append(o)
        elif mode == M_SEQ:
            if len(o) > CHUNK:
                self._solo.append((M_SEQ, owner, o, 0))
            else:
                self._pend.setdefault((owner, M_TRAVERSE), []).append(o)
        elif mode == M_SET:
            if len(o) > CHUNK:
                self._solo.append((M_SET, owner, o, iter(o)))
            else:
                self._pend.setdefault((owner, M_TRAVERSE), []).append(o)
        elif mode == M_DICT:
            if type(o) is not dict:
                self._solo.append((-M_DICT, owner, o))
            elif len(o) > CHUNK:
                self._solo.append((M_DICT, owner, o, iter(dict.keys(o)), iter(dict.values(o))))
            else:
                self._pend.setdefault((owner, M_DICT), []).append(o)
        elif mode == M_EXPAND and info is not None and info.expander is not None:
            self._solo.append((M_EXPAND, owner, o, info.expander))

    # ------------------------------------------------------------------ setup

    def _phase_setup(self, deadline: float) -> bool:
        """Walls and stops enter the table at once (a few thousand), then the
        seeds, in chunks (as the native engine does)."""
        spec = self._spec
        assert spec is not None  # noqa: S101 - set until release
        if not self._setup_items:
            for w in (*spec_containers(spec), *spec.walls):
                if id(w) not in self._tab:
                    self._new_node(w, F_WALL)
            for st in spec.stops:
                if id(st) not in self._tab:
                    self._new_node(st, F_STOP | F_UNREACHED)
            self._setup_items = [(g, o) for g, seeds in enumerate(spec.groups) for o in seeds]
            self._setup_i = 0
        items = self._setup_items
        clock = time.perf_counter
        i = self._setup_i
        while i < len(items):
            g, o = items[i]
            i += 1
            self._seed(o, g)
            if not i & 255 and clock() >= deadline:
                self._setup_i = i
                o = None
                return False
        o = None
        self._setup_items = []
        return True

    def _seed(self, o: Any, g: int) -> None:
        idx = self._tab.get(id(o))
        if idx is None:
            idx = self._new_node(o, F_SEED)
            mode = self._materialise(idx, o)
            if mode == M_STOP:
                self._flags[idx] |= F_STOP
            elif mode not in (M_LEAF, M_IGNORE):
                self._push(o, idx, mode, self._infos[self._tix[idx]], True)
        else:
            fl = self._flags[idx]
            if fl & F_WALL:
                return
            if fl & F_UNREACHED:
                self._flags[idx] = fl & ~F_UNREACHED
                self._materialise(idx, o)
            self._flags[idx] |= F_SEED
        self._seedpairs.append((idx, g))

    # ------------------------------------------------------------------ walk

    def _phase_walk(self, deadline: float) -> bool:
        clock = time.perf_counter
        pend = self._pend
        solo = self._solo
        while True:
            if solo:
                self._solo_item(solo.pop())
            elif pend:
                key, lst = pend.popitem()
                if len(lst) > BATCH:
                    batch = lst[-BATCH:]
                    del lst[-BATCH:]
                    pend[key] = lst
                else:
                    batch = lst
                lst = []
                owner, kind = key
                classes = None
                if kind == M_DICT:
                    kids = list(chain.from_iterable(map(dict.keys, batch)))
                    kids.extend(chain.from_iterable(map(dict.values, batch)))
                else:
                    kids = _get_referents(*batch)
                    classes = self._classes(batch)
                batch = []
                self._children(kids, owner, _SINGLE, classes)
                kids = []
            else:
                return True
            if clock() >= deadline:
                return False

    def _solo_item(self, item: tuple[Any, ...]) -> None:  # noqa: PLR0912, PLR0915 - hot loop, one frame
        kind = item[0]
        owner = item[1]
        o = item[2]
        if kind == M_SEQ:
            pos = item[3]
            kids = list(o[pos : pos + CHUNK])
            if pos + CHUNK < len(o):
                self._solo.append((M_SEQ, owner, o, pos + CHUNK))
            item = ()
            self._children(kids, owner, _SINGLE)
        elif kind == M_SET:
            it = item[3]
            try:
                kids = list(islice(it, CHUNK))
            except RuntimeError:  # changed size between steps: approximate
                kids = []
            if len(kids) == CHUNK:
                self._solo.append(item)
            item = ()
            self._children(kids, owner, _SINGLE)
        elif kind == M_DICT:
            kit, vit = item[3], item[4]
            try:
                kids = list(islice(kit, CHUNK))
                kids.extend(islice(vit, len(kids)))
            except RuntimeError:
                kids = []
            if len(kids) == 2 * CHUNK:
                self._solo.append(item)
            item = ()
            self._children(kids, owner, _SINGLE)
        elif kind == -M_DICT:
            item = ()
            self._children(_dict_sub_refs(o), owner, _SINGLE, self._classes([o]))
        elif kind == M_EXPAND:
            exp = item[3]
            item = ()
            follow, count_only, pseudo = _expand(exp, o)
            o = None
            if count_only:
                self._deferred.extend(count_only)
            count_only = None
            if pseudo:
                self._pseudo_nodes(pseudo, owner)
            if callable(follow):
                self._solo.append((_MORE, owner, follow, 0))
            elif follow:
                if len(follow) > CHUNK:
                    self._solo.append((_LIST, owner, follow, 0, None))
                else:
                    self._children(follow, owner, _SINGLE)
        elif kind in (_LIST, _KIDS):
            # The list stays alive between chunks: one more reference.
            pos = item[3]
            classes = item[4] if kind == _KIDS else None
            kids = o[pos : pos + CHUNK]
            if pos + CHUNK < len(o):
                self._solo.append((kind, owner, o, pos + CHUNK, classes))
            item = ()
            self._children(kids, owner, _SINGLE + 1, classes)  # ``o`` keeps the list alive
        elif kind == _MORE:
            pos = item[3]
            item = ()
            chunk, nxt = _more_chunk(o, pos)
            if chunk is not None and nxt > pos:
                self._solo.append((_MORE, owner, o, nxt))
            o = None
            if chunk:
                kids = chunk
                chunk = None
                # Like an expander's list: one reference per item from the chunk's list.
                self._children(kids, owner, _SINGLE)

    def _pseudo_nodes(self, pseudo: list[Any], owner: int) -> None:
        for entry in pseudo:
            try:
                key, nbytes, kind = entry
                nbytes = int(nbytes)
                kind = str(kind)
                idx = self._pseudo.get(key)
            except Exception:  # noqa: S112 - a malformed entry from an expander
                continue
            if idx is None:
                idx = self._pseudo[key] = len(self._objs)  # not in the address table
                self._objs.append(None)
                self._found.append(0)
                self._size.append(0)
                self._tix.append(0)
                self._last.append(NONE)
                self._flags.append(0)
                self._tix[idx] = self._kind_index(kind)
                self._size[idx] = max(nbytes, 0)
            elif nbytes > self._size[idx]:
                self._size[idx] = nbytes
            if idx != owner and self._last[idx] != owner:
                self._esrc.append(owner)
                self._edst.append(idx)
                self._last[idx] = owner

    def _classes(self, batch: list[Any]) -> dict[int, int] | None:
        """``{id(class): n}``: the classes of the heap-type instances in ``batch``,
        each visited by its instances' ``tp_traverse`` (see :meth:`_class_ref`)."""
        heap = self._heap_types
        found: dict[int, int] | None = None
        for o in batch:
            tp = type(o)
            is_heap = heap.get(id(tp))
            if is_heap is None:
                # (tp is held in the type table: it was classified before its instance was queued)
                is_heap = heap[id(tp)] = bool(type_flags(tp) & TPFLAGS_HEAPTYPE)
            if is_heap:
                if found is None:
                    found = {}
                found[id(tp)] = found.get(id(tp), 0) + 1
        return found

    def _class_ref(self, k: Any) -> None:
        """An instance's reference to its class: counted, never an edge (a class
        is shared structure: followed from every instance, it would carry their
        labels into class-level state). A class met this way for the first time
        still becomes a node and is walked."""
        idx = self._tab.get(id(k))
        if idx is not None:
            fl = self._flags[idx]
            if fl & F_WALL:
                return
            if fl & F_UNREACHED:
                self._flags[idx] = fl & ~F_UNREACHED
                self._materialise(idx, k)
            self._found[idx] += 1
            return
        tix = self._type_index(type(k))
        info = self._infos[tix]
        mode = info.mode
        if mode == M_IGNORE:
            return
        idx = self._new_node(k, 0)
        self._tix[idx] = tix
        self._size[idx] = self._sizeof(k, info)
        self.objects += 1
        self._found[idx] = 1
        if mode == M_STOP:
            self._flags[idx] = F_STOP
        elif mode != M_LEAF:
            self._push(k, idx, mode, info, True)

    def _children(  # noqa: PLR0912, PLR0915 - hot loop, one frame
        self, kids: list[Any], owner: int, single: int, classes: dict[int, int] | None = None
    ) -> None:
        """Count, size and queue the references ``kids`` found under ``owner``;
        ``classes``: instances' references to their classes among them (by id,
        how many), counted only."""
        if not kids:
            return
        if len(kids) > KIDS_CHUNK and single == _SINGLE:
            # One huge traversal (a deque, a dict subclass of millions of items):
            # handled CHUNK at a time. Each chunk is a slice of ``kids``, which
            # holds one more reference to each item, as an expander's list does.
            self._solo.append((_KIDS, owner, kids, 0, classes))
            return
        rcs = list(map(_getrefcount, kids))
        tab = self._tab
        flags = self._flags
        found = self._found
        last = self._last
        infos = self._infos
        tix_of = self._tix_of
        inl = self._inl
        for k, rc in zip(kids, rcs):
            if classes and classes.get(id(k)):
                classes[id(k)] -= 1
                self._class_ref(k)
                continue
            # Every table entry holds a reference of ours: "single" means not in the table.
            idx = None if rc == single else tab.get(id(k))
            if idx is not None:
                fl = flags[idx]
                if fl & F_WALL:
                    continue
                if fl & F_UNREACHED:
                    flags[idx] = fl & ~F_UNREACHED
                    self._materialise(idx, k)
                found[idx] += 1
                if idx != owner and last[idx] != owner:
                    self._esrc.append(owner)
                    self._edst.append(idx)
                    last[idx] = owner
                continue
            tp = type(k)
            tix = tix_of.get(id(tp))
            if tix is None:
                tix = self._type_index(tp)
            info = infos[tix]
            mode = info.mode
            if mode == M_IGNORE:
                continue
            if rc == single and info.inline_ok and mode != M_STOP:
                size = self._sizeof(k, info)
                self.objects += 1
                acc = inl.get((owner, tix))
                if acc is None:
                    inl[(owner, tix)] = [size, 1, size, id(k), k]
                else:
                    acc[0] += size
                    acc[1] += 1
                    if size > acc[2] or (size == acc[2] and id(k) > acc[3]):
                        acc[2] = size
                        acc[3] = id(k)
                        acc[4] = k
                if mode != M_LEAF:
                    self._push(k, owner, mode, info, False)
                continue
            idx = self._new_node(k, 0)
            self._tix[idx] = tix
            self._size[idx] = self._sizeof(k, info)
            self.objects += 1
            found[idx] = 1
            self._esrc.append(owner)
            self._edst.append(idx)
            last[idx] = owner
            if mode == M_STOP:
                flags[idx] = F_STOP
            elif mode != M_LEAF:
                self._push(k, idx, mode, info, True)

    # ------------------------------------------------------------------ count

    def _phase_count(self, deadline: float) -> bool:
        """References held by late walls, walls and stops (reached or not), then
        the count-only edges: counted, never followed. Resumable by node index."""
        spec = self._spec
        clock = time.perf_counter
        if self._count_stage == 0:
            late: list[Any] = []
            if spec is not None and spec.late_walls is not None:
                try:
                    late = list(spec.late_walls())
                except Exception:
                    late = []
            self._late = late
            for o in late:
                if id(o) not in self._tab:
                    self._count_refs(self._refs_of(o))
            o = None
            self._count_stage = 1
            self._count_i = 0
        if self._count_stage == 1:
            objs = self._objs
            flags = self._flags
            i = self._count_i
            n = len(objs)
            while i < n:
                o = objs[i]
                fl = flags[i]
                i += 1
                if o is not None and fl & (F_WALL | F_STOP):  # a stop counts, reached or not
                    self._count_refs(self._refs_of(o))
                    o = None
                    if clock() >= deadline:
                        self._count_i = i
                        return False
                elif not i & 4095 and clock() >= deadline:
                    o = None
                    self._count_i = i
                    return False
            o = None
            self._count_stage = 2
        refs = self._deferred
        self._deferred = []
        self._count_refs(refs)
        return True

    def _count_refs(self, refs: list[Any]) -> None:
        tab = self._tab
        flags = self._flags
        found = self._found
        for idx in map(tab.get, map(id, refs)):
            if idx is not None and not flags[idx] & (F_WALL | F_UNREACHED):
                found[idx] += 1

    def _refs_of(self, o: Any) -> list[Any]:
        """Every reference ``o`` holds, as the walk would find them (count phase)."""
        oi = self._obj_exp.get(id(o))
        exp = self._spec.objects[oi][1] if oi is not None and self._spec is not None else None
        if exp is None:
            info = self._infos[self._type_index(type(o))]
            mode = info.mode
            if mode in (M_LEAF, M_IGNORE):
                return []
            if mode == M_DICT:
                if type(o) is dict:
                    kids = list(dict.keys(o))
                    kids.extend(dict.values(o))
                    return kids
                return _dict_sub_refs(o)
            if mode != M_EXPAND:
                return _get_referents(o)
            exp = info.expander
        follow, count_only, _pseudo = _expand(exp, o)
        out = materialise(follow)
        if count_only:
            out.extend(count_only)
        return out

    # ------------------------------------------------------------------ check

    def _phase_check(self, deadline: float) -> bool:
        spec = self._spec
        if spec is None or not spec.check_refs:
            return True
        objs = self._objs
        flags = self._flags
        found = self._found
        tix_of = self._tix_of
        clock = time.perf_counter
        i = self._check_i
        n = len(objs)
        while i < n:
            stop = min(n, i + 4096)
            for j in range(i, stop):
                o = objs[j]
                if o is None or flags[j] & (F_WALL | F_UNREACHED):
                    continue
                rc = _getrefcount(o) - _CHECK_EXTRA
                if rc >= _IMMORTAL:
                    continue
                own = 2 if id(o) in tix_of and self._types[tix_of[id(o)]] is o else 1
                deficit = rc - found[j] - own
                if deficit > 0 and not _exempt(o):
                    flags[j] |= F_OUTSIDE
                    self._outside.append((j, deficit))
            o = None
            i = stop
            if clock() >= deadline:
                self._check_i = i
                return False
        return True

    # ------------------------------------------------------------------ scc

    def _phase_scc(self, deadline: float) -> bool:  # noqa: PLR0912, PLR0915 - hot loop, one frame
        n = len(self._objs)
        if self._off is None:
            if not self._build_csr(n, deadline):
                return False
            self._index = array("i", [-1]) * n
            self._low = array("i", [0]) * n
            self._comp = array("i", [-1]) * n
        off, tgt = self._off, self._tgt
        index, low, comp = self._index, self._low, self._comp
        assert off is not None and tgt is not None and index is not None  # noqa: S101
        assert low is not None and comp is not None  # noqa: S101
        flags = self._flags
        tstack = self._tstack
        call = self._call
        order = self._order
        cstart = self._cstart
        clock = time.perf_counter
        steps = 0
        while True:
            if not call:
                v = self._scc_v
                while v < n and (index[v] >= 0 or flags[v] & (F_WALL | F_UNREACHED)):
                    v += 1
                self._scc_v = v
                if v >= n:
                    return True
                index[v] = low[v] = self._scc_counter
                self._scc_counter += 1
                tstack.append(v)
                call.append([v, off[v]])
            frame = call[-1]
            v, ei = frame
            end = off[v + 1]
            descended = False
            while ei < end:
                w = tgt[ei]
                ei += 1
                if index[w] < 0:
                    frame[1] = ei
                    index[w] = low[w] = self._scc_counter
                    self._scc_counter += 1
                    tstack.append(w)
                    call.append([w, off[w]])
                    descended = True
                    break
                if comp[w] < 0 and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                steps += 1
                if not steps & 1023 and clock() >= deadline:
                    return False
                continue
            call.pop()
            if low[v] == index[v]:
                c = len(cstart)
                cstart.append(len(order))
                while True:
                    w = tstack.pop()
                    comp[w] = c
                    order.append(w)
                    if w == v:
                        break
            if call:
                u = call[-1][0]
                low[u] = min(low[u], low[v])
            steps += 1
            if not steps & 1023 and clock() >= deadline:
                return False

    def _build_csr(self, n: int, deadline: float) -> bool:
        """The CSR graph of the edges in resumable stages (count, prefix, fill)."""
        src, dst = self._esrc, self._edst
        st = self._csr
        if not st:
            st.update(stage=1, i=0, deg=array("I", [0]) * (n + 1), tgt=array("I", [0]) * len(src))
        clock = time.perf_counter
        deg, tgt = st["deg"], st["tgt"]
        if st["stage"] == 1:
            while st["i"] < len(src):
                stop = min(len(src), st["i"] + 65536)
                for s in src[st["i"] : stop]:
                    deg[s + 1] += 1
                st["i"] = stop
                if clock() >= deadline:
                    return False
            deg = st["deg"] = array("I", accumulate(deg))
            st.update(stage=2, i=0, fill=array("I", deg))
        fill = st["fill"]
        while st["i"] < len(src):
            stop = min(len(src), st["i"] + 65536)
            for s, d in zip(src[st["i"] : stop], dst[st["i"] : stop]):
                tgt[fill[s]] = d
                fill[s] += 1
            st["i"] = stop
            if clock() >= deadline:
                return False
        self._off, self._tgt = deg, tgt
        self._esrc = array("I")
        self._edst = array("I")
        st.clear()
        return True

    # ------------------------------------------------------------------ propagate

    def _single(self, g: int) -> int:
        return self._intern((g,))

    def _intern(self, key: tuple[int, ...]) -> int:
        lid = self._label_of.get(key)
        if lid is None:
            lid = self._label_of[key] = len(self._labels)
            self._labels.append(key)
        return lid

    def _union(self, a: int, b: int) -> int:
        if b in (a, 0):
            return a
        if a == 0:
            return b
        key = (a, b) if a < b else (b, a)
        c = self._umemo.get(key)
        if c is None:
            merged = tuple(sorted(set(self._labels[a]).union(self._labels[b])))
            c = self._umemo[key] = self._intern(merged)
        return c

    def _own_labels(self, deadline: float) -> bool:
        """Each component's own label: the groups of its seeds (stage 0), then the
        outside root for the nodes the reference check flagged (stage 1)."""
        comp = self._comp
        assert comp is not None  # noqa: S101
        clock = time.perf_counter
        if self._prop_stage == 0 and self._prop_i == 0:
            self._clab = [0] * len(self._cstart)
        clab = self._clab
        while self._prop_stage < 2:
            pairs: Any = self._seedpairs if self._prop_stage == 0 else self._outside
            i = self._prop_i
            while i < len(pairs):
                idx, g = pairs[i]
                i += 1
                c = comp[idx]
                if c >= 0:
                    group = g if self._prop_stage == 0 else self._outside_group
                    clab[c] = self._union(clab[c], self._single(group))
                if not i & 1023 and clock() >= deadline:
                    self._prop_i = i
                    return False
            self._prop_i = 0
            self._prop_stage += 1
        self._prop_c = len(self._cstart) - 1
        return True

    def _phase_propagate(self, deadline: float) -> bool:
        comp = self._comp
        assert comp is not None  # noqa: S101
        ncomp = len(self._cstart)
        clock = time.perf_counter
        if self._prop_stage < 2 and not self._own_labels(deadline):
            return False
        clab = self._clab
        off, tgt, order, cstart = self._off, self._tgt, self._order, self._cstart
        assert off is not None and tgt is not None  # noqa: S101
        c = self._prop_c
        nodes = len(order)
        while c >= 0:
            lab = clab[c]
            if lab:
                end = cstart[c + 1] if c + 1 < ncomp else nodes
                for j in range(cstart[c], end):
                    v = order[j]
                    for e in range(off[v], off[v + 1]):
                        c2 = comp[tgt[e]]
                        if c2 != c:
                            cur = clab[c2]
                            if cur != lab:
                                clab[c2] = self._union(cur, lab)
            c -= 1
            if not c & 255 and clock() >= deadline:
                self._prop_c = c
                return False
        self._prop_c = c
        return True

    # ------------------------------------------------------------------ account

    def _phase_account(self, deadline: float) -> bool:
        comp = self._comp
        assert comp is not None  # noqa: S101
        clab = self._clab
        totals = self._totals
        bytype = self._bytype
        cands = self._cands
        objs = self._objs
        flags = self._flags
        clock = time.perf_counter
        n = len(objs)
        i = self._acc_i
        while i < n:
            stop = min(n, i + 4096)
            for j in range(i, stop):
                if flags[j] & (F_WALL | F_UNREACHED):
                    continue
                c = comp[j]
                if c < 0:
                    continue
                lab = clab[c]
                if not lab:
                    continue
                size = self._size[j]
                tix = self._tix[j]
                _add(totals, bytype, lab, tix, size, 1)
                o = objs[j]
                if o is not None:
                    cands.setdefault(lab, []).append((size, id(o), tix, o))
            o = None
            i = stop
            self._acc_i = i
            if clock() >= deadline:
                return False
        if self._acc_inl is None:
            self._acc_inl = iter(self._inl.items())
        for done, ((owner, tix), (nbytes, count, bsize, baddr, bobj)) in enumerate(
            self._acc_inl, 1
        ):
            c = comp[owner]
            lab = clab[c] if c >= 0 else 0
            if lab:
                _add(totals, bytype, lab, tix, nbytes, count)
                cands.setdefault(lab, []).append((bsize, baddr, tix, bobj))
            if not done & 1023 and clock() >= deadline:
                return False
        self._acc_inl = None
        self._inl.clear()
        return True

    def _phase_result(self, deadline: float) -> bool:
        """The result, in resumable stages: largest objects per label, the
        per-type tables, the node counters, then the rest at once."""
        clock = time.perf_counter
        raw = self._res_raw
        if self._res_stage == 0:
            raw.update(labels={}, totals={}, by_type={}, top={})
            self._res_lids = list(self._totals)
            self._res_stage = 1
            self._res_i = 0
        k = self._spec.top_k if self._spec is not None else 4
        if self._res_stage == 1:
            lids = self._res_lids
            i = self._res_i
            while i < len(lids):
                lid = lids[i]
                i += 1
                raw["labels"][lid] = self._labels[lid]
                v = self._totals[lid]
                raw["totals"][lid] = (v[0], v[1])
                raw["by_type"][lid] = {
                    t: (e[0], e[1]) for t, e in self._bytype.get(lid, {}).items()
                }
                cand = self._cands.pop(lid, None)
                if cand:
                    cand.sort(key=lambda c: (c[0], c[1]), reverse=True)
                    raw["top"][lid] = [(sz, t, o) for sz, _a, t, o in cand[:k]]
                cand = None
                if not i & 255 and clock() >= deadline:
                    self._res_i = i
                    return False
            self._cands.clear()
            self._res_stage = 2
            self._res_i = 0
        if self._res_stage == 2:
            objs = self._objs
            flags = self._flags
            i = self._res_i
            n = len(objs)
            while i < n:
                stop = min(n, i + 65536)
                for j in range(i, stop):
                    if not flags[j] & (F_WALL | F_UNREACHED):
                        self._res_nodes += 1
                        if objs[j] is not None:
                            self._res_real += 1
                i = stop
                if clock() >= deadline:
                    self._res_i = i
                    return False
            self._res_stage = 3
        self._finish_result()
        return True

    def _finish_result(self) -> None:
        comp = self._comp
        assert comp is not None  # noqa: S101
        outside = []
        for idx, deficit in self._outside:
            c = comp[idx]
            outside.append(
                (self._objs[idx], deficit, self._size[idx], self._clab[c] if c >= 0 else 0)
            )
        outside.sort(key=lambda e: (e[2], id(e[0])), reverse=True)
        raw = self._res_raw
        self._res_raw = {}
        raw.update(
            type_names=list(self._names),
            outside=outside[:_OUTSIDE_CAP],
            stats={
                "objects": self.objects,
                "nodes": self._res_nodes,
                "inline": self.objects - self._res_real,
                "edges": len(self._tgt) if self._tgt is not None else 0,
                "components": len(self._cstart),
                "labels": len(self._labels),
                "pseudo": len(self._pseudo),
                "outside": len(self._outside),
                "phase_s": dict(self._phase_s),
            },
        )
        self._result = WalkResult(raw, self._n_groups, self.engine)


def _add(  # noqa: PLR0917 - a hot helper
    totals: dict[int, list[int]],
    bytype: dict[int, dict[int, list[int]]],
    lab: int,
    tix: int,
    nbytes: int,
    count: int,
) -> None:
    t = totals.get(lab)
    if t is None:
        totals[lab] = [nbytes, count]
    else:
        t[0] += nbytes
        t[1] += count
    d = bytype.get(lab)
    if d is None:
        d = bytype[lab] = {}
    e = d.get(tix)
    if e is None:
        d[tix] = [nbytes, count]
    else:
        e[0] += nbytes
        e[1] += count


def _more_chunk(more: Any, pos: int) -> tuple[list[Any] | None, int]:
    """One chunk of an expander's ``more`` source: ``(list or None at the end, next)``."""
    try:
        got = more(pos)
        chunk, nxt = got
        got = None
        nxt = int(nxt)
    except Exception:  # a source that failed: nothing more from it
        return None, -1
    if type(chunk) is not list:
        return None, -1
    return chunk, nxt


def _expand(exp: Any, o: Any) -> tuple[Any, list[Any] | None, list[Any] | None]:
    """``(follow, count_only, pseudo)``: ``follow`` is a list, a ``more`` callable or None."""
    try:
        got = exp(o)
        follow, count_only, pseudo = got
    except Exception:  # an expander that failed on one object: nothing from it
        return None, None, None
    got = None
    if follow is not None and type(follow) is not list and not callable(follow):
        follow = None
    if count_only is not None and type(count_only) is not list:
        count_only = None
    if pseudo is not None and type(pseudo) is not list:
        pseudo = None
    return follow, count_only, pseudo


def _dict_sub_refs(o: Any) -> list[Any]:
    """A dict subclass's references: ``tp_traverse`` plus its keys when every key
    is an exact ``str`` (that table's traverse visits values only)."""
    kids = _get_referents(o)
    keys = list(dict.keys(o))
    if all(type(k) is str for k in keys):
        kids.extend(keys)
    keys = []
    return kids


def _type_label(tp: type) -> str:
    try:
        return str(type.__dict__["__qualname__"].__get__(tp))
    except Exception:
        return "?"
