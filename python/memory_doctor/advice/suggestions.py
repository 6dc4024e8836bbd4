"""Suggestions: the fixes a scan's holders, resources and findings call for.

:func:`build_suggestions` turns one scan's plain results (its holders, its
finished resources, its :class:`~.findings.Findings`) into the protocol's
``suggestions`` (see ``docs/protocol.md``) and the :class:`~.fixes.FixTable`
that ``apply_fix`` validates against. Each suggestion carries the exact
Python a user could type instead (``code``), which does the same as the
helper's operation: e.g. the output-cache copies IPython keeps in
``user_ns_hidden`` are removed too, or the memory would stay.

Runs on the kernel's main thread right after the scan, while no cell runs;
it reads the namespace only to record ids and types (no user code).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..format import format_bytes
from ..heap.introspect import is_identifier
from ..log import quiet_logger
from . import fixes
from .findings import Findings

_log = quiet_logger(__name__)

#: Holders retaining less than this get no suggestion (not worth a click).
MIN_BYTES: Final = 1 << 20
#: At most this many delete suggestions (the largest holders).
MAX_DELETE: Final = 20
#: A view is worth copying when what it keeps alive is this many times its own size.
VIEW_RATIO: Final = 4
#: Cyclic garbage worth a ``gc.collect()``.
MIN_GARBAGE_OBJECTS: Final = 100_000
#: Resident free memory in the C allocator worth a ``malloc_trim(0)``.
MIN_TRIM_BYTES: Final = 8 << 20
#: A pymalloc gap this large is explained (with the malloc_trim suggestion) even
#: when there is little for malloc_trim to return.
MIN_GAP_EXPLAIN: Final = 64 << 20

_DELETABLE: Final = frozenset({"variable", "output_cache"})
_CLOSE_ACTION: Final = {
    "file": "close_resource",
    "socket": "close_resource",
    "db_connection": "close_resource",
    "mmap": "close_resource",
    "h5py_file": "close_resource",
    "tempdir": "close_resource",
    "process": "terminate_process",
    "pool": "close_pool",
    "figure": "close_figures",
    "asyncio_task": "cancel_task",
}


class _Builder:
    def __init__(self, shell: Any, provenance: Any) -> None:
        self.sh = fixes.Shell(shell)
        self.provenance = provenance
        self.suggestions: list[dict[str, Any]] = []
        self.table = fixes.FixTable()

    def add(
        self,
        action: str,
        targets: list[str],
        code: str,
        estimated: int | None,
        reason: str,
        *,
        holder_id: str | None = None,
        resource: Mapping[str, Any] | None = None,
        resources: Sequence[Mapping[str, Any]] = (),
        records: Sequence[fixes.Target] = (),
    ) -> None:
        sid = f"s{len(self.suggestions) + 1}"
        destructive = action not in ("gc_collect", "malloc_trim")
        self.suggestions.append(
            {
                "id": sid,
                "action": action,
                "targets": list(targets),
                "code": code,
                "estimated_freed_bytes": estimated,
                "reason": reason,
                "destructive": destructive,
                "holder_id": holder_id,
                "resource_id": resource["id"] if resource is not None else None,
            }
        )
        self.table.entries[sid] = fixes.FixEntry(
            sid,
            action,
            list(targets),
            estimated,
            list(records),
            [dict(r) for r in (resources or ([resource] if resource is not None else []))],
        )

    def records(self, labels: Sequence[str], action: str) -> list[fixes.Target] | None:
        out = []
        for label in labels:
            rec = fixes.record(label, self.sh, action, self.provenance)
            if rec is None:
                return None
            out.append(rec)
        return out


# ---------------------------------------------------------------------- code strings


def delete_code(labels: Sequence[str], sh: fixes.Shell) -> str:
    """Python that removes every place the labels are stored, as the fix does.

    Expression statements (``Out.pop``) come first and a ``del`` last, so the
    cell's last statement displays nothing (a displayed value would land in
    ``Out`` again).
    """
    pops: list[str] = []
    sets: list[str] = []
    dels: list[str] = []
    for label in labels:
        for where, key in fixes.places(label, sh):
            if where == "out":
                pops.append(f"Out.pop({key}, None)")
            elif where == "hook":
                sets.append(f"get_ipython().displayhook.{key} = ''")
            elif where == "hidden":
                if key in ("_", "__", "___"):
                    sets.append(f"get_ipython().user_ns_hidden[{key!r}] = ''")
                else:
                    pops.append(f"get_ipython().user_ns_hidden.pop({key!r}, None)")
            elif key in ("_", "__", "___"):
                sets.append(f"{key} = ''")
            elif is_identifier(key):
                dels.append(key)
            else:
                pops.append(f"globals().pop({key!r}, None)")
    parts = [*pops, *sets]
    if dels:
        parts.append("del " + ", ".join(dels))
    code = "; ".join(parts)
    return code + ";" if not dels and not sets and code else code


def _resource_ref(res: Mapping[str, Any]) -> str:
    """Python that reaches the resource from the user's namespace."""
    path = res.get("_path")
    if isinstance(path, str) and path:
        return path
    return f"next(o for o in __import__('gc').get_objects() if id(o) == {res['_object_id']})"


def resource_code(action: str, res: Mapping[str, Any]) -> str:  # noqa: PLR0911 - one per action
    """The user's equivalent of closing/terminating/cancelling ``res``."""
    ref = _resource_ref(res)
    kind = res["kind"]
    if action == "terminate_process":
        return (
            "import subprocess\n"
            f"proc = {ref}\n"
            "proc.terminate()\n"
            "try:\n"
            f"    proc.wait({fixes.TERMINATE_WAIT_S:g})\n"
            "except subprocess.TimeoutExpired:\n"
            "    proc.kill()\n"
            "    proc.wait()"
        )
    if action == "close_pool":
        return f"{ref}.terminate(); {ref}.join()"
    if action == "cancel_task":
        if res.get("_path"):
            return f"{ref}.cancel()"
        name = res["_fingerprint"][1]
        return (
            "import asyncio; "
            f"next(t for t in asyncio.all_tasks() if t.get_name() == {name!r}).cancel()"
        )
    if action == "close_figures":
        target = ref if res.get("_path") else repr(res["_extra"].get("num"))
        return f"import matplotlib.pyplot as plt; plt.close({target})"
    if kind == "tempdir":
        return f"{ref}.cleanup()"
    if kind == "db_connection" and res["_extra"].get("engine"):
        return f"{ref}.dispose()"
    return f"{ref}.close()"


# ---------------------------------------------------------------------- holders


def _holder_suggestions(b: _Builder, holders: Sequence[Mapping[str, Any]]) -> None:
    _traceback(b, holders)
    deletes = 0
    for holder in holders:
        retained = int(holder.get("retained_bytes") or 0)
        if retained < MIN_BYTES:
            break  # holders come largest first
        roots = [(r["label"], r["kind"]) for r in holder.get("roots") or []]
        kinds = {kind for _label, kind in roots}
        labels = [label for label, _kind in roots]
        hid = holder.get("id")
        if len(roots) == 1 and kinds == {"variable"}:
            _copy_view(b, labels[0], retained, hid)
        if kinds <= _DELETABLE and deletes < MAX_DELETE:
            if _delete(b, labels, retained, hid):
                deletes += 1
        elif kinds == {"cache"} and len(roots) == 1:
            _cache(b, labels[0], retained, hid)
        elif kinds == {"class_attribute"} and len(roots) == 1:
            _class_attribute(b, labels[0], retained, hid)
    _output_cache(b, holders)


def _delete(b: _Builder, labels: list[str], retained: int, hid: Any) -> bool:
    records = b.records(labels, "delete_holder")
    if records is None:
        return False
    names = ", ".join(labels)
    if len(labels) == 1:
        reason = f"Deleting {labels[0]} frees {format_bytes(retained)}."
    else:
        hidden = [lbl for lbl in labels[1:]]
        reason = (
            f"{labels[0]} is also held by {', '.join(hidden)}; deleting {names} together "
            f"frees {format_bytes(retained)} (deleting only one of them frees nothing)."
        )
    b.add(
        "delete_holder",
        labels,
        delete_code(labels, b.sh),
        retained,
        reason,
        holder_id=hid,
        records=records,
    )
    return True


def _copy_view(b: _Builder, label: str, retained: int, hid: Any) -> None:
    np = sys.modules.get("numpy")
    if np is None or not is_identifier(label):
        return
    found = fixes.places(label, b.sh)
    if not found:
        return
    view = fixes.value_at(found[0], b.sh)
    if type(view) is not np.ndarray:
        return
    ns = vars(np.ndarray)
    try:
        base = ns["base"].__get__(view)
        nbytes = int(ns["nbytes"].__get__(view))
    except Exception:
        return
    del view
    if base is None or retained < VIEW_RATIO * max(nbytes, 1) or retained - nbytes < MIN_BYTES:
        return
    records = b.records([label], "copy_view")
    if records is None:
        return
    b.add(
        "copy_view",
        [label],
        f"{label} = {label}.copy()",
        retained - nbytes,
        f"{label} is a {format_bytes(nbytes)} view that keeps its whole "
        f"{format_bytes(retained)} base array alive; a copy keeps only its own "
        f"{format_bytes(nbytes)}.",
        holder_id=hid,
        records=records,
    )


def _cache(b: _Builder, label: str, retained: int, hid: Any) -> None:
    records = b.records([label], "cache_clear")
    if records is None:
        return
    b.add(
        "cache_clear",
        [label],
        f"{label}.cache_clear()",
        retained,
        f"The lru_cache of {label} holds {format_bytes(retained)} of results; clearing it frees "
        "them (later calls compute again).",
        holder_id=hid,
        records=records,
    )


def _class_attribute(b: _Builder, label: str, retained: int, hid: Any) -> None:
    ok, value = fixes.resolve_dotted(label, b.sh)
    if not ok or type(value) not in (list, dict, set):
        return
    kind = type(value).__name__
    del value
    records = b.records([label], "clear_class_attribute")
    if records is None:
        return
    b.add(
        "clear_class_attribute",
        [label],
        f"{label}.clear()",
        retained,
        f"The class attribute {label} is a {kind} that accumulates data across instances "
        f"({format_bytes(retained)}); emptying it frees that.",
        holder_id=hid,
        records=records,
    )


def _traceback(b: _Builder, holders: Sequence[Mapping[str, Any]]) -> None:
    labels: list[str] = []
    total = 0
    hid = None
    for holder in holders:
        roots = holder.get("roots") or []
        kinds = {r["kind"] for r in roots}
        if "traceback" not in kinds:
            continue
        labels.extend(r["label"] for r in roots if r["kind"] == "traceback")
        if kinds == {"traceback"}:
            total += int(holder.get("retained_bytes") or 0)
            hid = hid or holder.get("id")
    labels = list(dict.fromkeys(labels))
    if total < MIN_BYTES or not labels:
        return
    records = b.records(labels, "clear_traceback")
    if records is None:
        return
    present = [lbl for lbl in labels if lbl.startswith("sys.")]
    tb = "sys.last_traceback" if "sys.last_traceback" in present else f"{present[0]}.__traceback__"
    names = ", ".join(
        f"sys.{n}"
        for n in ("last_type", "last_value", "last_traceback", "last_exc")
        if n in vars(sys)
    )
    code = f"import sys, traceback; traceback.clear_frames({tb})"
    if names:
        code += f"; del {names}"
    b.add(
        "clear_traceback",
        labels,
        code,
        total,
        f"The last error's traceback keeps the local variables of the failed cell's frames "
        f"alive ({format_bytes(total)}); clearing it frees them (%debug then has nothing to "
        "inspect).",
        holder_id=hid,
        records=records,
    )


def _output_cache(b: _Builder, holders: Sequence[Mapping[str, Any]]) -> None:
    total = 0
    count = 0
    for holder in holders:
        kinds = {r["kind"] for r in holder.get("roots") or []}
        if kinds == {"output_cache"}:
            total += int(holder.get("retained_bytes") or 0)
            count += 1
    if total < MIN_BYTES:
        return
    records = b.records(["Out"], "reset_output_cache")
    if records is None:
        return
    b.add(
        "reset_output_cache",
        ["Out"],
        "%reset -f out",
        total,
        f"IPython's output cache (Out, _, __, ___ and _<n>) alone holds {format_bytes(total)} "
        f"of results of displayed cells ({count} entries); resetting it frees them.",
        records=records,
    )


# ---------------------------------------------------------------------- resources


def _resource_suggestions(b: _Builder, resources: Sequence[dict[str, Any]]) -> None:
    figures = []
    for res in resources:
        action = _CLOSE_ACTION.get(res["kind"])
        if action is None or not res["_closable"]:
            continue
        what = f"{res['label']} ({res['detail']})"
        if action == "close_figures":
            figures.append(res)
            reason = f"pyplot keeps {res['label']} until it is closed, with its data and canvas."
        elif action == "terminate_process":
            reason = f"Child process {what} has not been waited for; terminate and reap it."
        elif action == "close_pool":
            reason = f"{what} keeps its workers running; terminate and join it."
        elif action == "cancel_task":
            reason = f"Task {what} is still pending and keeps its coroutine's locals alive."
        else:
            reason = f"{what} is still open."
        b.add(action, [res["id"]], resource_code(action, res), None, reason, resource=res)
    if len(figures) > 1:
        b.add(
            "close_figures",
            [f["id"] for f in figures],
            "import matplotlib.pyplot as plt; plt.close('all')",
            None,
            f"pyplot keeps all {len(figures)} figures open until they are closed.",
            resources=figures,
        )


# ---------------------------------------------------------------------- findings


def _finding_suggestions(b: _Builder, findings: Findings) -> None:
    garbage = findings.cyclic_garbage
    if garbage and (garbage["bytes"] >= MIN_BYTES or garbage["objects"] >= MIN_GARBAGE_OBJECTS):
        b.add(
            "gc_collect",
            [],
            "import gc; gc.collect()",
            garbage["bytes"],
            f"{garbage['objects']:,} objects ({format_bytes(garbage['bytes'])}) are unreachable "
            "reference cycles waiting for the garbage collector; collecting now frees them.",
        )
    gap = findings.allocator_gap
    if gap is None or not gap.malloc_trim or gap.malloc_free is None:
        return
    py_free, c_free = gap.pymalloc_free, gap.malloc_free
    if c_free < MIN_TRIM_BYTES and (py_free or 0) < MIN_GAP_EXPLAIN:
        return
    reason = (
        f"{format_bytes(c_free)} freed by Python is still resident in the C allocator's heap; "
        "malloc_trim(0) returns it to the operating system."
    )
    if py_free and py_free >= MIN_GAP_EXPLAIN:
        reason += (
            f" Another {format_bytes(py_free)} is free inside Python's small-object arenas: an "
            "arena (1 MiB) goes back only when all its objects are gone, so a few survivors pin "
            "it. malloc_trim cannot return that; Python reuses it for new objects."
        )
    b.add(
        "malloc_trim",
        [],
        'import ctypes; ctypes.CDLL("libc.so.6").malloc_trim(0)',
        c_free,
        reason,
    )


# ---------------------------------------------------------------------- the whole


@dataclass
class Suggestions:
    """One scan's suggestions, as sent, and the table ``apply_fix`` checks them against."""

    suggestions: list[dict[str, Any]]
    fix_table: fixes.FixTable


def build_suggestions(
    holders: Sequence[Mapping[str, Any]],
    resources: Sequence[dict[str, Any]],
    findings: Findings,
    shell: Any,
    provenance: Any,
) -> Suggestions:
    """The suggestions for one scan: its holders, its resources (finished by
    ``resources.finish_resources``, private fields included) and its findings.

    A suggestion that cannot be built is left out, never the others.
    """
    b = _Builder(shell, provenance)
    steps: list[Callable[[], None]] = [
        lambda: _holder_suggestions(b, holders),
        lambda: _resource_suggestions(b, resources),
        lambda: _finding_suggestions(b, findings),
    ]
    for step in steps:
        try:
            step()
        except Exception:  # a suggestion we could not build is left out, not the scan
            _log.debug("building suggestions failed", exc_info=True)
    return Suggestions(b.suggestions, b.table)


__all__ = ["Suggestions", "build_suggestions", "delete_code", "resource_code"]
