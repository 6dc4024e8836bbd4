"""The headless report's line profiles (``memory-doctor run --profile``).

The driver asks for a profile in the execute request's metadata
(``PROFILE_METADATA_KEY``) and gets the run's ``cell_profile``;
:func:`entry` turns its ``profile`` into the report cell's ``profile``, with
notebook cell indices where the kernel sent cell ids::

    {"backend": "tracemalloc" | "memray", "peak_mode", "note", "error",
     "totals": {...},
     "lines": [{"cell_index", "line", "source", "scope", "net_bytes",
                "peak_bytes", "holders"}],
     "stacks": [{"frames": [{"label", "cell_index", "file", "line",
                             "function"}], "peak_bytes"}]}

:func:`html_context` is the HTML report's "Line profiles" section.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

from ..format import format_bytes
from ..protocol import PROFILE_BACKEND_CHOICES

#: What ``--profile-backend`` accepts.
BACKEND_CHOICES: Final = PROFILE_BACKEND_CHOICES

BACKEND_TEXT: Final = {
    "memray": "memray: every allocator, native ones too",
    "tracemalloc": "tracemalloc: Python allocators only",
}
PEAK_MODE_TEXT: Final = {
    "exact": "exact peak",
    "line-start": "peak inside one line (its transient above the line's start)",
    "line-end": "peak inside one line (its transient above the line's end)",
    "stale": "peak figures are lower bounds",
    "none": "no view at the peak",
}


def parse_spec(text: str) -> str | frozenset[int]:
    """``all`` or ``INDEX[,INDEX...]`` (notebook cell indices, 0-based); ValueError otherwise."""
    spec = text.strip()
    if spec == "all":
        return spec
    indices: set[int] = set()
    for raw in spec.split(","):
        part = raw.strip()
        if not part.isdigit():
            raise ValueError(
                f"invalid --profile {text!r}: use all, or cell indices as in the report "
                "(0-based, counting every cell), e.g. --profile 3 or --profile 2,5"
            )
        indices.add(int(part))
    return frozenset(indices)


def select(spec: str | frozenset[int] | None, code_cells: Collection[int]) -> frozenset[int]:
    """The code cell indices to profile; ValueError naming an index that is no code cell."""
    if spec is None:
        return frozenset()
    if isinstance(spec, str):  # "all"
        return frozenset(code_cells)
    wrong = sorted(set(spec) - set(code_cells))
    if wrong:
        known = ", ".join(str(i) for i in sorted(code_cells)) or "none"
        raise ValueError(
            f"--profile {','.join(str(i) for i in wrong)}: not a code cell with code "
            f"(this notebook's are {known})"
        )
    return frozenset(spec)


def _index(cell_id: Any, cell_index_by_id: Mapping[str, int]) -> int | None:
    return cell_index_by_id.get(cell_id) if isinstance(cell_id, str) else None


def entry(profile: Mapping[str, Any], cell_index_by_id: Mapping[str, int]) -> dict[str, Any]:
    """The report cell's ``profile``: the kernel's, with cell indices for cell ids."""
    lines = [
        {
            "cell_index": _index(line.get("cell_id"), cell_index_by_id),
            "line": line.get("line"),
            "source": line.get("source"),
            "scope": line.get("scope"),
            "net_bytes": line.get("net_bytes"),
            "peak_bytes": line.get("peak_bytes"),
            "holders": list(line.get("holders") or []),
        }
        for line in profile.get("lines") or []
        if isinstance(line, Mapping)
    ]
    stacks = [
        {
            "frames": [
                {
                    "label": frame.get("label"),
                    "cell_index": _index(frame.get("cell_id"), cell_index_by_id),
                    "file": frame.get("file"),
                    "line": frame.get("line"),
                    "function": frame.get("function"),
                }
                for frame in stack.get("frames") or []
                if isinstance(frame, Mapping)
            ],
            "peak_bytes": stack.get("peak_bytes"),
        }
        for stack in profile.get("stacks") or []
        if isinstance(stack, Mapping)
    ]
    return {
        "backend": profile.get("backend"),
        "peak_mode": profile.get("peak_mode"),
        "note": profile.get("note", ""),
        "error": profile.get("error", ""),
        "totals": dict(profile.get("totals") or {}),
        "lines": lines,
        "stacks": stacks,
    }


def progress_line(profile: Mapping[str, Any]) -> str:
    """One line for the console: the line with the highest peak."""
    lines = [x for x in profile.get("lines") or [] if x.get("scope") == "cell" and x.get("line")]
    if not lines:
        return f"  profile ({profile.get('backend')}): no line allocated. {profile.get('note', '')}"
    top = max(lines, key=lambda x: x.get("peak_bytes") or 0)
    return (
        f"  profile ({profile.get('backend')}): line {top.get('line')} peaked at "
        f"{format_bytes(top.get('peak_bytes'))}, left {format_bytes(top.get('net_bytes'))}"
    )


def html_context(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The "Line profiles" section: one table per profiled cell (None when there is none)."""
    profiled: list[dict[str, Any]] = []
    for cell in report.get("cells") or []:
        profile = cell.get("profile")
        if not isinstance(profile, Mapping):
            continue
        stale = profile.get("peak_mode") == "stale"
        rows = []
        for line in profile.get("lines") or []:
            if not line.get("line"):
                continue  # frame set-up: kept in the JSON so the sums add up
            peak = format_bytes(line.get("peak_bytes"))
            rows.append(
                {
                    "cell_index": "" if line.get("cell_index") is None else line["cell_index"],
                    "line": line.get("line"),
                    "self": line.get("scope") == "function",
                    "net": format_bytes(line.get("net_bytes")),
                    "peak": f"\u2265 {peak}" if stale else peak,
                    "holders": ", ".join(str(h) for h in line.get("holders") or []),
                    "source": line.get("source") or "",
                }
            )
        totals = profile.get("totals") or {}
        profiled.append(
            {
                "index": cell.get("index"),
                "backend": BACKEND_TEXT.get(str(profile.get("backend")), profile.get("backend")),
                "peak_mode": PEAK_MODE_TEXT.get(
                    str(profile.get("peak_mode")), profile.get("peak_mode")
                ),
                "peak": format_bytes(totals.get("peak_bytes")),
                "net": format_bytes(totals.get("net_bytes")),
                "note": profile.get("note") or "",
                "error": profile.get("error") or "",
                "rows": rows,
            }
        )
    if not profiled:
        return None
    headings: Sequence[str] = ("Cell", "Line", "Net", "At peak", "Held by", "Source")
    return {"profiled": profiled, "headings": headings}


__all__ = [
    "BACKEND_CHOICES",
    "entry",
    "html_context",
    "parse_spec",
    "progress_line",
    "select",
]
