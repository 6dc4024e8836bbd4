"""Arming, the per-cell hooks, safety, and the body of ``%%memory profile``.

How a run gets profiled:

* **Comm request** (badge menu, command palette): ``profile_next`` with a
  ``cell_id`` calls :meth:`ProfileController.arm`. The next run of that cell
  starts the backend in :meth:`ProfileController.pre_run_cell`;
  :meth:`ProfileController.post_run_cell` stops it and returns the profile,
  which ``extension.py`` sends as ``cell_profile`` after the run's
  ``cell_measured``. ``profile_cancel`` disarms.
* **Execute metadata** (``memory-doctor run --profile``):
  ``{"memory_doctor": {"profile": "auto"}}`` in the execute request's
  metadata, read from ``ExecutionInfo.cell_meta`` (IPython >= 9) or the
  kernel's parent header.
* **Cell magic** ``%%memory profile [--backend B]``: :meth:`run_magic` runs the
  body right there, traced, and returns its last value.

``extension.py`` calls the two hooks from its own ``pre_run_cell`` (before its
measurement starts, so the profiler's set-up is not the cell's) and
``post_run_cell`` (first, so the trace stops before the record is built).
Not armed, they cost a dictionary check and an attribute read per cell.

Safety rules kept here:

* The cell's code, result and exception are untouched: the hook path never
  wraps or rewrites the cell; the magic re-raises whatever the body raised.
* Tracing stops in ``post_run_cell``, which IPython and ipykernel fire in a
  ``finally`` (also after an exception or a KeyboardInterrupt in the cell); the
  magic stops in its own ``finally``. A KeyboardInterrupt that lands in our own
  code tears the trace down and is reported in the profile's ``error``; one
  that lands in the line hook propagates into the cell (CPython then removes
  the hook), exactly as it would have without us.
* A backend that cannot start (memray missing or already tracking, a platform
  without it) falls back to tracemalloc, or leaves the cell unprofiled, with a
  note saying why. Nothing is printed (IPython prints what a hook raises, so
  the hooks raise nothing, KeyboardInterrupt included).
* No reference to the user's objects is kept: the run holds ``id()`` integers,
  the profile is plain data, and the shell is held weakly.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import linecache
import shlex
import threading
import tracemalloc
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, NoReturn, Protocol, Union

from ...log import quiet_logger
from ...protocol import MAX_ID_CHARS, PROFILE_BACKEND_CHOICES, PROFILE_METADATA_KEY
from .attribution import attribute
from .cells import CellIndex, CellRef
from .memray_backend import MemrayBackend
from .memray_backend import available as memray_available
from .model import CellRefDict, Profile, RawProfile
from .tracemalloc_backend import DEFAULT_NFRAMES, TracemallocBackend

_log = quiet_logger(__name__)

#: What a request may ask for; ``auto`` is memray where it imports, else tracemalloc.
BACKENDS = PROFILE_BACKEND_CHOICES
#: The execute-request metadata key a headless driver sets to profile a run.
META_KEY = PROFILE_METADATA_KEY
Backend = Union[TracemallocBackend, MemrayBackend]
_magic_names = itertools.count(1)


class ProfileRequestError(ValueError):
    """A profile request that cannot be honoured; the message says what to do instead."""


class HeapLender(Protocol):
    """The helper's own tracemalloc figures (``measure.HeapTracer``).

    When they run on a trace the helper started (1 frame), a tracemalloc
    profile stops that trace, runs its own (deep frames, its peak counter), and
    hands the run's figures back, rather than inherit a 1-frame trace.
    """

    def lend(self) -> bool:
        """Stop the helper's own trace for the profiler; True if it was running."""
        ...

    def settle(self, figures: tuple[int, int] | None) -> None:
        """Restart the helper's trace; ``figures`` is the run's (net, peak) bytes."""
        ...


@dataclass
class ProfileRequest:
    """What to profile and how (plain data: it arrives over the comm)."""

    cell_id: str | None = None  # None: the next non-silent cell run, whatever it is
    backend: str = "auto"
    nframes: int = DEFAULT_NFRAMES
    native_traces: bool = False
    #: memray: record every pymalloc block (exact small objects) or only arenas.
    python_allocators: bool = True

    def validate(self) -> None:
        """Raise :class:`ProfileRequestError` with an actionable sentence."""
        if self.backend not in BACKENDS:
            raise ProfileRequestError(
                f"Unknown profile backend {str(self.backend)[:40]!r}: use one of "
                f"{', '.join(BACKENDS)}."
            )
        if self.backend == "memray" and not memray_available():
            raise ProfileRequestError(
                "memray is not installed in this kernel: `pip install memray` in the kernel's "
                "environment (Linux or macOS), or use backend 'tracemalloc'."
            )
        if isinstance(self.nframes, bool) or not isinstance(self.nframes, int):
            raise ProfileRequestError("nframes must be a whole number from 1 to 1024.")
        if not 1 <= self.nframes <= 1024:
            raise ProfileRequestError("nframes must be a whole number from 1 to 1024.")
        if self.cell_id is not None and (
            not isinstance(self.cell_id, str) or not 0 < len(self.cell_id) <= MAX_ID_CHARS
        ):
            raise ProfileRequestError(
                f"cell_id must be the cell's id: a string of 1 to {MAX_ID_CHARS} characters."
            )

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ProfileRequest:
        """A ``profile_next`` request's fields, checked (never evaluated)."""
        cell_id = data.get("cell_id")
        backend = data.get("backend", "auto")
        if not isinstance(cell_id, str) or not cell_id:
            raise ProfileRequestError(
                "profile_next needs the cell_id of the cell to profile (a non-empty string)."
            )
        if not isinstance(backend, str):
            raise ProfileRequestError(f"backend must be one of {', '.join(BACKENDS)}.")
        request = cls(cell_id=cell_id, backend=backend)
        request.validate()
        return request


@dataclass
class _Run:
    request: ProfileRequest
    backend: Backend
    cell_id: str | None
    map_before: dict[str, int]
    #: id() of each user-namespace value at the start (ints only, no references).
    ids_before: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    depth: int = 0
    #: The thread the cell runs in (ipykernel >= 7 subshells run cells in other
    #: threads; their hooks must not touch this run).
    thread: int = field(default_factory=threading.get_ident)
    raw_lines: list[str] = field(default_factory=list)
    #: Whether the helper's own tracemalloc trace was stopped for this run.
    lent: bool = False


class ProfileController:
    """Profiles the armed runs of one shell; the profiles are plain data."""

    def __init__(
        self,
        shell: Any,
        deliver: Callable[[Profile], None] | None = None,
        *,
        heap: HeapLender | None = None,
        parent_metadata: Callable[[], Mapping[str, Any] | None] | None = None,
    ) -> None:
        # Weak: the shell owns the helper that owns us.
        self._shell_ref = weakref.ref(shell)
        self.cells = CellIndex(shell)
        self._deliver = deliver
        self._heap = heap
        self._parent_metadata = parent_metadata
        self._lock = threading.Lock()
        self._armed: dict[str | None, ProfileRequest] = {}
        self._run: _Run | None = None
        #: A run whose profile could not start: reported at its post_run_cell.
        self._failed_start: tuple[int, Profile] | None = None
        self._current_cell_id: str | None = None
        #: The last profile built (plain data), for the magic, tests and headless use.
        self.last: Profile | None = None

    @property
    def shell(self) -> Any:
        """The shell, while it exists."""
        return self._shell_ref()

    # -- requests ------------------------------------------------------------
    def arm(self, request: ProfileRequest) -> None:
        """Profile the next run of ``request.cell_id`` (or of any cell if None)."""
        request.validate()
        with self._lock:
            self._armed[request.cell_id] = request

    def disarm(self, cell_id: str | None = None) -> bool:
        """Cancel a pending request; True if there was one."""
        with self._lock:
            return self._armed.pop(cell_id, None) is not None

    @property
    def armed(self) -> list[str | None]:
        """Cell ids with a pending request (None = any cell)."""
        with self._lock:
            return list(self._armed)

    @property
    def running(self) -> bool:
        """Whether a run is being profiled now."""
        return self._run is not None

    def shutdown(self) -> None:
        """Disarm everything and stop a trace still running (idempotent)."""
        with self._lock:
            self._armed.clear()
            run, self._run = self._run, None
        if run is not None:
            self._abort(run)

    # -- hooks (called by extension.py; they never raise) ---------------------
    def pre_run_cell(self, info: Any) -> None:
        """Start the backend if this run is wanted."""
        try:
            self._pre_run_cell(info)
        except BaseException:  # IPython prints what a hook raises
            # KeyboardInterrupt included: the cell runs unprofiled.
            _log.debug("profile pre_run_cell failed", exc_info=True)

    def post_run_cell(self, result: Any) -> Profile | None:
        """Stop the backend if this run was traced; its profile, or None."""
        try:
            return self._post_run_cell(result)
        except BaseException:  # as above
            _log.debug("profile post_run_cell failed", exc_info=True)
            run = self._run
            if run is not None and run.thread == threading.get_ident():
                self._run = None
                self._abort(run)
            return None

    def _pre_run_cell(self, info: Any) -> None:
        cell_id = getattr(info, "cell_id", None)
        self._current_cell_id = cell_id if isinstance(cell_id, str) else None
        run = self._run
        if run is not None:
            if run.thread == threading.get_ident():
                run.depth += 1  # a cell run from inside the profiled cell
            # else: a cell in another subshell; one profile at a time.
            return
        request = self._wanted(info)
        if request is None:
            return
        try:
            started = self._start(request, self._current_cell_id)
        except KeyboardInterrupt:
            # Interrupted while starting: nothing is left running; the cell runs
            # unprofiled (IPython would swallow the interrupt here anyway).
            return
        except Exception as exc:
            cell: CellRefDict = {"cell_id": self._current_cell_id, "execution_count": None}
            failed = _failed(request.backend, cell, f"The profile could not start: {exc}", "")
            self._failed_start = (threading.get_ident(), failed)
            return
        started.raw_lines = (getattr(info, "raw_cell", "") or "").splitlines()
        self._run = started

    def _wanted(self, info: Any) -> ProfileRequest | None:
        """The request this run fulfils (taken off the armed list), if any."""
        wanted = self._meta_request(info)
        if not self._armed:
            return wanted  # the fast path of every unprofiled cell
        cell_id = self._current_cell_id
        with self._lock:
            request = self._armed.pop(cell_id, None) if cell_id is not None else None
            if request is None and not getattr(info, "silent", False):
                request = self._armed.pop(None, None)
        return request if request is not None else wanted

    def _meta_request(self, info: Any) -> ProfileRequest | None:
        meta = getattr(info, "cell_meta", None)
        if meta is None and self._parent_metadata is not None and self._current_cell_id:
            # IPython < 9 (or an ipykernel that does not pass it) has no
            # cell_meta; a driver asking for a profile always sends a cell id.
            meta = self._parent_metadata()
        # None and dict first: an ABC isinstance costs more than the rest of this hook.
        if meta is None or (not isinstance(meta, dict) and not isinstance(meta, Mapping)):
            return None
        ours = meta.get(META_KEY)
        if ours is None or not isinstance(ours, Mapping):
            return None
        backend = ours.get("profile")
        if backend not in BACKENDS:
            return None
        return ProfileRequest(cell_id=self._current_cell_id, backend=str(backend))

    def _post_run_cell(self, result: Any) -> Profile | None:
        count = getattr(result, "execution_count", None) if result is not None else None
        info = getattr(result, "info", None)
        cell_id = getattr(info, "cell_id", None)
        if isinstance(count, int) and isinstance(cell_id, str):
            self.cells.note_cell(count, cell_id)
        failed_start = self._failed_start
        if failed_start is not None and failed_start[0] == threading.get_ident():
            self._failed_start = None
            profile = failed_start[1]
            profile["cell"]["execution_count"] = count if isinstance(count, int) else None
            self.last = profile
            return profile
        run = self._run
        if run is None or run.thread != threading.get_ident():
            return None
        if run.depth > 0:
            run.depth -= 1
            return None
        self._run = None
        files = self._profiled_files(run, count)
        holders = self._holders(run, files)
        for name in files:
            # Raw text only where IPython's transforms kept the line numbering
            # (they do, except for cell magics, which become one line).
            if len(linecache.getlines(name)) == len(run.raw_lines):
                self.cells.set_raw_source(name, run.raw_lines)
        if files and not isinstance(count, int):
            ref = self.cells.ref(files[0])
            count = ref.execution_count if ref is not None else None
        cell_ref: CellRefDict = {
            "cell_id": run.cell_id,
            "execution_count": count if isinstance(count, int) else None,
        }
        return self._finish(run, files, cell_ref, _error_of(result), holders)

    # -- shared by hooks and magic ------------------------------------------
    def _start(self, request: ProfileRequest, cell_id: str | None) -> _Run:
        notes: list[str] = []
        shell = self._shell_ref()
        mapping = getattr(getattr(shell, "compile", None), "_filename_map", None)
        map_before = dict(mapping) if isinstance(mapping, dict) else {}
        want_memray = request.backend == "memray" or (
            request.backend == "auto" and memray_available()
        )
        if want_memray:
            mem = MemrayBackend(
                native_traces=request.native_traces,
                trace_python_allocators=request.python_allocators,
            )
            try:
                mem.start()
                return _Run(request, mem, cell_id, map_before, notes=notes)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                notes.append(f"memray could not start ({exc}); tracemalloc was used instead.")
        backend = TracemallocBackend(self.cells, nframes=request.nframes)
        ids_before = self._user_ids()
        lent = self._heap.lend() if self._heap is not None else False
        try:
            backend.start()
        except BaseException:
            backend.abort()
            if lent and self._heap is not None:
                self._heap.settle(None)
            raise
        return _Run(
            request, backend, cell_id, map_before, ids_before=ids_before, notes=notes, lent=lent
        )

    def _abort(self, run: _Run) -> None:
        try:
            run.backend.abort()
        finally:
            if run.lent and self._heap is not None:
                self._heap.settle(None)

    def _user_ids(self) -> dict[str, int]:
        """id() of each public user-namespace value: plain ints, no references kept."""
        namespace = getattr(self._shell_ref(), "user_ns", None)
        if not isinstance(namespace, dict):
            return {}
        return {
            name: id(value)
            for name, value in list(namespace.items())
            if isinstance(name, str) and not name.startswith("_")
        }

    def _holders(self, run: _Run, files: list[str]) -> dict[tuple[str, int], list[str]]:
        """Which line allocated the object each newly bound name holds.

        tracemalloc: ``tracemalloc.get_object_traceback`` reads the traceback
        stored with the object's memory block; it runs no user code and needs
        the trace on, so it happens before the backend stops. memray keeps no
        per-object record, so a line holds the names it assigns (top-level
        statements) whose object changed during the run. Only names whose
        object changed; only the top-level namespace (the heap scan finds
        deeper holders).
        """
        namespace = getattr(self._shell_ref(), "user_ns", None)
        if not isinstance(namespace, dict) or not files:
            return {}
        public = [
            (name, value)
            for name, value in list(namespace.items())
            if isinstance(name, str) and not name.startswith("_")
        ]
        found: dict[tuple[str, int], list[str]] = {}
        if isinstance(run.backend, TracemallocBackend) and tracemalloc.is_tracing():
            # Every public name, not only those whose id changed: a new object can
            # reuse the id of the one it replaced (a dict freed by an earlier run),
            # and its traceback alone says whether this run's lines allocated it.
            wanted = set(files)
            for name, value in public:
                traceback = tracemalloc.get_object_traceback(value)
                if traceback is None:
                    continue
                for frame in reversed(traceback):  # most recent first
                    if frame.filename in wanted:
                        found.setdefault((frame.filename, frame.lineno), []).append(name)
                        break
            return found
        names = {name for name, value in public if run.ids_before.get(name) != id(value)}
        del public
        for filename in files:
            for line, assigned in _assignments(linecache.getlines(filename)).items():
                held = sorted(names.intersection(assigned))
                if held:
                    found[(filename, line)] = held
        return found

    def _profiled_files(self, run: _Run, count: int | None) -> list[str]:
        if isinstance(count, int):
            files = self.cells.files_of_execution(count)
            if files:
                return files
        mapping = getattr(getattr(self._shell_ref(), "compile", None), "_filename_map", None)
        if not isinstance(mapping, dict):
            return []
        return [name for name, n in list(mapping.items()) if run.map_before.get(name) != n]

    def _finish(
        self,
        run: _Run,
        files: list[str],
        cell: CellRefDict,
        error: str,
        holders: dict[tuple[str, int], list[str]] | None = None,
    ) -> Profile:
        lent = run.lent
        figures: tuple[int, int] | None = None
        try:
            raw: RawProfile = run.backend.stop()
            if lent:
                figures = (raw.end_bytes, raw.peak_bytes)
            raw.notes[:0] = run.notes
            profile = attribute(raw, self.cells, files, cell, error=error, holders=holders)
        except KeyboardInterrupt:
            run.backend.abort()
            why = "The profile's analysis was interrupted."
            profile = _failed(_backend_name(run), cell, why, "KeyboardInterrupt")
        except Exception as exc:
            run.backend.abort()
            why = f"The profile could not be built: {exc!r}"
            profile = _failed(_backend_name(run), cell, why, error)
        finally:
            self.cells.forget_extra()  # the raw source and magic files of this run only
            if lent and self._heap is not None:
                self._heap.settle(figures)
        self.last = profile
        return profile

    # -- the magic -----------------------------------------------------------
    def run_magic(self, line: str, cell: str) -> Any:
        """``%%memory profile [--backend B] [--nframes N] [--native]``: run, profile, return.

        ``line`` is what follows ``%%memory`` (``profile`` included). The body is
        compiled as notebook code of its own (its lines are reported as the
        cell's raw lines, the magic line being line 1), run in the user
        namespace, and its last expression's value returned, so IPython
        displays it as ``Out[n]``. The body's exception is re-raised unchanged;
        the profile is delivered either way. Top-level ``await`` is not
        supported in the body.
        """
        request = self._magic_request(line)
        shell = self._shell_ref()
        if shell is None:
            from IPython.core.error import UsageError  # noqa: PLC0415 - magics only

            raise UsageError("This IPython shell is gone; %%memory profile cannot run the cell.")
        transformed = shell.transform_cell(cell)
        count = getattr(shell, "execution_count", None)
        name = f"<memory-doctor-profile-{next(_magic_names)}>"
        linecache.cache[name] = (len(transformed), None, transformed.splitlines(True), name)
        ref_count = _current_count(shell, count)
        raw_lines = ["%%memory " + line, *cell.splitlines()]
        self.cells.add_file(
            CellRef(name, ref_count, self._current_cell_id, line_offset=1), raw_lines
        )
        tree = ast.parse(transformed, filename=name)
        last_expr: ast.Expression | None = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last_expr = ast.Expression(tree.body.pop().value)
        flags = shell.compile.flags
        body_code = compile(tree, name, "exec", flags, dont_inherit=True)
        expr_code = (
            compile(last_expr, name, "eval", flags, dont_inherit=True)
            if last_expr is not None
            else None
        )
        namespace = shell.user_ns
        if self._run is not None:
            # This cell is already profiled through the hooks: just run the body.
            exec(body_code, namespace)  # noqa: S102 - the user's own cell body
            return eval(expr_code, namespace) if expr_code is not None else None  # noqa: S307
        try:
            run = self._start(request, self._current_cell_id)
        except Exception as exc:
            # The body runs unprofiled; the profile says why.
            where: CellRefDict = {"cell_id": self._current_cell_id, "execution_count": ref_count}
            self.last = _failed(request.backend, where, f"The profile could not start: {exc}", "")
            self.cells.forget_extra()
            if self._deliver is not None:
                self._deliver(self.last)
            exec(body_code, namespace)  # noqa: S102 - the user's own cell body
            return eval(expr_code, namespace) if expr_code is not None else None  # noqa: S307
        run.raw_lines = raw_lines
        error = ""
        value: Any = None
        try:
            exec(body_code, namespace)  # noqa: S102 - the user's own cell body
            if expr_code is not None:
                value = eval(expr_code, namespace)  # noqa: S307 - as above
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            holders = self._holders(run, [name])
            profile = self._finish(
                run, [name], {"cell_id": run.cell_id, "execution_count": ref_count}, error, holders
            )
            if self._deliver is not None:
                self._deliver(profile)
        return value

    def _magic_request(self, line: str) -> ProfileRequest:
        from IPython.core.error import UsageError  # noqa: PLC0415 - magics only

        usage = "%%memory profile [--backend auto|tracemalloc|memray] [--nframes N] [--native]"
        try:
            args = _magic_parser().parse_args(shlex.split(line))
        except ValueError as exc:
            raise UsageError(f"{exc}. Usage: {usage}") from None
        request = ProfileRequest(
            cell_id=self._current_cell_id,
            backend=args.backend,
            nframes=args.nframes,
            native_traces=args.native,
        )
        try:
            request.validate()
        except ProfileRequestError as exc:
            raise UsageError(f"{exc} Usage: {usage}") from None
        return request


def _current_count(shell: Any, count: Any) -> int | None:
    """The running cell's execution count, from the shell's (IPython >= 9.8 bumps it
    before the cell runs, older ones after)."""
    if not isinstance(count, int):
        return None
    import IPython  # noqa: PLC0415 - loaded: we run in a shell

    version = tuple(getattr(IPython, "version_info", (0, 0))[:2])
    return count - 1 if version >= (9, 8) else count


def _assignments(lines: list[str]) -> dict[int, set[str]]:
    """Line -> the names each top-level statement of the source binds by assignment.

    A statement spanning lines maps to each of them (an allocation is reported
    at the line running when it happened).
    """
    try:
        tree = ast.parse("".join(lines))
    except (SyntaxError, ValueError):
        return {}
    out: dict[int, set[str]] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        names = {
            sub.id
            for target in targets
            for sub in ast.walk(target)
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store)
        }
        if names:
            end = getattr(node, "end_lineno", None) or node.lineno
            for line in range(node.lineno, end + 1):
                out.setdefault(line, set()).update(names)
    return out


def _error_of(result: Any) -> str:
    if result is None:
        return "Interrupted"  # ipykernel's async path on cancellation
    exc = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
    return type(exc).__name__ if exc is not None else ""


def _backend_name(run: _Run) -> str:
    return "memray" if isinstance(run.backend, MemrayBackend) else "tracemalloc"


def _failed(backend: str, cell: CellRefDict, why: str, error: str) -> Profile:
    return {
        "backend": "memray" if backend == "memray" else "tracemalloc",
        "cell": cell,
        "peak_mode": "none",
        "totals": {
            "peak_bytes": 0,
            "peak_view_bytes": 0,
            "net_bytes": 0,
            "outside_net_bytes": 0,
            "outside_peak_bytes": 0,
            "unattributed_net_bytes": 0,
            "unattributed_peak_bytes": 0,
        },
        "lines": [],
        "stacks": [],
        "elapsed_s": 0.0,
        "overhead_s": 0.0,
        "note": why,
        "error": error,
    }


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(f"{message[:1].upper()}{message[1:]}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise ValueError(message or "bad options")


def _magic_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%%memory profile", add_help=False, allow_abbrev=False)
    parser.add_argument("command", choices=["profile"])
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--nframes", type=int, default=DEFAULT_NFRAMES)
    parser.add_argument("--native", action="store_true")
    return parser


__all__ = [
    "BACKENDS",
    "META_KEY",
    "HeapLender",
    "ProfileController",
    "ProfileRequest",
    "ProfileRequestError",
]
