"""End to end: suggestions that do what they say, and resources that are the user's.

Each test runs a real kernel: the memory under a function is credited to the
name a user deletes, an lru_cache is cleared by its function's name, a logging
handler's buffer is released by its own suggestion (measured against numpy's
``nbytes``), an object array gets no "copy the view", a user's own ``_`` is a
variable, generated code binds no new names, user subclasses of resource
types are listed, and threads a library started for itself are not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fix_helpers import applied, only, suggestions, value, within
from kernel_helpers import run, scan

from memory_doctor.headless.driver import KernelSession

pytestmark = pytest.mark.kernel

MB = 1_000_000


@pytest.fixture
def session(kernel_env: dict[str, str]) -> Iterator[KernelSession]:
    with KernelSession(env=kernel_env) as s:
        s.start()
        run(s, "import numpy as np, functools, logging, logging.handlers, gc")
        yield s


def test_a_closure_is_deleted_by_the_functions_name(session: KernelSession) -> None:
    run(
        session,
        "def make_scaler():\n    table = np.ones(20_000_000)\n"
        "    def scale(x):\n        return x * table\n    return scale\n"
        "scale = make_scaler()",
    )
    result = scan(session)
    holder = next(h for h in result["holders"] if h["labels"] == ["scale"])
    assert holder["path"] == "scale.__closure__[0].cell_contents"
    sug = only(result, "delete_holder", targets=["scale"])
    assert sug["reason"].startswith("scale retains 160 MB via its closure"), sug["reason"]
    assert sug["code"] == "del scale"
    fixed = applied(session, sug)
    assert within(fixed["freed_in_process_bytes"], 160 * MB)


def test_an_lru_cache_is_cleared_by_its_functions_name(session: KernelSession) -> None:
    run(
        session,
        "@functools.lru_cache(maxsize=None)\ndef load_chunk(i):\n    return np.ones(2_500_000)\n"
        "for i in range(5):\n    load_chunk(i)",
    )
    result = scan(session)
    sug = only(result, "cache_clear", targets=["load_chunk"])
    assert sug["code"] == "load_chunk.cache_clear()"
    assert within(sug["estimated_freed_bytes"], 100 * MB, 0.99, 1.05)
    fixed = applied(session, sug)
    assert within(fixed["freed_in_process_bytes"], sug["estimated_freed_bytes"])
    assert value(session, "load_chunk.cache_info().currsize") == "0"


def test_a_logging_buffer_is_released_by_its_own_suggestion(session: KernelSession) -> None:
    run(
        session,
        "buffered = logging.getLogger('md.buffered')\nbuffered.propagate = False\n"
        "buffered.addHandler(logging.handlers.MemoryHandler(capacity=10**6, "
        "flushLevel=logging.CRITICAL + 1))\n"
        "for i in range(10):\n    buffered.warning('chunk %s', np.full(1_000_000, i))",
    )
    result = scan(session)
    label = "logging.getLogger('md.buffered').handlers[0]"
    sug = only(result, "clear_log_buffer", targets=[label])
    assert sug["destructive"] is True
    assert sug["code"] == f"import logging; {label}.buffer.clear()"
    assert within(sug["estimated_freed_bytes"], 80 * MB, 0.99, 1.1), sug
    fixed = applied(session, sug)
    assert within(fixed["freed_in_process_bytes"], sug["estimated_freed_bytes"]), fixed
    assert within(fixed["returned_to_os_bytes"], sug["estimated_freed_bytes"]), fixed
    assert value(session, f"len({label}.buffer)") == "0"


def test_an_object_array_view_gets_no_copy_suggestion(session: KernelSession) -> None:
    # `axes = axes.ravel()`: a copy of an object array points at the same objects.
    run(
        session,
        "grid = np.empty((4, 10), dtype=object)\n"
        "for i in range(40):\n    grid.flat[i] = np.ones(1_000_000)\n"
        "axes = grid.ravel()\ndel grid",
    )
    assert value(session, "axes.base is not None") == "True"
    result = scan(session)
    assert suggestions(result, "copy_view") == []
    sug = only(result, "delete_holder", targets=["axes"])
    assert within(applied(session, sug)["freed_in_process_bytes"], 320 * MB)


def test_a_users_own_underscore_is_a_variable(session: KernelSession) -> None:
    run(session, "np.zeros(10)")  # IPython's `_` is this small array
    run(session, "_ = np.ones(10_000_000)")  # the idiom `_ = fig.suptitle(...)`
    result = scan(session)
    assert suggestions(result, "reset_output_cache") == []
    sug = only(result, "delete_holder", targets=["_"])
    assert sug["code"] == "del _"
    fixed = applied(session, sug)
    assert within(fixed["freed_in_process_bytes"], 80 * MB)
    assert value(session, "'_' in get_ipython().user_ns") == "False"


def test_generated_code_binds_no_new_names(session: KernelSession) -> None:
    run(session, "import subprocess\nproc = subprocess.Popen(['sleep', '600'])")
    sug = only(scan(session), "terminate_process")
    assert "proc = " not in sug["code"]
    assert sug["code"].splitlines()[1] == "proc.terminate()"
    applied(session, sug)
    assert value(session, "proc.returncode") == "-15"


def test_user_subclasses_of_resource_types_are_listed(
    session: KernelSession, tmp_path: Any
) -> None:
    run(
        session,
        "import io, sqlite3\n"
        "class Log(io.FileIO):\n    pass\n"
        "class Db(sqlite3.Connection):\n    def close(self):\n        super().close()\n"
        f"log = Log({str(tmp_path / 'a.log')!r}, 'w')\n"
        "db = sqlite3.connect(':memory:', factory=Db)",
    )
    result = scan(session)
    by_label = {r["label"]: r for r in result["resources"]}
    assert by_label["log"]["kind"] == "file" and by_label["db"]["kind"] == "db_connection"
    assert "defines its own close()" in by_label["db"]["note"]
    assert suggestions(result, "close_resource", resource_id=by_label["db"]["id"]) == []
    applied(session, only(result, "close_resource", resource_id=by_label["log"]["id"]))
    assert value(session, "log.closed") == "True"


def test_threads_a_library_started_for_itself_are_not_listed(session: KernelSession) -> None:
    run(
        session,
        "from joblib import Parallel, delayed\n"
        "squares = Parallel(n_jobs=2)(delayed(pow)(i, 2) for i in range(20))\n"
        "import threading\n"
        "names = sorted(type(t).__module__ for t in threading.enumerate())",
    )
    assert "loky" in value(session, "names")  # the executor's threads are running
    result = scan(session)
    threads = [r for r in result["resources"] if r["kind"] == "thread"]
    assert threads == [], threads
