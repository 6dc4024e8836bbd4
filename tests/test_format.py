"""The one byte formatter reads as the panel's (``src/format.ts``): 2 or 3 digits, SI units."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from memory_doctor.format import format_bytes, format_duration

MINUS = "\u2212"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (6_000, "6.0 kB"),
        (4_000_000, "4.0 MB"),
        (9_960_000, "10 MB"),  # 9.96 rounds to 10.0: whole from 10 on
        (105_000_000, "105 MB"),
        (419_430_400, "419 MB"),
        (999_700_000, "1.0 GB"),  # would round to 1000 MB
        (1_234_000_000, "1.2 GB"),
        (12_500_000_000, "13 GB"),  # half up, like the panel's Math.round
        (2 * 10**15, "2.0 PB"),
    ],
)
def test_sizes_have_two_or_three_digits_and_a_spaced_unit(value, text):
    assert format_bytes(value) == text


def test_signs():
    assert format_bytes(40_000_000, signed=True) == "+40 MB"
    assert format_bytes(-40_000_000) == f"{MINUS}40 MB"
    assert format_bytes(-40_000_000, signed=True) == f"{MINUS}40 MB"
    assert format_bytes(0, signed=True) == "0 B"
    assert format_bytes(-0.2) == "0 B"  # rounds to zero: no sign


def test_unknown_figures_are_a_dash():
    assert format_bytes(None) == "\u2014"
    assert format_bytes(float("nan")) == "\u2014"
    assert format_duration(None) == "\u2014"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.0004, "0 ms"), (0.412, "412 ms"), (1, "1.00 s"), (75.5, "75.50 s")]
)
def test_durations(seconds, text):
    assert format_duration(seconds) == text


#: Byte figures the panel (src/format.ts) must write exactly as format_bytes does;
#: src/__tests__/format.spec.ts reads the same file.
VECTORS = Path(__file__).parent / "fixtures" / "format" / "bytes.json"


def _vector_values() -> list[int]:
    """Edges of every unit, the ties where rounding rules differ (x.x5 exactly: half to
    even in ``f"{v:.1f}"``, half up for whole numbers), and a spread of sizes."""
    values = {0, 1, 999, 1000, 1001, 9_949, 9_950, 9_951, 99_499, 99_500, 999_499, 999_500}
    for scale in (10**3, 10**6, 10**9, 10**12):
        for quarter in range(1, 40):
            values.add(quarter * scale // 4)  # 0.25, 0.5, 0.75, 1.25 ... 9.75 units: ties
        for whole in (10, 12, 99, 100, 104, 105, 500, 999):
            values.add(whole * scale)
            values.add(whole * scale + scale // 2)  # 12.5, 104.5: ties of whole numbers
            values.add(whole * scale - 1)
    seed = 12345
    for _ in range(400):  # a fixed LCG: the same spread every time
        seed = (seed * 6364136223846793005 + 1442695040888963407) % 2**64
        values.add(seed % 10 ** (1 + seed % 15))
    return sorted(values)


def test_front_end_vectors_are_current():
    """The fixture the front end is checked against says what format_bytes says now.

    MEMORY_DOCTOR_WRITE_FIXTURES=1 rewrites it."""
    cases = [
        [v, signed, format_bytes(v if not negative else -v, signed=signed)]
        for v in _vector_values()
        for signed, negative in ((False, False), (True, False), (False, True))
        if not (negative and v == 0)
    ]
    cases = [[v if text[:1] != MINUS else -v, signed, text] for v, signed, text in cases]
    want = {"generated_by": "tests/test_format.py", "cases": cases}
    if os.environ.get("MEMORY_DOCTOR_WRITE_FIXTURES") == "1":
        VECTORS.parent.mkdir(parents=True, exist_ok=True)
        rows = ",\n".join(json.dumps(case, ensure_ascii=False) for case in cases)
        VECTORS.write_text(
            f'{{"generated_by": "tests/test_format.py", "cases": [\n{rows}\n]}}\n',
            encoding="utf-8",
        )
    assert json.loads(VECTORS.read_text(encoding="utf-8")) == want
