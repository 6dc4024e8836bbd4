"""``memory-doctor run`` on a notebook that uses a real Dask LocalCluster.

The notebook connects with ``Client()``, which reads the scheduler address from
``DASK_SCHEDULER_ADDRESS`` (the kernel inherits the test's environment). The
report gets each cell's ``cluster_delta_bytes``, the ``cluster`` section, and
with ``--fix`` the releases measured against the scheduler.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from cluster_helpers import MB, ClusterHost, close_to, dask_missing
from nbformat.v4 import new_code_cell, new_notebook

from memory_doctor.headless.cli import main

pytestmark = [dask_missing, pytest.mark.timeout(600)]

ARR = 2500 * 2000 * 8  # 40 MB
SHOWN = 1000 * 2000 * 8  # 16 MB
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHost]:
    with ClusterHost(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


def notebook(path: Path, sources: list[str]) -> Path:
    cells = []
    for i, source in enumerate(sources):
        cell = new_code_cell(source)
        cell["id"] = f"c{i}"
        cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))
    return path


def test_report_and_fix_release_the_cluster_holders(
    host: ClusterHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", host.address)
    nb = notebook(
        tmp_path / "nb.ipynb",
        [
            "import dask.array as da\nfrom distributed import Client, wait\nclient = Client()",
            "arr = da.random.random((2500, 2000), chunks=(500, 2000)).persist()\nwait(arr);",
            "shown = da.random.random((1000, 2000), chunks=(500, 2000)).persist()\n"
            "wait(shown)\nshown",
            f"odd = {{{XSS!r}: 1}}",
        ],
    )
    json_path, html_path = tmp_path / "r.json", tmp_path / "r.html"
    rc = main(["run", str(nb), "--json", str(json_path), "--html", str(html_path), "--fix", "-q"])
    assert rc == 0
    report = json.loads(json_path.read_text(encoding="utf-8"))

    deltas = [c["cluster_delta_bytes"] for c in report["cells"]]
    assert deltas[0] is None  # the cell that connected: no client before it
    assert close_to(deltas[1], ARR) and close_to(deltas[2], SHOWN), deltas
    assert deltas[3] == 0

    cluster = report["cluster"]
    assert cluster["scheduler"] == host.address and cluster["status"] == "ok"
    assert [w["memory_limit"] for w in cluster["workers"]] == [400 * MB, 400 * MB]
    assert all(w["headroom"] == w["memory_limit"] - w["memory"] for w in cluster["workers"])
    arr = next(h for h in cluster["holders"] if h["labels"] == ["arr"])
    assert close_to(arr["bytes"], ARR) and arr["keys"] == 5
    shown = next(h for h in cluster["holders"] if "shown" in h["labels"])
    assert "Out[3]" in shown["labels"] and close_to(shown["bytes"], SHOWN)

    (fix,) = report["cluster_fix"]
    assert fix["ok"] and fix["status"] == "ok", fix
    assert set(fix["deleted"]) >= {"arr", "shown", "Out[3]"}
    assert close_to(fix["freed_bytes"], ARR + SHOWN), fix
    assert fix["text"].startswith("Freed ") and "(estimated " in fix["text"]
    assert [h for h in report["cluster_after_fix"]["holders"] if h["labels"]] == []

    html = html_path.read_text(encoding="utf-8")
    assert "On the Dask cluster" in html and host.address in html
    assert XSS not in html
