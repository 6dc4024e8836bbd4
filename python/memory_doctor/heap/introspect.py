"""Safe introspection: read types, functions, frames and instances without user code.

The rules every reader here keeps:

- an object's type is ``type(obj)``, never ``obj.__class__`` (a proxy can lie);
- a type's attributes are read through the C getters of ``type`` itself
  (``type.__dict__['__mro__'].__get__(tp)`` and friends) and its namespace
  through the ``mappingproxy`` those return, so a metaclass's
  ``__getattribute__``/``__getattr__`` never runs;
- functions, methods, cells, frames and tracebacks are read through the C
  getters of their exact types (``vars(types.FunctionType)['__closure__']``);
- an instance's ``__dict__`` and slots are read through the descriptors the
  type got at creation, never through a ``__dict__`` property.

The scan, the roots, the resource describers and the fixes read objects only
through these functions.
"""

from __future__ import annotations

import keyword
import sys
import types
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:  # typing.TypeGuard needs 3.10; annotations are not evaluated at runtime
    from typing_extensions import TypeGuard

_T = TypeVar("_T")

# --------------------------------------------------------------------------- type access

_TYPE_DICT = type.__dict__
#: C getters on ``type``: none of them can be overridden by a metaclass.
_MRO_OF: Final = _TYPE_DICT["__mro__"].__get__
_NS_OF: Final = _TYPE_DICT["__dict__"].__get__
_FLAGS_OF: Final = _TYPE_DICT["__flags__"].__get__
_MODULE_OF: Final = _TYPE_DICT["__module__"].__get__
_QUALNAME_OF: Final = _TYPE_DICT["__qualname__"].__get__
_BASICSIZE_OF: Final = _TYPE_DICT["__basicsize__"].__get__

TPFLAGS_HAVE_GC: Final = 1 << 14
TPFLAGS_HEAPTYPE: Final = 1 << 9
#: 3.11: managed dict (bit 4); 3.12 adds the managed weakref (bit 3).
TPFLAGS_MANAGED_DICT: Final = 1 << 4
TPFLAGS_MANAGED_WEAKREF: Final = 1 << 3
TPFLAGS_TYPE_SUBCLASS: Final = 1 << 31

PY311: Final = sys.version_info[:2] == (3, 11)
PY312: Final = sys.version_info[:2] == (3, 12)


def type_mro(tp: type) -> tuple[type, ...]:
    """``tp.__mro__`` through the C getter (a metaclass cannot intercept it)."""
    try:
        return _MRO_OF(tp)  # type: ignore[no-any-return]
    except Exception:  # a half-built type: treat it as having no bases
        return (tp,)


def type_ns(tp: type) -> Any:
    """``vars(tp)``: the read-only mappingproxy of the type's namespace."""
    return _NS_OF(tp)


def type_flags(tp: type) -> int:
    """``tp.__flags__`` through the C getter."""
    try:
        return int(_FLAGS_OF(tp))
    except Exception:
        return 0


def type_basicsize(tp: type) -> int:
    """``tp.__basicsize__`` through the C getter."""
    try:
        return int(_BASICSIZE_OF(tp))
    except Exception:
        return 0


def is_type(obj: Any) -> bool:
    """Whether ``obj`` is a class (its type's flags say "type subclass")."""
    return bool(type_flags(type(obj)) & TPFLAGS_TYPE_SUBCLASS)


def mro_has(tp: type, base: type) -> bool:
    """``issubclass(tp, base)`` by identity over the MRO (no ``__subclasscheck__``)."""
    return any(cls is base for cls in type_mro(tp))


def is_a(obj: object, base: type[_T]) -> TypeGuard[_T]:
    """``isinstance(obj, base)`` without its fallback to ``obj.__class__``.

    ``isinstance`` reads ``obj.__class__`` when the real type does not match,
    which runs a proxy's property; this only looks at ``type(obj)``.
    """
    return any(cls is base for cls in type_mro(type(obj)))


def lookup_in_mro(tp: type, name: str) -> tuple[bool, Any]:
    """The raw namespace value ``name`` resolves to on ``tp`` (no descriptor call)."""
    for cls in type_mro(tp):
        try:
            ns = type_ns(cls)
            if name in ns:
                return True, ns[name]
        except Exception:  # noqa: S112 - a half-built class in the MRO: look further
            continue
    return False, None


def type_name(tp: type) -> str:
    """``module.qualname`` of a type, read through the C getters of ``type``."""
    try:
        module = _MODULE_OF(tp)
    except Exception:
        module = None
    try:
        qualname = _QUALNAME_OF(tp)
    except Exception:
        qualname = None
    qual = qualname if type(qualname) is str else "?"
    if type(module) is str and module:
        return f"{module}.{qual}"
    return qual


def type_module(tp: type) -> str | None:
    """The ``__module__`` of a type if it is a string, else None."""
    try:
        module = _MODULE_OF(tp)
    except Exception:
        return None
    return module if type(module) is str else None


# --------------------------------------------------------------------------- object access

_FUNC_NS = vars(types.FunctionType)
_func_module: Final = _FUNC_NS["__module__"].__get__
_func_closure: Final = _FUNC_NS["__closure__"].__get__
_func_defaults: Final = _FUNC_NS["__defaults__"].__get__
_func_kwdefaults: Final = _FUNC_NS["__kwdefaults__"].__get__
_func_globals: Final = _FUNC_NS["__globals__"].__get__
_func_qualname: Final = _FUNC_NS["__qualname__"].__get__
_cell_contents: Final = vars(types.CellType)["cell_contents"].__get__
_method_self: Final = vars(types.MethodType)["__self__"].__get__
_method_func: Final = vars(types.MethodType)["__func__"].__get__
_builtin_self: Final = vars(types.BuiltinFunctionType)["__self__"].__get__
_module_dict: Final = vars(types.ModuleType)["__dict__"].__get__
frame_back: Final = vars(types.FrameType)["f_back"].__get__
frame_locals: Final = vars(types.FrameType)["f_locals"].__get__
frame_globals: Final = vars(types.FrameType)["f_globals"].__get__
traceback_next: Final = vars(types.TracebackType)["tb_next"].__get__
traceback_frame: Final = vars(types.TracebackType)["tb_frame"].__get__
staticmethod_func: Final = vars(staticmethod)["__func__"].__get__
classmethod_func: Final = vars(classmethod)["__func__"].__get__

GENERATOR_FRAME: Final = {
    id(types.GeneratorType): (vars(types.GeneratorType)["gi_frame"].__get__, ".gi_frame"),
    id(types.CoroutineType): (vars(types.CoroutineType)["cr_frame"].__get__, ".cr_frame"),
    id(types.AsyncGeneratorType): (
        vars(types.AsyncGeneratorType)["ag_frame"].__get__,
        ".ag_frame",
    ),
}

C_DESCRIPTOR_TYPES: Final = (
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.BuiltinFunctionType,
    types.ClassMethodDescriptorType,
)


def func_module(func: types.FunctionType) -> str | None:
    """A function's ``__module__`` if it is a string."""
    try:
        module = _func_module(func)
    except Exception:
        return None
    return module if type(module) is str else None


def func_parts(func: types.FunctionType) -> tuple[Any, Any, Any]:
    """``(__closure__, __defaults__, __kwdefaults__)`` of a plain function."""
    try:
        return _func_closure(func), _func_defaults(func), _func_kwdefaults(func)
    except Exception:
        return None, None, None


def func_globals(func: types.FunctionType) -> Any:
    """A function's ``__globals__`` dict."""
    try:
        return _func_globals(func)
    except Exception:
        return None


def func_qualname(func: types.FunctionType) -> str:
    """A function's ``__qualname__`` (always a string for real functions)."""
    try:
        name = _func_qualname(func)
    except Exception:
        return "?"
    return name if type(name) is str else "?"


def cell_contents(cell: types.CellType) -> tuple[bool, Any]:
    """``(True, contents)`` of a closure cell, or ``(False, None)`` when empty."""
    try:
        return True, _cell_contents(cell)
    except ValueError:  # an empty cell raises ValueError
        return False, None


def module_dict(module: Any) -> dict[str, Any] | None:
    """``vars(module)`` through the C getter of ``ModuleType``."""
    try:
        found = _module_dict(module)
    except Exception:
        return None
    return found if type(found) is dict else None


def module_attr(module_name: str, name: str) -> Any:
    """``name`` in the already imported module ``module_name``, else None."""
    return (module_dict(sys.modules.get(module_name)) or {}).get(name)


def method_parts(method: types.MethodType) -> tuple[Any, Any]:
    """``(__self__, __func__)`` of a bound method."""
    return _method_self(method), _method_func(method)


def builtin_self(func: types.BuiltinFunctionType) -> Any:
    """``__self__`` of a builtin function or method (a module for module functions)."""
    try:
        return _builtin_self(func)
    except Exception:
        return None


def instance_dict(obj: Any) -> dict[Any, Any] | None:
    """The instance ``__dict__`` through the C getter the type got at creation.

    A class that defines its own ``__dict__`` (a property, say) gets nothing:
    calling it would run user code.
    """
    found, desc = lookup_in_mro(type(obj), "__dict__")
    if not found or type(desc) is not types.GetSetDescriptorType:
        return None
    try:
        value = desc.__get__(obj, type(obj))
    except Exception:
        return None
    return value if is_a(value, dict) else None


def slot_values(obj: Any) -> list[tuple[str, Any]]:
    """``(name, value)`` of every set ``__slots__`` member (C member descriptors)."""
    out: list[tuple[str, Any]] = []
    for cls in type_mro(type(obj)):
        try:
            items = list(type_ns(cls).items())
        except Exception:  # noqa: S112 - as in lookup_in_mro
            continue
        for name, desc in items:
            if type(desc) is types.MemberDescriptorType and type(name) is str:
                try:
                    out.append((name, desc.__get__(obj, type(obj))))
                except Exception:  # noqa: S112 - an unset slot raises AttributeError
                    continue
    return out


def safe_key_repr(key: Any) -> str | None:
    """``repr(key)`` for keys of exact builtin types whose repr is known C code."""
    tp = type(key)
    if tp in (str, int, float, bool, bytes) or key is None:
        text = repr(key)
        return text if len(text) <= 200 else None
    if tp is tuple and len(key) <= 8:
        parts = [safe_key_repr(item) for item in key]
        if all(part is not None for part in parts):
            inner = ", ".join(p for p in parts if p is not None)
            return f"({inner},)" if len(parts) == 1 else f"({inner})"
    return None


def instance_dict_descriptor(tp: type) -> Any:
    """The C getset ``__dict__`` descriptor of ``tp``, or None (a property named
    ``__dict__`` would be user code)."""
    found, desc = lookup_in_mro(tp, "__dict__")
    if found and type(desc) is types.GetSetDescriptorType:
        return desc
    return None


def top_package(name: str) -> str:
    """``'a.b.c' -> 'a'``."""
    return name.partition(".")[0]


def is_identifier(name: object) -> bool:
    """Whether ``name`` can follow a dot in pasted Python."""
    return type(name) is str and name.isidentifier() and not keyword.iskeyword(name)
