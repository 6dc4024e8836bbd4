"""`memory-doctor run --profile`: line profiles in the JSON and HTML reports.

The real-kernel test runs the real CLI once per backend on a notebook whose
figures are known (numpy ``nbytes``: ``np.ones(n)`` holds ``8 * n`` bytes).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from memory_doctor.headless import profile as line_profile
from memory_doctor.headless.cli import main
from memory_doctor.kernel.profile.memray_backend import available as memray_available

XSS = "<img src=x onerror=alert(1)>"
A, B, T = 8 * 1_000_000, 8 * 2_000_000, 8 * 4_000_000


def within(measured: int, truth: int, rel: float = 0.05) -> bool:
    return abs(measured - truth) <= rel * truth


def notebook(path: Path) -> Path:
    cells = [
        new_markdown_cell("# Profiled"),  # 0
        new_code_cell("import numpy as np\ndef make(n):\n    return np.ones(n)\n"),  # 1
        new_code_cell(
            "a = np.ones(1_000_000)\nb = make(2_000_000)\ns = float(np.ones(4_000_000).sum())\n"
        ),  # 2
        new_code_cell(f"c = np.ones(100_000)  # {XSS}\n{{}}['missing']\n"),  # 3: raises
    ]
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index}"
    nb = new_notebook(cells=cells)
    spec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kernelspec"] = spec
    nbformat.write(nb, str(path))
    return path


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_spec_is_all_or_indices():
    assert line_profile.parse_spec("all") == "all"
    assert line_profile.parse_spec("2, 5") == frozenset({2, 5})
    with pytest.raises(ValueError, match="cell indices as in the report"):
        line_profile.parse_spec("two")
    assert line_profile.select("all", [1, 2]) == frozenset({1, 2})
    with pytest.raises(ValueError, match="this notebook's are 1, 2"):
        line_profile.select(frozenset({0, 7}), [1, 2])


def test_a_markdown_index_is_a_usage_error(tmp_path):
    nb = notebook(tmp_path / "nb.ipynb")
    rc, _, err = run_cli(["run", str(nb), "--json", str(tmp_path / "r.json"), "--profile", "0"])
    assert rc == 2
    assert "--profile 0: not a code cell with code (this notebook's are 1, 2, 3)" in err
    rc, _, err = run_cli(["run", str(nb), "--json", str(tmp_path / "r.json"), "--profile", "x"])
    assert rc == 2 and "invalid --profile 'x'" in err


def test_entry_maps_cell_ids_to_indices():
    profile = {
        "backend": "tracemalloc",
        "peak_mode": "stale",
        "note": "n",
        "error": "",
        "totals": {"peak_bytes": 10, "net_bytes": 5},
        "lines": [
            {"cell_id": "x", "line": 1, "source": "a = 1", "scope": "cell", "net_bytes": 5,
             "peak_bytes": 10, "holders": ["a"], "execution_count": 2},
            {"cell_id": "gone", "line": 3, "source": XSS, "scope": "function", "net_bytes": 5,
             "peak_bytes": 10, "holders": [], "execution_count": 1},
        ],
        "stacks": [{"frames": [{"label": "In[2] 1: a = 1", "cell_id": "x", "file": "",
                                "line": 1, "function": "<module>"}], "peak_bytes": 10}],
    }  # fmt: skip
    entry = line_profile.entry(profile, {"x": 4})
    assert [line["cell_index"] for line in entry["lines"]] == [4, None]
    assert set(entry["lines"][0]) == {
        "cell_index", "line", "source", "scope", "net_bytes", "peak_bytes", "holders"
    }  # fmt: skip
    assert entry["stacks"][0]["frames"][0]["cell_index"] == 4
    context = line_profile.html_context({"cells": [{"index": 4, "profile": entry}]})
    assert context is not None
    (shown,) = context["profiled"]
    assert shown["rows"][0]["peak"].startswith("\u2265")  # stale: a lower bound
    assert line_profile.html_context({"cells": [{"index": 1}]}) is None


@pytest.fixture(scope="module", autouse=True)
def _private_kernel_env(kernel_env):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in kernel_env.items():
            patch.setenv(name, value)
        yield


def profiled_run(tmp_path: Path, backend: str) -> tuple[dict[str, Any], str, str]:
    nb = notebook(tmp_path / "nb.ipynb")
    json_path, html_path = tmp_path / "r.json", tmp_path / "r.html"
    argv = ["run", str(nb), "--json", str(json_path), "--html", str(html_path), "--no-scan"]
    argv += ["--profile", "2,3", "--profile-backend", backend]
    rc, out, err = run_cli(argv)
    assert rc == 0, err
    report = json.loads(json_path.read_text(encoding="utf-8"))
    return report, html_path.read_text(encoding="utf-8"), out


def line(profile: dict[str, Any], number: int, scope: str = "cell") -> dict[str, Any]:
    found = [x for x in profile["lines"] if x["line"] == number and x["scope"] == scope]
    assert found, (number, scope, profile["lines"])
    return dict(found[0])


@pytest.mark.kernel
@pytest.mark.parametrize(
    "backend",
    [
        "tracemalloc",
        pytest.param(
            "memray",
            marks=pytest.mark.skipif(not memray_available(), reason="memray not installed"),
        ),
    ],
)
def test_profiled_cells_in_the_json_and_html_reports(tmp_path, backend):
    report, html, out = profiled_run(tmp_path, backend)
    cells = {c["index"]: c for c in report["cells"]}
    assert "profile" not in cells[1]  # not asked for
    profile = cells[2]["profile"]
    assert profile["backend"] == backend
    assert within(line(profile, 1)["net_bytes"], A) and within(line(profile, 1)["peak_bytes"], A)
    assert within(line(profile, 2)["net_bytes"], B) and within(line(profile, 2)["peak_bytes"], B)
    assert line(profile, 3)["net_bytes"] < 0.05 * T and within(line(profile, 3)["peak_bytes"], T)
    fn = line(profile, 3, scope="function")
    assert fn["cell_index"] == 1 and fn["source"] == "return np.ones(n)"
    assert set(line(profile, 1)) >= {"cell_index", "line", "source", "net_bytes", "peak_bytes"}
    assert line(profile, 1)["cell_index"] == 2 and line(profile, 1)["holders"] == ["a"]
    assert profile["stacks"] and profile["stacks"][0]["frames"][0]["cell_index"] == 2
    raised = cells[3]["profile"]
    assert cells[3]["status"] == "error" and raised["error"] == "KeyError"
    assert within(line(raised, 1)["net_bytes"], 8 * 100_000)
    assert "line 3 peaked at 32 MB" in out
    # HTML: a table per profiled cell, user text escaped.
    assert "<h2>Line profiles</h2>" in html and 'id="md-profile-2"' in html
    assert "return np.ones(n)" in html and "(self)" in html
    assert XSS not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert ("Python allocators only" in html) == (backend == "tracemalloc")
