"""The one function shipped to Dask workers: which keys are spilled to disk.

The workers do not have memory_doctor installed, so this module is pickled
by value (``cloudpickle.register_pickle_by_value``, which distributed's
serialisation honours). It imports nothing of ours. Each call is logged by
the worker ("Run out-of-band function", INFO), so the cluster scan ships it
only when a worker reports spilled bytes.
"""

from __future__ import annotations

import sys
from typing import Any


def ship_by_value() -> bool:
    """Register this module with cloudpickle (already imported by distributed)."""
    cloudpickle = sys.modules.get("cloudpickle")
    module = sys.modules.get(__name__)
    if cloudpickle is None or module is None:
        return False
    try:
        if __name__ not in cloudpickle.list_registry_pickle_by_value():
            cloudpickle.register_pickle_by_value(module)
    except Exception:  # an old cloudpickle without the registry
        return False
    return True


def spilled_keys(keys: list[Any], dask_worker: Any = None) -> dict[Any, int]:
    """On a worker: ``{key: bytes}`` of the given keys now spilled to disk (their
    sizeof when spilled, as the scheduler's ``nbytes``)."""
    data: Any = getattr(dask_worker, "data", None)
    try:
        slow = data.disk  # SpillBuffer: the keys on disk (membership only, nothing loaded)
    except Exception:
        return {}  # spilling disabled
    try:
        sizes = data._slow_uncached.weight_by_key  # SpilledSize(memory, disk) per key
    except Exception:
        sizes = {}
    out: dict[Any, int] = {}
    for key in keys:
        try:
            if key in slow:
                size = sizes.get(key)
                out[key] = int(getattr(size, "memory", 0) or 0)
        except Exception:  # noqa: S112 - a key dropped while we looked
            continue
    return out
