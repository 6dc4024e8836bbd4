"""The words of the magics' output: pure functions from data to plain text.

They say what the JupyterLab panel says (``src/panels/*/text.ts``,
``src/format.ts``, ``src/headroom.ts``), so a user sees the same sentence in a
notebook without the extension, in VS Code, Colab or a terminal. Both
renderers of ``rich.py`` (text and HTML) use them; the HTML escapes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..format import UNKNOWN, format_bytes, format_duration

#: Between the figures of one line, as the badge writes it.
SEPARATOR: Final = " \u00b7 "
#: How many names a sentence lists before "and N more" (``nameList`` in TS).
_NAMES_IN_SENTENCE: Final = 3

_LIMIT_SOURCES: Final = {
    "cgroup_v2": "the container's cgroup limit (memory.max)",
    "cgroup_v1": "the container's cgroup limit (memory.limit_in_bytes)",
    "physical": "the machine's physical memory",
}

_KIND_LABELS: Final = {
    "variable": "variable",
    "output_cache": "output cache",
    "closure": "closure",
    "default_arg": "default argument",
    "class_attribute": "class attribute",
    "cache": "function cache",
    "traceback": "last exception",
    "thread": "thread",
    "generator": "suspended generator",
    "module": "notebook module",
}

_STOPPED: Final = {
    "budget": "it reached its time budget",
    "cancelled": "it was interrupted",
    "cell_ran": "a cell started",
}

#: What the confirmation says before the targets (``confirmLead`` in TS).
_LEADS: Final = {
    "delete_holder": "These names will be deleted from the kernel. Anything they alone "
    "hold is lost:",
    "clear_traceback": "The last exception and the variables of its frames will be cleared:",
    "reset_output_cache": "The output cache will be emptied:",
    "cache_clear": "The cache of this function will be cleared:",
    "clear_class_attribute": "This class attribute will be emptied in place:",
    "copy_view": "This variable will be rebound to a copy of its view, releasing the large "
    "array behind it:",
    "close_resource": "These will be closed; code that still uses them will fail:",
    "close_pool": "These will be closed; code that still uses them will fail:",
    "close_figures": "These will be closed; code that still uses them will fail:",
    "terminate_process": "This child process will be terminated (killed after 3 s if it does "
    "not stop):",
    "cancel_task": "This asyncio task will be cancelled:",
    "gc_collect": "This will run in the kernel:",
    "malloc_trim": "This will run in the kernel:",
}

#: What a fix without targets acts on (``describeTargets`` in TS).
_ALL_OF_KIND: Final = {
    "close_figures": "every open pyplot figure",
    "reset_output_cache": "Out and _, __, ___, _n",
    "clear_traceback": "sys.last_value, sys.last_traceback, sys.last_exc",
}


def size(value: Any) -> str:
    """A byte figure as the panel shows it; an unknown one as an em dash."""
    return format_bytes(value) if _is_number(value) else UNKNOWN


def signed(value: Any) -> str:
    """A byte change with its sign, e.g. ``+412 MB``."""
    return format_bytes(value, signed=True) if _is_number(value) else UNKNOWN


def duration(value: Any) -> str:
    """A duration, e.g. ``412 ms`` or ``4.10 s``."""
    return format_duration(value) if _is_number(value) else UNKNOWN


def count(value: Any) -> str:
    """A whole number with thousands separators."""
    return f"{value:,}" if _is_number(value) else UNKNOWN


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def name_list(labels: Sequence[str]) -> str:
    """All of up to four names, else three and ``N more``."""
    if len(labels) <= _NAMES_IN_SENTENCE + 1:
        return ", ".join(labels)
    rest = len(labels) - _NAMES_IN_SENTENCE
    return f"{', '.join(labels[:_NAMES_IN_SENTENCE])} and {rest} more"


def prompt(execution_count: Any, cell_id: Any = None) -> str:
    """The cell column: ``[3]``, ``[ ]`` for a known cell without a count, else empty."""
    if isinstance(execution_count, int):
        return f"[{execution_count}]"
    return "[ ]" if cell_id else ""


def badge(record: Mapping[str, Any]) -> str:
    """The badge line, e.g. ``+412 MB · peak +1.2 GB``."""
    return f"{signed(record.get('rss_delta'))}{SEPARATOR}peak {signed(record.get('peak_increase'))}"


def peak_note(method: Any, exact: bool) -> str:
    """How the peak was measured, in a few words."""
    if method == "vmhwm" and exact:
        return "exact"
    if method == "ru_maxrss":
        return "a lower bound (getrusage)"
    return "larger of before and after"


def limit_sentence(rss: Any, limit: Mapping[str, Any] | None) -> str:
    """``Limit: 8.0 GB, the container's cgroup limit (memory.max); 72% used.``, or ``""``."""
    if not limit or not limit.get("bytes"):
        return ""
    total = limit["bytes"]
    source = _LIMIT_SOURCES.get(str(limit.get("source")), "unknown")
    if not _is_number(rss):
        return f"Limit: {size(total)}, {source}."
    return f"Limit: {size(total)}, {source}; {round(100 * rss / total)}% used."


def kernel_line(kernel: Mapping[str, Any]) -> str:
    """``Kernel RSS 1.4 GB. Limit: …`` for the top of an output."""
    limit = limit_sentence(kernel.get("rss"), kernel.get("memory_limit"))
    return " ".join(part for part in (f"Kernel RSS {size(kernel.get('rss'))}.", limit) if part)


def kind_label(kind: Any) -> str:
    """The name of a root kind, e.g. ``output cache``."""
    return _KIND_LABELS.get(str(kind), str(kind))


def holder_names(holder: Mapping[str, Any]) -> str:
    """The names of a holder as one line, e.g. ``big, Out[3], _3``."""
    return ", ".join(str(label) for label in holder.get("labels") or [])


def trap(holder: Mapping[str, Any]) -> str | None:
    """Why deleting one name of a shared holder frees nothing; None for one root."""
    labels = [str(label) for label in holder.get("labels") or []]
    if not holder.get("shared") or len(labels) < 2:
        return None
    roots = holder.get("roots") or []
    variable = next(
        (str(r.get("label")) for r in roots if r.get("kind") == "variable"),
        labels[0],
    )
    return (
        f"{name_list(labels)} jointly retain {size(holder.get('retained_bytes'))} \u2014 "
        f"deleting {variable} alone frees nothing"
    )


def scan_note(scan: Mapping[str, Any], budget_s: float, again: str) -> str | None:
    """Why a scan is partial and how to get a complete one, or None when complete.

    ``again`` is the magic to run again, e.g. ``%memory holders``.
    """
    info = scan.get("scan") or {}
    if info.get("complete") is True:
        return None
    why = _STOPPED.get(str(info.get("stopped")), "it stopped early")
    return (
        f"This scan is partial ({why} after {duration(info.get('duration_s'))}): sizes are "
        f"lower bounds and some holders may be missing. For a complete one run "
        f"{again} --budget {max(30, round(budget_s * 4))}."
    )


def attribution(scan: Mapping[str, Any]) -> str:
    """How much of the RSS the holders account for, and what the rest is."""
    return (
        f"Holders account for {size(scan.get('attributed_bytes'))} of the kernel's "
        f"{size(scan.get('rss'))} RSS; the other {size(scan.get('unattributed_bytes'))} is the "
        "interpreter and libraries, native allocations outside Python objects, and memory "
        "freed but not returned to the OS."
    )


def target_names(
    suggestion: Mapping[str, Any], resources: Sequence[Mapping[str, Any]]
) -> list[str]:
    """The short names of a suggestion's targets (resource ids become labels)."""
    labels = {r.get("id"): str(r.get("label")) for r in resources}
    return [labels.get(t, str(t)) for t in suggestion.get("targets") or []]


def suggestion_title(  # noqa: PLR0911, PLR0912 - one phrase per action, as in the panel
    suggestion: Mapping[str, Any], resources: Sequence[Mapping[str, Any]] = ()
) -> str:
    """What a suggestion does in a few words, e.g. ``Delete big, Out[3], _3``."""
    names = name_list(target_names(suggestion, resources))
    action = suggestion.get("action")
    if action == "delete_holder":
        return f"Delete {names}"
    if action == "clear_traceback":
        return "Clear the last exception"
    if action == "copy_view":
        return f"Replace the view {names} with a copy"
    if action == "cache_clear":
        return f"Clear {names}'s cache"
    if action == "clear_class_attribute":
        return f"Empty {names}"
    if action in ("close_resource", "close_pool"):
        return f"Close {names}"
    if action == "terminate_process":
        return f"Terminate {names}"
    if action == "close_figures":
        targets = suggestion.get("targets") or []
        if len(targets) > 1:
            return f"Close {len(targets)} figures"
        return f"Close {names}" if targets else "Close all pyplot figures"
    if action == "cancel_task":
        return f"Cancel {names}"
    if action == "reset_output_cache":
        return "Empty the output cache"
    if action == "gc_collect":
        return "Collect the cyclic garbage now"
    if action == "malloc_trim":
        return "Return freed memory to the OS (malloc_trim)"
    if action == "clear_log_buffer":
        return f"Clear the log buffer of {names}"
    return str(action)


def estimate(suggestion: Mapping[str, Any]) -> str | None:
    """``frees about 1.2 GB``, or None when unknown."""
    value = suggestion.get("estimated_freed_bytes")
    return f"frees about {size(value)}" if _is_number(value) else None


def confirm_lead(action: Any) -> str:
    """The sentence before the targets when a fix is previewed."""
    return _LEADS.get(str(action), "This will run in the kernel:")


def describe_targets(
    suggestion: Mapping[str, Any], resources: Sequence[Mapping[str, Any]]
) -> list[str]:
    """What a suggestion acts on, one line per target (``label (detail)`` for resources)."""
    targets = [str(t) for t in suggestion.get("targets") or []]
    if not targets:
        found = _ALL_OF_KIND.get(str(suggestion.get("action")))
        return [found] if found else []
    by_id = {r.get("id"): r for r in resources}
    out = []
    for target in targets:
        res = by_id.get(target)
        if res is None:
            out.append(target)
        elif res.get("detail"):
            out.append(f"{res.get('label')} ({res.get('detail')})")
        else:
            out.append(str(res.get("label")))
    return out


def outcome_lines(result: Mapping[str, Any]) -> list[str]:
    """What an applied fix freed against its estimate, as the panel says it."""
    measured = size(result.get("measured_freed_bytes"))
    estimated = result.get("estimated_freed_bytes")
    trim = result.get("action") == "malloc_trim"
    if _is_number(estimated):
        freed = (
            f"malloc_trim(0) returned {measured} to the OS (estimated {size(estimated)})"
            if trim
            else f"Freed {measured} (estimated {size(estimated)})"
        )
    else:
        freed = f"malloc_trim(0) returned {measured} to the OS" if trim else f"Freed {measured}"
    lines = [freed]
    if result.get("explanation"):
        lines.append(str(result["explanation"]))
    lines.append(
        f"Kernel RSS {size(result.get('rss_before'))} \u2192 {size(result.get('rss_after'))}"
    )
    return lines


def findings_line(findings: Mapping[str, Any] | None) -> str:
    """The process findings in one line."""
    if not findings:
        return ""
    parts = []
    for key, word in (
        ("open_fds", "open file descriptors"),
        ("threads", "threads"),
        ("children", "child processes"),
    ):
        if _is_number(findings.get(key)):
            parts.append(f"{count(findings[key])} {word}")
    garbage = findings.get("cyclic_garbage")
    if isinstance(garbage, Mapping) and _is_number(garbage.get("objects")):
        parts.append(
            f"cyclic garbage {count(garbage['objects'])} objects ({size(garbage.get('bytes'))})"
        )
    gap = findings.get("allocator_gap")
    if isinstance(gap, Mapping) and _is_number(gap.get("bytes")):
        trim = ", malloc_trim available" if gap.get("malloc_trim") else ""
        parts.append(f"allocator gap {size(gap['bytes'])}{trim}")
    return SEPARATOR.join(parts)


__all__ = [
    "SEPARATOR",
    "attribution",
    "badge",
    "confirm_lead",
    "count",
    "describe_targets",
    "duration",
    "estimate",
    "findings_line",
    "holder_names",
    "kernel_line",
    "kind_label",
    "limit_sentence",
    "name_list",
    "outcome_lines",
    "peak_note",
    "prompt",
    "scan_note",
    "signed",
    "size",
    "suggestion_title",
    "target_names",
    "trap",
]
