"""``apply_fix``: the latest scan's fix table, and when a fix may run.

The scan's post-scan steps hand their :class:`~memory_doctor.advice.fixes.FixTable`
to :class:`Fixing` (plain data: labels, ids, type names, fingerprints). An
``apply_fix`` request names one suggestion of it; the operation itself, and
the re-validation of every target, is ``advice/fixes.py``'s.

A fix must not change the namespace under a running cell or a heap walk, so
it runs on the kernel's main loop once neither runs, with the scan runner's
lock held. It waits at most ``FIX_WAIT_S`` (the protocol's timing constant:
the front end waits as long); then it is refused and nothing changes.
Without an event loop or a comm to answer on later, it runs at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from ..log import quiet_logger
from ..protocol import ERR_INTERNAL, ERR_REFUSED, FIX_WAIT_S, reply_error, reply_ok
from .provenance import Provenance
from .runner import WAIT_POLL_S, ScanRunner, on_loop
from .server import INTERNAL_MESSAGE, BadRequest, Reply, Request

if TYPE_CHECKING:
    from ..advice.fixes import FixTable

_log = quiet_logger(__name__)


class Fixing:
    """Owns the latest scan's fix table and applies the fixes ``apply_fix`` asks for."""

    def __init__(
        self,
        shell_ref: Callable[[], Any],
        provenance: Provenance,
        runner: ScanRunner,
        *,
        wait_s: float = FIX_WAIT_S,
    ) -> None:
        self._shell_ref = shell_ref
        self._provenance = provenance
        self._runner = runner
        self._wait_s = wait_s
        #: The latest scan's suggestions (plain data); None before the first scan.
        self.fix_table: FixTable | None = None

    def keep_fix_table(self, table: FixTable | None) -> None:
        """The post-scan steps' table replaces the previous one (None: no fixes)."""
        self.fix_table = table

    def handle_apply_fix(self, request: Request, reply: Reply) -> None:
        """The ``apply_fix`` handler: validate now, apply once no cell and no scan runs."""
        from ..advice import fixes  # noqa: PLC0415 - only when a fix is asked for

        try:
            sid, action, targets = fixes.parse_request(request.data)
        except fixes.FixParamsError as exc:
            raise BadRequest(str(exc)) from None
        request_id = request.request_id

        def work() -> dict[str, Any]:
            shell = fixes.Shell(self._shell_ref())
            try:
                table = self.fix_table
                entry, done = fixes.check(table, sid, action, targets, shell, self._provenance)
                return reply_ok(request_id, fixes.apply(entry, shell, done, table))
            except fixes.FixRefused as exc:
                return reply_error(request_id, ERR_REFUSED, str(exc))
            except Exception as exc:  # the library's close() failed, e.g. BufferError
                _log.debug("apply_fix failed", exc_info=True)
                return reply_error(
                    request_id,
                    ERR_INTERNAL,
                    f"The fix failed: {type(exc).__name__}: {str(exc)[:200]}. "
                    "Your variables are as they were before, except what the fix had "
                    "already closed; scan again to see the current state.",
                )

        self._when_quiet(reply, work)

    def _when_quiet(self, reply: Reply, work: Callable[[], dict[str, Any]]) -> None:
        """Give ``work()``'s reply once no cell and no scan runs, on the main loop."""
        loop = self._runner.main_loop() if reply.deferrable else None
        if loop is None:
            reply.send(_guarded(work, reply.request_id))
            return
        queued = time.monotonic()
        wait_s = self._wait_s

        def attempt() -> None:
            if self._runner.running is not None or self._runner.is_cell_running():
                if time.monotonic() - queued < wait_s:
                    loop.call_later(WAIT_POLL_S, attempt)
                    return
                message = reply_error(
                    reply.request_id,
                    ERR_REFUSED,
                    f"A cell or scan kept running for {wait_s:g} s, so the fix was not applied; "
                    "nothing was changed. Apply it again when the cell is done.",
                )
            else:
                message = self._runner.run_exclusive(lambda: _guarded(work, reply.request_id))
            reply.send(message)

        if on_loop(loop):
            attempt()
        else:
            loop.add_callback(attempt)  # thread-safe; runs on the main loop


def _guarded(work: Callable[[], dict[str, Any]], request_id: str) -> dict[str, Any]:
    try:
        return work()
    except Exception:  # a guest answers; it never raises into the loop
        _log.debug("work on the main loop failed", exc_info=True)
        return reply_error(request_id, ERR_INTERNAL, INTERNAL_MESSAGE)


__all__ = ["Fixing"]
