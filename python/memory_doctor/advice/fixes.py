"""The fixed operations ``apply_fix`` runs, their validation and their measurement.

A fix is one of ``FIX_ACTIONS``, applied to targets the latest scan named.
The browser only *chooses* a suggestion: it sends the suggestion's id with its
action and targets, and the helper looks that suggestion up in the table the
scan left behind (:class:`FixTable`, plain data: labels, ``id()`` values, type
names, fingerprints). Nothing sent by the browser is evaluated.

Before anything changes, every target is re-resolved in the kernel and must be
the very object that was scanned: same ``id()``, same type, the same
fingerprint for resources (fd, pid, path), and a name must not have been
rebound by a cell since (``Provenance``). If any target fails, nothing is
done and :class:`FixRefused` says why.

Operations call the close/terminate/clear method of the exact library class
(``io.TextIOWrapper.close``, ``subprocess.Popen.terminate``,
``sqlite3.Connection.close``...), never a method looked up on the user's
object, so no user code runs. Afterwards the helper measures the drop in RSS.
"""

from __future__ import annotations

import contextlib
import gc
import re
import subprocess
import sys
import time
import types
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Final

from ..format import format_bytes
from ..heap.introspect import instance_dict, is_a, is_identifier, module_dict, type_name, type_ns
from ..heap.sizers import lru_cache_type
from ..log import quiet_logger
from ..procmem import current_rss
from ..protocol import FIX_ACTIONS
from .allocator import AllocatorGap, malloc_trim, malloc_trim_available
from .resources import ResourceTypes

_log = quiet_logger(__name__)

#: A fix whose measured drop is below this share of the estimate gets an explanation.
EXPLAIN_BELOW: Final = 0.5
#: Seconds ``terminate_process`` waits after SIGTERM before it kills.
TERMINATE_WAIT_S: Final = 3.0
#: Objects visited at most when a resource is looked for from its holders.
_FIND_LIMIT: Final = 500_000
_MAX_TARGETS: Final = 1000
_MAX_TARGET_CHARS: Final = 1000

_UNDERS: Final = ("_", "__", "___")
_OUT_LABEL: Final = re.compile(r"Out\[(\d+)\]\Z")
_NUMBERED: Final = re.compile(r"_(\d+)\Z")
_HIDDEN_LABEL: Final = re.compile(r"get_ipython\(\)\.user_ns_hidden\[('(?:[^'\\]|\\.)*')\]\Z")
_GLOBALS_LABEL: Final = re.compile(r"globals\(\)\[('(?:[^'\\]|\\.)*')\]\Z")
_CACHE_LABEL: Final = re.compile(r"(.+)\.cache_info\(\)\Z")
_TRACEBACK_NAMES: Final = ("last_exc", "last_value", "last_traceback", "last_type")
#: Labels of IPython's own names, which are never plain variables.
_IPYTHON_NAMES: Final = frozenset(
    {"In", "Out", "_ih", "_oh", "_dh", "_sh", "exit", "quit", "get_ipython"}
)


class FixRefused(Exception):
    """The fix would not act on what was scanned; the message says why. Nothing changed."""


class FixParamsError(ValueError):
    """The ``apply_fix`` request itself is malformed."""


@dataclass
class Target:
    """What one target named at scan time (plain data)."""

    label: str
    object_id: int | None = None
    type_name: str | None = None
    #: ``Provenance.where`` of the name the label starts from, at scan time.
    where: tuple[Any, ...] | None = None


@dataclass
class FixEntry:
    """One suggestion as the helper remembers it between requests."""

    id: str
    action: str
    targets: list[str]
    estimated: int | None
    records: list[Target] = field(default_factory=list)
    #: Private resource data (kind, object id, type, fingerprint, held_by...).
    resources: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FixTable:
    """The latest scan's suggestions, by id."""

    entries: dict[str, FixEntry] = field(default_factory=dict)


# ---------------------------------------------------------------------- the shell


class Shell:
    """The parts of the IPython shell the fixes touch, read without user code."""

    def __init__(self, shell: Any) -> None:
        ns = getattr(shell, "user_ns", None)
        hidden = getattr(shell, "user_ns_hidden", None)
        self.ns: dict[Any, Any] = ns if is_a(ns, dict) else {}
        self.hidden: dict[Any, Any] = hidden if is_a(hidden, dict) else {}
        self.hook = getattr(shell, "displayhook", None)
        self.hook_dict = instance_dict(self.hook) if self.hook is not None else None
        self.shell = shell

    def forget_last_result(self, ids: set[int]) -> None:
        """Drop IPython's ``last_execution_result`` when its ``result`` is one of
        ``ids`` (the last displayed value), as ``%xdel`` does."""
        shell = self.shell
        last = getattr(shell, "last_execution_result", None) if shell is not None else None
        attrs = instance_dict(last) if last is not None else None
        if attrs is not None and id(dict.get(attrs, "result")) in ids:
            shell.last_execution_result = None

    def out(self) -> dict[Any, Any] | None:
        for source in (self.hidden, self.ns):
            for key in ("_oh", "Out"):
                value = dict.get(source, key)
                if is_a(value, dict):
                    return value
        return None


#: A place holding an object: ``(where, key)`` with where one of
#: ``ns``, ``hidden``, ``out``, ``hook``.
Place = tuple[str, Any]


def _literal(text: str) -> str:
    """The value of a single-quoted Python string literal matched by our regexes."""
    import ast  # noqa: PLC0415 - only for labels with odd names

    value = ast.literal_eval(text)
    if type(value) is not str:
        raise ValueError("not a string literal")
    return value


def places(label: str, sh: Shell) -> list[Place]:  # noqa: PLR0911 - one answer per label form
    """Every place a deletable root ``label`` is stored; [] if it is not deletable."""
    match = _OUT_LABEL.match(label)
    if match:
        out = sh.out()
        key = int(match.group(1))
        return [("out", key)] if out is not None and key in dict.keys(out) else []
    hidden_match = _HIDDEN_LABEL.match(label)
    if hidden_match:
        name = _literal(hidden_match.group(1))
        if name not in dict.keys(sh.hidden):
            return []
        found: list[Place] = [("hidden", name)]
        _add_hook(found, name, dict.get(sh.hidden, name), sh)
        return found
    globals_match = _GLOBALS_LABEL.match(label)
    if globals_match:
        name = _literal(globals_match.group(1))
        return [("ns", name)] if name in dict.keys(sh.ns) else []
    if not is_identifier(label) or label in _IPYTHON_NAMES:
        return []
    if label in _UNDERS or _NUMBERED.match(label):
        return _output_name_places(label, sh)
    return [("ns", label)] if label in dict.keys(sh.ns) else []


def _output_name_places(name: str, sh: Shell) -> list[Place]:
    """``_3`` or ``_``: the namespace entry and the same object in ``user_ns_hidden``
    and on the display hook (``displayhook._``)."""
    found: list[Place] = []
    in_ns = name in dict.keys(sh.ns)
    value = dict.get(sh.ns, name) if in_ns else dict.get(sh.hidden, name)
    if in_ns:
        found.append(("ns", name))
    if name in dict.keys(sh.hidden) and (not in_ns or dict.get(sh.hidden, name) is value):
        found.append(("hidden", name))
    if found:
        _add_hook(found, name, value, sh)
    return found


def _add_hook(found: list[Place], name: str, value: Any, sh: Shell) -> None:
    if name in _UNDERS and sh.hook_dict is not None and dict.get(sh.hook_dict, name) is value:
        found.append(("hook", name))


def value_at(place: Place, sh: Shell) -> Any:
    """The object stored at ``place``."""
    where, key = place
    if where == "out":
        out = sh.out()
        return dict.get(out, key) if out is not None else None
    source = {"ns": sh.ns, "hidden": sh.hidden, "hook": sh.hook_dict or {}}[where]
    return dict.get(source, key)


def remove(place: Place, sh: Shell) -> None:
    """Remove what ``place`` holds the way IPython itself would."""
    where, key = place
    if where == "out":
        out = sh.out()
        if out is not None:
            dict.pop(out, key, None)
    elif where == "hook":
        if sh.hook_dict is not None:
            sh.hook_dict[key] = ""  # what DisplayHook.flush() leaves
    else:
        source = sh.ns if where == "ns" else sh.hidden
        if key in _UNDERS:
            source[key] = ""  # IPython's initial value; keeps its `_` bookkeeping intact
        else:
            dict.pop(source, key, None)


def resolve_dotted(label: str, sh: Shell) -> tuple[bool, Any]:
    """``Cls.attr`` / ``Outer.Inner.attr`` / ``func``: the value, through class
    namespaces only (no ``getattr``); ``(False, None)`` if it does not resolve."""
    parts = label.split(".")
    if not all(is_identifier(p) for p in parts) or parts[0] not in dict.keys(sh.ns):
        return False, None
    value = dict.get(sh.ns, parts[0])
    for part in parts[1:]:
        if not is_a(value, type):
            return False, None
        ns = type_ns(value)
        if part not in ns:
            return False, None
        value = ns[part]
    return True, value


def resolve(label: str, sh: Shell, action: str) -> tuple[bool, Any]:  # noqa: PLR0911 - one per action
    """The object ``label`` names now, for ``action``."""
    if action in ("delete_holder", "copy_view"):
        found = places(label, sh)
        return (True, value_at(found[0], sh)) if found else (False, None)
    if action == "cache_clear":
        match = _CACHE_LABEL.match(label)  # the label before 1.3: `load.cache_info()`
        return resolve_dotted(match.group(1) if match else label, sh)
    if action == "clear_class_attribute":
        return resolve_dotted(label, sh)
    if action == "clear_traceback":
        name = label[4:] if label.startswith("sys.") else ""
        sys_ns = module_dict(sys) or {}
        if name not in _TRACEBACK_NAMES or name not in sys_ns:
            return False, None
        return True, sys_ns[name]
    if action == "reset_output_cache":
        out = sh.out()
        return (out is not None), out
    return False, None


def base_name(label: str) -> str | None:
    """The namespace name a label starts from (for the rebinding check)."""
    match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", label)
    if match is None or label.startswith(("get_ipython()", "globals()", "sys.", "Out[")):
        return None
    return match.group(0)


def record(label: str, sh: Shell, action: str, provenance: Any) -> Target | None:
    """What ``label`` names now, to check against when the fix is applied."""
    ok, value = resolve(label, sh, action)
    if not ok:
        return None
    name = base_name(label)
    where = provenance.where(name) if name is not None and provenance is not None else None
    return Target(label, id(value), type_name(type(value)), tuple(where) if where else None)


# ---------------------------------------------------------------------- validation


def parse_request(data: Mapping[str, Any]) -> tuple[str, str, list[str]]:
    """``(suggestion_id, action, targets)`` of an ``apply_fix`` request."""
    sid = data.get("suggestion_id")
    action = data.get("action")
    targets = data.get("targets")
    if not isinstance(sid, str) or not 0 < len(sid) <= 128:
        raise FixParamsError("'apply_fix' needs a string 'suggestion_id' (from the latest scan).")
    if not isinstance(action, str) or action not in FIX_ACTIONS:
        shown = repr(action[:40]) if isinstance(action, str) else "missing or not a string"
        raise FixParamsError(
            f"'action' {shown} is not a fix operation. Known: {', '.join(FIX_ACTIONS)}."
        )
    if (
        not isinstance(targets, list)
        or len(targets) > _MAX_TARGETS
        or not all(isinstance(t, str) and len(t) <= _MAX_TARGET_CHARS for t in targets)
    ):
        raise FixParamsError(
            "'targets' must be a list of strings, exactly as the suggestion lists them."
        )
    return sid, action, list(targets)


def check(  # noqa: PLR0917 - the request's three fields plus the context
    table: FixTable | None, sid: str, action: str, targets: list[str], sh: Shell, provenance: Any
) -> FixEntry:
    """The table entry the request names, after every target re-validated."""
    entry = table.entries.get(sid) if table is not None else None
    if entry is None:
        raise FixRefused(
            f"Suggestion {sid[:40]!r} is not from the latest scan. Scan again and apply the "
            "fix it suggests."
        )
    if entry.action != action or entry.targets != targets:
        raise FixRefused(
            f"Suggestion {sid[:40]!r} of the latest scan is a different fix "
            f"({entry.action} on {', '.join(entry.targets) or 'the process'}); nothing was changed."
        )
    for rec in entry.records:
        _check_target(rec, entry.action, sh, provenance)
    for res in entry.resources:
        find_resource(res, sh)
    return entry


def _check_target(rec: Target, action: str, sh: Shell, provenance: Any) -> None:
    ok, value = resolve(rec.label, sh, action)
    if not ok:
        raise FixRefused(f"{rec.label} no longer exists; nothing was changed. Scan again.")
    if id(value) != rec.object_id or type_name(type(value)) != rec.type_name:
        raise FixRefused(
            f"{rec.label} now refers to a different object than when it was scanned; nothing "
            "was changed. Scan again."
        )
    name = base_name(rec.label)
    if name is not None and provenance is not None:
        where = provenance.where(name)
        if (tuple(where) if where else None) != rec.where:
            raise FixRefused(
                f"{name} was assigned again since the scan; nothing was changed. Scan again."
            )


def find_resource(res: Mapping[str, Any], sh: Shell) -> Any:
    """The resource object the scan described, found again and checked (or FixRefused)."""
    kind = res["kind"]
    oid = res["_object_id"]
    obj = None
    if kind == "figure":
        obj = _figure(res["_extra"].get("num"))
    else:
        obj = _find_by_id(oid, list(res.get("held_by", [])), sh)
    label = f"{res['label']} ({res['detail']})"
    if obj is None or id(obj) != oid or type_name(type(obj)) != res["_type"]:
        raise FixRefused(f"{label} is no longer there (closed or released?); nothing was changed.")
    found = ResourceTypes(res.get("_user_dicts", ())).describe(obj)
    if kind == "figure":
        if list(res["_fingerprint"]) != ["figure", res["_extra"].get("num")]:
            raise FixRefused(f"{label} changed since the scan; nothing was changed.")
    elif found is None:
        raise FixRefused(f"{label} is already closed or finished; nothing was changed.")
    elif list(found.fingerprint) != list(res["_fingerprint"]):
        raise FixRefused(
            f"{label} is not the resource that was scanned any more; nothing was changed."
        )
    if not res["_closable"]:
        raise FixRefused(f"{label} is of a type the helper does not close itself.")
    return obj


def _figure(num: Any) -> Any:
    helpers = module_dict(sys.modules.get("matplotlib._pylab_helpers"))
    gcf = helpers.get("Gcf") if helpers is not None else None
    figs = type_ns(gcf).get("figs") if is_a(gcf, type) else None
    manager = dict.get(figs, num) if is_a(figs, dict) else None
    canvas = dict.get(instance_dict(manager) or {}, "canvas") if manager is not None else None
    return dict.get(instance_dict(canvas) or {}, "figure") if canvas is not None else None


def _find_by_id(oid: int, held_by: list[str], sh: Shell) -> Any:
    """The object with ``id() == oid``: among GC-tracked objects, else searched from
    the roots that held it (breadth first, by ``gc.get_referents``)."""
    for obj in gc.get_objects():
        if id(obj) == oid:
            return obj
    todo: list[Any] = []
    for label in held_by:
        found = places(label, sh)
        if found:
            todo.append(value_at(found[0], sh))
    seen: set[int] = set()
    while todo and len(seen) < _FIND_LIMIT:
        nxt: list[Any] = []
        for obj in todo:
            if id(obj) == oid:
                return obj
            if id(obj) in seen or is_a(obj, type) or is_a(obj, types.ModuleType):
                continue
            seen.add(id(obj))
            nxt.extend(gc.get_referents(obj))
        todo = nxt
    return None


# ---------------------------------------------------------------------- operations


def _delete(entry: FixEntry, sh: Shell) -> list[Any]:
    """Delete every target; return weak references to what they named (to explain)."""
    found = [(label, places(label, sh)) for label in entry.targets]
    watch: list[Any] = []
    for _label, spots in found:
        value = value_at(spots[0], sh)
        with contextlib.suppress(TypeError):  # lists, dicts, ints: not weakly referenceable
            watch.append(weakref.ref(value))
        del value
    ids = {id(value_at(spots[0], sh)) for _label, spots in found}
    for _label, spots in found:
        for spot in spots:
            remove(spot, sh)
    sh.forget_last_result(ids)
    return watch


def _clear_traceback(entry: FixEntry, sh: Shell) -> None:
    import traceback  # noqa: PLC0415 - stdlib, only when this fix runs

    sys_ns = module_dict(sys)
    if sys_ns is None:
        return
    tb = sys_ns.get("last_traceback")
    for name in ("last_exc", "last_value"):
        exc = sys_ns.get(name)
        if tb is None and is_a(exc, BaseException):
            tb = vars(BaseException)["__traceback__"].__get__(exc)
    if type(tb) is types.TracebackType:
        traceback.clear_frames(tb)  # frame.clear() on each; executing frames are skipped
        # Python <= 3.12 keeps a dict snapshot of a frame's locals once f_locals was
        # read (IPython's traceback display, the scan's path search) and clear()
        # leaves it; reading f_locals again syncs it with the now empty frame.
        frame_locals = vars(types.FrameType)["f_locals"].__get__
        tb_frame = vars(types.TracebackType)["tb_frame"].__get__
        tb_next = vars(types.TracebackType)["tb_next"].__get__
        while tb is not None:
            frame_locals(tb_frame(tb))
            tb = tb_next(tb)
    del tb
    for name in _TRACEBACK_NAMES:
        sys_ns.pop(name, None)


def _copy_view(entry: FixEntry, sh: Shell) -> None:
    np = sys.modules.get("numpy")
    label = entry.targets[0]
    spots = places(label, sh)
    view = value_at(spots[0], sh)
    if np is None or type(view) is not np.ndarray:
        raise FixRefused(f"{label} is no longer a numpy array; nothing was changed.")
    copy = np.ndarray.copy(view)  # numpy's C method on an exact ndarray
    del view
    for spot in spots:
        where, key = spot
        if where == "out":
            continue
        {"ns": sh.ns, "hidden": sh.hidden, "hook": sh.hook_dict or {}}[where][key] = copy


def _cache_clear(entry: FixEntry, sh: Shell) -> None:
    ok, wrapper = resolve(entry.targets[0], sh, "cache_clear")
    lru = lru_cache_type()
    if not ok or lru is None or type(wrapper) is not lru:
        raise FixRefused(f"{entry.targets[0]} is no longer an lru_cache; nothing was changed.")
    vars(lru)["cache_clear"](wrapper)


def _clear_class_attribute(entry: FixEntry, sh: Shell) -> None:
    ok, value = resolve_dotted(entry.targets[0], sh)
    tp = type(value) if ok else None
    if tp is list:
        list.clear(value)
    elif tp is dict:
        dict.clear(value)
    elif tp is set:
        set.clear(value)
    else:
        raise FixRefused(f"{entry.targets[0]} is no longer a list, dict or set.")


def reset_output_cache(sh: Shell) -> None:
    """What ``%reset -f out`` does, without printing: ``Out`` emptied, ``_n`` deleted,
    ``_``, ``__``, ``___`` set back to ``''`` (also on the display hook)."""
    for source in (sh.ns, sh.hidden):
        for name in [k for k in dict.keys(source) if type(k) is str and _NUMBERED.match(k)]:
            dict.pop(source, name, None)
    out = sh.out()
    if out is not None:
        sh.forget_last_result({id(v) for v in dict.values(out)})
        dict.clear(out)
    if sh.hook_dict is not None:
        for name in _UNDERS:
            if name in dict.keys(sh.hook_dict):
                sh.hook_dict[name] = ""
    for source in (sh.ns, sh.hidden):
        for name in _UNDERS:
            if name in dict.keys(source):
                source[name] = ""


def _close(obj: Any, res: Mapping[str, Any]) -> None:
    """Close ``obj`` with the method of its exact library class."""
    tp = type(obj)
    kind = res["kind"]
    if kind == "tempdir":
        tp.cleanup(obj)
    elif kind == "db_connection" and res["_extra"].get("engine"):
        tp.dispose(obj)  # SQLAlchemy: closes the pooled connections
    else:
        tp.close(obj)


def _terminate(obj: Any) -> None:
    popen = subprocess.Popen
    popen.terminate(obj)
    try:
        popen.wait(obj, TERMINATE_WAIT_S)
    except subprocess.TimeoutExpired:
        popen.kill(obj)
        popen.wait(obj)


def _close_pool(obj: Any) -> None:
    tp = type(obj)
    tp.terminate(obj)
    tp.join(obj)


def _close_figures(entry: FixEntry) -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        raise FixRefused("matplotlib.pyplot is not loaded any more; nothing was changed.")
    for res in entry.resources:
        pyplot.close(res["_extra"].get("num"))  # pyplot's own close: by figure number


def _cancel(obj: Any) -> None:
    tp = type(obj)
    loop = tp.get_loop(obj)
    try:
        import asyncio  # noqa: PLC0415 - stdlib; tasks imply it is loaded

        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        tp.cancel(obj)
    else:  # Task.cancel is not thread-safe: let its own loop run it
        type(loop).call_soon_threadsafe(loop, tp.cancel, obj)


def apply(entry: FixEntry, sh: Shell) -> dict[str, Any]:  # noqa: PLR0912 - one branch per action
    """Run the fix (already checked) and measure it; the ``apply_fix`` result."""
    gap_before = _gap_total()
    rss_before = current_rss()
    watch: list[Any] = []
    action = entry.action
    if action == "delete_holder":
        watch = _delete(entry, sh)
    elif action == "clear_traceback":
        _clear_traceback(entry, sh)
    elif action == "copy_view":
        _copy_view(entry, sh)
    elif action == "cache_clear":
        _cache_clear(entry, sh)
    elif action == "clear_class_attribute":
        _clear_class_attribute(entry, sh)
    elif action == "reset_output_cache":
        reset_output_cache(sh)
    elif action == "close_figures":
        _close_figures(entry)
    elif action in ("close_resource", "terminate_process", "close_pool", "cancel_task"):
        op: Callable[[Any], None] = {
            "terminate_process": _terminate,
            "close_pool": _close_pool,
            "cancel_task": _cancel,
        }.get(action, lambda o: None)
        for res in entry.resources:
            obj = find_resource(res, sh)
            if action == "close_resource":
                _close(obj, res)
            else:
                op(obj)
            del obj
    elif action == "malloc_trim":
        malloc_trim()
    if action not in ("malloc_trim",):
        gc.collect()  # what was freed inside reference cycles goes now, not later
    if action == "cancel_task":
        time.sleep(0)  # let a cross-thread cancel be scheduled
    rss_after = current_rss()
    measured = max(rss_before - rss_after, 0)
    alive = sum(1 for ref in watch if ref() is not None)
    return {
        "suggestion_id": entry.id,
        "action": action,
        "estimated_freed_bytes": entry.estimated,
        "measured_freed_bytes": measured,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "explanation": explain(entry, measured, gap_before, alive),
    }


def _gap_total() -> int | None:
    return AllocatorGap.measure().total


def explain(entry: FixEntry, measured: int, gap_before: int | None, alive: int) -> str | None:
    """One sentence when the drop falls well short of the estimate, naming the cause."""
    estimated = entry.estimated
    if not estimated or measured >= EXPLAIN_BELOW * estimated:
        return None
    short = estimated - measured
    if alive:
        return (
            f"Only {format_bytes(measured)} of the estimated {format_bytes(estimated)} came "
            "back: other references still hold the objects (for example a copy inside another "
            "object or a local of a running function). Scan again to see who holds them."
        )
    gap_after = _gap_total()
    if gap_before is not None and gap_after is not None and gap_after - gap_before >= short / 2:
        trim = (
            " malloc_trim returns the part held by the C allocator."
            if malloc_trim_available()
            else ""
        )
        return (
            "Python freed the objects, but the allocator kept "
            f"{format_bytes(gap_after - gap_before)} instead of returning it to the operating "
            "system (the allocator gap): it is reused for new objects, yet RSS only dropped by "
            f"{format_bytes(measured)}.{trim}"
        )
    if entry.action == "malloc_trim":
        return (
            "The C allocator had less resident free memory than estimated to give back; "
            "memory inside Python's own small-object arenas is not returned by malloc_trim."
        )
    return (
        f"RSS dropped by {format_bytes(measured)}, less than the estimated "
        f"{format_bytes(estimated)}: the memory may still be referenced from elsewhere, or the "
        "allocator kept it for reuse."
    )


__all__ = [
    "FixEntry",
    "FixParamsError",
    "FixRefused",
    "FixTable",
    "Shell",
    "Target",
    "apply",
    "check",
    "parse_request",
    "places",
    "record",
    "reset_output_cache",
]
