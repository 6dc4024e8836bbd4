"""The magics as VS Code, Colab and nbconvert see them: ``examples/magics.ipynb``
(plus cells planting HTML-like user strings) executed headlessly by nbclient,
every output checked, then exported to HTML by nbconvert and opened in
Chromium, where nothing in our outputs may run.

The browser check needs ``/usr/bin/chromium`` and ``ui-tests/node_modules``
(``make setup``); without them that part is skipped, never faked. Set
``MD_SCREENSHOTS=dir`` to keep the export and its screenshots (the README's
come from here: ``scripts/screenshots.sh``).

With ``MEMORY_DOCTOR_WRITE_FIXTURES=1`` one output of each view is written to
``tests/fixtures/mime/`` for the renderer's jest tests
(``src/__tests__/mime.spec.ts``); without it the recorded ones must still
validate, so they cannot drift from ``mime.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from memory_doctor.kernel.rich import MIME_TYPE
from tests.mime_helpers import check_bundle, parse_html, validate

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "mime"
EXAMPLE = ROOT / "examples" / "magics.ipynb"
CHECK_EXPORT = ROOT / "ui-tests" / "scripts" / "check-export.js"
HOSTILE = "<img src=x onerror=alert(1)>"
#: Another planted string: if it ever ran, the page title would change.
MARKER = "<img src=x onerror=\"document.title='pwned'\">"

HOSTILE_CELLS = [
    f"hostile = {{{HOSTILE!r}: np.ones(1_000_000)}}",
    f"globals()[{HOSTILE!r}] = np.ones(2_000_000)\nglobals()[{MARKER!r}] = np.ones(1_500_000)",
    '%memory holders -n 50 --filter "<img"',
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory, kernel_env: dict[str, str]) -> Any:
    notebook = nbformat.read(EXAMPLE, as_version=4)
    for source in HOSTILE_CELLS:
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    work = tmp_path_factory.mktemp("nbclient")
    saved = {key: os.environ.get(key) for key in kernel_env}
    os.environ.update(kernel_env)
    try:
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(work)}},
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def ours(cell: Any) -> list[dict[str, Any]]:
    return [o["data"] for o in cell.get("outputs", []) if MIME_TYPE in o.get("data", {})]


def test_every_magic_cell_shows_one_valid_inert_bundle(executed: Any) -> None:
    views = []
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        kinds = [o["output_type"] for o in cell.outputs]
        assert "error" not in kinds, (cell.source, cell.outputs)
        assert "execute_result" not in kinds, cell.source  # never an Out[n]
        if cell.source.startswith(("%memory", "%%memory")) or "%memory resources" in cell.source:
            bundles = ours(cell)
            assert len(bundles) == 1, cell.source
            views.append(check_bundle(bundles[0])["view"])
        elif cell.source.startswith("%load_ext"):
            assert cell.outputs == []  # nothing printed on load
    assert set(views) >= {"summary", "holders", "cell", "cells", "fix", "resources", "notice"}


def test_badges_follow_cells_only_while_on(executed: Any) -> None:
    sources = [c.source for c in executed.cells]
    on = sources.index("%memory badges on")
    off = sources.index("%memory badges off")
    badge_cell = executed.cells[on + 1]
    (badge,) = ours(badge_cell)
    assert check_bundle(badge)["view"] == "badge"
    assert badge["text/plain"].startswith("+")
    assert " \u00b7 peak +" in badge["text/plain"]
    for cell in executed.cells[off + 1 :]:
        assert all(check_bundle(b)["view"] != "badge" for b in ours(cell))


def test_fix_preview_then_apply(executed: Any) -> None:
    sources = [c.source for c in executed.cells]
    preview = check_bundle(ours(executed.cells[sources.index("%memory fix s1")])[0])
    applied = check_bundle(ours(executed.cells[sources.index("%memory fix s1 --yes")])[0])
    assert preview["applied"] is False
    assert preview["result"] is None
    assert applied["applied"] is True
    assert applied["result"]["suggestion_id"] == "s1"


def test_user_strings_stay_text_in_the_html(executed: Any) -> None:
    (bundle,) = ours(executed.cells[-1])
    data = check_bundle(bundle)
    paths = [h["path"] for h in data["scan"]["holders"]]
    assert any(HOSTILE in p for p in paths), paths
    text = "".join(parse_html(bundle["text/html"]).text)
    assert HOSTILE in text
    assert MARKER in text
    assert HOSTILE in bundle["text/plain"]


def test_nbconvert_export_is_inert_in_chromium(executed: Any, tmp_path: Path) -> None:
    out_dir = Path(os.environ.get("MD_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    body, _ = HTMLExporter().from_notebook_node(executed)
    export = out_dir / "magics-export.html"
    export.write_text(body, encoding="utf-8")
    assert "<img src=x" not in body  # nbconvert kept our escaping
    chromium = os.environ.get("MD_CHROMIUM", "/usr/bin/chromium")
    node = shutil.which("node")
    if not (
        Path(chromium).exists()
        and node
        and (ROOT / "ui-tests" / "node_modules" / "playwright-core").exists()
    ):
        pytest.skip("needs /usr/bin/chromium, node and ui-tests/node_modules (make setup)")
    done = subprocess.run(
        [node, str(CHECK_EXPORT), str(export), str(out_dir), "summary", "holders", "cell"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT / "ui-tests",
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["dialogs"] == []
    assert report["active"] == 0
    assert report["outputs"] >= 8
    assert any(HOSTILE in text and MARKER in text for text in report["texts"])
    assert all(Path(shot).stat().st_size > 1000 for shot in report["shots"])
    assert len(report["shots"]) == 3


def _fixtures(executed: Any) -> dict[str, dict[str, Any]]:
    """One output per view, named by what it shows."""
    found: dict[str, dict[str, Any]] = {}
    for cell in executed.cells:
        for bundle in ours(cell):
            data = bundle[MIME_TYPE]
            name = data["view"]
            if name == "fix":
                name = "fix_applied" if data["applied"] else "fix_preview"
            if name == "holders" and "<img" in (data.get("filter") or ""):
                name = "holders_hostile"
            found.setdefault(name, data)
    return found


def test_recorded_fixtures_are_valid_outputs(executed: Any) -> None:
    found = _fixtures(executed)
    assert set(found) == {
        "summary",
        "holders",
        "holders_hostile",
        "cell",
        "cells",
        "fix_preview",
        "fix_applied",
        "resources",
        "notice",
        "badge",
    }
    if os.environ.get("MEMORY_DOCTOR_WRITE_FIXTURES") == "1":
        FIXTURES.mkdir(parents=True, exist_ok=True)
        for name, data in found.items():
            text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            (FIXTURES / f"{name}.json").write_text(text, encoding="utf-8")
    recorded = sorted(FIXTURES.glob("*.json"))
    assert {path.stem for path in recorded} == set(found)
    for path in recorded:
        try:
            validate(json.loads(path.read_text(encoding="utf-8")))
        except Exception as exc:  # a protocol change: the recorded outputs are stale
            raise AssertionError(
                f"{path.name} no longer validates ({exc.__class__.__name__}); re-record the "
                "outputs: MEMORY_DOCTOR_WRITE_FIXTURES=1 pytest tests/test_magics_nbclient.py"
            ) from exc
