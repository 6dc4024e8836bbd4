"""Unit tests of the kernel helper in a real IPython ``InteractiveShell``.

No kernel here: comms go through a recording fake swapped in with
``memory_doctor.kernel.comm.use_manager`` (the shim exists for this).
"""

from __future__ import annotations

import gc
import json
import mmap
import subprocess
import sys
import threading
import tracemalloc
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from protocol_schema import MessageChecker

import memory_doctor
from memory_doctor.kernel import comm as comm_shim
from memory_doctor.kernel import extension, measure
from memory_doctor.protocol import (
    COMM_TARGET,
    PROTOCOL_VERSION,
    RECORD_FIELDS,
    REQUESTS,
)

# --------------------------------------------------------------------------- fakes


class FakeComm:
    """Records what the helper sends (checked against protocol.json); plays the front end."""

    def __init__(self, checker: MessageChecker) -> None:
        self.checker = checker
        self.comm_id = uuid.uuid4().hex
        self.sent: list[Any] = []
        self.closed = False
        self.msg_callback: Any = None
        self.close_callback: Any = None

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        # What reaches the wire must be plain JSON (no user objects), and follow
        # protocol.json (the manager fixture asserts it).
        message = json.loads(json.dumps(data, allow_nan=False))
        self.checker.record(message)
        self.sent.append(message)

    def close(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self.closed = True

    def on_msg(self, callback: Any) -> None:
        self.msg_callback = callback

    def on_close(self, callback: Any) -> None:
        self.close_callback = callback

    # front-end side
    def deliver(self, data: Any) -> Any:
        """Send ``data`` as a comm_msg; return the one answer it produced."""
        before = len(self.sent)
        self.checker.note_request(data)
        self.msg_callback({"content": {"comm_id": self.comm_id, "data": data}, "metadata": {}})
        (answer,) = self.sent[before:]
        return answer

    def close_from_frontend(self) -> None:
        self.close_callback({"content": {"comm_id": self.comm_id, "data": {}}})

    def measured(self) -> list[dict[str, Any]]:
        return [m["record"] for m in self.sent if m.get("type") == "cell_measured"]


class RecordingManager:
    """Stands in for ipykernel's CommManager."""

    def __init__(self) -> None:
        self.targets: dict[str, Any] = {}
        self.registrations = 0
        #: Every message of every comm is checked against protocol.json.
        self.checker = MessageChecker()

    def register_target(self, target_name: str, f: Any) -> None:
        self.registrations += 1
        self.targets[target_name] = f

    def unregister_target(self, target_name: str, f: Any) -> Any:
        return self.targets.pop(target_name)

    def open(self, data: Any = None, metadata: Any = None) -> FakeComm:
        if data is None:
            data = {"protocol_version": PROTOCOL_VERSION, "client": "test"}
        if metadata is None:
            metadata = {"version": PROTOCOL_VERSION}
        comm = FakeComm(self.checker)
        msg = {
            "content": {"comm_id": comm.comm_id, "target_name": COMM_TARGET, "data": data},
            "metadata": metadata,
        }
        self.targets[COMM_TARGET](comm, msg)
        return comm


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def manager() -> Iterator[RecordingManager]:
    fake = RecordingManager()
    previous = comm_shim.use_manager(fake)
    yield fake
    comm_shim.use_manager(previous)
    fake.checker.assert_clean()


@pytest.fixture
def doctor(shell: InteractiveShell, manager: RecordingManager) -> Iterator[extension.MemoryDoctor]:
    memory_doctor.load_ipython_extension(shell)
    state = extension.get(shell)
    assert state is not None
    yield state
    memory_doctor.unload_ipython_extension(shell)


def ours(shell: InteractiveShell, event: str) -> list[Any]:
    return [
        cb
        for cb in shell.events.callbacks[event]
        if isinstance(getattr(cb, "__self__", None), extension.MemoryDoctor)
    ]


def run(shell: InteractiveShell, code: str, **kwargs: Any) -> Any:
    kwargs.setdefault("store_history", True)
    return shell.run_cell(code, **kwargs)


# --------------------------------------------------------------------------- lifecycle


def test_load_twice_registers_once(shell, manager):
    memory_doctor.load_ipython_extension(shell)
    first = extension.get(shell)
    memory_doctor.load_ipython_extension(shell)
    try:
        assert extension.get(shell) is first
        assert len(ours(shell, "pre_run_cell")) == 1
        assert len(ours(shell, "post_run_cell")) == 1
        assert manager.registrations == 1
        # Never the pre_execute/post_execute events, which comm traffic fires too.
        assert not ours(shell, "pre_execute") and not ours(shell, "post_execute")
        comm = manager.open()
        run(shell, "x_twice = 1")
        assert len(comm.measured()) == 1
    finally:
        memory_doctor.unload_ipython_extension(shell)


def test_load_ext_magic_is_idempotent_and_silent(shell, manager, capsys):
    history = len(shell.history_manager.input_hist_raw)
    shell.run_cell("%load_ext memory_doctor", silent=True)
    shell.run_cell("%load_ext memory_doctor", silent=True)
    try:
        assert len(ours(shell, "post_run_cell")) == 1
        assert manager.registrations == 1
        assert len(shell.history_manager.input_hist_raw) == history
    finally:
        shell.run_cell("%unload_ext memory_doctor", silent=True)
    assert not ours(shell, "post_run_cell")
    # IPython itself (not the helper) says so on the second %load_ext; nothing else is printed.
    out = capsys.readouterr()
    assert out.err == ""
    expected = "The memory_doctor extension is already loaded. To reload it, use: %reload_ext"
    assert out.out.split() == [*expected.split(), "memory_doctor"]


def test_unload_removes_hooks_target_and_comms(shell, manager):
    memory_doctor.load_ipython_extension(shell)
    state = extension.get(shell)
    tab1, tab2 = manager.open(), manager.open()
    assert len(state.comm_ids) == 2

    memory_doctor.unload_ipython_extension(shell)
    assert not ours(shell, "pre_run_cell") and not ours(shell, "post_run_cell")
    assert COMM_TARGET not in manager.targets
    assert tab1.closed and tab2.closed
    assert tab1.msg_callback is None and tab2.close_callback is None
    assert extension.get(shell) is None
    sent = len(tab1.sent)
    run(shell, "x_after_unload = 1")
    assert len(tab1.sent) == sent

    # Nothing else holds the helper: it is freed.
    ref = weakref.ref(state)
    del state
    gc.collect()
    assert ref() is None
    memory_doctor.unload_ipython_extension(shell)  # a second unload is harmless


def test_terminal_shell_without_kernel_still_records(shell):
    previous = comm_shim.use_manager(None)  # InteractiveShell has no .kernel: no comm
    try:
        memory_doctor.load_ipython_extension(shell)
        state = extension.get(shell)
        run(shell, "x_terminal = [0] * 1000")
        (record,) = state.records
        assert record["status"] == "ok" and record["execution_count"] > 0
    finally:
        memory_doctor.unload_ipython_extension(shell)
        comm_shim.use_manager(previous)


def test_no_names_and_no_history_added(shell, manager):
    names = set(shell.user_ns)
    hidden = set(shell.user_ns_hidden)
    history = len(shell.history_manager.input_hist_raw)
    count = shell.execution_count

    shell.run_cell("%load_ext memory_doctor", silent=True)
    try:
        comm = manager.open()
        comm.deliver({"type": "get_rss", "request_id": "1"})
        comm.deliver({"type": "configure", "request_id": "2", "tracemalloc": False})
        comm.deliver(["not", "a", "dict"])
        assert set(shell.user_ns) == names
        assert set(shell.user_ns_hidden) == hidden
        assert len(shell.history_manager.input_hist_raw) == history
        assert shell.execution_count == count

        # A measured cell adds exactly what IPython itself adds for it.
        run(shell, "x_names = 1")
        assert set(shell.user_ns) - names == {"x_names", f"_i{count}"}
    finally:
        shell.run_cell("%unload_ext memory_doctor", silent=True)


# --------------------------------------------------------------------------- measuring


def test_record_shape_and_cell_id(shell, doctor, manager):
    comm = manager.open()
    result = run(shell, "x_shape = b'x' * (10 * 2**20)", cell_id="cell-abc")
    (record,) = comm.measured()
    assert tuple(record) == RECORD_FIELDS
    assert all(isinstance(v, (int, float, str)) or v is None for v in record.values())
    assert record["cell_id"] == "cell-abc"
    assert record["execution_count"] == result.execution_count
    assert record["status"] == "ok"
    assert record["rss_delta"] == record["rss_after"] - record["rss_before"]
    assert record["peak_increase"] == record["peak_rss"] - record["rss_before"]
    assert record["peak_rss"] >= max(record["rss_before"], record["rss_after"])
    assert record["peak_method"] == doctor.probe.method
    assert record["duration_s"] >= 0 and record["gc_collections"] >= 0
    assert record["py_heap_delta"] is None and record["py_heap_peak"] is None
    # No magnitude check here: this shell shares the pytest process, whose
    # allocator may serve the 10 MiB from pages earlier tests left resident.
    # tests/test_kernel_e2e.py checks magnitudes in a fresh kernel.


def test_cell_id_falls_back_to_execute_request_metadata(shell, doctor, manager, monkeypatch):
    class FakeKernel:
        def get_parent(self) -> dict[str, Any]:
            return {"header": {"msg_id": "m1"}, "metadata": {"cellId": "from-metadata"}}

    monkeypatch.setattr(shell, "kernel", FakeKernel(), raising=False)
    comm = manager.open()
    run(shell, "x_meta = 1")  # no cell_id argument, as IPython < 8.3 would call us
    assert comm.measured()[-1]["cell_id"] == "from-metadata"
    run(shell, "x_meta = 2", cell_id="explicit")
    assert comm.measured()[-1]["cell_id"] == "explicit"


def test_raising_cell_is_an_error_record_and_helper_does_not_raise(shell, doctor, manager, capsys):
    comm = manager.open()
    result = run(shell, "1 / 0")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    result = run(shell, "def broken(:\n    pass")
    assert result.error_before_exec is not None
    first, second = comm.measured()
    assert first["status"] == "error" and second["status"] == "error"
    assert second["execution_count"] == first["execution_count"] + 1
    out = capsys.readouterr()
    assert "ZeroDivisionError" in out.out + out.err  # IPython's own traceback
    assert "memory_doctor" not in out.out + out.err
    run(shell, "x_fine = 1")
    assert comm.measured()[-1]["status"] == "ok"


def test_silent_and_no_history_runs_are_ignored(shell, doctor, manager):
    comm = manager.open()
    run(shell, "x_silent = 1", silent=True)
    run(shell, "x_nohist = 1", store_history=False)
    assert comm.measured() == [] and doctor.records == []
    run(shell, "x_counted = 1")
    assert len(comm.measured()) == 1


def test_empty_and_nested_cells(shell, doctor, manager):
    comm = manager.open()
    run(shell, "   ")  # IPython fires post_run_cell but not pre_run_cell
    assert comm.measured() == []
    result = run(shell, "get_ipython().run_cell('x_inner = 1', store_history=True)")
    (record,) = comm.measured()  # the inner run belongs to the outer cell
    assert record["execution_count"] == result.execution_count
    run(shell, "x_next = 1")
    assert len(comm.measured()) == 2


def test_failing_probe_neither_raises_nor_prints(shell, doctor, manager, capsys, monkeypatch):
    comm = manager.open()

    def boom(*args: Any) -> Any:
        raise OSError("probe exploded")

    monkeypatch.setattr(doctor.probe, "start", boom)
    result = run(shell, "x_probe = 1")
    assert result.success
    monkeypatch.undo()
    monkeypatch.setattr(doctor.probe, "stop", boom)
    monkeypatch.setattr(extension, "gc_collections", boom)
    result = run(shell, "x_probe = 2")
    assert result.success
    assert capsys.readouterr() == ("", "")
    assert comm.measured() == []


def test_broken_comm_send_does_not_break_cells(shell, doctor, manager, capsys):
    comm = manager.open()

    def broken_send(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("socket closed")

    comm.send = broken_send  # type: ignore[method-assign]
    result = run(shell, "x_send = 1")
    assert result.success
    assert len(doctor.records) == 1
    assert capsys.readouterr() == ("", "")


def test_no_reference_kept_to_user_objects_or_results(shell, doctor, manager, capsys):
    comm = manager.open()
    run(shell, "import weakref as _wr\nclass _Big: pass\nbig = _Big()\nbig_ref = _wr.ref(big)")
    ref = shell.user_ns.pop("big_ref")
    result = run(shell, "big")  # the value is the cell's result (and IPython's Out)
    assert result.result is not None
    result_ref = weakref.ref(result)
    count = result.execution_count
    del result
    # Not measured, so nothing of ours replaces what the measured cell left behind;
    # it does replace IPython's last_execution_result.
    run(shell, "del big", store_history=False)
    shell.displayhook.flush()  # IPython's own Out / _ references
    # IPython also keeps `_` (9.x) or `_<n>` (8.x) in user_ns_hidden.
    for namespace in (shell.user_ns, shell.user_ns_hidden):
        namespace.pop(f"_{count}", None)
        for name in ("_", "__", "___"):
            if name in namespace:
                namespace[name] = ""
    shell.user_ns.pop("_Big", None)
    gc.collect()
    assert ref() is None
    assert result_ref() is None
    assert len(comm.measured()) == 2
    capsys.readouterr()


# --------------------------------------------------------------------------- comms


def test_hello_replays_records_up_to_the_limit(shell, manager, monkeypatch):
    monkeypatch.setattr(extension, "MAX_REPLAY_RECORDS", 3)
    memory_doctor.load_ipython_extension(shell)
    try:
        counts = [run(shell, f"x_replay = {i}").execution_count for i in range(5)]
        comm = manager.open(data={"protocol_version": "1.9", "config": {"tracemalloc": False}})
        hello = comm.sent[0]
        assert hello["type"] == "hello"
        assert hello["protocol_version"] == PROTOCOL_VERSION
        assert hello["helper_version"] == memory_doctor.__version__
        assert hello["peak_exact"] is (hello["peak_method"] == "vmhwm")
        assert hello["rss"] > 0 and hello["config"] == {
            "tracemalloc": False,
            "leak_threshold_bytes": 1 << 20,
        }
        assert [r["execution_count"] for r in hello["records"]] == counts[-3:]
    finally:
        memory_doctor.unload_ipython_extension(shell)


def test_several_comms_each_get_one_record_and_close_independently(shell, doctor, manager):
    tab1, tab2 = manager.open(), manager.open()
    run(shell, "x_tabs = 1")
    assert len(tab1.measured()) == 1 and len(tab2.measured()) == 1
    tab1.close_from_frontend()
    assert doctor.comm_ids == [tab2.comm_id]
    run(shell, "x_tabs = 2")
    assert len(tab1.measured()) == 1 and len(tab2.measured()) == 2


@pytest.mark.parametrize(
    "case",
    [
        # (comm_open data, comm_open metadata, the front-end version the message names)
        ({"protocol_version": "2.0"}, {"version": "2.0"}, "2.0"),
        ({"protocol_version": "1.0"}, {"version": "0.3"}, "0.3"),
        ({"protocol_version": 2}, {}, "2"),
        ({}, {}, "(none)"),
    ],
)
def test_protocol_mismatch_sends_error_naming_both_versions(shell, doctor, manager, case):
    data, metadata, frontend = case
    comm = manager.open(data=data, metadata=metadata)
    (error,) = comm.sent
    assert error["type"] == "error" and error["code"] == "protocol_mismatch"
    assert f"protocol {frontend} " in error["message"]
    assert f"speaks {PROTOCOL_VERSION}" in error["message"]
    assert "pip install" in error["message"]
    assert comm.closed
    assert doctor.comm_ids == []


def test_comm_open_with_config_enables_tracemalloc(shell, doctor, manager):
    was_tracing = tracemalloc.is_tracing()
    comm = manager.open(data={"protocol_version": "1.0", "config": {"tracemalloc": True}})
    try:
        assert comm.sent[0]["config"] == {"tracemalloc": True, "leak_threshold_bytes": 1 << 20}
        run(shell, "x_heap = [0] * 100_000")
        record = comm.measured()[-1]
        assert record["py_heap_delta"] >= 100_000 * 8
        assert record["py_heap_peak"] >= record["py_heap_delta"]
    finally:
        comm.deliver({"type": "configure", "request_id": "off", "tracemalloc": False})
    assert tracemalloc.is_tracing() == was_tracing


def test_tracemalloc_started_by_the_user_is_left_running(shell, doctor, manager):
    tracemalloc.start()
    try:
        comm = manager.open()
        assert comm.deliver({"type": "configure", "request_id": "1", "tracemalloc": True})["ok"]
        assert comm.deliver({"type": "configure", "request_id": "2", "tracemalloc": False})["ok"]
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


BAD_REQUESTS: list[tuple[Any, str, Any]] = [
    # (data, expected error code, expected request_id)
    (["a", "list"], "bad_request", None),
    ("configure", "bad_request", None),
    (None, "bad_request", None),
    (42, "bad_request", None),
    ({"type": "get_rss"}, "bad_request", None),
    ({"type": "get_rss", "request_id": 7}, "bad_request", None),
    ({"type": "get_rss", "request_id": "x" * 10_000}, "bad_request", None),
    ({"type": 3, "request_id": "r1"}, "bad_request", "r1"),
    ({"type": None, "request_id": "r2"}, "bad_request", "r2"),
    ({"type": "frobnicate", "request_id": "r3"}, "unknown_request", "r3"),
    ({"type": "configure", "request_id": "r4", "tracemalloc": "yes"}, "bad_request", "r4"),
    ({"type": "configure", "request_id": "r5", "colour": True}, "bad_request", "r5"),
    ({"type": "configure", "request_id": "r6", "tracemalloc": 1}, "bad_request", "r6"),
    ({"type": "get_rss", "request_id": "r7", "pad": "x" * 100_000}, "bad_request", "r7"),
    ({"type": "get_rss", "request_id": "r8", "pad": [[[[[]]]]] * 20_000}, "bad_request", "r8"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_requests_always_get_an_answer(shell, doctor, manager, case):
    data, code, request_id = case
    comm = manager.open()
    answer = comm.deliver(data)
    if request_id is None and not isinstance(data, dict):
        assert answer["type"] == "error" and answer["code"] == code
        assert answer["protocol_version"] == PROTOCOL_VERSION
    else:
        assert answer["type"] == "reply" and answer["ok"] is False
        assert answer["request_id"] == request_id
        assert answer["error"]["code"] == code
        assert answer["error"]["message"]
    assert doctor.config == {"tracemalloc": False, "leak_threshold_bytes": 1 << 20}
    run(shell, "x_after_bad = 1")
    assert len(comm.measured()) == 1


def test_deeply_nested_request_is_refused(shell, doctor, manager):
    nested: Any = []
    for _ in range(5000):
        nested = [nested]
    comm = manager.open()
    answer = comm.deliver({"type": "get_rss", "request_id": "deep", "pad": nested})
    assert answer["ok"] is False and answer["error"]["code"] == "bad_request"


def test_unknown_request_message_lists_known_types(shell, doctor, manager):
    answer = manager.open().deliver({"type": "frobnicate", "request_id": "8"})
    known = "configure, get_rss, scan, cancel, apply_fix"
    assert answer["error"]["message"].startswith(
        f"Unknown request type 'frobnicate'. Known: {known}"
    )
    assert answer["error"]["message"].endswith(f"{', '.join(REQUESTS)}.")


def test_get_rss_and_configure(shell, doctor, manager):
    comm = manager.open()
    reply = comm.deliver({"type": "get_rss", "request_id": "7", "future_field": 1})
    assert reply["ok"] and reply["request_id"] == "7"
    assert reply["result"]["rss"] > 0
    assert reply["result"]["peak_rss"] >= reply["result"]["rss"]
    reply = comm.deliver({"type": "configure", "request_id": "1"})
    assert reply == {
        "type": "reply",
        "request_id": "1",
        "ok": True,
        "result": {"config": {"tracemalloc": False, "leak_threshold_bytes": 1 << 20}},
    }


def test_internal_failure_becomes_an_internal_error_reply(shell, doctor, manager, monkeypatch):
    def boom() -> int:
        raise RuntimeError("no rss for you")

    comm = manager.open()
    monkeypatch.setattr(extension, "current_rss", boom)
    answer = comm.deliver({"type": "get_rss", "request_id": "9"})
    assert answer["ok"] is False and answer["request_id"] == "9"
    assert answer["error"]["code"] == "internal"
    # Failing while opening: an error message, then the comm is closed.
    broken = manager.open()
    assert broken.sent[-1]["type"] == "error" and broken.sent[-1]["code"] == "internal"
    assert broken.closed and broken.comm_id not in doctor.comm_ids
    assert comm.comm_id in doctor.comm_ids


# --------------------------------------------------------------------------- probes


def test_import_without_ipython_never_raises():
    code = (
        "import sys; sys.modules['IPython'] = None; sys.modules['ipykernel'] = None; "
        "import memory_doctor; "
        "assert memory_doctor._jupyter_labextension_paths() == "
        "[{'src': 'labextension', 'dest': 'jupyterlab-memory-doctor'}]; "
        "assert 'IPython' not in sys.modules or sys.modules['IPython'] is None; "
        "print(memory_doctor.__version__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and done.stderr == ""


@pytest.mark.parametrize(
    ("probe_class", "method"),
    [(measure.RuMaxrssProbe, "ru_maxrss"), (measure.NoPeakProbe, "none")],
)
def test_fallback_probes_label_themselves_inexact(probe_class, method):
    probe = probe_class()
    assert probe.method == method and probe.exact is False
    before = probe.start()
    keep = bytearray(8 * 2**20)
    after, peak = probe.stop()
    assert before > 0 and after > 0
    assert peak >= max(before, after)
    del keep
    probe.close()


def test_select_probe_falls_back_in_order(monkeypatch):
    def unavailable() -> None:
        raise OSError("clear_refs not writable")

    monkeypatch.setattr(measure, "VmHWMProbe", unavailable)
    assert measure.select_probe().method == "ru_maxrss"
    monkeypatch.setattr(measure, "RuMaxrssProbe", unavailable)
    assert measure.select_probe().method == "none"


def test_hello_and_records_report_a_fallback_probe(shell, manager, monkeypatch):
    monkeypatch.setattr(extension, "select_probe", measure.NoPeakProbe)
    memory_doctor.load_ipython_extension(shell)
    try:
        comm = manager.open()
        hello = comm.sent[0]
        assert hello["peak_method"] == "none" and hello["peak_exact"] is False
        run(shell, "x_fallback = 1")
        (record,) = comm.measured()
        assert record["peak_method"] == "none"
        assert record["peak_rss"] == max(record["rss_before"], record["rss_after"])
    finally:
        memory_doctor.unload_ipython_extension(shell)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux only")
def resident_spike(size: int) -> None:
    """Make ``size`` bytes resident, then give them back to the OS. From a fresh
    mapping, not the allocator: in a process with history (the whole suite) a
    bytearray can come from free memory that is resident already, and RSS then
    never rises."""
    spike = mmap.mmap(-1, size)
    try:
        for offset in range(0, size, mmap.PAGESIZE):
            spike[offset] = 1
    finally:
        spike.close()


def test_vmhwm_probe_sees_a_freed_spike():
    try:
        probe = measure.VmHWMProbe()
    except OSError:
        pytest.skip("clear_refs is not writable here")
    before = probe.start()
    resident_spike(64 * 2**20)
    after, peak = probe.stop()
    probe.close()
    assert peak - before >= 60 * 2**20
    assert after - before < 32 * 2**20


def test_concurrent_cells_on_other_threads_keep_their_peaks(shell, doctor, manager):
    """ipykernel 7 subshells run cells on other threads: a cell starting there resets
    VmHWM, so the helper folds the peak so far into the cells already running."""
    if doctor.probe.method != "vmhwm":
        pytest.skip("only the vmhwm probe can be reset")

    class Info:
        silent = False
        store_history = True
        cell_meta = None

        def __init__(self, cell_id: str) -> None:
            self.cell_id = cell_id

    class Result:
        error_before_exec = None
        error_in_exec = None

        def __init__(self, info: Info, count: int) -> None:
            self.info = info
            self.execution_count = count

    comm = manager.open()
    started, finish = threading.Event(), threading.Event()

    def long_cell() -> None:
        info = Info("long")
        doctor._pre_run_cell(info)
        started.set()
        finish.wait(30)
        doctor._post_run_cell(Result(info, 1))

    def short_cell() -> None:
        info = Info("short")
        doctor._pre_run_cell(info)
        doctor._post_run_cell(Result(info, 2))

    worker = threading.Thread(target=long_cell)
    worker.start()
    assert started.wait(30)
    resident_spike(64 * 2**20)  # during "long" only, freed before "short" starts
    other = threading.Thread(target=short_cell)
    other.start()
    other.join(30)
    finish.set()
    worker.join(30)
    records = {r["cell_id"]: r for r in comm.measured()}
    assert records["long"]["peak_increase"] >= 60 * 2**20
    assert records["short"]["peak_increase"] < 32 * 2**20
