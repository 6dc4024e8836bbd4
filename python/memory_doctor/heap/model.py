"""What both engines share: walk modes, sizer kinds, the type record, the spec
and the result.

The engines (``_walker.c`` and :mod:`memory_doctor.heap.pywalker`) know nothing
about numpy, frames or roots. The Python side tells them, once per type, how to
walk and size the objects of that type (:class:`TypeInfo`, returned by the
``classify`` callback), and, once per object that needs it, how to expand it
(an *expander*: ``expander(obj) -> Expansion``).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple, Optional, Union

# ---------------------------------------------------------------------- walk modes

#: No references are followed (str, int, float, bytes, non-GC C types).
M_LEAF: Final = 0
#: References from ``tp_traverse`` (``gc.get_referents``).
M_TRAVERSE: Final = 1
#: Exact list or tuple: items by index, in chunks (a 5M-element list never
#: blocks). Same references as M_TRAVERSE.
M_SEQ: Final = 2
#: dict or subclass. Exact dict: every key and value, in chunks. Subclass:
#: ``tp_traverse`` plus the keys when every key is an exact ``str`` (a
#: str-keyed table's ``tp_traverse`` visits values only).
M_DICT: Final = 3
#: ``TypeInfo.expander(obj)`` gives the references (hidden ones included).
M_EXPAND: Final = 4
#: A node (sized, labelled) whose references are counted but never followed
#: (module objects: a module's namespace belongs to its package's root).
M_STOP: Final = 5
#: Exact set or frozenset: items through the (C) iterator, in chunks.
M_SET: Final = 6
#: Not part of the heap for the walk: never a node, never counted (the engines' own types).
M_IGNORE: Final = 7

MODE_NAMES: Final = ("leaf", "traverse", "seq", "dict", "expand", "stop", "set", "ignore")

# ---------------------------------------------------------------------- sizers

#: ``object.__sizeof__`` (basicsize + ob_size * itemsize), computed without a call.
S_BASIC: Final = 0
#: ``sizer_arg(obj)``: a C ``__sizeof__`` descriptor, called unbound.
S_SIZEOF: Final = 1
#: ``sizer_arg(obj)``: a Python function (known-type sizers); negative means 0,
#: and ``pre`` is not added.
S_CALL: Final = 2
#: Zero bytes.
S_ZERO: Final = 3

#: References found in chunks of this many items (lists, dicts, sets, expander lists).
CHUNK: Final = 1024

#: Group id of the "references from outside Python" pseudo root is ``len(groups)``.


class TypeInfo(NamedTuple):
    """How to walk and size every object of one exact type (a plain tuple for C).

    ``size = sizer(obj) + pre (+ xbytes when the word at address + xoff,
    masked by xmask, is non-zero)``: ``pre`` is the pre-header (GC head, managed
    dict pointers) that ``__sizeof__`` leaves out, and the ``x*`` fields add
    memory the object owns outside its body (3.11's inline attribute values,
    allocated separately and invisible to ``__sizeof__``).
    """

    mode: int
    sizer: int
    sizer_arg: Any
    pre: int
    xoff: int
    xmask: int
    xbytes: int
    expander: Callable[[Any], Any] | None
    #: False: objects of this type are always table nodes, never handled
    #: inline with their single referrer (types, objects an expander caches).
    inline_ok: bool
    name: str


#: A chunked source of references: ``more(pos) -> (list, next_pos)``, with
#: ``next_pos < 0`` (or not above ``pos``) after the last chunk. Each list holds
#: one reference per item, as a ``follow`` list does.
More = Callable[[int], tuple[list[Any], int]]

#: An expander's answer: ``(follow, count_only, pseudo)``.
#:
#: - ``follow``: a fresh list of references that the walk follows and counts.
#:   The list may hold exactly one reference to each item per occurrence and
#:   the expander nothing else: the engines read reference counts while the
#:   list is alive. For millions of references (an object array), a
#:   :data:`More` source instead, read one chunk per engine step.
#: - ``count_only``: references that exist but are not followed (a closure
#:   reported under its own root, ``sys.last_value``): counted for the
#:   reference check, never labelled through this object.
#: - ``pseudo``: ``(key, nbytes, kind)`` memory outside Python objects (a
#:   buffer, a storage, resident pages), counted once per ``key`` however many
#:   objects refer to it, with the union of their labels.
#: (Evaluated at runtime: ``X | None`` would need 3.10.)
Expansion = tuple[
    Optional[Union[list[Any], More]],
    Optional[list[Any]],
    Optional[list[tuple[Hashable, int, str]]],
]
Expander = Callable[[Any], Expansion]


def materialise(follow: Any) -> list[Any]:
    """A ``follow`` part as one list (a :data:`More` source read to its end)."""
    if follow is None:
        return []
    if type(follow) is list:
        return follow
    out: list[Any] = []
    pos = 0
    while pos >= 0:
        try:
            chunk, nxt = follow(pos)
        except Exception:  # a source that failed: what it gave so far
            break
        if type(chunk) is not list:
            break
        out.extend(chunk)
        chunk = None
        if nxt <= pos:
            break
        pos = nxt
    return out


@dataclass
class WalkSpec:
    """Everything a walk needs; the engines hold it until ``release()``.

    The engines treat every container of the spec itself (these lists, the
    tuples in ``objects``) as walls, so the references the spec holds are
    never mistaken for references from outside Python.
    """

    #: Root groups: group ``g`` seeds these objects with label ``{g}``. A seed
    #: is a node whatever its reference count. Seeding is not a reference: a
    #: root's own reference (a namespace entry) is counted from its container,
    #: which is a stop.
    groups: list[list[Any]]
    #: Nodes whose references are counted but never followed, whoever reaches
    #: them: the containers whose contents are roots (user namespace, Out, In,
    #: every module namespace). Sized and labelled like any node when reached.
    stops: list[Any]
    #: Never nodes, never sized; their references are counted: the scan's own
    #: state, live frames, immortal singletons.
    walls: list[Any]
    #: ``type -> TypeInfo``, called once per type per walk.
    classify: Callable[[type], TypeInfo]
    #: Per-object expanders (``(obj, expander)``): they replace the type's walk
    #: for that object, when it is expanded and when a wall or stop is counted.
    objects: list[tuple[Any, Expander]] = field(default_factory=list)
    #: Called once when the walk ends: more walls (state a callback built
    #: during the walk, e.g. a cache of objects an expander looks up).
    late_walls: Callable[[], list[Any]] | None = None
    #: Compare reference counts with the references found (the "outside" root).
    check_refs: bool = True
    #: Largest objects kept per label.
    top_k: int = 4


def spec_containers(spec: WalkSpec) -> list[Any]:
    """The spec's own containers: walls in every engine (see :class:`WalkSpec`)."""
    out: list[Any] = [spec.groups, *spec.groups, spec.stops, spec.walls, spec.objects]
    out.extend(spec.objects)
    return out


class LabelTable(Mapping[int, tuple[int, ...]]):
    """``label id -> sorted group ids``, decoded on demand (a library-side label
    can hold hundreds of groups; most are never looked at)."""

    def __init__(self, labels: dict[int, Any], arena: bytes | None = None) -> None:
        self._labels = labels
        self._arena = array("I", arena) if arena is not None else None

    def __getitem__(self, lid: int) -> tuple[int, ...]:
        found = self._labels[lid]
        if self._arena is None:
            return found  # type: ignore[no-any-return]
        off, n = found
        return tuple(self._arena[off : off + n])

    def __iter__(self) -> Iterator[int]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def first(self, lid: int) -> int:
        """The smallest group id of a label (-1 for the empty label)."""
        found = self._labels[lid]
        if self._arena is None:
            return found[0] if found else -1
        off, n = found
        return self._arena[off] if n else -1

    def size(self, lid: int) -> int:
        """How many groups a label holds."""
        found = self._labels[lid]
        return len(found) if self._arena is None else found[1]


class WalkResult:
    """A finished walk, as plain data (plus strong references to a few largest
    objects, dropped by :meth:`clear`).

    - ``labels[lid]``: the sorted group ids of label ``lid`` (the outside root is
      ``n_groups``), a :class:`LabelTable` decoded on demand.
    - ``totals[lid]``: ``(bytes, objects)``.
    - ``by_type[lid]``: ``{type index: (bytes, objects)}``; names in ``type_names``.
    - ``top[lid]``: ``[(size, type index, obj)]``, largest first (ties: higher
      address first), at most ``top_k``.
    - ``outside``: ``[(obj, deficit, size, lid)]`` for the objects whose
      reference count exceeds the references found (largest first, capped).
    - ``stats``: counters (``objects``, ``nodes``, ``inline``, ``edges``,
      ``components``, ``labels``, ``pseudo``, ``outside``...) and ``phase_s``.
    """

    def __init__(self, raw: dict[str, Any], n_groups: int, engine: str) -> None:
        self.engine = engine
        self.n_groups = n_groups
        self.outside_group = n_groups
        self.labels = LabelTable(raw["labels"], raw.get("arena"))
        self.totals: dict[int, tuple[int, int]] = raw["totals"]
        self.by_type: dict[int, dict[int, tuple[int, int]]] = raw["by_type"]
        self.top: dict[int, list[tuple[int, int, Any]]] = raw["top"]
        self.type_names: list[str] = raw["type_names"]
        self.outside: list[tuple[Any, int, int, int]] = raw["outside"]
        self.stats: dict[str, Any] = raw["stats"]

    def clear(self) -> None:
        """Drop the object references (top objects, outside objects)."""
        self.top.clear()
        self.outside.clear()

    def normalized(self) -> dict[tuple[int, ...], dict[str, Any]]:
        """Label-id-free form for comparisons: ``{groups: {...}}``, ids of objects only."""
        out: dict[tuple[int, ...], dict[str, Any]] = {}
        names = self.type_names
        for lid, groups in self.labels.items():
            nbytes, count = self.totals.get(lid, (0, 0))
            if not count and not nbytes:
                continue
            types: dict[str, tuple[int, int]] = {}
            for t, (b, c) in self.by_type.get(lid, {}).items():
                pb, pc = types.get(names[t], (0, 0))
                types[names[t]] = (pb + b, pc + c)
            top = [(s, names[t], id(o)) for s, t, o in self.top.get(lid, [])]
            out[groups] = {"bytes": nbytes, "objects": count, "types": types, "top": top}
        return out

    def outside_ids(self) -> dict[int, int]:
        """``{id(obj): deficit}`` of the objects held from outside Python."""
        return {id(o): d for o, d, _s, _l in self.outside}


def group_label_sets(result: WalkResult) -> dict[tuple[int, ...], int]:
    """``{label groups: bytes}`` (convenience for tests)."""
    return {g: result.totals[lid][0] for lid, g in result.labels.items() if lid in result.totals}
