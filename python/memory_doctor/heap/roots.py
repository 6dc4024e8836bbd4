"""The user's roots of the retained-size scan: what can keep data alive in a notebook.

:func:`enumerate_roots` lists them in ``HOLDER_KINDS`` order without running
user code: user variables, IPython's output cache (``Out``, ``_n``, and the
``_``, ``__``, ``___`` the display hook keeps for itself) and its hidden
copies, the last exception, closures and default arguments of the user's
classes and modules, class attributes of the user's classes, ``lru_cache``
stores, frames of running threads, pending asyncio tasks running user code,
and globals of modules the user wrote. Everything else (libraries, the
kernel, the interpreter) is a root group of its own (``groups.py``).

Some roots are parts of an object that is itself reached (a class attribute
inside the class's namespace, a method's closure cell, a cache's store inside
the cached function, the display hook's ``_``): the reference from that
object to the root's value is a *root edge* (:attr:`RootList.edges`), which
the walk counts but does not follow, so the value belongs to its own root
and not to whoever reaches the object.

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
from dataclasses import dataclass, field
from typing import Any, Final

from ..log import quiet_logger
from ..protocol import HOLDER_KINDS
from .groups import thread_name
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
    #: What the root's group starts its walk from when that is not ``obj``
    #: itself (a cache root: the store, not the cached function).
    seeds: list[Any] | None = field(default=None, repr=False)


class RootList(list):  # type: ignore[type-arg]  # list[Root]; generic list subclassing needs 3.9+
    """The roots, plus ``stops``: the containers whose contents are roots (the user
    namespace, IPython's history and output dicts), which the walk never
    enters from another side; and ``edges``: ``(container, values)`` pairs
    whose references to ``values`` are root edges (counted, not followed)."""

    stops: list[Any]
    edges: list[tuple[Any, list[Any]]]

    def __init__(
        self,
        roots: Iterable[Root] = (),
        stops: Iterable[Any] = (),
        edges: Iterable[tuple[Any, list[Any]]] = (),
    ) -> None:
        super().__init__(roots)
        self.stops = list(stops)
        self.edges = list(edges)


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
        self.edges: list[tuple[Any, list[Any]]] = []

    def add(
        self,
        label: str,
        kind: str,
        obj: Any,
        path: str,
        *,
        owner: Any = None,
        seeds: list[Any] | None = None,
    ) -> None:
        self.by_kind[kind].append(Root(label, kind, obj, path, owner, seeds))

    def edge(self, container: Any, values: list[Any]) -> None:
        """``container``'s references to ``values`` are root edges."""
        if values:
            self.edges.append((container, values))

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
                self.edge(cell, [value])
                self.callable(value, path, depth + 1)
        if type(defaults) is tuple:
            for i, value in enumerate(defaults):
                path = f"{base}.__defaults__[{i}]"
                self.add(path, "default_arg", value, path, owner=func)
            self.edge(defaults, list(defaults))
        if type(kwdefaults) is dict:
            named = []
            for key, value in list(dict.items(kwdefaults)):
                key_text = safe_key_repr(key)
                if key_text is None:
                    continue
                path = f"{base}.__kwdefaults__[{key_text}]"
                self.add(path, "default_arg", value, path, owner=func)
                named.append(value)
            self.edge(kwdefaults, named)

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
        store = cache_store(wrapper)
        self.add(base, "cache", wrapper, f"{base}.cache_info()", owner=wrapper, seeds=store)
        self.edge(wrapper, store)
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
            proxy = type_ns(klass)
            items = list(proxy.items())
        except Exception:
            return
        # The class's own dict (what tp_traverse visits) is the proxy's one referent.
        namespace = next((r for r in gc.get_referents(proxy) if type(r) is dict), None)
        attributes: list[Any] = []
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
                attributes.append(value)
        if namespace is not None:
            self.edge(namespace, attributes)

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


def shell_of(user_ns: Mapping[str, Any]) -> Any:
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
        if mro_has(type(value), types.ModuleType):
            continue  # `import numpy as np`: deleting np frees nothing of numpy's
        b.add(name, "variable", value, _name_path(name))
        values.append((name, value))
    return values


def _output_cache_roots(
    b: _Builder, ns: dict[str, Any], hidden: dict[str, Any], stops: list[Any]
) -> None:
    """``Out[n]`` (the same dict as ``_oh``), then ``_n`` and ``_``, ``__``, ``___``,
    and the copies IPython keeps in ``user_ns_hidden``."""
    out = ns.get("Out", hidden.get("Out"))
    if not is_a(out, dict):
        out = ns.get("_oh", hidden.get("_oh"))
    if is_a(out, dict):
        stops.append(out)
        entries = sorted((kv for kv in dict.items(out) if type(kv[0]) is int), key=lambda kv: kv[0])
        for key, value in entries:
            b.add(f"Out[{key}]", "output_cache", value, f"Out[{key}]")
    for key in ("In", "_ih", "_dh", "_sh"):
        container = ns.get(key, hidden.get(key))
        if is_a(container, list) or is_a(container, dict):
            stops.append(container)
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
    """Variables and the output cache; returns the containers that are stops."""
    stops: list[Any] = [user_ns]
    if hidden is not None:
        stops.append(hidden)
    # Only str keys: building a dict hashes its keys, and a user's key class may hash in Python.
    hidden_items = {k: v for k, v in _items(hidden) if type(k) is str}
    ns_items = [(k, v) for k, v in _items(user_ns) if type(k) is str]
    values = _variable_roots(b, ns_items, hidden_items)
    _output_cache_roots(b, dict(ns_items), hidden_items, stops)
    shell = shell_of(user_ns)
    if shell is not None:
        _display_roots(b, shell)
    for name, value in values:
        b.variable(value, _name_path(name))
    return stops


def _attribute(obj: Any, name: str) -> Any:
    """A traitlets object's attribute ``name``: from its instance dict, else from
    its trait values (the instance dict's ``_trait_values``); None if unset."""
    attrs = instance_dict(obj) or {}
    if name in attrs:
        return dict.get(attrs, name)
    traits = dict.get(attrs, "_trait_values")
    return dict.get(traits, name) if is_a(traits, dict) else None


def _display_roots(b: _Builder, shell: Any) -> None:
    """What IPython keeps of the last outputs for itself: its display hook's own
    ``_``, ``__`` and ``___`` attributes, and the last execution result
    (``shell.last_execution_result``, the hook's ``exec_result``).

    They are the output cache, not the kernel: clearing the output cache frees
    them, so they are roots labelled ``_`` (and ``sys.last_value`` for the
    result's exception), and the kernel's references to them are root edges.
    """
    hook = _attribute(shell, "displayhook")
    hook_dict = instance_dict(hook) if hook is not None else None
    results = [_attribute(shell, "last_execution_result")]
    if hook_dict is not None:
        kept = []
        for name in _OUTPUT_ALIASES:
            value = dict.get(hook_dict, name)
            if value is None or (type(value) is str and value == ""):
                continue
            b.add(name, "output_cache", value, f"get_ipython().displayhook.{name}")
            kept.append(value)
        b.edge(hook_dict, kept)
        results.append(_attribute(hook, "exec_result"))
    seen: set[int] = set()
    for result in results:
        attrs = instance_dict(result) if result is not None else None
        if attrs is None or id(result) in seen:
            continue
        seen.add(id(result))
        kept = []
        value = dict.get(attrs, "result")
        if value is not None:
            b.add("_", "output_cache", value, "get_ipython().last_execution_result.result")
            kept.append(value)
        error = dict.get(attrs, "error_in_exec")
        if error is not None:
            path = "get_ipython().last_execution_result.error_in_exec"
            b.add("sys.last_value", "traceback", error, path)
            kept.append(error)
        b.edge(attrs, kept)


def _traceback_roots(b: _Builder) -> None:
    sys_ns = module_dict(sys)
    if sys_ns is None:
        return
    for name in ("last_traceback", "last_value", "last_exc"):
        value = sys_ns.get(name)
        if value is not None:
            b.add(f"sys.{name}", "traceback", value, f"sys.{name}")


def _kept_traceback_roots(b: _Builder, shell: Any) -> None:
    """The last exception IPython keeps for ``%debug`` and ``%tb``: its traceback
    formatter's ``tb`` and the syntax formatter's ``last_syntax_error``. They are
    the traceback roots' (clearing the traceback frees them), not the kernel's."""
    for formatter, name, label in (
        ("InteractiveTB", "tb", "sys.last_traceback"),
        ("SyntaxTB", "last_syntax_error", "sys.last_value"),
    ):
        owner = _attribute(shell, formatter)
        attrs = instance_dict(owner) if owner is not None else None
        value = dict.get(attrs, name) if attrs is not None else None
        if value is not None:
            b.add(label, "traceback", value, f"get_ipython().{formatter}.{name}")
            b.edge(attrs, [value])


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
        thread = dict.get(active, ident)
        if thread is not None and is_kernel_thread(thread):
            continue
        name = thread_name(thread)
        label = f"thread {name!r}" if name is not None else f"thread {ident}"
        b.add(label, "thread", frames[ident], f"sys._current_frames()[{ident}]")


def _runs_user_code(coro: Any, user_dicts: set[int]) -> bool:
    """Whether a suspended coroutine (or generator) runs code of the user's namespaces."""
    found = GENERATOR_FRAME.get(id(type(coro)))
    if found is None:
        return False
    try:
        frame = found[0](coro)
        return frame is not None and id(frame_globals(frame)) in user_dicts
    except Exception:
        return False


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


def _task_roots(b: _Builder, user_dicts: set[int]) -> None:
    """Pending asyncio tasks running user code, from asyncio's own registries.

    The event loop holds them, so their label also has the kernel's or
    asyncio's group. (Other suspended generators are reached by the walk from
    whatever holds them; the heap is not listed for them: ``gc.get_objects()``
    is one long call on a big heap.)
    """
    ns = module_dict(sys.modules.get("asyncio.tasks"))
    if ns is None:
        return
    task_type: Any = ns.get("Task")
    if not mro_has(type(task_type), type):
        return
    for task in registered_tasks(ns):
        if not mro_has(type(task), task_type):
            continue
        try:
            coro = task_type.get_coro(task)
            name = task_type.get_name(task)
        except Exception:  # noqa: S112 - a finished or odd task holds nothing to report
            continue
        if type(name) is not str or not _runs_user_code(coro, user_dicts):
            continue
        path = f"[t for t in asyncio.all_tasks() if t.get_name() == {name!r}][0].get_coro()"
        b.add(f"task {name!r}", "generator", coro, path)


def _module_roots(b: _Builder, modules: Mapping[str, types.ModuleType]) -> list[Any]:
    stops: list[Any] = []
    for mod_name in sorted(modules):
        ns = module_dict(modules[mod_name])
        if ns is None:
            continue
        stops.append(ns)
        for name, value in list(dict.items(ns)):
            if type(name) is not str or name in _MODULE_DUNDERS:
                continue
            if name.startswith("__") and name.endswith("__"):
                continue
            if mro_has(type(value), types.ModuleType):
                continue  # another module: its own package's group
            path = f"{mod_name}.{name}" if is_identifier(name) else f"vars({mod_name})[{name!r}]"
            b.value(value, path)
            b.add(path, "module", value, path)
    return stops


def cache_store(wrapper: Any) -> list[Any]:
    """What an ``lru_cache`` wrapper holds for its callers: its cache dict and, for
    a bounded cache, its links (keys and results); not the cached function, its
    own ``__dict__``, its marker object or its helper types."""
    own = instance_dict(wrapper)
    return [
        r
        for r in gc.get_referents(wrapper)
        if r is not own
        and type(r) is not types.FunctionType
        and type(r) is not object
        and not mro_has(type(r), type)
    ]


def enumerate_roots(
    user_ns: Mapping[str, Any],
    user_ns_hidden: Mapping[str, Any] | None = None,
    modules: Mapping[str, types.ModuleType] | None = None,
) -> RootList:
    """Every root of the user's, in ``HOLDER_KINDS`` order. No user code runs.

    ``modules``: the modules the user wrote (default: :func:`user_modules`).
    The list is a :class:`RootList`: its ``stops`` are the containers whose
    contents are roots (the namespace itself, IPython's In/Out, user modules'
    namespaces), its ``edges`` the root edges.
    """
    mods = user_modules() if modules is None else modules
    b = _Builder(mods)
    stops = _namespace_roots(b, user_ns, user_ns_hidden)
    _traceback_roots(b)
    shell = shell_of(user_ns)
    if shell is not None:
        _kept_traceback_roots(b, shell)
    _thread_roots(b)
    user_dicts = {id(user_ns)}
    user_dicts.update(id(ns) for ns in (module_dict(m) for m in mods.values()) if ns is not None)
    _task_roots(b, user_dicts)
    stops.extend(_module_roots(b, mods))
    roots = b.roots()
    roots.sort(key=lambda r: _KIND_ORDER[r.kind])  # stable: keeps enumeration order per kind
    return RootList(roots, stops, b.edges)


__all__ = [
    "Root",
    "RootList",
    "cache_store",
    "enumerate_roots",
    "registered_tasks",
    "user_modules",
]
