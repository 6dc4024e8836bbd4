#!/usr/bin/env bash
# Regenerate the README's front-end screenshots in docs/images/, each cropped
# to its element by the test that takes it:
#   html-summary.png       %memory's HTML, as VS Code, Colab, nbconvert and GitHub show it
#                          (an nbconvert export opened in Chromium: tests/test_magics_nbclient.py)
#   jupyterlab-output.png  a %memory holders output drawn by the extension (ui-tests/tests/magics.spec.ts)
#   notebook7.png          Notebook 7: a badge, a %memory output and the top bar's memory readout (ui-tests/notebook7/)
#   badge-{light,dark}.png a cell and its badge             (ui-tests/tests/screenshots.spec.ts)
#   panel-{light,dark}.png "What's holding memory" with the output-cache trap (same spec)
#   fix-{light,dark}.png   the panel after its fix, with the measured outcome (same spec)
# Needs `make setup`, /usr/bin/chromium and the Notebook 7 environment (`make test-ui-nb7` makes it).
# Takes the front-end lock, since it runs Galata.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/docs/images
mkdir -p "$out"
export MD_SCREENSHOTS=$out PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PATH=$PWD/.venv/bin:$PATH

python -m pytest -q tests/test_magics_nbclient.py -k nbconvert
# The test also keeps the export and two more views; the README shows the summary.
rm -f "$out/magics-export.html" "$out/html-holders.png" "$out/html-cell.png"

flock /tmp/md-frontend.lock sh -c '
  jlpm build &&
  cd ui-tests &&
  jlpm playwright test tests/magics.spec.ts -g "panel table" &&
  jlpm playwright test tests/screenshots.spec.ts &&
  jlpm playwright test -c playwright.notebook7.config.js
'
ls -l "$out"
