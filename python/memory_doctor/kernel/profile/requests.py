"""The comm requests that arm and cancel a profile: ``profile_next``, ``profile_cancel``.

Both are data only (a cell id and a backend name, checked here) and answer at
once; the profile itself arrives later as a ``cell_profile`` message, after
the ``cell_measured`` of the profiled run (docs/protocol.md).
"""

from __future__ import annotations

from ...protocol import (
    REQ_PROFILE_CANCEL,
    REQ_PROFILE_NEXT,
    ProfileBackend,
    ProfileCancelResult,
    ProfileNextResult,
)
from ..server import BadRequest, Handler, Reply, Request
from .controller import ProfileController, ProfileRequest, ProfileRequestError
from .memray_backend import available as memray_available


def resolved_backend(backend: str) -> ProfileBackend:
    """The backend a request will get if nothing changes before its run
    (``auto``: memray where it imports)."""
    if backend == "memray" or (backend == "auto" and memray_available()):
        return "memray"
    return "tracemalloc"


def handlers(controller: ProfileController) -> list[tuple[str, Handler]]:
    """``(request type, handler)`` pairs for the comm server's registry."""

    def profile_next(request: Request, reply: Reply) -> None:
        try:
            wanted = ProfileRequest.from_wire(request.data)
            controller.arm(wanted)
        except ProfileRequestError as exc:
            raise BadRequest(str(exc)) from None
        result: ProfileNextResult = {
            "cell_id": str(wanted.cell_id),
            "backend": resolved_backend(wanted.backend),
        }
        reply.ok(result)

    def profile_cancel(request: Request, reply: Reply) -> None:
        cell_id = request.data.get("cell_id")
        if not isinstance(cell_id, str) or not cell_id:
            raise BadRequest(
                "profile_cancel needs the cell_id given to profile_next (a non-empty string)."
            )
        result: ProfileCancelResult = {"cell_id": cell_id, "cancelled": controller.disarm(cell_id)}
        reply.ok(result)

    return [(REQ_PROFILE_NEXT, profile_next), (REQ_PROFILE_CANCEL, profile_cancel)]


__all__ = ["handlers", "resolved_backend"]
