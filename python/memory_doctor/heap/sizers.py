"""Known-type sizers for the retained-size scan: how big an object is, how to walk it.

Everything here sizes objects without running user code (the readers are in
``heap/introspect.py``):

- an object's size is ``sys.getsizeof`` only when the ``__sizeof__`` that call
  would resolve to is implemented in C; otherwise the first C ``__sizeof__`` in
  the MRO is called unbound (``object.__sizeof__(obj)``) and the GC/managed-dict
  pre-header is added by hand;
- library types (numpy, mmap, pyarrow, torch) are only looked at when their
  module is already in ``sys.modules``; nothing is imported for the scan.

:meth:`Classifier.classify` maps a type to a :class:`TypeInfo`: how the walk
expands an object of that type (``EXP_*``) and how it sizes it. Types with
hidden references or external buffers get a :class:`Special` handler.
"""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Callable
from typing import Any, Final

from ..log import quiet_logger
from .introspect import (
    C_DESCRIPTOR_TYPES,
    builtin_self,
    frame_back,
    frame_locals,
    func_globals,
    func_module,
    func_parts,
    lookup_in_mro,
    module_dict,
    mro_has,
    type_flags,
    type_mro,
    type_name,
    type_ns,
)

_log = quiet_logger(__name__)

_TPFLAGS_HAVE_GC: Final = 1 << 14
# 3.11 moved the instance dict (and 3.12 the weakref list) in front of the
# object; sys.getsizeof counts that pre-header, object.__sizeof__ does not.
_TPFLAGS_MANAGED: Final = (1 << 4) | (1 << 3) if sys.version_info >= (3, 12) else 1 << 4

# --------------------------------------------------------------------------- sizes

_GC_HEAD: Final = sys.getsizeof([]) - [].__sizeof__()


class _Probe:
    pass


# The pre-header of an ordinary user class instance (GC head + managed dict/weakref).
_FULL_PRE: Final = sys.getsizeof(_Probe()) - object.__sizeof__(_Probe())


def pre_header(tp: type) -> int:
    """Bytes in front of an object of type ``tp`` that ``__sizeof__`` leaves out."""
    flags = type_flags(tp)
    if not flags & _TPFLAGS_HAVE_GC:
        return 0
    if flags & _TPFLAGS_MANAGED:
        return max(_FULL_PRE, _GC_HEAD)
    return _GC_HEAD


def _c_sizeof(tp: type) -> tuple[bool, Callable[[Any], int] | None]:
    """``(sys.getsizeof is safe, first C __sizeof__ in the MRO)``."""
    first = True
    for cls in type_mro(tp):
        try:
            impl = type_ns(cls).get("__sizeof__")
        except Exception:  # noqa: S112 - as in lookup_in_mro
            continue
        if impl is None:
            continue
        if type(impl) in C_DESCRIPTOR_TYPES:
            return first, impl
        first = False  # a Python-level __sizeof__: user (or library) code we must not run
    return False, object.__sizeof__


# --------------------------------------------------------------------------- classification

#: How the walk treats an object of a type.
EXP_WALL: Final = 0  # never counted, never entered (types, modules, library functions, code)
EXP_LEAF: Final = 1  # counted, has no references (str, int, float, bytes, ...)
EXP_PLAIN: Final = 2  # counted, references from gc.get_referents
EXP_DICT: Final = 3  # as PLAIN, plus the keys gc.get_referents skips for str-keyed dicts
EXP_SPECIAL: Final = 4  # a Special handler sizes and expands it

#: A pseudo node: memory outside Python objects (a buffer, a storage, mapped pages),
#: counted once per ``key`` however many objects refer to it.
#: ``(key, nbytes, type_name, device or None, file_backed)``.
Pseudo = tuple[tuple[Any, ...], int, str, "str | None", bool]


def _wall_size(obj: Any) -> int:
    return -1


class TypeInfo:
    """What the scan knows about one type; built once per type per scan."""

    __slots__ = ("exp", "fast", "name", "sizer", "special", "tp")

    def __init__(
        self,
        tp: type,
        exp: int,
        sizer: Callable[[Any], int],
        special: Special | None = None,
    ) -> None:
        #: The type itself, held so that its id cannot be reused during the scan.
        self.tp = tp
        self.exp = exp
        #: ``sizer(obj)``: bytes, or -1 when this particular object is a wall.
        self.sizer = sizer
        #: ``sizer is sys.getsizeof``: lets a batch of such objects be sized in C.
        self.fast = sizer is sys.getsizeof
        self.special = special
        self.name = type_name(tp)


class Special:
    """Sizes and expands the objects of one family of types."""

    #: Shown in composition for pseudo nodes; set by subclasses that make them.
    kind = "special"

    def size(self, obj: Any) -> int:
        """Bytes of ``obj`` itself, or -1 if this object is a wall."""
        return sys.getsizeof(obj)

    def expand(self, obj: Any, ctx: Context) -> tuple[list[Any], list[Pseudo]]:
        """``obj``'s references and the pseudo nodes (buffers) it holds."""
        return gc.get_referents(obj), []


class Context:
    """Per-scan facts the handlers need: user modules and objects that stop the walk."""

    def __init__(self, user_modules: frozenset[str], stop_ids: set[int]) -> None:
        self.user_modules = user_modules
        #: Functions and caches whose closures, defaults and stores are roots of their
        #: own: reached from elsewhere they contribute only themselves and their __dict__.
        self.stop_ids = stop_ids
        #: Frames executing on some thread now (refreshed at each scan step).
        self.live_frames: set[int] = set()

    def is_user_module(self, module: str | None) -> bool:
        """Whether code from ``module`` is the user's (``__main__`` or a user module)."""
        return module is not None and (module == "__main__" or module in self.user_modules)


class _FunctionSpecial(Special):
    """Plain functions: user functions are entered, library functions are walls."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def size(self, obj: Any) -> int:
        if not self._ctx.is_user_module(func_module(obj)):
            return -1
        return sys.getsizeof(obj)

    def expand(self, obj: Any, ctx: Context) -> tuple[list[Any], list[Pseudo]]:
        refs = gc.get_referents(obj)
        if id(obj) in ctx.stop_ids:
            closure, defaults, kwdefaults = func_parts(obj)
            refs = [
                r for r in refs if r is not closure and r is not defaults and r is not kwdefaults
            ]
        glob = func_globals(obj)
        # Name, qualname, module and doc strings are shared with the code object (a
        # wall) and with every function of the module: counting them would only
        # make tiny "shared" holders out of every function in the notebook.
        return [r for r in refs if r is not glob and type(r) is not str], []


class _BuiltinSpecial(Special):
    """Builtin functions: module functions are walls, bound C methods hold their self."""

    def size(self, obj: Any) -> int:
        owner = builtin_self(obj)
        if owner is None or mro_has(type(owner), types.ModuleType):
            return -1
        return sys.getsizeof(obj)


class _LruSpecial(Special):
    """``functools.lru_cache``/``cache`` wrappers (C type).

    The cache's entries hang off non-GC link objects that only the wrapper's
    ``tp_traverse`` visits, so the store is reached through the wrapper.
    """

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        wrapper_type = lru_cache_type()
        desc = type_ns(wrapper_type).get("__dict__") if wrapper_type is not None else None
        self._dict_get = desc.__get__ if type(desc) is types.GetSetDescriptorType else None

    def wrapped(self, obj: Any) -> Any:
        """The decorated function (the one ``types.FunctionType`` among the referents)."""
        for ref in gc.get_referents(obj):
            if type(ref) is types.FunctionType:
                return ref
        return None

    def own_dict(self, obj: Any) -> Any:
        """The wrapper's ``__dict__`` (``__wrapped__``, ``__doc__``, ...)."""
        if self._dict_get is None:
            return None
        try:
            return self._dict_get(obj)
        except Exception:
            return None

    def size(self, obj: Any) -> int:
        func = self.wrapped(obj)
        if func is None or not self._ctx.is_user_module(func_module(func)):
            return -1  # a library's cache belongs to the library
        return sys.getsizeof(obj)

    def expand(self, obj: Any, ctx: Context) -> tuple[list[Any], list[Pseudo]]:
        if id(obj) in ctx.stop_ids:
            own = self.own_dict(obj)
            return ([own] if own is not None else []), []
        return self.store(obj), []

    def store(self, obj: Any) -> list[Any]:
        """What the cache holds: keys, results and the cache dict, not the function."""
        own = self.own_dict(obj)
        return [
            r
            for r in gc.get_referents(obj)
            if r is not own and type(r) is not types.FunctionType and type(r) is not object
        ]


def lru_cache_type() -> type | None:
    """The C ``functools._lru_cache_wrapper`` type, if this Python has one."""
    functools_mod = sys.modules.get("functools")
    ns = module_dict(functools_mod) if functools_mod is not None else None
    found = ns.get("_lru_cache_wrapper") if ns is not None else None
    return found if type(found) is type else None


class _FrameSpecial(Special):
    """Frames. A frame still executing (a running thread's stack) shows the GC
    nothing but ``f_back``/``f_trace`` in 3.11+, so its locals are read through
    ``f_locals`` and its caller through ``f_back`` (C getters, as debuggers do)."""

    def expand(self, obj: Any, ctx: Context) -> tuple[list[Any], list[Pseudo]]:
        refs = gc.get_referents(obj)
        if id(obj) not in ctx.live_frames:
            # Finished (a traceback's frame): the GC sees everything. Suspended in a
            # generator: the generator shows its locals, and reading f_locals here
            # would add references to objects already counted as singly held.
            return refs, []
        back = frame_back(obj)
        if back is not None:
            refs.append(back)
        local_vars = frame_locals(obj)
        if type(local_vars) is dict:
            refs.extend(dict.values(local_vars))
        else:  # 3.13+: a FrameLocalsProxy (C)
            refs.extend(type(local_vars).values(local_vars))
        return refs, []


class NdarraySpecial(Special):
    """numpy arrays: the data buffer belongs to the array that owns it.

    ``ndarray.__sizeof__`` (C) counts the buffer only when the array owns it; a
    view is its header plus a reference to ``.base`` (hidden from the GC, which
    does not track arrays), so the owner's buffer is counted once however many
    views exist. Object arrays hold their elements, also hidden from the GC.
    """

    def __init__(self, np: Any) -> None:
        nd = np.ndarray
        self._nd = nd
        self._base = vars(nd)["base"].__get__
        self._dtype = vars(nd)["dtype"].__get__
        self._view = nd.view
        self._ravel = nd.ravel
        self._tolist = nd.tolist
        self._sizeof = vars(nd)["__sizeof__"]
        self._kind = vars(np.dtype)["kind"].__get__

    def elements(self, obj: Any) -> list[Any] | None:
        """The items of an object array (None for other dtypes).

        A subclass is first viewed as a plain ``ndarray``: ``ravel`` on the
        subclass itself would call its ``__array_finalize__`` (user code).
        """
        if self._kind(self._dtype(obj)) != "O":
            return None
        plain = obj if type(obj) is self._nd else self._view(obj, self._nd)
        items = self._tolist(self._ravel(plain))
        return items if type(items) is list else [items]

    def size(self, obj: Any) -> int:
        return int(self._sizeof(obj)) + pre_header(type(obj))

    def expand(self, obj: Any, ctx: Context) -> tuple[list[Any], list[Pseudo]]:
        out: list[Any] = []
        if type_flags(type(obj)) & _TPFLAGS_HAVE_GC:  # a Python subclass: its __dict__
            out.extend(gc.get_referents(obj))
        base = self._base(obj)
        if base is not None:
            out.append(base)
        else:
            out.extend(self.elements(obj) or ())
        return out, []


class _MmapSpecial(Special):
    """``mmap.mmap``: the mapping is a pseudo node, file-backed unless anonymous."""

    kind = "mmap"

    def __init__(self, mmap_type: Any) -> None:
        self._len = mmap_type.__len__
        self._size = mmap_type.size

    def expand(self, obj: Any, ctx: Context) -> tuple[list[Any], list[Pseudo]]:
        try:
            length = int(self._len(obj))
        except (ValueError, OSError):  # closed
            return [], []
        try:
            self._size(obj)  # anonymous maps have no file to ask
            file_backed = True
        except (ValueError, OSError):
            file_backed = False
        return [], [(("mmap", id(obj)), length, "mmap.mmap[pages]", None, file_backed)]


class _ArrowSpecial(Special):
    """pyarrow arrays, chunked arrays, tables, record batches and buffers.

    Their memory is in Arrow buffers outside Python objects; each buffer is a
    pseudo node keyed by its address, so slices and the columns a table
    shares with an array count once.
    """

    kind = "arrow"

    def __init__(self, lib: Any) -> None:
        ns = module_dict(lib) or {}
        self._buffer = ns.get("Buffer")
        self._array = ns.get("Array")
        self._chunked = ns.get("ChunkedArray")
        self._tabular = tuple(t for t in (ns.get("Table"), ns.get("RecordBatch")) if t)

    def types(self) -> list[type]:
        """The pyarrow types this handler covers."""
        return [t for t in (self._buffer, self._array, self._chunked, *self._tabular) if t]

    def size(self, obj: Any) -> int:
        return int(object.__sizeof__(obj)) + pre_header(type(obj))

    def _buffer_pseudo(self, buf: Any) -> Pseudo | None:
        if buf is None or self._buffer is None:
            return None
        bt = self._buffer
        address = int(vars(bt)["address"].__get__(buf))
        size = int(vars(bt)["size"].__get__(buf))
        return (("arrow", address), size, "pyarrow.Buffer", None, False)

    def _arrays(self, obj: Any) -> list[Any]:
        tp = type(obj)
        if self._array is not None and mro_has(tp, self._array):
            return [obj]
        if self._chunked is not None and mro_has(tp, self._chunked):
            return list(vars(self._chunked)["chunks"].__get__(obj))
        for tab in self._tabular:
            if mro_has(tp, tab):
                found, columns = lookup_in_mro(tab, "columns")  # defined on _Tabular
                out: list[Any] = []
                if found and type(columns) is types.GetSetDescriptorType:
                    for column in columns.__get__(obj, tab):
                        out.extend(self._arrays(column))
                return out
        return []

    def expand(self, obj: Any, ctx: Context) -> tuple[list[Any], list[Pseudo]]:
        refs = gc.get_referents(obj)
        pseudo: list[Pseudo] = []
        if self._buffer is not None and mro_has(type(obj), self._buffer):
            found = self._buffer_pseudo(obj)
            return refs, [found] if found else []
        if self._array is None:
            return refs, pseudo
        for arr in self._arrays(obj):
            for buf in self._array.buffers(arr):
                found = self._buffer_pseudo(buf)
                if found is not None:
                    pseudo.append(found)
        return refs, pseudo


class _TorchSpecial(Special):
    """torch tensors: the storage is a pseudo node keyed by device and address."""

    kind = "torch"

    def __init__(self, tensor_type: type) -> None:
        self._storage = tensor_type.untyped_storage  # type: ignore[attr-defined]

    def size(self, obj: Any) -> int:
        return int(object.__sizeof__(obj)) + pre_header(type(obj))

    def expand(self, obj: Any, ctx: Context) -> tuple[list[Any], list[Pseudo]]:
        refs = gc.get_referents(obj)
        storage = self._storage(obj)
        st = type(storage)
        device = str(st.device.__get__(storage))
        if device == "meta":
            return refs, []
        ptr = int(st.data_ptr(storage))
        nbytes = int(st.nbytes(storage))
        return refs, [
            (
                ("torch", device, ptr),
                nbytes,
                "torch.UntypedStorage",
                None if device == "cpu" else device,
                False,
            )
        ]


_WALL_TYPES: Final = (
    types.ModuleType,
    types.CodeType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MemberDescriptorType,
    types.GetSetDescriptorType,
    types.ClassMethodDescriptorType,
)


class Classifier:
    """Builds the :class:`TypeInfo` of each type met during one scan."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._function = _FunctionSpecial(ctx)
        self._builtin = _BuiltinSpecial()
        self._frame = _FrameSpecial()
        self.lru = _LruSpecial(ctx)
        self._lru_type = lru_cache_type()
        self._specials: list[tuple[type, Special]] = []
        self.ndarray_type: type | None = None
        np = sys.modules.get("numpy")
        if np is not None:
            try:
                self.ndarray_type = np.ndarray
                self._specials.append((np.ndarray, NdarraySpecial(np)))
            except Exception:
                _log.debug("numpy sizer unavailable", exc_info=True)
        mmap_mod = sys.modules.get("mmap")
        if mmap_mod is not None:
            try:
                self._specials.append((mmap_mod.mmap, _MmapSpecial(mmap_mod.mmap)))
            except Exception:
                _log.debug("mmap sizer unavailable", exc_info=True)
        pa_lib = sys.modules.get("pyarrow.lib")
        if pa_lib is not None:
            try:
                arrow = _ArrowSpecial(pa_lib)
                self._specials.extend((t, arrow) for t in arrow.types())
            except Exception:
                _log.debug("pyarrow sizer unavailable", exc_info=True)
        torch = sys.modules.get("torch")
        if torch is not None:
            try:
                tensor = torch.Tensor
                self._specials.append((tensor, _TorchSpecial(tensor)))
            except Exception:
                _log.debug("torch sizer unavailable", exc_info=True)

    def _exact(self, tp: type) -> TypeInfo | None:
        """Types handled by identity: functions, frames, builtins, caches."""
        if tp is types.FunctionType:
            return TypeInfo(tp, EXP_SPECIAL, self._function.size, self._function)
        if tp is types.FrameType:
            return TypeInfo(tp, EXP_SPECIAL, sys.getsizeof, self._frame)
        if tp is types.BuiltinFunctionType:
            return TypeInfo(tp, EXP_PLAIN, self._builtin.size)
        if tp is self._lru_type:
            return TypeInfo(tp, EXP_SPECIAL, self.lru.size, self.lru)
        return None

    def classify(self, tp: type) -> TypeInfo:
        """The :class:`TypeInfo` for objects of exactly type ``tp``."""
        mro = type_mro(tp)
        # A metaclass (its instances are classes), modules, code, C descriptors: walls.
        if any(any(cls is wall for cls in mro) for wall in (type, *_WALL_TYPES)):
            return TypeInfo(tp, EXP_WALL, _wall_size)
        exact = self._exact(tp)
        if exact is not None:
            return exact
        for base, special in self._specials:
            if any(cls is base for cls in mro):
                return TypeInfo(tp, EXP_SPECIAL, special.size, special)
        getsizeof_ok, c_sizeof = _c_sizeof(tp)
        if getsizeof_ok:
            sizer: Callable[[Any], int] = sys.getsizeof
        else:
            sizer = _header_sizer(c_sizeof or object.__sizeof__, pre_header(tp))
        if not type_flags(tp) & _TPFLAGS_HAVE_GC:
            exp = EXP_LEAF
        elif any(cls is dict for cls in mro):
            exp = EXP_DICT
        else:
            exp = EXP_PLAIN
        return TypeInfo(tp, exp, sizer)


def _header_sizer(c_sizeof: Callable[[Any], int], header: int) -> Callable[[Any], int]:
    def size(obj: Any) -> int:
        try:
            return int(c_sizeof(obj)) + header
        except Exception:
            return header

    return size
