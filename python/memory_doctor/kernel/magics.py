"""``%memory`` and ``%%memory``: the helper's figures where our extension is not.

VS Code, Colab, plain IPython or a Jupyter front end without our extension
never open the comm, so the measurements the helper takes stay invisible.
These magics show them, each as one MIME bundle (``rich.py``):

``%memory``
    the kernel's RSS against its limit, the top cells by memory left and by
    peak, and the top holders with a suggestion each;
``%memory holders [-n N] [--filter TEXT] [--budget S]``, ``%memory resources``, ``%memory cells``
    one part of it, in full;
``%memory fix ID [--yes]``
    what a suggestion of the last ``%memory`` scan will do; ``--yes`` applies
    it and shows what it freed;
``%%memory [-n N] [--budget S] [--no-holders]``
    runs the cell, then shows what it left, its exact peak and the holders it
    created;
``%%memory profile [--backend auto|tracemalloc|memray]``
    runs the cell line-profiled (``profile/``): each line's net and at-peak
    bytes, and what the functions it called allocated;
``%memory badges on|off``
    a one-line badge after every cell (off by default; stays off while our
    JupyterLab extension is connected, which draws its own).

A scan asked for by a magic goes through the comm server's own entry point
(:meth:`MemoryDoctor.handle_request`): the same engine, advice and fix table
as the panel, so the figures agree. It runs in the main thread while the
magic runs (the cell is the user's request), within its budget.

Magics print only what the user asked for (nothing on load), add no name to
the user namespace (the bundle is *displayed*, never returned into ``Out``),
and keep no user object: only the last scan's suggestions and resources,
which are plain strings and numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shlex
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, Final, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from ..log import quiet_logger
from ..procmem import current_rss
from ..protocol import (
    DEFAULT_BUDGET_S,
    DEFAULT_MAX_HOLDERS,
    MAX_BUDGET_S,
    MAX_ID_CHARS,
    MAX_MAX_HOLDERS,
    REQ_APPLY_FIX,
    REQ_SCAN,
)
from .limits import memory_limit
from .provenance import base_name, snapshot
from .rich import MIME_FORMAT, bundle

if TYPE_CHECKING:
    from .extension import MemoryDoctor

_log = quiet_logger(__name__)

#: Holders shown by ``%memory`` / ``%memory holders`` / ``%%memory``; cells by ``%memory cells``.
SUMMARY_HOLDERS: Final = 5
LIST_HOLDERS: Final = 20
TOP_CELLS: Final = 5
LIST_CELLS: Final = 10

_SUBCOMMANDS: Final = ("holders", "resources", "cells", "fix", "badges")
#: IPython's own names a cell may rebind (output and input caches): not holders it created.
_IPYTHON_NAME: Final = re.compile(r"_+|_i+|_i?\d+|_(?:oh|ih|dh|sh)|In|Out")

_USAGE: Final = (
    "%memory [holders [-n N] [--filter TEXT] | resources | cells [-n N] | fix ID [--yes] | "
    "badges on|off] [--budget SECONDS]; %%memory [-n N] [--budget SECONDS] [--no-holders] "
    "as a cell magic"
)


class _Parser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` with the usage, instead of exiting."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog=prog, add_help=False, allow_abbrev=False)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message[:1].upper()}{message[1:]}. Usage: {self.usage_line()}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or f"Usage: {self.usage_line()}")

    def usage_line(self) -> str:
        """``%memory fix [--yes] ID`` (argparse's usage without its ``usage:``)."""
        return self.format_usage().strip().removeprefix("usage: ")


def _count(flag: str, example: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if not 1 <= value <= MAX_MAX_HOLDERS:
            raise UsageError(
                f"{flag} must be a whole number from 1 to {MAX_MAX_HOLDERS}, e.g. {example}; "
                f"got {text[:40]!r}."
            )
        return value

    return parse


def _budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_BUDGET_S):
        raise UsageError(
            f"--budget is the scan's time limit in seconds, above 0 and at most "
            f"{MAX_BUDGET_S:g}, e.g. --budget 30; got {text[:40]!r}."
        )
    return value


def _parsers() -> dict[str, _Parser]:
    """One parser per subcommand ('' is the summary, '%%' the cell magic)."""
    made: dict[str, _Parser] = {}

    def parser(key: str, prog: str, *, n_default: int | None = None, scans: bool = True) -> _Parser:
        p = made[key] = _Parser(prog)
        if n_default is not None:
            p.add_argument("-n", type=_count("-n", f"{prog} -n 20"), default=n_default)
        if scans:
            p.add_argument("--budget", type=_budget, default=DEFAULT_BUDGET_S)
        return p

    parser("", "%memory", n_default=SUMMARY_HOLDERS)
    parser("holders", "%memory holders", n_default=LIST_HOLDERS).add_argument(
        "--filter", default=None, metavar="TEXT"
    )
    parser("resources", "%memory resources")
    parser("cells", "%memory cells", n_default=LIST_CELLS, scans=False)
    fix = parser("fix", "%memory fix", scans=False)
    fix.add_argument("id", metavar="ID")
    fix.add_argument("--yes", action="store_true")
    parser("badges", "%memory badges", scans=False).add_argument(
        "state", nargs="?", choices=("on", "off")
    )
    parser("%%", "%%memory", n_default=LIST_HOLDERS).add_argument(
        "--no-holders", action="store_true"
    )
    return made


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(
            f"Could not read the options ({exc}); check the quotes. Usage: {_USAGE}"
        ) from None


def _request_id() -> str:
    return f"magic-{uuid.uuid4().hex[:12]}"


def kernel_state(doctor: MemoryDoctor) -> dict[str, Any]:
    """What every output says about the kernel: pid, RSS, limit, how peaks are measured."""
    probe = doctor.probe
    return {
        "pid": os.getpid(),
        "rss": current_rss(),
        "memory_limit": memory_limit().as_wire(),
        "peak_method": probe.method if probe is not None else "none",
        "peak_exact": bool(probe.exact) if probe is not None else False,
    }


def top_cells(records: Sequence[Mapping[str, Any]], key: str, count: int) -> list[dict[str, Any]]:
    """The ``count`` cells with the largest ``key`` (``rss_delta`` or ``peak_increase``) in
    any one run, largest first; cells whose figure is not positive are left out.

    The panel's Timeline ranks the same way (``topCells`` in ``src/panels/timeline/model.ts``).
    Cells without an id (a terminal) are told apart by their execution count.
    """
    best: dict[Any, Mapping[str, Any]] = {}
    for record in records:
        cell = record.get("cell_id") or ("count", record.get("execution_count"))
        value = record.get(key) or 0
        if value > 0 and (cell not in best or value > best[cell][key]):
            best[cell] = record
    ranked = sorted(best.values(), key=lambda r: -int(r[key]))
    return [dict(r) for r in ranked[:count]]


def _holder_matches(holder: Mapping[str, Any], needle: str) -> bool:
    """The panel's filter: names or type contain the text, in any case."""
    text = "\n".join([*(str(x) for x in holder.get("labels") or []), str(holder.get("type", ""))])
    return needle in text.lower()


def _trim(
    result: Mapping[str, Any], holders: list[dict[str, Any]], *, session: bool
) -> dict[str, Any]:
    """``result`` with only ``holders`` and their suggestions (plus the session-wide
    ones when ``session``): the notebook keeps what is shown, not 500 holders."""
    ids = {h.get("id") for h in holders}
    suggestions = [
        s
        for s in result.get("suggestions") or []
        if s.get("holder_id") in ids or (session and not s.get("holder_id"))
    ]
    return {**result, "holders": holders, "suggestions": suggestions}


class BadgeHook:
    """``%memory badges on``: a small display output after each measured cell."""

    def __init__(self, shell: Any, doctor: Callable[[], MemoryDoctor | None]) -> None:
        self._shell_ref = weakref.ref(shell)
        self._doctor = doctor
        self.enabled = False
        self._bound: list[tuple[str, Callable[[Any], None]]] = []

    def on(self) -> None:
        """Show badges from the next cell on (not for the cell that turned them on)."""
        if self.enabled:
            return
        self.enabled = True
        # post_run_cell runs over a copy of its callbacks: registered from this
        # one, _after_cell first runs after the *next* cell.
        self._register("post_run_cell", self._arm)

    def off(self) -> None:
        """Stop; safe to call twice."""
        self.enabled = False
        shell = self._shell_ref()
        for event, callback in self._bound:
            if shell is not None:
                with contextlib.suppress(ValueError):  # already gone
                    shell.events.unregister(event, callback)
        self._bound.clear()

    def _register(self, event: str, callback: Callable[[Any], None]) -> None:
        shell = self._shell_ref()
        if shell is not None:
            shell.events.register(event, callback)
            self._bound.append((event, callback))

    def _arm(self, result: Any) -> None:
        shell = self._shell_ref()
        try:
            if shell is not None:
                shell.events.unregister("post_run_cell", self._arm)
            self._bound = [b for b in self._bound if b[1] != self._arm]
            if self.enabled:
                self._register("post_run_cell", self._after_cell)
        except Exception:  # a guest never raises into a cell
            _log.debug("arming badges failed", exc_info=True)

    def _after_cell(self, result: Any) -> None:
        try:
            doctor = self._doctor()
            if doctor is None or doctor.comm_ids:
                return  # our extension is connected: it draws its own badges
            records = doctor.records
            record = records[-1] if records else None
            count = getattr(result, "execution_count", None)
            if (
                record is None
                or not isinstance(count, int)
                or record.get("execution_count") != count
            ):
                return  # a silent cell, or one the helper did not measure
            data = {
                "format": MIME_FORMAT,
                "view": "badge",
                "kernel": kernel_state(doctor),
                "record": record,
            }
            _display(data)
        except Exception:  # a guest never raises into a cell
            _log.debug("badge failed", exc_info=True)


def _display(data: Mapping[str, Any]) -> None:
    """Show one bundle as display_data: never an ``Out[n]``, so nothing lands in the namespace."""
    from IPython.display import display  # noqa: PLC0415 - IPython is loaded: we are a magic

    display(bundle(data), raw=True)  # type: ignore[no-untyped-call]


@magics_class
class MemoryMagics(Magics):
    """The ``%memory`` line magic and the ``%%memory`` cell magic."""

    def __init__(self, shell: Any, doctor: MemoryDoctor) -> None:
        super().__init__(shell)
        self._doctor_ref = weakref.ref(doctor)
        self.badges = BadgeHook(shell, self._doctor_ref)
        self._parsers = _parsers()
        #: The last magic scan's suggestions and resources (plain data), for ``fix``.
        self._last: dict[str, list[dict[str, Any]]] | None = None

    @property
    def doctor(self) -> MemoryDoctor | None:
        """The helper these magics report on, while it is loaded."""
        return self._doctor_ref()

    @line_cell_magic
    def memory(self, line: str, cell: str | None = None) -> Any:
        """Memory Doctor: what holds this kernel's memory, from any front end.

        %memory                         RSS and limit, top cells, top holders with a fix each
        %memory holders [-n N] [--filter TEXT]   what holds memory (retained sizes)
        %memory resources               open files, sockets, pools... and their fixes
        %memory cells [-n N]            cells by memory left and by peak
        %memory fix ID [--yes]          what suggestion ID does; --yes applies it
        %memory badges on|off           a one-line badge after each cell
        %%memory [-n N] [--no-holders]  run the cell, show its memory and what it created
        %%memory profile [--backend B]  run the cell, show each line's net and peak bytes

        Scanning magics take --budget SECONDS (default 5): a longer budget
        finishes a scan of a large session. The outputs are tables in
        Jupyter, VS Code and Colab and text in a terminal.
        """
        if cell is not None:
            if _split(line)[:1] == ["profile"]:
                return self._profile(line, cell)  # the body's last value: Out[n]
            self._cell(self._parse("%%", _split(line)), cell)
            return None
        args = _split(line)
        sub = ""
        if args and not args[0].startswith("-"):
            sub = args.pop(0)
            if sub not in _SUBCOMMANDS:
                raise UsageError(
                    f"Unknown %memory subcommand {sub[:40]!r}. Use one of "
                    f"{', '.join(_SUBCOMMANDS)}, or nothing for the summary. Usage: {_USAGE}"
                )
        options = self._parse(sub, args)
        self._skip_record(line)
        handler: Callable[[argparse.Namespace], None] = {
            "": self._summary,
            "holders": self._holders,
            "resources": self._resources,
            "cells": self._cells,
            "fix": self._fix,
            "badges": self._badges,
        }[sub]
        handler(options)

    # -- parts ---------------------------------------------------------------

    def _parse(self, sub: str, args: list[str]) -> argparse.Namespace:
        return self._parsers[sub].parse_args(args)

    def _skip_record(self, line: str) -> None:
        """A cell that is only this magic gets no record: what its scan allocates is
        the helper's, and a fix's drop is shown by the fix itself. A cell with code
        of its own keeps its record."""
        doctor = self._doctor_ref()
        history = getattr(getattr(self.shell, "history_manager", None), "input_hist_raw", None)
        source = history[-1] if isinstance(history, list) and history else None
        if doctor is None or not isinstance(source, str):
            return
        text = source.strip()
        if (
            "\n" not in text
            and text.startswith("%memory")
            and text[len("%memory") :].strip() == line.strip()
        ):
            doctor.skip_record()

    def _doctor(self) -> MemoryDoctor:
        doctor = self._doctor_ref()
        if doctor is None or not doctor.loaded:
            raise UsageError(
                "Memory Doctor is not loaded in this kernel: run %load_ext memory_doctor."
            )
        return doctor

    def _base(self, doctor: MemoryDoctor, view: str) -> dict[str, Any]:
        return {"format": MIME_FORMAT, "view": view, "kernel": kernel_state(doctor)}

    def _scan(self, doctor: MemoryDoctor, budget_s: float) -> dict[str, Any]:
        """A whole scan, as the panel's, in this thread; remembers its suggestions."""
        reply = doctor.handle_request(
            {
                "type": REQ_SCAN,
                "request_id": _request_id(),
                "budget_s": budget_s,
                "max_holders": DEFAULT_MAX_HOLDERS,
            }
        )
        if not reply.get("ok"):
            error = reply.get("error") or {}
            if error.get("code") == "bad_request":
                raise UsageError(
                    "Another Memory Doctor scan (from the side panel) is waiting for this cell "
                    "to end; run the magic again once it is done."
                )
            raise UsageError(str(error.get("message", "The scan failed.")))
        result: dict[str, Any] = reply["result"]
        self._last = {
            "suggestions": [dict(s) for s in result.get("suggestions") or []],
            "resources": [dict(r) for r in result.get("resources") or []],
        }
        return result

    def _summary(self, options: argparse.Namespace) -> None:
        doctor = self._doctor()
        records = doctor.records
        result = self._scan(doctor, options.budget)
        holders = list(result.get("holders") or [])
        data = self._base(doctor, "summary")
        data.update(
            {
                "runs": len(records),
                "cells_by_left": top_cells(records, "rss_delta", TOP_CELLS),
                "cells_by_peak": top_cells(records, "peak_increase", TOP_CELLS),
                "scan": _trim(result, holders[: options.n], session=False),
                "holders_total": len(holders),
                "budget_s": options.budget,
            }
        )
        _display(data)

    def _holders(self, options: argparse.Namespace) -> None:
        doctor = self._doctor()
        result = self._scan(doctor, options.budget)
        holders = list(result.get("holders") or [])
        text = options.filter
        matched = [h for h in holders if _holder_matches(h, text.lower())] if text else holders
        data = self._base(doctor, "holders")
        data.update(
            {
                "scan": _trim(result, matched[: options.n], session=False),
                "holders_total": len(holders),
                "matched": len(matched),
                "filter": text,
                "budget_s": options.budget,
            }
        )
        _display(data)

    def _resources(self, options: argparse.Namespace) -> None:
        doctor = self._doctor()
        result = self._scan(doctor, options.budget)
        data = self._base(doctor, "resources")
        data.update(
            {
                "scan": _trim(result, [], session=True),
                "holders_total": len(result.get("holders") or []),
                "budget_s": options.budget,
            }
        )
        _display(data)

    def _cells(self, options: argparse.Namespace) -> None:
        doctor = self._doctor()
        records = doctor.records
        data = self._base(doctor, "cells")
        data.update(
            {
                "runs": len(records),
                "cells_by_left": top_cells(records, "rss_delta", options.n),
                "cells_by_peak": top_cells(records, "peak_increase", options.n),
            }
        )
        _display(data)

    def _fix(self, options: argparse.Namespace) -> None:
        doctor = self._doctor()
        sid = str(options.id)[:MAX_ID_CHARS]
        last = self._last
        if last is None:
            raise UsageError(
                "There is no suggestion to apply yet: run %memory (or %memory holders, "
                "%memory resources) first; its suggestions have ids like s1."
            )
        suggestion = next((s for s in last["suggestions"] if s.get("id") == sid), None)
        if suggestion is None:
            known = ", ".join(str(s.get("id")) for s in last["suggestions"]) or "none"
            raise UsageError(
                f"No suggestion {sid!r} in the last %memory scan (its suggestions: {known}). "
                "Run %memory again to see the current ones."
            )
        from .words import describe_targets  # noqa: PLC0415 - only here

        data = self._base(doctor, "fix")
        data.update(
            {
                "suggestion": suggestion,
                "resources": last["resources"],
                "targets": describe_targets(suggestion, last["resources"]),
                "applied": False,
                "result": None,
                "error": None,
            }
        )
        if options.yes:
            reply = doctor.handle_request(
                {
                    "type": REQ_APPLY_FIX,
                    "request_id": _request_id(),
                    "suggestion_id": sid,
                    "action": suggestion["action"],
                    "targets": list(suggestion["targets"]),
                }
            )
            if reply.get("ok"):
                data["applied"] = True
                data["result"] = reply["result"]
            else:
                error = reply.get("error") or {}
                data["error"] = {
                    "code": str(error.get("code", "internal")),
                    "message": str(error.get("message", "")),
                }
            data["kernel"] = kernel_state(doctor)  # the RSS after the fix
        _display(data)

    def _badges(self, options: argparse.Namespace) -> None:
        doctor = self._doctor()
        data = self._base(doctor, "notice")
        state = options.state
        if state == "on" and doctor.comm_ids:
            self.badges.off()
            message = (
                "Memory badges stay off: the Memory Doctor JupyterLab extension is connected to "
                "this kernel and already shows a badge on every cell."
            )
        elif state == "on":
            self.badges.on()
            message = (
                "Memory badges are on: every cell you run from now on shows the memory it left "
                "and its peak. %memory badges off stops them."
            )
        elif state == "off":
            self.badges.off()
            message = "Memory badges are off."
        else:
            message = (
                "Memory badges are "
                + ("on" if self.badges.enabled else "off")
                + ". Use %memory badges on or %memory badges off."
            )
        data.update({"message": message, "badges": self.badges.enabled})
        _display(data)

    def _cell(self, options: argparse.Namespace, cell: str) -> None:
        """``%%memory``: run the cell, then show what it left, its peak and what it created."""
        doctor = self._doctor()
        shell = self.shell
        if shell is None:  # the magics outlived their shell
            raise UsageError("This IPython shell is gone; %%memory cannot run the cell.")
        namespace = shell.user_ns
        before = snapshot(namespace)
        probe = doctor.probe
        rss_before = doctor.reset_peak()
        started = time.perf_counter()
        try:
            outcome = shell.run_cell(cell, store_history=False)  # type: ignore[no-untyped-call]
        finally:
            elapsed = time.perf_counter() - started
            if probe is not None:
                rss_after, peak = probe.stop()
            else:
                rss_after = peak = current_rss()
        peak = max(peak, rss_before, rss_after)
        hidden = getattr(shell, "user_ns_hidden", {})
        after = snapshot(namespace)
        created = sorted(
            name
            for name, ident in after.items()
            if before.get(name) != ident
            and name not in hidden
            and not _IPYTHON_NAME.fullmatch(name)
        )
        del before, after  # ids only, but nothing of this cell stays with us
        failed = getattr(outcome, "error_before_exec", None) is not None or (
            getattr(outcome, "error_in_exec", None) is not None
        )
        del outcome  # it holds the cell's result and error
        data = self._base(doctor, "cell")
        data.update(
            {
                "measurement": {
                    "status": "error" if failed else "ok",
                    "duration_s": elapsed,
                    "rss_before": rss_before,
                    "rss_after": rss_after,
                    "rss_delta": rss_after - rss_before,
                    "peak_rss": peak,
                    "peak_increase": peak - rss_before,
                    "peak_method": probe.method if probe is not None else "none",
                    "peak_exact": bool(probe.exact) if probe is not None else False,
                },
                "created": created,
                "scan": None,
                "holders_total": 0,
                "budget_s": options.budget,
            }
        )
        if not options.no_holders:
            wanted = set(created)
            result = self._scan(doctor, options.budget)
            mine = [
                h
                for h in result.get("holders") or []
                if any(base_name(str(label)) in wanted for label in h.get("labels") or [])
            ]
            data["scan"] = _trim(result, mine[: options.n], session=False)
            data["holders_total"] = len(mine)
        _display(data)

    def _profile(self, line: str, cell: str) -> Any:
        """``%%memory profile``: run the body line-profiled, show the profile, return
        the body's last value; the body's exception is re-raised after the profile shows."""
        profiler = self._doctor().profiler
        before = profiler.last
        try:
            return profiler.run_magic(line, cell)
        finally:
            profile = profiler.last
            if profile is not None and profile is not before:
                from IPython.display import display  # noqa: PLC0415 - as in _display()

                from .profile.text import bundle as profile_bundle  # noqa: PLC0415 - only here

                display(profile_bundle(profile), raw=True)  # type: ignore[no-untyped-call]


def register(shell: Any, doctor: MemoryDoctor) -> None:
    """Register the magics with ``shell`` (once; a shell without magics is left alone)."""
    registry = getattr(getattr(shell, "magics_manager", None), "registry", None)
    if not isinstance(registry, dict) or not callable(getattr(shell, "register_magics", None)):
        return
    current = registry.get(MemoryMagics.__name__)
    if isinstance(current, MemoryMagics) and current.doctor is doctor:
        return
    shell.register_magics(MemoryMagics(shell, doctor))


def unregister(shell: Any) -> None:
    """Remove our magics (and the badge hook) from ``shell``; safe to call twice."""
    manager = getattr(shell, "magics_manager", None)
    registry = getattr(manager, "registry", None)
    if not isinstance(registry, dict):
        return
    ours = registry.get(MemoryMagics.__name__)
    if not isinstance(ours, MemoryMagics):
        return
    ours.badges.off()
    del registry[MemoryMagics.__name__]
    tables = getattr(manager, "magics", {})
    for kind in ("line", "cell"):
        table = tables.get(kind, {})
        if getattr(table.get("memory"), "__self__", None) is ours:
            del table["memory"]


__all__ = ["BadgeHook", "MemoryMagics", "kernel_state", "register", "top_cells", "unregister"]
