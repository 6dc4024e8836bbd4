"""The ``scan`` and ``cancel`` requests, with a fake scan engine, in a real ``InteractiveShell``.

The kernel's event loop is played by a real tornado ``IOLoop`` (what
``kernel.io_loop`` is in ipykernel 6 and 7); the engine by ``FakeScan``, which
counts its slices, so the slicing, cancelling, ``cell_ran`` and reference
rules are checked without depending on the real engine's speed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import types
import uuid
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from protocol_schema import MessageChecker, validate_kernel_message
from tornado.ioloop import IOLoop

import memory_doctor
from memory_doctor.kernel import comm as comm_shim
from memory_doctor.kernel import extension, runner
from memory_doctor.protocol import COMM_TARGET, PROTOCOL_VERSION, SCAN_OVERRUN_S

# --------------------------------------------------------------------------- fakes


class FakeComm:
    def __init__(self, checker: MessageChecker) -> None:
        self.comm_id = uuid.uuid4().hex
        self.sent: list[Any] = []
        self.msg_callback: Any = None
        self.close_callback: Any = None
        self.checker = checker

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        message = json.loads(json.dumps(data, allow_nan=False))  # plain JSON only
        self.checker.record(message)  # protocol.json; the manager fixture asserts
        self.sent.append(message)

    def close(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        pass

    def on_msg(self, callback: Any) -> None:
        self.msg_callback = callback

    def on_close(self, callback: Any) -> None:
        self.close_callback = callback

    def push(self, data: Any) -> list[Any]:
        """Deliver ``data``; return everything sent in answer (maybe nothing yet)."""
        before = len(self.sent)
        self.checker.note_request(data)
        self.msg_callback({"content": {"comm_id": self.comm_id, "data": data}, "metadata": {}})
        return self.sent[before:]

    def replies(self, request_id: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("type") == "reply" and m["request_id"] == request_id]

    def progress(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("type") == "scan_progress"]


class Manager:
    def __init__(self) -> None:
        self.targets: dict[str, Any] = {}
        #: Every message of every comm is checked against protocol.json.
        self.checker = MessageChecker()

    def register_target(self, target_name: str, f: Any) -> None:
        self.targets[target_name] = f

    def unregister_target(self, target_name: str, f: Any) -> Any:
        return self.targets.pop(target_name)

    def open(self) -> FakeComm:
        comm = FakeComm(self.checker)
        msg = {
            "content": {
                "comm_id": comm.comm_id,
                "target_name": COMM_TARGET,
                "data": {"protocol_version": PROTOCOL_VERSION},
            },
            "metadata": {"version": PROTOCOL_VERSION},
        }
        self.targets[COMM_TARGET](comm, msg)
        return comm


class FakeClock:
    """Stands in for ``time`` in the runner: ``monotonic`` and ``perf_counter``, one
    clock advanced by the fake scan."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def perf_counter(self) -> float:
        return self.now


class FakeScan:
    """Finishes after ``steps`` slices; holds the ``scan_*`` user values until ``result()``."""

    def __init__(
        self,
        user_ns: Any,
        progress: Any,
        steps: int,
        clock: FakeClock,
        on_slice: Callable[[int], None] | None = None,
    ) -> None:
        self.held = [v for k, v in user_ns.items() if k.startswith("scan_")]
        self.progress = progress
        self.steps_left = steps
        self.clock = clock
        self.on_slice = on_slice
        self.slices = 0
        self.stopped: str | None = None
        self.result_called = False

    def step(self, slice_s: float = 0.05) -> bool:
        if self.stopped is not None:
            self.finishing_step_done = True  # finishes at once, no more walking
            return True
        self.slices += 1
        self.clock.now += 0.1
        if self.on_slice is not None:
            self.on_slice(self.slices)
        self.progress("walk", self.slices * 1000, self.slices * 0.1)
        self.steps_left -= 1
        return self.steps_left <= 0

    def stop(self, reason: str) -> None:
        self.stopped = reason  # like the engine: the next step() finishes

    @property
    def finished(self) -> bool:
        return self.steps_left <= 0 or self.finishing_step_done

    finishing_step_done = False

    def result(self) -> dict[str, Any]:
        assert self.finished, "result() before the scan finished"
        self.result_called = True
        self.held = []
        return {
            "scan": {
                "duration_s": self.slices * 0.1,
                "objects_visited": self.slices * 1000,
                "complete": self.stopped is None,
                "stopped": self.stopped,
            },
            "attributed_bytes": 1000,
            "holders": [
                {
                    "id": "h1",
                    "labels": ["scan_target"],
                    "kind": "variable",
                    "roots": [{"label": "scan_target", "kind": "variable"}],
                    "type": "bytearray",
                    "retained_bytes": 1000,
                    "objects": 1,
                    "path": "scan_target",
                    "cell_id": None,
                    "execution_count": None,
                    "composition": [],
                    "shared": False,
                    "device": None,
                    "file_backed": False,
                }
            ],
            "resources": [],
        }


NO_FINDINGS = dict.fromkeys(("open_fds", "threads", "children", "cyclic_garbage", "allocator_gap"))


def no_advice(raw: Any, holders: list[Any], stopped: str | None) -> dict[str, Any]:
    """The post-scan steps, for a fake engine: nothing held open, nothing to suggest."""
    return {"resources": list(raw["resources"]), "findings": NO_FINDINGS, "suggestions": []}


class Engine:
    """The scan factory handed to the runner; remembers the scans it made."""

    def __init__(self, steps: int = 3) -> None:
        self.steps = steps
        self.scans: list[FakeScan] = []
        self.clock = FakeClock()
        self.fail_on_create = False
        self.on_slice: Callable[[int], None] | None = None

    def __call__(
        self, user_ns: Any, hidden: Any, budget_s: float, max_holders: int, progress: Any
    ) -> FakeScan:
        if self.fail_on_create:
            raise RuntimeError("engine exploded")
        scan = FakeScan(user_ns, progress, self.steps, self.clock, self.on_slice)
        self.scans.append(scan)
        return scan


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def manager() -> Iterator[Manager]:
    fake = Manager()
    previous = comm_shim.use_manager(fake)
    yield fake
    comm_shim.use_manager(previous)
    fake.checker.assert_clean()


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Engine:
    fake = Engine()
    monkeypatch.setattr(runner, "time", fake.clock)
    return fake


@pytest.fixture
def doctor(
    shell: InteractiveShell, manager: Manager, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[extension.MemoryDoctor]:
    memory_doctor.load_ipython_extension(shell)
    state = extension.get(shell)
    assert state is not None
    monkeypatch.setattr(state.runner, "scan_factory", engine)
    monkeypatch.setattr(state.runner, "advice", no_advice)
    yield state
    memory_doctor.unload_ipython_extension(shell)


@pytest.fixture
def io_loop(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[IOLoop]:
    """A kernel with a tornado io_loop, as ipykernel 6 and 7 have."""
    loop = IOLoop(make_current=False)
    monkeypatch.setattr(shell, "kernel", types.SimpleNamespace(io_loop=loop), raising=False)
    yield loop
    loop.close(all_fds=False)


def run_on(loop: IOLoop, scenario: Any) -> Any:
    return loop.run_sync(scenario, timeout=30)


async def until(condition: Any, limit: float = 20.0) -> None:
    """Let the loop run scheduled slices until ``condition()`` holds (a hang guard, no timing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, "the scan never got there"
        await asyncio.sleep(0.001)


def slices_ran(engine: Engine, n: int) -> Any:
    return lambda: bool(engine.scans) and engine.scans[0].slices >= n


def idle(doctor: extension.MemoryDoctor) -> Any:
    return lambda: doctor.runner.running is None


# --------------------------------------------------------------------------- without a loop


def test_without_a_loop_the_scan_runs_to_completion_in_the_request(shell, doctor, manager, engine):
    shell.run_cell("scan_target = bytearray(1000)", store_history=True, cell_id="cell-t")
    count = shell.execution_count - 1
    comm = manager.open()
    answers = comm.push({"type": "scan", "request_id": "s1", "budget_s": 2})
    (reply,) = [a for a in answers if a["type"] == "reply"]
    assert reply["ok"] is True and reply["request_id"] == "s1"
    result = reply["result"]
    assert list(result) == [
        "scan",
        "rss",
        "attributed_bytes",
        "unattributed_bytes",
        "freeable_bytes",
        "held_elsewhere",
        "held_elsewhere_bytes",
        "holders_total",
        "holder_index",
        "holders",
        "resources",
        "findings",
        "suggestions",
    ]
    assert result["scan"]["complete"] is True and result["scan"]["stopped"] is None
    assert result["rss"] > 0 and result["attributed_bytes"] == 1000
    assert result["unattributed_bytes"] == max(result["rss"] - 1000, 0)
    (holder,) = result["holders"]
    assert (holder["cell_id"], holder["execution_count"]) == ("cell-t", count)
    (scan,) = engine.scans
    assert scan.slices == 3 and scan.result_called and scan.held == []
    assert doctor.runner.running is None


def test_handle_request_without_a_comm_also_completes(shell, doctor, engine):
    reply = doctor.handle_request({"type": "scan", "request_id": "direct"})
    assert reply["ok"] is True and reply["result"]["scan"]["complete"] is True


BAD_PARAMS: list[dict[str, Any]] = [
    {"budget_s": 0},
    {"budget_s": -1},
    {"budget_s": 600.5},
    {"budget_s": "5"},
    {"budget_s": True},
    {"budget_s": None},
    {"budget_s": [5]},
    {"max_holders": 0},
    {"max_holders": 10_001},
    {"max_holders": 1.5},
    {"max_holders": "10"},
    {"max_holders": False},
    # Out of range for a float, not a number, infinite: bad_request, not internal.
    {"budget_s": 10**400},
    {"budget_s": -(10**400)},
    {"budget_s": float("nan")},
    {"budget_s": float("inf")},
    {"max_holders": 10**400},
    {"max_holders": -1},
]


@pytest.mark.parametrize("params", BAD_PARAMS, ids=[json.dumps(p)[:40] for p in BAD_PARAMS])
def test_invalid_scan_params_are_bad_requests(shell, doctor, manager, engine, params):
    comm = manager.open()
    (answer,) = comm.push({"type": "scan", "request_id": "bad", **params})
    assert answer["ok"] is False and answer["request_id"] == "bad"
    assert answer["error"]["code"] == "bad_request"
    (name,) = params
    assert f"'{name}'" in answer["error"]["message"]
    assert engine.scans == []  # refused before anything ran


@pytest.mark.parametrize(
    "params", [{"budget_s": 600}, {"budget_s": 0.001}, {"max_holders": 1}, {"max_holders": 10_000}]
)
def test_boundary_scan_params_are_accepted(shell, doctor, manager, engine, params):
    comm = manager.open()
    comm.push({"type": "scan", "request_id": "ok", **params})
    (answer,) = comm.replies("ok")
    assert answer["ok"] is True


def test_cancel_of_an_unknown_scan_is_false_and_bad_cancels_are_refused(shell, doctor, manager):
    comm = manager.open()
    (answer,) = comm.push({"type": "cancel", "request_id": "c1", "target": "nope"})
    assert answer == {
        "type": "reply",
        "request_id": "c1",
        "ok": True,
        "result": {"cancelled": False},
    }
    for bad in ({}, {"target": 9}, {"target": "x" * 200}):
        (answer,) = comm.push({"type": "cancel", "request_id": "c2", **bad})
        assert answer["ok"] is False and answer["error"]["code"] == "bad_request"


def test_engine_failure_is_an_internal_error_and_the_next_scan_works(
    shell, doctor, manager, engine
):
    comm = manager.open()
    engine.fail_on_create = True
    (answer,) = comm.push({"type": "scan", "request_id": "boom"})
    assert answer["ok"] is False and answer["error"]["code"] == "internal"
    assert doctor.runner.running is None
    engine.fail_on_create = False
    comm.push({"type": "scan", "request_id": "fine"})
    assert comm.replies("fine")[0]["ok"] is True


# --------------------------------------------------------------------------- on the event loop


def test_scan_runs_in_slices_and_other_requests_run_in_between(
    shell, doctor, manager, engine, io_loop
):
    engine.steps = 5
    comm = manager.open()

    async def scenario() -> None:
        answers = comm.push({"type": "scan", "request_id": "s"})
        assert [a["type"] for a in answers] == ["scan_progress"]  # the reply comes later
        (scan,) = engine.scans
        assert scan.slices == 1  # the first slice ran inside the request
        # Between slices the kernel answers other requests at once.
        (rss,) = comm.push({"type": "get_rss", "request_id": "r"})
        assert rss["ok"] and scan.slices == 1
        await until(idle(doctor))
        assert scan.slices == 5

    run_on(io_loop, scenario)
    (reply,) = comm.replies("s")
    assert reply["result"]["scan"]["complete"] is True
    assert doctor.runner.running is None


def test_cancel_between_slices_replies_with_the_partial_result(
    shell, doctor, manager, engine, io_loop
):
    engine.steps = 1000
    comm = manager.open()

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "long"})
        await until(slices_ran(engine, 3))
        answers = comm.push({"type": "cancel", "request_id": "stop", "target": "long"})
        # The scan's own reply first, then the cancel's.
        assert [a["request_id"] for a in answers] == ["long", "stop"]
        assert answers[1]["result"] == {"cancelled": True}
        await asyncio.sleep(0.05)  # a slice scheduled before the cancel gets its chance

    run_on(io_loop, scenario)
    (scan,) = engine.scans
    assert 1 < scan.slices < 10  # no slice ran after the cancel
    assert scan.stopped == "cancelled" and scan.result_called
    (reply,) = comm.replies("long")
    summary = reply["result"]["scan"]
    assert summary == {
        "duration_s": pytest.approx(scan.slices * 0.1),
        "objects_visited": scan.slices * 1000,
        "complete": False,
        "stopped": "cancelled",
        "engine": summary["engine"],
        "peak_extra_bytes": summary["peak_extra_bytes"],
        "left_behind_bytes": summary["left_behind_bytes"],
    }
    (again,) = comm.push({"type": "cancel", "request_id": "late", "target": "long"})
    assert again["result"] == {"cancelled": False}


def test_a_second_scan_while_one_runs_is_refused(shell, doctor, manager, engine, io_loop):
    engine.steps = 1000
    first, second = manager.open(), manager.open()

    async def scenario() -> None:
        first.push({"type": "scan", "request_id": "one"})
        (answer,) = second.push({"type": "scan", "request_id": "two"})
        assert answer["ok"] is False and answer["error"]["code"] == "bad_request"
        assert "'one'" in answer["error"]["message"] and "cancel" in answer["error"]["message"]
        first.push({"type": "cancel", "request_id": "c", "target": "one"})

    run_on(io_loop, scenario)
    assert len(engine.scans) == 1
    assert first.replies("one")[0]["result"]["scan"]["stopped"] == "cancelled"
    assert second.replies("one") == []  # the reply goes to the comm that asked


def test_a_cell_starting_stops_the_scan_before_it_runs(shell, doctor, manager, engine, io_loop):
    engine.steps = 1000
    comm = manager.open()

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "s"})
        await until(slices_ran(engine, 3))
        sent = len(comm.sent)
        result = shell.run_cell("scan_cell_ran = 1", store_history=True)
        assert result.success
        types_after = [m["type"] for m in comm.sent[sent:]]
        # pre_run_cell replied (cell_ran) before the cell's own record.
        assert types_after == ["reply", "cell_measured"]
        await asyncio.sleep(0.05)

    run_on(io_loop, scenario)
    (scan,) = engine.scans
    assert scan.stopped == "cell_ran" and scan.result_called
    (reply,) = comm.replies("s")
    assert reply["result"]["scan"]["stopped"] == "cell_ran"
    assert reply["result"]["scan"]["complete"] is False
    assert scan.slices < 10


def test_a_scan_asked_for_during_a_cell_waits_for_it(doctor, manager, engine, io_loop, monkeypatch):
    busy = [True]
    monkeypatch.setattr(doctor.runner, "is_cell_running", lambda: busy[0])
    comm = manager.open()

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "s"})
        await asyncio.sleep(0.3)
        assert engine.scans == []  # waited: a cell is running
        busy[0] = False
        await asyncio.sleep(0.3)

    run_on(io_loop, scenario)
    assert len(engine.scans) == 1
    assert comm.replies("s")[0]["result"]["scan"]["complete"] is True


@pytest.mark.parametrize("ending", ["cancelled", "cell_ran"])
def test_a_scan_that_never_started_has_every_section_empty(
    doctor, manager, io_loop, monkeypatch, ending
):
    """Queued behind a cell, then cancelled or given up on (``cell_ran``): a 1.2 result
    with empty resources and suggestions and unknown findings, and no post-scan advice:
    nothing was scanned, and the cell it waited for may still run."""
    engine = doctor.runner.scan_factory
    monkeypatch.setattr(doctor.runner, "is_cell_running", lambda: True)
    advised: list[Any] = []

    def advice(raw: Any, holders: list[Any], stopped: str | None) -> dict[str, Any]:
        advised.append(stopped)
        return no_advice(raw, holders, stopped)

    monkeypatch.setattr(doctor.runner, "advice", advice)
    comm = manager.open()

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "s", "budget_s": 1})
        assert doctor.runner.running == "s"
        if ending == "cancelled":
            answers = comm.push({"type": "cancel", "request_id": "c", "target": "s"})
            # The scan's own reply first, then the cancel's.
            assert [a["request_id"] for a in answers] == ["s", "c"]
            assert answers[1]["result"] == {"cancelled": True}
        else:
            engine.clock.now += 1 + SCAN_OVERRUN_S + 0.5  # never a quiet moment
        await until(idle(doctor))

    run_on(io_loop, scenario)
    (reply,) = comm.replies("s")
    validate_kernel_message(reply, "scan")
    assert reply["result"] == {
        "scan": {
            "duration_s": 0.0,
            "objects_visited": 0,
            "complete": False,
            "stopped": ending,
            "engine": reply["result"]["scan"]["engine"],
            "peak_extra_bytes": None,
            "left_behind_bytes": None,
        },
        "rss": reply["result"]["rss"],
        "attributed_bytes": 0,
        "unattributed_bytes": reply["result"]["rss"],
        "freeable_bytes": 0,
        "held_elsewhere": [],
        "held_elsewhere_bytes": 0,
        "holders_total": 0,
        "holder_index": [],
        "holders": [],
        "resources": [],
        "findings": NO_FINDINGS,
        "suggestions": [],
    }
    assert engine.scans == [] and advised == []


def test_progress_is_sent_at_most_every_quarter_second(shell, doctor, manager, engine, io_loop):
    engine.steps = 20  # each fake slice advances the fake clock by 0.1 s
    comm = manager.open()

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "p"})
        await until(idle(doctor))

    run_on(io_loop, scenario)
    progress = comm.progress()
    assert 4 <= len(progress) <= 8  # 2 s of fake time, one per >= 0.25 s
    assert all(p["request_id"] == "p" and p["phase"] == "walk" for p in progress)
    visited = [p["objects_visited"] for p in progress]
    assert visited == sorted(visited) and min(b - a for a, b in zip(visited, visited[1:])) >= 3000
    assert comm.replies("p")[0]["ok"] is True


def test_closing_the_comm_drops_the_scan_without_a_reply(shell, doctor, manager, engine, io_loop):
    engine.steps = 1000
    comm = manager.open()

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "s"})
        await until(slices_ran(engine, 3))
        comm.close_callback({"content": {"comm_id": comm.comm_id, "data": {}}})
        await asyncio.sleep(0.05)

    run_on(io_loop, scenario)
    (scan,) = engine.scans
    assert scan.result_called and scan.held == []
    assert comm.replies("s") == []
    assert doctor.runner.running is None


def test_no_reference_to_user_objects_survives_the_reply(shell, doctor, manager, engine, io_loop):
    class Blob:
        pass

    shell.user_ns["scan_blob"] = Blob()
    ref = weakref.ref(shell.user_ns["scan_blob"])
    comm = manager.open()

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "s"})
        assert engine.scans[0].held  # the engine holds it while scanning
        await until(idle(doctor))

    run_on(io_loop, scenario)
    assert comm.replies("s")[0]["ok"] is True
    del shell.user_ns["scan_blob"]
    gc.collect()
    assert ref() is None


def test_unload_during_a_scan_drops_it(shell, manager, engine, io_loop, monkeypatch):
    memory_doctor.load_ipython_extension(shell)
    state = extension.get(shell)
    assert state is not None
    monkeypatch.setattr(state.runner, "scan_factory", engine)
    monkeypatch.setattr(state.runner, "advice", no_advice)
    engine.steps = 1000
    comm = manager.open()

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "s"})
        memory_doctor.unload_ipython_extension(shell)
        await asyncio.sleep(0.05)

    run_on(io_loop, scenario)
    (scan,) = engine.scans
    assert scan.result_called and scan.slices == 1
    assert state.runner.running is None


# --------------------------------------------------------------------------- interrupts


def test_an_interrupt_during_a_slice_ends_the_scan_with_interrupted(
    shell, doctor, manager, engine, io_loop
):
    engine.steps = 1000

    def interrupt(n: int) -> None:
        if n == 3:
            raise KeyboardInterrupt

    engine.on_slice = interrupt
    comm = manager.open()

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "s"})
        await until(idle(doctor))

    run_on(io_loop, scenario)
    (reply,) = comm.replies("s")
    assert reply["ok"] is True, reply  # a stopped scan, not an internal error
    assert reply["result"]["scan"]["stopped"] == "interrupted"
    assert reply["result"]["scan"]["complete"] is False
    (scan,) = engine.scans
    assert scan.result_called and scan.held == [] and scan.slices == 3


def test_sigint_while_ipykernel_ignores_it_still_ends_the_scan(
    shell, doctor, manager, engine, io_loop
):
    """Between its request handlers ipykernel ignores SIGINT; a slice runs there."""
    engine.steps = 1000
    engine.on_slice = lambda n: os.kill(os.getpid(), signal.SIGINT) if n == 3 else None
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        comm = manager.open()

        async def scenario() -> None:
            comm.push({"type": "scan", "request_id": "s"})
            await until(idle(doctor))

        run_on(io_loop, scenario)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # ignored again
    finally:
        signal.signal(signal.SIGINT, previous)
    (reply,) = comm.replies("s")
    assert reply["ok"] is True and reply["result"]["scan"]["stopped"] == "interrupted"
    assert engine.scans[0].slices <= 4


class SlicedAdvice:
    """Advice that takes ``steps`` slices; records each step's ``optional``."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.calls: list[bool] = []

    def __call__(self, raw: Any, holders: list[Any], stopped: str | None) -> SlicedAdvice:
        self.stopped = stopped
        return self

    def step(self, deadline: float, optional: bool) -> bool:
        self.calls.append(optional)
        return len(self.calls) >= self.steps

    def result(self) -> dict[str, Any]:
        return {"resources": [], "findings": NO_FINDINGS, "suggestions": []}


def test_the_advice_runs_in_slices_and_a_cancel_meanwhile_answers_at_once(
    doctor, manager, engine, io_loop, monkeypatch
):
    advice = SlicedAdvice(steps=1000)
    monkeypatch.setattr(doctor.runner, "advice", advice)
    comm = manager.open()

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "s"})
        await until(lambda: len(advice.calls) >= 3)
        assert comm.replies("s") == []  # the walk is over; the advice is still going
        answers = comm.push({"type": "cancel", "request_id": "c", "target": "s"})
        assert [a["request_id"] for a in answers] == ["s", "c"]

    run_on(io_loop, scenario)
    (reply,) = comm.replies("s")
    assert reply["ok"] is True and reply["result"]["scan"]["stopped"] == "cancelled"
    assert len(advice.calls) < 10  # no advice slice after the cancel


def test_the_advice_skips_what_it_can_once_the_budget_is_spent(
    doctor, manager, engine, io_loop, monkeypatch
):
    advice = SlicedAdvice(steps=20)
    monkeypatch.setattr(doctor.runner, "advice", advice)
    engine.on_slice = lambda n: None
    comm = manager.open()

    def slow(deadline: float, optional: bool) -> bool:
        engine.clock.now += 0.1  # each advice slice takes 0.1 s of the budget
        return SlicedAdvice.step(advice, deadline, optional)

    monkeypatch.setattr(advice, "step", slow)

    async def scenario() -> None:
        comm.push({"type": "scan", "request_id": "s", "budget_s": 1})
        await until(idle(doctor))

    run_on(io_loop, scenario)
    # 3 scan slices (0.3 s), then advice slices: optional while under 1 s.
    assert advice.calls[:5] == [True] * 5 and advice.calls[-1] is False
    (reply,) = comm.replies("s")
    assert reply["result"]["scan"]["duration_s"] == pytest.approx(0.3 + 20 * 0.1)


def test_the_reply_says_what_the_scan_cost(shell, doctor, manager, engine):
    comm = manager.open()
    (reply,) = [a for a in comm.push({"type": "scan", "request_id": "s"}) if a["type"] == "reply"]
    summary = reply["result"]["scan"]
    assert summary["engine"] in ("native", "python")
    assert isinstance(summary["left_behind_bytes"], int)
    if os.path.exists("/proc/self/clear_refs"):
        assert isinstance(summary["peak_extra_bytes"], int) and summary["peak_extra_bytes"] >= 0
