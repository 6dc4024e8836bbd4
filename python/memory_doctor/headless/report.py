"""The headless run report: building it, and writing it as JSON and as HTML.

The report is a plain JSON-able dict (``format: memory-doctor-report``,
``version: 1``). Later sections (``holders``, ``resources``, ``suggestions``,
``growth``) are added as new top-level keys; readers must ignore keys they do
not know, and the HTML page renders the sections listed in
``SECTION_RENDERERS`` so a new section only needs a renderer appended there.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import html
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, Final

from ..format import format_bytes, format_duration
from ..protocol import LEAK_MIN_RUNS, PEAK_NONE, PEAK_RU_MAXRSS, PEAK_VMHWM

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
    return {
        "labels": [str(label) for label in labels] if isinstance(labels, list) else [],
        "kind": holder.get("kind"),
        "type": holder.get("type"),
        "retained_bytes": _int_or_none(holder.get("retained_bytes")),
        "objects": _int_or_none(holder.get("objects")),
        "path": holder.get("path"),
        "cell_index": cell_index_by_id.get(cell_id) if isinstance(cell_id, str) else None,
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
    return {
        "suggestion_id": suggestion_id,
        "ok": error is None,
        "measured_freed_bytes": _int_or_none(result.get("measured_freed_bytes")),
        "error": error,
        "explanation": result.get("explanation"),
    }


def fix_sections(result: Mapping[str, Any], cell_index_by_id: Mapping[str, int]) -> dict[str, Any]:
    """``resources`` and ``suggestions`` of a scan result (empty lists when absent)."""
    return {
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


def _e(value: object) -> str:
    """HTML-escape anything user-derived (quotes included, for attribute values)."""
    return html.escape("" if value is None else str(value), quote=True)


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


_CSS: Final = """
:root { color-scheme: light; }
body { font: 14px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial,
       sans-serif; color: #1f2328; background: #fff; margin: 0; padding: 24px 32px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
.md-sub { color: #57606a; margin: 0 0 16px; word-break: break-all; }
.md-grid { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
.md-grid dt { color: #57606a; }
.md-grid dd { margin: 0; }
.md-cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.md-card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.md-card b { display: block; font-size: 18px; }
.md-card span { color: #57606a; font-size: 12px; }
.md-banner { border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
.md-banner.md-bad { background: #ffebe9; border: 1px solid #ff8182; }
.md-banner.md-good { background: #dafbe1; border: 1px solid #4ac26b; }
.md-banner.md-note { background: #fff8c5; border: 1px solid #d4a72c; }
.md-banner ul { margin: 6px 0 0; padding-left: 20px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #d8dee4; padding: 5px 8px; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.md-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.md-over { background: #ffebe9; font-weight: 600; }
tr.md-status-error td.md-status { color: #cf222e; font-weight: 600; }
tr.md-status-not_run td { color: #8c959f; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       white-space: pre-wrap; word-break: break-all; }
td.md-id code { white-space: nowrap; word-break: normal; }
#md-chart { width: 100%; height: 380px; }
.md-svg text { font: 11px sans-serif; fill: #57606a; }
footer { margin-top: 32px; color: #8c959f; font-size: 12px; }
"""


def _render_header(report: Mapping[str, Any]) -> str:
    notebook = report.get("notebook", {})
    kernel = report.get("kernel", {})
    summary = report.get("summary", {})
    thresholds = report.get("thresholds", {})
    parts = [
        "<header>",
        "<h1>Memory Doctor report</h1>",
        f'<p class="md-sub"><code>{_e(notebook.get("path"))}</code> \u00b7 '
        f"{_e(notebook.get('cells'))} cells \u00b7 generated {_e(report.get('generated_at'))}</p>",
    ]
    if summary.get("kernel_died"):
        parts.append(
            '<div class="md-banner md-bad" role="alert"><b>The kernel died.</b> '
            "The cell marked <code>KernelDied</code> ended the kernel; later cells were not "
            "run.</div>"
        )
    violations = summary.get("violations") or []
    if violations:
        items = "".join(
            f"<li>cell {_e(v.get('cell_index'))} (<code>{_e(v.get('cell_id'))}</code>): "
            f"{_e(v.get('metric'))} {_e(format_bytes(v.get('value')))} &gt; "
            f"{_e(format_bytes(v.get('limit')))}</li>"
            for v in violations
        )
        parts.append(
            f'<div class="md-banner md-bad" role="alert"><b>{len(violations)} threshold '
            f"violation{'s' if len(violations) != 1 else ''}</b><ul>{items}</ul></div>"
        )
    elif any(v is not None for v in thresholds.values()):
        parts.append('<div class="md-banner md-good">All cells are within the thresholds.</div>')

    cards = [
        ("cells run", str(summary.get("cells_run", "\u2014"))),
        ("errors", str(summary.get("errors", "\u2014"))),
        ("largest peak increase", format_bytes(summary.get("max_peak_increase"))),
        ("total RSS change", format_bytes(summary.get("total_delta"), signed=True)),
    ]
    parts.append(
        '<div class="md-cards">'
        + "".join(
            f'<div class="md-card"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for k, v in cards
        )
        + "</div>"
    )

    def limit(name: str) -> str:
        value = thresholds.get(name)
        return "none" if value is None else format_bytes(value)

    exact = kernel.get("peak_exact")
    rows = [
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
            f"peak increase {limit('max_peak')} \u00b7 RSS change {limit('max_delta')} \u00b7 "
            f"peak RSS {limit('max_rss')}",
        ),
    ]
    parts.append(
        '<dl class="md-grid">'
        + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
        + "</dl>"
    )
    parts.append("</header>")
    return "\n".join(parts)


_LIMIT_SOURCE_TEXT: Final = {
    "cgroup_v2": "the container's cgroup v2 limit (memory.max)",
    "cgroup_v1": "the container's cgroup v1 limit (memory.limit_in_bytes)",
    "physical": "no container limit: the machine's RAM",
}


def _limit_text(limit: object) -> str:
    if not isinstance(limit, Mapping):
        return "unknown"
    source = str(limit.get("source"))
    if limit.get("bytes") is None:
        return "unknown"
    return f"{format_bytes(limit.get('bytes'))}, {_LIMIT_SOURCE_TEXT.get(source, source)}"


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


# Runs in the page: builds the two plotly traces from the embedded data.
_PLOTLY_DRIVER: Final = """
(function () {
  var points = JSON.parse(document.getElementById('md-chart-data').textContent);
  function mb(v) { return v === null ? null : v / 1e6; }
  var x = points.map(function (p) { return p.label; });
  var text = points.map(function (p) { return p.cell_id + ': ' + p.preview; });
  var traces = [
    {name: 'RSS after cell', x: x, y: points.map(function (p) { return mb(p.rss_after); }),
     text: text, mode: 'lines+markers', type: 'scatter',
     hovertemplate: '%{x} %{y:.1f} MB<br>%{text}<extra>RSS after</extra>'},
    {name: 'Peak RSS during cell', x: x, y: points.map(function (p) { return mb(p.peak_rss); }),
     text: text, mode: 'lines+markers', type: 'scatter', line: {dash: 'dot'},
     hovertemplate: '%{x} %{y:.1f} MB<br>%{text}<extra>Peak RSS</extra>'}
  ];
  Plotly.newPlot('md-chart', traces, {
    margin: {l: 60, r: 20, t: 10, b: 50}, hovermode: 'closest',
    xaxis: {title: {text: 'cell (index in notebook)'}, type: 'category'},
    yaxis: {title: {text: 'MB'}, rangemode: 'tozero'},
    legend: {orientation: 'h', y: -0.2}
  }, {displaylogo: false, responsive: true});
})();
"""


def _nice_ceiling(value: int) -> float:
    """The smallest of 1, 2, 2.5, 4, 5, 8 or 10 x 10^k at or above ``value`` (axis top)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 4, 5, 8, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)  # pragma: no cover - the loop always returns


def _render_svg_chart(points: Sequence[Mapping[str, Any]]) -> str:
    """A dependency-free line chart of RSS after and peak RSS per cell."""
    width, height, left, right, top, bottom = 900, 320, 64, 16, 12, 40
    values = [p[key] for p in points for key in ("rss_after", "peak_rss") if p.get(key) is not None]
    if not values:
        return "<p>No measurements to chart.</p>"
    top_value = _nice_ceiling(max(values))
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(points) - 1, 1)

    def xy(i: int, v: int) -> tuple[float, float]:
        return left + i * step, top + plot_h - (v / top_value) * plot_h

    def polyline(key: str, colour: str, dash: str) -> str:
        coords = [xy(i, p[key]) for i, p in enumerate(points) if p.get(key) is not None]
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        dots = "".join(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords
        )
        return (
            f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-dasharray="{dash}"/>{dots}'
        )

    ticks = []
    for k in range(5):
        v = top_value * k / 4
        label = f"{v / 1e9:g} GB" if top_value >= 4e9 else f"{v / 1e6:g} MB"
        _, y = xy(0, int(v))
        ticks.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
        )
    every = max(1, -(-len(points) // 20))  # at most ~20 labels, so they never overlap
    labels = "".join(
        f'<text x="{xy(i, 0)[0]:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
        f"{_e(p['label'])}</text>"
        for i, p in enumerate(points)
        if i % every == 0
    )
    legend = (
        f'<text x="{left}" y="{height - 6}">\u2014 RSS after cell (blue) \u00b7 '
        "- - peak RSS during cell (orange)</text>"
    )
    return (
        f'<svg class="md-svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        'aria-label="RSS after and peak RSS by cell">'
        + "".join(ticks)
        + polyline("rss_after", "#0969da", "")
        + polyline("peak_rss", "#bc4c00", "5 4")
        + labels
        + legend
        + "</svg>"
    )


def _render_chart(report: Mapping[str, Any]) -> str:
    points = _chart_series(report)
    head = "<section><h2>Memory by cell</h2>"
    if not points:
        return head + "<p>No cell was measured.</p></section>"
    plotly = _plotly_js()
    if plotly is None:
        return (
            head + '<div class="md-banner md-note">plotly.js was not found next to the '
            "memory_doctor package (static/plotly.min.js), so this is a simple static chart."
            "</div>" + _render_svg_chart(points) + "</section>"
        )
    return (
        head
        + '<div id="md-chart"></div>'
        + f'<script type="application/json" id="md-chart-data">{json_for_script(points)}</script>'
        + f"<script>{plotly}</script>"
        + f"<script>{_PLOTLY_DRIVER}</script></section>"
    )


def _table(table_id: str, headings: Sequence[str], rows: Sequence[str], empty: str) -> str:
    """A report table: our own ``headings`` and ``empty`` text, rows already escaped."""
    header = "<tr>" + "".join(f"<th>{h}</th>" for h in headings) + "</tr>"
    body = "\n".join(rows) or f'<tr><td colspan="{len(headings)}">{empty}</td></tr>'
    return f'<table id="{table_id}"><thead>{header}</thead><tbody>{body}</tbody></table>'


def _render_cells_table(report: Mapping[str, Any]) -> str:
    over: dict[tuple[int, str], Mapping[str, Any]] = {
        (v["cell_index"], v["metric"]): v for v in report.get("summary", {}).get("violations", [])
    }
    rows = []
    for c in report.get("cells", []):

        def num(metric: str, text: str, cell: Mapping[str, Any] = c) -> str:
            violation = over.get((cell["index"], metric))
            if violation is None:
                return f'<td class="md-num">{_e(text)}</td>'
            title = f"above the limit of {format_bytes(violation['limit'])}"
            return f'<td class="md-num md-over" title="{_e(title)}">{_e(text)}</td>'

        error = c.get("error")
        error_text = f"{error.get('ename', '')}: {error.get('evalue', '')}" if error else ""
        status = str(c.get("status"))
        rows.append(
            f'<tr class="md-status-{_e(status)}">'
            f'<td class="md-num">{_e(c.get("index"))}</td>'
            f'<td class="md-id"><code>{_e(c.get("cell_id"))}</code></td>'
            f'<td class="md-status">{_e(status)}</td>'
            f'<td class="md-num">{_e(c.get("execution_count") or "")}</td>'
            f'<td class="md-num">{_e(format_duration(c.get("duration_s")))}</td>'
            + num("rss_before", format_bytes(c.get("rss_before")))
            + num("rss_after", format_bytes(c.get("rss_after")))
            + num("rss_delta", format_bytes(c.get("rss_delta"), signed=True))
            + num("peak_rss", format_bytes(c.get("peak_rss")))
            + num("peak_increase", format_bytes(c.get("peak_increase"), signed=True))
            + f'<td class="md-num">{_e(c.get("gc_collections") if c.get("gc_collections") is not None else "")}</td>'  # noqa: E501
            f"<td>{_e(error_text)}</td>"
            f"<td><code>{_e(c.get('source_preview'))}</code></td></tr>"
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
    table = _table("md-cells", headings, rows, "This notebook has no code cells.")
    return f"<section><h2>Cells</h2>{table}</section>"


_STOPPED_TEXT: Final = {
    "budget": "stopped at its time budget (--scan-budget)",
    "cancelled": "cancelled",
    "cell_ran": "stopped because a cell ran",
}


def _render_holders(report: Mapping[str, Any]) -> str:
    """The "What's holding memory" section; empty when no scan was asked for."""
    if "holders" not in report and "scan" not in report:
        return ""
    scan = report.get("scan") or {}
    holders = report.get("holders") or []
    parts = ["<section><h2>What\u2019s holding memory</h2>"]
    if scan.get("error"):
        parts.append(
            f'<div class="md-banner md-bad" role="alert">The scan failed: {_e(scan["error"])}</div>'
        )
    else:
        state = (
            "complete"
            if scan.get("complete")
            else f"partial: {_STOPPED_TEXT.get(str(scan.get('stopped')), 'incomplete')}"
        )
        parts.append(
            f'<p class="md-sub">Scanned {_e(scan.get("objects_visited"))} objects in '
            f"{_e(format_duration(scan.get('duration_s')))} ({_e(state)}). Kernel RSS "
            f"{_e(format_bytes(scan.get('rss')))}; the holders below account for "
            f"{_e(format_bytes(scan.get('attributed_bytes')))}. The other "
            f"{_e(format_bytes(scan.get('unattributed_bytes')))} is the interpreter and "
            "libraries, native allocations outside Python objects, and memory freed but not "
            "returned to the OS.</p>"
        )
        if not scan.get("complete"):
            parts.append(
                '<div class="md-banner md-note">This scan is partial: sizes are lower bounds '
                "and some holders may be missing.</div>"
            )
    rows = []
    for rank, holder in enumerate(holders, start=1):
        labels = holder.get("labels") or []
        shared = len(labels) > 1
        title = ' title="shared: deleting only one of these names frees nothing"' if shared else ""
        cell = holder.get("cell_index")
        rows.append(
            f'<tr><td class="md-num">{rank}</td>'
            f"<td{title}><code>{_e(', '.join(str(x) for x in labels))}</code></td>"
            f"<td>{_e(holder.get('kind'))}</td>"
            f"<td><code>{_e(holder.get('type'))}</code></td>"
            f'<td class="md-num">{_e(format_bytes(holder.get("retained_bytes")))}</td>'
            f'<td class="md-num">{_e(holder.get("objects"))}</td>'
            f'<td class="md-num">{_e("" if cell is None else cell)}</td>'
            f"<td><code>{_e(holder.get('path'))}</code></td></tr>"
        )
    headings = ("#", "Held by", "Kind", "Type", "Retained", "Objects", "Cell", "Why alive")
    parts.append(_table("md-holders", headings, rows, "No holders were found.") + "</section>")
    return "\n".join(parts)


def _render_growth(report: Mapping[str, Any]) -> str:
    """The "Leaks across re-runs" section; empty without ``--repeat``."""
    if "growth" not in report:
        return ""
    growth = report.get("growth") or []
    repeat = report.get("repeat") or {}
    limit = (report.get("thresholds") or {}).get("max_growth")
    runs_after = ", ".join(format_bytes(v) for v in repeat.get("rss_after") or []) or "\u2014"
    parts = [
        "<section><h2>Leaks across re-runs</h2>",
        f'<p class="md-sub">The notebook ran {_e(repeat.get("completed"))} of '
        f"{_e(repeat.get('count'))} times in one kernel (RSS after each run: "
        f"{_e(runs_after)}). A cell is flagged when {LEAK_MIN_RUNS} or more runs in a row "
        "each left memory behind; \u201cwhat grew\u201d names the variables whose size grew "
        "and the object types whose live count grew during its last run.</p>",
    ]
    if repeat.get("kernel_died_in_run") is not None:
        parts.append(
            f'<div class="md-banner md-bad" role="alert">The kernel died in run '
            f"{_e(repeat.get('kernel_died_in_run'))}.</div>"
        )
    rows = []
    for entry in growth:
        value = entry.get("growth_per_run_bytes")
        over = limit is not None and value is not None and value > limit
        cls = ' class="md-num md-over"' if over else ' class="md-num"'
        title = f' title="{_e("above --max-growth " + format_bytes(limit))}"' if over else ""
        what = "; ".join(str(w) for w in entry.get("what_grew") or []) or "nothing named"
        rows.append(
            f'<tr><td class="md-num">{_e(entry.get("cell_index"))}</td>'
            f'<td class="md-id"><code>{_e(entry.get("cell_id"))}</code></td>'
            f'<td class="md-num">{_e(entry.get("runs"))}</td>'
            f"<td{cls}{title}>{_e(format_bytes(value))}</td>"
            f"<td><code>{_e(what)}</code></td></tr>"
        )
    headings = ("#", "Cell id", "Runs", "Growth per run", "What grew")
    parts.append(_table("md-growth", headings, rows, "No cell kept growing.") + "</section>")
    return "\n".join(parts)


def _render_fixes(report: Mapping[str, Any]) -> str:
    """Resources, suggestions and (with ``--fix``) what each fix freed; every string escaped."""
    if "resources" not in report and "suggestions" not in report:
        return ""
    parts = ["<section><h2>Resources and suggested fixes</h2>"]
    rows = [
        f"<tr><td>{_e(r.get('kind'))}</td><td><code>{_e(r.get('label'))}</code></td>"
        f"<td><code>{_e(r.get('detail'))}</code></td>"
        f"<td><code>{_e(', '.join(r.get('held_by') or []))}</code></td>"
        f'<td class="md-num">{_e(r.get("cell_index"))}</td><td>{_e(r.get("note") or "")}</td></tr>'
        for r in report.get("resources") or []
    ]
    headings = ("Kind", "Resource", "Detail", "Held by", "Cell", "Note")
    parts.append(_table("md-resources", headings, rows, "Nothing is held open."))
    fixes = {f.get("suggestion_id"): f for f in report.get("fixes") or []}
    rows = []
    for sug in report.get("suggestions") or []:
        fix = fixes.get(sug.get("id"))
        if fix is None:
            outcome = ""
        elif fix.get("ok"):
            outcome = f"freed {format_bytes(fix.get('measured_freed_bytes'))}"
            if fix.get("explanation"):
                outcome += f" ({fix['explanation']})"
        else:
            outcome = f"not applied: {fix.get('error')}"
        rows.append(
            f"<tr><td><code>{_e(sug.get('id'))}</code></td><td>{_e(sug.get('action'))}</td>"
            f"<td><pre>{_e(sug.get('code'))}</pre></td>"
            f'<td class="md-num">{_e(format_bytes(sug.get("estimated_freed_bytes")))}</td>'
            f"<td>{_e(sug.get('reason'))}</td><td>{_e(outcome)}</td></tr>"
        )
    headings = ("Id", "Fix", "Code", "Estimated", "Why", "Applied")
    parts.append(_table("md-suggestions", headings, rows, "No fixes to suggest."))
    after = report.get("after_fix")
    if isinstance(after, Mapping):
        parts.append(
            f'<p class="md-sub">After the fixes: RSS {_e(format_bytes(after.get("rss")))}, '
            f"{_e(len(after.get('holders') or []))} holders, "
            f"{_e(len(after.get('resources') or []))} resources still open"
            f"{_e('; the scan failed: ' + str(after.get('error')) if after.get('error') else '')}"
            ".</p>"
        )
    parts.append("</section>")
    return "\n".join(parts)


#: Renderers for the page body, in order. A later report section appends its own.
SECTION_RENDERERS: list[Callable[[Mapping[str, Any]], str]] = [
    _render_header,
    _render_chart,
    _render_cells_table,
    _render_holders,
    _render_growth,
    _render_fixes,
]


def render_html(
    report: Mapping[str, Any],
    renderers: Sequence[Callable[[Mapping[str, Any]], str]] | None = None,
) -> str:
    """The report as one self-contained HTML page (no external URLs are loaded)."""
    body = "\n".join(render(report) for render in (renderers or SECTION_RENDERERS))
    title = f"Memory Doctor \u00b7 {Path(str(report.get('notebook', {}).get('path', ''))).name}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style></head>\n<body>\n"
        f"{body}\n"
        f"<footer>{_e(REPORT_FORMAT)} v{REPORT_VERSION} \u00b7 "
        f"memory-doctor {_e(report.get('kernel', {}).get('helper_version') or '')}</footer>\n"
        "</body></html>\n"
    )
