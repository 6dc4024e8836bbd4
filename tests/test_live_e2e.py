"""Live readings and headroom in a real kernel: ``get_rss`` on a subshell while a cell runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memory_doctor.headless.driver import KernelSession
from memory_doctor.kernel.limits import detect_limit
from memory_doctor.protocol import LIMIT_SOURCES

pytest.importorskip("numpy")

MB = 1_000_000
STEP_BYTES = 50 * MB
#: A safety net for a broken kernel, never a measurement: each wait below ends
#: as soon as the kernel reaches the state the test set up.
SAFETY_S = 60.0

# The cell allocates 50 MB (touched), then waits for the test to create a flag
# file, twice: the test decides when it moves on, so nothing depends on timing.
LIVE_CELL = """\
import os as _os, time as _time
import numpy as _np
_blocks = []
for _step in range(2):
    _blocks.append(_np.ones({step} // 8))
    while not _os.path.exists({flag!r} + str(_step)):
        _time.sleep(0.005)
del _blocks
"""


@pytest.fixture
def subshell(kernel_session: KernelSession) -> Iterator[str]:
    if not kernel_session.supports_subshells:
        pytest.skip("this kernel has no subshells (ipykernel < 7)")
    subshell_id = kernel_session.create_subshell()
    try:
        yield subshell_id
    finally:
        kernel_session.delete_subshell(subshell_id)


def _get_rss(session: KernelSession, subshell_id: str | None) -> dict[str, Any]:
    request_id = session.send_request("get_rss", subshell_id=subshell_id)
    reply = session.wait_reply(request_id, timeout=SAFETY_S)
    assert reply["ok"], reply
    result: dict[str, Any] = reply["result"]
    return result


def _poll_until(session: KernelSession, subshell_id: str, at_least: int) -> dict[str, Any]:
    """Live readings until one shows a running cell and ``rss >= at_least``."""
    deadline = time.monotonic() + SAFETY_S
    while time.monotonic() < deadline:
        reading = _get_rss(session, subshell_id)
        if reading["running"] is not None and reading["rss"] >= at_least:
            return reading
    raise AssertionError(f"no live reading reached {at_least} bytes: last {reading}")


def test_hello_and_idle_readings_carry_the_limit(kernel_session: KernelSession) -> None:
    hello = kernel_session.hello
    assert hello is not None
    limit = hello["memory_limit"]
    assert limit["source"] in LIMIT_SOURCES
    # The kernel is our child, in our cgroup: it sees the limit we see.
    assert limit == detect_limit().as_wire()
    reading = kernel_session.request("get_rss")["result"]
    assert reading["running"] is None  # no cell is running
    assert reading["memory_limit"] == limit
    assert reading["rss"] > 0 and reading["peak_rss"] >= reading["rss"]
    assert isinstance(reading["time"], float)


def test_live_readings_on_a_subshell_while_a_cell_runs(
    kernel_session: KernelSession, subshell: str, tmp_path: Path
) -> None:
    flag = str(tmp_path / "flag")
    msg_id = kernel_session.start_cell(LIVE_CELL.format(step=STEP_BYTES, flag=flag), "live-cell")
    try:
        first = _poll_until(kernel_session, subshell, 0)
        # The cell is running; wait until its first 50 MB is resident.
        rss_before = first["running"]["rss_before"]
        first = _poll_until(kernel_session, subshell, rss_before + int(0.9 * STEP_BYTES))
        Path(flag + "0").touch()
        second = _poll_until(kernel_session, subshell, first["rss"] + int(0.9 * STEP_BYTES))
    finally:
        Path(flag + "0").touch()
        Path(flag + "1").touch()
    result = kernel_session.finish_cell(msg_id, timeout=SAFETY_S)
    assert result.status == "ok", result.error
    record = result.record
    assert record is not None
    for reading in (first, second):
        assert reading["running"] == {
            "cell_id": "live-cell",
            "execution_count": record["execution_count"],
            "started_at": record["started_at"],
            "rss_before": record["rss_before"],
        }
        # The peak so far (VmHWM, reset when the cell started) saw the first 50 MB.
        assert reading["peak_rss"] >= record["rss_before"] + 0.9 * STEP_BYTES
        # Taken during the cell, not after it.
        assert record["started_at"] <= reading["time"]
        assert reading["time"] <= record["started_at"] + record["duration_s"]
        assert reading["memory_limit"] == kernel_session.hello["memory_limit"]  # type: ignore[index]
    assert second["time"] > first["time"]
    assert second["rss"] > first["rss"]  # rising while the cell allocates
    # Linux folds each thread's RSS count in lazily (up to 64 pages per thread), so
    # readings taken on different threads may differ by a fraction of a MB.
    assert record["peak_rss"] >= second["rss"] - MB
    # Between cells the subshell says nothing is running.
    assert _get_rss(kernel_session, subshell)["running"] is None


def test_without_a_subshell_the_reading_waits_for_the_cell(
    kernel_session: KernelSession, tmp_path: Path
) -> None:
    flag = str(tmp_path / "flag")
    msg_id = kernel_session.start_cell(LIVE_CELL.format(step=STEP_BYTES, flag=flag), "slow-cell")
    # Sent on the main shell, which is busy with the cell until both flags exist.
    request_id = kernel_session.send_request("get_rss")
    Path(flag + "0").touch()
    Path(flag + "1").touch()
    reply = kernel_session.wait_reply(request_id, timeout=SAFETY_S)
    result = kernel_session.finish_cell(msg_id, timeout=SAFETY_S)
    assert result.status == "ok", result.error
    record = result.record
    assert record is not None and reply["ok"]
    reading = reply["result"]
    # Answered after the cell: nothing running, and read after the cell ended.
    assert reading["running"] is None
    assert reading["time"] >= record["started_at"] + record["duration_s"]


def test_subshells_refused_clearly_by_a_kernel_without_them(
    kernel_session: KernelSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memory_doctor.headless.errors import CommError  # noqa: PLC0415 - only this test

    info = dict(kernel_session.kernel_info or {})
    info["supported_features"] = []
    monkeypatch.setattr(kernel_session, "kernel_info", info)
    with pytest.raises(CommError, match="does not support subshells"):
        kernel_session.create_subshell()
