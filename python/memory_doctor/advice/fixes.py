"""The fixed operations ``apply_fix`` runs, their validation and their measurement.

A fix is one of ``FIX_ACTIONS``, applied to targets the latest scan named.
The browser only *chooses* a suggestion: it sends the suggestion's id with its
action and targets, and the helper looks that suggestion up in the table the
scan left behind (:class:`FixTable`, plain data: labels, ``id()`` values, type
names, fingerprints). Nothing sent by the browser is evaluated.

Before anything changes, every target is re-resolved in the kernel and must be
the very object that was scanned: the same object, not only the same ``id()``
(``identity.py``: a weak reference, or a fingerprint a new object at a reused
id cannot share), the same fingerprint for resources (fd, pid, path), and a
name must not have been rebound by a cell since (``Provenance``). If any
target fails, nothing is done and :class:`FixRefused` says why. A target that
is already done (the name deleted, the file closed) is reported as done.

Operations call the close/terminate/clear method of the exact library class
(``io.TextIOWrapper.close``, ``subprocess.Popen.terminate``,
``sqlite3.Connection.close``...), never a method looked up on the user's
object, so no user code runs.

Measurement (:func:`apply`). A fix is measured alone: first the garbage it
does not own is collected and the memory already free in the allocators is
returned to the OS (so neither is credited to it); then the allocators'
in-use figures and RSS are read, the fix runs, what it freed in reference
cycles is collected, and the in-use figures are read again
(``freed_in_process_bytes``). Last, what the allocators kept of it is returned
to the OS too, and the RSS drop is ``returned_to_os_bytes`` (also sent as
``measured_freed_bytes``, its 1.2 name).
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
from ..heap.introspect import (
    instance_dict,
    is_a,
    is_identifier,
    lookup_in_mro,
    module_dict,
    type_name,
    type_ns,
)
from ..heap.sizers import lru_cache_type
from ..log import quiet_logger
from ..procmem import current_rss
from ..protocol import FIX_ACTIONS
from .allocator import (
    InUse,
    pymalloc_free_bytes,
    release_free_memory,
)
from .identity import Identity, identify, same
from .library import find_handler, handler_buffer
from .resources import ResourceTypes

_log = quiet_logger(__name__)

#: A fix whose measured drop is below this share of the estimate gets an explanation.
EXPLAIN_BELOW: Final = 0.5
#: Memory the allocators kept of a fix, and the fix returned, worth a sentence.
MIN_KEPT_EXPLAINED: Final = 1 << 20
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
    """What one target named at scan time (plain data and weak references)."""

    label: str
    #: The object it named (``identity.identify``); None when it named nothing.
    ident: Identity | None = None
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


def is_users_under(name: str, sh: Shell) -> bool:
    """Whether ``_``, ``__`` or ``___`` in the namespace is the user's own variable
    (``_ = fig.suptitle(...)``), not IPython's output cache: IPython's own test
    (``DisplayHook.update_user_ns``) is that the display hook holds another value."""
    if name not in _UNDERS or name not in dict.keys(sh.ns) or sh.hook_dict is None:
        return False
    return dict.get(sh.hook_dict, name) is not dict.get(sh.ns, name)


def _output_name_places(name: str, sh: Shell) -> list[Place]:
    """``_3`` or ``_``: the namespace entry and the same object in ``user_ns_hidden``
    and on the display hook (``displayhook._``); a user's own ``_`` is only itself."""
    if is_users_under(name, sh):
        return [("user", name)]
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
    source = {"ns": sh.ns, "user": sh.ns, "hidden": sh.hidden, "hook": sh.hook_dict or {}}[where]
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
    elif where == "user":
        dict.pop(sh.ns, key, None)  # the user's own `_`: IPython updates it again later
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
    if action == "clear_log_buffer":
        handler = find_handler(label)
        return (handler is not None), handler
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
    return Target(label, identify(value), tuple(where) if where else None)


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


#: Actions whose target, once gone, is done (a name deleted, ``sys.last_*`` cleared).
_DONE_WHEN_GONE: Final = frozenset({"delete_holder", "clear_traceback", "clear_log_buffer"})


def check(  # noqa: PLR0917 - the request's three fields plus the context
    table: FixTable | None, sid: str, action: str, targets: list[str], sh: Shell, provenance: Any
) -> tuple[FixEntry, list[str]]:
    """The table entry the request names, after every target re-validated, and
    the labels of the targets that are already done (deleted, closed)."""
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
    done = [r.label for r in entry.records if not _check_target(r, entry.action, sh, provenance)]
    done.extend(res["label"] for res in entry.resources if find_resource(res, sh) is None)
    return entry, done


def _check_target(rec: Target, action: str, sh: Shell, provenance: Any) -> bool:
    """True when the target is there and the same; False when it is already done."""
    ok, value = resolve(rec.label, sh, action)
    if not ok:
        if action in _DONE_WHEN_GONE:
            return False
        raise FixRefused(f"{rec.label} no longer exists; nothing was changed. Scan again.")
    ident = rec.ident
    if ident is None or not same(ident, value):
        unprovable = ident is not None and not ident.provable and id(value) == ident.object_id
        raise FixRefused(
            f"{rec.label} cannot be proven to be the object that was scanned (its type keeps "
            "no weak references); nothing was changed. Delete it yourself, or scan again."
            if unprovable
            else f"{rec.label} now refers to a different object than when it was scanned; "
            "nothing was changed. Scan again."
        )
    del value
    name = base_name(rec.label)
    if name is not None and provenance is not None:
        where = provenance.where(name)
        if (tuple(where) if where else None) != rec.where:
            raise FixRefused(
                f"{name} was assigned again since the scan; nothing was changed. Scan again."
            )
    return True


def find_resource(res: Mapping[str, Any], sh: Shell) -> Any:
    """The resource object the scan described, found again and checked; None when it is
    already done (closed, finished, released); FixRefused when it is another one."""
    kind = res["kind"]
    oid = res["_object_id"]
    ref = res.get("_ref")
    if kind == "figure":
        obj = _figure(res["_extra"].get("num"))
        if obj is not None and ref is not None and ref() is not obj:
            obj = None  # a new figure took the number: ours was closed
    elif ref is not None:
        obj = ref()
    else:
        obj = _find_by_id(oid, list(res.get("held_by", [])), sh)
    label = f"{res['label']} ({res['detail']})"
    if obj is None:
        return None  # released (a file closes when it is freed) or closed by pyplot
    if id(obj) != oid or type_name(type(obj)) != res["_type"]:
        raise FixRefused(
            f"{label} is not the resource that was scanned any more; nothing was changed."
        )
    found = ResourceTypes(res.get("_user_dicts", ())).describe(obj)
    if kind == "figure":
        if list(res["_fingerprint"]) != ["figure", res["_extra"].get("num")]:
            raise FixRefused(f"{label} changed since the scan; nothing was changed.")
    elif found is None:
        return None  # closed or finished
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


def _delete(entry: FixEntry, sh: Shell, done: list[str]) -> list[Any]:
    """Delete every target not already gone; return weak references to what they
    named (to explain a short measurement)."""
    found = [(label, places(label, sh)) for label in entry.targets if label not in done]
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


def _copy_view(entry: FixEntry, sh: Shell, table: FixTable | None) -> None:
    """Rebind the view to a copy; the other suggestions on the same name (``del``)
    now name the copy: the helper rebound it, not the user."""
    np = sys.modules.get("numpy")
    label = entry.targets[0]
    spots = places(label, sh)
    view = value_at(spots[0], sh)
    if np is None or type(view) is not np.ndarray:
        raise FixRefused(f"{label} is no longer a numpy array; nothing was changed.")
    copy = np.ndarray.copy(view)  # numpy's C method on an exact ndarray
    old = id(view)
    del view
    for spot in spots:
        where, key = spot
        if where == "out":
            continue
        target = {"ns": sh.ns, "user": sh.ns, "hidden": sh.hidden, "hook": sh.hook_dict or {}}
        target[where][key] = copy
    for other in table.entries.values() if table is not None else ():
        for rec in other.records:
            if rec.label == label and rec.ident is not None and rec.ident.object_id == old:
                rec.ident = identify(copy)


def _cache_clear(entry: FixEntry, sh: Shell) -> None:
    ok, wrapper = resolve(entry.targets[0], sh, "cache_clear")
    lru = lru_cache_type()
    if not ok or lru is None or type(wrapper) is not lru:
        raise FixRefused(f"{entry.targets[0]} is no longer an lru_cache; nothing was changed.")
    vars(lru)["cache_clear"](wrapper)


def _clear_log_buffer(entry: FixEntry, done: list[str]) -> None:
    """Empty a logging handler's buffer (``list.clear``), under the handler's lock when
    it is the lock ``logging`` made (a ``threading.RLock``)."""
    import threading  # noqa: PLC0415 - stdlib, only when this fix runs

    for label in entry.targets:
        if label in done:
            continue
        handler = find_handler(label)
        buffer = handler_buffer(handler) if handler is not None else None
        if buffer is None:
            raise FixRefused(f"{label} no longer buffers records in a list; nothing was changed.")
        lock = dict.get(instance_dict(handler) or {}, "lock")
        rlock = type(threading.RLock())
        if type(lock) is not rlock:
            list.clear(buffer)
            continue
        rlock.acquire(lock)
        try:
            list.clear(buffer)
        finally:
            rlock.release(lock)


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
    ``_``, ``__``, ``___`` set back to ``''`` (also on the display hook), except a
    user's own variable of that name."""
    for source in (sh.ns, sh.hidden):
        for name in [k for k in dict.keys(source) if type(k) is str and _NUMBERED.match(k)]:
            dict.pop(source, name, None)
    out = sh.out()
    if out is not None:
        sh.forget_last_result({id(v) for v in dict.values(out)})
        dict.clear(out)
    users = {name for name in _UNDERS if is_users_under(name, sh)}
    if sh.hook_dict is not None:
        for name in _UNDERS:
            if name in dict.keys(sh.hook_dict):
                sh.hook_dict[name] = ""
    for source in (sh.ns, sh.hidden):
        for name in _UNDERS:
            if name in dict.keys(source) and not (source is sh.ns and name in users):
                source[name] = ""


def _close(obj: Any, res: Mapping[str, Any]) -> None:
    """Close ``obj`` with its library class's own method (``_closable`` said no user
    subclass overrides it), found in the MRO's namespaces without ``getattr``."""
    kind = res["kind"]
    name = "close"
    if kind == "tempdir":
        name = "cleanup"
    elif kind == "db_connection" and res["_extra"].get("engine"):
        name = "dispose"  # SQLAlchemy: closes the pooled connections
    found, method = lookup_in_mro(type(obj), name)
    if not found or not callable(method):
        raise FixRefused(f"{res['label']} has no {name}() of its library; nothing was changed.")
    method(obj)


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
    has_terminate, _terminate_method = lookup_in_mro(tp, "terminate")
    found, shutdown = lookup_in_mro(tp, "shutdown")
    if found and not has_terminate and callable(shutdown):
        # A concurrent.futures executor: waiting for its running tasks could block the
        # kernel for as long as they run; its threads end when their task returns.
        shutdown(obj, wait=False, cancel_futures=True)
        return
    tp.terminate(obj)
    tp.join(obj)


def _close_figures(entry: FixEntry, done: list[str]) -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        raise FixRefused("matplotlib.pyplot is not loaded any more; nothing was changed.")
    for res in entry.resources:
        if res["label"] not in done:
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


def _run(entry: FixEntry, sh: Shell, done: list[str], table: FixTable | None) -> list[Any]:  # noqa: PLR0912 - one branch per action
    """The operation itself; weak references to deleted objects (to explain)."""
    action = entry.action
    if action == "delete_holder":
        return _delete(entry, sh, done)
    if action == "clear_traceback":
        if len(done) < len(entry.targets):
            _clear_traceback(entry, sh)
    elif action == "copy_view":
        _copy_view(entry, sh, table)
    elif action == "cache_clear":
        _cache_clear(entry, sh)
    elif action == "clear_class_attribute":
        _clear_class_attribute(entry, sh)
    elif action == "reset_output_cache":
        reset_output_cache(sh)
    elif action == "clear_log_buffer":
        _clear_log_buffer(entry, done)
    elif action == "close_figures":
        _close_figures(entry, done)
    elif action in ("close_resource", "terminate_process", "close_pool", "cancel_task"):
        op: Callable[[Any], None] = {
            "terminate_process": _terminate,
            "close_pool": _close_pool,
            "cancel_task": _cancel,
        }.get(action, lambda o: None)
        for res in entry.resources:
            obj = find_resource(res, sh)
            if obj is None:
                continue  # already done
            if action == "close_resource":
                _close(obj, res)
            else:
                op(obj)
            del obj
    elif action == "gc_collect":
        gc.collect()
    elif action == "malloc_trim":
        release_free_memory()
    return []


def apply(
    entry: FixEntry, sh: Shell, done: list[str] | None = None, table: FixTable | None = None
) -> dict[str, Any]:
    """Run the fix (already checked by :func:`check`, which gave ``done``) and
    measure it alone; the ``apply_fix`` result."""
    done = list(done or [])
    action = entry.action
    if action not in ("gc_collect", "malloc_trim"):
        gc.collect()  # garbage this fix does not own is not credited to it
    if action != "malloc_trim":
        release_free_memory()  # nor memory that was already free in the allocators
    in_use_before = InUse.measure()
    rss_before = current_rss()
    watch = _run(entry, sh, done, table)
    if action not in ("gc_collect", "malloc_trim"):
        gc.collect()  # what the fix freed inside reference cycles goes now, not later
    if action == "cancel_task":
        time.sleep(0)  # let a cross-thread cancel be scheduled
    freed = InUse.measure().freed_since(in_use_before)
    rss_freed = current_rss()
    if action != "malloc_trim":
        release_free_memory()  # what the allocators kept of it goes back to the OS
    rss_after = current_rss()
    returned = max(rss_before - rss_after, 0)
    alive = sum(1 for ref in watch if ref() is not None)
    kept = Kept(max(rss_freed - rss_after, 0), pymalloc_free_bytes())
    return {
        "suggestion_id": entry.id,
        "action": action,
        "estimated_freed_bytes": entry.estimated,
        "measured_freed_bytes": returned,
        "freed_in_process_bytes": 0 if action == "malloc_trim" else freed,
        "returned_to_os_bytes": returned,
        "already_done": done,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "explanation": explain(entry, freed, returned, done, alive, kept),
    }


@dataclass(frozen=True)
class Kept:
    """What the allocators kept of a fix's memory."""

    #: Bytes the final ``malloc_trim(0)``/``release_unused()`` gave back.
    trimmed: int
    #: Free bytes inside pymalloc's arenas after the fix (None where unknown).
    pymalloc_free: int | None


def explain(  # noqa: PLR0911, PLR0917 - the figures of one fix, one sentence per cause
    entry: FixEntry,
    freed: int | None,
    returned: int,
    done: list[str],
    alive: int,
    kept: Kept,
) -> str | None:
    """One sentence when there is something to understand: targets already done, a
    measurement well short of the estimate (naming the cause), or memory the
    allocators had kept that the fix returned to the OS."""
    if done:
        names = ", ".join(done)
        verb = "were" if len(done) > 1 else "was"
        rest = "" if len(done) == len(entry.targets) else " The rest was done now."
        return f"{names} {verb} already deleted or closed; nothing was left to do there.{rest}"
    estimated = entry.estimated
    if not estimated:
        return None
    if entry.action == "malloc_trim":
        if returned >= EXPLAIN_BELOW * estimated:
            return None
        return (
            f"The allocators gave back {format_bytes(returned)} of the "
            f"{format_bytes(estimated)} they had free: the rest was reused in the meantime, "
            "or lies in pages that still hold live data."
        )
    shown = freed if freed is not None else returned
    if shown < EXPLAIN_BELOW * estimated:
        if alive:
            return (
                f"Only {format_bytes(shown)} of the estimated {format_bytes(estimated)} was "
                "freed: other references still hold the objects (for example a copy inside "
                "another object or a local of a running function). Scan again to see who holds "
                "them."
            )
        return (
            f"Only {format_bytes(shown)} of the estimated {format_bytes(estimated)} was freed: "
            "something the scan could not see still references the objects (a C extension, "
            "a running thread). Scan again to see what is left."
        )
    if returned < EXPLAIN_BELOW * shown:
        return (
            f"Python freed {format_bytes(shown)}, but only {format_bytes(returned)} went back to "
            "the operating system: the rest stays free inside Python's small-object arenas (the "
            f"allocator gap, {format_bytes(kept.pymalloc_free or 0)} free now), and an arena goes "
            "back only once every object in it is gone. Python reuses it for new objects."
        )
    if kept.trimmed >= max(EXPLAIN_BELOW * returned, MIN_KEPT_EXPLAINED):
        return (
            f"The allocators had kept {format_bytes(kept.trimmed)} of it for reuse (glibc's "
            "heap or Arrow's pool); the fix returned that to the operating system too "
            "(malloc_trim(0), release_unused()), so RSS dropped by what was freed. A plain "
            "`del` would leave it in the process until a later trim."
        )
    return None


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
