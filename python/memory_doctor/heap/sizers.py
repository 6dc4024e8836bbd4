"""How the walk sizes and expands each type: one ``TypeInfo`` per type.

The engines call :meth:`Classifier.classify` once per type met, and, for the
few types whose references or memory are hidden from ``tp_traverse``, an
*expander* once per object of that type:

- ``numpy.ndarray``: ``.base`` (arrays are not GC-tracked: their reference to
  the base is invisible), the items of object arrays (in chunks when there
  are millions), and a pseudo node for a data buffer owned by a foreign
  object (a capsule);
- ``mmap.mmap``: resident pages as a pseudo node (file-backed or anonymous);
- pyarrow arrays/tables/buffers and torch tensors: buffers and storages as
  pseudo nodes keyed by address, so views and slices count once;
- code objects (not GC-tracked in 3.11): constants and names;
- Cython extension types: the typed memoryviews in their C struct.

Objects of the resource types a scan asks about (files, sockets, threads...)
are always table nodes and noted as they are met, so that the scan can say
which roots hold each (``Classifier.noted``).

Nothing here runs user code: types are read through C getters, sizes through
C ``__sizeof__`` descriptors, and library types are only looked at when their
module is already imported. :class:`Sizer` gives code outside a walk (growth
estimates, what a release frees) the same sizes and references.
"""

from __future__ import annotations

import contextlib
import gc
import mmap as _mmap_mod
import sys
import types
from collections.abc import Callable, Hashable
from typing import Any, Final

from .introspect import (
    TPFLAGS_HAVE_GC,
    TPFLAGS_HEAPTYPE,
    TPFLAGS_TYPE_SUBCLASS,
    func_module,
    lookup_in_mro,
    module_dict,
    mro_has,
    type_flags,
    type_mro,
    type_name,
)
from .layout import (
    cython_memviews,
    inline_values,
    is_cython_extension,
    mmap_pages,
    object_size,
    pre_header,
    sizeof_of,
)
from .model import (
    M_DICT,
    M_EXPAND,
    M_IGNORE,
    M_LEAF,
    M_SEQ,
    M_SET,
    M_STOP,
    M_TRAVERSE,
    S_BASIC,
    Expansion,
    More,
    TypeInfo,
    materialise,
)

#: An object array with more items than this is read in chunks of this many.
OBJECT_CHUNK: Final = 65_536

_EMPTY: Final[Expansion] = (None, None, None)
Pseudo = tuple[Hashable, int, str]

_CODE_MEMBERS: Final = tuple(
    vars(types.CodeType)[name].__get__
    for name in (
        "co_consts",
        "co_names",
        "co_filename",
        "co_name",
        "co_qualname",
        "co_linetable",
        "co_exceptiontable",
    )
    if name in vars(types.CodeType)
)


def referents(obj: Any) -> tuple[list[Any], list[Any] | None]:
    """``(follow, count_only)``: ``gc.get_referents(obj)``, with an instance's
    reference to its own class (a heap type visits it) apart, counted only, as
    the engines treat it: a class is shared structure, not its instances' data."""
    refs = gc.get_referents(obj)
    tp = type(obj)
    if type_flags(tp) & TPFLAGS_HEAPTYPE:
        for i in range(len(refs) - 1, -1, -1):
            if refs[i] is tp:
                del refs[i]
                return refs, [tp]
    return refs, None


def expand_code(code: Any) -> Expansion:
    """A code object's stored constants and names (3.11 code is not GC-tracked)."""
    out = []
    for get in _CODE_MEMBERS:
        try:
            value = get(code)
        except Exception:  # noqa: S112 - a member this build lacks
            continue
        if value is not None:
            out.append(value)
    return out, None, None


def expand_cython(obj: Any) -> Expansion:
    """``tp_traverse`` plus the memoryviews held by typed-memoryview slices."""
    refs, cls = referents(obj)
    with contextlib.suppress(Exception):  # an odd struct: tp_traverse's answer still stands
        refs.extend(cython_memviews(obj))
    return refs, cls, None


class _Ndarray:
    """numpy arrays. ``ndarray.__sizeof__`` counts the buffer of an array that
    owns its data; a view holds its base, invisibly to the GC, so the walk gets
    the base from here and the owner's buffer counts once however many views
    exist. A buffer owned by an object that cannot count it (a capsule, an
    object whose ``__sizeof__`` is ``object``'s) becomes a pseudo node keyed by
    that object."""

    def __init__(self, np: Any, known_owners: tuple[type, ...]) -> None:
        nd = np.ndarray
        self.nd = nd
        self._base = vars(nd)["base"].__get__
        self._dtype = vars(nd)["dtype"].__get__
        self._nbytes = vars(nd)["nbytes"].__get__
        self._view = nd.view
        self._ravel = nd.ravel
        self._tolist = nd.tolist
        self._flat = vars(nd)["flat"].__get__
        self._size = vars(nd)["size"].__get__
        self._kind = vars(np.dtype)["kind"].__get__
        self._known = known_owners

    def _elements(self, obj: Any) -> list[Any] | More | None:
        """The items of an object array: a list, or a chunked source for a big one."""
        if self._kind(self._dtype(obj)) != "O":
            return None
        # A subclass is viewed as a plain ndarray first: ravel on it would call
        # its __array_finalize__ (user code).
        plain = obj if type(obj) is self.nd else self._view(obj, self.nd)
        if self._size(plain) > OBJECT_CHUNK:
            return self._chunks(plain)
        items = self._tolist(self._ravel(plain))
        return items if type(items) is list else [items]

    def _chunks(self, plain: Any) -> More:
        """``more(pos)``: the items ``pos`` to ``pos + OBJECT_CHUNK`` in C order.
        ``flat[a:b]`` copies only that range, whatever the array's layout (a
        ravel of a non-contiguous object array copies all of it at once)."""
        flat = self._flat(plain)
        size = self._size(plain)
        tolist = self._tolist

        def more(pos: int) -> tuple[list[Any], int]:
            end = min(pos + OBJECT_CHUNK, size)
            items = tolist(flat[pos:end])
            return items, (end if end < size else -1)

        return more

    def _foreign(self, base: Any) -> Any:
        """The object at the end of the base chain when it cannot count the buffer."""
        while base is not None and mro_has(type(base), self.nd):
            base = self._base(base)
        if base is None:
            return None
        tp = type(base)
        if any(mro_has(tp, k) for k in self._known):
            return None
        kind, _desc = sizeof_of(tp)
        return base if kind == S_BASIC else None

    def expand(self, obj: Any) -> Expansion:
        out: list[Any] = []
        cls = None
        if type_flags(type(obj)) & TPFLAGS_HAVE_GC:  # a Python subclass: its __dict__, slots
            refs, cls = referents(obj)
            out.extend(refs)
        base = self._base(obj)
        pseudo: list[Pseudo] | None = None
        follow: Any = out
        if base is not None:
            out.append(base)
            foreign = self._foreign(base)
            if foreign is not None:
                pseudo = [(("numpy-buffer", id(foreign)), int(self._nbytes(obj)), "numpy buffer")]
        else:
            items = self._elements(obj)
            if callable(items):
                follow = items if not out else _prefixed(out, items)
            elif items:
                out.extend(items)
        return follow, cls, pseudo


class _Mmap:
    """``mmap.mmap``: the mapping's resident pages, one pseudo node per address."""

    @staticmethod
    def expand(obj: Any) -> Expansion:
        found = mmap_pages(obj)
        if found is None:
            return _EMPTY
        address, resident, file_backed = found
        kind = "mmap pages (file)" if file_backed else "mmap pages (anonymous)"
        return None, None, [(("mmap", address), resident, kind)]


class _Arrow:
    """pyarrow buffers, arrays, chunked arrays, tables, record batches: Arrow
    buffers are pseudo nodes keyed by address (slices and shared columns count once)."""

    def __init__(self, lib: Any) -> None:
        ns = module_dict(lib) or {}
        self.buffer = ns.get("Buffer")
        self.array = ns.get("Array")
        self.chunked = ns.get("ChunkedArray")
        self.tabular = tuple(t for t in (ns.get("Table"), ns.get("RecordBatch")) if t)

    def types(self) -> list[type]:
        return [t for t in (self.buffer, self.array, self.chunked, *self.tabular) if t]

    def _pseudo(self, buf: Any) -> Pseudo | None:
        if buf is None or self.buffer is None:
            return None
        ns = vars(self.buffer)
        address = int(ns["address"].__get__(buf))
        return (("arrow", address), int(ns["size"].__get__(buf)), "pyarrow.Buffer")

    def _arrays(self, obj: Any) -> list[Any]:
        tp = type(obj)
        if self.array is not None and mro_has(tp, self.array):
            return [obj]
        if self.chunked is not None and mro_has(tp, self.chunked):
            return list(vars(self.chunked)["chunks"].__get__(obj))
        for tab in self.tabular:
            if mro_has(tp, tab):
                found, columns = lookup_in_mro(tab, "columns")
                out: list[Any] = []
                if found and type(columns) is types.GetSetDescriptorType:
                    for column in columns.__get__(obj, tab):
                        out.extend(self._arrays(column))
                return out
        return []

    def expand(self, obj: Any) -> Expansion:
        refs, cls = referents(obj)
        pseudo: list[Pseudo] = []
        if self.buffer is not None and mro_has(type(obj), self.buffer):
            found = self._pseudo(obj)
            return refs, cls, [found] if found else None
        if self.array is not None:
            for arr in self._arrays(obj):
                for buf in self.array.buffers(arr):
                    found = self._pseudo(buf)
                    if found is not None:
                        pseudo.append(found)
        return refs, cls, pseudo or None


class _Torch:
    """torch tensors: the storage is a pseudo node keyed by device and address."""

    def __init__(self, tensor_type: type) -> None:
        self._storage = tensor_type.untyped_storage  # type: ignore[attr-defined]

    def expand(self, obj: Any) -> Expansion:
        refs, cls = referents(obj)
        storage = self._storage(obj)
        st = type(storage)
        device = str(st.device.__get__(storage))
        if device == "meta":
            return refs, cls, None
        key = ("torch", device, int(st.data_ptr(storage)))
        kind = "torch storage" if device == "cpu" else f"torch storage ({device})"
        return refs, cls, [(key, int(st.nbytes(storage)), kind)]


def _prefixed(first: list[Any], more: More) -> More:
    """A source that gives ``first`` (then drops it) with its first chunk."""
    pending = [first]

    def source(pos: int) -> tuple[list[Any], int]:
        chunk, nxt = more(pos)
        if pending:
            head = pending.pop()
            head.extend(chunk)
            chunk = head
        return chunk, nxt

    return source


def lru_cache_type() -> type | None:
    """The C ``functools._lru_cache_wrapper`` type, if this Python has one."""
    ns = module_dict(sys.modules.get("functools"))
    found = ns.get("_lru_cache_wrapper") if ns is not None else None
    return found if type(found) is type else None


class Classifier:
    """Builds the :class:`TypeInfo` of each type met during one walk.

    ``ignore``: types whose instances are the scan's own state (the engines,
    the scan object): never nodes. ``noted(tp)``: whether objects of type
    ``tp`` are collected in :attr:`noted` as the walk meets them (the
    resources of a scan); they are always table nodes, so that the walker
    knows their label afterwards.
    """

    def __init__(
        self,
        ignore: tuple[type, ...] = (),
        code: bool = True,
        noted: Callable[[type], bool] | None = None,
    ) -> None:
        self._ignore = ignore
        self._code = code
        self._is_noted = noted
        #: Objects of the noted types, in the order the walk met them.
        self.noted: list[Any] = []
        self._noting = True
        #: Every TypeInfo returned: a late wall (the references they hold are ours).
        self.infos: list[TypeInfo] = []
        self._specials: list[tuple[type, Any]] = []
        self._handlers: list[Any] = []
        self._mmap = _Mmap()
        self._specials.append((_mmap_mod.mmap, self._mmap.expand))
        known: list[type] = [bytes, bytearray, memoryview, _mmap_mod.mmap]
        array_mod = sys.modules.get("array")
        if array_mod is not None:
            known.append(array_mod.array)
        pa_lib = sys.modules.get("pyarrow.lib")
        if pa_lib is not None:
            try:
                arrow = _Arrow(pa_lib)
                self._handlers.append(arrow)
                self._specials.extend((t, arrow.expand) for t in arrow.types())
                known.extend(arrow.types())
            except Exception:  # noqa: S110 - pyarrow without the expected names: no sizer
                pass
        torch = sys.modules.get("torch")
        if torch is not None:
            try:
                tensor = torch.Tensor
                handler = _Torch(tensor)
                self._handlers.append(handler)
                self._specials.append((tensor, handler.expand))
            except Exception:  # noqa: S110 - as above
                pass
        np = sys.modules.get("numpy")
        if np is not None:
            try:
                nd = _Ndarray(np, tuple(known))
                self._handlers.append(nd)
                self._specials.append((np.ndarray, nd.expand))
            except Exception:  # noqa: S110 - as above
                pass

    def own_containers(self) -> list[Any]:
        """The classifier's references to heap objects, for the walls (called
        once the walk is over: nothing is noted after that)."""
        self._noting = False
        return [
            self,
            self._ignore,
            *self._handlers,
            self._handlers,
            self._specials,
            *self._specials,
            self.infos,
            *self.infos,
            self.noted,
        ]

    def classify(self, tp: type) -> TypeInfo:
        """The :class:`TypeInfo` for objects of exactly type ``tp``."""
        info = self._classify(tp)
        if self._is_noted is not None and info.mode not in (M_IGNORE, M_STOP):
            try:
                wanted = self._is_noted(tp)
            except Exception:
                wanted = False
            if wanted:
                info = self._noting_info(info)
        self.infos.append(info)
        return info

    def _noting_info(self, info: TypeInfo) -> TypeInfo:
        """``info`` for a noted type: the same references through an expander
        that notes the object first, and always a table node."""
        base = info.expander
        mode = info.mode
        if mode in (M_DICT, M_SEQ, M_SET):  # containers are no resource: walked as usual
            return info._replace(inline_ok=False)
        noted = self.noted

        def note(obj: Any) -> Expansion:
            if self._noting:
                noted.append(obj)
            if mode == M_EXPAND and base is not None:
                return base(obj)  # type: ignore[no-any-return]
            if mode == M_TRAVERSE:
                follow, cls = referents(obj)
                return follow, cls, None
            return _EMPTY

        return info._replace(mode=M_EXPAND, expander=note, inline_ok=False)

    def _info(self, tp: type, mode: int, expander: Any = None, inline_ok: bool = True) -> TypeInfo:
        kind, desc = sizeof_of(tp)
        xoff, xmask, xbytes = inline_values(tp)
        return TypeInfo(
            mode,
            kind,
            desc,
            pre_header(tp),
            xoff,
            xmask,
            xbytes,
            expander,
            inline_ok,
            type_name(tp),
        )

    def _classify(self, tp: type) -> TypeInfo:  # noqa: PLR0911 - one answer per family
        if any(tp is t for t in self._ignore):
            return TypeInfo(M_IGNORE, S_BASIC, None, 0, 0, 0, 0, None, False, type_name(tp))
        flags = type_flags(tp)
        if flags & TPFLAGS_TYPE_SUBCLASS:  # a metaclass: its instances are classes
            return self._info(tp, M_TRAVERSE, inline_ok=False)
        mro = type_mro(tp)
        if any(c is types.ModuleType for c in mro):
            return self._info(tp, M_STOP)
        if tp is types.CodeType:
            return self._info(
                tp, M_EXPAND if self._code else M_LEAF, expand_code if self._code else None
            )
        for base, expander in self._specials:
            if any(c is base for c in mro):
                return self._info(tp, M_EXPAND, expander)
        if tp is list or tp is tuple:
            return self._info(tp, M_SEQ)
        if tp is set or tp is frozenset:
            return self._info(tp, M_SET)
        if any(c is dict for c in mro):
            return self._info(tp, M_DICT)
        if is_cython_extension(tp):
            return self._info(tp, M_EXPAND, expand_cython)
        if not flags & TPFLAGS_HAVE_GC:
            return self._info(tp, M_LEAF)
        return self._info(tp, M_TRAVERSE)


#: Types whose objects are structure shared by everyone, not anybody's data:
#: code outside a walk (growth estimates) stops there.
_BOUNDARY_TYPES: Final = (
    types.ModuleType,
    types.CodeType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MemberDescriptorType,
    types.GetSetDescriptorType,
    types.ClassMethodDescriptorType,
    types.BuiltinFunctionType,
)


class Sizer:
    """The walk's sizes and references of single objects, for code outside a walk
    (growth estimates, what a release would free, cyclic garbage).

    ``user_modules``: modules whose functions are data (their closures and
    defaults are followed); other functions, classes, modules, code and C
    descriptors are boundaries.
    """

    def __init__(self, user_modules: frozenset[str] = frozenset()) -> None:
        self._classifier = Classifier(code=False)
        self._infos: dict[int, TypeInfo] = {}
        self._types: list[type] = []  # held: their ids key _infos
        self._user_modules = user_modules

    def info(self, tp: type) -> TypeInfo:
        """The walk's :class:`TypeInfo` for type ``tp``."""
        found = self._infos.get(id(tp))
        if found is None:
            found = self._infos[id(tp)] = self._classifier.classify(tp)
            self._types.append(tp)
        return found

    def size(self, obj: Any) -> int:
        """Bytes of ``obj`` itself, as the walk counts them."""
        return object_size(obj, self.info(type(obj)))

    def boundary(self, obj: Any) -> bool:
        """Whether ``obj`` is shared structure (a class, a module, code, a C
        descriptor, a library's function) rather than data."""
        tp = type(obj)
        if type_flags(tp) & TPFLAGS_TYPE_SUBCLASS or any(mro_has(tp, t) for t in _BOUNDARY_TYPES):
            return True
        if tp is types.FunctionType:
            module = func_module(obj)
            return not (module == "__main__" or module in self._user_modules)
        return False

    def references(self, obj: Any) -> tuple[list[Any], list[Pseudo]]:
        """``(objects obj refers to, pseudo nodes (key, nbytes, kind))``, as the
        walk would follow them."""
        info = self.info(type(obj))
        mode = info.mode
        if mode in (M_LEAF, M_IGNORE, M_STOP):
            return [], []
        if mode == M_DICT:
            if type(obj) is dict:
                return [*dict.keys(obj), *dict.values(obj)], []
            refs = referents(obj)[0]
            keys = list(dict.keys(obj))
            if all(type(k) is str for k in keys):
                refs.extend(keys)
            return refs, []
        if mode == M_EXPAND and info.expander is not None:
            try:
                follow, _count, pseudo = info.expander(obj)
            except Exception:  # a closed file, a released buffer: nothing more
                return [], []
            return materialise(follow), list(pseudo or ())
        return referents(obj)[0], []


__all__ = [
    "OBJECT_CHUNK",
    "Classifier",
    "Pseudo",
    "Sizer",
    "expand_code",
    "expand_cython",
    "lru_cache_type",
    "referents",
]
