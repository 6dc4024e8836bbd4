"""Every comm message of a real kernel follows protocol.json.

One kernel runs a session that touches every message and result of protocol
1.2: cells (ok, failing, growing), idle and live ``get_rss``, a scan with
progress, the fixes, refused and malformed requests, a version mismatch and a
second tab's ``hello``. The driver records every ``comm_msg`` the kernel sends
and every request it sends; each is validated against the schema (the reply's
``result`` against the result of the request it answers).

Every other kernel test is checked too, message by message (``conftest.py``
wraps the driver); this one goes through every message and result on purpose,
and shows that the checks can fail. A message known to break the schema (a
helper bug not fixed yet) goes into ``KNOWN_VIOLATIONS``; the test fails once
it is fixed, so the list only shrinks.

With ``MEMORY_DOCTOR_WRITE_FIXTURES=1`` the named messages are written to
``tests/fixtures/protocol/`` for the TypeScript decoders' tests
(``src/__tests__/protocol-fixtures.spec.ts``). Re-record them when the protocol
changes, and commit them deliberately: pids, paths and sizes change each run.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kernel_helpers import ProtocolChecks
from protocol_schema import (
    ProtocolViolation,
    constant,
    kernel_message_problems,
    problems,
    result_definition,
    validate_kernel_message,
)

from memory_doctor.headless.driver import KernelSession

pytestmark = pytest.mark.kernel

#: Where the recorded messages go (and where the TypeScript side reads them).
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "protocol"

BUDGET_S = 60.0
GROWING_CELL = "fixture-growth"

#: Messages that break the schema today, by fixture name, with the problem expected.
#: Each is a helper bug; remove the entry with the fix (the test then insists). A name
#: starting with ``violation_`` is recorded under ``violations/``.
KNOWN_VIOLATIONS: dict[str, str] = {}


@dataclass
class Entry:
    """One comm message, either way."""

    direction: str  # "kernel" or "frontend"
    data: Any
    comm_id: str | None = None
    request_type: str | None = None  # for a reply: the type of the request it answers
    name: str | None = None  # the fixture name, when it is one


@dataclass
class Transcript:
    """What went over the comms, in order."""

    entries: list[Entry] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # request_id -> type
    names: dict[str, str] = field(default_factory=dict)  # request_id -> fixture name
    checked_run_wide: int = 0  # messages the run-wide checks (conftest) saw meanwhile

    def kernel(self) -> Iterator[Entry]:
        for entry in self.entries:
            if entry.direction == "kernel":
                yield entry

    def named(self, name: str) -> Entry:
        found = [e for e in self.entries if e.name == name]
        assert len(found) == 1, (name, len(found))
        return found[0]


class RecordingSession(KernelSession):
    """The baseline driver, recording every comm message it sends and receives."""

    def __init__(self, transcript: Transcript, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.transcript = transcript

    def _route_iopub(self, msg: dict[str, Any]) -> None:
        if msg.get("msg_type") == "comm_msg":
            content = msg.get("content") or {}
            data = content.get("data")
            entry = Entry("kernel", copy.deepcopy(data), content.get("comm_id"))
            if isinstance(data, dict) and data.get("type") == "reply":
                rid = data.get("request_id")
                entry.request_type = self.transcript.types.get(rid) if rid else None
                entry.name = self.transcript.names.get(rid) if rid else None
            self.transcript.entries.append(entry)
        super()._route_iopub(msg)

    def comm_send(
        self, data: Any, *, comm_id: str | None = None, timeout: float = 30.0
    ) -> list[Any]:
        self._note(data)
        return super().comm_send(data, comm_id=comm_id, timeout=timeout)

    def send_request(self, type: str, *, subshell_id: str | None = None, **params: Any) -> str:
        rid = super().send_request(type, subshell_id=subshell_id, **params)
        self._note({"type": type, "request_id": rid, **params})
        return rid

    def open_comm(
        self,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> tuple[str, dict[str, Any]]:
        self.transcript.entries.append(Entry("frontend", {"comm_open": data, "metadata": metadata}))
        return super().open_comm(data, metadata, timeout)

    def _note(self, data: Any) -> None:
        self.transcript.entries.append(Entry("frontend", copy.deepcopy(data)))
        if isinstance(data, dict) and isinstance(data.get("request_id"), str):
            self.transcript.types[data["request_id"]] = str(data.get("type"))

    def ask(self, name: str, type: str, **params: Any) -> dict[str, Any]:
        """Send a request, name its reply as a fixture, return the reply."""
        rid = self.send_request(type, **params)
        self.transcript.names[rid] = name
        return self.wait_reply(rid, timeout=BUDGET_S + 60)


def run(session: RecordingSession, code: str, cell_id: str, status: str = "ok") -> dict[str, Any]:
    result = session.run_cell(code, cell_id)
    assert result.status == status, (code, result.error, result.stdout)
    assert result.record is not None
    return result.record


def name_message(transcript: Transcript, name: str, **match: Any) -> None:
    """Name the first kernel message whose fields (dotted paths) match."""
    for entry in transcript.kernel():
        if entry.name is None and all(_get(entry.data, k) == v for k, v in match.items()):
            entry.name = name
            return
    raise AssertionError(f"no kernel message matches {match} for fixture {name}")


def _get(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def suggestion(scan: dict[str, Any], action: str, target: str | None = None) -> dict[str, Any]:
    for s in scan["suggestions"]:
        if s["action"] == action and (target is None or target in s["targets"]):
            return dict(s)
    raise AssertionError(f"no {action} suggestion for {target}: {scan['suggestions']}")


def resource_id(scan: dict[str, Any], kind: str) -> str:
    return next(r["id"] for r in scan["resources"] if r["kind"] == kind)


SETUP = """\
import numpy as np, os, socket, sqlite3, subprocess, tempfile, threading
from functools import lru_cache
big = np.ones(6_000_000)
"""
FAILING = """\
def fail():
    scratch = np.ones(2_000_000)
    raise ValueError("boom")
fail()
"""
RESOURCES = """\
fd, path = tempfile.mkstemp()
os.close(fd)
fh = open(path, "w")
conn = sqlite3.connect(":memory:")
sock = socket.socket()
proc = subprocess.Popen(["sleep", "60"])
stop = threading.Event()
worker = threading.Thread(target=stop.wait, name="fixture-worker", daemon=True)
worker.start()
scratch_dir = tempfile.TemporaryDirectory()
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig = plt.figure()
"""
HOLDERS = """\
base = np.ones(4_000_000)
view = base[:10]
del base
@lru_cache(maxsize=None)
def cached(n):
    return np.ones(n)
cached(500_000)
class Store:
    items = []
Store.items.append(np.ones(300_000))
"""
GROWING = "leak = globals().setdefault('leak', [])\nleak.append(np.ones(400_000))\n"


@pytest.fixture(scope="module")
def transcript(kernel_env: dict[str, str], protocol_checks: ProtocolChecks) -> Transcript:
    """Run the whole session once; the tests below read what it recorded."""
    log = Transcript()
    checked_before = protocol_checks.checked
    session = RecordingSession(log, env=kernel_env)
    try:
        hello = session.start()
        assert hello is not None
        where = session.evaluate({"f": "__import__('memory_doctor').__file__"})["f"]
        here = Path(__file__).resolve().parent.parent / "python" / "memory_doctor"
        assert Path(where.strip("'")).parent == here, f"the kernel runs another helper: {where}"
        name_message(log, "hello", type="hello")

        session.ask("reply_configure", "configure", tracemalloc=True)
        run(session, SETUP, "fixture-setup")
        name_message(log, "cell_measured_tracemalloc", type="cell_measured")
        run(session, FAILING, "fixture-failing", status="error")
        name_message(log, "cell_measured_error", **{"record.status": "error"})
        run(session, "np.zeros(1_000_000) + 1", "fixture-output")
        run(session, RESOURCES, "fixture-resources")
        run(session, HOLDERS, "fixture-holders")
        for _ in range(3):
            record = run(session, GROWING, GROWING_CELL)
        assert record["growth"] is not None and record["growth"]["flagged"], record
        name_message(log, "cell_measured_growth_flagged", **{"record.growth.flagged": True})

        session.ask("reply_get_rss_idle", "get_rss")
        scan = session.ask("reply_scan", "scan", budget_s=BUDGET_S)["result"]
        assert scan["scan"]["complete"], scan["scan"]
        name_message(log, "scan_progress", type="scan_progress")

        # Requests the helper refuses.
        session.ask("reply_unknown_request", "frobnicate")
        session.ask("reply_bad_request", "scan", budget_s=0)
        session.ask(
            "reply_refused", "apply_fix", suggestion_id="s999", action="gc_collect", targets=[]
        )
        session.ask("reply_cancel_nothing", "cancel", target="no-such-scan")
        session.comm_send({"type": "get_rss"})  # no request_id: the reply's is null
        name_message(log, "reply_null_request_id", type="reply", request_id=None)
        session.comm_send(["not", "an", "object"])
        name_message(log, "error_bad_request", type="error", code="bad_request")

        # Fixes, each measured.
        session.ask(
            "reply_apply_fix", "apply_fix", **_fix(suggestion(scan, "delete_holder", "big"))
        )
        file_id = resource_id(scan, "file")
        session.ask(
            "reply_apply_fix_close",
            "apply_fix",
            **_fix(suggestion(scan, "close_resource", file_id)),
        )
        proc_id = resource_id(scan, "process")
        session.ask(
            "reply_apply_fix_terminate",
            "apply_fix",
            **_fix(suggestion(scan, "terminate_process", proc_id)),
        )

        if session.supports_subshells:
            _while_a_cell_runs(session, log, scan)

        # A second tab: first with a major version the helper does not speak.
        session.open_comm(
            data={"protocol_version": "2.0", "client": "fixture"}, metadata={"version": "2.0"}
        )
        name_message(log, "error_protocol_mismatch", type="error", code="protocol_mismatch")
        comm_id, replay = session.open_comm()
        assert replay["type"] == "hello" and replay["records"], replay
        name_message(log, "hello_replay", type="hello")
        session.close_comm(comm_id)
    finally:
        session.shutdown()
    log.checked_run_wide = protocol_checks.checked - checked_before
    return log


def _fix(s: dict[str, Any]) -> dict[str, Any]:
    return {"suggestion_id": s["id"], "action": s["action"], "targets": s["targets"]}


def _while_a_cell_runs(session: RecordingSession, log: Transcript, scan: dict[str, Any]) -> None:
    """Live readings, a fix that waits for the cell, and a queued scan cancelled (subshells)."""
    subshell = session.create_subshell()
    try:
        msg_id = session.start_cell(
            "import time\nx = np.ones(3_000_000)\ntime.sleep(2)", "fixture-live"
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rid = session.send_request("get_rss", subshell_id=subshell)
            reply = session.wait_reply(rid, timeout=10)
            if reply["ok"] and reply["result"]["running"] is not None:
                log.names[rid] = "reply_get_rss_live"
                _rename(log, rid, "reply_get_rss_live")
                break
            time.sleep(0.1)
        else:
            raise AssertionError("no live reading while the cell ran")
        # A fix asked for during the cell waits for it (up to FIX_WAIT_S), then runs.
        fix = _fix(suggestion(scan, "cache_clear"))
        rid = session.send_request("apply_fix", subshell_id=subshell, **fix)
        log.names[rid] = "reply_apply_fix_after_cell"
        reply = session.wait_reply(rid, timeout=constant("FIX_REPLY_TIMEOUT_S"))
        assert reply["ok"], reply
        session.finish_cell(msg_id, timeout=30)

        # A scan asked for during a cell waits for it; cancelled before it starts.
        msg_id = session.start_cell("time.sleep(2)", "fixture-busy")
        time.sleep(0.3)
        rid = session.send_request("scan", subshell_id=subshell, budget_s=5)
        log.names[rid] = "reply_scan_never_started"
        cancel = session.send_request("cancel", subshell_id=subshell, target=rid)
        log.names[cancel] = "reply_cancel"
        assert session.wait_reply(cancel, timeout=10)["result"] == {"cancelled": True}
        stopped = session.wait_reply(rid, timeout=10)
        assert stopped["result"]["scan"]["stopped"] == "cancelled", stopped
        # Never started: every 1.2 section is there, empty or unknown.
        assert stopped["result"]["suggestions"] == stopped["result"]["resources"] == []
        assert set(stopped["result"]["findings"].values()) == {None}
        session.finish_cell(msg_id, timeout=30)
    finally:
        session.delete_subshell(subshell)


def _rename(log: Transcript, rid: str, name: str) -> None:
    for entry in log.entries:
        data = entry.data if entry.direction == "kernel" else None
        if isinstance(data, dict) and data.get("request_id") == rid and data.get("type") == "reply":
            entry.name = name


# ---------------------------------------------------------------------- tests


def test_every_message_from_the_kernel_follows_the_schema(transcript: Transcript) -> None:
    found: dict[str, list[str]] = {}
    for i, entry in enumerate(transcript.kernel()):
        errors = kernel_message_problems(entry.data, entry.request_type)
        if errors:
            found[entry.name or f"message {i} ({_get(entry.data, 'type')})"] = errors
    unexpected = {name: errs for name, errs in found.items() if name not in KNOWN_VIOLATIONS}
    assert not unexpected, json.dumps(unexpected, indent=2)
    for name, expected in KNOWN_VIOLATIONS.items():
        if name not in found:
            if any(e.name == name for e in transcript.entries):
                pytest.fail(f"{name} follows the schema now: remove it from KNOWN_VIOLATIONS")
            continue  # not recorded here (no subshells)
        assert any(expected in p for p in found[name]), (name, found[name])


def test_the_run_wide_checks_saw_every_message_of_the_session(transcript: Transcript) -> None:
    """conftest's checks (every kernel test) covered this session's messages too."""
    assert transcript.checked_run_wide >= len(list(transcript.kernel())) > 20


def test_the_run_wide_checks_catch_a_message_that_breaks_the_schema(
    protocol_checks: ProtocolChecks,
) -> None:
    """The checks every kernel test relies on are not vacuous: a bad message is caught,
    at its path, and the result of an ok reply is checked against its request's."""
    session = KernelSession()  # never started: messages are routed by hand
    protocol_checks.watch(session, "comm-1")
    record = dict(dict(fixtures_named("cell_measured_tracemalloc"))["message"])
    bad_record = {**record, "record": {**record["record"], "status": "maybe"}}
    protocol_checks.note_request(session, {"type": "scan", "request_id": "r1"})
    bad_reply = {"type": "reply", "request_id": "r1", "ok": True, "result": {"cancelled": True}}
    for data in (record, bad_record, bad_reply):
        session._route_iopub(
            {
                "msg_type": "comm_msg",
                "parent_header": {},
                "content": {"comm_id": "comm-1", "data": data},
            }
        )
    found = protocol_checks.take()
    assert [v.what for v in found] == ["cell_measured message", "reply message (to scan)"]
    assert found[0].problems == ["$.record.status: 'maybe' is not one of ['ok', 'error']"]
    assert "$.result: 'scan' is a required property" in found[1].problems


def fixtures_named(name: str) -> list[tuple[str, Any]]:
    """A committed fixture's fields (the session-less test above needs a real message)."""
    path = FIXTURES / "messages" / f"{name}.json"
    return list(json.loads(path.read_text(encoding="utf-8")).items())


def test_every_request_sent_follows_the_schema(transcript: Transcript) -> None:
    malformed = {"frobnicate", None}
    for entry in transcript.entries:
        if entry.direction != "frontend":
            continue
        data = entry.data
        if isinstance(data, dict) and "comm_open" in data:
            if data["comm_open"] is not None and data["comm_open"]["protocol_version"] == "1.2":
                assert problems("CommOpenData", data["comm_open"]) == []
            continue
        if not isinstance(data, dict) or data.get("type") in malformed or "request_id" not in data:
            continue  # sent malformed on purpose
        if data.get("type") == "scan" and data.get("budget_s") == 0:
            assert problems("RequestMessage", data), "budget_s 0 must break the schema too"
            continue
        if data.get("suggestion_id") == "s999":
            assert problems("RequestMessage", data) == []  # well formed; the helper refuses it
            continue
        assert problems("RequestMessage", data) == [], data


def test_the_session_covered_every_message_and_result(transcript: Transcript) -> None:
    kinds = {_get(e.data, "type") for e in transcript.kernel()}
    assert kinds == {"hello", "error", "cell_measured", "scan_progress", "reply"}
    answered = {e.request_type for e in transcript.kernel() if _get(e.data, "ok") is True}
    assert answered == {"configure", "get_rss", "scan", "cancel", "apply_fix"}
    codes = {_get(e.data, "error.code") for e in transcript.kernel()} | {
        _get(e.data, "code") for e in transcript.kernel()
    }
    assert {"bad_request", "unknown_request", "refused", "protocol_mismatch"} <= codes
    scan = transcript.named("reply_scan").data["result"]
    kinds_seen = {h["kind"] for h in scan["holders"]}
    assert {"variable", "output_cache", "traceback", "cache", "class_attribute"} <= kinds_seen
    actions = {s["action"] for s in scan["suggestions"]}
    assert {"delete_holder", "clear_traceback", "copy_view", "cache_clear"} <= actions
    assert {"close_resource", "terminate_process", "close_figures"} <= actions


def test_validation_fails_on_mutated_messages(transcript: Transcript) -> None:
    """The schema is not vacuous: each mutation of a valid message is caught, at its path."""
    scan = transcript.named("reply_scan")
    record = transcript.named("cell_measured_growth_flagged").data
    cases: list[tuple[Any, str | None, str]] = []

    def mutate(entry_data: Any, request_type: str | None, path: str, change: Any) -> None:
        data = copy.deepcopy(entry_data)
        change(data)
        cases.append((data, request_type, path))

    mutate(
        scan.data,
        "scan",
        "$.result.holders[0].retained_bytes",
        lambda d: d["result"]["holders"][0].update(retained_bytes="12"),
    )
    mutate(
        scan.data,
        "scan",
        "$.result.suggestions[0]",  # 'code' is required
        lambda d: d["result"]["suggestions"][0].pop("code"),
    )
    mutate(
        scan.data,
        "scan",
        "$.result.resources[0]",  # a private key leaked
        lambda d: d["result"]["resources"][0].update(_object_id=140234),
    )
    mutate(
        scan.data,
        "scan",
        "$.result.holders[0].kind",
        lambda d: d["result"]["holders"][0].update(kind="bogus"),
    )
    mutate(
        scan.data,
        "scan",
        "$.result.holders[1].id",  # x-unique-by
        lambda d: d["result"]["holders"][1].update(id=d["result"]["holders"][0]["id"]),
    )
    mutate(
        scan.data,
        "scan",
        "$.result.scan",  # invariant: complete iff not stopped
        lambda d: d["result"]["scan"].update(stopped="budget"),
    )
    mutate(
        record,
        None,
        "$.record",  # invariant
        lambda d: d["record"].update(rss_delta=d["record"]["rss_delta"] + 1),
    )
    mutate(
        record,
        None,
        "$.record.growth.what_grew",
        lambda d: d["record"]["growth"].update(what_grew=["x"] * 9),
    )
    mutate(
        transcript.named("reply_get_rss_idle").data,
        "get_rss",
        "$.result",
        lambda d: d["result"].pop("running"),
    )
    mutate(transcript.named("hello").data, None, "$.type", lambda d: d.update(type="helo"))
    for data, request_type, path in cases:
        errors = kernel_message_problems(data, request_type)
        assert errors, f"a mutation at {path} went unnoticed"
        assert any(e.startswith(path) for e in errors), (path, errors)
        with pytest.raises(ProtocolViolation):
            validate_kernel_message(data, request_type)


def test_fixtures_are_written_on_request(transcript: Transcript) -> None:
    """``MEMORY_DOCTOR_WRITE_FIXTURES=1`` records the named messages for the TypeScript side."""
    named = [e for e in transcript.entries if e.name is not None]
    assert len({e.name for e in named}) == len(named)
    if os.environ.get("MEMORY_DOCTOR_WRITE_FIXTURES") != "1":
        pytest.skip("set MEMORY_DOCTOR_WRITE_FIXTURES=1 to rewrite tests/fixtures/protocol/")
    names = {e.name for e in named}
    for old in FIXTURES.glob("*/*.json"):
        # Only this scenario's: other tests record theirs (test_cluster_e2e.py, a cluster's).
        ours = "test_protocol_e2e.py" in json.loads(old.read_text(encoding="utf-8"))["description"]
        if ours and old.stem not in names:
            old.unlink()  # a message the scenario no longer names
    for entry in named:
        assert entry.name is not None
        folder = FIXTURES / ("violations" if entry.name.startswith("violation_") else "messages")
        folder.mkdir(parents=True, exist_ok=True)
        body = {
            "description": "Recorded from a real kernel by test_protocol_e2e.py; do not edit.",
            "definition": "KernelMessage",
            "request_type": entry.request_type,
            "result_definition": (
                result_definition(entry.request_type) if _get(entry.data, "ok") is True else None
            ),
            "problems": kernel_message_problems(entry.data, entry.request_type),
            "message": entry.data,
        }
        text = json.dumps(body, indent=2, ensure_ascii=False) + "\n"
        (folder / f"{entry.name}.json").write_text(text, encoding="utf-8")
