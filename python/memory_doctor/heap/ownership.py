"""Whose is it: the kernel's machinery or the user's code.

One list of the packages that make up a kernel (:data:`KERNEL_PACKAGES`) and
one way to find the package an object comes from (:func:`package_of`), used
by the roots (a thread of the kernel is not a root; the kernel's modules are
one root group of the whole-heap walk, ``kernel``) and by the resource
describers (a thread or task of the kernel is not the user's resource).
Everything is read through ``heap/introspect.py``: no user code runs.
"""

from __future__ import annotations

import types
from typing import Any, Final

from .introspect import func_module, instance_dict, method_parts, type_module

#: Top-level packages whose threads and tasks are the kernel's machinery, not the user's.
KERNEL_PACKAGES: Final = frozenset(
    {
        "IPython",
        "_pydevd_bundle",
        "_pydevd_frame_eval",
        "anyio",
        "comm",
        "debugpy",
        "ipykernel",
        "ipyparallel",
        "ipython_pygments_lexers",
        "jupyter_client",
        "jupyter_core",
        "jupyter_server",
        "matplotlib_inline",
        "memory_doctor",
        "pydevd",
        "pydevd_plugins",
        "tornado",
        "traitlets",
        "zmq",
    }
)


def package_of_type(tp: type) -> str | None:
    """The top-level package that defines ``tp`` (from its ``__module__``)."""
    module = type_module(tp)
    return module.split(".")[0] if module else None


def package_of(value: Any) -> str | None:
    """The top-level package ``value`` comes from; None for None or an unknown module.

    A function counts by its ``__module__``, a bound method by its function
    (else by its ``self``'s type), anything else by its type.
    """
    if value is None:
        return None
    if type(value) is types.MethodType:
        owner, func = method_parts(value)
        return package_of(func) or package_of_type(type(owner))
    if type(value) is types.FunctionType:
        module = func_module(value)
        return module.split(".")[0] if module else None
    return package_of_type(type(value))


def is_kernel_package(package: str | None) -> bool:
    """Whether ``package`` is part of the kernel's machinery."""
    return package in KERNEL_PACKAGES


def thread_target(thread: Any) -> Any:
    """The ``target`` a ``threading.Thread`` was made with (from its instance dict), or None."""
    attrs = instance_dict(thread) or {}
    return dict.get(attrs, "_target")


def is_kernel_thread(thread: Any) -> bool:
    """Whether a ``threading.Thread`` is the kernel's: its class or its target is."""
    return is_kernel_package(package_of_type(type(thread))) or is_kernel_package(
        package_of(thread_target(thread))
    )


__all__ = [
    "KERNEL_PACKAGES",
    "is_kernel_package",
    "is_kernel_thread",
    "package_of",
    "package_of_type",
    "thread_target",
]
