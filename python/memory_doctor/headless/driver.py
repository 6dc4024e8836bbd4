"""Drive a real kernel with the Memory Doctor helper, as JupyterLab does.

Used by the ``memory-doctor`` CLI, the bench and the end-to-end tests. It
speaks the same protocol as the JupyterLab extension (``docs/protocol.md``):
one silent ``%load_ext memory_doctor``, then a comm. Execute requests carry
``metadata: {"cellId": ...}`` like JupyterLab's.

Everything is blocking and single-threaded. Messages are routed by their
parent ``msg_id`` into per-request buffers, so output arriving late for one
request is never mistaken for another's.

Why not nbclient. ``nbclient.NotebookClient`` (0.11) is the ecosystem's
maintained executor, and ``memory-doctor run`` was checked against it: a
subclass could catch our comm's ``cell_measured`` records (``handle_comm_msg``
sees every comm message parented to a cell), run ``--repeat`` by executing the
cells again, and it handles timeouts (``interrupt_on_timeout``) and a dying
kernel (``DeadKernelError``). It cannot give the report what it needs, though:

- **cell ids**: ``async_execute_cell`` sends ``kc.execute(source, ...)``, and
  jupyter_client's ``execute()`` has no metadata, so the kernel never sees
  JupyterLab's ``cellId``. The helper then records ``cell_id: None`` (checked:
  three cells run by nbclient give ``[None]``), which loses the holders'
  ``cell_index`` (provenance) and every ``--repeat`` leak, as the growth
  history is kept per cell id. Sending the id would mean replacing the kernel
  client's ``execute()``, i.e. building the execute request ourselves, which is
  what this module does;
- **the bootstrap** must be ``silent`` without history (``%load_ext`` is not a
  cell of the notebook); ``execute_cell`` always sends ``silent=False``;
- **comm requests** (``scan``, ``apply_fix``, ``cancel``) and their replies,
  which come on IOPub with the parent of whatever the kernel was doing when a
  scan ended, plus ``scan_progress`` on the way: nbclient has no API for
  them, so a second message pump would be needed next to its own;
- **interrupts**: ``execute()`` (through ``async_setup_kernel``) turns SIGINT
  into a kernel shutdown, where the CLI must stop, keep what was measured and
  write a partial report (exit 130).

The tests also need what no notebook executor does: requests on JEP 91
subshells while a cell runs (:meth:`KernelSession.start_cell`,
:meth:`KernelSession.create_subshell`), several comms at once (one per "browser
tab"), and raw comm data. So one driver, this one, serves the CLI, the bench
and the tests.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from queue import Empty
from types import TracebackType
from typing import Any, Callable

from ..protocol import (
    BOOTSTRAP_CODE,
    COMM_TARGET,
    DEFAULT_SCAN_BUDGET_S,
    ERR_PROTOCOL_MISMATCH,
    MSG_CELL_CLUSTER,
    MSG_CELL_MEASURED,
    MSG_CELL_PROFILE,
    MSG_ERROR,
    MSG_HELLO,
    MSG_REPLY,
    MSG_SCAN_PROGRESS,
    PROFILE_METADATA_KEY,
    PROTOCOL_VERSION,
    REQ_SCAN,
    scan_reply_timeout_s,
)
from .errors import (
    CommError,
    HelperLoadError,
    HelperMissingError,
    KernelDiedError,
    ProtocolMismatchError,
)

#: How long to wait for an interrupted cell to finish before giving up on it.
INTERRUPT_GRACE_S = 10.0
#: How often to check that the kernel process is alive while nothing arrives.
_LIVENESS_POLL_S = 0.25


@dataclass
class CellResult:
    """The outcome of one :meth:`KernelSession.run_cell`."""

    status: str  # "ok" | "error" | "timeout" | "kernel_died"
    record: dict[str, Any] | None  # the cell_measured record for this execution, or None
    error: dict[str, Any] | None  # {"ename": ..., "evalue": ...} for error/timeout/kernel_died
    stdout: str  # concatenated stream output (stdout+stderr) of the cell
    execution_count: int | None
    #: The ``cell_profile``'s ``profile`` when the run was profiled (``run_cell(profile=...)``).
    profile: dict[str, Any] | None = None


class KernelSession:
    """One kernel plus the helper's comm; a context manager that always shuts it down.

    ``with KernelSession() as session: hello = session.start()``. :meth:`start`
    is explicit so that callers can choose ``bootstrap=False``.
    """

    def __init__(
        self,
        kernel_name: str = "python3",
        *,
        startup_timeout: float = 60.0,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.cwd = cwd
        self.env = env
        self.config = config
        #: The last ``hello`` received on the session's comm.
        self.hello: dict[str, Any] | None = None
        #: ``kernel_info_reply`` content.
        self.kernel_info: dict[str, Any] | None = None
        #: The session's comm id once bootstrapped.
        self.comm_id: str | None = None
        #: Every IOPub message of the last :meth:`run_cell` (for tests and debugging).
        self.last_messages: list[dict[str, Any]] = []
        #: IOPub messages whose parent was not ours (another client's), newest last.
        self.orphans: deque[dict[str, Any]] = deque(maxlen=200)
        self._km: Any = None
        self._kc: Any = None
        self._poller: Any = None
        self._watched: set[str] = set()
        self._iopub: dict[str, list[dict[str, Any]]] = {}
        self._idle: set[str] = set()
        self._replies: dict[str, dict[str, Any]] = {}
        self._request_ids = itertools.count(1)
        # Requests whose reply may come after their comm_msg went idle (a scan):
        # request_id -> the comm_msg's msg_id, and what arrived for them so far.
        self._awaited: dict[str, str] = {}
        self._inbox: dict[str, list[dict[str, Any]]] = {}
        #: ``cell_cluster`` messages (a cell's Dask cluster measurement, sent about a
        #: second after the cell, whatever runs then) by execution count.
        self.cell_clusters: dict[int, dict[str, Any]] = {}

    # -- context manager -------------------------------------------------------

    def __enter__(self) -> KernelSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # -- lifecycle ---------------------------------------------------------------

    def start(self, *, bootstrap: bool = True) -> dict[str, Any] | None:
        """Start the kernel; if ``bootstrap``, load the helper, open the comm, return hello.

        Calling it again on a started session only bootstraps if still needed.
        Raises :class:`HelperMissingError`, :class:`ProtocolMismatchError`,
        :class:`KernelDiedError` or :class:`TimeoutError`.
        """
        if self._km is None:
            from jupyter_client.manager import KernelManager  # noqa: PLC0415 - heavy; the CLI imports us for --help too

            env = dict(os.environ)
            env.update(self.env or {})
            km = KernelManager(kernel_name=self.kernel_name)
            # The kernel process's own stdout/stderr carry start-up chatter
            # (ipykernel 7: "running over TCP without encryption"), not cell
            # output, which arrives on iopub; keep it off the CLI's terminal.
            km.start_kernel(
                cwd=self.cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            self._km = km
            try:
                self._connect()
            except BaseException:
                self.shutdown()
                raise
        if bootstrap and self.hello is None:
            return self.bootstrap()
        return self.hello

    def _connect(self) -> None:
        """Open channels, wait for the kernel, fetch ``kernel_info``."""
        import zmq  # noqa: PLC0415 - heavy, with jupyter_client

        if self._kc is None:
            kc = self._km.blocking_client()
            kc.start_channels(stdin=False)
            self._kc = kc
            poller = zmq.Poller()
            poller.register(kc.shell_channel.socket, zmq.POLLIN)
            poller.register(kc.iopub_channel.socket, zmq.POLLIN)
            self._poller = poller
        try:
            self._kc.wait_for_ready(timeout=self.startup_timeout)
        except RuntimeError as exc:
            if not self.is_alive():
                raise KernelDiedError("starting", self._exit_code()) from exc
            raise TimeoutError(
                f"The kernel {self.kernel_name!r} did not answer within "
                f"{self.startup_timeout:g} s; raise the startup timeout or check the kernel."
            ) from exc
        msg = self._kc.session.msg("kernel_info_request", {})
        reply = self._send_and_wait(msg, want_reply=True, timeout=self.startup_timeout)[0]
        self.kernel_info = reply["content"] if reply else None

    def bootstrap(self) -> dict[str, Any]:
        """Load the helper (silently, no history) and open the comm; return the hello."""
        result = self.run_cell(
            BOOTSTRAP_CODE, silent=True, store_history=False, timeout=self.startup_timeout
        )
        if result.status == "kernel_died":
            raise KernelDiedError("loading the helper", self._exit_code())
        if result.status == "timeout":
            raise TimeoutError(
                f"`{BOOTSTRAP_CODE}` did not finish within {self.startup_timeout:g} s."
            )
        if result.status == "error":
            error = result.error or {}
            ename, evalue = str(error.get("ename", "")), str(error.get("evalue", ""))
            if ename == "ModuleNotFoundError":
                raise HelperMissingError(self.kernel_name, evalue)
            raise HelperLoadError(ename, evalue)
        data: dict[str, Any] = {
            "protocol_version": PROTOCOL_VERSION,
            "client": f"memory-doctor-client {_package_version()}",
        }
        if self.config is not None:
            data["config"] = dict(self.config)
        comm_id, first = self.open_comm(data=data)
        if first.get("type") == MSG_ERROR:
            if first.get("code") == ERR_PROTOCOL_MISMATCH:
                raise ProtocolMismatchError(
                    PROTOCOL_VERSION,
                    str(first.get("protocol_version", "?")),
                    str(first.get("message") or "") or None,
                )
            raise CommError(f"The helper refused the comm: {first.get('message')}")
        self.comm_id = comm_id
        self.hello = first
        return first

    def restart(self) -> dict[str, Any]:
        """Restart the kernel, load the helper again and return the new hello."""
        if self._km is None:
            raise RuntimeError("The session was never started; call start() first.")
        self.hello = None
        self.comm_id = None
        self._forget_all()
        # A dead kernel cannot take a polite shutdown request; don't wait for it.
        self._km.restart_kernel(now=not self.is_alive())
        self._connect()
        return self.bootstrap()

    def is_alive(self) -> bool:
        """Whether the kernel process is running."""
        try:
            return self._km is not None and bool(self._km.is_alive())
        except Exception:  # a half torn down manager counts as dead
            return False

    def shutdown(self) -> None:
        """Stop the kernel and close channels; safe to call many times."""
        km, kc = self._km, self._kc
        self._km = self._kc = self._poller = None
        self.hello = None
        self.comm_id = None
        self._forget_all()
        if kc is not None:
            with contextlib.suppress(Exception):  # best effort on the way out
                kc.stop_channels()
        if km is not None:
            with contextlib.suppress(Exception):  # the kill below is the backstop
                km.shutdown_kernel(now=not bool(km.is_alive()))
            with contextlib.suppress(Exception):
                if km.has_kernel:
                    km.kill_kernel()
            with contextlib.suppress(Exception):
                km.cleanup_resources()

    def _exit_code(self) -> int | None:
        try:
            provisioner = self._km.provisioner
            process = getattr(provisioner, "process", None)
            code = process.poll() if process is not None else None
            return int(code) if code is not None else None
        except Exception:  # only used to decorate a message
            return None

    # -- executing -----------------------------------------------------------------

    def run_cell(
        self,
        code: str,
        cell_id: str | None = None,
        *,
        timeout: float | None = None,
        silent: bool = False,
        store_history: bool = True,
        profile: str | None = None,
    ) -> CellResult:
        """Execute ``code`` like JupyterLab would and collect its measurement.

        With ``profile`` (``auto``, ``tracemalloc`` or ``memray``) the helper
        line-profiles the run, asked in the request's metadata
        (``PROFILE_METADATA_KEY``): the result's ``profile``.

        Waits for the ``execute_reply`` and for the kernel going idle for this
        request. On ``timeout`` the kernel is interrupted and the status is
        ``"timeout"``; if the kernel process dies the status is ``"kernel_died"``.
        """
        return self._execute(
            code,
            cell_id,
            timeout=timeout,
            silent=silent,
            store_history=store_history,
            profile=profile,
        )[0]

    def evaluate(self, expressions: dict[str, str], timeout: float = 30.0) -> dict[str, Any]:
        """Evaluate ``user_expressions`` without running a cell; name → text/plain.

        Uses a silent, empty execute request, so nothing is added to the
        namespace or the history. A failed expression maps to its reply dict.
        """
        result, reply = self._execute(
            "",
            None,
            timeout=timeout,
            silent=True,
            store_history=False,
            user_expressions=expressions,
        )
        if reply is None:
            if result.status == "kernel_died":
                raise KernelDiedError("evaluating expressions", self._exit_code())
            raise TimeoutError("The kernel did not evaluate the expressions in time.")
        out: dict[str, Any] = {}
        for name, value in (reply.get("user_expressions") or {}).items():
            if value.get("status") == "ok":
                out[name] = value.get("data", {}).get("text/plain")
            else:
                out[name] = value
        return out

    def _execute(
        self,
        code: str,
        cell_id: str | None,
        *,
        timeout: float | None,
        silent: bool,
        store_history: bool,
        user_expressions: dict[str, str] | None = None,
        profile: str | None = None,
    ) -> tuple[CellResult, dict[str, Any] | None]:
        try:
            kc = self._require_client()
        except KernelDiedError as exc:
            died = CellResult(
                "kernel_died", None, {"ename": "KernelDied", "evalue": str(exc)}, "", None
            )
            return died, None
        msg = self._execute_msg(kc, code, cell_id, silent, store_history, user_expressions, profile)
        msg_id = msg["header"]["msg_id"]
        status: str | None = None
        error: dict[str, Any] | None = None
        try:
            reply, messages = self._send_and_wait(msg, want_reply=True, timeout=timeout)
        except KernelDiedError as exc:
            messages = self._forget(msg_id)
            reply = None
            status = "kernel_died"
            error = {"ename": "KernelDied", "evalue": str(exc)}
        except TimeoutError:
            with contextlib.suppress(Exception):  # dead or not interruptible: handled below
                self._km.interrupt_kernel()
            status = "timeout"
            error = {
                "ename": "Timeout",
                "evalue": f"The cell ran longer than {timeout:g} s and was interrupted.",
            }
            try:
                reply, messages = self._wait(msg_id, want_reply=True, timeout=INTERRUPT_GRACE_S)
            except (TimeoutError, KernelDiedError):
                reply = None
                messages = self._forget(msg_id)
                if not self.is_alive():
                    status = "kernel_died"
                    error = {"ename": "KernelDied", "evalue": "The kernel died after an interrupt."}
        return self._cell_result(reply, messages, status, error)

    @staticmethod
    def _execute_msg(  # noqa: PLR0917 - private, called twice, every field named at the call
        kc: Any,
        code: str,
        cell_id: str | None,
        silent: bool,
        store_history: bool,
        user_expressions: dict[str, str] | None,
        profile: str | None = None,
    ) -> dict[str, Any]:
        content = {
            "code": code,
            "silent": silent,
            "store_history": store_history,
            "user_expressions": user_expressions or {},
            "allow_stdin": False,
            "stop_on_error": False,
        }
        # JupyterLab sends the cell id in the request metadata.
        metadata: dict[str, Any] = {"cellId": cell_id} if cell_id is not None else {}
        if profile is not None:
            metadata[PROFILE_METADATA_KEY] = {"profile": profile}
        return kc.session.msg("execute_request", content, metadata=metadata)  # type: ignore[no-any-return]

    def start_cell(self, code: str, cell_id: str | None = None) -> str:
        """Send ``code`` like :meth:`run_cell` but return at once, with the request's msg_id.

        Collect it with :meth:`finish_cell`. Meanwhile the session can send
        comm requests, which the kernel answers during the cell only on a
        subshell (:meth:`create_subshell`).
        """
        kc = self._require_client()
        msg = self._execute_msg(kc, code, cell_id, False, True, None)
        msg_id: str = msg["header"]["msg_id"]
        self._watched.add(msg_id)
        kc.shell_channel.send(msg)
        return msg_id

    def finish_cell(self, msg_id: str, timeout: float | None = None) -> CellResult:
        """Wait for a :meth:`start_cell` request to end.

        Raises TimeoutError (the request stays pending) or KernelDiedError.
        """
        reply, messages = self._wait(msg_id, want_reply=True, timeout=timeout)
        return self._cell_result(reply, messages, None, None)[0]

    def _cell_result(
        self,
        reply: dict[str, Any] | None,
        messages: list[dict[str, Any]],
        status: str | None,
        error: dict[str, Any] | None,
    ) -> tuple[CellResult, dict[str, Any] | None]:
        self.last_messages = messages
        reply_content = reply["content"] if reply is not None else None
        if status is None:
            content = reply_content or {}
            if content.get("status") == "ok":
                status = "ok"
            else:
                status = "error"
                error = {
                    "ename": str(content.get("ename", content.get("status"))),
                    "evalue": str(content.get("evalue", "")),
                }
        count = reply_content.get("execution_count") if reply_content else None
        result = CellResult(
            status=status,
            record=self._find_record(messages),
            error=error,
            stdout="".join(
                m["content"].get("text", "") for m in messages if m["msg_type"] == "stream"
            ),
            execution_count=count if isinstance(count, int) else None,
            profile=self._find_profile(messages),
        )
        return result, reply_content

    def _find_record(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        if self.comm_id is None:
            return None
        for data in self.comm_data(messages, self.comm_id):
            if isinstance(data, dict) and data.get("type") == MSG_CELL_MEASURED:
                record = data.get("record")
                return record if isinstance(record, dict) else None
        return None

    def _find_profile(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        if self.comm_id is None:
            return None
        for data in self.comm_data(messages, self.comm_id):
            if isinstance(data, dict) and data.get("type") == MSG_CELL_PROFILE:
                profile = data.get("profile")
                return profile if isinstance(profile, dict) else None
        return None

    @staticmethod
    def comm_data(messages: list[dict[str, Any]], comm_id: str | None = None) -> list[Any]:
        """The ``data`` of every ``comm_msg`` in ``messages`` (for ``comm_id`` if given)."""
        return [
            m["content"].get("data")
            for m in messages
            if m["msg_type"] == "comm_msg"
            and (comm_id is None or m["content"].get("comm_id") == comm_id)
        ]

    # -- comms -------------------------------------------------------------------------

    def request(self, type: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """Send a request on the session's comm and return the ``reply`` message."""
        if self.comm_id is None:
            raise CommError("No Memory Doctor comm is open; call start() or bootstrap() first.")
        request_id = f"c{next(self._request_ids)}"
        answers = self.comm_send(
            {"type": type, "request_id": request_id, **params}, timeout=timeout
        )
        for data in answers:
            if (
                isinstance(data, dict)
                and data.get("type") == MSG_REPLY
                and data.get("request_id") == request_id
            ):
                return data
        for data in answers:
            if isinstance(data, dict) and data.get("type") == MSG_ERROR:
                return data
        raise CommError(f"The helper sent no reply to {type!r}; is it still loaded?")

    def send_request(self, type: str, *, subshell_id: str | None = None, **params: Any) -> str:
        """Send a request on the session's comm without waiting; return its ``request_id``.

        Collect the answer with :meth:`wait_reply`. Unlike :meth:`request`, this
        catches a reply sent long after the request's own message was handled
        (a ``scan``'s reply comes when the scan ends, parented to whatever the
        kernel was doing then). With ``subshell_id`` the message goes to that
        subshell (as JupyterLab ≥ 4.4 sends comm messages), which answers even
        while the main shell runs a cell.
        """
        if self.comm_id is None:
            raise CommError("No Memory Doctor comm is open; call start() or bootstrap() first.")
        kc = self._require_client()
        request_id = f"c{next(self._request_ids)}"
        data = {"type": type, "request_id": request_id, **params}
        msg = kc.session.msg("comm_msg", {"comm_id": self.comm_id, "data": data})
        if subshell_id is not None:
            msg["header"]["subshell_id"] = subshell_id  # JEP 91
        self._awaited[request_id] = msg["header"]["msg_id"]
        self._inbox[request_id] = []
        self._watched.add(msg["header"]["msg_id"])
        kc.shell_channel.send(msg)
        return request_id

    def wait_reply(
        self,
        request_id: str,
        timeout: float | None = 30.0,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Wait for the ``reply`` to a :meth:`send_request`; ``progress`` sees each
        ``scan_progress`` for it on the way. Raises TimeoutError or KernelDiedError."""
        if request_id not in self._awaited:
            raise CommError(f"No request {request_id!r} is awaiting a reply.")
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = 0
        try:
            while True:
                inbox = self._inbox[request_id]
                for data in inbox[seen:]:
                    seen += 1
                    if data.get("type") == MSG_REPLY:
                        return data
                    if progress is not None:
                        progress(data)
                remaining = _LIVENESS_POLL_S
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(
                            f"No reply to request {request_id!r} within {timeout:g} s."
                        )
                    remaining = min(remaining, left)
                if not self._pump(remaining) and not self.is_alive():
                    raise KernelDiedError("waiting for a reply", self._exit_code())
        finally:
            self._inbox.pop(request_id, None)
            msg_id = self._awaited.pop(request_id, None)
            if msg_id is not None:
                self._forget(msg_id)

    def scan(
        self,
        *,
        budget_s: float | None = None,
        max_holders: int | None = None,
        timeout: float | None = None,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Ask the helper what holds memory; return the ``scan`` reply's ``result``.

        ``progress`` is called with each ``scan_progress`` message. ``timeout``
        defaults to as long as the helper may take for the budget (the helper's
        default, ``DEFAULT_SCAN_BUDGET_S``): ``scan_reply_timeout_s``. Raises
        :class:`CommError` if the helper refuses or fails the scan, TimeoutError
        or KernelDiedError.
        """
        params: dict[str, Any] = {}
        if budget_s is not None:
            params["budget_s"] = budget_s
        if max_holders is not None:
            params["max_holders"] = max_holders
        if timeout is None:
            budget = budget_s if budget_s is not None else DEFAULT_SCAN_BUDGET_S
            timeout = scan_reply_timeout_s(budget)
        request_id = self.send_request(REQ_SCAN, **params)
        reply = self.wait_reply(request_id, timeout=timeout, progress=progress)
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raise CommError(
                f"The kernel helper refused or failed the scan "
                f"({error.get('code', '?')}): {error.get('message', '')}"
            )
        result = reply.get("result")
        if not isinstance(result, dict):
            raise CommError("The kernel helper's scan reply has no result.")
        return result

    @property
    def supports_subshells(self) -> bool:
        """Whether the kernel handles JEP 91 subshells (ipykernel ≥ 7)."""
        features = (self.kernel_info or {}).get("supported_features") or []
        return isinstance(features, list) and "kernel subshells" in features

    def create_subshell(self, timeout: float = 30.0) -> str:
        """Create a kernel subshell (JEP 91) as JupyterLab does for comms; return its id.

        Raises :class:`CommError` when the kernel has no subshells, TimeoutError
        or KernelDiedError.
        """
        return str(self._control("create_subshell_request", {}, timeout)["subshell_id"])

    def delete_subshell(self, subshell_id: str, timeout: float = 30.0) -> None:
        """Delete a subshell made by :meth:`create_subshell`."""
        self._control("delete_subshell_request", {"subshell_id": subshell_id}, timeout)

    def _control(self, msg_type: str, content: dict[str, Any], timeout: float) -> dict[str, Any]:
        """One request on the control channel (not polled by :meth:`_pump`); its reply content."""
        if not self.supports_subshells:
            raise CommError(
                f"Kernel {self.kernel_name!r} does not support subshells "
                "(JEP 91 needs ipykernel 7 or later)."
            )
        kc = self._require_client()
        msg = kc.session.msg(msg_type, content)
        kc.control_channel.send(msg)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"No {msg_type} reply within {timeout:g} s.")
            try:
                reply = kc.get_control_msg(timeout=min(left, _LIVENESS_POLL_S))
            except Empty:
                if not self.is_alive():
                    raise KernelDiedError(msg_type, self._exit_code()) from None
                continue
            if reply.get("parent_header", {}).get("msg_id") != msg["header"]["msg_id"]:
                continue  # a late reply to an earlier control request
            answer: dict[str, Any] = reply["content"]
            if answer.get("status") != "ok":
                raise CommError(f"The kernel refused {msg_type}: {answer.get('evalue', answer)}")
            return answer

    def comm_send(
        self, data: Any, *, comm_id: str | None = None, timeout: float = 30.0
    ) -> list[Any]:
        """Send raw ``data`` on a comm (the session's by default); return what came back on it."""
        target = comm_id or self.comm_id
        if target is None:
            raise CommError("No Memory Doctor comm is open; call start() or bootstrap() first.")
        kc = self._require_client()
        msg = kc.session.msg("comm_msg", {"comm_id": target, "data": data})
        messages = self._send_and_wait(msg, want_reply=False, timeout=timeout)[1]
        return self.comm_data(messages, target)

    def open_comm(
        self,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> tuple[str, dict[str, Any]]:
        """Open another comm on the helper's target; return its id and first message.

        The first message is ``hello`` or ``error``. The session's own comm is
        unaffected; this is how tests play a second browser tab.
        """
        kc = self._require_client()
        comm_id = uuid.uuid4().hex
        if data is None:
            data = {"protocol_version": PROTOCOL_VERSION, "client": "memory-doctor-client"}
        if metadata is None:
            metadata = {"version": PROTOCOL_VERSION}
        msg = kc.session.msg(
            "comm_open",
            {"comm_id": comm_id, "target_name": COMM_TARGET, "data": data},
            metadata=metadata,
        )
        messages = self._send_and_wait(msg, want_reply=False, timeout=timeout)[1]
        for payload in self.comm_data(messages, comm_id):
            if isinstance(payload, dict) and payload.get("type") in (MSG_HELLO, MSG_ERROR):
                return comm_id, payload
        raise CommError(
            f"The kernel closed the {COMM_TARGET!r} comm without a hello; "
            f"run `{BOOTSTRAP_CODE}` in it first."
        )

    def close_comm(self, comm_id: str, timeout: float = 30.0) -> None:
        """Close a comm from the client side (as closing a browser tab would)."""
        kc = self._require_client()
        msg = kc.session.msg("comm_close", {"comm_id": comm_id, "data": {}})
        self._send_and_wait(msg, want_reply=False, timeout=timeout)
        if comm_id == self.comm_id:
            self.comm_id = None
            self.hello = None

    # -- message routing ---------------------------------------------------------------

    def _require_client(self) -> Any:
        if self._kc is None:
            raise RuntimeError("The kernel is not running; call start() first.")
        if not self.is_alive():
            raise KernelDiedError("sending a request", self._exit_code())
        return self._kc

    def _send_and_wait(
        self, msg: dict[str, Any], *, want_reply: bool, timeout: float | None
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        msg_id = msg["header"]["msg_id"]
        self._watched.add(msg_id)
        self._kc.shell_channel.send(msg)
        return self._wait(msg_id, want_reply=want_reply, timeout=timeout)

    def _wait(
        self, msg_id: str, *, want_reply: bool, timeout: float | None
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Pump until the kernel is idle for ``msg_id`` (and replied, if wanted).

        Raises TimeoutError (the request stays watched, so a caller can keep
        waiting) or KernelDiedError.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (msg_id in self._idle and (not want_reply or msg_id in self._replies)):
            remaining = _LIVENESS_POLL_S
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"No answer from the kernel within {timeout:g} s.")
                remaining = min(remaining, left)
            if not self._pump(remaining) and not self.is_alive():
                raise KernelDiedError("running a request", self._exit_code())
        reply = self._replies.get(msg_id)
        return reply, self._forget(msg_id)

    def _forget(self, msg_id: str) -> list[dict[str, Any]]:
        self._watched.discard(msg_id)
        self._idle.discard(msg_id)
        self._replies.pop(msg_id, None)
        return self._iopub.pop(msg_id, [])

    def _forget_all(self) -> None:
        self.cell_clusters.clear()
        self._awaited.clear()
        self._inbox.clear()
        self._watched.clear()
        self._idle.clear()
        self._replies.clear()
        self._iopub.clear()

    def _pump(self, timeout: float) -> bool:
        """Route every message that arrives within ``timeout`` seconds; True if any did."""
        kc = self._kc
        if kc is None or self._poller is None:
            return False
        ready = dict(self._poller.poll(int(timeout * 1000)))
        if not ready:
            return False
        # Receive through the public blocking API: its channels are sync sockets in
        # jupyter_client 8 but asyncio ones in 7.x, which the poller handles alike.
        if kc.shell_channel.socket in ready:
            for reply in _drain(kc.get_shell_msg):
                parent = reply.get("parent_header", {}).get("msg_id")
                if parent in self._watched:
                    self._replies[parent] = reply
        if kc.iopub_channel.socket in ready:
            for msg in _drain(kc.get_iopub_msg):
                self._route_iopub(msg)
        return True

    def wait_cell_clusters(
        self, counts: Iterable[int], timeout: float
    ) -> dict[int, dict[str, Any]]:
        """The ``cell_cluster`` messages of these execution counts, waiting up to
        ``timeout`` s for those still missing (what came, if not all do)."""
        wanted = set(counts)
        deadline = time.monotonic() + timeout
        while not wanted <= set(self.cell_clusters):
            left = deadline - time.monotonic()
            if left <= 0 or (not self._pump(min(left, _LIVENESS_POLL_S)) and not self.is_alive()):
                break
        return {n: self.cell_clusters[n] for n in sorted(wanted) if n in self.cell_clusters}

    def _route_iopub(self, msg: dict[str, Any]) -> None:
        self._keep_cell_cluster(msg)
        captured = bool(self._awaited) and self._capture(msg)
        parent = msg.get("parent_header", {}).get("msg_id")
        if parent not in self._watched:
            if not captured:
                self.orphans.append(msg)
            return
        if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
            self._idle.add(parent)
        # Idle is kept too: its kernel-side timestamp ends the request (bench/).
        self._iopub.setdefault(parent, []).append(msg)

    def _keep_cell_cluster(self, msg: dict[str, Any]) -> None:
        if msg.get("msg_type") != "comm_msg":
            return
        content = msg.get("content") or {}
        data = content.get("data")
        if content.get("comm_id") != self.comm_id or not isinstance(data, dict):
            return
        count = data.get("execution_count")
        if data.get("type") == MSG_CELL_CLUSTER and isinstance(count, int):
            self.cell_clusters[count] = data

    def _capture(self, msg: dict[str, Any]) -> bool:
        """Keep a reply or progress for an awaited request, whatever its parent."""
        if msg.get("msg_type") != "comm_msg":
            return False
        content = msg.get("content") or {}
        data = content.get("data")
        if content.get("comm_id") != self.comm_id or not isinstance(data, dict):
            return False
        request_id = data.get("request_id")
        if request_id not in self._inbox or data.get("type") not in (MSG_REPLY, MSG_SCAN_PROGRESS):
            return False
        self._inbox[request_id].append(data)
        return True


def _drain(get_msg: Any) -> Iterator[dict[str, Any]]:
    """Every message a ``get_*_msg`` method has ready now."""
    while True:
        try:
            yield get_msg(timeout=0)
        except Empty:
            return


def _package_version() -> str:
    from .. import __version__  # noqa: PLC0415 - the package imports nothing from here

    return str(__version__)
