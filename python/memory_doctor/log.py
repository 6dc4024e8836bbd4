"""The helper's loggers: silent unless someone attaches a handler on purpose."""

from __future__ import annotations

import logging


def quiet_logger(name: str) -> logging.Logger:
    """Return the logger ``name`` with a NullHandler that does not propagate.

    ipykernel routes stderr into the user's cell, so the root logger's
    last-resort handler must never see our records.
    """
    log = logging.getLogger(name)
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log
