"""The magics in a real kernel: every subcommand, its bundle, and its figures
against outside truth (numpy ``nbytes``) and against a comm scan right after.

Each magic's output is one ``display_data`` (never an ``execute_result``: an
``Out[n]`` would keep the data in the namespace) whose custom type validates
against ``protocol/mime.json`` and whose HTML runs nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from memory_doctor.headless.driver import CellResult, KernelSession
from memory_doctor.kernel.rich import MIME_TYPE
from tests.kernel_helpers import BUDGET_S, run, scan
from tests.mime_helpers import check_bundle

pytestmark = pytest.mark.kernel

MIB = 1 << 20
#: Arrays the tests allocate: large against the noise of a scan, small for CI.
SIZE = 96 * MIB
#: Options for a complete scan in a slow CI.
BUDGET = f"--budget {BUDGET_S:g}"

SETUP = f"""
import numpy as np
N = {SIZE} // 8
big = np.ones(N)
"""

#: Names IPython itself binds per cell (history and output caches).
USER_NAMES = "sorted(k for k in globals() if not k.startswith('_') and k not in ('In', 'Out'))"


def outputs(session: KernelSession, result: CellResult) -> list[dict[str, Any]]:
    """The bundles the cell displayed; fails on an ``execute_result`` or printed text."""
    kinds = [m["msg_type"] for m in session.last_messages]
    assert "execute_result" not in kinds, kinds
    assert result.stdout == "", result.stdout
    return [m["content"]["data"] for m in session.last_messages if m["msg_type"] == "display_data"]


def magic(session: KernelSession, code: str) -> tuple[dict[str, Any], CellResult]:
    """Run a cell that shows exactly one output; its data (validated) and the result."""
    result = run(session, code)
    shown = outputs(session, result)
    assert len(shown) == 1, shown
    return check_bundle(shown[0]), result


def text_of(session: KernelSession) -> str:
    """The text/plain of the last cell's one output."""
    return next(
        m["content"]["data"]["text/plain"]
        for m in session.last_messages
        if m["msg_type"] == "display_data"
    )


@pytest.fixture(scope="module")
def session(kernel_env: dict[str, str]) -> Iterator[KernelSession]:
    """A bootstrapped kernel (the comm is open, as with our JupyterLab extension)."""
    with KernelSession(env=kernel_env) as s:
        s.start()
        run(s, SETUP)
        yield s


def test_summary(session: KernelSession) -> None:
    data, result = magic(session, f"%memory {BUDGET}")
    assert data["view"] == "summary"
    assert result.record is None  # a %memory cell: its scan is the helper's memory, not the user's
    kernel = data["kernel"]
    assert kernel["rss"] >= SIZE
    holders = data["scan"]["holders"]
    assert holders[0]["labels"] == ["big"]
    assert SIZE <= holders[0]["retained_bytes"] < SIZE + MIB
    fix = next(s for s in data["scan"]["suggestions"] if s["holder_id"] == holders[0]["id"])
    assert fix["code"] == "del big"
    assert data["cells_by_left"][0]["rss_delta"] >= 0.9 * SIZE
    text = text_of(session)
    assert "Top holders" in text
    assert re.search(r"^  1  big  +numpy\.ndarray +\d+ MB +1 +\[\d+\] +s\d+: del big$", text, re.M)


def test_holders_match_a_comm_scan_right_after(session: KernelSession) -> None:
    run(session, "second = np.ones(N // 2)\nview = big[: N // 4]\nd = {'k': np.ones(N // 8)}")
    data, _ = magic(session, f"%memory holders -n 50 {BUDGET}")
    panel = scan(session)
    assert data["scan"]["scan"]["complete"] is True

    def figures(holders: list[dict[str, Any]]) -> list[tuple[tuple[str, ...], int]]:
        return [
            (tuple(h["labels"]), h["retained_bytes"])
            for h in holders
            if h["retained_bytes"] >= 100_000
        ]

    assert figures(data["scan"]["holders"]) == figures(panel["holders"])
    assert figures(data["scan"]["holders"])[:2] == [
        (("big", "view"), SIZE + 112),
        (("second",), SIZE // 2 + 112),
    ]
    assert data["holders_total"] == len(panel["holders"])


def test_holders_filter_and_count(session: KernelSession) -> None:
    data, _ = magic(session, f"%memory holders -n 1 --filter SEC {BUDGET}")
    assert data["filter"] == "SEC"
    assert data["matched"] == 1
    assert [h["labels"] for h in data["scan"]["holders"]] == [["second"]]
    data, _ = magic(session, f"%memory holders -n 1 {BUDGET}")
    assert len(data["scan"]["holders"]) == 1
    assert data["holders_total"] > 1


def test_resources(session: KernelSession, tmp_path: Any) -> None:
    path = tmp_path / "open.txt"
    path.write_text("x")
    run(session, f"handle = open({str(path)!r})")
    data, _ = magic(session, f"%memory resources {BUDGET}")
    assert data["scan"]["holders"] == []
    files = [r for r in data["scan"]["resources"] if r["label"] == "handle"]
    assert files and files[0]["kind"] == "file"
    close = [s for s in data["scan"]["suggestions"] if s["resource_id"] == files[0]["id"]]
    assert close and close[0]["code"] == "handle.close()"
    assert "handle.close()" in text_of(session)
    run(session, "handle.close()")


def test_cells(session: KernelSession) -> None:
    run(session, "tmp = np.ones(N); tmp[:] = 2; del tmp")
    data, _ = magic(session, "%memory cells -n 3")
    assert data["view"] == "cells"
    assert len(data["cells_by_peak"]) <= 3
    # The cell that allocated and freed a whole array tops the peaks, not the left memory.
    top = data["cells_by_peak"][0]
    assert top["peak_increase"] >= 0.9 * SIZE
    assert data["runs"] >= 3


def test_fix_previews_then_applies(session: KernelSession) -> None:
    run(session, "victim = np.ones(N)\nvictim[:] = 3")
    data, _ = magic(session, f"%memory holders --filter victim {BUDGET}")
    sid = next(s["id"] for s in data["scan"]["suggestions"] if s["targets"] == ["victim"])
    before = session.evaluate({"id": "id(victim)", "names": USER_NAMES})

    preview, _ = magic(session, f"%memory fix {sid}")
    assert preview["view"] == "fix"
    assert preview["applied"] is False
    assert preview["result"] is None
    assert preview["targets"] == ["victim"]
    assert f"To apply it, run: %memory fix {sid} --yes" in text_of(session)
    assert session.evaluate({"id": "id(victim)", "names": USER_NAMES}) == before

    applied, _ = magic(session, f"%memory fix {sid} --yes")
    assert applied["applied"] is True
    assert applied["error"] is None
    assert applied["result"]["measured_freed_bytes"] >= 0.9 * SIZE
    names = session.evaluate({"names": USER_NAMES})["names"]
    assert "'victim'" not in names

    # Applied again: the name is gone, nothing more comes back.
    again, _ = magic(session, f"%memory fix {sid} --yes")
    assert again["error"] is None
    assert again["result"]["measured_freed_bytes"] < 0.1 * SIZE


def test_cell_magic_measures_the_body(session: KernelSession) -> None:
    data, result = magic(session, f"%%memory {BUDGET}\nmade = np.ones(N)\nmade[:] = 4")
    m = data["measurement"]
    assert m["status"] == "ok"
    assert 0.9 * SIZE <= m["rss_delta"] < 1.2 * SIZE
    assert m["peak_increase"] >= 0.9 * SIZE
    assert m["peak_exact"] is (m["peak_method"] == "vmhwm")
    assert data["created"] == ["made"]
    assert [h["labels"] for h in data["scan"]["holders"]] == [["made"]]
    assert data["scan"]["holders"][0]["retained_bytes"] >= SIZE
    assert result.record is not None  # a %%memory cell runs user code: it keeps its record


def test_cell_magic_sees_a_peak_that_is_gone(session: KernelSession) -> None:
    data, _ = magic(session, "%%memory --no-holders\ntmp = np.ones(N)\ntmp[:] = 5\ndel tmp")
    m = data["measurement"]
    assert data["scan"] is None
    if m["peak_method"] == "vmhwm":
        assert m["peak_increase"] >= 0.9 * SIZE
    assert m["rss_delta"] < 0.2 * SIZE


def test_cell_magic_with_an_error(session: KernelSession) -> None:
    result = run(session, "%%memory --no-holders\nraise ValueError('boom')")
    kinds = [m["msg_type"] for m in session.last_messages]
    assert "error" in kinds  # the traceback, as %%time shows it
    shown = [m["content"]["data"] for m in session.last_messages if m["msg_type"] == "display_data"]
    assert len(shown) == 1
    assert check_bundle(shown[0])["measurement"]["status"] == "error"
    assert result.status == "ok"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("%memory bogus", "Unknown %memory subcommand 'bogus'"),
        ("%memory holders -n 0", "-n must be a whole number from 1"),
        ("%memory holders -n many", "-n must be a whole number from 1"),
        ("%memory holders --budget 0", "--budget is the scan's time limit"),
        ("%memory holders --budget 1e9", "--budget is the scan's time limit"),
        ("%memory holders --nope", "Unrecognized arguments: --nope"),
        ('%memory holders --filter "open', "check the quotes"),
        ("%memory fix", "The following arguments are required: ID"),
        ("%memory fix s999", "No suggestion 's999' in the last %memory scan"),
        ("%memory badges maybe", "invalid choice: 'maybe'"),
        ("%%memory -n 0\nx = 1", "-n must be a whole number from 1"),
    ],
)
def test_bad_arguments_say_what_to_do(session: KernelSession, code: str, words: str) -> None:
    before = session.evaluate({"names": USER_NAMES})
    result = session.run_cell(code, str(uuid.uuid4()))
    assert result.status == "error"
    assert result.error is not None
    assert result.error["ename"] == "UsageError"
    assert words in result.error["evalue"]
    assert re.search(r"Usage|e\.g\.|Run %memory", result.error["evalue"])
    assert session.evaluate({"names": USER_NAMES}) == before


def test_badges_stay_off_while_the_extension_is_connected(session: KernelSession) -> None:
    assert session.comm_id is not None
    data, _ = magic(session, "%memory badges on")
    assert data["badges"] is False
    assert "JupyterLab extension is connected" in data["message"]
    result = run(session, "after = 1")
    assert outputs(session, result) == []


def test_magics_add_no_names(session: KernelSession) -> None:
    before = session.evaluate({"names": USER_NAMES})
    for code in (
        f"%memory {BUDGET}",
        "%memory cells",
        f"%memory resources {BUDGET}",
        "%memory badges",
    ):
        run(session, code)
    assert session.evaluate({"names": USER_NAMES}) == before


# ------------------------------------------------------------------ without our front end


@pytest.fixture
def plain(kernel_env: dict[str, str]) -> Iterator[KernelSession]:
    """A kernel as VS Code or Colab drive it: no comm, the user loads the helper."""
    with KernelSession(env=kernel_env) as s:
        s.start(bootstrap=False)
        yield s


def test_load_prints_nothing_and_badges_follow_each_cell(plain: KernelSession) -> None:
    result = run(plain, "%load_ext memory_doctor")
    kinds = {m["msg_type"] for m in plain.last_messages}
    assert kinds <= {"status", "execute_input"}, kinds
    assert result.stdout == ""
    run(plain, f"import numpy as np\nN = {SIZE} // 8")

    data, _ = magic(plain, "%memory badges on")
    assert data["badges"] is True
    badges = []
    for code in ("a = np.ones(N)\na[:] = 1", "b = 2"):
        shown = outputs(plain, run(plain, code))
        assert len(shown) == 1, shown
        badges.append(check_bundle(shown[0]))
    assert [b["view"] for b in badges] == ["badge", "badge"]
    assert badges[0]["record"]["rss_delta"] >= 0.9 * SIZE
    assert badges[1]["record"]["execution_count"] == badges[0]["record"]["execution_count"] + 1

    data, _ = magic(plain, "%memory badges off")
    assert data["badges"] is False
    assert outputs(plain, run(plain, "c = 3")) == []


def test_badge_text_is_the_panel_badge(plain: KernelSession) -> None:
    run(plain, f"%load_ext memory_doctor\nimport numpy as np\nN = {SIZE} // 8")
    run(plain, "%memory badges on")
    result = run(plain, "big = np.ones(N)\nbig[:] = 1")
    shown = outputs(plain, result)
    assert re.fullmatch(r"\+\d+ MB \u00b7 peak \+\d+ MB", shown[0]["text/plain"]), shown[0][
        "text/plain"
    ]
    assert MIME_TYPE in shown[0]
