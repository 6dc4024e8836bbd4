"""End to end: ``scan`` and ``cancel`` in a real ipykernel with the real engine.

One scenario per holder kind. numpy's ``nbytes`` is the truth for sizes
(within 10 %), and each ``path`` is checked by evaluating it in the kernel:
it must reach the very object that holds the bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kernel_helpers import BUDGET_S, run, scan

from memory_doctor.headless.driver import KernelSession
from memory_doctor.protocol import HOLDER_KINDS, SCAN_PHASES

pytestmark = pytest.mark.kernel

#: Elements of the test arrays: 4M float64 = 32 MB, far above anything else in the kernel.
N = 4_000_000
NBYTES = N * 8
#: Generous: the reply must come, the budget is not what is tested here.


@pytest.fixture(scope="module")
def session(kernel_session: KernelSession) -> KernelSession:
    setup = (
        f"import numpy as np, pandas as pd, functools, gc, sys, weakref\nN = {N}\n"
        "def fresh():\n    return np.ones(N)"
    )
    result = kernel_session.run_cell(setup, "setup")
    assert result.status == "ok", result.error
    return kernel_session


def cell_id() -> str:
    return str(uuid.uuid4())


def holders_with(result: dict[str, Any], label: str) -> list[dict[str, Any]]:
    """Holders one of whose root labels is ``label`` or starts from it (``f`` → ``f.x``)."""
    found = []
    for holder in result["holders"]:
        for text in holder["labels"]:
            if text == label or text.startswith((f"{label}.", f"{label}[")):
                found.append(holder)
                break
    return found


def biggest_with(result: dict[str, Any], label: str) -> dict[str, Any]:
    found = holders_with(result, label)
    assert found, (label, [h["labels"] for h in result["holders"][:20]])
    return max(found, key=lambda h: h["retained_bytes"])


def path_is(session: KernelSession, path: str, expected: str) -> bool:
    """Whether ``path``, pasted into the kernel, reaches the same object as ``expected``."""
    answer = session.evaluate({"same": f"({path}) is ({expected})"})["same"]
    assert answer in ("True", "False"), (path, answer)
    return answer == "True"


def assert_holder_shape(holder: dict[str, Any]) -> None:
    assert holder["kind"] in HOLDER_KINDS
    assert holder["labels"] == [r["label"] for r in holder["roots"]]
    assert holder["kind"] == holder["roots"][0]["kind"]
    assert holder["shared"] is (len(holder["labels"]) > 1)
    assert isinstance(holder["retained_bytes"], int) and holder["objects"] >= 1


# --------------------------------------------------------------------------- holder kinds


def test_output_cache_keeps_a_deleted_variable_alive(session):
    run(session, "oc_big = fresh()")
    cid = cell_id()
    shown = run(session, "oc_big", cid)
    n = shown.execution_count
    run(session, "del oc_big")
    result = scan(session)
    holder = biggest_with(result, f"Out[{n}]")
    assert_holder_shape(holder)
    assert f"_{n}" in holder["labels"] and "oc_big" not in holder["labels"]
    assert holder["kind"] == "output_cache" and holder["shared"] is True
    assert holder["retained_bytes"] == pytest.approx(NBYTES, rel=0.10)
    assert holder["type"] == "numpy.ndarray"
    assert path_is(session, holder["path"], f"Out[{n}]")
    # Provenance of an output: the cell that produced it.
    assert (holder["cell_id"], holder["execution_count"]) == (cid, n)


def test_closure(session):
    code = (
        "def cl_make():\n"
        "    data = fresh()\n"
        "    def cl_f():\n"
        "        return data\n"
        "    return cl_f\n"
        "cl_f = cl_make()"
    )
    cid = cell_id()
    run(session, code, cid)
    holder = biggest_with(scan(session), "cl_f")
    assert_holder_shape(holder)
    assert holder["retained_bytes"] == pytest.approx(NBYTES, rel=0.10)
    assert holder["path"] == "cl_f.__closure__[0].cell_contents"
    assert path_is(session, holder["path"], "cl_f.__closure__[0].cell_contents")
    assert holder["cell_id"] == cid


def test_view_retains_its_base(session):
    run(session, "vb_base = fresh()\nvb_view = vb_base[:10]\ndel vb_base")
    holder = biggest_with(scan(session), "vb_view")
    assert_holder_shape(holder)
    assert holder["labels"] == ["vb_view"]
    # A 10-element view of a 32 MB array retains the 32 MB.
    assert holder["retained_bytes"] == pytest.approx(NBYTES, rel=0.10)
    assert path_is(session, holder["path"], "vb_view.base")


def test_lru_cache(session):
    code = (
        "@functools.lru_cache(maxsize=None)\n"
        "def lc_load(n):\n"
        "    return np.ones(n)\n"
        "lc_tmp = lc_load(N)\n"
        "del lc_tmp"
    )
    run(session, code)
    holder = biggest_with(scan(session), "lc_load")
    assert_holder_shape(holder)
    assert holder["retained_bytes"] == pytest.approx(NBYTES, rel=0.10)
    assert holder["path"].startswith("lc_load")


def test_class_attribute(session):
    run(session, "class CaRegistry:\n    items = []\n\nCaRegistry.items.append(fresh())")
    holder = biggest_with(scan(session), "CaRegistry")
    assert_holder_shape(holder)
    assert holder["retained_bytes"] == pytest.approx(NBYTES, rel=0.10)
    assert path_is(session, holder["path"], "CaRegistry.items[0]")


def test_traceback_keeps_frame_locals_alive(session):
    code = "def tb_fail():\n    scratch = fresh()\n    raise ValueError('tb')\n\ntb_fail()"
    cid = cell_id()
    failed = session.run_cell(code, cid)
    assert failed.status == "error" and failed.error["ename"] == "ValueError"
    run(session, "tb_later = 1")
    result = scan(session)
    tracebacks = [h for h in result["holders"] if h["kind"] == "traceback"]
    assert tracebacks, [h["labels"] for h in result["holders"][:20]]
    holder = max(tracebacks, key=lambda h: h["retained_bytes"])
    assert_holder_shape(holder)
    assert holder["retained_bytes"] == pytest.approx(NBYTES, rel=0.10)
    assert holder["path"].startswith("sys.last_")
    assert "['scratch']" in holder["path"]
    evaluated = session.evaluate({"n": f"({holder['path']}).nbytes"})["n"]
    assert evaluated == str(NBYTES)
    # Provenance of sys.last_*: the cell that raised.
    assert (holder["cell_id"], holder["execution_count"]) == (cid, failed.execution_count)


def test_shared_buffer_is_counted_once(session):
    run(session, "sh_a = fresh()\nsh_b = sh_a.view()\nsh_c = sh_a[::2]")
    result = scan(session)
    mine = [h for h in result["holders"] if {"sh_a", "sh_b", "sh_c"} & set(h["labels"])]
    joint = max(mine, key=lambda h: h["retained_bytes"])
    assert_holder_shape(joint)
    assert {"sh_a", "sh_b", "sh_c"} <= set(joint["labels"])
    assert joint["shared"] is True
    assert joint["retained_bytes"] == pytest.approx(NBYTES, rel=0.10)
    # Counted once: all the holders naming these variables add up to one buffer.
    assert sum(h["retained_bytes"] for h in mine) <= NBYTES * 1.10


def test_pandas_with_object_columns(session):
    code = (
        "pd_df = pd.DataFrame({'s': [f'str{i}' for i in range(200_000)],\n"
        "                      'o': [('t', i) for i in range(200_000)],\n"
        "                      'x': np.arange(200_000, dtype=float)})"
    )
    run(session, code)
    truth = int(session.evaluate({"t": "int(pd_df.memory_usage(deep=True).sum())"})["t"])
    # memory_usage(deep=True) counts each tuple shallowly: add the ints inside them.
    tuple_ints = int(session.evaluate({"t": "sum(sys.getsizeof(t[1]) for t in pd_df['o'])"})["t"])
    holder = biggest_with(scan(session), "pd_df")
    assert_holder_shape(holder)
    assert holder["labels"] == ["pd_df"]
    assert holder["retained_bytes"] == pytest.approx(truth + tuple_ints, rel=0.10)
    # `type` is the root's own type; `path` is pasteable Python that reaches the
    # largest object the frame holds (a column's numpy array, or its Arrow data
    # when pandas stores strings in pyarrow).
    assert holder["type"] == "pandas.DataFrame"
    assert holder["path"].startswith("pd_df")
    kind = session.evaluate({"t": f"type({holder['path']}).__module__"})["t"]
    assert kind.strip("'").split(".")[0] in {"numpy", "pyarrow", "pandas", "builtins"}


def test_provenance_names_the_cell_that_bound_the_variable(session):
    first, second = cell_id(), cell_id()
    bound = run(session, "pv_arr = fresh()", first)
    run(session, "pv_other = 1")
    holder = biggest_with(scan(session), "pv_arr")
    assert (holder["cell_id"], holder["execution_count"]) == (first, bound.execution_count)
    rebound = run(session, "pv_arr = fresh()", second)
    holder = biggest_with(scan(session), "pv_arr")
    assert (holder["cell_id"], holder["execution_count"]) == (second, rebound.execution_count)


def test_reply_accounts_for_rss(session):
    result = scan(session)
    assert result["rss"] > result["attributed_bytes"] > 0
    assert result["unattributed_bytes"] == max(result["rss"] - result["attributed_bytes"], 0)
    assert result["scan"]["objects_visited"] > 0 and result["scan"]["stopped"] is None
    retained = [h["retained_bytes"] for h in result["holders"]]
    assert retained == sorted(retained, reverse=True)
    assert len({h["id"] for h in result["holders"]}) == len(result["holders"])


def test_max_holders_keeps_the_largest(session):
    full = scan(session)
    top = scan(session, max_holders=2)
    assert len(full["holders"]) > 2 and len(top["holders"]) == 2
    assert [h["retained_bytes"] for h in top["holders"]] == [
        h["retained_bytes"] for h in full["holders"][:2]
    ]


# --------------------------------------------------------------------------- no references


def test_weakref_to_a_scanned_object_dies_after_del(session):
    code = (
        "class WrBlob:\n    pass\n\n"
        "wr_obj = WrBlob()\nwr_obj.data = np.ones(1000)\nwr_ref = weakref.ref(wr_obj)"
    )
    run(session, code)
    result = scan(session)
    assert holders_with(result, "wr_obj")  # it was scanned
    run(session, "del wr_obj")  # no gc.collect(): del alone must free it
    assert session.evaluate({"dead": "wr_ref() is None"})["dead"] == "True"


# --------------------------------------------------------------------------- long scans


@pytest.fixture
def many(session: KernelSession) -> Iterator[None]:
    """~2M small objects in the namespace, so a scan takes many slices."""
    run(session, "cn_many = [[i * 1000] for i in range(1_000_000)]")
    try:
        yield
    finally:
        run(session, "del cn_many")


def test_cancel_stops_a_long_scan(session, many):
    request_id = session.send_request("scan", budget_s=BUDGET_S)
    cancel = session.request("cancel", target=request_id)
    assert cancel["ok"] is True and cancel["result"] == {"cancelled": True}
    reply = session.wait_reply(request_id, timeout=BUDGET_S)
    assert reply["ok"] is True
    info = reply["result"]["scan"]
    assert info["stopped"] == "cancelled" and info["complete"] is False
    again = session.request("cancel", target=request_id)
    assert again["result"] == {"cancelled": False}
    assert run(session, "cn_after = 1").record is not None


def test_tiny_budget_gives_a_partial_result(session, many):
    result = session.scan(budget_s=0.001)
    assert result["scan"]["complete"] is False
    assert result["scan"]["stopped"] == "budget"


def test_progress_is_reported(session, many):
    progress: list[dict[str, Any]] = []
    result = session.scan(budget_s=BUDGET_S, progress=progress.append)
    assert result["scan"]["complete"] is True
    assert progress, "a multi-second scan sends scan_progress"
    assert all(p["type"] == "scan_progress" and p["phase"] in SCAN_PHASES for p in progress)
    assert result["scan"]["objects_visited"] > 2_000_000


def test_a_cell_right_after_scan_runs_normally(session, many):
    request_id = session.send_request("scan", budget_s=BUDGET_S)
    cid = cell_id()
    cell = session.run_cell("after_scan = 41 + 1", cid)
    assert cell.status == "ok" and cell.record is not None
    assert cell.record["cell_id"] == cid
    reply = session.wait_reply(request_id, timeout=BUDGET_S)
    assert reply["ok"] is True
    assert reply["result"]["scan"]["stopped"] in (None, "cell_ran")
    assert session.evaluate({"v": "after_scan"})["v"] == "42"


def test_second_scan_while_one_runs_is_refused(session, many):
    first = session.send_request("scan", budget_s=BUDGET_S)
    refused = session.request("scan", budget_s=BUDGET_S)
    assert refused["ok"] is False and refused["error"]["code"] == "bad_request"
    assert first in refused["error"]["message"]
    session.request("cancel", target=first)
    assert session.wait_reply(first, timeout=BUDGET_S)["ok"] is True


# --------------------------------------------------------------------------- bad requests


BAD_SCANS: list[dict[str, Any]] = [
    {"budget_s": 0},
    {"budget_s": -5},
    {"budget_s": 601},
    {"budget_s": "5"},
    {"budget_s": None},
    {"max_holders": 0},
    {"max_holders": 10_001},
    {"max_holders": 2.5},
    {"max_holders": [1]},
    {"budget_s": 10**400},  # json carries it as a huge integer
    {"max_holders": 10**30},
]


@pytest.mark.parametrize("params", BAD_SCANS, ids=[str(p)[:40] for p in BAD_SCANS])
def test_malformed_scan_params_are_bad_requests_and_the_kernel_keeps_working(session, params):
    reply = session.request("scan", **params)
    assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
    after = session.run_cell("bad_after = 1", cell_id())
    assert after.status == "ok" and after.record is not None
