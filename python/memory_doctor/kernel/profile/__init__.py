"""An opt-in, line-level memory profile of one cell run.

Nothing is traced until a run is asked for: over the comm (``profile_next``,
from the badge's menu or the command palette), in the execute request's
metadata (``{"memory_doctor": {"profile": "auto"}}``, what ``memory-doctor run
--profile`` sends), or with ``%%memory profile``. The asked-for run is traced
from ``pre_run_cell`` to ``post_run_cell`` by one backend:

* ``memray_backend``: where memray imports (native allocations too, the
  exact high-water mark);
* ``tracemalloc_backend``: otherwise (Python's allocators and what reports to
  tracemalloc, such as numpy's data), with ``peakwatch`` catching the view at
  the peak.

Both hand ``attribution.attribute`` a list of ``(stack, bytes, blocks)`` at the
end of the run and at its peak; it turns them into per-line figures and the
peak's stacks (``model`` has the shapes). ``cells`` tells notebook code from
library code by IPython's compile filenames. ``controller`` arms runs, drives
the backends from the hooks ``kernel/extension.py`` calls, keeps the cell
safe and runs the magic's body. docs/profile.md explains the method and its
limits.

Owns: the profile of a run. May import: ``protocol``, ``log``, ``format`` and
the rest of ``kernel``; memray lazily, only when a run asks for it.
"""

from __future__ import annotations

from .controller import ProfileController, ProfileRequest, ProfileRequestError
from .model import Profile

__all__ = ["Profile", "ProfileController", "ProfileRequest", "ProfileRequestError"]
