"""``python -m memory_doctor``: the same as the ``memory-doctor`` command."""

from __future__ import annotations

import sys

from .headless.cli import main

if __name__ == "__main__":
    sys.exit(main())
