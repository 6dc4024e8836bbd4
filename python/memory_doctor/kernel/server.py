"""The comm server: comm lifecycle and the one registry every request goes through.

Front ends (several browser tabs, the CLI) open comms on ``COMM_TARGET``.
:class:`CommServer` checks the protocol version of each ``comm_open``, sends
the ``hello``, and routes every ``comm_msg`` the same way:

1. **parse**: the data must be a JSON object of at most ``MAX_REQUEST_BYTES``
   with a string ``request_id`` and a string ``type``; otherwise the answer is
   ``bad_request`` (an ``error`` message when it is not even an object);
2. **look up** ``type`` in the registry; an unknown type is logged and
   answered with ``unknown_request`` (docs/protocol.md), and the kernel keeps
   working;
3. **handle**: the handler gets the :class:`Request` and a :class:`Reply`. It
   answers at once (``reply.ok(result)``) or keeps the ``Reply`` and answers
   later (a scan when it ends, a fix once no cell runs). :class:`BadRequest`
   becomes ``bad_request``; any other exception ``internal``.

Nothing here raises out of a comm callback, and requests are data only: a
handler is looked up by name in a dict, nothing is evaluated.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, Callable

from ..log import quiet_logger
from ..protocol import (
    COMM_TARGET,
    ERR_BAD_REQUEST,
    ERR_INTERNAL,
    ERR_PROTOCOL_MISMATCH,
    ERR_UNKNOWN_REQUEST,
    MAX_ID_CHARS,
    MAX_REQUEST_BYTES,
    PROTOCOL_VERSION,
    REQUESTS,
    ErrorCode,
    error_message,
    is_compatible,
    mismatch_message,
    reply_error,
    reply_ok,
)
from . import comm as comm_shim

_log = quiet_logger(__name__)

#: ``send(comm_id, message) -> delivered``.
Sender = Callable[[str, dict[str, Any]], bool]

INTERNAL_MESSAGE = (
    "The Memory Doctor helper failed answering this request; your kernel is unaffected. "
    "Please report it with the kernel's log."
)


class BadRequest(Exception):
    """A request understood well enough to refuse; the message says what to change."""


class Request:
    """One parsed request: plain data."""

    __slots__ = ("comm_id", "data", "request_id", "type")

    def __init__(
        self, request_id: str, type: str, data: dict[str, Any], comm_id: str | None
    ) -> None:
        self.request_id = request_id
        self.type = type
        #: The whole request object, ``type`` and ``request_id`` included.
        self.data = data
        #: The comm it came on; None for :meth:`CommServer.handle_request`.
        self.comm_id = comm_id


class Reply:
    """Where the answer to one request goes: sent on its comm, or kept when it has none.

    A handler answers exactly once, now or later; :meth:`progress` sends the
    request's other messages (``scan_progress``) on the same comm.
    """

    __slots__ = ("_send", "comm_id", "message", "request_id")

    def __init__(self, request_id: str, comm_id: str | None, send: Sender | None) -> None:
        self.request_id = request_id
        self.comm_id = comm_id
        self._send = send if comm_id is not None else None
        #: The reply once answered.
        self.message: dict[str, Any] | None = None

    @property
    def answered(self) -> bool:
        """Whether the reply was given."""
        return self.message is not None

    @property
    def deferrable(self) -> bool:
        """Whether an answer given later can still reach the front end (it has a comm)."""
        return self._send is not None

    def send(self, message: dict[str, Any]) -> None:
        """Give the whole reply message (from ``reply_ok``/``reply_error``)."""
        self.message = message
        if self._send is not None and self.comm_id is not None:
            self._send(self.comm_id, message)

    def ok(self, result: Mapping[str, Any]) -> None:
        """Answer with a successful ``reply``."""
        self.send(reply_ok(self.request_id, result))

    def error(self, code: ErrorCode, message: str) -> None:
        """Answer with a failed ``reply``."""
        self.send(reply_error(self.request_id, code, message))

    def progress(self, message: dict[str, Any]) -> bool:
        """Send a message about this request that is not its reply; False without a comm."""
        if self._send is None or self.comm_id is None:
            return False
        return self._send(self.comm_id, message)


#: ``handler(request, reply)``: answers through ``reply``, now or later.
Handler = Callable[[Request, Reply], None]


def parse_request(data: Any, comm_id: str | None) -> Request | dict[str, Any]:
    """The :class:`Request` in ``data``, or the message that refuses it."""
    if not isinstance(data, dict):
        return error_message(
            ERR_BAD_REQUEST,
            "A request must be a JSON object with string 'type' and 'request_id' fields; "
            f"got {type(data).__name__}.",
        )
    request_id = data.get("request_id")
    if not isinstance(request_id, str) or len(request_id) > MAX_ID_CHARS:
        return reply_error(
            None,
            ERR_BAD_REQUEST,
            f"Every request needs a string 'request_id' of at most {MAX_ID_CHARS} characters.",
        )
    request_type = data.get("type")
    try:
        size = len(json.dumps(data, separators=(",", ":")))
    except (TypeError, ValueError, RecursionError):
        size = MAX_REQUEST_BYTES + 1
    if size > MAX_REQUEST_BYTES:
        return reply_error(
            request_id,
            ERR_BAD_REQUEST,
            f"The request is {size} bytes; requests are limited to {MAX_REQUEST_BYTES}.",
        )
    if not isinstance(request_type, str):
        return reply_error(request_id, ERR_BAD_REQUEST, "The request's 'type' must be a string.")
    return Request(request_id, request_type, data, comm_id)


class CommServer:
    """The helper's comms and its request registry, for one shell.

    ``lock`` is shared with the hooks: a record is appended and broadcast
    under it, and a comm gets its ``hello`` (with the records so far) under
    it, so each comm sees every record exactly once.
    """

    def __init__(
        self,
        lock: threading.RLock,
        hello: Callable[[], Mapping[str, Any]],
        configure: Callable[[dict[str, Any]], object],
    ) -> None:
        self._lock = lock
        self._hello = hello
        self._configure = configure
        self._comms: dict[str, comm_shim.CommLike] = {}
        self._manager: comm_shim.CommManagerLike | None = None
        self._handlers: dict[str, Handler] = {}
        self._closed_listeners: list[Callable[[str], None]] = []

    # -- registry ------------------------------------------------------------

    def register(self, request_type: str, handler: Handler) -> None:
        """Route requests of ``request_type`` to ``handler``."""
        self._handlers[request_type] = handler

    def on_comm_closed(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(comm_id)`` when a front end closes its comm."""
        self._closed_listeners.append(listener)

    # -- lifecycle -----------------------------------------------------------

    def start(self, shell: Any) -> None:
        """Register the comm target with ``shell``'s kernel, if it has one."""
        manager = comm_shim.find_manager(shell)
        if manager is not None and comm_shim.register_target(
            manager, COMM_TARGET, self._on_comm_open
        ):
            self._manager = manager

    def stop(self) -> None:
        """Unregister the comm target and close every open comm."""
        if self._manager is not None:
            comm_shim.unregister_target(self._manager, COMM_TARGET, self._on_comm_open)
            self._manager = None
        with self._lock:
            comms = list(self._comms.values())
            self._comms.clear()
        for comm in comms:
            _detach(comm)
            comm_shim.close(comm)

    @property
    def comm_ids(self) -> list[str]:
        """Ids of the comms currently open."""
        with self._lock:
            return list(self._comms)

    # -- sending -------------------------------------------------------------

    def broadcast(self, message: dict[str, Any]) -> None:
        """Send ``message`` on every open comm."""
        with self._lock:
            for comm in self._comms.values():
                comm_shim.send(comm, message)

    def send_to(self, comm_id: str, message: dict[str, Any]) -> bool:
        """Send on one of our comms by id; False if it is gone."""
        with self._lock:
            comm = self._comms.get(comm_id)
            return comm is not None and comm_shim.send(comm, message)

    # -- requests ------------------------------------------------------------

    def handle_request(self, data: Any) -> dict[str, Any]:
        """Answer one request without a comm; always returns a message, never raises.

        A handler that would answer later (a ``scan``, an ``apply_fix``) sees a
        reply it cannot defer, so it runs to completion here.
        """
        parsed = parse_request(data, None)
        if not isinstance(parsed, Request):
            return parsed
        reply = Reply(parsed.request_id, None, None)
        self._handle(parsed, reply)
        if reply.message is None:  # pragma: no cover - every handler answers without a comm
            return reply_error(parsed.request_id, ERR_INTERNAL, INTERNAL_MESSAGE)
        return reply.message

    def _handle(self, request: Request, reply: Reply) -> None:
        handler = self._handlers.get(request.type)
        if handler is None:
            _log.debug("unknown request type %r", request.type[:MAX_ID_CHARS])
            reply.error(
                ERR_UNKNOWN_REQUEST,
                f"Unknown request type {request.type[:MAX_ID_CHARS]!r}. "
                f"Known: {', '.join(REQUESTS)}.",
            )
            return
        try:
            handler(request, reply)
        except BadRequest as exc:
            reply.error(ERR_BAD_REQUEST, str(exc))
        except Exception:  # answer, never raise
            _log.debug("request %s failed", request.type, exc_info=True)
            if not reply.answered:
                reply.error(ERR_INTERNAL, INTERNAL_MESSAGE)

    # -- comm callbacks --------------------------------------------------------

    def _on_comm_open(self, comm: Any, msg: dict[str, Any]) -> None:
        try:
            self._open(comm, msg)
        except Exception:  # answer and close rather than leave the tab hanging
            _log.debug("comm_open failed", exc_info=True)
            failed = error_message(ERR_INTERNAL, "The Memory Doctor helper failed to open.")
            comm_shim.send(comm, failed)
            comm_shim.close(comm)

    def _open(self, comm: Any, msg: dict[str, Any]) -> None:
        content = msg.get("content") if isinstance(msg, dict) else None
        data = content.get("data") if isinstance(content, dict) else None
        metadata = msg.get("metadata") if isinstance(msg, dict) else None
        versions = [
            v
            for v in (
                data.get("protocol_version") if isinstance(data, dict) else None,
                metadata.get("version") if isinstance(metadata, dict) else None,
            )
            if v is not None
        ]
        bad = [v for v in versions if not is_compatible(v)]
        if bad or not versions:
            frontend = str(bad[0])[:MAX_ID_CHARS] if bad else "(none)"
            comm_shim.send(
                comm,
                error_message(ERR_PROTOCOL_MISMATCH, mismatch_message(frontend, PROTOCOL_VERSION)),
            )
            comm_shim.close(comm)
            return
        if isinstance(data, dict) and isinstance(data.get("config"), dict):
            try:
                self._configure(data["config"])
            except BadRequest:
                _log.debug("ignoring bad config in comm_open", exc_info=True)
        comm_shim.route_by_sender(comm)
        with self._lock:
            comm_shim.send(comm, self._hello())
            self._comms[comm.comm_id] = comm
        comm.on_msg(self._on_comm_msg)
        comm.on_close(self._on_comm_close)

    def _on_comm_close(self, msg: dict[str, Any]) -> None:
        try:
            comm_id = msg["content"]["comm_id"]
            with self._lock:
                comm = self._comms.pop(comm_id, None)
            if comm is not None:
                _detach(comm)
                for listener in self._closed_listeners:
                    listener(comm_id)
        except Exception:  # never raise out of a handler
            _log.debug("comm_close failed", exc_info=True)

    def _on_comm_msg(self, msg: dict[str, Any]) -> None:
        comm_id = None
        try:
            content = msg.get("content") or {}
            found = content.get("comm_id")
            with self._lock:
                if not isinstance(found, str) or found not in self._comms:
                    return
            comm_id = found
            parsed = parse_request(content.get("data"), comm_id)
            if isinstance(parsed, Request):
                self._handle(parsed, Reply(parsed.request_id, comm_id, self.send_to))
            else:
                self.send_to(comm_id, parsed)
        except Exception:  # never raise out of a handler
            _log.debug("comm_msg failed", exc_info=True)
            if isinstance(comm_id, str):
                self.send_to(comm_id, reply_error(None, ERR_INTERNAL, INTERNAL_MESSAGE))


def _detach(comm: comm_shim.CommLike) -> None:
    """Drop the comm's references to us so an unloaded helper can be freed."""
    try:
        comm.on_msg(None)
        comm.on_close(None)
    except Exception:  # a foreign comm object; best effort
        _log.debug("detaching comm failed", exc_info=True)


__all__ = [
    "INTERNAL_MESSAGE",
    "BadRequest",
    "CommServer",
    "Handler",
    "Reply",
    "Request",
    "parse_request",
]
