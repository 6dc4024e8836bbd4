"""Roots of the retained-size scan: everything that can keep data alive in a notebook.

:func:`enumerate_roots` lists them in ``HOLDER_KINDS`` order without running
user code: user variables, IPython's output cache and its hidden copies, the
last exception, closures and default arguments of the user's functions, class
attributes of the user's classes, ``lru_cache`` stores, frames of running
threads, suspended generators and coroutines, and globals of modules the user
wrote. Library modules, classes and functions are walls: their state is the
library's, not the user's.

A function bound to a user variable is not split up: the variable's walk
reaches its closure cells and defaults, so ``del scale`` frees what they hold
and the holder is ``scale``. An ``lru_cache`` store is a root of its own,
labelled with the cached function's name (its fix, ``cache_clear()``, works
whoever else holds the function).

Each root is its own entry even when several name the same object (``big``,
``Out[3]``, ``_3``): the scan then reports them together as one holder, which
is exactly the "deleting ``big`` alone frees nothing" trap users need to see.
"""

from __future__ import annotations

import gc
import os
import re
import sys
import threading
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import compress
from typing import Any, Final

from ..log import quiet_logger
from ..protocol import HOLDER_KINDS
from .introspect import (
    GENERATOR_FRAME,
    cell_contents,
    classmethod_func,
    frame_globals,
    func_module,
    func_parts,
    instance_dict,
    is_a,
    is_identifier,
    lookup_in_mro,
    method_parts,
    module_dict,
    mro_has,
    safe_key_repr,
    staticmethod_func,
    type_module,
    type_ns,
)
from .ownership import is_kernel_thread
from .sizers import lru_cache_type

_log = quiet_logger(__name__)

#: Names IPython keeps in the user namespace for itself.
_IPYTHON_NAMES: Final = frozenset(
    {"In", "Out", "_ih", "_oh", "_dh", "_sh", "exit", "quit", "get_ipython"}
)
#: ``_i``, ``_ii``, ``_iii``, ``_i7`` (input history) and ``_7`` (output cache).
_INPUT_NAME: Final = re.compile(r"_i{1,3}\d*\Z")
_OUTPUT_NAME: Final = re.compile(r"_\d+\Z")
_OUTPUT_ALIASES: Final = ("_", "__", "___")
#: Module attributes every module has; they hold nothing of the user's.
_MODULE_DUNDERS: Final = frozenset(
    {
        "__name__",
        "__doc__",
        "__package__",
        "__loader__",
        "__spec__",
        "__file__",
        "__cached__",
        "__builtins__",
        "__builtin__",
        "__annotations__",
        "__path__",
    }
)
#: How deep closures of closures (decorators) are followed for roots.
_MAX_FUNCTION_DEPTH: Final = 4
_KIND_ORDER: Final[dict[str, int]] = {kind: i for i, kind in enumerate(HOLDER_KINDS)}


@dataclass
class Root:
    """One thing that keeps objects alive, as the user would name it."""

    #: As a user writes it: ``big``, ``Out[3]``, ``f.__closure__[0].cell_contents``.
    label: str
    #: One of ``_protocol.HOLDER_KINDS``.
    kind: str
    #: Strong reference, held only while a scan is alive.
    obj: Any
    #: Pasteable Python that evaluates to ``obj`` (often the label).
    path: str
    #: For closure, default-argument and cache roots: the function (or cache
    #: wrapper) they belong to. The scan does not walk into those parts from
    #: the function itself, so they are reported under their own root.
    owner: Any = None


class RootList(list):  # type: ignore[type-arg]  # list[Root]; generic list subclassing needs 3.9+
    """The roots, plus ``walls``: containers the scan must not enter (the user
    namespace, IPython's history and output dicts, the shell)."""

    walls: list[Any]

    def __init__(self, roots: Iterable[Root] = (), walls: Iterable[Any] = ()) -> None:
        super().__init__(roots)
        self.walls = list(walls)


def _site_dirs() -> list[str]:
    dirs = [sys.prefix, sys.base_prefix, sys.exec_prefix, getattr(sys, "base_exec_prefix", "")]
    site = sys.modules.get("site")
    if site is not None:
        try:
            dirs.extend(site.getsitepackages())
        except Exception:  # virtualenv's old site.py lacks it
            _log.debug("site.getsitepackages failed", exc_info=True)
        try:
            dirs.append(site.getusersitepackages())
        except Exception:
            _log.debug("site.getusersitepackages failed", exc_info=True)
    out: list[str] = []
    for d in dirs:
        if d:
            out.append(os.path.join(os.path.abspath(d), ""))
            out.append(os.path.join(os.path.realpath(d), ""))
    return out


def _install_root(path: str, name: str, is_package: bool, cache: dict[str, bool]) -> bool:
    """Whether the directory holding module ``name``'s top-level package is an
    install location (``pip install --target``, a vendored site dir): one that
    holds ``*.dist-info`` metadata. A user's project directory does not."""
    depth = name.count(".") + (2 if is_package else 1)
    root = path
    for _ in range(depth):
        root = os.path.dirname(root)
    found = cache.get(root)
    if found is None:
        try:
            found = any(entry.endswith(".dist-info") for entry in os.listdir(root))
        except OSError:
            found = False
        cache[root] = found
    return found


def user_modules() -> dict[str, types.ModuleType]:
    """Modules the user wrote: imported from a file outside the interpreter's
    prefixes, site-packages and other install locations (``__main__`` and this
    package excluded)."""
    prefixes = tuple(_site_dirs())
    installs: dict[str, bool] = {}
    found: dict[str, types.ModuleType] = {}
    main = sys.modules.get("__main__")
    for name, module in list(sys.modules.items()):
        if type(name) is not str or name == "__main__" or name.split(".")[0] == "memory_doctor":
            continue
        if module is main:
            continue  # an alias of __main__, e.g. multiprocessing's __mp_main__
        if not mro_has(type(module), types.ModuleType):
            continue
        ns = module_dict(module)
        path = ns.get("__file__") if ns is not None else None
        if type(path) is not str or not path:
            continue  # builtin, frozen or namespace package
        full = os.path.abspath(path)
        parts = full.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            continue
        if full.startswith(prefixes):
            continue
        is_package = os.path.basename(full).startswith("__init__.")
        if _install_root(full, name, is_package, installs):
            continue
        found[name] = module
    return found


class _Builder:
    """Collects roots per kind, with the bookkeeping that keeps them unique."""

    def __init__(self, user_mods: Mapping[str, types.ModuleType]) -> None:
        self.by_kind: dict[str, list[Root]] = {kind: [] for kind in HOLDER_KINDS}
        self.user_mod_names = frozenset(user_mods)
        self.seen_functions: set[int] = set()
        self.seen_classes: set[int] = set()
        self.seen_caches: set[int] = set()
        self.lru_type = lru_cache_type()

    def add(self, label: str, kind: str, obj: Any, path: str, owner: Any = None) -> None:
        self.by_kind[kind].append(Root(label, kind, obj, path, owner))

    def is_user(self, module: str | None) -> bool:
        return module is not None and (module == "__main__" or module in self.user_mod_names)

    def roots(self) -> list[Root]:
        return [root for kind in HOLDER_KINDS for root in self.by_kind[kind]]

    # ----------------------------------------------------------------- functions

    def function(self, func: Any, base: str, depth: int = 0) -> None:
        """Closure cells and defaults of a user function, as roots."""
        if type(func) is not types.FunctionType or id(func) in self.seen_functions:
            return
        if not self.is_user(func_module(func)) or depth > _MAX_FUNCTION_DEPTH:
            return
        self.seen_functions.add(id(func))
        closure, defaults, kwdefaults = func_parts(func)
        if type(closure) is tuple:
            for i, cell in enumerate(closure):
                if type(cell) is not types.CellType:
                    continue
                ok, value = cell_contents(cell)
                if not ok:
                    continue
                path = f"{base}.__closure__[{i}].cell_contents"
                self.add(path, "closure", value, path, owner=func)
                self.callable(value, path, depth + 1)
        if type(defaults) is tuple:
            for i, value in enumerate(defaults):
                path = f"{base}.__defaults__[{i}]"
                self.add(path, "default_arg", value, path, owner=func)
        if type(kwdefaults) is dict:
            for key, value in list(dict.items(kwdefaults)):
                key_text = safe_key_repr(key)
                if key_text is None:
                    continue
                path = f"{base}.__kwdefaults__[{key_text}]"
                self.add(path, "default_arg", value, path, owner=func)

    def cache(self, wrapper: Any, base: str, depth: int = 0, *, named: bool = False) -> None:
        """An ``lru_cache`` store of a user function, and the function's own parts.

        The store is a root of its own, labelled with the cached function's name
        (``load_chunk``; its path is ``load_chunk.cache_info()``): its fix is
        ``load_chunk.cache_clear()`` whoever else holds the function. When
        ``named`` (the wrapper is a variable's value), the function's closure and
        defaults are left to that variable's walk, which reaches them through the
        wrapper's ``__wrapped__``.
        """
        if self.lru_type is None or type(wrapper) is not self.lru_type:
            return
        if id(wrapper) in self.seen_caches:
            return
        func = next((r for r in gc.get_referents(wrapper) if type(r) is types.FunctionType), None)
        if func is None or not self.is_user(func_module(func)):
            return
        self.seen_caches.add(id(wrapper))
        self.add(base, "cache", wrapper, f"{base}.cache_info()", owner=wrapper)
        if named:
            self.seen_functions.add(id(func))
        else:
            self.function(func, f"{base}.__wrapped__", depth + 1)

    def callable(self, value: Any, base: str, depth: int = 0) -> None:
        """Roots inside a function-like value: function, cache wrapper, bound method."""
        tp = type(value)
        if tp is types.FunctionType:
            self.function(value, base, depth)
        elif self.lru_type is not None and tp is self.lru_type:
            self.cache(value, base, depth)
        elif tp is types.MethodType:
            _self, func = method_parts(value)
            self.callable(func, base, depth)

    # ----------------------------------------------------------------- classes

    def cls(self, klass: Any, base: str, depth: int = 0) -> None:
        """Class attributes of a user class (and its methods' closures/defaults)."""
        if not is_a(klass, type) or id(klass) in self.seen_classes or depth > 3:
            return
        if not self.is_user(type_module(klass)):
            return
        self.seen_classes.add(id(klass))
        try:
            items = list(type_ns(klass).items())
        except Exception:
            return
        for name, value in items:
            if type(name) is not str or (name.startswith("__") and name.endswith("__")):
                continue
            path = f"{base}.{name}" if is_identifier(name) else f"vars({base})[{name!r}]"
            tp = type(value)
            if tp is staticmethod:
                self.callable(staticmethod_func(value), path)
            elif tp is classmethod:
                self.callable(classmethod_func(value), path)
            elif tp is types.FunctionType or tp is self.lru_type:
                self.callable(value, path)
            elif is_a(value, type):
                self.cls(value, path, depth + 1)
            elif tp in (property, types.MemberDescriptorType, types.GetSetDescriptorType):
                continue
            else:
                self.add(path, "class_attribute", value, path)

    # ----------------------------------------------------------------- namespaces

    def value(self, value: Any, base: str) -> None:
        """The hidden roots inside one namespace value (functions, classes, caches)."""
        if is_a(value, type):
            self.cls(value, base)
        else:
            self.callable(value, base)

    def variable(self, value: Any, base: str) -> None:
        """The hidden roots inside a user variable's value.

        A function's closure cells and defaults are not roots of their own: the
        variable's walk reaches them, so ``scale = make_scaler()`` retains what
        its closure holds (``del scale`` frees it) and its why-alive path shows
        ``scale.__closure__[0].cell_contents``. The function is marked as seen, so
        no later namespace (a user module, a class) splits them off either; a
        name elsewhere that holds the same function shares the holder instead.
        """
        tp = type(value)
        if tp is types.FunctionType and self.is_user(func_module(value)):
            self.seen_functions.add(id(value))
        elif self.lru_type is not None and tp is self.lru_type:
            self.cache(value, base, named=True)
        else:
            self.value(value, base)


def _name_path(name: str) -> str:
    return name if is_identifier(name) else f"globals()[{name!r}]"


def _is_ipython_name(name: str) -> bool:
    return (
        name in _IPYTHON_NAMES
        or name in _OUTPUT_ALIASES
        or bool(_INPUT_NAME.match(name))
        or bool(_OUTPUT_NAME.match(name))
    )


def _items(mapping: Mapping[str, Any] | None) -> list[tuple[Any, Any]]:
    if mapping is None:
        return []
    if is_a(mapping, dict):
        return list(dict.items(mapping))  # unbound: a dict subclass's items() is not ours to run
    try:
        return list(mapping.items())
    except Exception:
        return []


def _shell_of(user_ns: Mapping[str, Any]) -> Any:
    """The IPython shell behind ``get_ipython`` in the namespace, if any."""
    getter = dict.get(user_ns, "get_ipython") if is_a(user_ns, dict) else None
    if type(getter) is types.MethodType:
        owner, _func = method_parts(getter)
        return owner
    return None


def _variable_roots(
    b: _Builder, ns_items: list[tuple[str, Any]], hidden: dict[str, Any]
) -> list[tuple[str, Any]]:
    """The user's variables: the namespace minus IPython's own names."""
    values: list[tuple[str, Any]] = []
    for name, value in ns_items:
        if name in _MODULE_DUNDERS or _is_ipython_name(name):
            continue
        if name in hidden and hidden[name] is value:
            continue  # IPython's own (or an unchanged copy of the output cache)
        b.add(name, "variable", value, _name_path(name))
        values.append((name, value))
    return values


def _output_cache_roots(
    b: _Builder, ns: dict[str, Any], hidden: dict[str, Any], walls: list[Any]
) -> None:
    """``Out[n]`` (the same dict as ``_oh``), then ``_n`` and ``_``, ``__``, ``___``,
    and the copies IPython keeps in ``user_ns_hidden``."""
    out = ns.get("Out", hidden.get("Out"))
    if not is_a(out, dict):
        out = ns.get("_oh", hidden.get("_oh"))
    if is_a(out, dict):
        walls.append(out)
        entries = sorted((kv for kv in dict.items(out) if type(kv[0]) is int), key=lambda kv: kv[0])
        for key, value in entries:
            b.add(f"Out[{key}]", "output_cache", value, f"Out[{key}]")
    for key in ("In", "_ih", "_dh", "_sh"):
        container = ns.get(key, hidden.get(key))
        if is_a(container, list) or is_a(container, dict):
            walls.append(container)
    numbered = sorted(
        (n for n in set(ns) | set(hidden) if _OUTPUT_NAME.match(n)), key=lambda n: int(n[1:])
    )
    for name in [*numbered, *_OUTPUT_ALIASES]:
        in_ns = name in ns
        # IPython initialises _, __ and ___ to '': that holds nothing.
        if in_ns and not (type(ns[name]) is str and ns[name] == ""):
            b.add(name, "output_cache", ns[name], name)
        if name not in hidden or (in_ns and ns[name] is hidden[name]):
            continue
        value = hidden[name]
        if type(value) is str and value == "":
            continue
        path = f"get_ipython().user_ns_hidden[{name!r}]"
        b.add(path if in_ns else name, "output_cache", value, path)


def _namespace_roots(
    b: _Builder,
    user_ns: Mapping[str, Any],
    hidden: Mapping[str, Any] | None,
) -> list[Any]:
    """Variables and the output cache; returns the containers that are walls."""
    walls: list[Any] = [user_ns]
    if hidden is not None:
        walls.append(hidden)
    # Only str keys: building a dict hashes its keys, and a user's key class may hash in Python.
    hidden_items = {k: v for k, v in _items(hidden) if type(k) is str}
    ns_items = [(k, v) for k, v in _items(user_ns) if type(k) is str]
    values = _variable_roots(b, ns_items, hidden_items)
    _output_cache_roots(b, dict(ns_items), hidden_items, walls)
    for name, value in values:
        b.variable(value, _name_path(name))
    shell = _shell_of(user_ns)
    if shell is not None:
        walls.append(shell)
    return walls


def _traceback_roots(b: _Builder) -> None:
    sys_ns = module_dict(sys)
    if sys_ns is None:
        return
    for name in ("last_traceback", "last_value", "last_exc"):
        value = sys_ns.get(name)
        if value is not None:
            b.add(f"sys.{name}", "traceback", value, f"sys.{name}")


def _thread_info(thread: Any) -> tuple[str | None, bool]:
    """``(name, is kernel machinery)`` of a ``threading.Thread``, read from its dict."""
    if thread is None:
        return None, False
    name = dict.get(instance_dict(thread) or {}, "_name")
    return (name if type(name) is str else None), is_kernel_thread(thread)


def _thread_roots(b: _Builder) -> None:
    try:
        frames = sys._current_frames()
    except Exception:
        return
    # The dict holds this very frame. Neither it nor a local may still point at
    # this frame when it returns: the frame would hold itself, a cycle that
    # keeps every caller's locals (the roots) alive until a GC.
    main = threading.main_thread().ident
    current = threading.get_ident()
    for ident in (main, current):
        if ident is not None:
            frames.pop(ident, None)
    active = vars(threading).get("_active")
    active = active if is_a(active, dict) else {}
    for ident in sorted(frames):
        name, infra = _thread_info(dict.get(active, ident))
        if infra:
            continue
        label = f"thread {name!r}" if name is not None else f"thread {ident}"
        b.add(label, "thread", frames[ident], f"sys._current_frames()[{ident}]")


def _user_generator(gen: Any, user_dicts: set[int]) -> tuple[bool, Any]:
    getter, _attr = GENERATOR_FRAME[id(type(gen))]
    try:
        frame = getter(gen)
    except Exception:
        return False, None
    if frame is None:
        return False, None  # finished: holds nothing
    try:
        globs = frame_globals(frame)
    except Exception:
        return False, None
    return id(globs) in user_dicts, frame


def registered_tasks(ns: dict[str, Any]) -> list[Any]:
    """The tasks in asyncio's registries (``ns`` is ``vars(asyncio.tasks)``), each once."""
    found: dict[int, Any] = {}
    for holder_name in ("_all_tasks", "_scheduled_tasks", "_eager_tasks"):
        holder = ns.get(holder_name)
        if holder is None:
            continue
        try:
            tasks = list(holder)  # a WeakSet (library code) or a set
        except Exception:  # noqa: S112 - changed size while copied: skip that registry
            continue
        for task in tasks:
            found.setdefault(id(task), task)
    return list(found.values())


def _task_names() -> dict[int, str]:
    """``id(coroutine) -> task name`` for every pending asyncio task."""
    ns = module_dict(sys.modules.get("asyncio.tasks"))
    if ns is None:
        return {}
    task_type: Any = ns.get("Task")
    if not mro_has(type(task_type), type):
        return {}
    names: dict[int, str] = {}
    for task in registered_tasks(ns):
        if not mro_has(type(task), task_type):
            continue
        try:
            coro = task_type.get_coro(task)
            name = task_type.get_name(task)
        except Exception:  # noqa: S112 - a finished or odd task holds nothing to report
            continue
        if type(name) is str:
            names[id(coro)] = name
    return names


def _generator_roots(b: _Builder, user_dicts: set[int]) -> None:
    """Suspended generators/coroutines/async generators running user code.

    The scan keeps only those no earlier root reaches (pending asyncio tasks,
    callbacks held by the event loop).
    """
    gen_ids = {id(t) for t in (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)}
    tasks = _task_names()
    everything = gc.get_objects()
    # In C (map/compress): the heap may hold millions of tracked objects.
    gens = list(compress(everything, map(gen_ids.__contains__, map(id, map(type, everything)))))
    del everything
    for gen in gens:
        user, _frame = _user_generator(gen, user_dicts)
        if not user:
            continue
        task = tasks.get(id(gen))
        if task is not None:
            label = f"task {task!r}"
            path = f"[t for t in asyncio.all_tasks() if t.get_name() == {task!r}][0].get_coro()"
        else:
            qual = vars(type(gen))["__qualname__"].__get__(gen)
            qual = qual if type(qual) is str else "?"
            kind = {
                id(types.GeneratorType): "generator",
                id(types.CoroutineType): "coroutine",
                id(types.AsyncGeneratorType): "async generator",
            }[id(type(gen))]
            label = f"{kind} {qual!r}"
            path = (
                f"[g for g in gc.get_objects() if type(g).__name__ == {type(gen).__name__!r}"
                f" and g.__qualname__ == {qual!r}][0]"
            )
        b.add(label, "generator", gen, path)


def _module_roots(b: _Builder, modules: Mapping[str, types.ModuleType]) -> list[Any]:
    walls: list[Any] = []
    for mod_name in sorted(modules):
        ns = module_dict(modules[mod_name])
        if ns is None:
            continue
        walls.append(ns)
        for name, value in list(dict.items(ns)):
            if type(name) is not str or name in _MODULE_DUNDERS:
                continue
            if name.startswith("__") and name.endswith("__"):
                continue
            path = f"{mod_name}.{name}" if is_identifier(name) else f"vars({mod_name})[{name!r}]"
            b.value(value, path)
            b.add(path, "module", value, path)
    return walls


def singleton_walls() -> list[Any]:
    """The IPython shell, kernel and app (traitlets singletons), when loaded."""
    configurable = sys.modules.get("traitlets.config.configurable")
    ns = module_dict(configurable) if configurable is not None else None
    base = ns.get("SingletonConfigurable") if ns is not None else None
    if not is_a(base, type):
        return []
    out: list[Any] = []
    todo = [base]
    seen: set[int] = set()
    while todo:
        cls = todo.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        found, inst = lookup_in_mro(cls, "_instance")
        if found and inst is not None and not any(x is inst for x in out):
            out.append(inst)
        try:
            todo.extend(type.__subclasses__(cls))
        except Exception:  # noqa: S112 - a class being torn down has no subclasses to visit
            continue
    return out


def enumerate_roots(
    user_ns: Mapping[str, Any],
    user_ns_hidden: Mapping[str, Any] | None = None,
) -> list[Root]:
    """Every root, in ``HOLDER_KINDS`` order. No user code runs.

    The list is a :class:`RootList`: its ``walls`` are containers the scan must
    not walk into (the namespace itself, IPython's In/Out, the shell).
    """
    mods = user_modules()
    b = _Builder(mods)
    walls = _namespace_roots(b, user_ns, user_ns_hidden)
    _traceback_roots(b)
    _thread_roots(b)
    user_dicts = {id(user_ns)}
    user_dicts.update(id(ns) for ns in (module_dict(m) for m in mods.values()) if ns is not None)
    _generator_roots(b, user_dicts)
    walls.extend(_module_roots(b, mods))
    walls.extend(singleton_walls())
    roots = b.roots()
    roots.sort(key=lambda r: _KIND_ORDER[r.kind])  # stable: keeps enumeration order per kind
    return RootList(roots, walls)


__all__ = [
    "Root",
    "RootList",
    "enumerate_roots",
    "registered_tasks",
    "singleton_walls",
    "user_modules",
]
