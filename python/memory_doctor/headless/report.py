"""The headless run report: building it, and writing it as JSON and as HTML.

The report is a plain JSON-able dict (``format: memory-doctor-report``,
``version: 1``). Later sections (``holders``, ``resources``, ``suggestions``,
``growth``) are added as new top-level keys; readers must ignore keys they do
not know. The HTML page is rendered from the Jinja2 templates in
``templates/`` (autoescaped): one template per section, listed in
``SECTIONS``, so a new section only needs its template appended there.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, Final

from ..format import format_bytes, format_duration
from ..protocol import LEAK_MIN_RUNS, PEAK_NONE, PEAK_RU_MAXRSS, PEAK_VMHWM
from .cluster import html_context as cluster_context
from .profile import html_context as profile_context

REPORT_FORMAT: Final = "memory-doctor-report"
REPORT_VERSION: Final = 1

#: Cell statuses in a report. ``not_run``: the kernel died before the cell.
STATUS_OK: Final = "ok"
STATUS_ERROR: Final = "error"
STATUS_NOT_RUN: Final = "not_run"

#: Threshold name -> the per-cell figure it gates.
THRESHOLD_METRICS: Final = {
    "max_peak": "peak_increase",
    "max_delta": "rss_delta",
    "max_rss": "peak_rss",
}

#: The byte figures copied from a ``cell_measured`` record into a report cell.
BYTE_FIELDS: Final = ("rss_before", "rss_after", "rss_delta", "peak_rss", "peak_increase")

PEAK_METHOD_DESCRIPTIONS: Final = {
    PEAK_VMHWM: (
        "Exact peak: the kernel resets the Linux high-water mark (/proc/self/clear_refs) "
        "before each cell and reads VmHWM from /proc/self/status after it; nothing is sampled."
    ),
    PEAK_RU_MAXRSS: (
        "getrusage high-water mark, which cannot be reset: exact when a cell set a new "
        "lifetime high, otherwise a lower bound (the larger of RSS before and after)."
    ),
    PEAK_NONE: (
        "No peak reading is available on this platform: the peak shown is the larger of "
        "RSS before and after the cell, a lower bound."
    ),
}

_PREVIEW_CHARS: Final = 80

Report = dict[str, Any]
CellEntry = dict[str, Any]


# --------------------------------------------------------------------------- building


def source_preview(source: str) -> str:
    """The first non-blank line of a cell's source, stripped and cut to 80 characters."""
    for line in source.splitlines():
        stripped = line.strip()
        if stripped:
            if len(stripped) > _PREVIEW_CHARS:
                return stripped[: _PREVIEW_CHARS - 1] + "\u2026"
            return stripped
    return ""


def _int_or_none(value: object) -> int | None:
    # bool is an int subclass; a record never has one here, but never report True as 1 byte.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def cell_entry(
    *,
    index: int,
    cell_id: str,
    source: str,
    status: str,
    record: Mapping[str, Any] | None = None,
    error: Mapping[str, Any] | None = None,
    execution_count: int | None = None,
    duration_s: float | None = None,
) -> CellEntry:
    """One report cell.

    Byte figures, ``duration_s`` and ``gc_collections`` come from ``record``
    (a ``cell_measured`` record) and are ``None`` without one, which is the case
    for cells that were not run and for the cell that killed the kernel.
    ``duration_s`` is used only when the record has none.
    """
    entry: CellEntry = {
        "index": index,
        "cell_id": cell_id,
        "status": status,
        "execution_count": execution_count,
        "duration_s": duration_s,
    }
    for field in BYTE_FIELDS:
        entry[field] = None
    entry["gc_collections"] = None
    # Dask cluster (protocol 1.3): filled in when the cell's cell_cluster message comes.
    entry["cluster_delta_bytes"] = None
    if record is not None:
        for field in BYTE_FIELDS:
            entry[field] = _int_or_none(record.get(field))
        entry["gc_collections"] = _int_or_none(record.get("gc_collections"))
        rec_duration = record.get("duration_s")
        if isinstance(rec_duration, (int, float)) and not isinstance(rec_duration, bool):
            entry["duration_s"] = round(float(rec_duration), 6)
        if entry["execution_count"] is None:
            entry["execution_count"] = _int_or_none(record.get("execution_count"))
    entry["error"] = (
        {"ename": str(error.get("ename", "")), "evalue": str(error.get("evalue", ""))}
        if error is not None
        else None
    )
    entry["source_preview"] = source_preview(source)
    return entry


def find_violations(
    cells: Iterable[Mapping[str, Any]], thresholds: Mapping[str, int | None]
) -> list[dict[str, Any]]:
    """Every (cell, metric) whose figure is strictly above its threshold, in cell order."""
    violations: list[dict[str, Any]] = []
    for cell in cells:
        for name, metric in THRESHOLD_METRICS.items():
            limit = thresholds.get(name)
            value = cell.get(metric)
            if limit is None or value is None:
                continue
            if value > limit:
                violations.append(
                    {
                        "cell_index": cell["index"],
                        "cell_id": cell["cell_id"],
                        "metric": metric,
                        "value": value,
                        "limit": limit,
                    }
                )
    return violations


def summarize(
    cells: Sequence[Mapping[str, Any]],
    thresholds: Mapping[str, int | None],
    *,
    kernel_died: bool,
) -> dict[str, Any]:
    """The ``summary`` section."""
    peaks = [c["peak_increase"] for c in cells if c.get("peak_increase") is not None]
    deltas = [c["rss_delta"] for c in cells if c.get("rss_delta") is not None]
    return {
        "cells_run": sum(1 for c in cells if c["status"] != STATUS_NOT_RUN),
        "errors": sum(1 for c in cells if c["status"] == STATUS_ERROR),
        "kernel_died": kernel_died,
        "max_peak_increase": max(peaks) if peaks else None,
        "total_delta": sum(deltas) if deltas else None,
        "violations": find_violations(cells, thresholds),
    }


def kernel_section(kernel_name: str, hello: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``kernel`` section from the helper's ``hello`` (fields are ``None`` without one)."""
    hello = hello or {}
    method = hello.get("peak_method")
    return {
        "name": kernel_name,
        "python": hello.get("python"),
        "platform": hello.get("platform"),
        "helper_version": hello.get("helper_version"),
        "peak_method": method,
        "peak_exact": hello.get("peak_exact"),
        "peak_method_description": PEAK_METHOD_DESCRIPTIONS.get(str(method))
        if method is not None
        else None,
        # {"bytes", "source"}: the limit that applies and where it came from (protocol 1.2).
        "memory_limit": _memory_limit(hello.get("memory_limit")),
    }


def _memory_limit(value: object) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    return {"bytes": _int_or_none(value.get("bytes")), "source": value.get("source")}


def growth_entry(cell_index: int, cell_id: str, growth: Mapping[str, Any]) -> dict[str, Any]:
    """One report ``growth`` entry from a flagged record's ``growth``."""
    what = growth.get("what_grew")
    return {
        "cell_index": cell_index,
        "cell_id": cell_id,
        "runs": _int_or_none(growth.get("runs")),
        "growth_per_run_bytes": _int_or_none(growth.get("growth_per_run_bytes")),
        "what_grew": [str(w) for w in what] if isinstance(what, list) else [],
    }


def repeat_section(
    count: int, completed: int, rss_after: Sequence[int | None], died_in: int | None
) -> dict[str, Any]:
    """The ``repeat`` section: runs asked for and done, RSS after each, where the kernel died."""
    return {
        "count": count,
        "completed": completed,
        "rss_after": list(rss_after),
        "kernel_died_in_run": died_in,
    }


def growth_violations(
    growth: Iterable[Mapping[str, Any]], max_growth: int | None
) -> list[dict[str, Any]]:
    """Every flagged cell growing by more than ``max_growth`` bytes per run."""
    if max_growth is None:
        return []
    return [
        {
            "cell_index": g["cell_index"],
            "cell_id": g["cell_id"],
            "metric": "growth_per_run_bytes",
            "value": g["growth_per_run_bytes"],
            "limit": max_growth,
            "runs": g["runs"],
            "what_grew": list(g["what_grew"]),
        }
        for g in growth
        if g.get("growth_per_run_bytes") is not None and g["growth_per_run_bytes"] > max_growth
    ]


def utc_now_iso() -> str:
    """Now, as ISO-8601 UTC with a ``Z`` suffix and second precision."""
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def build_report(
    *,
    notebook_path: str,
    total_cells: int,
    kernel: Mapping[str, Any],
    thresholds: Mapping[str, int | None],
    cells: Sequence[Mapping[str, Any]],
    kernel_died: bool,
    generated_at: str | None = None,
    holders: Sequence[Mapping[str, Any]] | None = None,
    scan: Mapping[str, Any] | None = None,
    growth: Sequence[Mapping[str, Any]] | None = None,
    repeat: Mapping[str, Any] | None = None,
    max_growth: int | None = None,
) -> Report:
    """Assemble the whole report dict (see the module docstring for extension).

    ``holders`` and ``scan`` (from :func:`holder_entry` and :func:`scan_section`)
    are added only when a scan was asked for; ``growth`` (from
    :func:`growth_entry`), ``repeat`` and the ``max_growth`` threshold only for
    ``--repeat``. Growth over ``max_growth`` is a violation like the others.
    """
    report: Report = {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "generated_at": generated_at or utc_now_iso(),
        "notebook": {"path": notebook_path, "cells": total_cells},
        "kernel": dict(kernel),
        "thresholds": {name: thresholds.get(name) for name in THRESHOLD_METRICS},
        "cells": [dict(c) for c in cells],
        "summary": summarize(cells, thresholds, kernel_died=kernel_died),
    }
    if holders is not None:
        report["holders"] = [dict(h) for h in holders]
    if scan is not None:
        report["scan"] = dict(scan)
    if growth is not None:
        report["growth"] = [dict(g) for g in growth]
        report["thresholds"]["max_growth"] = max_growth
        report["summary"]["violations"].extend(growth_violations(growth, max_growth))
    if repeat is not None:
        report["repeat"] = dict(repeat)
    return report


def holder_entry(holder: Mapping[str, Any], cell_index_by_id: Mapping[str, int]) -> dict[str, Any]:
    """One report holder from a ``scan`` reply's holder.

    ``cell_index`` is the notebook position of the cell whose id the holder's
    ``cell_id`` names (the cell that last bound its first root), else ``None``.
    """
    labels = holder.get("labels")
    cell_id = holder.get("cell_id")
    others = holder.get("also_held_by")
    others = others if isinstance(others, list) else []
    return {
        "labels": [str(label) for label in labels] if isinstance(labels, list) else [],
        "kind": holder.get("kind"),
        "type": holder.get("type"),
        "retained_bytes": _int_or_none(holder.get("retained_bytes")),
        "objects": _int_or_none(holder.get("objects")),
        "path": holder.get("path"),
        "cell_index": cell_index_by_id.get(cell_id) if isinstance(cell_id, str) else None,
        # Protocol 1.3: who else holds the bytes (a 1.2 helper says nothing: freeable).
        "freeable": not others,
        "also_held_by": [
            {"name": str(o.get("name")), "path": o.get("path")}
            for o in others
            if isinstance(o, Mapping)
        ],
    }


def scan_section(result: Mapping[str, Any] | None, error: str | None = None) -> dict[str, Any]:
    """The ``scan`` section from a ``scan`` reply's result, or from the error that stopped it.

    ``{duration_s, objects_visited, complete}`` as the issue asks, plus why a
    partial scan stopped and the RSS accounting (``rss``, ``attributed_bytes``,
    ``unattributed_bytes``); ``error`` only when the scan failed.
    """
    result = result or {}
    info = result.get("scan") or {}
    duration = info.get("duration_s")
    section: dict[str, Any] = {
        "duration_s": round(float(duration), 6)
        if isinstance(duration, (int, float)) and not isinstance(duration, bool)
        else None,
        "objects_visited": _int_or_none(info.get("objects_visited")),
        "complete": info.get("complete") is True and error is None,
        "stopped": info.get("stopped"),
        "rss": _int_or_none(result.get("rss")),
        "attributed_bytes": _int_or_none(result.get("attributed_bytes")),
        "unattributed_bytes": _int_or_none(result.get("unattributed_bytes")),
        # Protocol 1.3: what deleting the holders would free, and what the scan cost.
        "freeable_bytes": _int_or_none(result.get("freeable_bytes")),
        "engine": info.get("engine"),
        "peak_extra_bytes": _int_or_none(info.get("peak_extra_bytes")),
        "left_behind_bytes": _int_or_none(info.get("left_behind_bytes")),
    }
    if error is not None:
        section["error"] = error
    return section


def resource_entry(res: Mapping[str, Any], cell_index_by_id: Mapping[str, int]) -> dict[str, Any]:
    """One report resource from a ``scan`` reply's resource."""
    cell_id = res.get("cell_id")
    held = res.get("held_by")
    return {
        "kind": res.get("kind"),
        "label": res.get("label"),
        "held_by": [str(h) for h in held] if isinstance(held, list) else [],
        "cell_index": cell_index_by_id.get(cell_id) if isinstance(cell_id, str) else None,
        "detail": res.get("detail"),
        "note": res.get("note"),
    }


def suggestion_entry(sug: Mapping[str, Any]) -> dict[str, Any]:
    """One report suggestion from a ``scan`` reply's suggestion."""
    targets = sug.get("targets")
    return {
        "id": sug.get("id"),
        "action": sug.get("action"),
        "targets": [str(t) for t in targets] if isinstance(targets, list) else [],
        "code": sug.get("code"),
        "estimated_freed_bytes": _int_or_none(sug.get("estimated_freed_bytes")),
        "reason": sug.get("reason"),
    }


def fix_entry(
    suggestion_id: str, result: Mapping[str, Any] | None, error: str | None
) -> dict[str, Any]:
    """One ``--fix`` outcome: the ``apply_fix`` result, or the error that stopped it."""
    result = result or {}
    done = result.get("already_done")
    return {
        "suggestion_id": suggestion_id,
        "ok": error is None,
        "measured_freed_bytes": _int_or_none(result.get("measured_freed_bytes")),
        "freed_in_process_bytes": _int_or_none(result.get("freed_in_process_bytes")),
        "returned_to_os_bytes": _int_or_none(result.get("returned_to_os_bytes")),
        "already_done": [str(t) for t in done] if isinstance(done, list) else [],
        "error": error,
        "explanation": result.get("explanation"),
    }


def findings_section(result: Mapping[str, Any]) -> dict[str, Any]:
    """``findings``: the scan's process-wide figures, the allocator gap per allocator."""
    found = result.get("findings")
    found = found if isinstance(found, Mapping) else {}
    garbage = found.get("cyclic_garbage")
    gap = found.get("allocator_gap")
    gap = gap if isinstance(gap, Mapping) else {}
    parts = gap.get("parts")
    return {
        "open_fds": _int_or_none(found.get("open_fds")),
        "threads": _int_or_none(found.get("threads")),
        "children": _int_or_none(found.get("children")),
        "cyclic_garbage": (
            {
                "objects": _int_or_none(garbage.get("objects")),
                "bytes": _int_or_none(garbage.get("bytes")),
            }
            if isinstance(garbage, Mapping)
            else None
        ),
        "allocator_gap": [
            {
                "allocator": str(part.get("allocator")),
                "bytes": _int_or_none(part.get("bytes")),
                "returnable": part.get("returnable") is True,
            }
            for part in (parts if isinstance(parts, list) else [])
            if isinstance(part, Mapping)
        ],
    }


def fix_sections(result: Mapping[str, Any], cell_index_by_id: Mapping[str, int]) -> dict[str, Any]:
    """``resources``, ``findings`` and ``suggestions`` of a scan result (empty when absent)."""
    return {
        "findings": findings_section(result),
        "resources": [
            resource_entry(r, cell_index_by_id)
            for r in result.get("resources") or []
            if isinstance(r, Mapping)
        ],
        "suggestions": [
            suggestion_entry(s) for s in result.get("suggestions") or [] if isinstance(s, Mapping)
        ],
    }


def after_fix_section(
    result: Mapping[str, Any] | None, cell_index_by_id: Mapping[str, int], error: str | None
) -> dict[str, Any]:
    """``after_fix``: a fresh scan's holders, resources and RSS after ``--fix``."""
    if result is None:
        return {"holders": None, "resources": None, "rss": None, "error": error}
    return {
        "holders": [
            holder_entry(h, cell_index_by_id)
            for h in result.get("holders") or []
            if isinstance(h, Mapping)
        ],
        "resources": fix_sections(result, cell_index_by_id)["resources"],
        "rss": _int_or_none(result.get("rss")),
        "error": error,
    }


# --------------------------------------------------------------------------- writing


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename.

    A reader never sees a half-written report, and an existing report is only
    replaced once the new one is complete.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; a report is an ordinary file, so honour the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def to_json(report: Mapping[str, Any]) -> str:
    """The report as pretty JSON text with a trailing newline."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def write_json(report: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the report as JSON, atomically."""
    write_atomic(path, to_json(report))


def write_html(report: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the report as one self-contained HTML page, atomically."""
    write_atomic(path, render_html(report))


# --------------------------------------------------------------------------- HTML

_TEMPLATES: Final = Path(__file__).with_name("templates")
#: The page's sections, in order: one template each under ``templates/``, rendered
#: with the report. A later report section appends its own template's name here.
SECTIONS: list[str] = [
    "header.html.j2",
    "chart.html.j2",
    "cells.html.j2",
    "profile.html.j2",
    "holders.html.j2",
    "growth.html.j2",
    "fixes.html.j2",
    "cluster.html.j2",
]


def _figure(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _shown(value: Any) -> Any:
    """What ``{{ value }}`` prints: nothing for None, as for a missing key."""
    return "" if value is None else value


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    """The Jinja2 environment of the report's templates (autoescaped, built once)."""
    import jinja2  # noqa: PLC0415 - only when an HTML page is written

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["bytes"] = lambda value: format_bytes(_figure(value))
    env.filters["duration"] = lambda value: format_duration(_figure(value))
    return env


def _asset(name: str) -> Any:
    """A static file of ``templates/`` (the page's CSS, the chart's script), inserted as is."""
    from markupsafe import Markup  # noqa: PLC0415 - with jinja2

    return Markup(_TEMPLATES.joinpath(name).read_text(encoding="utf-8"))  # noqa: S704 - our own file


def json_for_script(data: object) -> str:
    """JSON that is safe inside an inline ``<script>`` element.

    ``<``, ``>`` and ``&`` only occur inside JSON strings, where their ``\\uXXXX``
    forms mean the same; with them gone, no ``</script>`` or ``<!--`` can end or
    confuse the script element, whatever a cell id or source contains.
    """
    text = json.dumps(data, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _plotly_js() -> str | None:
    """plotly.js's bundle, copied into ``memory_doctor/static`` by the JS build, or None."""
    path = Path(__file__).parent.parent / "static" / "plotly.min.js"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    # A bundle is trusted code, but a literal "</script" inside it would still end the
    # element early; "<\/" means the same in JS strings, regexes and comments.
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


_LIMIT_SOURCE_TEXT: Final = {
    "cgroup_v2": "the container's cgroup v2 limit (memory.max)",
    "cgroup_v1": "the container's cgroup v1 limit (memory.limit_in_bytes)",
    "physical": "no container limit: the machine's RAM",
}
_STOPPED_TEXT: Final = {
    "budget": "stopped at its time budget (--scan-budget)",
    "cancelled": "cancelled",
    "cell_ran": "stopped because a cell ran",
}


def _limit_text(limit: object) -> str:
    if not isinstance(limit, Mapping):
        return "unknown"
    source = str(limit.get("source"))
    if limit.get("bytes") is None:
        return "unknown"
    return f"{format_bytes(limit.get('bytes'))}, {_LIMIT_SOURCE_TEXT.get(source, source)}"


def _header(report: Mapping[str, Any]) -> dict[str, Any]:
    kernel = report.get("kernel", {})
    summary = report.get("summary", {})
    thresholds = report.get("thresholds", {})

    def limit(name: str) -> str:
        value = thresholds.get(name)
        return "none" if value is None else format_bytes(value)

    exact = kernel.get("peak_exact")
    return {
        "notebook": report.get("notebook", {}),
        "summary": summary,
        "violations": summary.get("violations") or [],
        "any_threshold": any(v is not None for v in thresholds.values()),
        "cards": [
            ("cells run", str(summary.get("cells_run", "\u2014"))),
            ("errors", str(summary.get("errors", "\u2014"))),
            ("largest peak increase", format_bytes(summary.get("max_peak_increase"))),
            ("total RSS change", format_bytes(summary.get("total_delta"), signed=True)),
        ],
        "facts": [
            ("Kernel", kernel.get("name")),
            ("Python", f"{kernel.get('python') or '?'} on {kernel.get('platform') or '?'}"),
            ("Helper", kernel.get("helper_version")),
            (
                "Peak method",
                f"{kernel.get('peak_method') or 'unknown'}"
                + ("" if exact is None else (" (exact)" if exact else " (not exact)")),
            ),
            ("", kernel.get("peak_method_description") or ""),
            ("Memory limit", _limit_text(kernel.get("memory_limit"))),
            (
                "Thresholds",
                f"peak increase {limit('max_peak')} \u00b7 RSS change {limit('max_delta')} "
                f"\u00b7 peak RSS {limit('max_rss')}",
            ),
        ],
    }


def _chart_series(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "label": f"[{c['index']}]",
            "cell_id": c.get("cell_id"),
            "preview": c.get("source_preview") or "",
            "rss_after": c.get("rss_after"),
            "peak_rss": c.get("peak_rss"),
        }
        for c in report.get("cells", [])
        if c.get("status") != STATUS_NOT_RUN
    ]


def _nice_ceiling(value: int) -> float:
    """The smallest of 1, 2, 2.5, 4, 5, 8 or 10 x 10^k at or above ``value`` (axis top)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 4, 5, 8, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)  # pragma: no cover - the loop always returns


def _svg_chart(points: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The geometry of a dependency-free line chart of RSS after and peak RSS per cell."""
    width, height, left, right, top, bottom = 900, 320, 64, 16, 12, 40
    values = [p[key] for p in points for key in ("rss_after", "peak_rss") if p.get(key) is not None]
    if not values:
        return None
    top_value = _nice_ceiling(max(values))
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(points) - 1, 1)

    def xy(i: int, v: int) -> tuple[float, float]:
        return left + i * step, top + plot_h - (v / top_value) * plot_h

    def line(key: str, colour: str, dash: str) -> dict[str, Any]:
        coords = [xy(i, p[key]) for i, p in enumerate(points) if p.get(key) is not None]
        return {
            "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in coords),
            "dots": [{"x": f"{x:.1f}", "y": f"{y:.1f}"} for x, y in coords],
            "colour": colour,
            "dash": dash,
        }

    ticks = []
    for k in range(5):
        v = top_value * k / 4
        _, y = xy(0, int(v))
        ticks.append(
            {
                "y": f"{y:.1f}",
                "text_y": f"{y + 4:.1f}",
                "label": f"{v / 1e9:g} GB" if top_value >= 4e9 else f"{v / 1e6:g} MB",
            }
        )
    every = max(1, -(-len(points) // 20))  # at most ~20 labels, so they never overlap
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "tick_x": left - 6,
        "ticks": ticks,
        "lines": [line("rss_after", "#0969da", ""), line("peak_rss", "#bc4c00", "5 4")],
        "labels": [
            {"x": f"{xy(i, 0)[0]:.1f}", "text": p["label"]}
            for i, p in enumerate(points)
            if i % every == 0
        ],
        "label_y": height - bottom + 16,
        "legend_y": height - 6,
    }


def _chart(report: Mapping[str, Any]) -> dict[str, Any]:
    from markupsafe import Markup  # noqa: PLC0415 - with jinja2

    points = _chart_series(report)
    plotly = _plotly_js()
    return {
        "points": points,
        # Trusted code and escaped JSON: inserted as they are.
        "plotly": None if plotly is None else Markup(plotly),  # noqa: S704 - the bundle we ship
        "chart_data": Markup(json_for_script(points)),  # noqa: S704 - no <, > or & left
        "driver": _asset("chart.js"),
        "svg": _svg_chart(points) if points and plotly is None else None,
    }


def _cells(report: Mapping[str, Any]) -> dict[str, Any]:
    over: dict[tuple[int, str], Mapping[str, Any]] = {
        (v["cell_index"], v["metric"]): v for v in report.get("summary", {}).get("violations", [])
    }
    rows = []
    for c in report.get("cells", []):
        error = c.get("error")

        def figure(metric: str, text: str, cell: Mapping[str, Any] = c) -> tuple[str, Any]:
            violation = over.get((cell["index"], metric))
            return text, (violation["limit"] if violation is not None else None)

        rows.append(
            {
                "index": c.get("index"),
                "cell_id": c.get("cell_id"),
                "status": str(c.get("status")),
                "execution_count": c.get("execution_count") or "",
                "duration": format_duration(c.get("duration_s")),
                "figures": [
                    figure("rss_before", format_bytes(c.get("rss_before"))),
                    figure("rss_after", format_bytes(c.get("rss_after"))),
                    figure("rss_delta", format_bytes(c.get("rss_delta"), signed=True)),
                    figure("peak_rss", format_bytes(c.get("peak_rss"))),
                    figure("peak_increase", format_bytes(c.get("peak_increase"), signed=True)),
                ],
                "gc_collections": c.get("gc_collections"),
                "error": f"{error.get('ename', '')}: {error.get('evalue', '')}" if error else "",
                "preview": c.get("source_preview"),
            }
        )
    headings = (
        "#",
        "Cell id",
        "Status",
        "Exec",
        "Time",
        "RSS before",
        "RSS after",
        "RSS change",
        "Peak RSS",
        "Peak increase",
        "GCs",
        "Error",
        "Source",
    )
    return {"rows": rows, "headings": headings}


def _holders(report: Mapping[str, Any]) -> dict[str, Any] | None:
    if "holders" not in report and "scan" not in report:
        return None
    scan = report.get("scan") or {}
    state = (
        "complete"
        if scan.get("complete")
        else f"partial: {_STOPPED_TEXT.get(str(scan.get('stopped')), 'incomplete')}"
    )
    headings = ("#", "Held by", "Kind", "Type", "Retained", "Objects", "Cell", "Why alive")
    holders = [
        dict(h, labels=[str(x) for x in h.get("labels") or []]) for h in report.get("holders") or []
    ]
    return {"scan": scan, "state": state, "holders": holders, "headings": headings}


def _growth(report: Mapping[str, Any]) -> dict[str, Any] | None:
    if "growth" not in report:
        return None
    repeat = report.get("repeat") or {}
    limit = (report.get("thresholds") or {}).get("max_growth")
    rows = []
    for entry in report.get("growth") or []:
        value = entry.get("growth_per_run_bytes")
        rows.append(
            {
                "cell_index": entry.get("cell_index"),
                "cell_id": entry.get("cell_id"),
                "runs": entry.get("runs"),
                "value": value,
                "over": limit is not None and value is not None and value > limit,
                "what": "; ".join(str(w) for w in entry.get("what_grew") or []) or "nothing named",
            }
        )
    runs_after = ", ".join(format_bytes(v) for v in repeat.get("rss_after") or []) or "\u2014"
    return {
        "repeat": repeat,
        "limit": limit,
        "rows": rows,
        "runs_after": runs_after,
        "leak_min_runs": LEAK_MIN_RUNS,
        "headings": ("#", "Cell id", "Runs", "Growth per run", "What grew"),
    }


def _fixes(report: Mapping[str, Any]) -> dict[str, Any] | None:
    if "resources" not in report and "suggestions" not in report:
        return None
    fixes = {f.get("suggestion_id"): f for f in report.get("fixes") or []}
    suggestions = []
    for sug in report.get("suggestions") or []:
        fix = fixes.get(sug.get("id"))
        if fix is None:
            outcome = ""
        elif fix.get("ok"):
            outcome = fix_outcome_text(fix)
        else:
            outcome = f"not applied: {fix.get('error')}"
        suggestions.append(dict(sug, outcome=outcome))
    after = report.get("after_fix")
    findings = report.get("findings")
    findings = findings if isinstance(findings, Mapping) else {}
    return {
        "resources": report.get("resources") or [],
        "suggestions": suggestions,
        "after": after if isinstance(after, Mapping) else None,
        "gap": [
            dict(part, name=GAP_NAMES.get(str(part.get("allocator")), part.get("allocator")))
            for part in findings.get("allocator_gap") or []
        ],
        "garbage": findings.get("cyclic_garbage"),
        "resource_headings": ("Kind", "Resource", "Detail", "Held by", "Cell", "Note"),
        "suggestion_headings": ("Id", "Fix", "Code", "Estimated", "Why", "Applied"),
        "gap_headings": ("Allocator", "Freed but resident", "Returned by the fix"),
    }


#: How the report names the allocators of ``findings.allocator_gap``.
GAP_NAMES: Final = {
    "pymalloc": "Python's small-object arenas (pymalloc)",
    "glibc_heap": "glibc's main heap",
    "glibc_arenas": "glibc's arenas of other threads",
    "arrow_pool": "Arrow's memory pool",
}


def fix_outcome_text(fix: Mapping[str, Any]) -> str:
    """What an applied fix did: ``freed 320 MB · returned to the OS 318 MB``, then its
    explanation; the RSS drop alone when the in-process figure is unknown."""
    freed = fix.get("freed_in_process_bytes")
    returned = fix.get("returned_to_os_bytes")
    if returned is None:  # a 1.2 helper: the RSS drop alone
        returned = fix.get("measured_freed_bytes")
    if isinstance(freed, int):
        text = f"freed {format_bytes(freed)} \u00b7 returned to the OS {format_bytes(returned)}"
    else:
        text = f"returned to the OS {format_bytes(returned)}"
    if fix.get("explanation"):
        text += f" ({fix['explanation']})"
    return text


#: Each section template's context, from the report; None leaves the section out.
_CONTEXTS: Final[dict[str, Callable[[Mapping[str, Any]], dict[str, Any] | None]]] = {
    "header.html.j2": _header,
    "chart.html.j2": _chart,
    "cells.html.j2": _cells,
    "profile.html.j2": profile_context,
    "holders.html.j2": _holders,
    "growth.html.j2": _growth,
    "fixes.html.j2": _fixes,
    "cluster.html.j2": cluster_context,
}


def render_section(name: str, report: Mapping[str, Any]) -> str:
    """One section of the page (a template of ``SECTIONS``); empty when the report lacks it."""
    context = _CONTEXTS.get(name, dict)(report)
    if context is None:
        return ""
    return str(_environment().get_template(name).render(report=report, **context))


def render_html(report: Mapping[str, Any], sections: Sequence[str] | None = None) -> str:
    """The report as one self-contained HTML page (no external URLs are loaded).

    Every value from the report is escaped by the templates (Jinja2 autoescaping).
    """
    from markupsafe import Markup  # noqa: PLC0415 - with jinja2

    body = "\n".join(render_section(name, report) for name in (sections or SECTIONS))
    path = Path(str(report.get("notebook", {}).get("path", ""))).name
    page = _environment().get_template("page.html.j2")
    return str(
        page.render(
            title=f"Memory Doctor \u00b7 {path}",
            css=_asset("report.css"),
            body=Markup(body),  # noqa: S704 - sections the templates escaped
            report_format=REPORT_FORMAT,
            report_version=REPORT_VERSION,
            helper_version=report.get("kernel", {}).get("helper_version") or "",
        )
    )
