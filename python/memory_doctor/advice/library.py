"""Memory a library holds for the user, and the library's own way to release it.

``del`` frees nothing that a library also holds. Where the library has an API
that releases it, that API is the fix: a logging handler that buffers records
(``logging.handlers.BufferingHandler`` and ``MemoryHandler``, whose records
keep their ``args`` alive, arrays included) drops them with
``handler.buffer.clear()``. (Arrow's pool and glibc's arenas are returned by
the ``malloc_trim`` fix; pyplot's figures are closed as resources.)

The registries are read without running user code, and everything that is
the kernel's machinery is left out: the loggers of the kernel's packages and
of its application objects (``IPKernelApp.log``), and what they hold.

How much a release frees is estimated without a scan: the objects reachable
from what is released whose every reference comes from inside that set (the
same reference-count reasoning as the cyclic-garbage finding), sized with the
scan's sizers.
"""

from __future__ import annotations

import gc
import re
import sys
import types
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from ..heap.groups import kernel_singletons
from ..heap.introspect import instance_dict, is_a, module_attr, mro_has, type_module, type_ns
from ..heap.ownership import is_kernel_package, package_of_type
from ..heap.sizers import Sizer

#: Objects followed at most when sizing what a release frees.
MAX_EXCLUSIVE: Final = 200_000
#: ``logging.getLogger('name').handlers[3]`` / ``logging.root.handlers[0]``.
_HANDLER_LABEL: Final = re.compile(
    r"logging\.(?:getLogger\(('(?:[^'\\]|\\.)*')\)|root)\.handlers\[(\d+)\]\Z"
)


def _refcount_base() -> int:
    """What ``map(sys.getrefcount, objs)`` reports for an object only ``objs`` holds."""
    objs = [object()]
    return next(map(sys.getrefcount, objs))


def exclusive_bytes(start: list[Any], limit: int = MAX_EXCLUSIVE) -> int:
    """Bytes of the objects reachable from ``start`` that nothing outside holds.

    Breadth first from ``start`` (counted itself): a child joins when all its
    references come from objects already inside (its reference count minus
    the calling machinery's). Types and modules are never entered. A child
    also held from outside is left out, with everything only it reaches, so
    the figure errs low.
    """
    sizer = Sizer()
    base = _refcount_base()
    inside: dict[int, Any] = {id(x): x for x in start}
    refs: Counter[int] = Counter()
    frontier = list(inside.values())
    while frontier and len(inside) < limit:
        kids = gc.get_referents(*frontier)
        refs.update(map(id, kids))
        unique = [
            k
            for k in {id(k): k for k in kids}.values()
            if id(k) not in inside and not is_a(k, type) and not is_a(k, types.ModuleType)
        ]
        del kids
        counts = list(map(sys.getrefcount, unique))
        frontier = [k for k, n in zip(unique, counts) if n - base == refs[id(k)]]
        del unique
        inside.update((id(k), k) for k in frontier)
    total = 0
    for obj in inside.values():
        try:
            total += sizer.size(obj)
        except Exception:  # noqa: S112 - an object we cannot size counts 0
            continue
    return total


# ---------------------------------------------------------------------- logging


def _loggers() -> Iterator[tuple[str | None, Any]]:
    """``(name, logger)`` for the root logger (name None) and every named logger."""
    logging_ns = sys.modules.get("logging")
    if logging_ns is None:
        return
    logger_type = module_attr("logging", "Logger")
    root = module_attr("logging", "root")
    if is_a(logger_type, type) and root is not None and mro_has(type(root), logger_type):
        yield None, root
    manager = type_ns(logger_type).get("manager") if is_a(logger_type, type) else None
    logger_dict = dict.get(instance_dict(manager) or {}, "loggerDict")
    if not is_a(logger_dict, dict) or not is_a(logger_type, type):
        return
    for name, logger in list(dict.items(logger_dict)):
        if type(name) is str and mro_has(type(logger), logger_type):
            yield name, logger


def _kernel_apps_loggers() -> set[int]:
    """ids of the loggers the kernel's application objects use (``IPKernelApp.log``)."""
    logger_type = module_attr("logging", "Logger")
    if not is_a(logger_type, type):
        return set()
    found: set[int] = set()
    for obj in kernel_singletons():
        attrs = instance_dict(obj) or {}
        values = list(dict.values(attrs))
        traits = dict.get(attrs, "_trait_values")
        if is_a(traits, dict):
            values.extend(dict.values(traits))
        found.update(id(v) for v in values if mro_has(type(v), logger_type))
    return found


def kernel_loggers() -> list[Any]:
    """The loggers that are the kernel's machinery: those of its packages (by the
    logger's name) and those its application objects hold."""
    apps = _kernel_apps_loggers()
    return [
        logger
        for name, logger in _loggers()
        if id(logger) in apps or (name is not None and is_kernel_package(name.split(".")[0]))
    ]


def handlers_of(logger: Any) -> list[Any]:
    """A logger's ``handlers`` list (from its instance dict), or []."""
    handlers = dict.get(instance_dict(logger) or {}, "handlers")
    return list(handlers) if is_a(handlers, list) else []


def handler_stream(handler: Any) -> Any:
    """The ``stream`` of a ``logging.StreamHandler`` (a ``FileHandler`` too), or None."""
    return dict.get(instance_dict(handler) or {}, "stream")


@dataclass
class LogBuffer:
    """A buffering handler of a user logger, with what its records hold."""

    label: str
    handler: Any
    records: int
    exclusive: int


def _label(name: str | None, index: int) -> str:
    owner = "logging.root" if name is None else f"logging.getLogger({name!r})"
    return f"{owner}.handlers[{index}]"


def log_buffers(min_bytes: int = 0) -> list[LogBuffer]:
    """Buffering handlers of user loggers whose records hold at least ``min_bytes``."""
    buffering = module_attr("logging.handlers", "BufferingHandler")
    if not is_a(buffering, type):
        return []
    kernel = {id(x) for x in kernel_loggers()}
    out: list[LogBuffer] = []
    seen: set[int] = set()
    for name, logger in _loggers():
        if id(logger) in kernel:
            continue
        for index, handler in enumerate(handlers_of(logger)):
            if id(handler) in seen or not mro_has(type(handler), buffering):
                continue
            if is_kernel_package(package_of_type(type(handler))):
                continue
            seen.add(id(handler))
            buffer = dict.get(instance_dict(handler) or {}, "buffer")
            if type(buffer) is not list or not buffer:
                continue
            size = exclusive_bytes([buffer])
            if size >= min_bytes:
                out.append(LogBuffer(_label(name, index), handler, len(buffer), size))
    return out


def find_handler(label: str) -> Any:
    """The handler a :class:`LogBuffer` label names now, or None."""
    match = _HANDLER_LABEL.match(label)
    if match is None:
        return None
    import ast  # noqa: PLC0415 - only for a logger name

    name = ast.literal_eval(match.group(1)) if match.group(1) else None
    index = int(match.group(2))
    for found_name, logger in _loggers():
        if found_name == name:
            handlers = handlers_of(logger)
            return handlers[index] if index < len(handlers) else None
    return None


def handler_buffer(handler: Any) -> list[Any] | None:
    """The handler's ``buffer`` list (exact ``list``), or None."""
    buffer = dict.get(instance_dict(handler) or {}, "buffer")
    return buffer if type(buffer) is list else None


#: Kernel objects followed at most from the kernel's singletons.
_MAX_KERNEL_OBJECTS: Final = 2000
#: Attributes of the kernel's objects that hold the user's data, not the kernel's:
#: the namespaces, the output cache and the last displayed result.
_USER_DATA_ATTRIBUTES: Final = frozenset(
    {
        "_",
        "__",
        "___",
        "result",
        "last_execution_result",
        "user_ns",
        "user_ns_hidden",
        "user_global_ns",
        "user_module",
        "output_hist",
        "output_hist_reprs",
    }
)


def _attribute_items(obj: Any) -> list[tuple[Any, Any]]:
    """An instance's ``(name, value)`` attributes: its ``__dict__`` and traitlets'
    ``_trait_values``."""
    attrs = instance_dict(obj) or {}
    items = list(dict.items(attrs))
    traits = dict.get(attrs, "_trait_values")
    if is_a(traits, dict):
        items.extend(dict.items(traits))
    return items


def _kernel_attributes() -> set[int]:
    """ids of what the kernel's objects hold as attributes: from the shell, kernel and
    application singletons through every attribute whose value (or list/dict item) is
    of a kernel package's type, e.g. the history manager's sqlite connection. The
    attributes that hold the user's data (:data:`_USER_DATA_ATTRIBUTES`) are skipped."""
    owned: set[int] = set()
    todo = list(kernel_singletons())
    seen: set[int] = set()
    while todo and len(seen) < _MAX_KERNEL_OBJECTS:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for name, value in _attribute_items(obj):
            if name in _USER_DATA_ATTRIBUTES:
                continue
            owned.add(id(value))
            tp = type(value)
            items = list(value) if tp in (list, tuple) else [value]
            if tp is dict:
                items = list(dict.values(value))
            for item in items:
                if is_kernel_package(package_of_type(type(item))) and not is_a(item, type):
                    owned.add(id(item))
                    todo.append(item)
    return owned


def kernel_owned(objects: Iterable[Any] = ()) -> set[int]:
    """ids of the objects that are the kernel's machinery for resources: what the
    kernel's objects hold as attributes, the kernel's log handlers and their streams
    (and what ``objects`` adds)."""
    owned = {id(x) for x in objects}
    owned |= _kernel_attributes()
    for logger in kernel_loggers():
        for handler in handlers_of(logger):
            owned.add(id(handler))
            stream = handler_stream(handler)
            if stream is not None:
                owned.update(map(id, io_chain(stream)))
    return owned


def io_chain(stream: Any) -> list[Any]:
    """A stream and the io objects under it (its buffer and raw file, however they are
    stacked: ipykernel's log stream is a TextIOWrapper straight over a FileIO)."""
    chain = [stream]
    level = [stream]
    for _depth in range(2):
        level = [x for x in gc.get_referents(*level) if type_module(type(x)) in ("_io", "io")]
        chain.extend(level)
    return chain


__all__ = [
    "MAX_EXCLUSIVE",
    "LogBuffer",
    "exclusive_bytes",
    "find_handler",
    "handler_buffer",
    "handler_stream",
    "handlers_of",
    "io_chain",
    "kernel_loggers",
    "kernel_owned",
    "log_buffers",
]
