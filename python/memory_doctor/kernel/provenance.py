"""Which cell last bound each user variable, from per-cell namespace changes.

At ``pre_run_cell`` the helper snapshots ``{name: id(value)}`` of the user
namespace (ids only: no reference to any value survives the snapshot); at
``post_run_cell`` it compares a new snapshot with that one. A name whose id
changed, or that appeared, was (re)bound by that cell; a name that vanished was
deleted. The result answers "which cell created ``df``?" for the scan's
holders without ever looking at a value.

Limits, by design: a name rebound within one cell to a new object that happens
to reuse the old object's address (``del x; x = [...]``) looks unchanged;
names bound before the helper was loaded have no provenance; mutation
(``lst.append(...)``) is not binding.

Cost. Two passes over the whole namespace cost about 0.2 µs per name, and
IPython adds ``_i<n>`` (and ``_<n>`` for outputs) every cell, so in a long
session that grew to milliseconds per cell. When the cell's source is known,
the helper instead looks only at the identifiers that appear in it (a regex
over the text, no parsing), plus names that functions defined in earlier cells
declare ``global``/``nonlocal``: a cell can only bind a name it mentions, or one
a function it calls declares global. The cost is then proportional to the cell's
length, not the session's. The whole namespace is still compared when the cell
may bind names it does not mention: line or cell magics and shell escapes
(``%run``, ``%store -r``, ``x = !ls``), ``import *``, ``globals()``/``vars()``/
``exec``/``setattr``/``get_ipython``/``__dict__``/``sys.modules``, or a call to a
function that an earlier cell defined with one of those in its body.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Final, Optional

from ..log import quiet_logger

_log = quiet_logger(__name__)

#: How many ``execution_count → cell_id`` pairs are kept (numbers and short strings).
MAX_CELLS: Final = 10_000
#: How many cells may be open (pre without post) at once; nested and subshell cells.
MAX_PENDING: Final = 64

#: Identifiers remembered as ``global`` targets / dynamic binders (names only).
MAX_WRITERS: Final = 10_000

#: Where a name was bound: ``(cell_id, execution_count)``; either may be ``None``.
# Optional, not `X | None`: this alias is evaluated at runtime, and we support Python 3.9.
Where = tuple[Optional[str], Optional[int]]

# A root label starts with a Python identifier (Unicode letters allowed).
_BASE_RE: Final = re.compile(r"[^\W\d]\w*")
# Output cache entries as the scan labels them: Out[3], _oh[3].
_OUT_RE: Final = re.compile(r"(?:Out|_oh)\[(\d+)\]")
# IPython's numbered output variables: _3.
_NUMBERED_RE: Final = re.compile(r"_(\d+)")
# IPython's last, second- and third-to-last outputs.
_LAST_OUTPUTS: Final = ("_", "__", "___")
# Every identifier in a cell's text (keywords and attribute names included:
# extra candidates are harmless, they only cost a lookup).
_IDENT_RE: Final = re.compile(r"[^\W\d]\w*")
# A line that is a magic or shell escape, or assigns one: `%run x`, `y = !ls`, `%%capture`.
_MAGIC_RE: Final = re.compile(r"^[ \t]*(?:[\w \t,*()\[\]]*=[ \t]*)?[%!]", re.M)
_STAR_IMPORT_RE: Final = re.compile(r"\bimport[ \t(]*\*")
# Names a function may rebind in the module: `global a, b` / `nonlocal a`.
_GLOBAL_RE: Final = re.compile(
    r"\b(?:global|nonlocal)[ \t]+([^\W\d]\w*(?:[ \t]*,[ \t]*[^\W\d]\w*)*)"
)
# Functions and classes a cell defines (their bodies may bind names dynamically).
_DEF_RE: Final = re.compile(r"\b(?:def|class)[ \t]+([^\W\d]\w*)")
# Identifiers through which code can bind names it never mentions.
_DYNAMIC: Final = frozenset(
    (
        "globals",
        "locals",
        "vars",
        "exec",
        "eval",
        "setattr",
        "delattr",
        "get_ipython",
        "__dict__",
        "__main__",
        "modules",
        "__builtins__",
        "update_user_ns",
        "push",
    )
)

# Root kinds whose label starts from a name in the user namespace.
_NAMED_KINDS: Final = frozenset(
    ("variable", "output_cache", "closure", "default_arg", "class_attribute", "cache")
)


def snapshot(namespace: Mapping[str, Any]) -> dict[str, int]:
    """``{name: id(value)}`` for the ``str`` names of ``namespace``.

    Runs no user code: keys are filtered with ``type(k) is str`` *before* they
    are hashed into the new dict (a user object used as a key could have any
    ``__hash__``), and values are only passed to ``id``.
    """
    items = dict.items(namespace) if isinstance(namespace, dict) else namespace.items()
    return {k: id(v) for k, v in items if type(k) is str}


def base_name(label: str) -> str | None:
    """The variable a root label starts from: ``f`` for ``f.__closure__[0]``."""
    match = _BASE_RE.match(label)
    return match.group(0) if match else None


def output_count(label: str, namespace: Mapping[str, Any] | None = None) -> int | None:
    """The execution count an output-cache label refers to, else ``None``.

    ``Out[3]``, ``_oh[3]`` and ``_3`` name it directly. ``_``, ``__`` and
    ``___`` are found by identity in ``Out`` (the newest entry holding the
    same object), which compares ids only.
    """
    match = _OUT_RE.match(label)
    if match:
        return int(match.group(1))
    base = base_name(label)
    if base is None:
        return None
    numbered = _NUMBERED_RE.fullmatch(base)
    if numbered:
        return int(numbered.group(1))
    if base in _LAST_OUTPUTS and namespace is not None:
        return _find_output(namespace, base)
    return None


def _find_output(namespace: Mapping[str, Any], name: str) -> int | None:
    if isinstance(namespace, dict):
        target, out = dict.get(namespace, name), dict.get(namespace, "Out")
    else:
        target, out = namespace.get(name), namespace.get("Out")
    if target is None or type(out) is not dict:
        return None
    counts = sorted((k for k in dict.keys(out) if type(k) is int), reverse=True)
    for count in counts:
        if dict.get(out, count) is target:
            return count
    return None


def _plan(code: object, dynamic_writers: set[str], global_writers: set[str]) -> set[str] | None:
    """The names a cell with source ``code`` can bind, or ``None`` to compare everything.

    Learns, as a side effect, the ``global`` targets and (for cells that bind
    dynamically) the function names defined by ``code``.
    """
    if type(code) is not str:
        return None
    for match in _GLOBAL_RE.finditer(code):
        if len(global_writers) < MAX_WRITERS:
            global_writers.update(name.strip() for name in match.group(1).split(","))
    names = set(_IDENT_RE.findall(code))
    dynamic = (
        not names.isdisjoint(_DYNAMIC)
        or not names.isdisjoint(dynamic_writers)
        or _MAGIC_RE.search(code) is not None
        or _STAR_IMPORT_RE.search(code) is not None
    )
    if dynamic:
        # Functions defined here may bind dynamically whenever they are called later.
        if len(dynamic_writers) < MAX_WRITERS:
            dynamic_writers.update(_DEF_RE.findall(code))
        return None
    names |= global_writers
    return names


def _ids_of(names: Iterable[str], namespace: Mapping[str, Any]) -> dict[str, int]:
    """``{name: id(value)}`` for those of ``names`` present in ``namespace``.

    The lookups hash our own ``str`` names; a user-defined key is only ever
    compared on an exact 64-bit hash match with one of them.
    """
    missing = _MISSING
    get = dict.get.__get__(namespace) if isinstance(namespace, dict) else namespace.get
    ids = {}
    for name in names:
        value = get(name, missing)
        if value is not missing:
            ids[name] = id(value)
    return ids


_MISSING: Final = object()


def _diff_names(
    before: dict[str, int], names: Iterable[str], namespace: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    """Names (re)bound and deleted among ``names`` since ``before``."""
    after = _ids_of(names, namespace)
    bound = [name for name, ident in after.items() if before.get(name) != ident]
    deleted = [name for name in before if name not in after]
    return bound, deleted


def _diff(before: dict[str, int], namespace: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Names (re)bound and names deleted since ``before``, in one pass over the namespace.

    Lookups go into ``before`` only (``str`` keys we made): looking a name up in
    the user's namespace could compare it with a user-defined key.
    """
    items = dict.items(namespace) if isinstance(namespace, dict) else namespace.items()
    old_id = before.get
    bound: list[str] = []
    kept = 0
    for name, value in items:
        if type(name) is not str:
            continue
        old = old_id(name)
        if old is None:
            bound.append(name)
        else:
            kept += 1
            if old != id(value):
                bound.append(name)
    if kept == len(before):  # the usual case: nothing was deleted
        return bound, []
    now = {
        name
        for name in (dict.keys(namespace) if isinstance(namespace, dict) else namespace)
        if type(name) is str
    }
    return bound, [name for name in before if name not in now]


class Provenance:
    """Where each user variable was last bound, per shell.

    Holds only names (``str`` keys of the namespace), cell ids and counts:
    nothing that keeps a user object alive.
    """

    def __init__(self) -> None:
        self._bound: dict[str, Where] = {}
        self._cells: OrderedDict[int, str | None] = OrderedDict()
        # Open cells, keyed by an id the hooks pair on (id of ExecutionInfo):
        # the ids before the cell and the names compared (None: all of them).
        self._pending: dict[int, tuple[dict[str, int], set[str] | None]] = {}
        # Names functions declare global; functions whose bodies bind dynamically.
        self._global_writers: set[str] = set()
        self._dynamic_writers: set[str] = set()
        # The last cell that raised: it set sys.last_value/last_traceback/last_exc.
        self._last_error: Where | None = None

    def begin(self, key: int, namespace: Mapping[str, Any], code: object = None) -> None:
        """Snapshot the namespace as the cell ``key`` with source ``code`` starts.

        Without ``code`` (or for a cell that may bind names it does not
        mention) the whole namespace is snapshot; else only the names the
        cell can bind.
        """
        if len(self._pending) >= MAX_PENDING:
            # post_run_cell never came for some of them; drop the oldest.
            self._pending.pop(next(iter(self._pending)))
        names = _plan(code, self._dynamic_writers, self._global_writers)
        before = snapshot(namespace) if names is None else _ids_of(names, namespace)
        self._pending[key] = (before, names)

    def end(
        self,
        key: int,
        namespace: Mapping[str, Any],
        cell_id: str | None,
        execution_count: int | None,
        *,
        failed: bool = False,
    ) -> list[str]:
        """Record what the cell ``key`` bound and deleted; returns the names it bound.

        ``failed``: the cell raised, so IPython pointed ``sys.last_*`` at its error.
        """
        pending = self._pending.pop(key, None)
        if pending is None:
            return []
        before, names = pending
        where: Where = (cell_id, execution_count)
        if failed:
            self._last_error = where
        if execution_count is not None:
            self._cells[execution_count] = cell_id
            self._cells.move_to_end(execution_count)
            while len(self._cells) > MAX_CELLS:
                self._cells.popitem(last=False)
        bound, deleted = (
            _diff(before, namespace) if names is None else _diff_names(before, names, namespace)
        )
        for name in bound:
            self._bound[name] = where
        for name in deleted:
            self._bound.pop(name, None)
        return bound

    def discard(self, key: int) -> None:
        """Forget an open cell (its post hook will not come)."""
        self._pending.pop(key, None)

    def clear(self) -> None:
        """Forget everything (``%reset``, unload)."""
        self._bound.clear()
        self._cells.clear()
        self._pending.clear()
        self._global_writers.clear()
        self._dynamic_writers.clear()
        self._last_error = None

    def where(self, name: str) -> Where | None:
        """Where ``name`` was last bound, if a measured cell bound it."""
        return self._bound.get(name)

    def cell_of_count(self, execution_count: int) -> str | None:
        """The cell id that ran as ``execution_count``, if recorded."""
        return self._cells.get(execution_count)

    def lookup(
        self, label: str, namespace: Mapping[str, Any] | None = None, kind: str | None = None
    ) -> Where | None:
        """Where the root ``label`` (of root kind ``kind``) was created.

        Output-cache labels map to the cell that produced the output, names to
        the cell that last bound them, ``sys.last_*`` (kind ``traceback``) to the
        last cell that raised. Threads, generators and user modules are not
        bound by a cell: ``None``.
        """
        if kind == "traceback":
            return self._last_error
        if kind is not None and kind not in _NAMED_KINDS:
            return None
        count = output_count(label, namespace)
        if count is not None:
            return (self._cells.get(count), count)
        base = base_name(label)
        if base is None:
            return None
        return self._bound.get(base)

    def fill(
        self,
        holders: Iterable[MutableMapping[str, Any]],
        namespace: Mapping[str, Any] | None = None,
    ) -> None:
        """Fill each holder's ``cell_id``/``execution_count`` from its first root's label."""
        for holder in holders:
            if holder.get("cell_id") is not None or holder.get("execution_count") is not None:
                continue
            label, kind = _first_root(holder)
            if label is None:
                continue
            found = self.lookup(label, namespace, kind)
            if found is not None:
                holder["cell_id"], holder["execution_count"] = found


def _first_root(holder: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The first root's label and kind (``kind`` falls back to the holder's)."""
    kind = holder.get("kind")
    kind = kind if isinstance(kind, str) else None
    roots = holder.get("roots")
    if isinstance(roots, list) and roots and isinstance(roots[0], dict):
        label, root_kind = roots[0].get("label"), roots[0].get("kind")
        if isinstance(label, str):
            return label, root_kind if isinstance(root_kind, str) else kind
    labels = holder.get("labels")
    if isinstance(labels, list) and labels and isinstance(labels[0], str):
        return labels[0], kind
    return None, kind
