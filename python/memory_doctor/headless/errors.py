"""Errors raised by the Memory Doctor client side (CLI, tests, bench).

The kernel helper itself never raises into a cell; these are for code that
drives a kernel from outside. Every message says what to do next.
"""

from __future__ import annotations

from ..protocol import PIP_INSTALL_HINT, mismatch_message


class MemoryDoctorError(Exception):
    """Base class for every Memory Doctor error."""


class HelperMissingError(MemoryDoctorError):
    """The kernel's environment cannot import ``memory_doctor``."""

    def __init__(self, kernel_name: str | None = None, detail: str | None = None) -> None:
        where = f"kernel {kernel_name!r}" if kernel_name else "the kernel"
        message = (
            f"The Memory Doctor helper is not installed in the environment of {where}. "
            f"Run `{PIP_INSTALL_HINT}` in that kernel, then restart it."
        )
        if detail:
            message += f" ({detail})"
        super().__init__(message)
        self.kernel_name = kernel_name
        self.detail = detail


class HelperLoadError(MemoryDoctorError):
    """``%load_ext memory_doctor`` failed for a reason other than a missing module."""

    def __init__(self, ename: str, evalue: str) -> None:
        super().__init__(
            f"Loading the Memory Doctor helper failed with {ename}: {evalue}. "
            f"Reinstall it with `{PIP_INSTALL_HINT.replace('install', 'install -U')}` "
            "and restart the kernel; if it persists, report this message."
        )
        self.ename = ename
        self.evalue = evalue


class ProtocolMismatchError(MemoryDoctorError):
    """The two sides speak incompatible protocol versions."""

    def __init__(
        self,
        frontend_version: str,
        kernel_version: str,
        message: str | None = None,
    ) -> None:
        super().__init__(message or mismatch_message(frontend_version, kernel_version))
        self.frontend_version = frontend_version
        self.kernel_version = kernel_version


class KernelDiedError(MemoryDoctorError):
    """The kernel process exited while we were waiting for it."""

    def __init__(self, while_doing: str = "waiting for it", exit_code: int | None = None) -> None:
        code = f" (exit code {exit_code})" if exit_code is not None else ""
        super().__init__(
            f"The kernel died{code} while {while_doing}. It may have run out of memory; "
            "restart it and re-run with less data, or check the kernel's log."
        )
        self.exit_code = exit_code


class CommError(MemoryDoctorError):
    """The helper's comm could not be opened or closed unexpectedly."""


__all__ = [
    "CommError",
    "HelperLoadError",
    "HelperMissingError",
    "KernelDiedError",
    "MemoryDoctorError",
    "ProtocolMismatchError",
]
