"""``memory-doctor``: measure a notebook's memory per cell, headless.

``memory-doctor run NOTEBOOK.ipynb --json REPORT.json`` runs every code cell
top to bottom in a fresh kernel with the helper loaded, and writes a report
(see ``report.py``). Exit codes: 0 ok, 1 the kernel died, 2 bad input,
3 a threshold was exceeded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from ..format import format_bytes
from ..protocol import FIX_REPLY_TIMEOUT_S, LEAK_MIN_RUNS, MAX_SCAN_BUDGET_S
from . import cluster, report
from . import profile as line_profile
from .report import STATUS_ERROR, STATUS_NOT_RUN, STATUS_OK

EXIT_OK: Final = 0
EXIT_KERNEL_DIED: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_THRESHOLD: Final = 3
#: Conventional exit status after SIGINT (128 + 2).
EXIT_INTERRUPTED: Final = 130

PROG: Final = "memory-doctor"
PIP_PACKAGE: Final = "jupyterlab-memory-doctor"

_SIZE_RE: Final = re.compile(
    r"^\s*(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>(?P<prefix>[kmgtp])?(?P<iec>i)?b?)\s*$",
    re.IGNORECASE,
)
_PREFIX_POWER: Final = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}

#: Threshold option dest -> report threshold name; the names match, kept explicit for grep.
_THRESHOLD_OPTIONS: Final = ("max_peak", "max_delta", "max_rss")

#: Default ``--scan-budget``; the largest is the helper's own, ``MAX_SCAN_BUDGET_S``.
DEFAULT_SCAN_BUDGET_S: Final = 30.0


class BadInputError(Exception):
    """Input the user can fix (missing file, invalid notebook, unknown kernel): exit 2."""


def parse_size(text: str) -> int:
    """Parse a byte size: ``500MB``, ``1.5GB``, ``2GiB``, ``300M``, ``4096``.

    SI prefixes (``k``, ``M``, ``G``, ``T``, ``P``, with or without ``B``) are
    powers of 1000; IEC prefixes (``KiB``, ``MiB``, …) are powers of 1024.
    Case does not matter. Raises ``ValueError`` for anything else.
    """
    match = _SIZE_RE.match(text)
    if match is None or (match["iec"] and not match["prefix"]):
        raise ValueError(text)
    prefix = (match["prefix"] or "").lower()
    base = 1024 if match["iec"] else 1000
    return int(float(match["num"]) * base ** _PREFIX_POWER[prefix])


def _size_arg(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}: use a number of bytes or a unit, e.g. 500MB, 1.5GB, 2GiB, 300M"
        ) from None


def _timeout_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"invalid timeout {text!r}: use a number of seconds > 0")
    return value


#: Largest ``--repeat``: each repetition runs the whole notebook again.
MAX_REPEAT: Final = 100


def _repeat_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_REPEAT:
        raise argparse.ArgumentTypeError(
            f"invalid repeat count {text!r}: use a whole number from 1 to {MAX_REPEAT}"
        )
    return value


def _scan_budget_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_SCAN_BUDGET_S:
        raise argparse.ArgumentTypeError(
            f"invalid scan budget {text!r}: use a number of seconds above 0 and at most "
            f"{MAX_SCAN_BUDGET_S:g}"
        )
    return value


def _profile_arg(text: str) -> str | frozenset[int]:
    try:
        return line_profile.parse_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The ``memory-doctor`` argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Measure a Jupyter notebook's memory use, cell by cell.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    run = sub.add_parser(
        "run",
        help="run a notebook in a fresh kernel and write a per-cell memory report",
        description=(
            "Run every code cell of NOTEBOOK top to bottom in a fresh kernel (the notebook's "
            "kernelspec; cwd = the notebook's folder) with the Memory Doctor helper loaded, and "
            "write a per-cell memory report. After the last cell, one scan finds what holds the "
            "kernel's memory (the report's holders). Cells that raise are recorded and the run "
            "goes on. "
            "Exit status: 0 ok, 1 the kernel died, 2 bad input, 3 a threshold was exceeded. "
            "SIZE: bytes, or with a unit: 500MB, 1.5GB (powers of 1000), 2GiB (1024), 300M."
        ),
    )
    run.add_argument("notebook", metavar="NOTEBOOK.ipynb", help="the notebook to run")
    run.add_argument(
        "--json", required=True, metavar="REPORT.json", help="write the JSON report here"
    )
    run.add_argument("--html", metavar="REPORT.html", help="also write a self-contained HTML page")
    run.add_argument(
        "--max-peak",
        type=_size_arg,
        metavar="SIZE",
        help="fail (exit 3) if a cell's peak increase (peak RSS minus RSS before) exceeds SIZE",
    )
    run.add_argument(
        "--max-delta",
        type=_size_arg,
        metavar="SIZE",
        help="fail (exit 3) if a cell's RSS change (after minus before) exceeds SIZE",
    )
    run.add_argument(
        "--max-rss",
        type=_size_arg,
        metavar="SIZE",
        help="fail (exit 3) if the kernel's peak RSS during any cell exceeds SIZE",
    )
    run.add_argument(
        "--timeout",
        type=_timeout_arg,
        metavar="S",
        help="interrupt a cell after S seconds, record it as an error and go on",
    )
    run.add_argument(
        "--kernel", metavar="NAME", help="kernelspec to use instead of the notebook's own"
    )
    run.add_argument(
        "--no-scan",
        dest="scan",
        action="store_false",
        help="skip the scan of what holds memory after the last cell (no 'holders' in the report)",
    )
    run.add_argument(
        "--scan-budget",
        type=_scan_budget_arg,
        default=DEFAULT_SCAN_BUDGET_S,
        metavar="S",
        help=(
            "stop the scan of what holds memory after S seconds and report what it found "
            f"(marked partial); default {DEFAULT_SCAN_BUDGET_S:g}, at most {MAX_SCAN_BUDGET_S:g}"
        ),
    )
    run.add_argument(
        "--repeat",
        type=_repeat_arg,
        default=1,
        metavar="N",
        help=(
            "run the whole notebook N times in the same kernel and report the cells whose "
            f"re-runs keep increasing memory (flagged after {LEAK_MIN_RUNS} growing runs: "
            "the report's 'growth'); the report's cells are the first run's"
        ),
    )
    run.add_argument(
        "--max-growth",
        type=_size_arg,
        metavar="SIZE",
        help=(
            "fail (exit 3) if a cell flagged as leaking grows by more than SIZE per run "
            f"(needs --repeat {LEAK_MIN_RUNS} or more)"
        ),
    )
    run.add_argument(
        "--fix",
        action="store_true",
        help=(
            "after the scan, apply every suggested fix in order (deleting variables, closing "
            "files...), then scan again: the report's 'fixes' and 'after_fix'"
        ),
    )
    run.add_argument(
        "--profile",
        type=_profile_arg,
        metavar="all|INDEX[,INDEX...]",
        help=(
            "line-profile these cells (indices as in the report, or all) on the first run: "
            "each line's net and at-peak bytes, in the report cell's 'profile'"
        ),
    )
    run.add_argument(
        "--profile-backend",
        choices=line_profile.BACKEND_CHOICES,
        default="auto",
        help=(
            "the profiler: memray sees native allocations too (where it is installed in the "
            "kernel), tracemalloc Python allocators only; auto picks memray when it can "
            "(default auto)"
        ),
    )
    run.add_argument("-q", "--quiet", action="store_true", help="print no per-cell progress")
    return parser


# --------------------------------------------------------------------------- notebook input


@dataclass(frozen=True)
class NotebookCell:
    """A notebook cell as the runner needs it."""

    index: int
    cell_id: str
    cell_type: str
    source: str


@dataclass(frozen=True)
class LoadedNotebook:
    """A parsed, validated notebook."""

    path: Path
    kernel_name: str | None
    cells: tuple[NotebookCell, ...]


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return str(text).strip()


def _schema_problem(raw: Mapping[str, Any]) -> str | None:
    """The first nbformat 4 schema violation in ``raw``, as text, or ``None``."""
    from nbformat.validator import get_validator  # noqa: PLC0415 - heavy

    minor = raw.get("nbformat_minor")
    if not isinstance(minor, int):
        return "nbformat_minor is missing or not an integer"
    validator = get_validator(version=4, version_minor=minor)  # type: ignore[no-untyped-call]
    if validator is None:
        return None
    for problem in validator.iter_errors(raw):
        where = "/".join(str(p) for p in getattr(problem, "absolute_path", ()) or ())
        detail = _first_line(getattr(problem, "message", "") or str(problem))
        return f"{detail} at {where}" if where else detail
    return None


def load_notebook(path: Path) -> LoadedNotebook:
    """Read and validate ``path`` as an nbformat 4 notebook; ``BadInputError`` if it is not."""
    import nbformat  # noqa: PLC0415 - heavy; keeps `memory-doctor --help` fast

    if not path.exists():
        raise BadInputError(f"{path}: no such file")
    if not path.is_file():
        raise BadInputError(f"{path}: not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: not a notebook (not UTF-8 text)") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{path}: not a notebook (not JSON: {exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("nbformat"), int):
        raise BadInputError(f"{path}: not a Jupyter notebook (no 'nbformat' version field)")
    if raw["nbformat"] < 4:
        raise BadInputError(
            f"{path}: nbformat {raw['nbformat']} notebooks are not supported; "
            f"convert it first: jupyter nbconvert --to notebook --nbformat 4 {path}"
        )
    with warnings.catch_warnings():
        # nbformat warns (to stderr) about e.g. missing cell ids; validation below decides.
        warnings.simplefilter("ignore")
        # Schema-check the raw JSON first: nbformat.reads/validate crash with a bare
        # TypeError on some malformed structures (e.g. "cells": 3, nbformat 5.10).
        problem = _schema_problem(raw)
        if problem is not None:
            raise BadInputError(f"{path}: not a valid nbformat notebook ({problem})")
        try:
            nb = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
            nbformat.validate(nb)
        except nbformat.ValidationError as exc:
            where = "/".join(str(p) for p in getattr(exc, "absolute_path", ()) or ())
            detail = _first_line(getattr(exc, "message", "") or str(exc))
            suffix = f" at {where}" if where else ""
            raise BadInputError(
                f"{path}: not a valid nbformat notebook ({detail}{suffix})"
            ) from None
        except Exception as exc:  # nbformat raises TypeError/KeyError on malformed structure
            raise BadInputError(
                f"{path}: not a valid nbformat notebook ({type(exc).__name__}: "
                f"{_first_line(str(exc))})"
            ) from None

    kernelspec = nb.get("metadata", {}).get("kernelspec") or {}
    kernel_name = kernelspec.get("name") if isinstance(kernelspec, Mapping) else None
    cells = []
    for index, cell in enumerate(nb.cells):
        cell_id = cell.get("id")
        cells.append(
            NotebookCell(
                index=index,
                # Notebooks before nbformat 4.5 have no ids; JupyterLab makes up its own.
                cell_id=str(cell_id) if cell_id else f"index-{index}",
                cell_type=str(cell.get("cell_type")),
                source=str(cell.get("source", "")),
            )
        )
    return LoadedNotebook(
        path=path,
        kernel_name=str(kernel_name) if kernel_name else None,
        cells=tuple(cells),
    )


def _check_kernelspec(name: str) -> list[str]:
    """The kernelspec's argv; ``BadInputError`` naming the installed ones if it is unknown."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel  # noqa: PLC0415

    manager = KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(name)
    except NoSuchKernel:
        known = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise BadInputError(
            f"no kernelspec named {name!r} (installed: {known}); pick one with --kernel NAME"
        ) from None
    return list(spec.argv)


def _pip_command(argv: Sequence[str]) -> str:
    """How to install the helper into the kernel behind ``argv``."""
    exe = argv[0] if argv else ""
    if "python" in Path(exe).name.lower():
        return f"{exe} -m pip install {PIP_PACKAGE}"
    return f"pip install {PIP_PACKAGE} (in the kernel's environment)"


def _check_output_path(option: str, target: str) -> None:
    parent = Path(target).resolve().parent
    if not parent.is_dir():
        raise BadInputError(f"{option} {target}: folder {parent} does not exist")


# --------------------------------------------------------------------------- running


class _Console:
    """Progress on stdout, problems on stderr, one line each."""

    def __init__(self, quiet: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def progress(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def error(self, text: str) -> None:
        print(f"{PROG}: error: {text}", file=self.err, flush=True)

    def note(self, text: str) -> None:
        print(f"{PROG}: {text}", file=self.err, flush=True)


def _short_id(cell_id: str) -> str:
    return cell_id if len(cell_id) <= 12 else cell_id[:11] + "\u2026"


def _progress_line(entry: Mapping[str, Any]) -> str:
    status = entry["status"]
    head = f"[{entry['index']:>3}] {_short_id(str(entry['cell_id'])):<12} {status:<7}"
    if entry.get("rss_delta") is None:
        figures = ""
    else:
        duration = entry.get("duration_s")
        figures = (
            f" {duration if duration is not None else 0:7.2f} s"
            f"  change {format_bytes(entry['rss_delta'], signed=True):>10}"
            f"  peak {format_bytes(entry['peak_increase'], signed=True):>10}"
        )
    error = entry.get("error")
    tail = f"  {error['ename']}: {_first_line(error['evalue'])}" if error else ""
    return (head + figures + tail)[:160]


@dataclass
class RunOutcome:
    """What running the cells produced."""

    entries: list[dict[str, Any]]
    hello: dict[str, Any] | None
    kernel_died: bool
    died_cell: dict[str, Any] | None = None
    interrupted: bool = False
    #: The ``scan`` reply's result, when a scan ran.
    scan_result: dict[str, Any] | None = None
    #: Why the scan asked for did not produce a result.
    scan_error: str | None = None
    #: ``apply_fix`` outcomes (``--fix``), in suggestion order.
    fixes: list[dict[str, Any]] | None = None
    #: The scan after the fixes (``--fix``), or why it failed.
    after_fix_result: dict[str, Any] | None = None
    after_fix_error: str | None = None
    #: Whole runs of the notebook completed (``--repeat``).
    repetitions: int = 0
    #: RSS after the last measured cell of each completed repetition.
    rss_after_runs: list[int | None] = field(default_factory=list)
    #: The latest record of each cell, by notebook index (the last repetition's).
    last_records: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The repetition (1-based) in which the kernel died, if it did.
    died_in_repetition: int | None = None
    #: Execution counts of first-run cells whose Dask cluster measurement was pending.
    cluster_pending: list[int] = field(default_factory=list)
    #: The ``scan_cluster`` result, the ``--fix`` releases and the scan after them.
    cluster_result: dict[str, Any] | None = None
    cluster_error: str | None = None
    cluster_fix: list[dict[str, Any]] | None = None
    cluster_after_fix: dict[str, Any] | None = None


def _death_message(client_error: Mapping[str, Any] | None) -> str:
    """Why the kernel died, with its exit status when the client saw one."""
    text = str((client_error or {}).get("evalue", ""))
    match = re.search(r"exit code (-?\d+)", text)
    status = ""
    if match:
        code = int(match.group(1))
        status = f" with exit code {code}"
        if code < 0:
            with contextlib.suppress(ValueError):
                # Popen reports death by signal N as -N; SIGKILL is the usual OOM-killer mark.
                status = f" on signal {signal.Signals(-code).name}"
    return (
        f"the kernel process exited{status} while running this cell "
        "(os._exit, a crash, or the out-of-memory killer)"
    )


def _not_run(cell: NotebookCell) -> dict[str, Any]:
    return report.cell_entry(
        index=cell.index, cell_id=cell.cell_id, source=cell.source, status=STATUS_NOT_RUN
    )


def _runnable(cells: Sequence[NotebookCell]) -> list[NotebookCell]:
    # JupyterLab sends nothing for a blank code cell, and IPython fires no hooks for one,
    # so there is nothing to measure: blank cells are skipped like markdown.
    return [c for c in cells if c.cell_type == "code" and c.source.strip()]


def run_cells(
    notebook: LoadedNotebook,
    kernel_name: str,
    *,
    timeout: float | None,
    console: _Console,
    scan_budget: float | None = None,
    repeat: int = 1,
    fix: bool = False,
    profile: frozenset[int] = frozenset(),
    profile_backend: str = "auto",
) -> RunOutcome:
    """Run the notebook's code cells in a fresh kernel; never loses what was measured.

    With ``repeat`` > 1 the whole notebook runs that many times in the same
    kernel; the entries are the first run's, ``last_records`` the latest
    record of each cell (whose ``growth`` says whether re-running it leaks).
    With ``scan_budget``, one scan of what holds memory runs after the last cell
    (unless the kernel died or the run was interrupted). The cells whose
    index is in ``profile`` are line-profiled on the first run.

    Raises the client's start-up errors (helper missing, protocol mismatch, kernel
    died or timed out while starting) for ``main`` to turn into exit codes.
    """
    from .driver import KernelSession  # noqa: PLC0415 - pulls in zmq and jupyter_client

    cells = _runnable(notebook.cells)
    outcome = RunOutcome(entries=[], hello=None, kernel_died=False)
    session = KernelSession(kernel_name, cwd=str(notebook.path.parent))
    try:
        outcome.hello = session.start()
        for repetition in range(1, repeat + 1):
            if repeat > 1:
                console.progress(f"{PROG}: run {repetition} of {repeat}")
            wanted = profile if repetition == 1 else frozenset()
            if not _run_once(
                session,
                cells,
                repetition,
                outcome,
                timeout,
                console,
                profile=wanted,
                profile_backend=profile_backend,
            ):
                break
            outcome.repetitions = repetition
        if not outcome.kernel_died and outcome.cluster_pending:
            missing = cluster.fill_cell_deltas(session, outcome.entries, outcome.cluster_pending)
            if missing:
                console.note(f"{missing} cells' Dask cluster measurement never came")
        if scan_budget is not None and not (outcome.kernel_died or outcome.interrupted):
            _run_scan(session, scan_budget, outcome, console)
            _run_cluster(session, outcome)
            # The cluster first: its holders are measured on the scheduler, and the
            # local fixes then find those names already deleted.
            if fix and outcome.cluster_result is not None:
                _release_cluster(session, outcome, console)
            if fix and outcome.scan_result is not None:
                _run_fixes(session, scan_budget, outcome, console)
    finally:
        # A dead kernel may not shut down cleanly; the report matters more.
        with contextlib.suppress(Exception):
            session.shutdown()
    return outcome


def _run_once(  # noqa: PLR0917 - private; one call site
    session: Any,
    cells: Sequence[NotebookCell],
    repetition: int,
    outcome: RunOutcome,
    timeout: float | None,
    console: _Console,
    *,
    profile: frozenset[int] = frozenset(),
    profile_backend: str = "auto",
) -> bool:
    """Run every cell once; False when the run stopped (interrupted, kernel died)."""
    first = repetition == 1
    entries = outcome.entries
    rss_after: int | None = None
    for position, cell in enumerate(cells):
        try:
            # The profile is asked for in the execute request's metadata.
            options = {"profile": profile_backend} if cell.index in profile else {}
            result = session.run_cell(cell.source, cell.cell_id, timeout=timeout, **options)
        except KeyboardInterrupt:
            outcome.interrupted = True
            if first:
                entries.extend(_not_run(c) for c in cells[position:])
            return False
        error: dict[str, Any] | None = result.error
        record = result.record
        if result.status == "ok":
            status = STATUS_OK
        elif result.status == "timeout":
            status = STATUS_ERROR
            error = {
                "ename": "Timeout",
                "evalue": f"the cell ran longer than --timeout {timeout:g} s and was interrupted",
            }
        elif result.status == "kernel_died":
            status = STATUS_ERROR
            record = None  # whatever was measured died with the process
            error = {"ename": "KernelDied", "evalue": _death_message(result.error)}
        else:
            status = STATUS_ERROR
            error = error or {"ename": "Error", "evalue": ""}
        entry = report.cell_entry(
            index=cell.index,
            cell_id=cell.cell_id,
            source=cell.source,
            status=status,
            record=record,
            error=error,
            execution_count=result.execution_count,
        )
        _attach_profile(entry, getattr(result, "profile", None), cells)
        if first:
            entries.append(entry)
            outcome.cluster_pending.extend(cluster.pending(record, result.execution_count))
        if record is not None:
            outcome.last_records[cell.index] = record
            rss_after = entry["rss_after"]
        console.progress(_progress_line(entry))
        _tell_profile(console, entry)
        growth = (record or {}).get("growth")
        if isinstance(growth, dict) and growth.get("flagged"):
            console.progress(_growth_line(growth))
        if result.status == "kernel_died":
            outcome.kernel_died = True
            outcome.died_cell = entry
            outcome.died_in_repetition = repetition
            if first:
                entries.extend(_not_run(c) for c in cells[position + 1 :])
            return False
    outcome.rss_after_runs.append(rss_after)
    return True


def _profile_cells(
    spec: str | frozenset[int] | None, code_cells: Sequence[NotebookCell]
) -> frozenset[int]:
    """The indices ``--profile`` names, checked against the notebook's code cells."""
    try:
        return line_profile.select(spec, [c.index for c in code_cells])
    except ValueError as exc:
        raise BadInputError(str(exc)) from None


def _attach_profile(
    entry: dict[str, Any], profile: Mapping[str, Any] | None, cells: Sequence[NotebookCell]
) -> None:
    """Put a profiled run's line profile into its report cell (cell ids become indices)."""
    if profile is not None:
        entry["profile"] = line_profile.entry(profile, {c.cell_id: c.index for c in cells})


def _tell_profile(console: _Console, entry: Mapping[str, Any]) -> None:
    profile = entry.get("profile")
    if isinstance(profile, Mapping):
        console.progress(line_profile.progress_line(profile))


def _growth_line(growth: Mapping[str, Any]) -> str:
    what = ", ".join(str(w) for w in growth.get("what_grew") or []) or "nothing named"
    return (
        f"      leak: {format_bytes(growth.get('growth_per_run_bytes'), signed=True)} per run "
        f"over {growth.get('runs')} runs ({what})"
    )[:200]


def growth_entries(
    notebook: LoadedNotebook, last_records: Mapping[int, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The report's ``growth``: one entry per cell flagged in its latest run, in notebook order."""
    out: list[dict[str, Any]] = []
    for cell in notebook.cells:
        record = last_records.get(cell.index)
        growth = record.get("growth") if record is not None else None
        if not isinstance(growth, dict) or not growth.get("flagged"):
            continue
        out.append(report.growth_entry(cell.index, cell.cell_id, growth))
    return out


def _run_scan(session: Any, budget: float, outcome: RunOutcome, console: _Console) -> None:
    """The one scan after the last cell; failures are recorded, never raised."""
    from .errors import MemoryDoctorError  # noqa: PLC0415

    console.progress(f"{PROG}: scanning what holds memory (budget {budget:g} s)")
    try:
        outcome.scan_result = session.scan(budget_s=budget)  # waits as long as the helper may
    except KeyboardInterrupt:
        outcome.interrupted = True
        outcome.scan_error = "interrupted"
    except (MemoryDoctorError, TimeoutError) as exc:
        outcome.scan_error = _first_line(str(exc)) or type(exc).__name__
        if not session.is_alive():
            outcome.scan_error = f"the kernel died during the scan ({outcome.scan_error})"


def _run_cluster(session: Any, outcome: RunOutcome) -> None:
    """``scan_cluster`` after the scan: only a kernel with a Dask client has anything."""
    if outcome.interrupted or not session.is_alive():
        return
    try:
        result, outcome.cluster_error = cluster.scan(session)
    except KeyboardInterrupt:
        outcome.interrupted = True
        return
    if result is not None and result.get("clusters"):
        outcome.cluster_result = result


def _release_cluster(session: Any, outcome: RunOutcome, console: _Console) -> None:
    """``--fix`` on the cluster: release the releasable holders, then scan it again."""
    if outcome.interrupted or not session.is_alive() or outcome.cluster_result is None:
        return
    try:
        outcome.cluster_fix = cluster.release(session, outcome.cluster_result)
        for entry in outcome.cluster_fix:
            console.progress(f"{PROG}: cluster: {entry.get('text') or entry.get('error')}"[:200])
        outcome.cluster_after_fix, _error = cluster.scan(session)
    except KeyboardInterrupt:
        outcome.interrupted = True


#: A fix that frees less than this share of its estimate leaves its targets to the
#: next suggestion on them (the helper's own threshold for an explanation).
ACTED_SHARE: Final = 0.5


def _acted(sug: Mapping[str, Any], result: Mapping[str, Any]) -> bool:
    """Whether an applied fix did its work on its targets: it freed at least half of
    its estimate (in the process, else by RSS), or it had none (closing a file)."""
    estimate = sug.get("estimated_freed_bytes")
    if not isinstance(estimate, int) or estimate <= 0:
        return True
    freed = result.get("freed_in_process_bytes")
    if not isinstance(freed, int):
        freed = result.get("measured_freed_bytes")
    return isinstance(freed, int) and freed >= ACTED_SHARE * estimate


def apply_suggestions(
    session: Any,
    suggestions: Sequence[Mapping[str, Any]],
    fixes: list[dict[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Apply every suggestion in order, as ``--fix`` does; each outcome is appended to
    ``fixes`` (a report ``fix_entry``) as it comes, so an interrupt keeps them.

    A suggestion whose targets an earlier fix already acted on (closing all figures
    after each one was closed) is skipped and says so. A fix that freed nothing of
    its estimate (a copy of a view whose base something else holds) does not count
    as acting: the next suggestion on the same target is still applied. Stops when
    the kernel dies; ``KeyboardInterrupt`` goes to the caller.
    """
    from .errors import MemoryDoctorError  # noqa: PLC0415

    fixes = [] if fixes is None else fixes
    handled: dict[str, str] = {}
    for sug in suggestions:
        sid = str(sug.get("id"))
        targets = [str(t) for t in sug.get("targets") or []]
        done_by = next((handled[t] for t in targets if t in handled), None)
        if done_by is not None:
            fixes.append(report.fix_entry(sid, None, f"skipped: {done_by} already acted on it"))
            continue
        if progress is not None:
            progress(f"{PROG}: applying {sid} ({sug.get('action')}): {sug.get('code')}"[:200])
        try:
            request_id = session.send_request(
                "apply_fix", suggestion_id=sid, action=sug.get("action"), targets=targets
            )
            # As long as the helper may wait for a quiet moment, plus the fix and the trip.
            reply = session.wait_reply(request_id, timeout=FIX_REPLY_TIMEOUT_S)
        except (MemoryDoctorError, TimeoutError) as exc:
            fixes.append(report.fix_entry(sid, None, _first_line(str(exc)) or "failed"))
            if not session.is_alive():
                break
            continue
        if reply.get("ok"):
            result = reply.get("result") or {}
            fixes.append(report.fix_entry(sid, result, None))
            if _acted(sug, result):
                handled.update(dict.fromkeys(targets, sid))
        else:
            error = reply.get("error") or {}
            fixes.append(
                report.fix_entry(sid, None, f"{error.get('code')}: {error.get('message')}")
            )
    return fixes


def _run_fixes(session: Any, budget: float, outcome: RunOutcome, console: _Console) -> None:
    """``--fix``: apply every suggestion in order, then scan again; never raises."""
    from .errors import MemoryDoctorError  # noqa: PLC0415

    suggestions = (outcome.scan_result or {}).get("suggestions") or []
    outcome.fixes = []
    try:
        apply_suggestions(session, suggestions, outcome.fixes, console.progress)
    except KeyboardInterrupt:
        outcome.interrupted = True
        return
    if not session.is_alive():
        outcome.kernel_died = True
        return
    console.progress(f"{PROG}: scanning again after {len(outcome.fixes)} fixes")
    try:
        outcome.after_fix_result = session.scan(budget_s=budget)
    except KeyboardInterrupt:
        outcome.interrupted = True
    except (MemoryDoctorError, TimeoutError) as exc:
        outcome.after_fix_error = _first_line(str(exc)) or type(exc).__name__


def _check_fix_option(args: argparse.Namespace) -> None:
    if args.fix and not args.scan:
        raise BadInputError("--fix applies the scan's suggestions: it cannot go with --no-scan")


def _fix_sections(notebook: LoadedNotebook, outcome: RunOutcome) -> dict[str, Any]:
    """The report's ``resources``, ``suggestions`` and, with ``--fix``, ``fixes`` and
    ``after_fix``; empty when no scan result came back."""
    if outcome.scan_result is None:
        return {}
    index_by_id = {c.cell_id: c.index for c in notebook.cells}
    out: dict[str, Any] = report.fix_sections(outcome.scan_result, index_by_id)
    if outcome.fixes is not None:
        out["fixes"] = outcome.fixes
        out["after_fix"] = report.after_fix_section(
            outcome.after_fix_result, index_by_id, outcome.after_fix_error
        )
    return out


def _cluster_sections(outcome: RunOutcome) -> dict[str, Any]:
    """The report's ``cluster`` (and ``cluster_error``), and with ``--fix``
    ``cluster_fix`` and ``cluster_after_fix``; empty without a Dask client."""
    out: dict[str, Any] = {}
    if outcome.cluster_result is not None or outcome.cluster_error is not None:
        out["cluster"] = cluster.section(outcome.cluster_result)
        if outcome.cluster_error is not None:
            out["cluster_error"] = outcome.cluster_error
    if outcome.cluster_fix is not None:
        out["cluster_fix"] = outcome.cluster_fix
        out["cluster_after_fix"] = cluster.section(outcome.cluster_after_fix)
    return out


def _scan_sections(
    notebook: LoadedNotebook, outcome: RunOutcome
) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    """The report's ``holders`` and ``scan``; ``(None, None)`` when no scan was attempted."""
    if outcome.scan_result is None and outcome.scan_error is None:
        return None, None
    index_by_id = {c.cell_id: c.index for c in notebook.cells}
    raw = (outcome.scan_result or {}).get("holders") or []
    holders = [report.holder_entry(h, index_by_id) for h in raw if isinstance(h, dict)]
    return holders, report.scan_section(outcome.scan_result, outcome.scan_error)


def _tell_scan(
    console: _Console,
    outcome: RunOutcome,
    holders: Sequence[Mapping[str, Any]] | None,
    scan: Mapping[str, Any] | None,
) -> None:
    if scan is None or holders is None:
        return
    if outcome.scan_error is not None:
        console.note(f"the scan of what holds memory failed: {outcome.scan_error}")
    else:
        console.progress(_scan_summary(holders, scan))


def _scan_summary(holders: Sequence[Mapping[str, Any]], scan: Mapping[str, Any]) -> str:
    state = "complete" if scan.get("complete") else f"partial, {scan.get('stopped') or 'stopped'}"
    line = (
        f"{PROG}: scan {state}: {scan.get('objects_visited')} objects in "
        f"{scan.get('duration_s') or 0:.2f} s, {len(holders)} holders"
    )
    if holders:
        top = holders[0]
        line += (
            f"; largest: {', '.join(top['labels'])[:60]} "
            f"{format_bytes(top.get('retained_bytes'))} ({top.get('path')})"
        )
    return line[:200]


# --------------------------------------------------------------------------- main


def _describe_violation(v: Mapping[str, Any]) -> str:
    option = {
        "peak_increase": "--max-peak",
        "rss_delta": "--max-delta",
        "peak_rss": "--max-rss",
        "growth_per_run_bytes": "--max-growth",
    }
    if v["metric"] == "growth_per_run_bytes":
        return (
            f"leak: cell {v['cell_index']} (id {v['cell_id']}) grows "
            f"{format_bytes(v['value'])} ({v['value']} bytes) per run over {v.get('runs')} runs "
            f"> --max-growth {format_bytes(v['limit'])} ({v['limit']} bytes); what grew: "
            f"{', '.join(v.get('what_grew') or []) or 'nothing named'}"
        )
    return (
        f"threshold exceeded: cell {v['cell_index']} (id {v['cell_id']}): {v['metric']} "
        f"{format_bytes(v['value'])} ({v['value']} bytes) > {option.get(v['metric'], 'limit')} "
        f"{format_bytes(v['limit'])} ({v['limit']} bytes)"
    )


def _write_reports(built: Mapping[str, Any], json_path: str, html_path: str | None) -> None:
    report.write_json(built, json_path)
    if html_path:
        report.write_html(built, html_path)


def run_command(args: argparse.Namespace, console: _Console) -> int:
    """``memory-doctor run``; returns the exit code."""
    from .errors import (  # noqa: PLC0415 - only needed once a kernel starts
        HelperMissingError,
        KernelDiedError,
        MemoryDoctorError,
    )

    notebook_path = Path(args.notebook)
    notebook = load_notebook(notebook_path)
    _check_output_path("--json", args.json)
    if args.html:
        _check_output_path("--html", args.html)
    kernel_name = args.kernel or notebook.kernel_name or "python3"
    argv = _check_kernelspec(kernel_name)
    thresholds = {name: getattr(args, name) for name in _THRESHOLD_OPTIONS}
    _check_fix_option(args)
    if args.max_growth is not None and args.repeat < LEAK_MIN_RUNS:
        raise BadInputError(
            f"--max-growth needs --repeat {LEAK_MIN_RUNS} or more: a cell is flagged as "
            f"leaking after {LEAK_MIN_RUNS} runs that each leave memory behind"
        )

    code_cells = _runnable(notebook.cells)
    console.progress(
        f"{PROG}: running {len(code_cells)} code cells of {notebook_path} in kernel {kernel_name}"
    )
    startup_failure: str | None = None
    try:
        outcome = run_cells(
            notebook,
            kernel_name,
            timeout=args.timeout,
            console=console,
            scan_budget=args.scan_budget if args.scan else None,
            repeat=args.repeat,
            fix=args.fix,
            profile=_profile_cells(args.profile, code_cells),
            profile_backend=args.profile_backend,
        )
    except HelperMissingError:
        raise BadInputError(
            f"the memory_doctor helper is not installed in kernel {kernel_name!r}'s "
            f"environment; install it with: {_pip_command(argv)}"
        ) from None
    except (KernelDiedError, TimeoutError) as exc:
        # Nothing ran; still write a report that says so.
        startup_failure = (
            f"kernel {kernel_name!r} did not start: {_first_line(str(exc)) or type(exc).__name__}"
        )
        outcome = RunOutcome(
            entries=[_not_run(c) for c in code_cells], hello=None, kernel_died=True
        )
    except MemoryDoctorError as exc:
        raise BadInputError(f"kernel {kernel_name!r}: {_first_line(str(exc))}") from None
    except OSError as exc:
        raise BadInputError(f"could not start kernel {kernel_name!r}: {exc}") from None

    holders, scan = _scan_sections(notebook, outcome)
    built = report.build_report(
        notebook_path=str(notebook_path),
        total_cells=len(notebook.cells),
        kernel=report.kernel_section(kernel_name, outcome.hello),
        thresholds=thresholds,
        cells=outcome.entries,
        kernel_died=outcome.kernel_died,
        holders=holders,
        scan=scan,
        growth=growth_entries(notebook, outcome.last_records) if args.repeat > 1 else None,
        repeat=report.repeat_section(
            args.repeat, outcome.repetitions, outcome.rss_after_runs, outcome.died_in_repetition
        )
        if args.repeat > 1
        else None,
        max_growth=args.max_growth,
    )
    built.update(_fix_sections(notebook, outcome))
    built.update(_cluster_sections(outcome))
    try:
        _write_reports(built, args.json, args.html)
    except OSError as exc:
        raise BadInputError(f"could not write the report: {exc}") from None

    summary = built["summary"]
    written = args.json + (f" and {args.html}" if args.html else "")
    _tell_scan(console, outcome, holders, scan)
    console.progress(
        f"{PROG}: {summary['cells_run']} cells run, {summary['errors']} with errors, largest peak "
        f"increase {format_bytes(summary['max_peak_increase'])}; report written to {written}"
    )
    for violation in summary["violations"]:
        console.note(_describe_violation(violation))

    if outcome.interrupted:
        console.error(f"interrupted; partial report written to {written}")
        return EXIT_INTERRUPTED
    if startup_failure is not None:
        console.error(f"{startup_failure}; report written to {written}")
        return EXIT_KERNEL_DIED
    if outcome.kernel_died:
        died = outcome.died_cell or {}
        during = (
            f" in run {outcome.died_in_repetition} of {args.repeat}"
            if args.repeat > 1 and outcome.died_in_repetition is not None
            else ""
        )
        console.error(
            f"the kernel died while running cell {died.get('index')} (id {died.get('cell_id')})"
            f"{during}; later cells were not run; report written to {written}"
        )
        return EXIT_KERNEL_DIED
    if summary["violations"]:
        return EXIT_THRESHOLD
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``memory-doctor`` and ``python -m memory_doctor``; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        # argparse has printed usage (exit 2) or --help (exit 0); return, don't raise.
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    console = _Console(quiet=getattr(args, "quiet", False))
    try:
        # `run` is the only command so far; argparse refuses any other.
        return run_command(args, console)
    except BadInputError as exc:
        console.error(str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        console.error("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
