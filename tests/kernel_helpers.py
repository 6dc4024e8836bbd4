"""Helpers shared by the end-to-end tests that drive a real kernel."""

from __future__ import annotations

import uuid
from typing import Any

from memory_doctor.headless.driver import CellResult, KernelSession

#: Generous: the tests want complete scans, and CI machines are slow.
BUDGET_S = 120.0


def run(session: KernelSession, code: str, cid: str | None = None) -> CellResult:
    """Run ``code`` as a cell (a fresh cell id unless given) and assert it succeeded."""
    result = session.run_cell(code, cid or str(uuid.uuid4()))
    assert result.status == "ok", (code, result.error, result.stdout)
    return result


def scan(session: KernelSession, **params: Any) -> dict[str, Any]:
    """Scan through the comm and assert the scan completed."""
    result = session.scan(budget_s=params.pop("budget_s", BUDGET_S), **params)
    assert result["scan"]["complete"] is True, result["scan"]
    return result
