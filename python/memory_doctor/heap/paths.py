"""Why alive: the path from a root to the object that holds a holder's bytes.

After the walk, the scan asks for one pasteable Python expression per holder:
from the holder's first root to its largest object (``big.blocks[0].values``),
and, for memory that a library also holds, from that library's module
(``logging.getLogger('x').handlers[0].buffer``). :class:`PathSearch` finds it
by iterative deepening (depth 1, 2, 4... 64), depth first with lazy children,
a bounded amount of work per :meth:`PathSearch.step`: a short path is found
without queueing a million-element level, and one wide level fits in a scan
slice. Each object's references are first scanned for the target (in C, in
chunks), then descended into through the objects the caller allows (the
scan allows those whose label says the path may pass there).
:func:`describe_edge` names each step the way a user would type it, falling
back to ``gc.get_referents(x)[i]``, which always pastes.

Like the walk, this reads objects only through ``heap/introspect.py``: no
user code runs.
"""

from __future__ import annotations

import gc
import re
import sys
import time
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
    is_type,
    method_parts,
    safe_key_repr,
    slot_values,
    traceback_frame,
    traceback_next,
    type_module,
    type_mro,
    type_ns,
)

_log = quiet_logger(__name__)

#: References scanned for the target per chunk (a C-speed ``in``), and objects
#: entered, per call of :meth:`PathSearch.step` at most.
SCAN_CHUNK: Final = 65_536
STEP_WORK: Final = 20_000
#: The search gives up (the path stays the root's) past this many objects or this depth.
PATH_SEARCH_LIMIT: Final = 500_000
MAX_DEPTH: Final = 64


class PathSearch:
    """From one start object to one target, through the objects ``allowed`` admits.

    ``children(obj)`` gives an object's references as the walk follows them;
    ``allowed(obj)`` says whether the path may pass through ``obj``.
    :attr:`path` is the pasteable expression once found (None when the
    search gave up).
    """

    def __init__(
        self,
        start: Any,
        start_path: str,
        target: Any,
        *,
        children: Callable[[Any], list[Any]],
        allowed: Callable[[Any], bool],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._start = start
        self._start_path = start_path
        self._target = id(target)
        self._children = children
        self._allowed = allowed
        self._clock = clock
        #: Frames: [children, descent cursor, scan cursor, descend?].
        self._stack: list[list[Any]] = []
        self._ids: list[int] = []
        self._limit = 0
        self._cut = False
        self._visited: set[int] = set()
        self.path: str | None = None

    def close(self) -> None:
        """Drop every reference (the search is over or abandoned)."""
        self._stack.clear()
        self._ids.clear()
        self._visited.clear()
        self._start = None

    def _push(self, obj: Any) -> None:
        kids = self._children(obj)
        descend = len(self._stack) + 1 < self._limit
        if kids and not descend:
            self._cut = True
        self._stack.append([kids, 0, 0, descend])
        self._ids.append(id(obj))

    def step(self, deadline: float) -> bool:
        """Search until ``deadline`` or a bounded amount of work; True when over."""
        budget = STEP_WORK
        target = self._target
        while budget > 0:
            stack = self._stack
            if not stack:
                if self._limit and not self._cut:
                    return self._over()  # the whole region was seen: no path
                self._limit = self._limit * 2 if self._limit else 1
                if self._limit > MAX_DEPTH or self._start is None:
                    return self._over()
                self._cut = False
                self._visited = {id(self._start)}
                self._ids = []
                self._push(self._start)
                continue
            frame = stack[-1]
            kids = frame[0]
            if frame[2] < len(kids):
                chunk = kids[frame[2] : frame[2] + SCAN_CHUNK]
                frame[2] += SCAN_CHUNK
                budget -= len(chunk) // 64 + 1
                if target in map(id, chunk):
                    return self._found()
                chunk = []
                if self._clock() >= deadline:
                    return False
                continue
            pos = frame[1]
            if not frame[3] or pos >= len(kids):
                stack.pop()
                self._ids.pop()
                continue
            child = kids[pos]
            frame[1] = pos + 1
            budget -= 1
            if id(child) in self._visited or not self._allowed(child):
                continue
            self._visited.add(id(child))
            self._push(child)
            child = None
            if len(self._visited) > PATH_SEARCH_LIMIT:
                return self._over()
        return False

    def _over(self) -> bool:
        self.close()
        return True

    def _found(self) -> bool:
        chain_ids = [*self._ids[1:], self._target]
        self.path = self._build_path(chain_ids)
        self.close()
        return True

    def _build_path(self, chain_ids: list[int]) -> str | None:
        text = self._start_path
        obj = self._start
        skip = False
        for nid in chain_ids:
            nxt = next((c for c in self._children(obj) if id(c) == nid), None)
            if nxt is None:
                return None  # the heap changed under us
            if skip:
                skip = False
            else:
                fmt, skip = describe_edge(obj, nxt)
                text = fmt.format(text)
            obj = nxt
        return tidy_path(text)


# ---------------------------------------------------------------------- naming edges

_DICT_ATTR: Final = re.compile(r"\.__dict__\[\'([A-Za-z_][A-Za-z0-9_]*)\'\]")
#: ``logging.Logger.manager.loggerDict['x']`` (or through the root logger) is
#: what ``logging.getLogger('x')`` returns.
_LOGGER: Final = re.compile(
    r"logging\.(?:Logger|root|RootLogger|Logger\.root)\.manager\.loggerDict\[('(?:[^'\\]|\\.)*')\]"
)


def tidy_path(text: str) -> str:
    """``obj.__dict__['name']`` -> ``obj.name`` and a logger out of logging's
    registry -> ``logging.getLogger('x')`` (what a user types)."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        return f".{name}" if is_identifier(name) else m.group(0)

    text = _DICT_ATTR.sub(repl, text)
    return _LOGGER.sub(r"logging.getLogger(\1)", text)


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
    nd = np.ndarray
    if child is vars(nd)["base"].__get__(parent):
        return "{}.base", False
    if vars(np.dtype)["kind"].__get__(vars(nd)["dtype"].__get__(parent)) != "O":
        return None
    plain = parent if type(parent) is nd else nd.view(parent, nd)
    i = _index_of(vars(nd)["flat"].__get__(plain), child)
    return (f"{{}}.flat[{i}]", False) if i is not None else None


def _name_namespace(parent: Any, child: Any, mro: tuple[type, ...]) -> Named:
    """A class's or a module's own namespace dict."""
    if is_type(parent):
        try:
            refs = gc.get_referents(type_ns(parent))  # the mappingproxy's one referent
            return ("{}.__dict__", False) if any(r is child for r in refs) else None
        except Exception:
            return None
    if _has(mro, types.ModuleType) and child is instance_dict(parent):
        return "{}.__dict__", False
    return None


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
    _name_namespace,
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


__all__ = ["MAX_DEPTH", "PATH_SEARCH_LIMIT", "PathSearch", "describe_edge", "tidy_path"]
