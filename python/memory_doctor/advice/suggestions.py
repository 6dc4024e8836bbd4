"""Suggestions: the fixes a scan's holders, resources and findings call for.

:func:`build_suggestions` turns one scan's plain results (its holders, its
finished resources, its :class:`~.findings.Findings`) into the protocol's
``suggestions`` (see ``docs/protocol.md``) and the :class:`~.fixes.FixTable`
that ``apply_fix`` validates against. Each suggestion carries the exact
Python a user could type instead (``code``), which does the same as the
helper's operation: e.g. the output-cache copies IPython keeps in
``user_ns_hidden`` are removed too, or the memory would stay.

Estimates are what the fix frees, as a whole. Deleting several names frees
every holder whose roots are among them (``x``, ``y`` and ``{x, y}``), so a
delete's estimate is that union. Memory that something else also holds (a
library, references from C: a holder's ``also_held_by``) is never offered as
freed by ``del``; where the library has an API that releases it (a logging
handler's buffer), that is the suggestion instead (``library.py``).

Runs on the kernel's main thread right after the scan, while no cell runs;
it reads the namespace only to record identities (no user code).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..format import format_bytes
from ..heap.introspect import is_a, is_identifier, lookup_in_mro, module_attr, mro_has
from ..log import quiet_logger
from . import fixes
from .allocator import ARROW_POOL, AllocatorGap, arrow_pool
from .findings import Findings
from .library import log_buffers

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
            elif where == "ns" and key in ("_", "__", "___"):
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
        # The resource is named by its own path each time: binding it to a new name
        # would add a variable to the user's namespace (and `proc = proc` reads badly).
        return (
            "import subprocess\n"
            f"{ref}.terminate()\n"
            "try:\n"
            f"    {ref}.wait({fixes.TERMINATE_WAIT_S:g})\n"
            "except subprocess.TimeoutExpired:\n"
            f"    {ref}.kill()\n"
            f"    {ref}.wait()"
        )
    if action == "close_pool":
        if res["_extra"].get("executor"):
            return f"{ref}.shutdown(wait=False, cancel_futures=True)"
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


def also_held(holder: Mapping[str, Any]) -> bool:
    """Whether something besides the holder's roots keeps its memory (a library, the
    kernel, references from outside Python): then deleting the roots frees nothing.
    A holder without the field, or with an empty list, is held by its roots alone."""
    return bool(holder.get("also_held_by"))


def _roots(holder: Mapping[str, Any], sh: fixes.Shell) -> list[tuple[str, str]]:
    """``(label, kind)`` of a holder's roots; a user's own ``_`` (not IPython's output
    cache, see ``fixes.is_users_under``) is a variable."""
    out = []
    for root in holder.get("roots") or []:
        label, kind = root["label"], root["kind"]
        if kind == "output_cache" and fixes.is_users_under(label, sh):
            kind = "variable"
        out.append((label, kind))
    return out


def union_bytes(
    holders: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
    registry: frozenset[str] | set[str] = frozenset(),
) -> int:
    """What deleting every root in ``labels`` frees: each holder whose roots are all
    among them, unless something else also holds it (``also_held_by``, or a root in
    ``registry``, see :func:`registry_held_labels`)."""
    targets = set(labels)
    total = 0
    for holder in holders:
        roots = {r["label"] for r in holder.get("roots") or []}
        if roots and roots <= targets and not also_held(holder) and not roots & registry:
            total += int(holder.get("retained_bytes") or 0)
    return total


def registry_held_labels(b: _Builder, resources: Sequence[Mapping[str, Any]]) -> set[str]:
    """Root labels whose objects a known library registry also holds, so that deleting
    them frees nothing of it: names that reach a figure pyplot keeps open (closing
    it is the fix), and loggers and handlers, which logging keeps. (The scan's
    ``also_held_by`` says this for every library; these two are known without it.)"""
    held = {
        label
        for res in resources
        if res.get("kind") == "figure"
        for label in res.get("held_by") or []
    }
    types = [
        t
        for t in (module_attr("logging", "Logger"), module_attr("logging", "Handler"))
        if is_a(t, type)
    ]
    for name, value in list(dict.items(b.sh.ns)):
        if type(name) is str and any(mro_has(type(value), t) for t in types):
            held.add(name)
    return held


def _holder_suggestions(
    b: _Builder,
    holders: Sequence[Mapping[str, Any]],
    resources: Sequence[Mapping[str, Any]] = (),
) -> None:
    _traceback(b, holders)
    registry = registry_held_labels(b, resources)
    deletes = 0
    for holder in holders:
        retained = int(holder.get("retained_bytes") or 0)
        if retained < MIN_BYTES:
            break  # holders come largest first
        if also_held(holder) or any(r["label"] in registry for r in holder.get("roots") or []):
            continue  # `del` would free none of it; a library's own release is offered apart
        roots = _roots(holder, b.sh)
        kinds = {kind for _label, kind in roots}
        labels = [label for label, _kind in roots]
        hid = holder.get("id")
        if len(roots) == 1 and kinds == {"variable"}:
            _copy_view(b, labels[0], retained, hid)
        if kinds <= _DELETABLE and deletes < MAX_DELETE:
            if _delete(b, labels, holders, holder, registry):
                deletes += 1
        elif kinds == {"cache"} and len(roots) == 1:
            _cache(b, labels[0], retained, hid)
        elif kinds == {"class_attribute"} and len(roots) == 1:
            _class_attribute(b, labels[0], retained, hid)
    _output_cache(b, holders)


#: How a function's memory hangs off it, by the first step of the why-alive path.
_VIA: Final = (
    (".__closure__", "its closure"),
    (".__defaults__", "its default arguments"),
    (".__kwdefaults__", "its default arguments"),
    (".__wrapped__", "the function it wraps"),
)


def _via(label: str, path: str) -> str | None:
    """``its closure`` when the why-alive path goes through ``label``'s closure..."""
    for step, words in _VIA:
        if path.startswith(label + step):
            return words
    return None


def _delete(
    b: _Builder,
    labels: list[str],
    holders: Sequence[Mapping[str, Any]],
    holder: Mapping[str, Any],
    registry: set[str],
) -> bool:
    records = b.records(labels, "delete_holder")
    if records is None:
        return False
    names = ", ".join(labels)
    shared = int(holder.get("retained_bytes") or 0)
    total = max(union_bytes(holders, labels, registry), shared)
    alone = total - shared
    if len(labels) == 1:
        via = _via(labels[0], str(holder.get("path") or ""))
        reason = (
            f"{labels[0]} retains {format_bytes(total)} via {via} ({holder.get('path')}); "
            f"deleting {labels[0]} frees it."
            if via is not None
            else f"Deleting {labels[0]} frees {format_bytes(total)}."
        )
    else:
        others = ", ".join(labels[1:])
        reason = (
            f"{labels[0]} is also held by {others}; deleting {names} together frees "
            f"{format_bytes(total)}"
            + (
                f" ({format_bytes(shared)} they share and {format_bytes(alone)} some of them "
                "hold alone)"
                if alone >= MIN_BYTES
                else ""
            )
            + "; deleting only one of them frees nothing of what they share."
        )
    b.add(
        "delete_holder",
        labels,
        delete_code(labels, b.sh),
        total,
        reason,
        holder_id=holder.get("id"),
        records=records,
    )
    return True


def _view_parts(view: Any, np: Any) -> tuple[int, bool, Any] | None:
    """``(nbytes, holds objects, base)`` of an exact ndarray, read through numpy's own
    descriptors; None when any of them cannot be read."""
    ns = vars(np.ndarray)
    try:
        base = ns["base"].__get__(view)
        nbytes = int(ns["nbytes"].__get__(view))
        dtype = ns["dtype"].__get__(view)
        found, hasobject = lookup_in_mro(type(dtype), "hasobject")
        objects = bool(hasobject.__get__(dtype)) if found else True
    except Exception:
        return None
    return nbytes, objects, base


def _copy_view(b: _Builder, label: str, retained: int, hid: Any) -> None:
    """Offer ``label = label.copy()`` only when the copy frees the base's buffer: a
    small view of a base only it holds (its holder retains the base). Never for an
    object array: its copy points at the same objects, so nothing is freed."""
    np = sys.modules.get("numpy")
    if np is None or not is_identifier(label):
        return
    found = fixes.places(label, b.sh)
    if not found:
        return
    view = fixes.value_at(found[0], b.sh)
    parts = _view_parts(view, np) if type(view) is np.ndarray else None
    del view
    if parts is None:
        return
    nbytes, objects, base = parts
    if objects or base is None:
        return
    if retained < VIEW_RATIO * max(nbytes, 1) or retained - nbytes < MIN_BYTES:
        return  # the base is not the view's alone, or it is not worth a copy
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
        f"{label}'s lru_cache holds {format_bytes(retained)} of results; clearing it frees "
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
    cached: list[Any] = []
    for holder in holders:
        kinds = {kind for _label, kind in _roots(holder, b.sh)}
        if kinds == {"output_cache"} and not also_held(holder):
            total += int(holder.get("retained_bytes") or 0)
            cached.append(holder.get("id"))
    if total < MIN_BYTES:
        return
    if len(cached) == 1 and any(
        s["action"] == "delete_holder"
        and s["holder_id"] == cached[0]
        and (s["estimated_freed_bytes"] or 0) >= total
        for s in b.suggestions
    ):
        return  # deleting that one entry frees the same: offer the targeted fix only
    count = len(cached)
    records = b.records(["Out"], "reset_output_cache")
    if records is None:
        return
    b.add(
        "reset_output_cache",
        ["Out"],
        reset_code(b.sh),
        total,
        f"IPython's output cache (Out, _, __, ___ and _<n>) alone holds {format_bytes(total)} "
        f"of results of displayed cells ({count} {'entry' if count == 1 else 'entries'}); "
        "resetting it frees them.",
        records=records,
    )


def reset_code(sh: fixes.Shell) -> str:
    """``%reset -f out``, or, when the user has a variable of their own named ``_``,
    ``__`` or ``___`` (which ``%reset`` would overwrite), the same reset without it."""
    users = [n for n in ("_", "__", "___") if fixes.is_users_under(n, sh)]
    if not users:
        return "%reset -f out"
    numbered = sorted(
        (k for k in dict.keys(sh.ns) if type(k) is str and k[:1] == "_" and k[1:].isdigit()),
        key=lambda k: int(k[1:]),
    )
    parts = ["Out.clear()"]
    if numbered:
        parts.append("del " + ", ".join(numbered))
    parts.extend(f"get_ipython().displayhook.{n} = ''" for n in ("_", "__", "___"))
    parts.extend(f"{n} = ''" for n in ("_", "__", "___") if n not in users and n in sh.ns)
    return "; ".join(parts)


# ---------------------------------------------------------------------- library-held


def _library_suggestions(b: _Builder) -> None:
    """The library's own release for memory it holds: a logging handler's buffer."""
    for found in log_buffers(MIN_BYTES):
        records = b.records([found.label], "clear_log_buffer")
        if records is None:
            continue
        kind = type(found.handler).__name__
        b.add(
            "clear_log_buffer",
            [found.label],
            f"import logging; {found.label}.buffer.clear()",
            found.exclusive,
            f"The logging handler {found.label} ({kind}) keeps {found.records} records whose "
            f"arguments hold {format_bytes(found.exclusive)}; clearing its buffer frees them "
            "(those records are dropped, not written). Deleting a variable that reaches the "
            "logger frees nothing: logging keeps every logger.",
            records=records,
        )


# ---------------------------------------------------------------------- resources


def _resource_suggestions(b: _Builder, resources: Sequence[dict[str, Any]]) -> None:
    figures = [res for res in resources if res["kind"] == "figure" and res["_closable"]]
    for res in resources:
        action = _CLOSE_ACTION.get(res["kind"])
        if action is None or not res["_closable"]:
            continue
        what = f"{res['label']} ({res['detail']})"
        if action == "close_figures":
            if len(figures) > 1:
                continue  # one suggestion closes them all (below): one effect, one click
            reason = f"pyplot keeps {res['label']} until it is closed, with its data and canvas."
        elif action == "terminate_process":
            reason = f"Child process {what} has not been waited for; terminate and reap it."
        elif action == "close_pool" and res["_extra"].get("executor"):
            reason = (
                f"{what} keeps its workers running; shut it down (queued tasks are "
                "cancelled, running ones finish)."
            )
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
            f"pyplot keeps these {len(figures)} figures open until they are closed, with "
            "their data and canvases.",
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
    if gap is not None:
        _allocator_suggestion(b, gap)


#: How each returnable part of the allocator gap is named in a reason.
_GAP_NAMES: Final = {
    "glibc_heap": "glibc's main heap",
    "glibc_arenas": "glibc's arenas of other threads",
    ARROW_POOL: "Arrow's memory pool",
}


def _allocator_suggestion(b: _Builder, gap: AllocatorGap) -> None:
    """Return what the allocators keep free: glibc's ``malloc_trim(0)`` and, when
    pyarrow is loaded, Arrow's ``release_unused()``; the estimate is their part of
    the gap (pymalloc's cannot be returned, and is only explained)."""
    returnable = gap.returnable or 0
    py_free = gap.pymalloc_free or 0
    if returnable < MIN_TRIM_BYTES and py_free < MIN_GAP_EXPLAIN:
        return
    if not gap.malloc_trim and gap.arrow_pool is None:
        return
    parts = [
        f"{format_bytes(size)} in {_GAP_NAMES[name]}"
        for name, size, ret in gap.parts()
        if ret and size and name in _GAP_NAMES
    ]
    code = []
    if gap.malloc_trim:
        code.append('import ctypes; ctypes.CDLL("libc.so.6").malloc_trim(0)')
    if arrow_pool() is not None:
        code.append("import pyarrow; pyarrow.default_memory_pool().release_unused()")
    reason = (
        f"{format_bytes(returnable)} freed by Python is still resident in the allocators "
        f"({', '.join(parts) or 'none measured'}); returning it gives it back to the "
        "operating system."
    )
    if py_free >= MIN_GAP_EXPLAIN:
        reason += (
            f" Another {format_bytes(py_free)} is free inside Python's small-object arenas: an "
            "arena (1 MiB) goes back only when all its objects are gone, so a few survivors pin "
            "it. This cannot return that; Python reuses it for new objects."
        )
    b.add("malloc_trim", [], "; ".join(code), returnable, reason)


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
        lambda: _holder_suggestions(b, holders, resources),
        lambda: _resource_suggestions(b, resources),
        lambda: _library_suggestions(b),
        lambda: _finding_suggestions(b, findings),
    ]
    for step in steps:
        try:
            step()
        except Exception:  # a suggestion we could not build is left out, not the scan
            _log.debug("building suggestions failed", exc_info=True)
    return Suggestions(b.suggestions, b.table)


__all__ = ["Suggestions", "build_suggestions", "delete_code", "resource_code"]
