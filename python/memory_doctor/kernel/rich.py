"""One MIME bundle per magic output: our JSON, escaped HTML and aligned text.

Every magic builds plain data (checked by the tests against
``protocol/mime.json``) and :func:`bundle` turns it into

- ``application/vnd.jupyter.memory-doctor+json``: the data itself, drawn by
  our JupyterLab / Notebook 7 renderer with the side panel's components;
- ``text/html``: a self-contained table for VS Code, Colab, nbconvert and
  GitHub, from Jinja2 templates with autoescape on and no script;
- ``text/plain``: aligned text for IPython in a terminal and for logs.

Both human renderers draw the same :class:`Block` list (:func:`blocks`), so
the HTML and the text say the same thing in the same order.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from . import words as w

#: Our MIME type; the front end registers its renderer for it (``src/mime/``).
MIME_TYPE: Final = "application/vnd.jupyter.memory-doctor+json"
#: The version of the data's shape (``format``); ``protocol/mime.json`` describes it.
MIME_FORMAT: Final = 1
#: The views a bundle can be (its ``view`` field).
VIEWS: Final = ("summary", "holders", "resources", "cells", "fix", "cell", "badge", "notice")

#: Text tables cut a name or a type longer than this (the HTML shows it whole).
_TEXT_CELL_CHARS: Final = 40
_TEMPLATES: Final = Path(__file__).with_name("templates")


@dataclass
class Table:
    """Rows of text with our own headings; ``numeric`` columns are right-aligned,
    ``code`` ones (names, types, code: user-derived) monospace."""

    headers: list[str]
    numeric: list[bool]
    rows: list[list[str]] = field(default_factory=list)
    #: A line under a row (by index), e.g. the trap of a shared holder.
    notes: dict[int, str] = field(default_factory=dict)
    #: Columns of code or user-derived names, shown in a monospace font.
    code: list[bool] = field(default_factory=list)
    #: What to say when there is no row.
    empty: str = ""


@dataclass
class Block:
    """One piece of an output: ``kind`` is title, heading, text, note, code, table or badge."""

    kind: str
    text: str = ""
    table: Table | None = None


def bundle(data: Mapping[str, Any]) -> dict[str, Any]:
    """The MIME bundle of one output: ``{MIME_TYPE: data, "text/html": …, "text/plain": …}``."""
    parts = blocks(data)
    html = to_html(parts, str(data.get("view")))
    return {MIME_TYPE: dict(data), "text/html": html, "text/plain": to_text(parts)}


# ----------------------------------------------------------------------------- the blocks


def blocks(data: Mapping[str, Any]) -> list[Block]:
    """What an output says, in order, for both human renderers."""
    view = data.get("view")
    builder = _BUILDERS.get(str(view))
    return builder(data) if builder is not None else [Block("text", f"Unknown view {view!r}.")]


def _summary(data: Mapping[str, Any]) -> list[Block]:
    kernel = data.get("kernel") or {}
    out = [Block("title", "Memory Doctor"), Block("text", w.kernel_line(kernel))]
    out += _cell_tables(data)
    scan = data.get("scan") or {}
    holders = scan.get("holders") or []
    total = data.get("holders_total", len(holders))
    out.append(Block("heading", f"Top holders ({len(holders)} of {total})"))
    out += _holder_blocks(data, "%memory", suggestions=True)
    resources = scan.get("resources") or []
    if resources:
        out.append(
            Block(
                "text",
                f"{len(resources)} open resource(s): run %memory resources to see them.",
            )
        )
    if any(s.get("holder_id") for s in scan.get("suggestions") or []):
        out.append(
            Block("text", "Preview a suggestion with %memory fix ID; add --yes to apply it.")
        )
    return out


def _holders(data: Mapping[str, Any]) -> list[Block]:
    scan = data.get("scan") or {}
    holders = scan.get("holders") or []
    total = data.get("holders_total", len(holders))
    text = data.get("filter")
    shown = f"Showing {len(holders)} of {total} holders, largest first."
    if text:
        matched = data.get("matched", len(holders))
        shown = (
            f"{matched} of {total} holders match {text!r}; showing {len(holders)}, largest first."
        )
    out = [
        Block("title", "What's holding memory"),
        Block("text", w.kernel_line(data.get("kernel") or {})),
        Block("text", shown),
    ]
    out += _holder_blocks(data, "%memory holders", suggestions=True)
    if scan.get("holders"):
        out.append(Block("text", w.attribution(scan)))
    return out


def _holder_blocks(data: Mapping[str, Any], again: str, *, suggestions: bool) -> list[Block]:
    scan = data.get("scan") or {}
    out: list[Block] = []
    note = w.scan_note(scan, float(data.get("budget_s") or 0), again)
    if note:
        out.append(Block("note", note))
    by_holder: dict[Any, Mapping[str, Any]] = {}
    for sug in scan.get("suggestions") or []:
        by_holder.setdefault(sug.get("holder_id"), sug)
    headers = ["#", "Names", "Type", "Retained", "Objects", "Cell"]
    numeric = [True, False, False, True, True, False]
    code = [False, True, True, False, False, False]
    if suggestions:
        headers.append("Suggestion")
        numeric.append(False)
        code.append(True)
    table = Table(headers, numeric, code=code, empty="No holders were found.")
    for index, holder in enumerate(scan.get("holders") or [], 1):
        row = [
            str(index),
            w.holder_names(holder),
            str(holder.get("type", "")),
            w.size(holder.get("retained_bytes")),
            w.count(holder.get("objects")),
            w.prompt(holder.get("execution_count"), holder.get("cell_id")),
        ]
        if suggestions:
            sug = by_holder.get(holder.get("id"))
            row.append(f"{sug.get('id')}: {sug.get('code')}" if sug else "")
        trap = w.trap(holder)
        if trap:
            table.notes[len(table.rows)] = trap
        table.rows.append(row)
    out.append(Block("table", table=table))
    return out


def _resources(data: Mapping[str, Any]) -> list[Block]:
    scan = data.get("scan") or {}
    resources = scan.get("resources") or []
    out = [
        Block("title", f"Open resources ({len(resources)})"),
        Block("text", w.kernel_line(data.get("kernel") or {})),
    ]
    note = w.scan_note(scan, float(data.get("budget_s") or 0), "%memory resources")
    if note:
        out.append(Block("note", note))
    table = Table(
        ["Kind", "Name", "Detail", "Held by", "Cell"],
        [False] * 5,
        code=[False, True, True, True, False],
        empty="Nothing is held open.",
    )
    for res in resources:
        table.rows.append(
            [
                str(res.get("kind", "")).replace("_", " "),
                str(res.get("label", "")),
                str(res.get("detail") or ""),
                ", ".join(str(h) for h in res.get("held_by") or []),
                w.prompt(res.get("execution_count"), res.get("cell_id")),
            ]
        )
        if res.get("note"):
            table.notes[len(table.rows) - 1] = str(res["note"])
    out.append(Block("table", table=table))
    findings = w.findings_line(scan.get("findings"))
    if findings:
        out.append(Block("text", f"Process: {findings}."))
    session = [s for s in scan.get("suggestions") or [] if not s.get("holder_id")]
    out.append(Block("heading", f"Suggestions ({len(session)})"))
    out.append(Block("table", table=_suggestion_table(session, resources)))
    if session:
        out.append(
            Block("text", "Preview a suggestion with %memory fix ID; add --yes to apply it.")
        )
    return out


def _suggestion_table(
    suggestions: Sequence[Mapping[str, Any]], resources: Sequence[Mapping[str, Any]]
) -> Table:
    table = Table(
        ["ID", "Fix", "Frees about", "Code"],
        [False, False, True, False],
        code=[True, False, False, True],
        empty="No fix to suggest.",
    )
    for sug in suggestions:
        value = sug.get("estimated_freed_bytes")
        table.rows.append(
            [
                str(sug.get("id")),
                w.suggestion_title(sug, resources),
                w.size(value) if value is not None else "",
                str(sug.get("code", "")),
            ]
        )
    return table


def _cells(data: Mapping[str, Any]) -> list[Block]:
    runs = data.get("runs", 0)
    out = [
        Block("title", f"Memory by cell ({w.count(runs)} measured run(s))"),
        Block("text", w.kernel_line(data.get("kernel") or {})),
    ]
    return out + _cell_tables(data)


def _cell_tables(data: Mapping[str, Any]) -> list[Block]:
    out = []
    for key, heading in (
        ("cells_by_left", "Top cells by memory left"),
        ("cells_by_peak", "Top cells by peak"),
    ):
        table = Table(
            ["Cell", "Left", "Peak", "Time", "Status"],
            [False, True, True, True, False],
            code=[False] * 5,
            empty="No cell has left memory or raised the peak since %load_ext memory_doctor.",
        )
        for rec in data.get(key) or []:
            table.rows.append(
                [
                    w.prompt(rec.get("execution_count"), rec.get("cell_id")) or "[ ]",
                    w.signed(rec.get("rss_delta")),
                    w.signed(rec.get("peak_increase")),
                    w.duration(rec.get("duration_s")),
                    "error" if rec.get("status") == "error" else "",
                ]
            )
        out += [Block("heading", heading), Block("table", table=table)]
    return out


def _fix(data: Mapping[str, Any]) -> list[Block]:
    sug = data.get("suggestion") or {}
    title = w.suggestion_title(sug, data.get("resources") or [])
    sid = sug.get("id")
    result = data.get("result")
    error = data.get("error")
    if result is not None:
        out = [Block("title", f"Applied {sid}: {title}")]
        out += [Block("text", line) for line in w.outcome_lines(result)]
        out.append(Block("text", "Run %memory again to see what holds memory now."))
        return out
    if error is not None:
        return [
            Block("title", f"Not applied {sid}: {title}"),
            Block("note", str(error.get("message", ""))),
            Block(
                "text",
                "Nothing was changed. Run %memory to get suggestions for the kernel as it is now.",
            ),
        ]
    head = f"Suggestion {sid}: {title}"
    estimate = w.estimate(sug)
    if estimate:
        head += f" \u2014 {estimate}"
    out = [Block("title", head)]
    if sug.get("reason"):
        out.append(Block("text", str(sug["reason"])))
    out.append(Block("text", w.confirm_lead(sug.get("action"))))
    targets = Table(["Target"], [False], code=[True], empty="(everything of its kind)")
    targets.rows = [[t] for t in data.get("targets") or []]
    out.append(Block("table", table=targets))
    if sug.get("code"):
        out += [Block("text", "The same as running:"), Block("code", str(sug["code"]))]
    out.append(Block("note", f"Nothing was changed. To apply it, run: %memory fix {sid} --yes"))
    return out


def _cell(data: Mapping[str, Any]) -> list[Block]:
    m = data.get("measurement") or {}
    kernel = data.get("kernel") or {}
    line = (
        f"left {w.signed(m.get('rss_delta'))}{w.SEPARATOR}peak {w.signed(m.get('peak_increase'))} "
        f"({w.peak_note(m.get('peak_method'), bool(m.get('peak_exact')))}){w.SEPARATOR}"
        f"{w.duration(m.get('duration_s'))}"
    )
    out = [Block("title", f"%%memory: {line}")]
    facts = (
        f"RSS {w.size(m.get('rss_before'))} \u2192 {w.size(m.get('rss_after'))}, "
        f"peak {w.size(m.get('peak_rss'))}."
    )
    if m.get("status") == "error":
        facts += " The cell raised an error (see above)."
    out.append(Block("text", facts))
    limit = w.limit_sentence(kernel.get("rss"), kernel.get("memory_limit"))
    if limit:
        out.append(Block("text", limit))
    created = data.get("created") or []
    scan = data.get("scan")
    if scan is None:
        out.append(Block("text", "Holders were not scanned (--no-holders)."))
    elif not created:
        out.append(Block("text", "The cell bound no new names, so it created no holder."))
    else:
        out.append(Block("heading", f"What it left behind: {w.name_list(created)}"))
        out += _holder_blocks(data, "%%memory", suggestions=True)
    return out


def _badge(data: Mapping[str, Any]) -> list[Block]:
    return [Block("badge", w.badge(data.get("record") or {}))]


def _notice(data: Mapping[str, Any]) -> list[Block]:
    return [Block("text", str(data.get("message", "")))]


_BUILDERS: Final = {
    "summary": _summary,
    "holders": _holders,
    "resources": _resources,
    "cells": _cells,
    "fix": _fix,
    "cell": _cell,
    "badge": _badge,
    "notice": _notice,
}


# ----------------------------------------------------------------------------- text


def to_text(parts: Sequence[Block]) -> str:
    """Aligned plain text for a terminal or a log."""
    lines: list[str] = []
    for block in parts:
        if block.kind == "table" and block.table is not None:
            lines += _text_table(block.table)
        elif block.kind == "code":
            lines += ["    " + line for line in block.text.splitlines()]
        elif block.kind == "heading":
            lines += ["", block.text]
        elif block.kind == "note":
            lines.append(f"! {block.text}")
        else:
            lines.append(block.text)
    return "\n".join(lines).strip("\n")


def _cut(text: str) -> str:
    text = " ".join(text.split())  # one line: a label may hold newlines
    return text if len(text) <= _TEXT_CELL_CHARS else text[: _TEXT_CELL_CHARS - 1] + "\u2026"


def _text_table(table: Table) -> list[str]:
    if not table.rows:
        return [f"  {table.empty}"] if table.empty else []
    rows = [table.headers] + [[_cut(cell) for cell in row] for row in table.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.headers))]
    out = []
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if table.numeric[i] else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        out.append(("  " + "  ".join(cells)).rstrip())
        note = table.notes.get(index - 1)
        if index > 0 and note:
            out.append(f"      \u21b3 {note}")
    return out


# ----------------------------------------------------------------------------- HTML


def to_html(parts: Sequence[Block], view: str = "") -> str:
    """Self-contained HTML: autoescaped text, scoped CSS, no script, no link."""
    template = _environment().get_template("output.html.j2")
    return str(template.render(blocks=parts, view=view)).strip()


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    """The templates' Jinja2 environment (autoescaped, built on first use)."""
    import jinja2  # noqa: PLC0415 - only when a magic shows something

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


__all__ = [
    "MIME_FORMAT",
    "MIME_TYPE",
    "VIEWS",
    "Block",
    "Table",
    "blocks",
    "bundle",
    "to_html",
    "to_text",
]
