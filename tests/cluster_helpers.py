"""A real Dask LocalCluster for the cluster tests, in a process group of its own.

The cluster runs in ``tests/cluster_host.py`` (two worker processes, 400 MB
each), started with ``start_new_session`` so a test can freeze (SIGSTOP) or
kill (SIGKILL) the scheduler together with its workers; :meth:`close` always
takes the whole group down.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from memory_doctor.headless.driver import CellResult, KernelSession

HOST = Path(__file__).resolve().parent / "cluster_host.py"
MB = 1_000_000

dask_missing = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("dask", "distributed")),
    reason="dask[distributed] is not installed (pip install -e '.[test]')",
)


class ClusterHost:
    """The scheduler and its workers in one process group; a context manager."""

    def __init__(self, log_dir: Path, *args: str) -> None:
        self.log = (log_dir / "cluster.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(HOST), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        self.address = self.proc.stdout.readline().strip()
        if not self.address.startswith("tcp://"):
            self.close()
            raise RuntimeError(f"The LocalCluster did not start; see {self.log.name}.")

    def __enter__(self) -> ClusterHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the scheduler and every worker."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def close(self) -> None:
        """Shut the cluster down (killing what is left of its group)."""
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)
            with contextlib.suppress(BrokenPipeError, OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)
        self.signal(signal.SIGKILL)  # workers the nanny left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self.log.close()


def cell(session: KernelSession, code: str) -> CellResult:
    """Run ``code`` as a cell and assert it succeeded."""
    result = session.run_cell(code, str(uuid.uuid4()))
    assert result.status == "ok", (code, result.error, result.stdout)
    return result


def measured(session: KernelSession, result: CellResult, timeout: float = 30.0) -> dict[str, Any]:
    """The ``cluster`` of ``result``'s cell once its ``cell_cluster`` message came."""
    assert result.record is not None and result.execution_count is not None
    pending = result.record["cluster"]
    assert pending is not None and pending["pending"] is True, result.record
    found = session.wait_cell_clusters([result.execution_count], timeout)
    assert result.execution_count in found, "no cell_cluster message for the cell"
    cluster: dict[str, Any] = found[result.execution_count]["cluster"]
    return cluster


def truth(session: KernelSession, expression: str) -> Any:
    """Evaluate ``expression`` in the kernel without a cell (silent user_expressions)."""
    value = session.evaluate({"v": expression})["v"]
    assert isinstance(value, str), value
    return ast.literal_eval(value)


def scan_cluster(
    session: KernelSession, timeout: float = 120.0, keep: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The ``scan_cluster`` result (the whole reply appended to ``keep``)."""
    reply = session.wait_reply(session.send_request("scan_cluster"), timeout=timeout)
    assert reply["ok"], reply
    if keep is not None:
        keep.append(reply)
    result: dict[str, Any] = reply["result"]
    return result


class Recorder:
    """Messages a test names, written as the TypeScript side's fixtures on request.

    With ``MEMORY_DOCTOR_WRITE_FIXTURES=1``, :meth:`write` puts each under
    ``tests/fixtures/protocol/messages/`` in test_protocol_e2e.py's format (the
    decoders' tests read every file there).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.named: dict[str, tuple[dict[str, Any], str | None]] = {}

    def add(self, name: str, message: dict[str, Any], request_type: str | None = None) -> None:
        self.named[name] = (message, request_type)

    def write(self) -> list[str]:
        from protocol_schema import kernel_message_problems, result_definition  # noqa: PLC0415

        folder = Path(__file__).resolve().parent / "fixtures" / "protocol" / "messages"
        for name, (message, request_type) in self.named.items():
            body = {
                "description": f"Recorded from a real kernel by {self.source}; do not edit.",
                "definition": "KernelMessage",
                "request_type": request_type,
                "result_definition": (
                    result_definition(request_type) if message.get("ok") is True else None
                ),
                "problems": kernel_message_problems(message, request_type),
                "message": message,
            }
            text = json.dumps(body, indent=2, ensure_ascii=False) + "\n"
            (folder / f"{name}.json").write_text(text, encoding="utf-8")
        return sorted(self.named)


def release(
    session: KernelSession, scheduler: str, holders: list[list[str]], timeout: float = 120.0
) -> dict[str, Any]:
    """The ``release_cluster`` reply (ok or not)."""
    request_id = session.send_request("release_cluster", scheduler=scheduler, holders=holders)
    reply: dict[str, Any] = session.wait_reply(request_id, timeout=timeout)
    return reply


def holder(section: dict[str, Any], *labels: str) -> dict[str, Any]:
    """The holder whose labels include ``labels``."""
    for row in section["holders"]:
        if set(labels) <= set(row["labels"]):
            return row
    raise AssertionError(f"no holder with {labels}: {[h['labels'] for h in section['holders']]}")


def close_to(value: float, expected: float, rel: float = 0.05) -> bool:
    """Within ``rel`` of ``expected``."""
    return abs(value - expected) <= rel * expected


def wait_until(check: Any, timeout: float = 30.0) -> None:
    """Poll ``check()`` until true (the client noticing a dead scheduler, say)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)
