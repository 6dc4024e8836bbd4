"""The kernel helper's hooks: ``%load_ext``, the per-cell measurement and its records.

One :class:`MemoryDoctor` serves one shell. It measures every user cell from
``pre_run_cell`` to ``post_run_cell`` (never ``pre_execute``/``post_execute``,
which comm traffic fires too, ipykernel #1564), keeps the last
``MAX_REPLAY_RECORDS`` records (numbers and strings only), and sends each to
every front end through its :class:`~.server.CommServer`.

It is a guest in the user's process: nothing here raises into a cell, prints,
touches the user namespace or history, or keeps a reference to user objects or
execution results.

Per cell it also records which names the cell bound (``provenance.py``) and
whether re-running it keeps growing (``growth.py``). The requests are served
by the comm server's registry: ``configure`` and ``get_rss`` here, ``scan`` and
``cancel`` by the scan runner (``runner.py``), ``apply_fix`` by ``fixing.py``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from ..log import quiet_logger
from ..procmem import current_rss
from ..protocol import (
    DEFAULT_CONFIG,
    MAX_ID_CHARS,
    MAX_REPLAY_RECORDS,
    MSG_CELL_MEASURED,
    MSG_CELL_PROFILE,
    MSG_HELLO,
    PEAK_VMHWM,
    PROTOCOL_VERSION,
    REQ_APPLY_FIX,
    REQ_CANCEL,
    REQ_CONFIGURE,
    REQ_GET_RSS,
    REQ_RELEASE_CLUSTER,
    REQ_SCAN,
    REQ_SCAN_CLUSTER,
    CellClusterMessage,
    CellProfileMessage,
    CellRecord,
    ConfigureResult,
    GetRssResult,
    Growth,
    HelloMessage,
    KernelConfig,
    RunningCell,
)
from .cluster import ClusterWatch
from .fixing import Fixing
from .growth import Census, GrowthTracker, take_census, what_grew
from .limits import memory_limit
from .measure import HeapTracer, PeakProbe, gc_collections, select_probe
from .profile import Profile, ProfileController
from .profile.requests import handlers as profile_handlers
from .provenance import Provenance
from .runner import ScanAdvice, ScanRunner
from .server import BadRequest, CommServer, Reply, Request

if TYPE_CHECKING:
    from ..advice.fixes import FixTable

_log = quiet_logger(__name__)


class _Frame:
    """One cell between ``pre_run_cell`` and ``post_run_cell``: numbers only."""

    __slots__ = (
        "carried_peak",
        "cell_id",
        "census",
        "execution_count",
        "gc_before",
        "heap_before",
        "info_id",
        "measured",
        "parent_id",
        "rss_before",
        "seen_count",
        "started_at",
        "t0",
    )

    def __init__(self, info_id: int, measured: bool, parent_id: str | None = None) -> None:
        # id() of the ExecutionInfo pairs the two hooks without keeping the object.
        self.info_id = info_id
        self.measured = measured
        self.parent_id = parent_id
        self.cell_id: str | None = None
        self.started_at = 0.0
        self.t0 = 0.0
        self.rss_before = 0
        self.gc_before = 0
        self.heap_before: int | None = None
        self.carried_peak = 0
        # The count this cell will get (for live readings), and the "what grew"
        # census before it when the cell may be flagged as leaking (names and numbers).
        self.execution_count: int | None = None
        self.seen_count: int | None = None  # shell.execution_count in pre_run_cell
        self.census: Census | None = None


def _helper_version() -> str:
    from .. import __version__  # noqa: PLC0415 - the package imports this module lazily

    return str(__version__)


class MemoryDoctor:
    """Measures the cells of one IPython shell and serves the results over comms."""

    def __init__(self, shell: Any) -> None:
        # A weak reference: the shell owns us through its event callbacks.
        self._shell_ref = weakref.ref(shell)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._probe: PeakProbe | None = None
        self._heap = HeapTracer()
        self._config: dict[str, Any] = dict(DEFAULT_CONFIG)
        self._records: deque[CellRecord] = deque(maxlen=MAX_REPLAY_RECORDS)
        # Measured cells running right now, on any thread (ipykernel 7 subshells).
        self._active: list[_Frame] = []
        self._provenance = Provenance()
        self._growth = GrowthTracker()
        # result.execution_count minus shell.execution_count seen in pre_run_cell.
        self._count_offset: int | None = None
        self._server = CommServer(self._lock, self._hello, self._configure)
        self._runner = ScanRunner(
            self._shell_ref,
            self._provenance,
            self._cell_running,
            ScanAdvice(self._shell_ref, self._provenance, self._keep_fix_table),
        )
        self._fixing = Fixing(self._shell_ref, self._provenance, self._runner)
        # Line profiles of the runs asked for (profile/); nothing is traced otherwise.
        self._profiler = ProfileController(
            shell, self._send_profile, heap=self._heap, parent_metadata=self._parent_metadata
        )
        self._cluster = ClusterWatch(self._shell_ref, self._runner, self._cluster_measured)
        self._server.on_comm_closed(self._runner.comm_closed)
        for request_type, handler in (
            (REQ_CONFIGURE, self._request_configure),
            (REQ_GET_RSS, self._request_get_rss),
            (REQ_SCAN, self._runner.handle_scan),
            (REQ_CANCEL, self._runner.handle_cancel),
            (REQ_APPLY_FIX, self._fixing.handle_apply_fix),
            *profile_handlers(self._profiler),
            (REQ_SCAN_CLUSTER, self._cluster.handle_scan_cluster),
            (REQ_RELEASE_CLUSTER, self._cluster.handle_release_cluster),
        ):
            self._server.register(request_type, handler)
        self.loaded = False

    # -- lifecycle ---------------------------------------------------------

    def load(self) -> None:
        """Register the hooks and the comm target; a second call does nothing."""
        if self.loaded:
            return
        shell = self._shell_ref()
        if shell is None:
            return
        self._probe = select_probe()
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)
        self._server.start(shell)
        self.loaded = True

    def unload(self) -> None:
        """Remove the hooks and the comm target and close every open comm."""
        self._runner.shutdown()
        self._profiler.shutdown()
        self._cluster.shutdown()
        self._provenance.clear()
        self._growth.clear()
        shell = self._shell_ref()
        if shell is not None:
            for event, callback in (
                ("pre_run_cell", self._pre_run_cell),
                ("post_run_cell", self._post_run_cell),
            ):
                with contextlib.suppress(ValueError):  # already gone
                    shell.events.unregister(event, callback)
        self._server.stop()
        with self._lock:
            self._active.clear()
        self._heap.disable()
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        self.loaded = False

    # -- introspection used by tests and the hello ---------------------------

    @property
    def records(self) -> list[CellRecord]:
        """A copy of the records held for replay, oldest first."""
        with self._lock:
            return list(self._records)

    @property
    def config(self) -> dict[str, Any]:
        """A copy of the current configuration."""
        with self._lock:
            return dict(self._config)

    @property
    def comm_ids(self) -> list[str]:
        """Ids of the comms currently open."""
        return self._server.comm_ids

    @property
    def probe(self) -> PeakProbe | None:
        """The measurement backend chosen at load."""
        return self._probe

    @property
    def provenance(self) -> Provenance:
        """Where each user variable was last bound."""
        return self._provenance

    @property
    def runner(self) -> ScanRunner:
        """The scan runner (one scan at a time)."""
        return self._runner

    @property
    def profiler(self) -> ProfileController:
        """Line profiles of the runs asked for (``profile_next``, ``%%memory profile``)."""
        return self._profiler

    @property
    def fixing(self) -> Fixing:
        """The ``apply_fix`` handler, with the latest scan's fix table."""
        return self._fixing

    def _keep_fix_table(self, table: FixTable | None) -> None:
        self._fixing.keep_fix_table(table)

    # -- IPython hooks -------------------------------------------------------

    def _stack(self) -> list[_Frame]:
        stack: list[_Frame] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _pre_run_cell(self, info: Any) -> None:
        try:
            self._begin(info)
        except Exception:  # a guest never raises into a cell
            _log.debug("pre_run_cell failed", exc_info=True)

    def _post_run_cell(self, result: Any) -> None:
        t1 = time.perf_counter()
        # A profiled run's trace stops before its record is built; the profile
        # is sent after the record. Not profiled: None at once.
        profile = self._profiler.post_run_cell(result)
        try:
            self._end(result, t1)
        except Exception:  # a guest never raises into a cell
            _log.debug("post_run_cell failed", exc_info=True)
        if profile is not None:
            self._send_profile(profile)

    def _begin(self, info: Any) -> None:
        # First: a running scan stops here and replies, so this cell waits at most
        # for the slice in progress (on another thread) and the partial result.
        self._runner.cell_starting()
        # Before the measurement starts: a profile's set-up is not the cell's.
        self._profiler.pre_run_cell(info)
        self._cluster.note_cell()
        probe = self._probe
        if probe is None:
            return
        stack = self._stack()
        parent_id = self._parent_msg_id()
        if stack:
            outer = stack[0]
            if outer.parent_id is None or parent_id is None or outer.parent_id == parent_id:
                # run_cell() called from inside a cell: part of the outer cell.
                stack.append(_Frame(id(info), measured=False))
                return
            # A frame whose post_run_cell never came (should not happen): drop it.
            with self._lock:
                self._active[:] = [f for f in self._active if f not in stack]
            for stale in stack:
                self._provenance.discard(stale.info_id)
            stack.clear()
        self._provenance_begin(info)
        if getattr(info, "silent", False) or not getattr(info, "store_history", True):
            frame = _Frame(id(info), measured=False)
            frame.cell_id = self._cell_id(info)
            stack.append(frame)
            return
        frame = _Frame(id(info), measured=True, parent_id=parent_id)
        frame.cell_id = self._cell_id(info)
        seen = getattr(self._shell_ref(), "execution_count", None)
        frame.seen_count = seen if isinstance(seen, int) else None
        frame.execution_count = self._next_execution_count(frame.seen_count)
        if self._growth.should_watch(frame.cell_id, self._config["leak_threshold_bytes"]):
            # Before the measurement starts: the census's own allocations are not the cell's.
            frame.census = self._census()
        # Copies the keys each Dask client holds (nothing without a client).
        self._cluster.cell_started(frame.info_id)
        frame.started_at = time.time()
        frame.gc_before = gc_collections()
        frame.heap_before = self._heap.begin()
        with self._lock:
            if self._active and probe.method == PEAK_VMHWM:
                # Another thread's cell is running (a subshell): keep its peak so
                # far before our reset erases it.
                so_far = probe.peak()
                for other in self._active:
                    other.carried_peak = max(other.carried_peak, so_far)
            frame.rss_before = probe.start()
            self._active.append(frame)
        stack.append(frame)
        frame.t0 = time.perf_counter()

    def _end(self, result: Any, t1: float) -> None:
        stack = self._stack()
        if not stack:
            return  # loaded during this cell, or an empty cell
        info = getattr(result, "info", None)
        if info is not None:
            ids = [f.info_id for f in stack]
            if id(info) not in ids:
                return  # an empty cell skips pre_run_cell but not post_run_cell
            del stack[ids.index(id(info)) + 1 :]
        frame = stack.pop()
        try:
            if frame.measured:
                self._record(frame, result, t1)
        finally:
            self._cluster.forget(frame.info_id)
            if not stack:
                # After the measurement: the snapshots it allocates and frees are
                # the helper's, not the cell's (tracemalloc would see them).
                self._provenance_end(frame, result)

    def _record(self, frame: _Frame, result: Any, t1: float) -> None:
        """Finish a measured cell's record and send it on every comm."""
        probe = self._probe
        with self._lock:
            if frame in self._active:
                self._active.remove(frame)
            if probe is None:
                return
            rss_after, peak = probe.stop()
        heap_delta, heap_peak = self._heap.end(frame.heap_before)
        gc_count = gc_collections() - frame.gc_before
        rss_before = frame.rss_before
        peak = max(peak, frame.carried_peak, rss_before, rss_after)
        failed = _failed(result)
        count = getattr(result, "execution_count", None)
        if not isinstance(count, int):
            count = self._last_count()
        elif frame.seen_count is not None:
            self._count_offset = count - frame.seen_count
        growth = self._growth_of(frame, rss_after - rss_before)
        record: CellRecord = {
            "cell_id": frame.cell_id,
            "execution_count": count,
            "status": "error" if failed else "ok",
            "started_at": frame.started_at,
            "duration_s": t1 - frame.t0,
            "rss_before": rss_before,
            "rss_after": rss_after,
            "rss_delta": rss_after - rss_before,
            "peak_rss": peak,
            "peak_increase": peak - rss_before,
            "peak_method": probe.method,
            "gc_collections": gc_count,
            "py_heap_delta": heap_delta,
            "py_heap_peak": heap_peak,
            "growth": growth,
            "cluster": None,
        }
        if self._cluster.cell_finished(frame.info_id, count, frame.cell_id):
            # A cell_cluster message follows with the rest.
            record["cluster"] = {"pending": True, "delta_bytes": None, "clusters": []}
        message = {"type": MSG_CELL_MEASURED, "record": record}
        with self._lock:
            self._records.append(record)
            # Sent under the lock so a comm opening concurrently gets its hello
            # (with or without this record) strictly before or after this.
            self._server.broadcast(message)

    def _cluster_measured(self, message: CellClusterMessage) -> None:
        """A cell's ``cell_cluster``: kept in its record (for replay), then sent."""
        with self._lock:
            for record in reversed(self._records):
                pending = record["cluster"]
                if (
                    record["execution_count"] == message["execution_count"]
                    and record["cell_id"] == message["cell_id"]
                    and pending is not None
                    and pending["pending"]
                ):
                    record["cluster"] = message["cluster"]
                    break
            self._server.broadcast(dict(message))

    def _provenance_begin(self, info: Any) -> None:
        shell = self._shell_ref()
        namespace = getattr(shell, "user_ns", None)
        if isinstance(namespace, dict):
            # ExecutionInfo.raw_cell (IPython >= 7): the source decides which names to compare.
            code = getattr(info, "raw_cell", None)
            self._provenance.begin(id(info), namespace, code)

    def _provenance_end(self, frame: _Frame, result: Any) -> None:
        shell = self._shell_ref()
        namespace = getattr(shell, "user_ns", None)
        if not isinstance(namespace, dict):
            self._provenance.discard(frame.info_id)
            return
        count = getattr(result, "execution_count", None)
        if not isinstance(count, int) and frame.measured:
            count = self._last_count()
        self._provenance.end(
            frame.info_id,
            namespace,
            frame.cell_id,
            count if isinstance(count, int) else None,
            failed=_failed(result),
        )

    def _last_count(self) -> int:
        """The count of the cell that just ran, when its result does not say."""
        return int(getattr(self._shell_ref(), "execution_count", 1)) - 1

    def _send_profile(self, profile: Profile) -> None:
        """Send a run's line profile on every comm (after the run's record)."""
        cell = profile["cell"]
        message: CellProfileMessage = {
            "type": MSG_CELL_PROFILE,
            "cell_id": cell["cell_id"],
            "execution_count": cell["execution_count"],
            "profile": profile,
        }
        with self._lock:
            self._server.broadcast(dict(message))

    def _parent_metadata(self) -> dict[str, Any] | None:
        """The execute request's metadata (IPython < 9 has no ``ExecutionInfo.cell_meta``)."""
        parent = self._kernel_parent()
        metadata = parent.get("metadata") if parent else None
        return metadata if isinstance(metadata, dict) else None

    def _cell_running(self) -> bool:
        with self._lock:
            return bool(self._active)

    def _next_execution_count(self, count: int | None) -> int | None:
        """The count a cell will get, for live readings (the record has the real one),
        from ``count``, the shell's ``execution_count`` in ``pre_run_cell``."""
        if count is None:
            return None
        if self._count_offset is None:
            # IPython >= 9.8 increments execution_count before pre_run_cell, older
            # ones after the cell; _record() then learns the offset for certain.
            ipython = sys.modules.get("IPython")
            version = getattr(ipython, "version_info", (0, 0))
            return count - 1 if tuple(version[:2]) >= (9, 8) else count
        return count + self._count_offset

    def _census(self) -> Census | None:
        """Names and sizes of the user's variables and live object counts (watched runs only)."""
        shell = self._shell_ref()
        namespace = getattr(shell, "user_ns", None)
        hidden = getattr(shell, "user_ns_hidden", None)
        if not isinstance(namespace, dict):
            return None
        census = take_census(
            namespace,
            hidden if isinstance(hidden, dict) else {},
            count_types=not self._growth.skip_type_counts,
        )
        if census.types_s is not None:
            self._growth.skip_type_counts = True  # too many objects to count within budget
        return census

    def _growth_of(self, frame: _Frame, rss_delta: int) -> Growth | None:
        """The record's ``growth``; names what grew when this run was watched and grew."""
        before, frame.census = frame.census, None
        try:
            threshold = int(self._config["leak_threshold_bytes"])
            what: list[str] | None = None
            if before is not None and before.complete and self._growth.grew(rss_delta, threshold):
                after = self._census()
                what = what_grew(before, after) if after is not None else None
            return self._growth.add_run(frame.cell_id, rss_delta, threshold, what)
        except Exception:  # the record matters more than its growth
            _log.debug("growth failed", exc_info=True)
            return None

    def _kernel_parent(self) -> dict[str, Any] | None:
        kernel = getattr(self._shell_ref(), "kernel", None)
        if kernel is None:
            return None
        get_parent: Callable[[], Any] | None = getattr(kernel, "get_parent", None)
        # ipykernel ≥ 6 has get_parent(); it picks the thread's channel/subshell.
        parent = get_parent() if get_parent is not None else getattr(kernel, "_parent_header", None)
        return parent if isinstance(parent, dict) else None

    def _parent_msg_id(self) -> str | None:
        parent = self._kernel_parent()
        if not parent:
            return None
        msg_id = (parent.get("header") or {}).get("msg_id")
        return msg_id if isinstance(msg_id, str) else None

    def _cell_id(self, info: Any) -> str | None:
        cell_id = getattr(info, "cell_id", None)  # IPython ≥ 8.3
        if not cell_id:
            meta = getattr(info, "cell_meta", None)  # IPython ≥ 9.? passes the request metadata
            if isinstance(meta, dict):
                cell_id = meta.get("cellId")
        if not cell_id:
            parent = self._kernel_parent()
            if parent:
                metadata = parent.get("metadata")
                if isinstance(metadata, dict):
                    cell_id = metadata.get("cellId")
        return cell_id[:MAX_ID_CHARS] if isinstance(cell_id, str) and cell_id else None

    # -- the comm server's hello and requests ----------------------------------

    def _hello(self) -> HelloMessage:
        """The ``hello`` a new comm gets (the server holds the lock)."""
        probe = self._probe
        return {
            "type": MSG_HELLO,
            "protocol_version": PROTOCOL_VERSION,
            "helper_version": _helper_version(),
            "peak_method": probe.method if probe else "none",
            "peak_exact": bool(probe.exact) if probe else False,
            "python": "{}.{}.{}".format(*sys.version_info[:3]),
            "platform": sys.platform,
            "pid": os.getpid(),
            "rss": current_rss(),
            "config": self._wire_config(),
            "records": list(self._records),
            "memory_limit": memory_limit().as_wire(),
            "malloc_trim": _malloc_trim_available(),
        }

    def skip_record(self) -> None:
        """No record for the cell running on this thread: it only ran a ``%memory``
        magic, whose scan's working memory is the helper's, not the user's."""
        stack = self._stack()
        if not stack:
            return
        frame = stack[0]
        with self._lock:
            if frame in self._active:
                self._active.remove(frame)
        frame.measured = False

    def reset_peak(self) -> int:
        """Start a measurement inside the running cell (``%%memory``); the RSS now.

        The cells running keep the peak they reached so far, as when a cell
        starts on another thread, so their records lose nothing.
        """
        probe = self._probe
        if probe is None:
            return current_rss()
        with self._lock:
            if self._active and probe.method == PEAK_VMHWM:
                so_far = probe.peak()
                for other in self._active:
                    other.carried_peak = max(other.carried_peak, so_far)
            return probe.start()

    def handle_request(self, data: Any) -> dict[str, Any]:
        """Answer one request without a comm; always returns a message, never raises.

        A ``scan`` asked for this way (no comm to answer on later) runs to
        completion within its budget before this returns.
        """
        return self._server.handle_request(data)

    def _request_configure(self, request: Request, reply: Reply) -> None:
        options = {k: v for k, v in request.data.items() if k not in ("type", "request_id")}
        result: ConfigureResult = {"config": self._configure(options)}
        reply.ok(result)

    def _request_get_rss(self, request: Request, reply: Reply) -> None:
        # Extra fields are ignored: a newer MINOR may add optional ones.
        # With subshells this runs on another thread while a cell executes (a live
        # reading): procfs reads and a slice of a short list only, no lock, no heap.
        probe = self._probe
        rss = current_rss()
        running: RunningCell | None = None
        active = self._active[:1]  # one C-level slice: safe against the hooks' changes
        if active:
            frame = active[0]
            running = {
                "cell_id": frame.cell_id,
                "execution_count": frame.execution_count,
                "started_at": frame.started_at,
                "rss_before": frame.rss_before,
            }
        result: GetRssResult = {
            "rss": rss,
            "peak_rss": max(probe.peak(), rss) if probe else rss,
            "time": time.time(),
            "memory_limit": memory_limit().as_wire(),
            "running": running,
        }
        reply.ok(result)

    def _wire_config(self) -> KernelConfig:
        """The configuration as the protocol sends it."""
        config = self._config
        return {
            "tracemalloc": bool(config["tracemalloc"]),
            "leak_threshold_bytes": int(config["leak_threshold_bytes"]),
        }

    def _configure(self, options: dict[str, Any]) -> KernelConfig:
        """Validate every option first, then apply them; return the whole config."""
        unknown = sorted(str(k)[:MAX_ID_CHARS] for k in options if k not in DEFAULT_CONFIG)
        if unknown:
            raise BadRequest(
                f"Unknown option(s) {', '.join(unknown)}. Known: {', '.join(DEFAULT_CONFIG)}."
            )
        for key, value in options.items():
            if isinstance(DEFAULT_CONFIG[key], bool):
                if not isinstance(value, bool):
                    raise BadRequest(f"Option {key!r} must be true or false.")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadRequest(f"Option {key!r} must be a whole number of bytes, 0 or more.")
        with self._lock:
            if "tracemalloc" in options:
                if options["tracemalloc"]:
                    self._heap.enable()
                else:
                    self._heap.disable()
            self._config.update(options)
            return self._wire_config()


def _failed(result: Any) -> bool:
    """Whether the cell raised (IPython then points ``sys.last_*`` at its error)."""
    return (
        result is None
        or getattr(result, "error_before_exec", None) is not None
        or getattr(result, "error_in_exec", None) is not None
    )


def _malloc_trim_available() -> bool:
    from ..advice.allocator import malloc_trim_available  # noqa: PLC0415 - loads libc lazily

    try:
        return malloc_trim_available()
    except Exception:
        return False


# One helper per shell. Weak keys: a discarded shell takes its helper with it.
_instances: weakref.WeakKeyDictionary[Any, MemoryDoctor] = weakref.WeakKeyDictionary()


def get(shell: Any) -> MemoryDoctor | None:
    """The helper loaded in ``shell``, if any."""
    return _instances.get(shell)


def load(shell: Any) -> MemoryDoctor:
    """Load the helper into ``shell`` (idempotent) and return it."""
    doctor = _instances.get(shell)
    if doctor is None:
        doctor = _instances[shell] = MemoryDoctor(shell)
    doctor.load()
    try:
        from . import magics  # noqa: PLC0415 - IPython's magic machinery, only once loaded

        magics.register(shell, doctor)  # %memory and %%memory; prints nothing
    except Exception:  # the measurements matter more than the magics
        _log.debug("registering the magics failed", exc_info=True)
    return doctor


def unload(shell: Any) -> None:
    """Unload the helper from ``shell`` (idempotent)."""
    doctor = _instances.pop(shell, None)
    if doctor is not None:
        try:
            from . import magics  # noqa: PLC0415 - as in load()

            magics.unregister(shell)
        except Exception:
            _log.debug("removing the magics failed", exc_info=True)
        doctor.unload()
