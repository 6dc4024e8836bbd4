"""The tour notebook runs top to bottom, as *Run All* runs it.

nbclient, like JupyterLab's Run All, stops at the first error unless the cell
is tagged ``raises-exception``; the tour's deliberate ``ValueError`` (section
4) carries that tag, so the sections after it (giving memory back, the
output-cache trap) run too.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

pytestmark = pytest.mark.kernel

TOUR = Path(__file__).resolve().parent.parent / "examples" / "tour.ipynb"


def _execute(nb: nbformat.NotebookNode, kernel_env: dict[str, str], tmp_path: Path) -> None:
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        allow_errors=False,  # only a cell tagged raises-exception may fail
    )
    client.execute(env={**kernel_env})


def _tagged(cell: nbformat.NotebookNode) -> bool:
    return "raises-exception" in cell.metadata.get("tags", [])


def test_the_tour_runs_every_section(kernel_env: dict[str, str], tmp_path: Path) -> None:
    nb = nbformat.read(TOUR, as_version=4)
    _execute(nb, kernel_env, tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    errors = [
        (c.source, o["ename"]) for c in code for o in c.outputs if o["output_type"] == "error"
    ]
    assert errors == [(next(c.source for c in code if _tagged(c)), "ValueError")]
    # Every numbered section ran: the code cells after each heading have run.
    sections = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert [s[:5] for s in sections if s[3:4].isdigit()] == [f"## {n}." for n in range(1, 7)]
    shown = next(c for c in code if c.source.startswith("shown = "))
    assert shown.outputs[0]["data"]["text/plain"].startswith("array([1., 1., 1., ..., 1., 1., 1.]")
    assert code[-1].source == "del shown" and code[-1].execution_count == len(code)


def test_without_its_tag_run_all_would_stop_at_section_4(
    kernel_env: dict[str, str], tmp_path: Path
) -> None:
    nb = copy.deepcopy(nbformat.read(TOUR, as_version=4))
    for cell in nb.cells:
        if _tagged(cell):
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != "raises-exception"]
    with pytest.raises(CellExecutionError, match="measured anyway"):
        _execute(nb, kernel_env, tmp_path)
    assert next(c for c in nb.cells if c.source == "del shown").execution_count is None
