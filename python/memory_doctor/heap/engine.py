"""Engine selection: the native walker when it is built, the Python one otherwise.

``MEMORY_DOCTOR_ENGINE=python`` forces the Python engine (CI runs the suite
both ways); ``=native`` makes a missing extension an error instead of a silent
fallback. The extension is missing where the package was installed from an
sdist without a compiler, or on a platform the wheel was not built for: the
Python engine then gives the same answers, more slowly.
"""

from __future__ import annotations

import importlib
import os
import time
from types import ModuleType
from typing import Any, Protocol

from .model import WalkResult, WalkSpec
from .pywalker import PyWalker

#: The environment variable that picks an engine (``native`` or ``python``).
ENV = "MEMORY_DOCTOR_ENGINE"


def _load_native() -> tuple[ModuleType | None, str | None]:
    try:
        return importlib.import_module(f"{__package__}._walker"), None
    except ImportError as exc:  # no compiler when installed from an sdist, unusual platform
        return None, str(exc)


_walker, NATIVE_IMPORT_ERROR = _load_native()


class Walker(Protocol):
    """What both engines offer."""

    engine: str

    @property
    def phase(self) -> str:
        """The current phase (``setup``, ``walk``... ``done``)."""
        ...

    @property
    def objects(self) -> int:
        """Objects sized so far."""
        ...

    def step(self, deadline: float) -> bool:
        """Work until ``deadline`` (``time.perf_counter()``); True once done."""
        ...

    def result(self) -> WalkResult:
        """The finished walk."""
        ...

    def label_of(self, obj: Any) -> int | None:
        """Label id of a table node (None: inline object, wall, unknown)."""
        ...

    def truncate(self) -> None:
        """Stop discovering; the later phases label what was found."""
        ...

    def release(self) -> None:
        """Drop every reference (idempotent)."""
        ...


class NativeWalker:
    """The C engine behind the :class:`Walker` interface."""

    engine = "native"

    def __init__(self, spec: WalkSpec) -> None:
        if _walker is None:
            raise RuntimeError(f"the native engine is not built: {NATIVE_IMPORT_ERROR}")
        self._n_groups = len(spec.groups)
        self._w = _walker.Walker(
            spec.groups,
            spec.stops,
            spec.walls,
            spec.classify,
            spec.objects,
            spec.late_walls,
            spec.check_refs,
            spec.top_k,
        )
        self._result: WalkResult | None = None

    @property
    def phase(self) -> str:
        return str(self._w.phase)

    @property
    def objects(self) -> int:
        return int(self._w.objects)

    def step(self, deadline: float) -> bool:
        return bool(self._w.step(max(deadline - time.perf_counter(), 0.0)))

    def result(self) -> WalkResult:
        if self._result is None:
            self._result = WalkResult(self._w.result(), self._n_groups, self.engine)
        return self._result

    def label_of(self, obj: Any) -> int | None:
        found = self._w.label_of(obj)
        return None if found is None else int(found)

    def truncate(self) -> None:
        self._w.truncate()

    def release(self) -> None:
        self._w.release()
        self._result = None


def native_available() -> bool:
    """Whether the C extension is importable."""
    return _walker is not None


def native_module() -> ModuleType | None:
    """The C extension (``Walker``, ``GarbageCounter``), or None when not built."""
    return _walker


def engine_name(requested: str | None = None) -> str:
    """``"native"`` or ``"python"``: the argument, else ``$MEMORY_DOCTOR_ENGINE``,
    else native when built."""
    choice = (requested or os.environ.get(ENV, "") or "").strip().lower()
    if choice == "python":
        return "python"
    if choice == "native":
        if _walker is None:
            raise RuntimeError(
                f"{ENV}=native but the native engine is not built: {NATIVE_IMPORT_ERROR}"
            )
        return "native"
    return "native" if _walker is not None else "python"


def new_walker(spec: WalkSpec, engine: str | None = None) -> Walker:
    """A walker over ``spec`` with the chosen engine."""
    if engine_name(engine) == "native":
        return NativeWalker(spec)
    return PyWalker(spec)


def walker_types() -> tuple[type, ...]:
    """The engines' own types: never part of a walk (Classifier ``ignore``)."""
    out: list[type] = [PyWalker, NativeWalker]
    if _walker is not None:
        out.append(_walker.Walker)
    return tuple(out)


def run(
    spec: WalkSpec, engine: str | None = None, slice_s: float = 0.05
) -> tuple[WalkResult, Walker]:
    """Run a walk to the end (tests, bench); the caller releases the walker."""
    w = new_walker(spec, engine)
    while not w.step(time.perf_counter() + slice_s):
        pass
    return w.result(), w


__all__ = [
    "ENV",
    "NATIVE_IMPORT_ERROR",
    "NativeWalker",
    "Walker",
    "engine_name",
    "native_available",
    "native_module",
    "new_walker",
    "run",
    "walker_types",
]
