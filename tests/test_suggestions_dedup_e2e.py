"""End to end: one suggestion per distinct effect, and one resource row per pool.

Each test runs a real kernel with history (the output cache fills as in a
notebook): emptying the output cache is not offered beside deleting its one
cached entry when both free the same bytes (compared with numpy's
``nbytes``); five pyplot figures make one "close" suggestion, not six; the
threads of a ``ThreadPoolExecutor`` or a ``multiprocessing.pool.ThreadPool``
are one ``pool`` row, not one row per thread; the reasons write counts in
words that agree with them and byte figures the one formatter's way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fix_helpers import applied, only, suggestions, value, within
from kernel_helpers import run, scan

from memory_doctor.format import format_bytes
from memory_doctor.headless.driver import KernelSession
from memory_doctor.kernel import words

pytestmark = pytest.mark.kernel


@pytest.fixture
def session(kernel_env: dict[str, str]) -> Iterator[KernelSession]:
    with KernelSession(env=kernel_env) as s:
        s.start()
        run(s, "import numpy as np, threading")
        yield s


def _figures_in(text: str) -> list[str]:
    return re.findall(r"\d+(?:\.\d+)? [kMGTP]?B\b", text)


def test_one_cached_output_is_deleted_not_the_whole_cache(session: KernelSession) -> None:
    run(session, "np.ones(13_125_000)")  # displayed: Out[n], _n and _ hold 105 MB
    n = int(value(session, "max(Out)"))
    nbytes = int(value(session, f"Out[{n}].nbytes"))
    result = scan(session)
    sug = only(result, "delete_holder", targets=[f"Out[{n}]", f"_{n}", "_"])
    assert within(sug["estimated_freed_bytes"], nbytes, 0.99, 1.01), sug
    # Emptying the whole cache would free exactly these bytes: the targeted one only.
    assert suggestions(result, "reset_output_cache") == [], result["suggestions"]
    fixed = applied(session, sug)
    assert within(fixed["freed_in_process_bytes"], nbytes)


def test_several_cached_outputs_get_the_reset_with_a_plural_count(
    session: KernelSession,
) -> None:
    run(session, "np.ones(6_000_000)")
    run(session, "np.ones(7_000_000)")
    run(session, "np.ones(8_000_000)")  # three entries, 48 + 56 + 64 MB
    truth = sum(int(value(session, f"Out[{k}].nbytes")) for k in (2, 3, 4))
    result = scan(session)
    sug = only(result, "reset_output_cache")
    assert within(sug["estimated_freed_bytes"], truth, 0.99, 1.01), (sug, truth)
    assert "(3 entries)" in sug["reason"], sug["reason"]
    assert format_bytes(sug["estimated_freed_bytes"]) in sug["reason"]


def test_five_figures_make_one_close_suggestion(session: KernelSession) -> None:
    run(
        session,
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "for i in range(5):\n    plt.figure().add_subplot().plot(np.arange(10))",
    )
    result = scan(session)
    figures = [r for r in result["resources"] if r["kind"] == "figure"]
    assert len(figures) == 5, result["resources"]
    sug = only(result, "close_figures")
    assert sorted(sug["targets"]) == sorted(r["id"] for r in figures)
    assert words.suggestion_title(sug, result["resources"]) == "Close 5 figures"
    applied(session, sug)
    assert value(session, "plt.get_fignums()") == "[]"


def test_one_figure_is_closed_by_its_name(session: KernelSession) -> None:
    run(
        session,
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "fig = plt.figure()",
    )
    result = scan(session)
    sug = only(result, "close_figures")
    assert words.suggestion_title(sug, result["resources"]) == "Close Figure 1"


def test_an_executors_threads_are_one_pool_row(session: KernelSession) -> None:
    run(
        session,
        "from concurrent.futures import ThreadPoolExecutor\n"
        "ex = ThreadPoolExecutor(max_workers=6)\n"
        "gate = threading.Event()\n"
        "futures = [ex.submit(gate.wait, 10) for _ in range(6)]\n"
        "gate.set()\n"
        "done = [f.result() for f in futures]",
    )
    assert value(session, "len(ex._threads)") == "6"
    result = scan(session)
    assert [r for r in result["resources"] if r["kind"] == "thread"] == [], result["resources"]
    pools = [r for r in result["resources"] if r["kind"] == "pool"]
    assert [(p["label"], p["detail"]) for p in pools] == [
        ("ex", "ThreadPoolExecutor with 6 threads")
    ]
    sug = only(result, "close_pool", resource_id=pools[0]["id"])
    assert sug["code"] == "ex.shutdown(wait=False, cancel_futures=True)"
    applied(session, sug)
    assert value(session, "ex._shutdown") == "True"


def test_a_thread_pools_threads_are_one_pool_row(session: KernelSession) -> None:
    run(
        session,
        "from multiprocessing.pool import ThreadPool\n"
        "tp = ThreadPool(4)\nsquares = tp.map(abs, range(100))",
    )
    result = scan(session)
    assert [r for r in result["resources"] if r["kind"] == "thread"] == []
    assert [r["detail"] for r in result["resources"] if r["kind"] == "pool"] == [
        "ThreadPool with 4 threads"
    ]


def test_reasons_write_figures_the_formatters_way(session: KernelSession) -> None:
    run(session, "a = np.ones(13_107_200)\nb = a[:10]\ndel a")  # b keeps 104.9 MB alive
    result = scan(session)
    for sug in result["suggestions"]:
        for figure in _figures_in(sug["reason"]):
            number = figure.split()[0]
            # The formatter writes one decimal below 10 only: never "104.9 MB".
            assert "." not in number or float(number) < 10, (figure, sug["reason"])
    copy = only(result, "copy_view", targets=["b"])
    assert format_bytes(int(value(session, "b.base.nbytes"))) in copy["reason"]


def test_a_process_pool_executor_is_one_pool_row(session: KernelSession) -> None:
    run(
        session,
        "from concurrent.futures import ProcessPoolExecutor\n"
        "import multiprocessing\n"
        "pex = ProcessPoolExecutor(max_workers=2, "
        "mp_context=multiprocessing.get_context('spawn'))\n"
        "sums = list(pex.map(abs, range(-4, 4)))",
    )
    workers = int(value(session, "len(pex._processes)"))
    result = scan(session)
    assert [r for r in result["resources"] if r["kind"] == "thread"] == [], result["resources"]
    pools = [r for r in result["resources"] if r["kind"] == "pool"]
    assert [(p["label"], p["detail"]) for p in pools] == [
        ("pex", f"ProcessPoolExecutor with {workers} worker processes")
    ]
    applied(session, only(result, "close_pool", resource_id=pools[0]["id"]))
    assert value(session, "pex._shutdown_thread") == "True"
