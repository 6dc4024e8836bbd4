#!/usr/bin/env bash
# Install a built wheel into a clean venv and check that it works without Node:
# the prebuilt extension is found and enabled, JupyterLab starts with it, and
# the kernel helper measures a real notebook through the CLI.
# Usage: scripts/check-wheel.sh dist/jupyterlab_memory_doctor-*.whl
set -euo pipefail
wheel=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$wheel" "jupyterlab>=4.2,<5" numpy

# Only the venv on PATH: no node, no jlpm, no project sources.
export PATH="$work/venv/bin"
export JUPYTER_CONFIG_DIR="$work/config" JUPYTER_DATA_DIR="$work/data"
if command -v node >/dev/null; then echo "node is still on PATH" >&2; exit 1; fi
cd "$work"

jupyter labextension list 2>&1 | tee "$work/labext.txt"
grep -iE "jupyterlab-memory-doctor.*OK" "$work/labext.txt"
python -m jupyterlab.browser_check --no-browser-test
python -c "import memory_doctor, pathlib; p = pathlib.Path(memory_doctor.__file__).parent; assert (p / 'static' / 'plotly.min.js').is_file(), 'plotly.min.js missing from the wheel'"

cp "$root/examples/tour.ipynb" "$work/tour.ipynb"
status=0
memory-doctor run tour.ipynb --json report.json --html report.html || status=$?
python - "$status" <<'PY'
import json, sys
report = json.load(open("report.json"))
assert report["format"] == "memory-doctor-report", report.get("format")
cells = {c["index"]: c for c in report["cells"]}
keep = next(c for c in report["cells"] if c["rss_delta"] and c["rss_delta"] > 150 * 2**20)
print(f"wheel check: exit {sys.argv[1]}, {len(cells)} code cells, keep cell delta {keep['rss_delta']} bytes")
assert sys.argv[1] == "0", "memory-doctor run failed"
PY
test -s report.html
echo "wheel check passed: $(basename "$wheel")"
