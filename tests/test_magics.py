"""The magics in a real IPython ``InteractiveShell`` and in plain ``ipython``.

Outputs are captured as the display publisher gets them (one bundle each).
User strings that look like HTML are planted in every field a user controls
(names, dict keys, type names, file paths, the filter) and must come out as
text. The kernel-level behaviour (each subcommand's figures, badges, bad
arguments) is in ``test_magics_e2e.py``.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import memory_doctor
from memory_doctor.kernel import extension, rich
from memory_doctor.kernel.magics import MemoryMagics, top_cells
from tests.mime_helpers import assert_safe_html, check_bundle, parse_html

HOSTILE = "<img src=x onerror=alert(1)>"
MIB = 1 << 20


@pytest.fixture
def loaded(shell: InteractiveShell) -> Iterator[extension.MemoryDoctor]:
    memory_doctor.load_ipython_extension(shell)
    doctor = extension.get(shell)
    assert doctor is not None
    yield doctor
    memory_doctor.unload_ipython_extension(shell)


def run(shell: InteractiveShell, code: str) -> Any:
    return shell.run_cell(code, store_history=True)


def shown(shell: InteractiveShell, code: str) -> list[dict[str, Any]]:
    """The bundles ``code`` displayed; it must print nothing and raise nothing."""
    with capture_output() as captured:
        result = run(shell, code)
    assert result.error_in_exec is None, result.error_in_exec
    assert result.error_before_exec is None, result.error_before_exec
    assert captured.stdout == ""
    assert captured.stderr == ""
    return [output.data for output in captured.outputs]


def test_load_registers_the_magics_silently_and_unload_removes_them(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    memory_doctor.load_ipython_extension(shell)
    memory_doctor.load_ipython_extension(shell)
    try:
        assert capsys.readouterr() == ("", "")
        assert shell.find_line_magic("memory") is not None
        assert shell.find_cell_magic("memory") is not None
        ours = [m for m in shell.magics_manager.registry.values() if isinstance(m, MemoryMagics)]
        assert len(ours) == 1
    finally:
        memory_doctor.unload_ipython_extension(shell)
    assert shell.find_line_magic("memory") is None
    assert shell.find_cell_magic("memory") is None
    assert not any(isinstance(m, MemoryMagics) for m in shell.magics_manager.registry.values())
    memory_doctor.unload_ipython_extension(shell)  # twice is harmless


def test_user_strings_stay_text_in_every_view(
    shell: InteractiveShell, loaded: extension.MemoryDoctor, tmp_path: Path
) -> None:
    path = tmp_path / f"{HOSTILE}.txt"
    run(
        shell,
        "import numpy as np\n"
        f"globals()[{HOSTILE!r}] = np.ones({MIB})\n"
        f"hostile_keys = {{{HOSTILE!r}: np.ones({MIB // 2})}}\n"
        f"Svg = type('<svg onload=alert(1)>', (), {{}})\n"
        f"hostile_type = Svg()\nhostile_type.data = np.ones({MIB // 4})\n"
        f"hostile_file = open({str(path)!r}, 'w')\n",
    )
    # (name, view, code); the test process's own modules hold memory in this
    # shell too, so the hostile holders are picked out with the filter.
    codes = [
        ("summary", "summary", "%memory --budget 60"),
        ("holders", "holders", '%memory holders --budget 60 --filter "<img"'),
        ("svg", "holders", "%memory holders --budget 60 --filter svg"),
        ("resources", "resources", "%memory resources --budget 60"),
        ("cells", "cells", "%memory cells"),
        ("fix", "fix", "%memory fix s1"),
        ("cell", "cell", f"%%memory --budget 60\nglobals()[{HOSTILE + '2'!r}] = np.ones({MIB})"),
        ("notice", "notice", "%memory badges"),
    ]
    texts = {}
    for name, view, code in codes:
        (bundle,) = shown(shell, code)
        data = check_bundle(bundle)
        assert data["view"] == view
        texts[name] = "".join(parse_html(bundle["text/html"]).text)
        assert "onerror" not in bundle["text/html"].replace("onerror=alert(1)&gt;", "")
    assert HOSTILE in texts["holders"]
    assert "<svg onload=alert(1)>" in texts["svg"]
    assert f"{HOSTILE}.txt" in texts["resources"]
    assert f"{HOSTILE}2" in texts["cell"]
    run(shell, "hostile_file.close()")


def test_hand_made_markup_in_the_data_is_escaped() -> None:
    """Whatever the kernel sends, the HTML renderer never emits a tag of its own from it."""
    data = {
        "format": 1,
        "view": "notice",
        "kernel": {},
        "message": "</p><script>alert(1)</script><p onclick=x>",
        "badges": False,
    }
    html = rich.bundle(data)["text/html"]
    tags = assert_safe_html(html)
    assert data["message"] in "".join(tags.text)
    assert "<script>" not in html


def test_no_reference_kept_after_the_magics(
    shell: InteractiveShell, loaded: extension.MemoryDoctor
) -> None:
    run(
        shell,
        f"import numpy as np\nclass Payload: pass\nkept = Payload()\nkept.data = np.ones({MIB})",
    )
    ref = weakref.ref(shell.user_ns["kept"])
    enabled = gc.isenabled()
    gc.disable()  # nothing may depend on a collection running
    try:
        for code in (
            "%memory --budget 60",
            "%memory holders --budget 60",
            "%memory fix s1",
            "%%memory --budget 60\nalso = kept.data[:10]",
        ):
            shown(shell, code)
        run(shell, "del kept, also")
        assert ref() is None
    finally:
        if enabled:
            gc.enable()


def test_a_cell_that_is_only_the_magic_gets_no_record(
    shell: InteractiveShell, loaded: extension.MemoryDoctor
) -> None:
    before = len(loaded.records)
    shown(shell, "%memory cells")
    assert len(loaded.records) == before
    with capture_output():
        run(shell, "y = 1\n%memory cells")
    assert len(loaded.records) == before + 1


def test_top_cells_rank_each_cell_by_its_largest_run() -> None:
    def record(cell: str | None, count: int, left: int, peak: int) -> dict[str, Any]:
        return {"cell_id": cell, "execution_count": count, "rss_delta": left, "peak_increase": peak}

    records = [
        record("a", 1, 10, 50),
        record("b", 2, 30, 30),
        record("a", 3, 20, 5),
        record(None, 4, -5, 0),
        record(None, 5, 7, 70),
    ]
    assert [r["execution_count"] for r in top_cells(records, "rss_delta", 5)] == [2, 3, 5]
    assert [r["execution_count"] for r in top_cells(records, "peak_increase", 2)] == [5, 1]


def test_text_says_partial_shared_and_cuts_long_names() -> None:
    holder = {
        "id": "h1",
        "labels": ["a" * 60, "b"],
        "kind": "variable",
        "roots": [{"label": "a" * 60, "kind": "variable"}, {"label": "b", "kind": "variable"}],
        "type": "numpy.ndarray",
        "retained_bytes": 400_000_000,
        "objects": 1,
        "cell_id": None,
        "execution_count": 3,
        "shared": True,
    }
    data = {
        "view": "holders",
        "kernel": {"rss": 10**9, "memory_limit": {"bytes": None, "source": "unknown"}},
        "scan": {
            "scan": {"complete": False, "stopped": "budget", "duration_s": 5.0},
            "holders": [holder],
            "suggestions": [],
        },
        "holders_total": 1,
        "matched": 1,
        "filter": None,
        "budget_s": 5,
    }
    text = rich.bundle(data)["text/plain"]
    assert "This scan is partial (it reached its time budget after 5.00 s)" in text
    assert "%memory holders --budget 30" in text
    assert "jointly retain 400 MB \u2014 deleting " in text
    assert "a" * 39 + "\u2026" in text
    assert "a" * 60 in rich.bundle(data)["text/html"]


# ------------------------------------------------------------------ plain IPython, a terminal


def test_plain_ipython_prints_text(tmp_path: Path) -> None:
    code = (
        "%load_ext memory_doctor\n"
        "import numpy as np\n"
        f"big = np.ones({8 * MIB} // 8)\n"
        "%memory holders -n 3 --budget 60\n"
    )
    env = {**os.environ, "IPYTHONDIR": str(tmp_path), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    out = done.stdout
    assert "What's holding memory" in out
    assert "Kernel RSS" in out
    lines = [line for line in out.splitlines() if " big " in f"{line} "]
    assert lines, out
    assert "numpy.ndarray" in lines[0]
    assert "8.4 MB" in lines[0]
    assert "<" not in out  # text, not HTML or a repr of the bundle
    assert done.stderr == ""
