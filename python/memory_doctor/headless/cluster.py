"""The headless report's Dask cluster parts: per-cell deltas, ``cluster``, ``--fix``.

When the notebook's kernel holds a connected ``distributed.Client``, each
cell's record says its cluster measurement is pending and a ``cell_cluster``
message brings it about a second later (the scheduler's heartbeats lag);
:func:`fill_cell_deltas` waits for those and writes each cell's
``cluster_delta_bytes``. After the scan, :func:`scan` asks ``scan_cluster``
and :func:`section` turns its first scheduler into the report's ``cluster``::

    {"scheduler": ADDRESS, "status": "ok", "error": null,
     "total": {...}, "workers": [{"name", "address", "memory", "managed",
     "spilled", "unmanaged", "memory_limit", "headroom"}],
     "holders": [{"labels", "keys", "bytes", "spilled", "workers",
     "suggestion", "releasable"}]}

With ``--fix``, :func:`release` releases every releasable holder (one
``release_cluster`` per scheduler) and the report gains ``cluster_fix`` and
``cluster_after_fix``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..format import format_bytes
from ..protocol import (
    CLUSTER_MAX_SETTLE_S,
    CLUSTER_QUERY_TIMEOUT_S,
    CLUSTER_RELEASE_REPLY_TIMEOUT_S,
    CLUSTER_SCAN_REPLY_TIMEOUT_S,
    REQ_RELEASE_CLUSTER,
    REQ_SCAN_CLUSTER,
)

#: How long to wait, after the last cell, for the cells' ``cell_cluster`` messages.
CELL_CLUSTER_WAIT_S: Final = CLUSTER_MAX_SETTLE_S + 2 * CLUSTER_QUERY_TIMEOUT_S + 5
#: Holder suggestions ``--fix`` acts on (the others say what to do instead).
RELEASED_SUGGESTIONS: Final = ("release", "output_cache")


def pending(record: Mapping[str, Any] | None, execution_count: int | None) -> list[int]:
    """``[execution_count]`` when the record's cluster measurement is still to come, else []."""
    cluster = (record or {}).get("cluster")
    waiting = isinstance(cluster, Mapping) and cluster.get("pending") is True
    return [execution_count] if waiting and execution_count is not None else []


def fill_cell_deltas(
    session: Any, entries: Sequence[dict[str, Any]], pending: Sequence[int]
) -> int:
    """Write ``cluster_delta_bytes`` into the report cells whose cluster measurement was
    pending; returns how many never came (they keep ``None``)."""
    if not pending:
        return 0
    found = session.wait_cell_clusters(pending, CELL_CLUSTER_WAIT_S)
    for entry in entries:
        message = found.get(entry.get("execution_count"))
        if message is not None:
            cluster = message.get("cluster") or {}
            entry["cluster_delta_bytes"] = cluster.get("delta_bytes")
            entry["cluster_status"] = [c.get("status") for c in cluster.get("clusters") or []]
    return len(set(pending) - set(found))


def _ask(session: Any, request: str, timeout: float, **params: Any) -> tuple[Any, str | None]:
    from .errors import MemoryDoctorError  # noqa: PLC0415

    try:
        reply = session.wait_reply(session.send_request(request, **params), timeout=timeout)
    except (MemoryDoctorError, TimeoutError) as exc:
        return None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not reply.get("ok"):
        error = reply.get("error") or {}
        return None, f"{error.get('code')}: {error.get('message')}"
    return reply.get("result"), None


def scan(session: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The ``scan_cluster`` result, or why there is none."""
    result, error = _ask(session, REQ_SCAN_CLUSTER, CLUSTER_SCAN_REPLY_TIMEOUT_S)
    return (result if isinstance(result, dict) else None), error


def _worker(w: Mapping[str, Any]) -> dict[str, Any]:
    limit = w.get("memory_limit")
    memory = w.get("memory")
    return {
        "name": w.get("name"),
        "address": w.get("address"),
        "memory": memory,
        "managed": w.get("managed"),
        "spilled": w.get("spilled"),
        "unmanaged": w.get("unmanaged"),
        "memory_limit": limit,
        "headroom": limit - memory if isinstance(limit, int) and isinstance(memory, int) else None,
    }


def _holder(h: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "labels": list(h.get("labels") or []),
        "keys": h.get("keys"),
        "bytes": h.get("bytes"),
        "spilled": h.get("spilled"),
        "workers": [
            {"name": w.get("name"), "bytes": w.get("bytes"), "keys": w.get("keys")}
            for w in h.get("workers") or []
        ],
        "status": {k: v for k, v in (h.get("status") or {}).items() if v},
        "suggestion": h.get("suggestion"),
        "releasable": h.get("releasable"),
        "note": h.get("note"),
    }


def section(result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The report's ``cluster``: the first connected scheduler, or None without one.

    A kernel connected to several schedulers gets the others in ``others``.
    """
    clusters = [c for c in (result or {}).get("clusters") or [] if isinstance(c, Mapping)]
    if not clusters:
        return None
    out = [_section(c) for c in clusters]
    first = out[0]
    if len(out) > 1:
        first["others"] = out[1:]
    return first


def _section(c: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "scheduler": c.get("scheduler"),
        "status": c.get("status"),
        "error": c.get("error"),
        "total": c.get("total"),
        "workers": [_worker(w) for w in c.get("workers") or []],
        "holders": [_holder(h) for h in c.get("holders") or []],
    }


def release(session: Any, result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``--fix``: release every releasable holder, one request per scheduler; the
    report's ``cluster_fix`` entries (what was deleted and what the workers freed)."""
    out: list[dict[str, Any]] = []
    for c in result.get("clusters") or []:
        holders = [
            list(h["labels"])
            for h in c.get("holders") or []
            if h.get("releasable") and h.get("suggestion") in RELEASED_SUGGESTIONS
        ]
        if not holders:
            continue
        found, error = _ask(
            session,
            REQ_RELEASE_CLUSTER,
            CLUSTER_RELEASE_REPLY_TIMEOUT_S,
            scheduler=c.get("scheduler"),
            holders=holders,
        )
        entry: dict[str, Any] = {"scheduler": c.get("scheduler"), "holders": holders}
        if found is None:
            entry.update(ok=False, error=error)
        else:
            keep = (
                "status",
                "error",
                "deleted",
                "kept",
                "missing",
                "keys",
                "released_keys",
                "still_held_keys",
                "estimate_bytes",
                "freed_bytes",
                "freed_on_workers",
                "seconds_to_report",
            )
            entry.update(ok=True, **{k: found.get(k) for k in keep})
            entry["text"] = freed_text(found)
        out.append(entry)
    return out


def freed_text(result: Mapping[str, Any]) -> str:
    """ "Freed 3.2 GB on 4 workers (estimated 3.2 GB)", or why nothing was measured."""
    freed = result.get("freed_bytes")
    if not isinstance(freed, int):
        return f"names deleted; not measured: {result.get('error') or result.get('status')}"
    workers = result.get("freed_on_workers") or 0
    text = (
        f"Freed {format_bytes(freed)} on {workers} worker{'s' if workers != 1 else ''} "
        f"(estimated {format_bytes(result.get('estimate_bytes'))})"
    )
    still = result.get("still_held_keys")
    if isinstance(still, int) and still:
        text += f"; {still} keys are still held by something else"
    return text


def html_context(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The HTML section's context (``cluster.html.j2``); None without a cluster."""
    cluster = report.get("cluster")
    if not isinstance(cluster, Mapping):
        return None
    fixes = [f for f in report.get("cluster_fix") or [] if isinstance(f, Mapping)]
    return {
        "cluster": cluster,
        "fixes": fixes,
        "worker_headings": (
            "Worker",
            "Memory",
            "Managed",
            "Spilled",
            "Unmanaged",
            "Limit",
            "Headroom",
        ),
        "holder_headings": ("Held by", "Keys", "Bytes", "Spilled", "Workers", "What to do"),
        "advice": ADVICE,
    }


#: What to do about each kind of cluster holder (the README says more).
ADVICE: Final = {
    "release": (
        "Delete the names when you are done (memory-doctor run --fix does), or persist less."
    ),
    "output_cache": (
        "Only IPython's output cache holds it: end such lines with ';', or %reset -f out."
    ),
    "redefine": (
        "A closure, default argument or class attribute holds it: redefine or delete its owner."
    ),
    "unattributed": (
        "Futures no name reaches (a library object, a thread, another client) hold it."
    ),
}


__all__ = [
    "CELL_CLUSTER_WAIT_S",
    "fill_cell_deltas",
    "freed_text",
    "html_context",
    "pending",
    "release",
    "scan",
    "section",
]
