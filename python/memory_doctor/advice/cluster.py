"""The Dask cluster's memory as plain data: readings, holders, the release plan.

Pure functions over the scheduler's answers and the walk's key groups
(``futures.py``); the kernel package decides when they run and on which thread
(``kernel/cluster.py``). The one exception is :func:`delete_labels`, which
removes names from the user namespace and runs on the kernel's main thread
between cells, like the other fixes.

Memory figures mirror distributed's ``MemoryState``, from the workers'
heartbeats (``Scheduler.identity``): ``memory`` is the worker process's RSS,
``managed`` the sizeof of the keys it holds in memory, ``spilled`` the bytes
spilled to disk and ``unmanaged`` the rest of the process (``memory -
managed``). Heartbeats lag by up to about a second, so a reading carries each
worker's sample time and the cell records use the held keys' ``nbytes`` for
the exact figure.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .fixes import Shell, places, remove, value_at
from .futures import KeyGroup, key_text

#: The four memory figures of a worker, in the order the UI shows them.
MEMORY_FIELDS: Final = ("memory", "managed", "spilled", "unmanaged")
#: Key names shown per holder (a holder may keep 100 000 keys).
SAMPLE_KEYS: Final = 3
#: Root kinds whose references deleting names removes.
RELEASABLE_KINDS: Final = frozenset({"variable", "output_cache", "traceback"})
#: Future statuses a holder counts (``FutureState.status``; anything else is ``unknown``).
KEY_STATUSES: Final = ("pending", "finished", "cancelled", "lost", "error", "unknown")
#: Task states that count as work still going on on a worker.
_BUSY_STATES: Final = ("executing", "ready", "waiting", "constrained", "fetch", "flight")
_TRACEBACK_NAMES: Final = ("last_exc", "last_value", "last_traceback", "last_type")
UNATTRIBUTED_NOTE: Final = (
    "held by futures no scanned name reaches (a library object, a thread, another client)"
)


def _num(x: Any) -> int:
    return int(x) if type(x) in (int, float) and math.isfinite(x) else 0


# --------------------------------------------------------------------------- readings


def memory_from_identity(info: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The cluster's memory per worker and summed, from ``Scheduler.identity()``.

    ``managed`` is the heartbeat's ``managed_bytes`` minus the sizeof of what
    was spilled, capped at the process memory (distributed's own rule). Workers
    of a ``LocalCluster(processes=False)`` live in the kernel (``inproc://``)
    and each reports the kernel's RSS: they are flagged ``in_kernel`` and the
    totals count only their managed bytes, not the kernel once per worker.
    """
    workers: list[dict[str, Any]] = []
    found = info.get("workers")
    for address, w in sorted((found if isinstance(found, dict) else {}).items()):
        if not isinstance(w, dict) or type(address) is not str:
            continue
        metrics: Any = w.get("metrics") if isinstance(w.get("metrics"), dict) else {}
        process = _num(metrics.get("memory"))
        spilled: Any = metrics.get("spilled_bytes")
        spilled = spilled if isinstance(spilled, dict) else {}
        managed = min(
            process, max(0, _num(metrics.get("managed_bytes")) - _num(spilled.get("memory")))
        )
        counts: Any = metrics.get("task_counts")
        counts = counts if isinstance(counts, dict) else {}
        mtime = metrics.get("time")
        limit = _num(w.get("memory_limit"))
        timed = type(mtime) in (int, float)
        busy: int = sum(_num(counts.get(k)) for k in _BUSY_STATES)
        workers.append(
            {
                "address": address,
                "name": str(w.get("name", address))[:200],
                "memory": process,
                "managed": managed,
                "spilled": _num(spilled.get("disk")),
                "unmanaged": process - managed,
                "memory_limit": limit or None,
                "metrics_time": float(mtime) if timed else None,
                "age_s": round(now - float(mtime), 3) if timed else None,
                "busy_tasks": busy,
                "in_kernel": address.startswith("inproc://"),
            }
        )
    address = info.get("address")
    return {
        "scheduler": address if type(address) is str else "?",
        "time": now,
        "workers": workers,
        "total": totals(workers),
    }


def totals(workers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The cluster's sums; ``memory_limit`` only when every worker has one."""
    limits = [w["memory_limit"] for w in workers]
    return {
        "memory": sum(w["managed"] if w["in_kernel"] else w["memory"] for w in workers),
        "managed": sum(w["managed"] for w in workers),
        "spilled": sum(w["spilled"] for w in workers),
        "unmanaged": sum(0 if w["in_kernel"] else w["unmanaged"] for w in workers),
        "memory_limit": sum(limits) if workers and all(limits) else None,
        "workers": len(workers),
        "busy_tasks": sum(w["busy_tasks"] for w in workers),
    }


def is_fresh(reading: Mapping[str, Any], since: float) -> bool:
    """Whether every worker's sample was taken at or after ``since``."""
    return all(
        w["metrics_time"] is not None and w["metrics_time"] >= since for w in reading["workers"]
    )


def wire_workers(reading: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The reading's workers as the protocol sends them (no sample timestamp)."""
    return [{k: v for k, v in w.items() if k != "metrics_time"} for w in reading["workers"]]


def _figures(w: Mapping[str, Any]) -> dict[str, int]:
    return {k: int(w[k]) for k in MEMORY_FIELDS}


def cell_entry(
    scheduler: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    keys: Mapping[str, int],
    round_trip_ms: float | None,
) -> dict[str, Any]:
    """One scheduler's part of a ``cell_cluster`` message, from two readings.

    ``keys`` is the key-attributed delta (what the cell's futures added and
    released, by their ``nbytes``): the exact figure. The readings are
    heartbeats: ``before`` is the newest one held when the cell started (the
    previous cell's "after", or a scan's), ``after`` is settled when every
    worker's sample is newer than the cell's end.
    """
    delta = int(keys["bytes_added"]) - int(keys["bytes_removed"])
    by_addr = {w["address"]: w for w in (before or {}).get("workers", [])}
    workers = []
    for w in after["workers"]:
        b = by_addr.pop(w["address"], None)
        workers.append(
            {
                "address": w["address"],
                "name": w["name"],
                "memory_limit": w["memory_limit"],
                "before": _figures(b) if b is not None else None,
                "after": _figures(w),
            }
        )
    for b in by_addr.values():  # left the cluster during the cell
        workers.append(
            {
                "address": b["address"],
                "name": b["name"],
                "memory_limit": b["memory_limit"],
                "before": _figures(b),
                "after": None,
            }
        )
    return {
        "scheduler": scheduler,
        "status": "ok",
        "error": None,
        "delta_bytes": delta,
        "keys": dict(keys),
        "before": dict(before["total"]) if before is not None else None,
        "before_age_s": round(after["time"] - before["time"], 3) if before is not None else None,
        "after": dict(after["total"]),
        "settled": bool(after.get("settled")),
        "round_trip_ms": round_trip_ms,
        "workers": workers,
    }


def failed_cell_entry(scheduler: str, status: str, error: str | None) -> dict[str, Any]:
    """A scheduler's part of ``cell_cluster`` when it could not be measured."""
    return {
        "scheduler": scheduler,
        "status": status,
        "error": error,
        "delta_bytes": None,
        "keys": None,
        "before": None,
        "before_age_s": None,
        "after": None,
        "settled": None,
        "round_trip_ms": None,
        "workers": [],
    }


def cell_delta(entries: Sequence[Mapping[str, Any]]) -> int | None:
    """The cell's ``cluster_delta_bytes``: the sum over the schedulers measured."""
    found = [e["delta_bytes"] for e in entries if e["status"] == "ok"]
    return sum(found) if found else None


# --------------------------------------------------------------------------- holders


def is_releasable(labels: Sequence[str], kinds: Sequence[str]) -> bool:
    """Whether deleting names releases every reference of the holder: each label
    is a name, an output-cache entry or the last traceback, or a closure cell or
    default of a function whose own name is among the labels."""
    if not labels:
        return False
    names = set(labels)
    for label, kind in zip(labels, kinds):
        if kind in RELEASABLE_KINDS:
            continue
        owner = label.split(".__", 1)[0]
        if kind in ("closure", "default_arg") and owner != label and owner in names:
            continue
        return False
    return True


def suggestion_for(labels: Sequence[str], kinds: Sequence[str]) -> str:
    """What to do about a holder: ``release``; ``output_cache`` when only IPython's
    output cache holds it (the dask #333 trap); ``redefine`` when a closure,
    default argument or class attribute holds it; ``unattributed``."""
    if not labels:
        return "unattributed"
    if not is_releasable(labels, kinds):
        return "redefine"
    if all(kind == "output_cache" for kind in kinds):
        return "output_cache"
    return "release"


def key_status(counts: Mapping[str, int]) -> dict[str, int]:
    """Every status of ``KEY_STATUSES`` with its count (others count as ``unknown``)."""
    out = dict.fromkeys(KEY_STATUSES, 0)
    for status, n in counts.items():
        out[status if status in out else "unknown"] += n
    return out


def holder_row(
    group: KeyGroup,
    answers: Mapping[str, Any],
    names: Mapping[str, str],
) -> dict[str, Any]:
    """One holder: its keys' bytes (``nbytes``, as ``Client.nbytes``), who holds
    them (``who_has``) and how much of that is spilled."""
    nbytes: Mapping[Any, int] = answers["nbytes"]
    who_has: Mapping[Any, Sequence[str]] = answers["who_has"]
    spilled_by_worker: Mapping[str, Mapping[Any, int]] | None = answers.get("spilled")
    total = pending = spilled = 0
    per_worker: dict[str, list[int]] = {}
    for key in group.keys:
        size = nbytes.get(key, -1)
        if size is None or size < 0:
            pending += 1
            continue
        total += size
        for addr in who_has.get(key) or ():
            slot = per_worker.setdefault(addr, [0, 0, 0])
            slot[0] += size
            slot[1] += 1
            if spilled_by_worker is not None and key in spilled_by_worker.get(addr, {}):
                slot[2] += size
                spilled += size
    return {
        "labels": list(group.labels),
        "kinds": list(group.kinds),
        "keys": len(group.keys),
        "bytes": total,
        # Counting replicas: what releasing the keys frees on the workers.
        "worker_bytes": sum(v[0] for v in per_worker.values()),
        "pending_keys": pending,
        "status": key_status(group.status),
        "spilled": spilled if spilled_by_worker is not None else None,
        "workers": [
            {
                "address": a,
                "name": names.get(a, a),
                "bytes": v[0],
                "keys": v[1],
                "spilled": v[2] if spilled_by_worker is not None else None,
            }
            for a, v in sorted(per_worker.items())
        ],
        "sample_keys": [key_text(k) for k in group.keys[:SAMPLE_KEYS]],
        "releasable": is_releasable(group.labels, group.kinds),
        "suggestion": suggestion_for(group.labels, group.kinds),
        "note": None if group.labels else UNATTRIBUTED_NOTE,
    }


def offline_row(group: KeyGroup) -> dict[str, Any]:
    """A holder when the scheduler did not answer: labels, key counts and statuses."""
    return {
        "labels": list(group.labels),
        "kinds": list(group.kinds),
        "keys": len(group.keys),
        "bytes": None,
        "worker_bytes": None,
        "pending_keys": None,
        "status": key_status(group.status),
        "spilled": None,
        "workers": [],
        "sample_keys": [key_text(k) for k in group.keys[:SAMPLE_KEYS]],
        "releasable": is_releasable(group.labels, group.kinds),
        "suggestion": suggestion_for(group.labels, group.kinds),
        "note": None if group.labels else UNATTRIBUTED_NOTE,
    }


def unattributed_group(client: int, keys: Mapping[Any, str]) -> KeyGroup | None:
    """The keys a client holds that no scanned root reached, as one group."""
    if not keys:
        return None
    status: dict[str, int] = {}
    for st in keys.values():
        status[st] = status.get(st, 0) + 1
    return KeyGroup([], [], client, list(keys), status)


def holders(
    groups: Sequence[KeyGroup], answers: Mapping[str, Any] | None, reading: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The holder rows of one client, largest first (offline rows without answers)."""
    if answers is None:
        rows = [offline_row(g) for g in groups]
        rows.sort(key=lambda h: -h["keys"])
        return rows
    names = {w["address"]: w["name"] for w in (reading or {}).get("workers", [])}
    rows = [holder_row(g, answers, names) for g in groups]
    rows.sort(key=lambda h: (not h["labels"], -h["bytes"]))
    return rows


def section(
    scheduler: str,
    *,
    status: str,
    error: str | None,
    reading: Mapping[str, Any] | None,
    rows: list[dict[str, Any]],
    round_trip_ms: float | None,
) -> dict[str, Any]:
    """One scheduler's entry in the ``scan_cluster`` result."""
    return {
        "scheduler": scheduler,
        "status": status,
        "error": error,
        "workers": wire_workers(reading) if reading is not None else [],
        "total": dict(reading["total"]) if reading is not None else None,
        "holders": rows,
        "round_trip_ms": round_trip_ms,
    }


# --------------------------------------------------------------------------- release


def plan(groups: Sequence[KeyGroup], chosen: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The labels to delete for the holders named by ``chosen`` (label lists,
    as the scan sent them) and the keys that deleting them releases.

    A holder is found again by its exact set of labels in a fresh walk; one
    that changed since the scan is refused. Keys of any group whose labels are
    all deleted are released (deleting ``[A, B]`` also frees what ``A`` held
    alone); a key another name still holds is never among them.
    """
    by_labels = {frozenset(g.labels): g for g in groups if g.labels}
    labels: list[str] = []
    missing: list[list[str]] = []
    refused: list[list[str]] = []
    for wanted in chosen:
        group = by_labels.get(frozenset(wanted))
        if group is None:
            missing.append(list(wanted))
            continue
        if not is_releasable(group.labels, group.kinds):
            refused.append(list(group.labels))
            continue
        labels.extend(x for x in group.labels if x not in labels)
    deleted = set(labels)
    freed = [g for g in groups if g.labels and set(g.labels) <= deleted]
    return {
        "labels": labels,
        "missing": missing,
        "refused": refused,
        "groups": freed,
        "keys": [k for g in freed for k in g.keys],
    }


def estimate(freed: Sequence[KeyGroup], answers: Mapping[str, Any]) -> int:
    """Bytes the workers hold for these groups' keys, replicas included."""
    nbytes: Mapping[Any, int] = answers["nbytes"]
    who_has: Mapping[Any, Sequence[str]] = answers["who_has"]
    total = 0
    for group in freed:
        for key in group.keys:
            size = nbytes.get(key, -1)
            if size is not None and size > 0:
                total += size * max(1, len(who_has.get(key) or ()))
    return total


def _bound(label: str, sh: Shell) -> bool:
    if label.startswith("sys.last_"):
        return (vars(sys).get(label[4:]) if label[4:] in _TRACEBACK_NAMES else None) is not None
    spots = places(label, sh)
    if not spots:
        return False
    value = value_at(spots[0], sh)
    # IPython's own empty value of ``_``, ``__`` and ``___`` holds nothing.
    return not (type(value) is str and value == "")


def delete_labels(shell: Any, labels: Sequence[str]) -> dict[str, list[str]]:
    """Delete every place each label is stored (the name, ``Out[n]``, ``_n``,
    ``_``, their hidden copies and the display hook's, the last traceback), as
    the ``delete_holder`` fix does; the futures then release their keys through
    distributed's own reference counting. Nothing is cancelled.

    ``deleted`` lists the labels bound before and gone after, ``kept`` those
    still bound (a form this cannot delete). Main thread, between cells.
    """
    sh = Shell(shell)
    bound = [label for label in labels if _bound(label, sh)]
    ids: set[int] = set()
    for label in bound:
        if label.startswith("sys.last_"):
            sys_ns = vars(sys)
            for name in _TRACEBACK_NAMES:
                sys_ns.pop(name, None)
            continue
        spots = places(label, sh)
        if spots:
            ids.add(id(value_at(spots[0], sh)))
        for spot in spots:
            remove(spot, sh)
    sh.forget_last_result(ids)
    return {
        "deleted": [label for label in bound if not _bound(label, sh)],
        "kept": [label for label in labels if _bound(label, sh)],
    }


def release_result(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    keys: int,
    still_held: int,
) -> dict[str, Any]:
    """What the workers report freed between two readings, total and per worker."""
    freed = {k: int(before["total"][k]) - int(after["total"][k]) for k in MEMORY_FIELDS}
    by_addr = {w["address"]: w for w in before["workers"]}
    per_worker = []
    for w in after["workers"]:
        b = by_addr.get(w["address"])
        if b is None:
            continue
        per_worker.append(
            {
                "address": w["address"],
                "name": w["name"],
                **{f"freed_{k}": int(b[k]) - int(w[k]) for k in MEMORY_FIELDS},
            }
        )
    return {
        "keys": keys,
        "released_keys": keys - still_held,
        "still_held_keys": still_held,
        "freed": freed,
        "freed_bytes": max(0, freed["managed"]) + max(0, freed["spilled"]),
        "workers": per_worker,
        "freed_on_workers": sum(
            1 for w in per_worker if w["freed_managed"] > 0 or w["freed_spilled"] > 0
        ),
    }


__all__ = [
    "KEY_STATUSES",
    "MEMORY_FIELDS",
    "RELEASABLE_KINDS",
    "UNATTRIBUTED_NOTE",
    "cell_delta",
    "cell_entry",
    "delete_labels",
    "estimate",
    "failed_cell_entry",
    "holder_row",
    "holders",
    "is_fresh",
    "is_releasable",
    "key_status",
    "memory_from_identity",
    "offline_row",
    "plan",
    "release_result",
    "section",
    "suggestion_for",
    "totals",
    "unattributed_group",
    "wire_workers",
]
