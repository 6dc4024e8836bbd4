"""Hatch build hook: compiles the heap engine's C walker into the wheel.

``python/memory_doctor/heap/_walker.c`` is one C file over the documented
CPython C API; it is compiled with the C compiler (``$CC``, else ``cc``) and
the headers of the Python that runs the build:

- a wheel gets ``memory_doctor/heap/_walker<EXT_SUFFIX>`` and a platform tag
  (it is no longer pure Python);
- an editable install (``pip install -e .``) compiles it in place, next to
  the C file, where the package is imported from;
- an sdist carries the C file only.

Without a compiler (or with ``MEMORY_DOCTOR_NO_NATIVE=1``) the build goes on
without it, and the package uses the pure-Python engine, which gives the
same answers more slowly (``memory_doctor.heap.engine``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("python/memory_doctor/heap/_walker.c")
TARGET = "memory_doctor/heap/_walker"
FLAGS = ["-O2", "-Wall", "-Wextra", "-std=c11", "-fPIC", "-shared", "-fvisibility=hidden"]


def compile_walker(root: Path, out: Path) -> str | None:
    """Compile the walker into ``out``; None when done, else why not."""
    if os.environ.get("MEMORY_DOCTOR_NO_NATIVE"):
        return "MEMORY_DOCTOR_NO_NATIVE is set"
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        return "no C compiler (cc, gcc or $CC) on PATH"
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").is_file():
        return f"no Python headers in {include} (install python3-dev)"
    cmd = [*compiler.split(), *FLAGS, f"-I{include}", str(root / SOURCE), "-o", str(out)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - our own compiler command
    except OSError as exc:
        return f"{compiler} could not run: {exc}"
    if done.returncode != 0:
        return f"{' '.join(cmd)} failed:\n{done.stderr.strip()}"
    if done.stderr.strip():  # -Wall -Wextra: the file compiles without a warning
        sys.stderr.write(done.stderr)
    return None


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Builds the native walker for wheels and editable installs."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        if version == "editable":
            out = root / SOURCE.parent / f"_walker{suffix}"
            why = compile_walker(root, out)
        else:
            self._tmp = tempfile.mkdtemp(prefix="memory-doctor-build-")
            out = Path(self._tmp) / f"_walker{suffix}"
            why = compile_walker(root, out)
            if why is None:
                build_data["force_include"][str(out)] = f"{TARGET}{suffix}"
                build_data["pure_python"] = False
                build_data["infer_tag"] = True
        if why is not None:
            self.app.display_warning(
                f"memory-doctor: the native heap engine is not built ({why}); "
                "the pure-Python engine will be used."
            )

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
