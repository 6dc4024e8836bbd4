"""The one byte formatter reads as the panel's (``src/format.ts``): 2 or 3 digits, SI units."""

from __future__ import annotations

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
