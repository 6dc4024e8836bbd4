"""`memory-doctor run`: the headless CLI and its JSON/HTML report.

The kernel tests run real ipykernel processes through the real CLI. Kernel
starts cost ~2 s each, so one module-scoped run covers the good notebook
(numbers, errors, timeout, HTML escaping) and the other kernel tests each
cover one exit path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from memory_doctor.headless import cli
from memory_doctor.headless import report as report_module
from memory_doctor.headless.cli import main, parse_size
from memory_doctor.headless.errors import CommError
from memory_doctor.protocol import LIMIT_SOURCES, PEAK_METHODS, PEAK_VMHWM

MB = 1_000_000
XSS = "<img src=x onerror=alert(1)>"


def write_notebook(path: Path, cells: list, *, kernel: str | None = "python3", minor: int = 5):
    nb = new_notebook(cells=cells)
    if kernel is not None:
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    if minor < 5:
        # nbformat < 4.5 had no cell ids: the CLI must fall back to index-<i>.
        nb.nbformat_minor = minor
        for cell in nb.cells:
            cell.pop("id", None)
    nbformat.write(nb, str(path))
    return path


def code(source: str, cell_id: str):
    cell = new_code_cell(source)
    cell["id"] = cell_id
    return cell


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("memory-doctor: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500MB", 500 * MB),
        ("1.5GB", 1_500_000_000),
        ("2GiB", 2 * 1024**3),
        ("300M", 300 * MB),
        ("4096", 4096),
        ("64kib", 64 * 1024),
        (" 2 gb ", 2_000_000_000),
    ],
)
def test_parse_size_accepts_si_and_iec(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "-5MB", "5XB", "1e9", "iB", "5 M B"])
def test_parse_size_refuses_garbage(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_bad_size_is_a_usage_error(tmp_path, capsys):
    nb = write_notebook(tmp_path / "nb.ipynb", [code("x = 1", "a")])
    rc = main(["run", str(nb), "--json", str(tmp_path / "r.json"), "--max-peak", "lots"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "invalid size 'lots'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


# --------------------------------------------------------------------------- bad input (no kernel)


def test_missing_notebook_exits_2_with_one_line(tmp_path, capsys):
    rc = main(["run", str(tmp_path / "nope.ipynb"), "--json", str(tmp_path / "r.json")])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2
    assert "nope.ipynb" in line and "no such file" in line


def test_not_json_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{ this is not json", encoding="utf-8")
    rc = main(["run", str(bad), "--json", str(tmp_path / "r.json")])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2
    assert "not JSON" in line


@pytest.mark.parametrize(
    "content",
    [
        {"hello": "world"},
        {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 3},
        {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]},
    ],
)
def test_invalid_notebook_exits_2(tmp_path, capsys, content):
    bad = tmp_path / "invalid.ipynb"
    bad.write_text(json.dumps(content), encoding="utf-8")
    rc = main(["run", str(bad), "--json", str(tmp_path / "r.json")])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2
    assert "invalid.ipynb" in line and "notebook" in line
    assert not (tmp_path / "r.json").exists()


def test_unknown_kernelspec_exits_2_naming_installed_ones(tmp_path, capsys):
    nb = write_notebook(tmp_path / "nb.ipynb", [code("x = 1", "a")], kernel="no-such-kernel-xyz")
    rc = main(["run", str(nb), "--json", str(tmp_path / "r.json")])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2
    assert "no-such-kernel-xyz" in line and "python3" in line


def test_missing_output_folder_exits_2_before_running(tmp_path, capsys):
    nb = write_notebook(tmp_path / "nb.ipynb", [code("x = 1", "a")])
    rc = main(["run", str(nb), "--json", str(tmp_path / "no" / "such" / "r.json")])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2
    assert "does not exist" in line


# --------------------------------------------------------------------------- report units


def _fake_report(cells, thresholds=None, *, died=False):
    thresholds = thresholds or {"max_peak": None, "max_delta": None, "max_rss": None}
    return report_module.build_report(
        notebook_path="dir/<b>nb</b>.ipynb",
        total_cells=len(cells),
        kernel=report_module.kernel_section(
            "python3",
            {
                "python": "3.11.7",
                "platform": "linux",
                "helper_version": "0.1.0",
                "peak_method": "vmhwm",
                "peak_exact": True,
            },
        ),
        thresholds=thresholds,
        cells=cells,
        kernel_died=died,
    )


def _measured(index, cell_id, source, *, before, after, peak):
    record = {
        "rss_before": before,
        "rss_after": after,
        "rss_delta": after - before,
        "peak_rss": peak,
        "peak_increase": peak - before,
        "duration_s": 0.5,
        "gc_collections": 1,
        "execution_count": index + 1,
    }
    return report_module.cell_entry(
        index=index, cell_id=cell_id, source=source, status="ok", record=record
    )


def test_summary_and_violations_are_computed_from_cells():
    cells = [
        _measured(0, "a", "a = 1", before=100 * MB, after=150 * MB, peak=400 * MB),
        _measured(2, "b", "b = 2", before=150 * MB, after=120 * MB, peak=160 * MB),
        report_module.cell_entry(index=3, cell_id="c", source="c", status="not_run"),
    ]
    report = _fake_report(cells, {"max_peak": 200 * MB, "max_delta": None, "max_rss": 399 * MB})
    summary = report["summary"]
    assert summary["cells_run"] == 2
    assert summary["max_peak_increase"] == 300 * MB
    assert summary["total_delta"] == 20 * MB
    assert summary["violations"] == [
        {
            "cell_index": 0,
            "cell_id": "a",
            "metric": "peak_increase",
            "value": 300 * MB,
            "limit": 200 * MB,
        },
        {
            "cell_index": 0,
            "cell_id": "a",
            "metric": "peak_rss",
            "value": 400 * MB,
            "limit": 399 * MB,
        },
    ]
    assert cells[2]["peak_rss"] is None and cells[2]["duration_s"] is None


def test_html_escapes_and_embeds_chart_json_safely(monkeypatch):
    evil_id = "</script><script>alert(2)</script>"
    cells = [_measured(0, evil_id, f"# {XSS}\nx = 1", before=1 * MB, after=2 * MB, peak=3 * MB)]
    cells[0]["error"] = {"ename": "E<b>", "evalue": "<i>bad</i>"}
    page = report_module.render_html(_fake_report(cells))
    assert XSS not in page
    assert "<script>alert(2)" not in page
    assert "<b>nb</b>" not in page and "&lt;b&gt;nb&lt;/b&gt;" in page
    assert "<i>bad</i>" not in page
    if report_module._plotly_js() is not None:
        data = re.search(r'id="md-chart-data">(.*?)</script>', page, re.S).group(1)
        assert json.loads(data)[0]["cell_id"] == evil_id  # escaped, yet the same data


def test_html_falls_back_to_svg_without_plotly(monkeypatch):
    monkeypatch.setattr(report_module, "_plotly_js", lambda: None)
    cells = [
        _measured(0, "a", "a", before=1 * MB, after=2 * MB, peak=3 * MB),
        _measured(1, "b", "b", before=2 * MB, after=2 * MB, peak=9 * MB),
    ]
    page = report_module.render_html(_fake_report(cells))
    assert "<svg" in page and "<polyline" in page
    assert "plotly.js was not found" in page
    assert "<script" not in page


def test_json_for_script_cannot_close_the_element():
    text = report_module.json_for_script({"s": "</script><!-- & -->"})
    assert "</" not in text and "<!--" not in text
    assert json.loads(text) == {"s": "</script><!-- & -->"}


def test_write_atomic_replaces_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")
    report_module.write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# --------------------------------------------------------------------------- real kernels


@pytest.fixture(scope="module", autouse=True)
def _private_kernel_env(kernel_env):
    """Kernels started by the CLI inherit our environment: give them conftest's private one."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in kernel_env.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """One real run of a notebook with measurable, failing, slow and hostile cells."""
    folder = tmp_path_factory.mktemp("good")
    (folder / "data.txt").write_text("42", encoding="utf-8")
    cells = [
        new_markdown_cell("# Title"),  # 0
        code("keep = b'x' * 200_000_000", "keep-200mb"),  # 1
        # 301 MB so that ">= 300 MB" holds although Linux's RSS counters are per-CPU
        # approximations (a few hundred kB off; seen: 299.8 MB for exactly 300 MB).
        code("len(b'y' * 301_000_000)", "alloc-free-300mb"),  # 2
        code("raise ValueError('boom')", "raises"),  # 3
        new_raw_cell("raw"),  # 4
        code("import time\ntime.sleep(120)", "sleeps"),  # 5
        code(f"# {XSS}\nafter = open('data.txt').read()", "xss"),  # 6: relative path = cwd
        code("   \n", "blank"),  # 7: nothing to run
        code("print(after, len(keep))", "last"),  # 8
    ]
    nb = write_notebook(folder / "good.ipynb", cells)
    json_path, html_path = folder / "r.json", folder / "r.html"
    argv = ["run", str(nb), "--json", str(json_path), "--html", str(html_path), "--timeout", "5"]
    # capsys is function-scoped; capture by hand.
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    report = json.loads(json_path.read_text(encoding="utf-8"))
    return {
        "rc": rc,
        "out": out.getvalue(),
        "err": err.getvalue(),
        "report": report,
        "html": html_path.read_text(encoding="utf-8"),
    }


def _cell(report, cell_id):
    (cell,) = [c for c in report["cells"] if c["cell_id"] == cell_id]
    return cell


@pytest.mark.kernel
def test_good_notebook_report_shape(good_run):
    assert good_run["rc"] == 0, good_run["err"]
    assert "Traceback" not in good_run["err"]
    report = good_run["report"]
    assert report["format"] == "memory-doctor-report" and report["version"] == 1
    generated = dt.datetime.fromisoformat(report["generated_at"].replace("Z", "+00:00"))
    assert generated.utcoffset() == dt.timedelta(0)
    assert report["notebook"]["cells"] == 9
    kernel = report["kernel"]
    assert kernel["name"] == "python3"
    assert kernel["python"] == ".".join(map(str, sys.version_info[:3]))
    assert kernel["peak_method"] in PEAK_METHODS and kernel["helper_version"]
    assert kernel["peak_method_description"]
    assert report["thresholds"] == {"max_peak": None, "max_delta": None, "max_rss": None}
    # Markdown, raw and blank cells are not run but still count in `index`.
    assert [c["index"] for c in report["cells"]] == [1, 2, 3, 5, 6, 8]
    assert [c["cell_id"] for c in report["cells"]] == [
        "keep-200mb",
        "alloc-free-300mb",
        "raises",
        "sleeps",
        "xss",
        "last",
    ]
    for cell in report["cells"]:
        for field in ("rss_before", "rss_after", "rss_delta", "peak_rss", "peak_increase"):
            assert type(cell[field]) is int, (cell["cell_id"], field)
        assert cell["peak_rss"] >= max(cell["rss_before"], cell["rss_after"])
        assert isinstance(cell["execution_count"], int)
    summary = report["summary"]
    assert summary["cells_run"] == 6 and summary["errors"] == 2
    assert summary["kernel_died"] is False and summary["violations"] == []
    assert summary["total_delta"] == sum(c["rss_delta"] for c in report["cells"])


@pytest.mark.kernel
def test_good_notebook_numbers_are_plausible(good_run):
    report = good_run["report"]
    keep = _cell(report, "keep-200mb")
    assert keep["status"] == "ok"
    assert abs(keep["rss_delta"] - 200 * MB) <= 20 * MB, keep
    assert keep["source_preview"] == "keep = b'x' * 200_000_000"
    transient = _cell(report, "alloc-free-300mb")
    assert transient["status"] == "ok"
    if report["kernel"]["peak_method"] != PEAK_VMHWM:
        pytest.skip("exact peaks need Linux VmHWM")
    assert transient["peak_increase"] >= 300 * MB, transient
    assert transient["rss_delta"] < 50 * MB, transient  # freed before the cell ended
    assert report["summary"]["max_peak_increase"] >= 300 * MB


@pytest.mark.kernel
def test_raising_and_timed_out_cells_are_errors_and_the_run_goes_on(good_run):
    report = good_run["report"]
    raised = _cell(report, "raises")
    assert raised["status"] == "error"
    assert raised["error"] == {"ename": "ValueError", "evalue": "boom"}
    slow = _cell(report, "sleeps")
    assert slow["status"] == "error" and slow["error"]["ename"] == "Timeout"
    # The cells after the interrupted one ran, in the notebook's folder, with earlier state.
    assert _cell(report, "xss")["status"] == "ok"
    assert _cell(report, "last")["status"] == "ok" and _cell(report, "last")["error"] is None
    assert "[  8] last" in good_run["out"]


@pytest.mark.kernel
def test_html_report_is_self_contained_and_escaped(good_run):
    page = good_run["html"]
    assert page.startswith("<!DOCTYPE html>")
    assert '<table id="md-cells"' in page
    assert page.count('<tr class="md-status-') == 6
    assert XSS not in page
    assert html.escape(XSS) in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<(link|img|iframe)[^>]*(src|href)\s*=\s*[\"']?https?://", page, re.I)
    assert "ValueError" in page
    assert good_run["report"]["kernel"]["peak_method_description"] in page


@pytest.mark.kernel
def test_kernel_death_writes_report_and_exits_1(tmp_path, capsys):
    # nbformat 4.4: no cell ids, so the CLI sends index-<i>.
    cells = [
        new_code_cell("a = 1"),
        new_code_cell("import os\nos._exit(1)"),
        new_markdown_cell("after the crash"),
        new_code_cell("b = 2"),
    ]
    nb = write_notebook(tmp_path / "dies.ipynb", cells, minor=4)
    json_path, html_path = tmp_path / "r.json", tmp_path / "r.html"
    rc = main(["run", str(nb), "--json", str(json_path), "--html", str(html_path)])
    err = capsys.readouterr().err
    assert rc == 1
    line = one_error_line(err)
    assert "kernel died" in line and "cell 1" in line and "index-1" in line
    report = json.loads(json_path.read_text(encoding="utf-8"))
    ok, died, later = report["cells"]
    assert (ok["cell_id"], ok["status"]) == ("index-0", "ok")
    assert isinstance(ok["rss_after"], int)
    assert (died["index"], died["cell_id"], died["status"]) == (1, "index-1", "error")
    assert died["error"]["ename"] == "KernelDied"
    assert (later["index"], later["cell_id"], later["status"]) == (3, "index-3", "not_run")
    for cell in (died, later):
        for field in ("rss_before", "rss_after", "rss_delta", "peak_rss", "peak_increase"):
            assert cell[field] is None
    assert report["summary"]["kernel_died"] is True
    assert report["summary"]["cells_run"] == 2 and report["summary"]["errors"] == 1
    assert "KernelDied" in html_path.read_text(encoding="utf-8")


@pytest.mark.kernel
def test_python_m_threshold_violation_exits_3_naming_the_cell(tmp_path):
    cells = [code("small = 1", "small-cell"), code("len(b'z' * 150_000_000)", "big-cell")]
    nb = write_notebook(tmp_path / "thresholds.ipynb", cells)
    json_path = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "memory_doctor",
            "run",
            str(nb),
            "--json",
            str(json_path),
            "--max-peak",
            "50MB",
            "--max-delta",
            "1GiB",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    offending = [ln for ln in proc.stderr.splitlines() if "threshold exceeded" in ln]
    assert len(offending) == 1, proc.stderr
    assert "cell 1" in offending[0] and "big-cell" in offending[0]
    assert "peak_increase" in offending[0] and "50000000" in offending[0]
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert report["thresholds"] == {"max_peak": 50 * MB, "max_delta": 1024**3, "max_rss": None}
    (violation,) = report["summary"]["violations"]
    assert violation["cell_index"] == 1 and violation["cell_id"] == "big-cell"
    assert violation["metric"] == "peak_increase" and violation["limit"] == 50 * MB
    assert violation["value"] == report["cells"][1]["peak_increase"] > 50 * MB
    assert str(violation["value"]) in offending[0]


@pytest.mark.kernel
def test_helper_missing_in_kernel_env_exits_2_with_pip_command(tmp_path, nohelper_kernel, capsys):
    nb = write_notebook(tmp_path / "nb.ipynb", [code("x = 1", "a")], kernel=nohelper_kernel)
    rc = main(["run", str(nb), "--json", str(tmp_path / "r.json")])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2
    assert f"{sys.executable} -m pip install jupyterlab-memory-doctor" in line
    assert nohelper_kernel in line
    assert not (tmp_path / "r.json").exists()


# --------------------------------------------------------------------------- holders


def _scan_reply_holder(**overrides):
    holder = {
        "id": "h1",
        "labels": ["big", "Out[3]", "_3"],
        "kind": "variable",
        "roots": [{"label": "big", "kind": "variable"}],
        "type": "numpy.ndarray",
        "retained_bytes": 419_430_400,
        "objects": 1,
        "path": "Out[3]",
        "cell_id": "b",
        "execution_count": 3,
        "composition": [],
        "shared": True,
        "device": None,
        "file_backed": False,
    }
    holder.update(overrides)
    return holder


SCAN_RESULT = {
    "scan": {"duration_s": 1.25, "objects_visited": 5000, "complete": True, "stopped": None},
    "rss": 600 * MB,
    "attributed_bytes": 419_430_400,
    "unattributed_bytes": 600 * MB - 419_430_400,
    "holders": [_scan_reply_holder()],
}


def test_holder_entry_keeps_the_report_fields_and_maps_the_cell():
    entry = report_module.holder_entry(_scan_reply_holder(), {"a": 0, "b": 2})
    assert entry == {
        "labels": ["big", "Out[3]", "_3"],
        "kind": "variable",
        "type": "numpy.ndarray",
        "retained_bytes": 419_430_400,
        "objects": 1,
        "path": "Out[3]",
        "cell_index": 2,
        "freeable": True,
        "also_held_by": [],
    }
    held = _scan_reply_holder(
        also_held_by=[{"kind": "library", "name": "logging", "path": "logging.root"}],
        freeable=False,
    )
    entry = report_module.holder_entry(held, {})
    assert entry["freeable"] is False
    assert entry["also_held_by"] == [{"name": "logging", "path": "logging.root"}]
    assert (
        report_module.holder_entry(_scan_reply_holder(cell_id="gone"), {"b": 2})["cell_index"]
        is None
    )
    assert (
        report_module.holder_entry(_scan_reply_holder(cell_id=None), {"b": 2})["cell_index"] is None
    )


def test_scan_section_and_failed_scan():
    section = report_module.scan_section(SCAN_RESULT)
    assert section["duration_s"] == 1.25 and section["objects_visited"] == 5000
    assert section["complete"] is True and section["stopped"] is None
    assert section["unattributed_bytes"] == 600 * MB - 419_430_400
    assert section["peak_extra_bytes"] is None  # a 1.2 helper's result: unknown
    costly = report_module.scan_section(
        {
            **SCAN_RESULT,
            "scan": {**SCAN_RESULT["scan"], "peak_extra_bytes": 5 * MB, "left_behind_bytes": -1},
            "freeable_bytes": MB,
        }
    )
    assert (costly["peak_extra_bytes"], costly["left_behind_bytes"]) == (5 * MB, -1)
    assert costly["freeable_bytes"] == MB
    failed = report_module.scan_section(None, "the kernel died during the scan")
    assert failed["complete"] is False and failed["error"] == "the kernel died during the scan"
    assert failed["objects_visited"] is None


def test_report_without_scan_has_no_holders_keys():
    report = _fake_report([_measured(0, "a", "a", before=1 * MB, after=2 * MB, peak=3 * MB)])
    assert "holders" not in report and "scan" not in report
    assert 'id="md-holders"' not in report_module.render_html(report)


def test_html_holders_table_escapes_everything():
    cells = [_measured(0, "a", "a", before=1 * MB, after=2 * MB, peak=3 * MB)]
    evil = _scan_reply_holder(
        labels=[XSS, "Out[3]"], type=f"<b>{XSS}</b>", path=f"d['{XSS}']", kind="<i>k</i>"
    )
    report = _fake_report(cells)
    report["holders"] = [report_module.holder_entry(evil, {"b": 0})]
    report["scan"] = report_module.scan_section({**SCAN_RESULT, "holders": [evil]})
    page = report_module.render_html(report)
    assert 'id="md-holders"' in page
    assert XSS not in page and "<i>k</i>" not in page
    assert html.escape(XSS) in page
    assert "419 MB" in page  # retained, formatted
    partial = dict(report, scan={**report["scan"], "complete": False, "stopped": "budget"})
    assert "This scan is partial" in report_module.render_html(partial)
    failed = dict(report, holders=[], scan=report_module.scan_section(None, f"boom {XSS}"))
    page = report_module.render_html(failed)
    assert "The scan failed" in page and XSS not in page


@pytest.mark.parametrize("budget", ["0", "-1", "601", "soon", "nan"])
def test_bad_scan_budget_is_a_usage_error(tmp_path, capsys, budget):
    nb = write_notebook(tmp_path / "nb.ipynb", [code("x = 1", "a")])
    rc = main(["run", str(nb), "--json", str(tmp_path / "r.json"), "--scan-budget", budget])
    err = capsys.readouterr().err
    assert rc == 2 and "invalid scan budget" in err
    assert not (tmp_path / "r.json").exists()


@pytest.mark.kernel
def test_good_notebook_report_has_holders(good_run):
    report = good_run["report"]
    scan = report["scan"]
    assert scan["complete"] is True and scan["stopped"] is None, scan
    assert scan["objects_visited"] > 0 and scan["duration_s"] > 0
    holders = report["holders"]
    assert holders, report["scan"]
    top = holders[0]
    assert set(top) == {
        "labels",
        "kind",
        "type",
        "retained_bytes",
        "objects",
        "path",
        "cell_index",
        "freeable",
        "also_held_by",
    }
    # keep = b'x' * 200_000_000 in cell 1 is the biggest thing the notebook holds.
    assert top["labels"] == ["keep"]
    assert top["freeable"] is True and top["also_held_by"] == []
    assert scan["engine"] in ("native", "python") and scan["peak_extra_bytes"] >= 0
    assert top["kind"] == "variable" and top["type"] == "builtins.bytes" and top["path"] == "keep"
    assert top["retained_bytes"] == pytest.approx(200_000_000, rel=0.10)
    assert top["cell_index"] == 1
    retained = [h["retained_bytes"] for h in holders]
    assert retained == sorted(retained, reverse=True)
    after = [h for h in holders if h["labels"] == ["after"]]
    assert after and after[0]["cell_index"] == 6
    assert 'id="md-holders"' in good_run["html"]
    assert "scan complete" in good_run["out"] and "keep" in good_run["out"]


@pytest.mark.kernel
def test_no_scan_omits_holders(tmp_path, capsys):
    nb = write_notebook(tmp_path / "nb.ipynb", [code("kept = b'k' * 10_000_000", "a")])
    json_path, html_path = tmp_path / "r.json", tmp_path / "r.html"
    rc = main(["run", str(nb), "--json", str(json_path), "--html", str(html_path), "--no-scan"])
    out = capsys.readouterr().out
    assert rc == 0
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert "holders" not in report and "scan" not in report
    assert report["cells"][0]["status"] == "ok"
    assert "scanning" not in out
    assert 'id="md-holders"' not in html_path.read_text(encoding="utf-8")


def test_a_failed_scan_is_recorded_and_the_run_goes_on():
    class RefusingSession:
        def scan(self, **params):
            raise CommError(f"The kernel helper refused or failed the scan (internal): {XSS}")

        def is_alive(self):
            return True

    outcome = cli.RunOutcome(entries=[], hello=None, kernel_died=False)
    err = io.StringIO()
    console = cli._Console(quiet=True, out=io.StringIO(), err=err)
    cli._run_scan(RefusingSession(), 5.0, outcome, console)
    assert outcome.scan_result is None and "refused or failed" in outcome.scan_error
    notebook = cli.LoadedNotebook(path=Path("nb.ipynb"), kernel_name=None, cells=())
    holders, scan = cli._scan_sections(notebook, outcome)
    assert holders == [] and scan["complete"] is False and "refused" in scan["error"]
    cli._tell_scan(console, outcome, holders, scan)
    assert "the scan of what holds memory failed" in err.getvalue()


# --------------------------------------------------------------------------- --repeat, growth


@pytest.mark.parametrize("repeat", ["0", "-1", "three", "101"])
def test_bad_repeat_is_a_usage_error(tmp_path, capsys, repeat):
    nb = write_notebook(tmp_path / "nb.ipynb", [code("x = 1", "a")])
    rc = main(["run", str(nb), "--json", str(tmp_path / "r.json"), "--repeat", repeat])
    err = capsys.readouterr().err
    assert rc == 2 and f"invalid repeat count {repeat!r}" in err and "Traceback" not in err


def test_max_growth_needs_three_runs(tmp_path, capsys):
    nb = write_notebook(tmp_path / "nb.ipynb", [code("x = 1", "a")])
    argv = ["run", str(nb), "--json", str(tmp_path / "r.json"), "--max-growth", "10MB"]
    rc = main([*argv, "--repeat", "2"])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and "--max-growth needs --repeat 3 or more" in line
    assert not (tmp_path / "r.json").exists()


def test_growth_section_violations_and_html_escaping():
    cells = [_measured(1, "leaky", "x.append(y)", before=100 * MB, after=140 * MB, peak=140 * MB)]
    flagged = {
        "runs": 3,
        "growth_per_run_bytes": 40 * MB,
        "flagged": True,
        "what_grew": [f"{XSS} (list) +40 MB"],
    }
    growth = [report_module.growth_entry(1, f"id-{XSS}", flagged)]
    report = report_module.build_report(
        notebook_path="nb.ipynb",
        total_cells=2,
        kernel=report_module.kernel_section(
            "python3", {"memory_limit": {"bytes": 2 * 1024**3, "source": "cgroup_v2"}}
        ),
        thresholds={"max_peak": None, "max_delta": None, "max_rss": None},
        cells=cells,
        kernel_died=False,
        growth=growth,
        repeat=report_module.repeat_section(3, 3, [140 * MB, 180 * MB, 220 * MB], None),
        max_growth=10 * MB,
    )
    assert report["kernel"]["memory_limit"] == {"bytes": 2 * 1024**3, "source": "cgroup_v2"}
    assert report["thresholds"]["max_growth"] == 10 * MB
    assert report["growth"] == [
        {
            "cell_index": 1,
            "cell_id": f"id-{XSS}",
            "runs": 3,
            "growth_per_run_bytes": 40 * MB,
            "what_grew": [f"{XSS} (list) +40 MB"],
        }
    ]
    (violation,) = report["summary"]["violations"]
    assert violation["metric"] == "growth_per_run_bytes" and violation["value"] == 40 * MB
    text = cli._describe_violation(violation)
    assert text.startswith("leak: cell 1") and "--max-growth 10 MB" in text and XSS in text
    page = report_module.render_html(report)
    assert XSS not in page and html.escape(XSS) in page
    assert 'id="md-growth"' in page and "cgroup v2" in page
    # Under the limit: flagged, but no violation.
    quiet = report_module.growth_violations(growth, 50 * MB)
    assert quiet == []


def test_report_without_repeat_has_no_growth_keys():
    report = _fake_report([])
    assert "growth" not in report and "repeat" not in report
    assert "max_growth" not in report["thresholds"]
    assert 'id="md-growth"' not in report_module.render_html(report)


@pytest.mark.kernel
def test_repeat_flags_a_leaking_cell_and_max_growth_exits_3(tmp_path, capsys):
    pytest.importorskip("numpy")
    cells = [
        # Kept across runs of the whole notebook, as a module-level cache would be.
        code("import numpy as np\ntry:\n    history\nexcept NameError:\n    history = []", "setup"),
        code("history.append(np.ones(5_000_000))", "leaks-40mb"),
        code("arr = np.ones(5_000_000)", "rebinds-40mb"),
    ]
    nb = write_notebook(tmp_path / "leak.ipynb", cells)
    json_path, html_path = tmp_path / "r.json", tmp_path / "r.html"
    rc = main(
        [
            "run",
            str(nb),
            "--json",
            str(json_path),
            "--html",
            str(html_path),
            "--no-scan",
            "--repeat",
            "3",
            "--max-growth",
            "10MB",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 3, err
    assert "Traceback" not in err
    (leak_line,) = [ln for ln in err.splitlines() if "leak:" in ln]
    assert "cell 1 (id leaks-40mb)" in leak_line and "history (list) +40 MB" in leak_line
    assert "run 3 of 3" in out
    report = json.loads(json_path.read_text(encoding="utf-8"))
    (entry,) = report["growth"]
    assert entry["cell_index"] == 1 and entry["cell_id"] == "leaks-40mb"
    assert entry["runs"] == 3
    assert 0.95 * 40 * MB <= entry["growth_per_run_bytes"] <= 1.1 * 40 * MB
    assert entry["what_grew"][0] == "history (list) +40 MB"
    assert report["repeat"]["count"] == 3 and report["repeat"]["completed"] == 3
    assert len(report["repeat"]["rss_after"]) == 3
    # The report's cells are the first run's: one entry per code cell.
    assert [c["cell_id"] for c in report["cells"]] == ["setup", "leaks-40mb", "rebinds-40mb"]
    assert report["kernel"]["memory_limit"]["source"] in LIMIT_SOURCES
    assert report["thresholds"]["max_growth"] == 10 * MB
    (violation,) = report["summary"]["violations"]
    assert violation["cell_id"] == "leaks-40mb"
    assert "leaks-40mb" in html_path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- --fix


def test_fix_needs_the_scan(tmp_path, capsys):
    nb = write_notebook(tmp_path / "nb.ipynb", [code("x = 1", "a")])
    rc = main(["run", str(nb), "--json", str(tmp_path / "r.json"), "--no-scan", "--fix"])
    assert rc == 2
    assert "--no-scan" in one_error_line(capsys.readouterr().err)


def test_fix_applies_every_suggestion_and_scans_again(tmp_path, capsys):
    data = tmp_path / f"{XSS}.csv"
    data.write_text("a\n1\n", encoding="utf-8")
    nb = write_notebook(
        tmp_path / "nb.ipynb",
        [
            code("import numpy as np\nbig = np.ones(8_000_000)", "a"),
            code("big", "b"),
            code(f"fh = open({str(data)!r})", "c"),
            code(f"d = {{{XSS!r}: np.ones(8_000_000)}}", "d"),
        ],
    )
    json_path, html_path = tmp_path / "r.json", tmp_path / "r.html"
    rc = main(["run", str(nb), "--json", str(json_path), "--html", str(html_path), "--fix", "-q"])
    assert rc == 0, capsys.readouterr()
    report = json.loads(json_path.read_text(encoding="utf-8"))

    res = next(r for r in report["resources"] if r["label"] == "fh")
    assert res == {
        "kind": "file",
        "label": "fh",
        "held_by": ["fh"],
        "cell_index": 2,
        "detail": res["detail"],
        "note": None,
    }
    assert str(data) in res["detail"]
    delete = next(s for s in report["suggestions"] if s["targets"][:2] == ["big", "Out[2]"])
    assert set(delete) == {"id", "action", "targets", "code", "estimated_freed_bytes", "reason"}
    assert delete["action"] == "delete_holder" and delete["estimated_freed_bytes"] >= 64 * MB

    fixes = {f["suggestion_id"]: f for f in report["fixes"]}
    assert [f["suggestion_id"] for f in report["fixes"]] == [s["id"] for s in report["suggestions"]]
    assert fixes[delete["id"]]["ok"] is True
    assert fixes[delete["id"]]["measured_freed_bytes"] >= 0.9 * delete["estimated_freed_bytes"]
    close = next(s for s in report["suggestions"] if s["action"] == "close_resource")
    assert fixes[close["id"]]["ok"] is True and fixes[close["id"]]["error"] is None

    after = report["after_fix"]
    assert after["rss"] < report["scan"]["rss"] - 100 * MB
    assert not [h for h in after["holders"] if (h["retained_bytes"] or 0) >= MB]
    assert not [r for r in after["resources"] if r["label"] == "fh"]

    page = html_path.read_text(encoding="utf-8")
    assert 'id="md-suggestions"' in page and 'id="md-resources"' in page
    assert XSS not in page  # the dict key and the file name are escaped everywhere
    assert html.escape(XSS, quote=True) in page


def test_html_fix_section_escapes_everything():
    report = {
        "resources": [
            {
                "kind": "file",
                "label": XSS,
                "held_by": [XSS],
                "cell_index": 1,
                "detail": XSS,
                "note": XSS,
            }
        ],
        "suggestions": [
            {
                "id": XSS,
                "action": "delete_holder",
                "targets": [XSS],
                "code": f"del {XSS}",
                "estimated_freed_bytes": 10,
                "reason": XSS,
            }
        ],
        "fixes": [
            {
                "suggestion_id": XSS,
                "ok": False,
                "measured_freed_bytes": None,
                "error": XSS,
                "explanation": None,
            }
        ],
        "after_fix": {"holders": [], "resources": [], "rss": 1, "error": XSS},
    }
    page = report_module.render_section("fixes.html.j2", report)
    assert XSS not in page
    assert page.count(html.escape(XSS, quote=True)) >= 7
