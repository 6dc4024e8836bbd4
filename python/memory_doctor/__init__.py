"""Memory Doctor: per-cell memory measurements for Jupyter kernels.

In a kernel, ``%load_ext memory_doctor`` installs the helper (the JupyterLab
extension does this for you). Importing this package is cheap and never needs
IPython: everything heavy is imported when the extension is loaded.
"""

from __future__ import annotations

from typing import Any

try:
    from ._version import __version__  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # editable installs may lack _version.py: see __getattr__

    def __getattr__(name: str) -> Any:
        """Resolve ``__version__`` from the installed metadata, on first use only.

        importlib.metadata costs ~30 ms to import, too much for every
        ``import memory_doctor`` (Jupyter Server imports us for the lab paths).
        """
        if name != "__version__":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:
            from importlib.metadata import version  # noqa: PLC0415 - see docstring

            found = version("jupyterlab-memory-doctor")
        except Exception:  # importing and asking must never fail
            found = "0.0.0"
        globals()["__version__"] = found
        return found


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt JupyterLab extension lives, for ``jupyter labextension``."""
    return [{"src": "labextension", "dest": "jupyterlab-memory-doctor"}]


def load_ipython_extension(ipython: Any) -> None:
    """Entry point of ``%load_ext memory_doctor``; loading twice is a no-op."""
    from .kernel.extension import load  # noqa: PLC0415 - keep `import memory_doctor` light

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Entry point of ``%unload_ext memory_doctor``: remove hooks, comm target and comms."""
    from .kernel.extension import unload  # noqa: PLC0415 - as above

    unload(ipython)


__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]
