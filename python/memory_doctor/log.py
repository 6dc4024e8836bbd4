"""The helper's loggers: silent unless someone attaches a handler on purpose."""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

_T = TypeVar("_T")


def quiet_logger(name: str) -> logging.Logger:
    """Return the logger ``name`` with a NullHandler that does not propagate.

    ipykernel routes stderr into the user's cell, so the root logger's
    last-resort handler must never see our records.
    """
    log = logging.getLogger(name)
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log


def guarded(func: Callable[[], _T], log: logging.Logger) -> _T | None:
    """``func()``, or None when it raises (logged at debug level on ``log``).

    For optional readings (a finding, an allocator figure): one that fails is
    reported as unknown, never raised into the kernel.
    """
    try:
        return func()
    except Exception:
        log.debug("%s failed", getattr(func, "__name__", "a reading"), exc_info=True)
        return None
