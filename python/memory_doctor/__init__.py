"""Memory Doctor: per-cell memory measurements for Jupyter kernels (placeholder, being written)."""
try:
    from ._version import __version__
except ImportError:  # pragma: no cover - only before the first build
    __version__ = "0.0.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyterlab-memory-doctor"}]
