"""Why alive: the path from a root to the object that holds a holder's bytes.

After the walk, the scan asks for one pasteable Python expression per holder:
from the holder's first root to its largest object (``big.blocks[0].values``).
:class:`PathSearch` finds it breadth first, a bounded number of objects per
:meth:`PathSearch.step` so that one wide level fits in a scan slice, and only
through objects the walk labelled with the root's group (the same objects
that make up the holder). :func:`describe_edge` names each step the way a user
would type it, falling back to ``gc.get_referents(x)[i]``, which always pastes.

Like the walk, this reads objects only through ``heap/introspect.py`` and the
known-type handlers of ``heap/sizers.py``: no user code runs.
"""

from __future__ import annotations

import gc
import re
import sys
import types
from collections.abc import Iterable
from typing import Any, Callable, Final, Optional

from ..log import quiet_logger
from .introspect import (
    GENERATOR_FRAME,
    cell_contents,
    frame_back,
    frame_locals,
    func_parts,
    instance_dict,
    is_identifier,
    method_parts,
    safe_key_repr,
    slot_values,
    traceback_frame,
    traceback_next,
    type_module,
    type_mro,
    type_ns,
)
from .roots import Root
from .sizers import EXP_DICT, EXP_LEAF, EXP_PLAIN, EXP_WALL, Context, NdarraySpecial, TypeInfo

_log = quiet_logger(__name__)

#: A why-alive search gives up (the path stays the root's) after this many objects.
PATH_SEARCH_LIMIT: Final = 2_000_000
#: Objects expanded per :meth:`PathSearch.step`.
PATH_CHUNK: Final = 20_000
#: Label 0 marks walls in the scan's label table (``heap/scan.py``).
_WALL: Final = 0


class PathSearch:
    """Breadth-first search from one root to one object, through the root's group.

    ``labels`` (object id -> label), ``label_sets`` (label -> the groups it
    stands for), ``type_info`` and ``context`` are the scan's own tables: an
    object may be stepped through when its label includes ``group``, or, for
    the objects with one reference that the walk left out of ``labels``,
    when its type is not a wall.
    """

    __slots__ = (
        "_allowed_labels",
        "_context",
        "_group",
        "_label_sets",
        "_labels",
        "_level",
        "_next_level",
        "_parents",
        "_root",
        "_target",
        "_type_info",
        "path",
    )

    def __init__(
        self,
        root: Root,
        group: int,
        target: int,
        *,
        labels: dict[int, int],
        label_sets: list[tuple[int, ...]],
        type_info: Callable[[type], TypeInfo],
        context: Context | None,
    ) -> None:
        self._root = root
        self._group = group
        self._target = target
        self._labels = labels
        self._label_sets = label_sets
        self._type_info = type_info
        self._context = context
        self._level: list[Any] = [root.obj]
        self._next_level: list[Any] = []
        self._parents: dict[int, int] = {id(root.obj): 0}
        self._allowed_labels: dict[int, bool] = {}
        #: The path once found (it stays None when the search gives up).
        self.path: str | None = None

    def _allowed(self, child: Any) -> bool:
        label = self._labels.get(id(child))
        if label is None:  # a single-reference object: judged by its type
            info = self._type_info(type(child))
            if info.exp == EXP_WALL:
                return False
            try:
                return info.fast or info.sizer(child) >= 0
            except Exception:
                return False
        allowed = self._allowed_labels
        found = allowed.get(label)
        if found is None:
            found = allowed[label] = label != _WALL and self._group in self._label_sets[label]
        return found

    def _children(self, obj: Any) -> list[Any]:
        info = self._type_info(type(obj))
        if info.exp in (EXP_WALL, EXP_LEAF):
            return []
        if info.exp == EXP_PLAIN:
            return gc.get_referents(obj)
        if info.exp == EXP_DICT:
            return [*gc.get_referents(obj), *dict.keys(obj)]
        if info.special is None or self._context is None:
            return gc.get_referents(obj)
        try:
            return info.special.expand(obj, self._context)[0]
        except Exception:
            return []

    def step(self) -> bool:
        """Expand one BFS level (at most :data:`PATH_CHUNK` objects of it); True when done."""
        target = self._target
        parents = self._parents
        nxt = self._next_level
        level = self._level
        found = False
        # At most PATH_CHUNK objects per call, so that one wide level fits in a slice.
        chunk = level[-PATH_CHUNK:]
        del level[-PATH_CHUNK:]
        for obj in chunk:
            oid = id(obj)
            for child in self._children(obj):
                cid = id(child)
                if cid in parents or not self._allowed(child):
                    continue
                parents[cid] = oid
                if cid == target:
                    found = True
                    break
                nxt.append(child)
            if found:
                break
        if found:
            self.path = self._build_path()
            return True
        if len(parents) > PATH_SEARCH_LIMIT:
            return True
        if not level:
            if not nxt:
                return True
            self._level, self._next_level = nxt, []
        return False

    def _build_path(self) -> str | None:
        root = self._root
        parents = self._parents
        chain_ids: list[int] = []
        cur_id: int | None = self._target
        while cur_id is not None and cur_id != id(root.obj):
            chain_ids.append(cur_id)
            cur_id = parents.get(cur_id)
            if len(chain_ids) > 10_000:
                return None
        chain_ids.reverse()
        text = root.path
        cur = root.obj
        skip = False
        for nid in chain_ids:
            nxt = next((c for c in self._children(cur) if id(c) == nid), None)
            if nxt is None:
                return None  # the heap changed under us
            if skip:
                skip = False
            else:
                fmt, skip = describe_edge(cur, nxt)
                text = fmt.format(text)
            cur = nxt
        return tidy_path(text)


# ---------------------------------------------------------------------- naming edges

_DICT_ATTR: Final = re.compile(r"\.__dict__\[\'([A-Za-z_][A-Za-z0-9_]*)\'\]")


def tidy_path(text: str) -> str:
    """``obj.__dict__['name']`` -> ``obj.name`` (what a user types)."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        return f".{name}" if is_identifier(name) else m.group(0)

    return _DICT_ATTR.sub(repl, text)


def _index_of(items: Iterable[Any], child: Any) -> int | None:
    for i, item in enumerate(items):
        if item is child:
            return i
    return None


def _local_name(frame: Any, child: Any) -> tuple[str | None, bool]:
    """The local of ``frame`` that holds ``child`` (or whose cell holds it)."""
    try:
        local_vars = frame_locals(frame)
        items = (
            list(dict.items(local_vars)) if type(local_vars) is dict else list(local_vars.items())
        )
    except Exception:
        return None, False
    is_cell, contents = cell_contents(child) if type(child) is types.CellType else (False, None)
    for name, value in items:
        if type(name) is not str:
            continue
        if value is child:
            return name, False
        if is_cell and value is contents:
            return name, True
    return None, False


def _pandas_attribute(parent: Any, child: Any) -> str | None:
    """The public attribute of a pandas Cython object (a BlockManager's
    ``blocks``, a Block's ``values``) that holds ``child``.

    Those attributes are C getters that return a stored field; getters of other
    C types may compute (numpy's ``.imag`` allocates a copy), so only pandas'
    own are called.
    """
    for cls in type_mro(type(parent)):
        module = type_module(cls)
        if module is None or not module.startswith("pandas."):
            continue
        for name, desc in sorted(type_ns(cls).items(), key=lambda kv: str(kv[0])):
            if type(desc) is not types.GetSetDescriptorType or not is_identifier(name):
                continue
            if name.startswith("__"):
                continue
            try:
                if desc.__get__(parent, type(parent)) is child:
                    return str(name)
            except Exception:  # noqa: S112 - an unset attribute raises: try the next
                continue
    return None


Named = Optional[tuple[str, bool]]


def _has(mro: tuple[type, ...], base: type) -> bool:
    return any(c is base for c in mro)


def _name_dict_item(parent: Any, child: Any, mro: tuple[type, ...]) -> Named:
    if not _has(mro, dict):
        return None
    items = list(dict.items(parent))
    for i, (key, value) in enumerate(items):
        if value is child:
            text = safe_key_repr(key)
            return (f"{{}}[{text}]" if text else f"list({{}}.values())[{i}]"), False
    at = _index_of((k for k, _v in items), child)
    return (f"list({{}})[{at}]", False) if at is not None else None


def _name_sequence_item(parent: Any, child: Any, mro: tuple[type, ...]) -> Named:
    get: Callable[[Any, int], Any]
    if _has(mro, list):
        n, get = list.__len__(parent), list.__getitem__
    elif _has(mro, tuple):
        n, get = tuple.__len__(parent), tuple.__getitem__
    else:
        return None
    i = _index_of((get(parent, j) for j in range(n)), child)
    return (f"{{}}[{i}]", False) if i is not None else None


def _name_set_item(parent: Any, child: Any, mro: tuple[type, ...]) -> Named:
    if _has(mro, set):
        items = list(set.__iter__(parent))
    elif _has(mro, frozenset):
        items = list(frozenset.__iter__(parent))
    else:
        return None
    i = _index_of(items, child)
    return (f"list({{}})[{i}]", False) if i is not None else None


def _name_function_part(parent: Any, child: Any, mro: tuple[type, ...]) -> Named:
    pt = type(parent)
    if pt is types.CellType:
        return "{}.cell_contents", False
    if pt is types.MethodType:
        owner, func = method_parts(parent)
        if child is owner:
            return "{}.__self__", False
        return ("{}.__func__", False) if child is func else None
    if pt is not types.FunctionType:
        return None
    closure, defaults, kwdefaults = func_parts(parent)
    for attr, value in (
        ("__closure__", closure),
        ("__defaults__", defaults),
        ("__kwdefaults__", kwdefaults),
    ):
        if value is child:
            return f"{{}}.{attr}", False
    return None


def _name_frame_part(parent: Any, child: Any, mro: tuple[type, ...]) -> Named:
    pt = type(parent)
    if pt is types.TracebackType:
        if child is traceback_next(parent):
            return "{}.tb_next", False
        return ("{}.tb_frame", False) if child is traceback_frame(parent) else None
    if pt is types.FrameType:
        if child is frame_back(parent):
            return "{}.f_back", False
        name, via_cell = _local_name(parent, child)
        return (f"{{}}.f_locals[{name!r}]", via_cell) if name is not None else None
    if id(pt) in GENERATOR_FRAME:  # a generator/coroutine shows its frame's locals itself
        getter, attr = GENERATOR_FRAME[id(pt)]
        frame = getter(parent)
        if frame is not None:
            name, via_cell = _local_name(frame, child)
            if name is not None:
                return f"{{}}{attr}.f_locals[{name!r}]", via_cell
    return None


def _name_exception_part(parent: Any, child: Any, mro: tuple[type, ...]) -> Named:
    if not _has(mro, BaseException):
        return None
    ns = vars(BaseException)
    for attr in ("args", "__traceback__", "__context__", "__cause__"):
        if ns[attr].__get__(parent) is child:
            return f"{{}}.{attr}", False
    return None


def _name_array_part(parent: Any, child: Any, mro: tuple[type, ...]) -> Named:
    np = sys.modules.get("numpy")
    if np is None or not _has(mro, np.ndarray):
        return None
    if child is vars(np.ndarray)["base"].__get__(parent):
        return "{}.base", False
    items = NdarraySpecial(np).elements(parent)  # None unless dtype=object
    i = _index_of(items, child) if items is not None else None
    return (f"{{}}.flat[{i}]", False) if i is not None else None


def _name_attribute(parent: Any, child: Any, mro: tuple[type, ...]) -> Named:
    attrs = instance_dict(parent)
    if attrs is not None:
        if child is attrs:
            return "{}.__dict__", False
        for key, value in list(dict.items(attrs)):
            if value is child and type(key) is str:
                if is_identifier(key):
                    return f"{{}}.{key}", False
                return f"getattr({{}}, {key!r})", False
    for slot, value in slot_values(parent):
        if value is child:
            return f"{{}}.{slot}", False
    name = _pandas_attribute(parent, child)
    return (f"{{}}.{name}", False) if name is not None else None


#: Tried in order; each returns None when the edge is not of its kind.
_NAMERS: Final[tuple[Callable[[Any, Any, tuple[type, ...]], Named], ...]] = (
    _name_dict_item,
    _name_sequence_item,
    _name_set_item,
    _name_function_part,
    _name_frame_part,
    _name_exception_part,
    _name_array_part,
    _name_attribute,
)


def describe_edge(parent: Any, child: Any) -> tuple[str, bool]:
    """How to go from ``parent`` to ``child`` in pasteable Python.

    Returns ``(format, skip_next)``: ``format`` has one ``{}`` for the
    expression of the parent; ``skip_next`` is True when the step also covers
    the next edge (a frame local held in a cell: ``f_locals`` shows contents).
    Falls back to ``gc.get_referents(parent)[i]``, which always pastes.
    """
    mro = type_mro(type(parent))
    for namer in _NAMERS:
        try:
            found = namer(parent, child, mro)
        except Exception:  # an object in a state we did not foresee: try the next
            _log.debug("naming an edge failed", exc_info=True)
            found = None
        if found is not None:
            return found
    try:
        i = _index_of(gc.get_referents(parent), child)
    except Exception:
        i = None
    if i is not None:
        return f"gc.get_referents({{}})[{i}]", False
    return "{}", False


__all__ = ["PATH_SEARCH_LIMIT", "PathSearch", "describe_edge", "tidy_path"]
