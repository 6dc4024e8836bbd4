"""Shared pytest fixtures: real kernels driven through ``memory_doctor.headless.driver``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from kernel_helpers import ProtocolChecks
from traitlets.config import Config

from memory_doctor.headless.driver import KernelSession

TESTS = Path(__file__).resolve().parent
NOHELPER_KERNEL = "python3-nohelper"


def _engines() -> list[str]:
    """The heap engines to run the engine tests with: both, or the one
    ``MEMORY_DOCTOR_ENGINE`` names (CI's second pass runs the Python one)."""
    from memory_doctor.heap.engine import ENV, native_available  # noqa: PLC0415 - lazy

    built = ["native", "python"] if native_available() else ["python"]
    forced = os.environ.get(ENV, "").strip().lower()
    return [forced] if forced in built else built


@pytest.fixture(params=_engines())
def eng(request: pytest.FixtureRequest) -> str:
    """Each heap engine in turn (``native``, ``python``)."""
    return str(request.param)


@pytest.fixture
def no_last_exception() -> Iterator[None]:
    """pytest sets ``sys.last_*`` after a failing test: keep them out of a scan."""
    names = ("last_type", "last_value", "last_traceback", "last_exc")
    saved = {k: sys.__dict__.pop(k) for k in names if k in sys.__dict__}
    yield
    for key in names:
        sys.__dict__.pop(key, None)
    sys.__dict__.update(saved)


@pytest.fixture(scope="session")
def protocol_checks() -> Iterator[ProtocolChecks]:
    """Every Memory Doctor comm message of every kernel session, checked against the schema."""
    checks = ProtocolChecks()
    with pytest.MonkeyPatch.context() as monkeypatch:
        checks.install(monkeypatch)
        yield checks


@pytest.fixture(autouse=True)
def _protocol_followed(protocol_checks: ProtocolChecks) -> Iterator[None]:
    """Fail the test during which the helper sent a message that breaks protocol.json."""
    yield
    found = protocol_checks.take()
    if found:
        pytest.fail(
            f"{len(found)} message(s) from the helper broke protocol.json; the first:\n{found[0]}",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> InteractiveShell:
    """A real in-process IPython shell (no kernel, no history file) for unit tests."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.ipython_dir = str(tmp_path_factory.mktemp("ipython"))
    config.InteractiveShell.colors = "nocolor"
    return InteractiveShell.instance(config=config)


@pytest.fixture(scope="session")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for test kernels: a private IPython dir (no user profile,
    no shared history database) and no debugpy frozen-modules warning."""
    return {
        "IPYTHONDIR": str(tmp_path_factory.mktemp("ipython")),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


@pytest.fixture(scope="module")
def kernel_session(kernel_env: dict[str, str]) -> Iterator[KernelSession]:
    """One bootstrapped python3 kernel per test module (kernels are slow to start)."""
    session = KernelSession(env=kernel_env)
    try:
        session.start()
        yield session
    finally:
        session.shutdown()


@pytest.fixture
def nohelper_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Name of a kernelspec whose kernel cannot import memory_doctor.

    The spec lives in a temporary ``JUPYTER_PATH`` entry and launches
    ``tests/nohelper_kernel.py`` (also used by the Galata tests).
    """
    spec_dir = tmp_path / "jupyter" / "kernels" / NOHELPER_KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, str(TESTS / "nohelper_kernel.py"), "-f", "{connection_file}"],
        "display_name": "Python 3 (no Memory Doctor)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return NOHELPER_KERNEL
