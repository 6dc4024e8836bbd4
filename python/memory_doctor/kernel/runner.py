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
  partial result at once, so a cell waits at most one slice. A scan requested
  while a cell runs (an async cell awaiting, or a cell on a subshell thread)
  waits for the cell to finish before it starts.
- A slice holds ``_lock``; hooks on other threads wait at most one slice.
- After the reply the runner holds nothing of the scan: the ``Scan`` object
  drops its user references in ``result()`` and the runner drops the ``Scan``.

After the walk come the post-scan steps (:class:`ScanAdvice`): the cell behind
each holder (provenance), the resources, the process findings and the
suggestions, whose fix table goes to ``kernel/fixing.py``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Final, Protocol

from ..log import quiet_logger
from ..procmem import current_rss
from ..protocol import (
    DEFAULT_MAX_HOLDERS,
    DEFAULT_SCAN_BUDGET_S,
    ERR_INTERNAL,
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
#: How often a scan (or a fix) waiting for a running cell looks again.
WAIT_POLL_S: Final = 0.1

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
#: ``advice(engine_result, holders, stopped) -> {"resources", "findings", "suggestions"}``.
Advice = Callable[[Mapping[str, Any], list[Any], "str | None"], dict[str, Any]]


class ScanParamsError(BadRequest):
    """The ``scan`` request's parameters are invalid; the message says which and why."""


class ScanBusyError(BadRequest):
    """Another scan is running."""


def parse_params(data: Mapping[str, Any]) -> tuple[float, int]:
    """``(budget_s, max_holders)`` from a ``scan`` request; ``ScanParamsError`` if invalid.

    Unknown fields are ignored, as for ``get_rss``: a later MINOR may add some.
    """
    budget = data.get("budget_s", DEFAULT_SCAN_BUDGET_S)
    if (
        isinstance(budget, bool)
        or not isinstance(budget, (int, float))
        or not math.isfinite(budget)
        or not 0 < budget <= MAX_SCAN_BUDGET_S
    ):
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
    """The real engine: roots of the namespace, then a ``Scan`` over them."""
    from ..advice.resources import ResourceTypes  # noqa: PLC0415 - as below
    from ..heap.roots import enumerate_roots  # noqa: PLC0415 - heavy; only when a scan is asked for
    from ..heap.scan import Scan  # noqa: PLC0415 - as above

    roots = enumerate_roots(user_ns, user_ns_hidden)
    return Scan(
        roots,
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

    def __call__(
        self, raw: Mapping[str, Any], holders: list[Any], stopped: str | None
    ) -> dict[str, Any]:
        """``resources``, ``findings`` and ``suggestions`` of the result ``raw``."""
        from ..advice.findings import Findings  # noqa: PLC0415 - heavy; only after a scan
        from ..advice.resources import finish_resources, wire_resource  # noqa: PLC0415 - as above
        from ..advice.suggestions import build_suggestions  # noqa: PLC0415 - as above

        shell = self._shell_ref()
        namespace = getattr(shell, "user_ns", None)
        try:
            resources = [dict(r) for r in raw.get("resources") or []]
            finish_resources(
                resources, holders, namespace, self._provenance, user_namespaces(namespace)
            )
            # Stopped by a cell's pre_run_cell: the cell is waiting, so skip the
            # heap-wide findings (cyclic garbage is a pass over the whole heap).
            findings = Findings() if stopped == STOP_CELL_RAN else Findings.measure()
            built = build_suggestions(holders, resources, findings, shell, self._provenance)
        except Exception:
            _log.debug("building suggestions failed", exc_info=True)
            self._keep_fix_table(None)
            return {"resources": [], "findings": unknown_findings(), "suggestions": []}
        self._keep_fix_table(built.fix_table)
        return {
            "resources": [wire_resource(r) for r in resources],
            "findings": findings.as_wire(),
            "suggestions": built.suggestions,
        }


class _Job:
    """One requested scan: plain data and where its reply goes, plus the ``Scan`` while it runs."""

    __slots__ = (
        "budget_s",
        "last_progress",
        "max_holders",
        "queued_at",
        "reply",
        "rss",
        "scan",
        "started_at",
    )

    def __init__(self, reply: Reply, budget_s: float, max_holders: int) -> None:
        self.reply = reply
        self.budget_s = budget_s
        self.max_holders = max_holders
        self.scan: ScanLike | None = None
        self.queued_at = time.monotonic()
        self.started_at = 0.0
        self.last_progress = 0.0
        self.rss = 0


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
            try:
                again = self._advance(job)
            except KeyboardInterrupt:
                # An interrupt while the first slice ran inside the request handler.
                self._finish(job, STOP_CANCELLED)
            except Exception:  # a guest answers; it never raises into the loop
                _log.debug("scan slice failed", exc_info=True)
                self._fail(job)
        if again is not None:
            loop.call_later(max(again, YIELD_S), self._tick, job)

    def _advance(self, job: _Job) -> float | None:
        """Start or continue ``job``; the delay before the next tick, None when it ended."""
        if job.scan is not None:
            return self._slice(job)
        if not self.is_cell_running():
            self._create(job)
            return self._slice(job)
        if time.monotonic() - job.queued_at <= job.budget_s + SCAN_OVERRUN_S:
            return WAIT_POLL_S  # a cell is running: start once it is done
        self._finish(job, STOP_CELL_RAN)  # never got a quiet moment
        return None

    def _slice(self, job: _Job) -> float | None:
        """Run one slice; 0 to run again soon, None when the job ended."""
        scan = job.scan
        if scan is None:
            return None
        if scan.step(self._slice_s):
            self._finish(job, None)
            return None
        if time.monotonic() - job.started_at > job.budget_s + SCAN_OVERRUN_S:
            self._finish(job, STOP_BUDGET)
            return None
        return 0

    def _run_to_completion(self, job: _Job) -> None:
        """The fallback without an event loop: the whole scan inside the request."""
        try:
            self._create(job)
            scan = job.scan
            while scan is not None and not scan.step(self._slice_s):
                if time.monotonic() - job.started_at > job.budget_s + SCAN_OVERRUN_S:
                    self._finish(job, STOP_BUDGET)
                    return
            self._finish(job, None)
        except KeyboardInterrupt:
            self._finish(job, STOP_CANCELLED)
        except Exception:
            _log.debug("scan failed", exc_info=True)
            self._fail(job)

    # -- building and ending -------------------------------------------------------

    def _create(self, job: _Job) -> None:
        shell = self._shell_ref()
        if shell is None:
            raise RuntimeError("the shell is gone")
        # RSS before the scan allocates anything, so the scan's own working memory
        # is not reported as the user's unattributed memory.
        job.rss = current_rss()
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

    def _finish(self, job: _Job, reason: ScanStopped | None) -> None:
        """End ``job`` (stopping it for ``reason`` if given) and give its reply."""
        scan, job.scan = job.scan, None
        self._job = None
        try:
            if scan is None:
                # It never started (queued behind a cell): nothing to advise on, and
                # the cell it waited for may still be running.
                result = never_started(job.rss or current_rss(), reason)
            else:
                raw = _stop_and_collect(scan, reason, self._slice_s)
                del scan  # the engine has dropped its user references; so do we
                result = self._decorate(raw, job, reason)
            message = reply_ok(job.reply.request_id, result)
        except Exception:
            _log.debug("finishing the scan failed", exc_info=True)
            job.reply.error(ERR_INTERNAL, _SCAN_FAILED)
            return
        job.reply.send(message)

    def _fail(self, job: _Job) -> None:
        self._drop(job)
        job.reply.error(ERR_INTERNAL, _SCAN_FAILED)

    def _abort(self, job: _Job) -> None:
        scan = self._drop(job)
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

    def _decorate(
        self, raw: Mapping[str, Any], job: _Job, reason: ScanStopped | None
    ) -> ScanResult:
        """The protocol's result: the engine's, plus RSS, unattributed bytes, provenance
        and the post-scan advice."""
        engine_info = raw.get("scan") or {}
        stopped = engine_info.get("stopped")
        if reason is not None and stopped is None:
            stopped = reason
        summary: ScanSummary = {
            "duration_s": engine_info.get("duration_s", 0.0),
            "objects_visited": engine_info.get("objects_visited", 0),
            "complete": bool(engine_info.get("complete")) and reason is None,
            "stopped": stopped,
        }
        attributed = int(raw.get("attributed_bytes") or 0)
        holders = list(raw.get("holders") or [])
        namespace = getattr(self._shell_ref(), "user_ns", None)
        self._provenance.fill(holders, namespace if isinstance(namespace, Mapping) else None)
        rss = job.rss or current_rss()
        advice = self.advice(raw, holders, reason)
        return {
            "scan": summary,
            "rss": rss,
            "attributed_bytes": attributed,
            "unattributed_bytes": max(rss - attributed, 0),
            "holders": holders,
            "resources": advice["resources"],
            "findings": advice["findings"],
            "suggestions": advice["suggestions"],
        }


def _stop_and_collect(scan: ScanLike, reason: str | None, slice_s: float) -> dict[str, Any]:
    """Stop ``scan`` for ``reason`` (if any) and return its result.

    The engine's ``stop()`` only asks; the next ``step()`` returns at once with
    the partial result assembled, after which ``result()`` drops its user
    references.
    """
    if reason is not None and not scan.finished:
        scan.stop(reason)
    if not scan.finished:
        scan.step(slice_s)
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
        },
        "rss": rss,
        "attributed_bytes": 0,
        "unattributed_bytes": rss,
        "holders": [],
        "resources": [],
        "findings": unknown_findings(),
        "suggestions": [],
    }


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
