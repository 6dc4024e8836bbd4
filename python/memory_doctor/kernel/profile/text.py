"""A profile as the magic shows it: escaped HTML and aligned text, no script.

``%%memory profile`` displays this bundle (``text/html`` for every front end,
``text/plain`` for terminals). In JupyterLab with our extension the same
profile also reaches the cell's gutter and the panel over the comm.
"""

from __future__ import annotations

from typing import Any

from ...format import format_bytes
from ..rich import Block, Table, to_html, to_text
from .model import LineDict, Profile

#: How each peak mode reads (docs/profile.md explains them).
PEAK_MODES = {
    "exact": "the peak figures are exact",
    "line-start": (
        "the peak fell inside one line: the bytes that line held above its start are "
        "shown as one transient block"
    ),
    "line-end": (
        "the peak fell inside one line: the bytes that line held above its end are "
        "shown as one transient block"
    ),
    "stale": "the peak figures are lower bounds (\u2265): the view was taken below the peak",
    "none": "no view at the peak: only the end of the run",
}

BACKENDS = {
    "memray": "memray (every allocator, native ones too)",
    "tracemalloc": "tracemalloc (Python allocators only)",
}


def _peak(line: LineDict, stale: bool) -> str:
    text = format_bytes(line["peak_bytes"])
    return f"\u2265 {text}" if stale and line["peak_bytes"] > 0 else text


def blocks(profile: Profile) -> list[Block]:
    """What the magic's output says, in order."""
    totals = profile["totals"]
    stale = profile["peak_mode"] == "stale"
    title = (
        f"%%memory profile: peak {format_bytes(totals['peak_bytes'])}, "
        f"left {format_bytes(totals['net_bytes'])}"
    )
    out = [Block("title", title)]
    out.append(
        Block(
            "text",
            f"Backend: {BACKENDS.get(profile['backend'], profile['backend'])}; "
            f"{PEAK_MODES.get(profile['peak_mode'], profile['peak_mode'])}.",
        )
    )
    if profile["error"]:
        out.append(Block("note", f"The cell stopped with {profile['error']}."))
    table = Table(
        headers=["Cell", "Line", "Net", "At peak", "Held by", "Source"],
        numeric=[False, True, True, True, False, False],
        code=[False, False, False, False, True, True],
        empty="No line of this cell allocated memory that the backend could see.",
    )
    for line in profile["lines"]:
        if line["line"] <= 0:
            continue  # frame set-up: kept in the data so the sums add up
        count = line["execution_count"]
        where = f"In[{count}]" if count is not None else "this cell"
        if line["scope"] == "function":
            where += " (self)"
        table.rows.append(
            [
                where,
                str(line["line"]),
                format_bytes(line["net_bytes"]),
                _peak(line, stale),
                ", ".join(line["holders"]),
                line["source"],
            ]
        )
    out.append(Block("table", table=table))
    out.append(
        Block(
            "text",
            "A line of the cell includes what the functions it called allocated; lines "
            "marked (self) belong to functions defined in other cells and count only "
            "their own allocations.",
        )
    )
    if profile["note"]:
        out.append(Block("note", profile["note"]))
    return out


def bundle(profile: Profile) -> dict[str, Any]:
    """``{"text/html": ..., "text/plain": ...}`` for ``display(..., raw=True)``."""
    parts = blocks(profile)
    return {"text/html": to_html(parts, "profile"), "text/plain": to_text(parts)}


__all__ = ["BACKENDS", "PEAK_MODES", "blocks", "bundle"]
