"""Run one retained-size scan at a time without blocking the kernel.

A scan walks the whole heap, which takes seconds. Run in one go inside the
``scan`` request's handler it would hold the kernel's shell loop, so a
``cancel`` or the user's next cell would wait for it. Instead the scan runs in
slices of ``SCAN_SLICE_S`` seconds on the kernel's main event loop, and each slice
schedules the next with ``kernel.io_loop.call_later``. Between two slices the
loop handles whatever shell messages arrived (a ``cancel``, an
``execute_request``).

``kernel.io_loop`` is a tornado ``IOLoop`` running on asyncio in every
supported ipykernel: ipykernel 6.x sets it in ``Kernel.start()`` and feeds
shell messages through ``msg_queue``/``dispatch_queue`` coroutines on the same
loop; ipykernel 7.x also sets it in ``start()`` and dispatches the main
shell's messages as asyncio tasks on it (subshells have their own threads and
loops). ``add_callback`` is thread-safe in tornado, so a request handled on a
subshell thread can hand the scan to the main loop too. Without a loop (plain
IPython, no comm to answer on) the scan runs to completion within its budget
inside the request, and ``cancel`` can then only arrive between scans.

Rules the runner keeps:

- One scan per kernel. A second ``scan`` while one runs is refused with
  ``bad_request`` (it names the running request, so the front end can cancel
  it first); the running scan is never silently replaced.
- ``pre_run_cell`` stops a running scan with ``cell_ran`` and replies with the
  partial result at once: a cell waits for the slice in progress and one
  ``CELL_RAN_SLICE_S`` slice that labels what the walk found. A scan requested
  while a cell runs (an async cell awaiting, or a cell on a subshell thread)
  waits for the cell to finish before it starts.
- A slice holds ``_lock``; hooks on other threads wait at most one slice.
- After the reply the runner holds nothing of the scan: the ``Scan`` object
  drops its user references in ``result()`` and the runner drops the ``Scan``.
- An interrupt (SIGINT) during a scan ends it: the reply says ``stopped:
  interrupted``. While a slice runs, SIGINT raises ``KeyboardInterrupt``, as
  during ipykernel's own request handlers (between handlers ipykernel ignores
  SIGINT; :class:`SigintDuringSlices` puts that back after each slice). One
  that arrives between two slices stops the scan at the next one.

After the walk come the post-scan steps (:class:`ScanAdvice`), in slices too:
the cell behind each holder (provenance), the resources, the process findings
(the cyclic-garbage count is the one that takes time) and the suggestions,
whose fix table goes to ``kernel/fixing.py``. Their time counts in the
scan's ``duration_s`` and budget: the count is skipped (``null``) when the
budget is spent, and a scan stopped early (cancelled, interrupted, a cell
starting) answers without them. The reply also says what the scan itself
cost: ``peak_extra_bytes`` (its high-water mark above the RSS at its start,
by the VmHWM reset the cell badges use) and ``left_behind_bytes``.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Final, Protocol

from ..log import guarded, quiet_logger
from ..procmem import HighWaterMark, current_rss
from ..protocol import (
    DEFAULT_MAX_HOLDERS,
    DEFAULT_SCAN_BUDGET_S,
    ENGINE_NATIVE,
    ENGINE_PYTHON,
    ERR_INTERNAL,
    HELD_ELSEWHERE_TOP,
    MAX_ID_CHARS,
    MAX_MAX_HOLDERS,
    MAX_SCAN_BUDGET_S,
    MSG_SCAN_PROGRESS,
    SCAN_OVERRUN_S,
    SCAN_PHASES,
    SCAN_PROGRESS_INTERVAL_S,
    SCAN_SLICE_S,
    STOP_BUDGET,
    STOP_CANCELLED,
    STOP_CELL_RAN,
    STOP_INTERRUPTED,
    ScanResult,
    ScanStopped,
    ScanSummary,
    reply_ok,
)
from ..protocol import Findings as WireFindings
from .provenance import Provenance
from .server import BadRequest, Reply, Request

if TYPE_CHECKING:
    from ..advice.fixes import FixTable

_log = quiet_logger(__name__)

#: Pause between two slices. The loop then waits in select() without the GIL, so
#: ipykernel 7's shell-channel thread can forward a waiting message (a cancel, a
#: cell) to the main loop; back-to-back slices left it starved for ~4 slices
#: (measured: a cancel took 0.22 s to be handled, 0.07 s with this pause).
YIELD_S: Final = 0.002
#: The shortest step a slice gives the engine (after the scan's start readings).
MIN_STEP_S: Final = 0.005
#: How often a scan (or a fix) waiting for a running cell looks again.
WAIT_POLL_S: Final = 0.1
#: What a scan stopped by a starting cell may spend labelling what it found
#: (the cell waits for it). On a 5M-object heap a stop after the first slices
#: labels nothing in a whole slice either (measured: 0 holders, 56-64 ms with
#: 50 ms; 0 holders, 23-32 ms with 20 ms), so the cell gets the shorter wait;
#: a small heap is still labelled within it (2 holders in 18 ms).
CELL_RAN_SLICE_S: Final = 0.02
#: Stop reasons after which the reply goes out at once, without the advice.
_AT_ONCE: Final = (STOP_CANCELLED, STOP_CELL_RAN, STOP_INTERRUPTED)

_SCAN_FAILED: Final = (
    "The Memory Doctor scan failed; your kernel and its variables are unaffected. "
    "Please report it with the kernel's log."
)


class ScanLike(Protocol):
    """The part of ``heap.scan.Scan`` the runner drives."""

    def step(self, slice_s: float = SCAN_SLICE_S) -> bool:
        """Work for about ``slice_s`` seconds; True when finished."""
        ...

    def stop(self, reason: str) -> None:
        """Ask the scan to stop; the next ``step()`` finishes it with partial results."""
        ...

    @property
    def finished(self) -> bool:
        """Whether ``result()`` is ready."""
        ...

    def result(self) -> dict[str, Any]:
        """The result; drops every user reference."""
        ...


#: ``(user_ns, user_ns_hidden, budget_s, max_holders, progress) -> Scan``.
ScanFactory = Callable[
    [Mapping[str, Any], "Mapping[str, Any] | None", float, int, Callable[[str, int, float], None]],
    ScanLike,
]


class AdviceSteps(Protocol):
    """The post-scan advice of one result, worked through in slices."""

    def step(self, deadline: float, optional: bool) -> bool:
        """Work until ``deadline`` (``time.perf_counter()``); True when done.
        ``optional=False``: the budget is spent, skip what can be skipped."""
        ...

    def result(self) -> dict[str, Any]:
        """``{"resources", "findings", "suggestions"}`` as far as done."""
        ...


#: ``advice(engine_result, holders, stopped)``: the advice steps, or their result
#: at once (``{"resources", "findings", "suggestions"}``; what tests give).
Advice = Callable[[Mapping[str, Any], list[Any], "str | None"], "AdviceSteps | dict[str, Any]"]


class ScanParamsError(BadRequest):
    """The ``scan`` request's parameters are invalid; the message says which and why."""


class ScanBusyError(BadRequest):
    """Another scan is running."""


def parse_params(data: Mapping[str, Any]) -> tuple[float, int]:
    """``(budget_s, max_holders)`` from a ``scan`` request; ``ScanParamsError`` if invalid.

    Unknown fields are ignored, as for ``get_rss``: a later MINOR may add some.
    Numbers are compared as they came (a JSON integer may be far beyond a
    float's range), never converted first: NaN, infinities and huge values are
    out of range like any other.
    """
    budget = data.get("budget_s", DEFAULT_SCAN_BUDGET_S)
    in_range = isinstance(budget, (int, float)) and 0 < budget <= MAX_SCAN_BUDGET_S
    if isinstance(budget, bool) or not in_range:
        raise ScanParamsError(
            f"'budget_s' must be a number of seconds above 0 and at most {MAX_SCAN_BUDGET_S:g}; "
            f"got {_show(budget)}."
        )
    holders = data.get("max_holders", DEFAULT_MAX_HOLDERS)
    if isinstance(holders, bool) or not isinstance(holders, int):
        raise ScanParamsError(
            f"'max_holders' must be an integer from 1 to {MAX_MAX_HOLDERS}; got {_show(holders)}."
        )
    if not 1 <= holders <= MAX_MAX_HOLDERS:
        raise ScanParamsError(
            f"'max_holders' must be an integer from 1 to {MAX_MAX_HOLDERS}; got {holders}."
        )
    return float(budget), holders


def _show(value: object) -> str:
    """A short description of a JSON value for an error message (no repr of big data)."""
    if isinstance(value, (bool, int, float)) or value is None:
        return str(value).lower() if isinstance(value, bool) or value is None else str(value)
    if isinstance(value, str):
        return repr(value[:40])
    return f"a JSON {type(value).__name__}"


def engine_scan(
    user_ns: Mapping[str, Any],
    user_ns_hidden: Mapping[str, Any] | None,
    budget_s: float,
    max_holders: int,
    progress: Callable[[str, int, float], None],
) -> ScanLike:
    """The real engine: roots of the namespace, then a whole-heap ``Scan`` over them."""
    from ..advice.resources import ResourceTypes  # noqa: PLC0415 - as below
    from ..heap.roots import enumerate_roots  # noqa: PLC0415 - heavy; only when a scan is asked for
    from ..heap.scan import Scan  # noqa: PLC0415 - as above

    roots = enumerate_roots(user_ns, user_ns_hidden)
    return Scan(
        roots,
        user_ns=user_ns if type(user_ns) is dict else None,
        budget_s=budget_s,
        max_holders=max_holders,
        progress=progress,
        resources=ResourceTypes(user_namespaces(user_ns)),
    )


def user_namespaces(user_ns: Any) -> list[int]:
    """ids of the namespaces whose code is the user's (for asyncio tasks)."""
    from ..heap.introspect import module_dict  # noqa: PLC0415 - heavy; only after a scan
    from ..heap.roots import user_modules  # noqa: PLC0415 - as above

    found = [id(user_ns)]
    found.extend(id(ns) for ns in map(module_dict, user_modules().values()) if ns is not None)
    return found


class ScanAdvice:
    """The post-scan advice steps: resources, findings and suggestions for one result.

    The fix table of the suggestions goes to ``keep_fix_table`` (the
    ``apply_fix`` handler's); None when they could not be built.
    """

    def __init__(
        self,
        shell_ref: Callable[[], Any],
        provenance: Provenance,
        keep_fix_table: Callable[[FixTable | None], None],
    ) -> None:
        self._shell_ref = shell_ref
        self._provenance = provenance
        self._keep_fix_table = keep_fix_table
        #: Free resident bytes our own scans left in glibc's heap (the walk's
        #: tables, the cyclic-garbage count's object list, freed below glibc's trim
        #: threshold): not the user's allocator gap, and reused by the next scan.
        #: Each scan adds what that heap's free resident bytes grew by, from its
        #: start to the end of its count.
        self.own_free = 0

    def __call__(
        self, raw: Mapping[str, Any], holders: list[Any], stopped: str | None
    ) -> AdviceSteps:
        """The advice of the result ``raw``, to work through in slices."""
        return _AdviceSteps(self, raw, holders, stopped)


class _AdviceSteps:
    """Resources (at once), findings (the cyclic-garbage count in slices, and
    only while the budget lasts), then the suggestions."""

    def __init__(
        self, owner: ScanAdvice, raw: Mapping[str, Any], holders: list[Any], stopped: str | None
    ) -> None:
        self._owner = owner
        self._holders = holders
        self._resources = [dict(r) for r in raw.get("resources") or []]
        self._engine = (raw.get("scan") or {}).get("engine")
        #: glibc's free resident heap bytes when the scan started (the runner's
        #: reading; None where unknown).
        start = raw.get("free_at_start")
        self._free_at_start = int(start) if start is not None else None
        self._stopped = stopped
        self._stage = 0
        self._garbage: Any = None
        self._findings: Any = None
        self._counted: dict[str, int] | None = None
        self._out: dict[str, Any] | None = None

    def step(self, deadline: float, optional: bool) -> bool:
        try:
            return self._step(deadline, optional)
        except Exception:
            _log.debug("building suggestions failed", exc_info=True)
            self._fail()
            return True

    def _step(self, deadline: float, optional: bool) -> bool:
        from ..advice.resources import finish_resources  # noqa: PLC0415 - heavy; only after a scan
        from ..heap.garbage import GarbageCount  # noqa: PLC0415 - as above

        owner = self._owner
        if self._stage == 0:
            namespace = getattr(owner._shell_ref(), "user_ns", None)
            finish_resources(
                self._resources,
                self._holders,
                namespace,
                owner._provenance,
                user_namespaces(namespace),
            )
            self._stage = 1 if self._stopped not in _AT_ONCE else 4
            if self._stage == 4:  # stopped early: no findings, no suggestions
                owner._keep_fix_table(None)
                return True
            if time.perf_counter() >= deadline:
                return False
        if self._stage == 1:
            self._findings = _cheap_findings(owner.own_free, self._free_at_start)
            self._garbage = GarbageCount(self._engine) if optional else None
            self._stage = 2
        if self._stage == 2:
            count = self._garbage
            if count is not None:
                if not optional:  # out of budget: the count stays unknown
                    count.close()
                elif not count.step(deadline):
                    return False
                else:
                    self._counted = count.result()
                    count.close()
            self._garbage = None
            self._stage = 3
            if time.perf_counter() >= deadline:
                return False
        if self._stage == 3:
            # Here, not after the count: the reading (~10-30 ms of /proc/self/smaps)
            # starts a slice rather than overrunning one.
            now = _heap_gap()
            if now is not None and self._free_at_start is not None:
                owner.own_free = max(owner.own_free + now - self._free_at_start, 0)
            self._suggest()
            self._stage = 4
        return True

    def _suggest(self) -> None:
        import dataclasses  # noqa: PLC0415 - only here

        from ..advice.suggestions import build_suggestions  # noqa: PLC0415 - heavy

        owner = self._owner
        findings = dataclasses.replace(self._findings, cyclic_garbage=self._counted)
        self._findings = findings
        built = build_suggestions(
            self._holders, self._resources, findings, owner._shell_ref(), owner._provenance
        )
        owner._keep_fix_table(built.fix_table)
        self._out = {"suggestions": built.suggestions}

    def _fail(self) -> None:
        if self._garbage is not None:
            self._garbage.close()
            self._garbage = None
        self._owner._keep_fix_table(None)
        self._resources = []
        self._findings = None
        self._out = None
        self._stage = 4

    def result(self) -> dict[str, Any]:
        from ..advice.resources import wire_resource  # noqa: PLC0415 - heavy; only after a scan

        if self._garbage is not None:  # stopped before the count ended
            self._garbage.close()
            self._garbage = None
        findings = self._findings
        return {
            "resources": [wire_resource(r) for r in self._resources],
            "findings": findings.as_wire() if findings is not None else unknown_findings(),
            "suggestions": (self._out or {}).get("suggestions", []),
        }


def _cheap_findings(own_free: int, free_at_start: int | None) -> Any:
    """The findings that read ``/proc`` and the allocators (milliseconds): all
    but the cyclic-garbage count. ``own_free``: free resident bytes in glibc's
    heap that earlier scans left; ``free_at_start``: that heap's free resident
    bytes when this scan started, so that what its walk left is known too. Both
    are taken out of the heap's gap: a scan never suggests ``malloc_trim`` for
    its own leftovers."""
    import dataclasses  # noqa: PLC0415 - only here

    from ..advice.allocator import AllocatorGap  # noqa: PLC0415 - heavy; only after a scan
    from ..advice.findings import (  # noqa: PLC0415 - as above
        Findings,
        child_count,
        open_fds,
        thread_count,
    )

    gap = guarded(AllocatorGap.measure, _log)
    if gap is not None and gap.glibc_heap is not None:
        walk = max(gap.glibc_heap - free_at_start, 0) if free_at_start is not None else 0
        gap = dataclasses.replace(gap, glibc_heap=max(gap.glibc_heap - own_free - walk, 0))
    return Findings(
        open_fds=guarded(open_fds, _log),
        threads=guarded(thread_count, _log),
        children=guarded(child_count, _log),
        cyclic_garbage=None,
        allocator_gap=gap,
    )


def _heap_gap() -> int | None:
    """Free resident bytes in glibc's main heap (the allocator gap's part), or None."""
    from ..advice.allocator import AllocatorGap  # noqa: PLC0415 - heavy; only for a scan

    gap = guarded(AllocatorGap.measure, _log)
    return gap.glibc_heap if gap is not None else None


class SigintDuringSlices:
    """SIGINT raises ``KeyboardInterrupt`` while a slice runs on the main thread.

    ipykernel ignores SIGINT between its request handlers and sets the
    default handler during each one. A slice scheduled on the loop runs
    between handlers, so the same is done around it: when SIGINT is ignored,
    a handler of ours is put in place for the slice and the ignoring one is
    put back after it. Ours raises only while a slice runs; one that arrives
    just after is remembered (``pending``) and stops the scan at the next
    slice. Any other handler (the user's, or the default one inside a request
    handler) is left alone.
    """

    def __init__(self) -> None:
        self.in_slice = False
        self.pending = False

    def _handler(self, signum: int, frame: Any) -> None:
        del signum, frame
        if self.in_slice:
            raise KeyboardInterrupt
        self.pending = True

    def __enter__(self) -> SigintDuringSlices:
        self.in_slice = True
        self._previous: Any = None
        if threading.current_thread() is threading.main_thread():
            try:
                if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
                    self._previous = signal.signal(signal.SIGINT, self._handler)
            except (ValueError, OSError):  # not the main interpreter, or no signals here
                self._previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        while True:
            try:
                self.in_slice = False
                previous, self._previous = self._previous, None
                if previous is not None and signal.getsignal(signal.SIGINT) == self._handler:
                    signal.signal(signal.SIGINT, previous)
                return
            except KeyboardInterrupt:  # raised on the way out: remembered, not lost
                self.pending = True


class _Job:
    """One requested scan: plain data and where its reply goes, plus the ``Scan`` while it runs."""

    __slots__ = (
        "budget_s",
        "free_at_start",
        "hwm",
        "last_progress",
        "max_holders",
        "post",
        "queued_at",
        "raw",
        "reply",
        "rss",
        "scan",
        "started_at",
        "stopped",
        "work_s",
    )

    def __init__(self, reply: Reply, budget_s: float, max_holders: int) -> None:
        self.reply = reply
        self.budget_s = budget_s
        self.max_holders = max_holders
        self.scan: ScanLike | None = None
        #: After the walk: the engine's result (plain data) and its advice steps.
        self.raw: dict[str, Any] | None = None
        self.post: AdviceSteps | None = None
        self.stopped: ScanStopped | None = None
        self.queued_at = time.monotonic()
        self.started_at = 0.0
        self.last_progress = 0.0
        #: Time spent in slices (the scan's and the advice's), perf_counter seconds.
        self.work_s = 0.0
        self.rss = 0
        #: The VmHWM probe, reset when the scan starts (None where unavailable).
        self.hwm: HighWaterMark | None = None
        #: Free resident bytes in glibc's main heap when the scan started (None where
        #: unknown).
        self.free_at_start: int | None = None


def on_loop(loop: Any) -> bool:
    """Whether this thread is running ``loop`` (tornado wraps an asyncio loop)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return False
    return running is getattr(loop, "asyncio_loop", None)


class ScanRunner:
    """Runs the kernel's scans in slices on its event loop, one at a time.

    ``scan_factory`` makes the engine (:func:`engine_scan` by default) and
    ``advice`` runs the post-scan steps (a :class:`ScanAdvice`); tests put
    fakes in either.
    """

    def __init__(
        self,
        shell_ref: Callable[[], Any],
        provenance: Provenance,
        is_cell_running: Callable[[], bool],
        advice: Advice,
        *,
        scan_factory: ScanFactory = engine_scan,
        slice_s: float = SCAN_SLICE_S,
    ) -> None:
        self._shell_ref = shell_ref
        self._provenance = provenance
        #: Whether a measured cell is running (on any thread).
        self.is_cell_running = is_cell_running
        self.advice = advice
        self.scan_factory = scan_factory
        self._slice_s = slice_s
        self._lock = threading.RLock()
        self._job: _Job | None = None
        self._sigint = SigintDuringSlices()

    # -- queries ---------------------------------------------------------------

    @property
    def running(self) -> str | None:
        """The ``request_id`` of the scan in progress (queued or running), if any."""
        job = self._job
        return job.reply.request_id if job is not None else None

    def main_loop(self) -> Any:
        """The kernel's main ``io_loop`` if it has one we can schedule on."""
        kernel = getattr(self._shell_ref(), "kernel", None)
        loop = getattr(kernel, "io_loop", None)
        if loop is None or not callable(getattr(loop, "add_callback", None)):
            return None
        if not callable(getattr(loop, "call_later", None)):
            return None
        return loop

    def run_exclusive(self, work: Callable[[], Any]) -> Any:
        """``work()`` while no scan slice can run (on any thread)."""
        with self._lock:
            return work()

    # -- requests ----------------------------------------------------------------

    def handle_scan(self, request: Request, reply: Reply) -> None:
        """The ``scan`` handler: begin the scan ``request`` asks for.

        The reply comes when the scan ends. Without an event loop or a comm to
        answer on later, the scan runs to completion here, within its budget.
        Raises ``ScanParamsError`` or ``ScanBusyError`` (``bad_request``).
        """
        budget_s, max_holders = parse_params(request.data)
        loop = self.main_loop() if reply.deferrable else None
        with self._lock:
            if self._job is not None:
                running = self._job.reply.request_id
                raise ScanBusyError(
                    f"A scan (request {running!r}) is already running; only one "
                    "scan runs at a time. Wait for its reply, or send 'cancel' with "
                    f"target {running!r} first."
                )
            job = self._job = _Job(reply, budget_s, max_holders)
            if loop is None:
                self._run_to_completion(job)
                return
        if on_loop(loop):
            self._tick(job)
        else:
            loop.add_callback(self._tick, job)  # thread-safe; runs on the main loop

    def handle_cancel(self, request: Request, reply: Reply) -> None:
        """The ``cancel`` handler: ``{"cancelled": bool}``."""
        target = request.data.get("target")
        if not isinstance(target, str) or len(target) > MAX_ID_CHARS:
            raise BadRequest(
                "'cancel' needs a string 'target': the request_id of the scan to stop."
            )
        reply.ok({"cancelled": self.cancel(target)})

    def cancel(self, target: str) -> bool:
        """Stop the scan ``target`` now; its reply carries ``stopped: cancelled``.

        False when no such scan is running (finished, never started, unknown).
        """
        with self._lock:  # waits for a slice running on another thread
            job = self._job
            if job is None or job.reply.request_id != target:
                return False
            self._finish(job, STOP_CANCELLED)
            return True

    # -- hooks -------------------------------------------------------------------

    def cell_starting(self) -> None:
        """``pre_run_cell``: stop a running scan (reason ``cell_ran``) and reply now."""
        if self._job is None:  # the common case: no lock, no cost
            return
        with self._lock:
            job = self._job
            if job is not None and job.scan is not None:
                self._finish(job, STOP_CELL_RAN)
            # A queued scan (waiting for a cell to end) keeps waiting for this one.

    def comm_closed(self, comm_id: str) -> None:
        """Nobody is listening for the scan any more: stop it without a reply."""
        with self._lock:
            job = self._job
            if job is not None and job.reply.comm_id == comm_id:
                self._abort(job)

    def shutdown(self) -> None:
        """Unload: stop any scan without a reply and drop it."""
        with self._lock:
            job = self._job
            if job is not None:
                self._abort(job)

    # -- the loop ----------------------------------------------------------------

    def _tick(self, job: _Job) -> None:
        """One slice of ``job`` on the main loop, then schedule the next."""
        loop = self.main_loop()
        again: float | None = None
        with self._lock:
            if self._job is not job:
                return  # finished, cancelled or aborted since it was scheduled
            if loop is None:  # the kernel is going away: nothing can run the next slice
                self._finish(job, STOP_CANCELLED)
                return
            if self._sigint.pending:
                self._sigint.pending = False
                self._finish(job, STOP_INTERRUPTED)
                return
            try:
                with self._sigint:
                    again = self._advance(job)
            except KeyboardInterrupt:
                # SIGINT during the slice (or the first one, inside the request handler).
                self._finish(job, STOP_INTERRUPTED)
                again = None
            except Exception:  # a guest answers; it never raises into the loop
                _log.debug("scan slice failed", exc_info=True)
                self._fail(job)
                again = None
        if again is not None:
            loop.call_later(max(again, YIELD_S), self._tick, job)

    def _advance(self, job: _Job) -> float | None:
        """Start or continue ``job``; the delay before the next tick, None when it ended."""
        if job.scan is not None or job.post is not None:
            return self._slice(job)
        if not self.is_cell_running():
            # The start's readings (VmHWM reset, RSS, glibc's heap from smaps: up to
            # ~30 ms with many libraries loaded) count in this first slice.
            t0 = time.perf_counter()
            self._create(job)
            return self._slice(job, time.perf_counter() - t0)
        if time.monotonic() - job.queued_at <= job.budget_s + SCAN_OVERRUN_S:
            return WAIT_POLL_S  # a cell is running: start once it is done
        self._finish(job, STOP_CELL_RAN)  # never got a quiet moment
        return None

    def _slice(self, job: _Job, spent: float = 0.0) -> float | None:
        """Run one slice of the scan or of its advice (``spent`` of it already gone);
        0 to run again soon, None when the job ended."""
        t0 = time.perf_counter()
        advised = False
        try:
            if job.scan is not None:
                if job.scan.step(max(self._slice_s - spent, MIN_STEP_S)):
                    self._to_advice(job, None)
            elif job.post is not None:
                optional = job.work_s + (time.perf_counter() - t0) < job.budget_s
                advised = job.post.step(t0 + self._slice_s, optional)
        finally:
            job.work_s += time.perf_counter() - t0 + spent  # the start readings count too
        if advised:
            self._reply(job)
            return None
        if self._job is not job:
            return None
        if time.monotonic() - job.started_at > job.budget_s + SCAN_OVERRUN_S:
            self._finish(job, STOP_BUDGET)
            return None
        return 0

    def _run_to_completion(self, job: _Job) -> None:
        """The fallback without an event loop: the whole scan inside the request."""
        try:
            self._create(job)
            while self._job is job:
                if self._slice(job) is None:
                    return
        except KeyboardInterrupt:
            self._finish(job, STOP_INTERRUPTED)
        except Exception:
            _log.debug("scan failed", exc_info=True)
            self._fail(job)

    # -- building and ending -------------------------------------------------------

    def _create(self, job: _Job) -> None:
        shell = self._shell_ref()
        if shell is None:
            raise RuntimeError("the shell is gone")
        # RSS before the scan allocates anything, so the scan's own working memory
        # is not reported as the user's unattributed memory; and the high-water
        # mark reset, so that the scan's own peak can be read at the end.
        job.hwm = _open_hwm()
        job.rss = current_rss()
        job.free_at_start = _heap_gap()
        job.started_at = time.monotonic()
        # The first progress message goes out at once.
        job.last_progress = job.started_at - SCAN_PROGRESS_INTERVAL_S
        job.scan = self.scan_factory(
            shell.user_ns,
            getattr(shell, "user_ns_hidden", None),
            job.budget_s,
            job.max_holders,
            self._progress_callback(job),
        )

    def _progress_callback(self, job: _Job) -> Callable[[str, int, float], None]:
        reply = job.reply

        def progress(phase: str, visited: int, elapsed: float) -> None:
            now = time.monotonic()
            if not reply.deferrable or now - job.last_progress < SCAN_PROGRESS_INTERVAL_S:
                return
            job.last_progress = now
            reply.progress(
                {
                    "type": MSG_SCAN_PROGRESS,
                    "request_id": reply.request_id,
                    "phase": phase if phase in SCAN_PHASES else "walk",
                    "objects_visited": int(visited),
                    "elapsed_s": round(float(elapsed), 3),
                },
            )

        return progress

    def _to_advice(self, job: _Job, reason: ScanStopped | None) -> None:
        """The walk is over: keep its plain result, drop the ``Scan``, start the advice."""
        scan, job.scan = job.scan, None
        if scan is None:
            return
        slice_s = min(self._slice_s, CELL_RAN_SLICE_S) if reason == STOP_CELL_RAN else self._slice_s
        raw = _stop_and_collect(scan, reason, slice_s)
        del scan  # the engine has dropped its user references; so do we
        info = raw.get("scan") or {}
        stopped = info.get("stopped")
        job.stopped = reason if reason is not None else stopped
        # For the advice: what grows in glibc's free resident heap from here on is
        # the scan's own leftover (no user code runs meanwhile), not the user's gap.
        raw["free_at_start"] = job.free_at_start
        job.raw = raw
        holders = list(raw.get("holders") or [])
        raw["holders"] = holders
        namespace = getattr(self._shell_ref(), "user_ns", None)
        self._provenance.fill(holders, namespace if isinstance(namespace, Mapping) else None)
        advice = self.advice(raw, holders, job.stopped)
        job.post = _Done(advice) if isinstance(advice, dict) else advice

    def _finish(self, job: _Job, reason: ScanStopped | None) -> None:
        """End ``job`` now (stopping it for ``reason``) and give its reply.

        A scan still walking is stopped (a cell waits at most one more slice
        for it), then only the resources are described (a budget stop also
        gets the findings, without the cyclic-garbage count, and the
        suggestions). Stopped during the advice, the reply has what is done.
        """
        t0 = time.perf_counter()
        try:
            fresh = job.scan is not None
            if fresh:
                self._to_advice(job, reason)
            elif reason is not None and job.stopped is None:
                job.stopped = reason
            post = job.post
            if post is not None and fresh:
                while not post.step(time.perf_counter(), False) and job.stopped not in _AT_ONCE:
                    pass
        except Exception:
            _log.debug("finishing the scan failed", exc_info=True)
            self._fail(job)
            return
        finally:
            job.work_s += time.perf_counter() - t0
        self._reply(job, reason)

    def _reply(self, job: _Job, never_reason: ScanStopped | None = None) -> None:
        """Send ``job``'s reply; the runner then holds nothing of it."""
        self._drop(job)
        try:
            if job.raw is None:
                # It never started (queued behind a cell): nothing to advise on, and
                # the cell it waited for may still be running.
                result = never_started(job.rss or current_rss(), never_reason)
            else:
                result = self._decorate(job)
            message = reply_ok(job.reply.request_id, result)
        except Exception:
            _log.debug("finishing the scan failed", exc_info=True)
            job.reply.error(ERR_INTERNAL, _SCAN_FAILED)
            return
        finally:
            job.raw = None
            job.post = None
            _close_hwm(job)
        job.reply.send(message)

    def _fail(self, job: _Job) -> None:
        self._drop(job)
        job.raw = None
        job.post = None
        _close_hwm(job)
        job.reply.error(ERR_INTERNAL, _SCAN_FAILED)

    def _abort(self, job: _Job) -> None:
        scan = self._drop(job)
        job.raw = None
        job.post = None
        _close_hwm(job)
        if scan is not None:
            try:
                # Finishing makes the engine release what it holds.
                _stop_and_collect(scan, STOP_CANCELLED, self._slice_s)
            except Exception:
                _log.debug("aborting the scan failed", exc_info=True)

    def _drop(self, job: _Job) -> ScanLike | None:
        scan, job.scan = job.scan, None
        if self._job is job:
            self._job = None
        return scan

    def _decorate(self, job: _Job) -> ScanResult:
        """The protocol's result: the engine's, plus RSS, unattributed bytes, provenance,
        the post-scan advice and what the scan itself cost."""
        raw = job.raw or {}
        engine_info = raw.get("scan") or {}
        stopped = job.stopped
        advice = job.post.result() if job.post is not None else _no_advice(raw)
        job.post = None
        rss = job.rss or current_rss()
        peak, left = _scan_cost(job, rss)
        summary: ScanSummary = {
            "duration_s": round(job.work_s, 6),
            "objects_visited": engine_info.get("objects_visited", 0),
            "complete": stopped is None and bool(engine_info.get("complete")),
            "stopped": stopped if stopped is not None else engine_info.get("stopped"),
            "engine": engine_info.get("engine", ENGINE_NATIVE),
            "peak_extra_bytes": peak,
            "left_behind_bytes": left,
        }
        if summary["stopped"] is None and not summary["complete"]:
            summary["stopped"] = STOP_BUDGET
        holders = [_wire_holder(h) for h in raw.get("holders") or []]
        attributed = int(raw.get("attributed_bytes") or 0)
        elsewhere = list(raw.get("held_elsewhere") or [])[:HELD_ELSEWHERE_TOP]
        return {
            "scan": summary,
            "rss": rss,
            "attributed_bytes": attributed,
            "unattributed_bytes": max(rss - attributed, 0),
            "freeable_bytes": int(raw.get("freeable_bytes") or 0),
            "held_elsewhere": elsewhere,
            "held_elsewhere_bytes": int((raw.get("held_elsewhere_total") or {}).get("bytes") or 0),
            "holders_total": max(int(raw.get("holders_total") or 0), len(holders)),
            "holder_index": list(raw.get("holder_index") or []),
            "holders": holders,
            "resources": advice["resources"],
            "findings": advice["findings"],
            "suggestions": advice["suggestions"],
        }


class _Done:
    """Advice that was given at once (a plain result)."""

    def __init__(self, result: dict[str, Any]) -> None:
        self._result = result

    def step(self, deadline: float, optional: bool) -> bool:
        return True

    def result(self) -> dict[str, Any]:
        return self._result


def _no_advice(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {"resources": [], "findings": unknown_findings(), "suggestions": []}


_HOLDER_DEFAULTS: Final[dict[str, Any]] = {"also_held_by": [], "freeable": True}


def _wire_holder(holder: Mapping[str, Any]) -> Any:
    """A holder as the protocol sends it: the 1.3 fields an engine without them
    leaves out are filled (nothing else holds it: freeable)."""
    out = dict(holder)
    for key, value in _HOLDER_DEFAULTS.items():
        out.setdefault(key, list(value) if isinstance(value, list) else value)
    out["freeable"] = not out["also_held_by"]
    return out


def _open_hwm() -> HighWaterMark | None:
    """A VmHWM probe, reset now; None where procfs or ``clear_refs`` is missing."""
    try:
        hwm = HighWaterMark()
    except OSError:
        return None
    try:
        hwm.reset()
    except OSError:
        hwm.close()
        return None
    return hwm


def _close_hwm(job: _Job) -> None:
    hwm, job.hwm = job.hwm, None
    if hwm is not None:
        hwm.close()


def _scan_cost(job: _Job, rss_before: int) -> tuple[int | None, int | None]:
    """``(peak_extra_bytes, left_behind_bytes)``: the scan's high-water mark above
    the RSS at its start, and RSS now minus then (None where unknown)."""
    left = current_rss() - rss_before if rss_before else None
    hwm = job.hwm
    if hwm is None or not rss_before:
        return None, left
    try:
        _rss, peak = hwm.read()
    except OSError:
        return None, left
    return max(peak - rss_before, 0), left


def _stop_and_collect(scan: ScanLike, reason: str | None, slice_s: float) -> dict[str, Any]:
    """Stop ``scan`` for ``reason`` (if any) and return its result.

    The engine's ``stop()`` only asks; the next ``step()`` returns with the
    partial result assembled (within one slice), after which ``result()``
    drops its user references.
    """
    if reason is not None and not scan.finished:
        scan.stop(reason)
    while not scan.finished:
        try:
            scan.step(slice_s)
        except KeyboardInterrupt:  # the engine has finished with `interrupted`
            if not scan.finished:
                raise
    return scan.result()


def never_started(rss: int, reason: ScanStopped | None) -> ScanResult:
    """The result of a scan stopped (``reason``) before it started: nothing found, and
    findings unknown (not measured)."""
    return {
        "scan": {
            "duration_s": 0.0,
            "objects_visited": 0,
            "complete": False,
            "stopped": reason or STOP_CANCELLED,
            "engine": _engine_name(),
            "peak_extra_bytes": None,
            "left_behind_bytes": None,
        },
        "rss": rss,
        "attributed_bytes": 0,
        "unattributed_bytes": rss,
        "freeable_bytes": 0,
        "held_elsewhere": [],
        "held_elsewhere_bytes": 0,
        "holders_total": 0,
        "holder_index": [],
        "holders": [],
        "resources": [],
        "findings": unknown_findings(),
        "suggestions": [],
    }


def _engine_name() -> Any:
    from ..heap.engine import engine_name  # noqa: PLC0415 - light, but only here

    try:
        return engine_name()
    except RuntimeError:  # MEMORY_DOCTOR_ENGINE=native without the extension
        return ENGINE_PYTHON


def unknown_findings() -> WireFindings:
    """Findings that were not measured."""
    return {
        "open_fds": None,
        "threads": None,
        "children": None,
        "cyclic_garbage": None,
        "allocator_gap": None,
    }


__all__ = [
    "WAIT_POLL_S",
    "Advice",
    "ScanAdvice",
    "ScanBusyError",
    "ScanFactory",
    "ScanLike",
    "ScanParamsError",
    "ScanRunner",
    "engine_scan",
    "never_started",
    "on_loop",
    "parse_params",
    "unknown_findings",
    "user_namespaces",
]
