"""The one place sizes and durations become text, in the kernel and outside it.

Byte sizes read as the JupyterLab panel shows them (``src/format.ts``), so a
figure in a suggestion, a report or a "what grew" label is the same text as
in the panel next to it. Durations are the report's.
"""

from __future__ import annotations

import math
from typing import Final

#: U+2212, the minus sign (not a hyphen), as the panel writes it.
MINUS: Final = "\u2212"
#: What an unknown figure shows.
UNKNOWN: Final = "\u2014"

_UNITS: Final = ("B", "kB", "MB", "GB", "TB", "PB")


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _digits(value: float, whole: bool) -> str:
    """2 or 3 significant digits: one decimal below 10, whole numbers from 10 on."""
    fixed = f"{value:.1f}"
    if whole or float(fixed) >= 10:
        return str(_round_half_up(value))
    return fixed


def format_bytes(value: float | None, *, signed: bool = False) -> str:
    """A byte count in SI units with 2 or 3 significant digits and a space before the unit.

    ``512 B``, ``4.0 MB``, ``105 MB``, ``1.2 GB``: powers of 1000 (``kB``,
    ``MB``, ``GB``...), one decimal below 10 and whole numbers from 10 on,
    whole bytes below 1 kB; 999.7 MB shows as ``1.0 GB``. A negative figure
    carries the minus sign U+2212; with ``signed`` a positive one gets ``+``
    (zero gets no sign). None shows as an em dash.
    """
    if value is None or not math.isfinite(value):
        return UNKNOWN
    magnitude = abs(value)
    index = 0
    while magnitude >= 1000 and index < len(_UNITS) - 1:
        magnitude /= 1000
        index += 1
    text = _digits(magnitude, index == 0)
    if float(text) >= 1000 and index < len(_UNITS) - 1:  # 999.7 MB rounds to "1000"
        magnitude /= 1000
        index += 1
        text = _digits(magnitude, False)
    sign = ""
    if value < 0 and float(text) != 0:
        sign = MINUS
    elif signed and value > 0:
        sign = "+"
    return f"{sign}{text} {_UNITS[index]}"


def format_duration(seconds: float | None) -> str:
    """``412 ms`` below a second, else ``4.10 s``; None shows as an em dash."""
    if seconds is None:
        return UNKNOWN
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


__all__ = ["MINUS", "UNKNOWN", "format_bytes", "format_duration"]
