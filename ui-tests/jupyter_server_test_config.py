"""Server configuration for the Galata tests.

Besides Galata's defaults (fixed port, no token, temporary root), this adds a
kernelspec, ``python3-nohelper``, whose kernel cannot import memory_doctor, so
the install hint can be tested against a real kernel.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 - `c` is injected by the config loader
c.ServerApp.open_browser = False  # noqa: F821
# Notebook 7 (playwright.notebook7.config.js) exposes window.jupyterapp only when asked.
c.JupyterNotebookApp.expose_app_in_browser = True  # noqa: F821

_ROOT = Path(__file__).resolve().parent.parent
_kernels_path = Path(tempfile.mkdtemp(prefix="memory-doctor-kernels-"))
_spec_dir = _kernels_path / "kernels" / "python3-nohelper"
_spec_dir.mkdir(parents=True)
(_spec_dir / "kernel.json").write_text(
    json.dumps(
        {
            "argv": [
                sys.executable,
                str(_ROOT / "tests" / "nohelper_kernel.py"),
                "-f",
                "{connection_file}",
            ],
            "display_name": "Python 3 (no Memory Doctor)",
            "language": "python",
        }
    )
)
# The kernelspec manager reads JUPYTER_PATH when it is created, after this file.
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    p for p in [str(_kernels_path), os.environ.get("JUPYTER_PATH", "")] if p
)
c.ServerApp.allow_root = True  # noqa: F821 - CI containers run as root
