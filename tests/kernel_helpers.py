"""Helpers shared by the end-to-end tests that drive a real kernel."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from protocol_schema import MessageChecker, ProtocolViolation

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


class ProtocolChecks:
    """Checks every Memory Doctor comm message any :class:`KernelSession` receives.

    Installed for the whole test run by ``conftest.py`` (the shipped driver is
    unchanged): it wraps the session's IOPub router, and the methods that open
    comms and send requests, so that each message on a comm opened on the
    helper's target is validated against ``protocol.json`` as it arrives, an ok
    reply's ``result`` against the result of the request it answers. What
    breaks the schema is kept in :attr:`violations`; the conftest fails the
    test during which it arrived.
    """

    def __init__(self) -> None:
        self.violations: list[ProtocolViolation] = []
        #: Messages checked, over the whole run.
        self.checked = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Wrap :class:`KernelSession`'s methods (undone with ``monkeypatch``)."""
        checks = self
        route = KernelSession._route_iopub
        open_comm = KernelSession.open_comm
        send_request = KernelSession.send_request
        comm_send = KernelSession.comm_send

        def checked_route(session: KernelSession, msg: dict[str, Any]) -> None:
            if msg.get("msg_type") == "comm_msg":
                content = msg.get("content") or {}
                checks._arrived(session, content.get("comm_id"), content.get("data"))
            route(session, msg)

        def checked_open_comm(session: KernelSession, *args: Any, **kwargs: Any) -> Any:
            state = checks._state(session)
            state.opening = True
            try:
                comm_id, first = open_comm(session, *args, **kwargs)
            finally:
                state.opening = False
            state.comm_ids.add(comm_id)
            for data in state.unclaimed.pop(comm_id, []):
                checks._check(state, data)
            state.unclaimed.clear()
            return comm_id, first

        def checked_send_request(session: KernelSession, type: str, **params: Any) -> str:
            request_id = send_request(session, type, **params)
            checks._state(session).checker.note_request({"type": type, "request_id": request_id})
            return request_id

        def checked_comm_send(session: KernelSession, data: Any, **kwargs: Any) -> Any:
            checks._state(session).checker.note_request(data)
            return comm_send(session, data, **kwargs)

        monkeypatch.setattr(KernelSession, "_route_iopub", checked_route)
        monkeypatch.setattr(KernelSession, "open_comm", checked_open_comm)
        monkeypatch.setattr(KernelSession, "send_request", checked_send_request)
        monkeypatch.setattr(KernelSession, "comm_send", checked_comm_send)

    def watch(self, session: KernelSession, comm_id: str) -> None:
        """Check the messages on ``comm_id`` of ``session`` (one opened otherwise)."""
        self._state(session).comm_ids.add(comm_id)

    def note_request(self, session: KernelSession, data: Any) -> None:
        """Remember a request sent otherwise than through the session's methods."""
        self._state(session).checker.note_request(data)

    def take(self) -> list[ProtocolViolation]:
        """The violations so far, forgotten."""
        found, self.violations = self.violations, []
        return found

    def _state(self, session: KernelSession) -> _SessionChecks:
        state = session.__dict__.get("_protocol_checks")
        if state is None:
            state = session.__dict__["_protocol_checks"] = _SessionChecks()
        return state

    def _arrived(self, session: KernelSession, comm_id: Any, data: Any) -> None:
        state = self._state(session)
        if comm_id in state.comm_ids:
            self._check(state, data)
        elif state.opening:
            # Maybe the comm being opened: its id is known once open_comm returns.
            state.unclaimed.setdefault(comm_id, []).append(data)

    def _check(self, state: _SessionChecks, data: Any) -> None:
        self.checked += 1
        state.checker.record(data)
        self.violations.extend(state.checker.violations)
        state.checker.violations.clear()


class _SessionChecks:
    """One session's comms and request types (request ids repeat across sessions)."""

    def __init__(self) -> None:
        self.checker = MessageChecker()
        self.comm_ids: set[str] = set()
        self.unclaimed: dict[str, list[Any]] = {}
        self.opening = False
