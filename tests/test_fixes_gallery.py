"""scikit-learn gallery examples through ``memory-doctor run --fix``: suggestions on real code.

A handful of examples from scikit-learn's gallery, chosen for the idioms that
misled the suggestions before (``axes = axes.ravel()`` on an object array of
Axes, ``_ = plt.title(...)`` to silence an output, ``n_jobs=2`` starting
loky's executor threads), converted to notebooks with jupytext and run by the
CLI with ``--fix``. The examples come from the scikit-learn source
distribution of the installed version (downloaded once into pytest's cache),
or from ``MEMORY_DOCTOR_SKLEARN_EXAMPLES`` (a checkout's ``examples/``).

Select with ``-m gallery``; about a minute on a laptop.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from memory_doctor.headless.cli import main

pytestmark = [pytest.mark.kernel, pytest.mark.gallery]

EXAMPLES = (
    "gaussian_process/plot_gpr_noisy_targets.py",  # `_ = plt.title(...)`
    "model_selection/plot_likelihood_ratios.py",  # axs.ravel()
    "ensemble/plot_forest_importances.py",  # n_jobs=2
    "feature_selection/plot_rfe_with_cross_validation.py",  # n_jobs=2
    "semi_supervised/plot_semi_supervised_versus_svm_iris.py",  # axes = axes.ravel()
)
MB = 1_000_000
SIMPLE_INDEX = "https://pypi.org/simple/scikit-learn/"


def _download_examples(version: str, into: Path) -> None:
    """The gallery files of scikit-learn ``version``'s sdist, from PyPI's simple index."""
    request = urllib.request.Request(SIMPLE_INDEX, headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=60) as page:  # noqa: S310 - a fixed https URL
        html = page.read().decode("utf-8")
    found = re.search(rf'href="(https://[^"#]*scikit_learn-{re.escape(version)}\.tar\.gz)', html)
    if found is None:
        raise OSError(f"no sdist of scikit-learn {version} on {SIMPLE_INDEX}")
    with urllib.request.urlopen(found.group(1), timeout=300) as response:  # noqa: S310
        data = response.read()
    prefix = f"scikit_learn-{version}/examples/"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for name in EXAMPLES:
            member = archive.extractfile(prefix + name)
            assert member is not None, name
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(member.read())


@pytest.fixture(scope="module")
def examples(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("MEMORY_DOCTOR_SKLEARN_EXAMPLES")
    if given:
        return Path(given)
    sklearn = pytest.importorskip("sklearn")
    cache = getattr(request.config, "cache", None)
    folder = (
        Path(cache.mkdir(f"sklearn-{sklearn.__version__}-examples"))
        if cache is not None
        else tmp_path_factory.mktemp("sklearn-examples")
    )
    if not all((folder / name).is_file() for name in EXAMPLES):
        try:
            _download_examples(sklearn.__version__, folder)
        except OSError as exc:
            pytest.skip(
                f"scikit-learn's gallery is not here and could not be downloaded ({exc}); "
                "set MEMORY_DOCTOR_SKLEARN_EXAMPLES to a checkout's examples/ folder"
            )
    return folder


@pytest.fixture(scope="module", autouse=True)
def _kernel_env(kernel_env: dict[str, str]) -> Any:
    """The CLI's kernels inherit our environment: a private IPython dir, and Agg so that
    plt.show() neither blocks nor renders images into the outputs."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**kernel_env, "MPLBACKEND": "agg"}.items():
            patch.setenv(name, value)
        yield


def run_fix(example: Path, folder: Path) -> dict[str, Any]:
    jupytext = pytest.importorskip("jupytext")
    notebook = folder / (example.stem + ".ipynb")
    jupytext.write(jupytext.read(example), notebook, fmt="ipynb")
    out = folder / (example.stem + ".json")
    rc = main(["run", str(notebook), "--json", str(out), "--fix", "-q", "--timeout", "300"])
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert rc == 0, (example.name, rc, report.get("cells"))
    return report


@pytest.mark.parametrize("name", EXAMPLES)
def test_suggestions_on_gallery_examples(name: str, examples: Path, tmp_path: Path) -> None:
    report = run_fix(examples / name, tmp_path)
    # The user's code never broke and the scan completed.
    assert {c["status"] for c in report["cells"]} == {"ok"}, report["cells"]
    assert report["scan"]["complete"] is True, report["scan"]
    suggestions = {s["id"]: s for s in report["suggestions"]}
    # Threads loky started for joblib are not the user's resources.
    threads = [r for r in report["resources"] if r["kind"] == "thread"]
    assert threads == [], threads
    # A `_` the user assigned is not IPython's output cache.
    assert not [s for s in suggestions.values() if s["action"] == "reset_output_cache"]
    acted = 0
    for fix in report["fixes"]:
        sug = suggestions[fix["suggestion_id"]]
        skipped = (fix["error"] or "").startswith("skipped:")
        assert fix["ok"] or skipped, (sug, fix)  # nothing refused, nothing failed
        estimate = sug["estimated_freed_bytes"]
        if not fix["ok"] or sug["action"] in ("malloc_trim", "gc_collect") or not estimate:
            continue
        acted += 1
        # What a fix freed is what it said it would (a copy of an object-array view
        # that frees nothing, or a delete of memory something else holds, would fail).
        freed = fix["freed_in_process_bytes"]
        assert 0.5 * estimate <= freed <= 2 * estimate + MB, (sug, fix)
    after = report["after_fix"]
    assert after["error"] is None
    if acted:
        assert after["rss"] <= report["scan"]["rss"] + 20 * MB, (after["rss"], report["scan"])
