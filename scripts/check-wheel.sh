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

# No Node: node, npm, npx, jlpm and yarn are shims that record the call and
# fail with "command not found", ahead of the venv and the system tools on PATH.
mkdir -p "$work/no-node"
for tool in node npm npx jlpm yarn; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/node-calls.log"\nexit 127\n' "$tool" "$work" > "$work/no-node/$tool"
  chmod +x "$work/no-node/$tool"
done
export PATH="$work/no-node:$work/venv/bin:$PATH"
export JUPYTER_CONFIG_DIR="$work/config" JUPYTER_DATA_DIR="$work/data"
test "$(command -v node)" = "$work/no-node/node"
cd "$work"

jupyter labextension list 2>&1 | tee "$work/labext.txt"
grep -iE "jupyterlab-memory-doctor.*OK" "$work/labext.txt"
# The browser half of browser_check runs `npx playwright install`, which cannot
# download here (and needs Node); the server half still loads every extension.
allow_root=()
if [ "$(id -u)" = 0 ]; then allow_root=(--allow-root); fi
python -m jupyterlab.browser_check --no-browser-test "${allow_root[@]}"
python -c "import memory_doctor, pathlib; p = pathlib.Path(memory_doctor.__file__).parent; assert (p / 'static' / 'plotly.min.js').is_file(), 'plotly.min.js missing from the wheel'"
# The heap engine's C walker is in the wheel (a platform tag, not py3-none-any), and a
# scan in this clean venv runs it, not the pure-Python fallback.
case "$(basename "$wheel")" in *-py3-none-any.whl) echo "the wheel has no compiled walker"; exit 1 ;; esac
python - <<'PY'
from memory_doctor.heap import engine
from memory_doctor.heap.roots import enumerate_roots
from memory_doctor.heap.scan import scan_now
assert engine.native_available(), f"the native walker does not load: {engine.NATIVE_IMPORT_ERROR}"
ns = {"payload": bytearray(10**6)}
result = scan_now(enumerate_roots(ns, {}, modules={}), user_ns=ns, user_module_names=())
assert result["scan"]["engine"] == "native", result["scan"]
(holder,) = [h for h in result["holders"] if h["labels"] == ["payload"]]
assert holder["retained_bytes"] >= 10**6 and holder["freeable"], holder
print(f"wheel check: native heap engine, {result['scan']['objects_visited']} objects scanned")
PY

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
# JupyterLab itself probes for Node (its extension manager runs `yarn config`
# and `npm prefix -g`) and copes when that fails; every such call failed here.
if [ -s "$work/node-calls.log" ]; then
  echo "Node probes that failed, as on a machine without Node (JupyterLab's own):"
  sort "$work/node-calls.log" | uniq -c
fi
echo "wheel check passed: $(basename "$wheel")"
