"""Which code filenames are notebook cells, and which cell each one is.

IPython compiles every cell with a filename from ``shell.compile.cache()``:
``<ipython-input-N-hash>`` in a terminal IPython, and
``/tmp/ipykernel_PID/HASH.py`` (a hash of the raw source) in ipykernel
(``XCachingCompiler.get_code_name``). ``cache()`` also records
``shell.compile._filename_map[filename] = execution_count`` *before* the cell
runs, and puts the transformed source in ``linecache``. That map is the one
source of truth used here: a frame belongs to a notebook cell iff its
``co_filename`` is a key of it. (It is private IPython API, present from
IPython 8.0 to 9.x; without it we fall back to the two filename patterns.)

Cell ids come from ``ExecutionInfo.cell_id`` in ``pre_run_cell``; the
controller records ``execution_count -> cell_id`` with :meth:`CellIndex.note_cell`
(bounded). In ipykernel two cells with the same raw source share one filename;
the map then names the latest execution, which has the same lines.
"""

from __future__ import annotations

import linecache
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

#: How many execution_count -> cell_id pairs to remember.
MAX_REMEMBERED_CELLS = 4096


@dataclass(frozen=True)
class CellRef:
    """A notebook cell, as far as the kernel knows it."""

    filename: str
    execution_count: int | None
    cell_id: str | None
    #: Added to code line numbers to get lines of the cell's raw text
    #: (1 for a ``%%memory profile`` body, whose first line is the magic).
    line_offset: int = 0


def _ipykernel_cell_dir() -> str:
    """ipykernel's cell directory (``get_tmp_directory``), without importing it."""
    return os.path.join(tempfile.gettempdir(), f"ipykernel_{os.getpid()}") + os.sep


class CellIndex:
    """Recognises notebook cell code objects by filename."""

    def __init__(self, shell: Any) -> None:
        compiler = getattr(shell, "compile", None)
        mapping = getattr(compiler, "_filename_map", None)
        # The shell's own dict, read live: cells compiled later appear in it.
        self._map: dict[str, int] | None = mapping if isinstance(mapping, dict) else None
        self._cell_dir = _ipykernel_cell_dir()
        self._ids: OrderedDict[int, str] = OrderedDict()
        self._extra: dict[str, CellRef] = {}
        self._raw: dict[str, list[str]] = {}

    # -- recording -----------------------------------------------------------
    def note_cell(self, execution_count: int, cell_id: str | None) -> None:
        """Remember which cell id ran as ``execution_count`` (from pre_run_cell)."""
        if cell_id is None:
            return
        self._ids[execution_count] = cell_id
        self._ids.move_to_end(execution_count)
        while len(self._ids) > MAX_REMEMBERED_CELLS:
            self._ids.popitem(last=False)

    def add_file(self, ref: CellRef, raw_lines: list[str] | None = None) -> None:
        """Register a filename compiled by us (a ``%%memory profile`` body)."""
        self._extra[ref.filename] = ref
        if raw_lines is not None:
            self._raw[ref.filename] = raw_lines

    def set_raw_source(self, filename: str, raw_lines: list[str]) -> None:
        """Use the raw cell text (before IPython's transforms) for ``source``."""
        self._raw[filename] = raw_lines

    def forget_extra(self) -> None:
        """Drop what :meth:`add_file` and :meth:`set_raw_source` registered."""
        self._extra.clear()
        self._raw.clear()

    # -- queries (called from the trace hook: keep them cheap) ---------------
    def is_notebook_file(self, filename: str) -> bool:
        """Whether code compiled with this filename is a notebook cell."""
        if self._map is not None:
            if filename in self._map:
                return True
        elif filename.startswith("<ipython-input-") or filename.startswith(self._cell_dir):
            return True
        return filename in self._extra

    def files_of_execution(self, execution_count: int) -> list[str]:
        """The filenames compiled for one execution (normally exactly one)."""
        if self._map is None:
            return []
        return [name for name, count in self._map.items() if count == execution_count]

    def ref(self, filename: str) -> CellRef | None:
        """The cell a filename belongs to, or None for library code."""
        extra = self._extra.get(filename)
        if extra is not None:
            return extra
        if not self.is_notebook_file(filename):
            return None
        count = self._map.get(filename) if self._map is not None else None
        cell_id = self._ids.get(count) if count is not None else None
        return CellRef(filename, count, cell_id)

    def source(self, filename: str, lineno: int) -> str:
        """The text of one line (raw cell text when we have it), stripped."""
        raw = self._raw.get(filename)
        if raw is not None:
            ref = self._extra.get(filename)
            index = lineno + (ref.line_offset if ref else 0) - 1
            if 0 <= index < len(raw):
                return raw[index].strip()
        return linecache.getline(filename, lineno).strip()
