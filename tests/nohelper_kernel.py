"""An ipykernel launcher in whose process ``memory_doctor`` cannot be imported.

Use it as a kernelspec's argv to play "the helper is not installed in this
kernel's environment" against a real kernel::

    [sys.executable, "tests/nohelper_kernel.py", "-f", "{connection_file}"]

Shared by the pytest end-to-end tests and the Galata tests
(``ui-tests/jupyter_server_test_config.py``). All arguments go to
``ipykernel``'s app, exactly like ``python -m ipykernel_launcher``.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

BLOCKED = "memory_doctor"


class _BlockHelper(importlib.abc.MetaPathFinder):
    """Answers every import of ``memory_doctor`` as a missing module would."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname == BLOCKED or fullname.startswith(BLOCKED + "."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def main() -> None:
    """Block the helper, then run ipykernel with our command line."""
    # The directory of this script is sys.path[0]; the checkout's python/ is not
    # on it, but an editable install is: the finder must come first.
    sys.meta_path.insert(0, _BlockHelper())
    sys.modules.pop(BLOCKED, None)
    from ipykernel import kernelapp  # noqa: PLC0415 - after the finder is installed

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
