"""Whole-heap truth: memory a library, the kernel or C code also holds is never
offered as freeable by deleting the user's names, and says who else holds it.

Each namespace is built inside a helper, so that no test-frame local holds any
of it (a live frame's locals are references the walk cannot see: they would,
rightly, show as "outside Python").
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import signal
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from heap_helpers import held_by, holder, scan_ns

MB = 1_000_000


def _plain() -> dict[str, Any]:
    return {"plain": np.ones(MB), "nested": {"a": [np.ones(MB // 2)]}}


def test_plain_variables_are_freeable(eng: str) -> None:
    result = scan_ns(_plain(), eng)
    for name in ("plain", "nested"):
        h = holder(result, name)
        assert h["freeable"] is True and h["also_held_by"] == []
    assert holder(result, "plain")["retained_bytes"] >= 8 * MB


def _registered() -> dict[str, Any]:
    arr = np.ones(MB)
    atexit.register(np.sum, arr)  # the atexit table is C state: invisible to tp_traverse
    return {"registered": arr}


@pytest.fixture
def registered() -> Iterator[dict[str, Any]]:
    ns = _registered()
    yield ns
    atexit.unregister(np.sum)


def test_atexit_registration_is_held_from_outside_python(
    eng: str, registered: dict[str, Any]
) -> None:
    result = scan_ns(registered, eng)
    h = max(
        (x for x in result["holders"] if "registered" in x["labels"]),
        key=lambda x: x["retained_bytes"],
    )
    assert h["retained_bytes"] >= 8 * MB
    assert h["freeable"] is False
    assert {"kind": "external", "name": "outside Python", "path": None} in h["also_held_by"]
    assert any(o["type"] == "numpy.ndarray" and o["bytes"] >= 8 * MB for o in result["outside"])


def _logger() -> dict[str, Any]:
    log = logging.getLogger("memory_doctor_test.buffering")
    log.propagate = False
    handler = logging.handlers.MemoryHandler(capacity=10**6, flushLevel=logging.CRITICAL + 1)
    log.addHandler(handler)
    for i in range(200):
        log.warning("%s", "payload-" * 500 + str(i))
    return {"log": log}


@pytest.fixture
def logger() -> Iterator[dict[str, Any]]:
    ns = _logger()
    yield ns
    log = ns["log"]
    for h in list(log.handlers):
        log.removeHandler(h)


def test_logger_buffer_is_held_by_logging(eng: str, logger: dict[str, Any]) -> None:
    result = scan_ns(logger, eng)
    # Deleting `log` frees nothing: logging's manager holds every logger.
    h = max(
        (x for x in result["holders"] if "log" in x["labels"]), key=lambda x: x["retained_bytes"]
    )
    assert h["freeable"] is False
    assert "logging" in held_by(h)
    freeable = sum(
        x["retained_bytes"] for x in result["holders"] if x["labels"] == ["log"] and x["freeable"]
    )
    assert freeable < 10_000  # the buffered records (~800 kB) are not among them
    held = sum(x["retained_bytes"] for x in result["holders"] if "log" in x["labels"])
    assert held >= 200 * 4000


class Resource:
    pass


def _finalized() -> dict[str, Any]:
    res = Resource()
    data = np.ones(MB)
    weakref.finalize(res, np.sum, data)  # weakref.finalize._registry holds data
    return {"res": res, "data": data}


def test_library_registry_holds_user_data(eng: str) -> None:
    ns = _finalized()
    result = scan_ns(ns, eng)
    h = max(
        (x for x in result["holders"] if "data" in x["labels"]), key=lambda x: x["retained_bytes"]
    )
    assert h["retained_bytes"] >= 8 * MB
    assert h["freeable"] is False
    assert "weakref" in held_by(h)
    ns["res"] = None  # let the finalizer run and drop its reference


def _signal_handler(data: Any) -> Any:
    def handler(signum: int, frame: Any) -> None:
        del signum, frame
        data.sum()

    return handler


@pytest.fixture
def with_handler() -> Iterator[dict[str, Any]]:
    data = np.ones(MB)
    old = signal.signal(signal.SIGUSR1, _signal_handler(data))
    ns = {"data": data}
    del data
    yield ns
    signal.signal(signal.SIGUSR1, old)


def test_signal_handler_closure_is_held_from_outside(
    eng: str, with_handler: dict[str, Any]
) -> None:
    result = scan_ns(with_handler, eng)
    h = max(
        (x for x in result["holders"] if "data" in x["labels"]), key=lambda x: x["retained_bytes"]
    )
    assert h["freeable"] is False
    assert "outside Python" in held_by(h)


def _shell_cells(shell: Any, *cells: str) -> None:
    for cell in cells:
        shell.run_cell(cell, store_history=True)


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from IPython.core.interactiveshell import InteractiveShell  # noqa: PLC0415
    from traitlets.config import Config  # noqa: PLC0415

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.ipython_dir = str(tmp_path_factory.mktemp("ipython"))
    return InteractiveShell.instance(config=config)


def test_ipython_namespace_is_not_kernel_held(eng: str, shell: Any) -> None:
    # The kernel reaches user_ns, Out, In and the hidden namespace; walking
    # them from its side would make every variable kernel-held. They are stops.
    _shell_cells(
        shell, "import numpy as np\nbig = np.ones(1_000_000)\nquiet = np.ones(500_000)", "big"
    )
    result = scan_ns(shell.user_ns, eng, hidden=shell.user_ns_hidden)
    quiet = holder(result, "quiet")
    assert quiet["freeable"] is True and quiet["retained_bytes"] >= 4 * MB
    # Right after display, IPython's DisplayHook keeps the value in its own `_`
    # attribute and in the last execution result: those are the output cache
    # (clearing it frees them), not the kernel: one holder, labelled `_`.
    big = max(
        (x for x in result["holders"] if "big" in x["labels"]), key=lambda x: x["retained_bytes"]
    )
    assert big["retained_bytes"] >= 8 * MB
    assert any(label.startswith("Out[") for label in big["labels"])
    assert "_" in big["labels"] and big["labels"].count("_") == 1
    assert big["freeable"] is True, big["also_held_by"]
    for h in result["holders"]:  # the kernel's own objects are never holders
        assert not any(label.startswith(("IPython", "get_ipython", "In[")) for label in h["labels"])


def test_ipython_output_is_freeable_once_displayhook_moved_on(eng: str, shell: Any) -> None:
    _shell_cells(shell, "shown = np.ones(1_000_000)", "shown", "1", "2", "3")
    result = scan_ns(shell.user_ns, eng, hidden=shell.user_ns_hidden)
    shown = max(
        (x for x in result["holders"] if "shown" in x["labels"]), key=lambda x: x["retained_bytes"]
    )
    assert shown["retained_bytes"] >= 8 * MB
    assert "shown" in shown["labels"] and any(label.startswith("Out[") for label in shown["labels"])
    assert shown["freeable"] is True, shown["also_held_by"]
    kernel = [e for e in result["held_elsewhere"] if "kernel" in e["held_by"]]
    assert kernel and sum(e["bytes"] for e in kernel) > 0
