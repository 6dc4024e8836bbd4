"""The rest of the heap: root groups for the library, kernel and interpreter side.

The user's roots (variables, Out, closures...) come from ``roots.py``. The
scan walks the whole heap, so everything else that can hold memory is a root
group of its own, and an object a library or the kernel also reaches carries
that group in its label: it is never offered as freeable by deleting the
user's names.

- one group per top-level package of every imported, non-user module (seeded
  with the module, its namespace and the namespace's values): ``numpy``,
  ``logging``...;
- ``kernel``: the kernel's machinery (``ownership.KERNEL_PACKAGES``: ipykernel,
  IPython, zmq, tornado, traitlets, comm, debugpy, memory_doctor itself);
- ``interpreter``: ``sys``, ``builtins`` and ``gc`` (``sys.modules``, hooks,
  path caches), the trace and profile functions; never ``sys.last_*``, which
  are the user's (traceback roots);
- ``outside Python``: the engines' pseudo group for references the walk
  cannot explain (C state such as ``atexit``'s table or a signal handler).

Stops (references counted, never followed): every module namespace (its
package's group seeds its contents directly, so a function's ``__globals__``
does not make every package that imported one function reach all of that
module); every class a library module defines (its package's group seeds the
class's namespace: a class reached from a callback or a closure must not
carry that label into class-level state, such as pyplot's registry of every
figure); and the containers whose contents are the user's roots (the user
namespace, IPython's hidden namespace, ``Out``, ``In``): walked from the
kernel's side, every variable would look kernel-held.

Walls (never nodes, their references counted): immortal singletons, the
executing frames of other threads (only the locals of user threads are read),
and the scan's own state.
"""

from __future__ import annotations

import gc
import sys
import threading
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .introspect import (
    frame_back,
    frame_locals,
    instance_dict,
    is_a,
    is_type,
    lookup_in_mro,
    module_dict,
    mro_has,
    top_package,
    type_module,
    type_name,
    type_ns,
)
from .model import Expansion
from .ownership import KERNEL_PACKAGES, is_kernel_thread, package_of

#: Modules of the interpreter group.
INTERPRETER_MODULES: Final = frozenset({"sys", "builtins", "gc"})
#: ``sys`` entries that are the user's (traceback roots): not seeded by the interpreter.
USER_SYS_NAMES: Final = frozenset({"last_type", "last_value", "last_traceback", "last_exc"})

KIND_USER: Final = "user"
KIND_LIBRARY: Final = "library"
KIND_KERNEL: Final = "kernel"
KIND_INTERPRETER: Final = "interpreter"
KIND_EXTERNAL: Final = "external"

#: The group names of the kernel, the interpreter and references from outside Python.
KERNEL_NAME: Final = "kernel"
INTERPRETER_NAME: Final = "interpreter"
OUTSIDE_NAME: Final = "outside Python"


@dataclass
class Group:
    """One root group: what the engines seed with the label ``{index}``."""

    name: str
    kind: str
    seeds: list[Any] = field(default_factory=list)
    #: Indices of the user roots in this group (user groups only).
    roots: list[int] = field(default_factory=list)
    #: For a library group: the module object and its name, where paths start.
    module: Any = None
    module_name: str = ""


def immortals() -> list[Any]:
    """Objects the interpreter caches for everyone: walls, or every container
    would share them with every other."""
    out: list[Any] = [None, True, False, Ellipsis, NotImplemented, (), "", b""]
    out.extend(range(-5, 257))
    out.extend(chr(i) for i in range(256))
    out.extend(i.to_bytes(1, "big") for i in range(256))
    return out


def package_group_name(module_name: str) -> tuple[str, str]:
    """``(group name, kind)`` of a non-user module."""
    top = top_package(module_name)
    if top in KERNEL_PACKAGES:
        return KERNEL_NAME, KIND_KERNEL
    if module_name in INTERPRETER_MODULES:
        return INTERPRETER_NAME, KIND_INTERPRETER
    return top, KIND_LIBRARY


def class_namespace(cls: Any) -> list[Any]:
    """A class's own namespace dict (what its ``tp_traverse`` visits), or nothing."""
    try:
        proxy = type_ns(cls)
    except Exception:
        return []
    return [r for r in gc.get_referents(proxy) if type(r) is dict]


def _seed_module(
    group: Group, name: str, module: Any, ns: dict[str, Any], stops: list[Any]
) -> None:
    """A library module in its group: the module, its namespace and its values
    seed the group; the classes it defines are stops, their namespaces seeds."""
    group.seeds.append(module)
    group.seeds.append(ns)
    if name == "sys":
        group.seeds.extend(v for k, v in dict.items(ns) if k not in USER_SYS_NAMES)
        return
    values = list(dict.values(ns))
    group.seeds.extend(values)
    for value in values:
        if is_type(value) and type_module(value) == name:
            stops.append(value)
            group.seeds.extend(class_namespace(value))


def library_groups(user_module_names: Iterable[str], main: Any) -> tuple[list[Group], list[Any]]:
    """The library/kernel/interpreter groups and every module namespace (stops).

    ``user_module_names``: modules whose globals are user roots (their
    namespaces are stops without a library group). ``main``: ``__main__``
    (its namespace is the user namespace).
    """
    users = frozenset(user_module_names)
    groups: dict[str, Group] = {}
    stops: list[Any] = []
    seen: set[int] = set()
    for name, module in list(sys.modules.items()):
        if type(name) is not str or not mro_has(type(module), types.ModuleType):
            continue
        ns = module_dict(module)
        if ns is None or id(ns) in seen:
            continue
        seen.add(id(ns))
        stops.append(ns)
        if module is main or name == "__main__" or name in users:
            continue
        gname, kind = package_group_name(name)
        group = groups.get(gname)
        if group is None:
            group = groups[gname] = Group(gname, kind)
        if group.module is None or name == gname:
            group.module, group.module_name = module, name
        _seed_module(group, name, module, ns, stops)
    interp = groups.get(INTERPRETER_NAME)
    if interp is None:
        interp = groups[INTERPRETER_NAME] = Group(INTERPRETER_NAME, KIND_INTERPRETER)
    for hook in (sys.gettrace(), sys.getprofile()):
        if hook is not None:
            interp.seeds.append(hook)
    ordered = sorted(
        groups.values(), key=lambda g: (g.kind != KIND_KERNEL, g.kind != KIND_INTERPRETER, g.name)
    )
    return ordered, stops


def kernel_singletons() -> list[Any]:
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


def kernel_stops() -> list[Any]:
    """The kernel's objects that everyone's objects point at: ``sys`` streams and
    hooks when they are the kernel's (ipykernel's ``OutStream``: every thread
    keeps ``sys.stderr`` as ``_stderr``), and the running event loop (every
    task keeps its loop); and the kernel's singletons (the shell, the kernel,
    the app: a thread keeps ``sys.excepthook``, a bound method of the shell).
    They are stops: reached from a user's thread or task, they must not make
    all of the kernel look held by that variable (the kernel group seeds what
    they hold)."""
    ns = module_dict(sys) or {}
    names = ("stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__")
    found = [ns.get(n) for n in (*names, "displayhook", "excepthook")]
    events = module_dict(sys.modules.get("asyncio.events")) or {}
    running = events.get("_get_running_loop")
    if type(running) is types.BuiltinFunctionType:
        found.append(running())
    found.extend(kernel_singletons())
    out: list[Any] = []
    for obj in found:
        if obj is None or any(o is obj for o in out):
            continue
        package = package_of(obj)
        if package in KERNEL_PACKAGES or package in ("asyncio", "_asyncio"):
            out.append(obj)
    return out


@dataclass
class LiveFrames:
    """Frames executing now (walls) and, for user threads, their locals."""

    walls: list[Any]
    #: ``(frame, locals dict)`` for frames of user threads.
    user: list[tuple[Any, Any]]


def live_frames() -> LiveFrames:
    """Executing frames of the other threads (walls); the locals of user threads.

    The scanning thread's own frames are left out: they are the scan's call
    stack, which nothing reachable leads to, and keeping them would make a
    cycle (this function's frame holds the list that would hold it). The
    frames dict from ``sys._current_frames`` holds this very frame too: it is
    emptied before returning.
    """
    walls: list[Any] = []
    user: list[tuple[Any, Any]] = []
    top: Any = None
    frame: Any = None
    try:
        frames = sys._current_frames()
    except Exception:
        return LiveFrames(walls, user)
    try:
        active = vars(threading).get("_active") or {}
        main = threading.main_thread().ident
        seen: set[int] = set()
        current = threading.get_ident()
        for ident, top in list(frames.items()):
            if ident == current:
                continue
            thread = dict.get(active, ident) if type(active) is dict else None
            mine = ident == main or (thread is not None and is_kernel_thread(thread))
            frame = top
            while frame is not None and id(frame) not in seen:
                seen.add(id(frame))
                walls.append(frame)
                if not mine:
                    try:
                        loc = frame_locals(frame)
                    except Exception:
                        loc = None
                    if type(loc) is dict:
                        user.append((frame, loc))
                frame = frame_back(frame)
    finally:
        frames.clear()
        top = frame = None
    return LiveFrames(walls, user)


def live_frame_expander(frame: Any) -> Expansion:
    """Count-only references of a user thread's executing frame: its locals dict
    (held by the interpreter frame) and each local (held in its fast locals),
    which ``tp_traverse`` cannot see."""
    try:
        loc = frame_locals(frame)
    except Exception:
        return None, None, None
    refs: list[Any] = []
    if type(loc) is dict:
        refs.append(loc)
        refs.extend(dict.values(loc))
    back = frame_back(frame)
    if back is not None:
        refs.append(back)
    return None, refs, None


def odd_key_label(key: Any, index: int) -> str:
    """How a non-``str`` (or ``str``-subclass) namespace key is named, without
    running its ``__repr__``/``__str__``."""
    tp = type(key)
    if mro_has(tp, str):
        text = str.__str__(key)  # the C slot: an exact copy, no user code
        return f"globals()[{type_name(tp)}({text!r})]"
    if tp in (int, float, bool, bytes) or key is None:
        return f"globals()[{key!r}]"
    return f"globals()[<{type_name(tp)} key #{index}>]"


def odd_namespace_entries(ns: Mapping[Any, Any]) -> list[tuple[str, Any, Any]]:
    """``(label, key, value)`` for every namespace entry whose key is not an
    exact ``str`` (the roots enumeration only lists exact-str names)."""
    out: list[tuple[str, Any, Any]] = []
    if type(ns) is not dict:
        return out
    for i, (key, value) in enumerate(list(dict.items(ns))):
        if type(key) is str:
            continue
        out.append((odd_key_label(key, i), key, value))
    return out


def is_root_container(obj: Any) -> bool:
    """Whether a container that holds roots is a stop: dicts and lists (the
    namespaces, Out, In). The shell and other objects are not: the kernel's
    walk enters them."""
    return type(obj) in (dict, list) or (not is_type(obj) and mro_has(type(obj), dict))


def thread_name(thread: Any) -> str | None:
    """A ``threading.Thread``'s name, read from its instance dict."""
    name = dict.get(instance_dict(thread) or {}, "_name") if thread is not None else None
    return name if type(name) is str else None


__all__ = [
    "INTERPRETER_NAME",
    "KERNEL_NAME",
    "KIND_EXTERNAL",
    "KIND_INTERPRETER",
    "KIND_KERNEL",
    "KIND_LIBRARY",
    "KIND_USER",
    "OUTSIDE_NAME",
    "Group",
    "LiveFrames",
    "immortals",
    "is_root_container",
    "kernel_singletons",
    "kernel_stops",
    "library_groups",
    "live_frame_expander",
    "live_frames",
    "odd_key_label",
    "odd_namespace_entries",
    "package_group_name",
    "thread_name",
]
