"""The only place the helper touches Jupyter's comm machinery.

Keeping it this small lets unit tests swap in a recording fake with
:func:`use_manager` (the idea of ipywidgets' ``comm.py``) and keeps the rest of
the helper independent of ipykernel's and ``comm``'s versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Protocol

from ..log import quiet_logger

_log = quiet_logger(__name__)

#: ``f(comm, comm_open_msg)``, as ``CommManager.register_target`` calls it.
TargetCallback = Callable[[Any, dict[str, Any]], None]
#: ``f(msg)``, as ``Comm.on_msg`` / ``Comm.on_close`` call it.
MsgCallback = Callable[[dict[str, Any]], None]


class CommLike(Protocol):
    """The part of ``comm.base_comm.BaseComm`` the helper uses."""

    comm_id: str

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        """Send ``data`` to the front end."""
        ...

    def close(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        """Close both ends."""
        ...

    def on_msg(self, callback: MsgCallback | None) -> None:
        """Call ``callback(msg)`` for each incoming ``comm_msg``."""
        ...

    def on_close(self, callback: MsgCallback | None) -> None:
        """Call ``callback(msg)`` when the front end closes the comm."""
        ...


class CommManagerLike(Protocol):
    """The part of ``comm.base_comm.CommManager`` the helper uses."""

    def register_target(self, target_name: str, f: TargetCallback) -> None:
        """Call ``f(comm, msg)`` for each ``comm_open`` on ``target_name``."""
        ...

    def unregister_target(self, target_name: str, f: TargetCallback) -> Any:
        """Forget ``target_name``."""
        ...


_override: CommManagerLike | None = None


def use_manager(manager: CommManagerLike | None) -> CommManagerLike | None:
    """Make :func:`find_manager` return ``manager`` (tests); returns the previous override."""
    global _override  # the swap point is module state by design
    previous, _override = _override, manager
    return previous


def find_manager(shell: Any) -> CommManagerLike | None:
    """The comm manager serving ``shell``'s kernel, or None without a kernel.

    ipykernel ≥ 6 keeps it on ``shell.kernel.comm_manager``; otherwise the
    ``comm`` package's global is the one ipykernel patched in. A terminal
    IPython or a bare ``InteractiveShell`` has no kernel and so no comms.
    """
    if _override is not None:
        return _override
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    manager = getattr(kernel, "comm_manager", None)
    if manager is not None:
        return manager  # type: ignore[no-any-return]
    try:
        import comm  # noqa: PLC0415 - only inside a kernel

        return comm.get_comm_manager()
    except Exception:  # a broken comm package must not break the kernel
        _log.debug("no comm manager", exc_info=True)
        return None


def register_target(manager: CommManagerLike, target: str, callback: TargetCallback) -> bool:
    """Register ``callback`` for ``target``; False if the manager refused."""
    try:
        manager.register_target(target, callback)
    except Exception:  # a guest must not raise into %load_ext
        _log.debug("register_target failed", exc_info=True)
        return False
    return True


def unregister_target(manager: CommManagerLike, target: str, callback: TargetCallback) -> None:
    """Unregister ``target`` if ``callback`` is still the one registered for it."""
    targets = getattr(manager, "targets", None)
    if isinstance(targets, dict) and target in targets and targets[target] != callback:
        return  # someone registered their own handler since; leave it alone
    try:
        manager.unregister_target(target, callback)
    except Exception:  # KeyError when already gone, and worse
        _log.debug("unregister_target failed", exc_info=True)


def _sender_subshell(data: Any, default: str | None) -> str | None:
    """The subshell the front end sent a message to (``default`` in ipykernel's call)."""
    return default


def route_by_sender(comm: Any) -> None:
    """Run each message arriving on ``comm`` on the subshell the front end sent it to.

    ipykernel 7.4 routes a comm's incoming messages to the subshell that last
    *published* on it (``Comm._reply_subshell_for``), so that a widget waiting
    in a cell gets its reply there. The helper never waits for the front end,
    and it publishes records from the main shell's ``post_run_cell``: with that
    rule every ``get_rss`` would queue behind the running cell, and live
    readings would never be live. An instance attribute of the same name keeps
    the front end's choice; kernels without the hook never look at it. A
    module-level function keeps no reference to the helper.
    """
    try:
        comm._reply_subshell_for = _sender_subshell  # ipykernel 7.4's routing hook
    except Exception:  # a comm with __slots__ or a foreign class: keep its default
        _log.debug("cannot set the subshell route", exc_info=True)


def send(comm: CommLike, data: Mapping[str, Any]) -> bool:
    """Send ``data`` on ``comm``; False (never an exception) if that failed."""
    try:
        comm.send(data)
    except Exception:  # a dead socket must not break a cell
        _log.debug("comm send failed", exc_info=True)
        return False
    return True


def close(comm: CommLike) -> None:
    """Close ``comm``, ignoring errors."""
    try:
        comm.close()
    except Exception:  # closing is best effort
        _log.debug("comm close failed", exc_info=True)
