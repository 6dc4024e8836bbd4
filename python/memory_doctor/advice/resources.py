"""What the session holds open: files, sockets, connections, threads, figures...

Two sources, merged by object identity:

- the heap walk of the scan (``heap.scan.Scan``) notes every object whose type
  is one of the resource types below, with the set of roots it is labelled
  with, so ``held_by`` comes from the same root attribution as the holders;
- registries the libraries keep themselves: pyplot's figure manager
  (``matplotlib._pylab_helpers.Gcf``), ``threading._active`` and asyncio's
  task sets. A figure is open while pyplot holds it, whoever else does.

Everything is read without running user code: types are compared by identity
(``type(obj)`` and its MRO), attributes are read through the C descriptors of
known library base classes or from the instance ``__dict__`` of known library
types, and third-party modules are looked up in ``sys.modules`` only. Where a
description needs a library's own Python (a SQLAlchemy URL, an h5py file name)
it is called only on objects whose class belongs to that library.

A user's subclass of a resource type (``class Log(io.FileIO)``, a
``sqlite3.Connection`` subclass) is found by its MRO and read through the
library base's descriptors; the helper closes it only when the subclass does
not define its own ``close()`` (which it would skip).

Left out: what is the kernel's machinery however it is reached (a user's
``logging.Logger`` reaches ipykernel's log file through logging's manager; see
``library.kernel_owned``), and threads a library started for itself (loky's
executor threads, tqdm's monitor): those are listed only when one of the
user's variables holds them, under that variable, and never as something to
stop.

After the scan, :func:`finish_resources` numbers the entries and names the
cell behind each, and :func:`wire_resource` keeps the fields the protocol
sends (the private ``_`` fields stay in the helper, for the fixes).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import types
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from ..format import format_bytes
from ..heap.introspect import (
    GENERATOR_FRAME,
    func_globals,
    func_qualname,
    instance_dict,
    is_a,
    lookup_in_mro,
    method_parts,
    module_attr,
    module_dict,
    mro_has,
    type_module,
    type_mro,
    type_name,
    type_ns,
)
from ..heap.ownership import is_kernel_thread, package_of, package_of_type, thread_target
from ..heap.roots import registered_tasks
from ..log import guarded, quiet_logger
from ..protocol import RESOURCE_KINDS
from .library import kernel_owned

_log = quiet_logger(__name__)

#: At most this many root labels are reported per resource.
MAX_HELD_BY: Final = 8
#: Longest description we build from user-derived text (paths, commands).
_MAX_DETAIL: Final = 200
#: Label of pyplot's registry in ``held_by``.
PYPLOT: Final = "matplotlib.pyplot"

#: ``(module, attribute, kind)``: resource base classes, looked up in sys.modules.
_BASES: Final = (
    ("socket", "socket", "socket"),
    ("sqlite3", "Connection", "db_connection"),
    ("sqlalchemy.engine.base", "Engine", "db_connection"),
    ("sqlalchemy.engine.base", "Connection", "db_connection"),
    ("psycopg", "Connection", "db_connection"),
    ("psycopg2.extensions", "connection", "db_connection"),
    ("threading", "Thread", "thread"),
    ("subprocess", "Popen", "process"),
    ("multiprocessing.pool", "Pool", "pool"),
    ("concurrent.futures.thread", "ThreadPoolExecutor", "pool"),
    ("concurrent.futures.process", "ProcessPoolExecutor", "pool"),
    ("matplotlib.figure", "Figure", "figure"),
    ("tempfile", "TemporaryDirectory", "tempdir"),
    ("mmap", "mmap", "mmap"),
    ("h5py._hl.files", "File", "h5py_file"),
    ("_asyncio", "Task", "asyncio_task"),
    ("asyncio.tasks", "_PyTask", "asyncio_task"),
)


def closes_itself(tp: type, base: Any, method: str) -> bool:
    """Whether the library ``base``'s own ``method`` is the one ``tp`` would run:
    ``tp`` is ``base``, or no class between them (a user's subclass) defines it.
    The helper calls the library's method; a subclass's own would be skipped."""
    if base is None:
        return False
    for cls in type_mro(tp):
        if cls is base:
            return True
        if method in type_ns(cls):
            return False
    return False


def _own_close(found: Found) -> Found:
    """A user subclass that defines its own ``close()``: listed, with a note instead
    of a fix (the helper would have to skip that ``close()`` or run the user's code)."""
    if not found.closable:
        found.note = (
            f"Its class, {found.type_name}, defines its own close(): close it yourself "
            "(the helper runs no code of yours)."
        )
    return found


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _text(value: object) -> str | None:
    """``value`` if it is text we can show (a str, or bytes decoded), else None."""
    if type(value) is str:
        return value
    if type(value) is bytes:
        return value.decode("utf-8", "replace")
    return None


def _attrs(obj: Any) -> dict[Any, Any]:
    return instance_dict(obj) or {}


def _get(attrs: Mapping[Any, Any], key: str) -> Any:
    return dict.get(attrs, key) if is_a(attrs, dict) else None


class Found:
    """One open resource, as plain data plus the object while the scan is alive."""

    __slots__ = (
        "closable",
        "detail",
        "extra",
        "fingerprint",
        "held_by",
        "inner",
        "kind",
        "label",
        "note",
        "obj",
        "object_id",
        "path",
        "type_name",
    )

    def __init__(
        self,
        obj: Any,
        kind: str,
        detail: str,
        fingerprint: tuple[Any, ...],
        *,
        closable: bool,
        label: str | None = None,
        inner: tuple[int, ...] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.obj = obj
        self.kind = kind
        self.detail = _clip(detail)
        self.fingerprint = fingerprint
        self.closable = closable
        self.label = label
        self.inner = inner
        self.extra = extra or {}
        self.object_id = id(obj)
        self.type_name = type_name(type(obj))
        self.held_by: list[tuple[str, str]] = []
        self.note: str | None = None
        self.path: str | None = None

    def entry(self) -> dict[str, Any]:
        """The resource as plain data (no strong references to user objects); private
        keys start with ``_`` (``_ref`` is a weak reference where the type has one)."""
        held = [label for label, _kind in self.held_by]
        try:
            ref: Any = weakref.ref(self.obj)
        except TypeError:  # a C type without weak references: found again by id
            ref = None
        return {
            "kind": self.kind,
            "label": self.label or (held[0] if held else self.type_name.rsplit(".", 1)[-1]),
            "detail": self.detail,
            "held_by": held,
            "note": self.note,
            "_root_kinds": [kind for _label, kind in self.held_by],
            "_object_id": self.object_id,
            "_type": self.type_name,
            "_fingerprint": list(self.fingerprint),
            "_closable": self.closable,
            "_path": self.path,
            "_extra": dict(self.extra),
            "_ref": ref,
        }


class ResourceTypes:
    """Which types are resources, and how to describe their objects, for one scan."""

    def __init__(self, user_dicts: Iterable[int] = ()) -> None:
        self._cache: dict[int, str | None] = {}
        self._bases: list[tuple[type, str]] = []
        self.user_dicts = set(user_dicts)
        for module_name, attr, kind in _BASES:
            cls = module_attr(module_name, attr)
            if is_a(cls, type):
                self._bases.append((cls, kind))
        io_ns = module_dict(sys.modules.get("_io")) or {}
        self.fileio: Any = io_ns.get("FileIO")
        self.buffered: tuple[Any, ...] = tuple(
            t
            for t in (
                io_ns.get("BufferedReader"),
                io_ns.get("BufferedWriter"),
                io_ns.get("BufferedRandom"),
            )
            if t is not None
        )
        self.textio: Any = io_ns.get("TextIOWrapper")
        self._file_types = {id(t) for t in (self.fileio, self.textio, *self.buffered) if t}

    def kind(self, tp: type) -> str | None:
        """The resource kind of objects of type ``tp`` (or of a subclass), or None."""
        tid = id(tp)
        if tid in self._cache:
            return self._cache[tid]
        mro = type_mro(tp)
        found: str | None = "file" if any(id(c) in self._file_types for c in mro) else None
        if found is None:
            for base, kind in self._bases:
                if any(cls is base for cls in mro):
                    found = kind
                    break
        self._cache[tid] = found
        return found

    def file_base(self, tp: type) -> Any:
        """The C io class ``tp`` is or derives from (FileIO, a Buffered*, TextIOWrapper)."""
        return next((c for c in type_mro(tp) if id(c) in self._file_types), None)

    def describe(self, obj: Any) -> Found | None:
        """A :class:`Found` for an open resource, None when closed or not ours to show."""
        kind = self.kind(type(obj))
        describer = _DESCRIBERS.get(kind) if kind is not None else None
        if describer is None:
            return None
        try:
            return describer(self, obj)
        except Exception:  # an object in a state we did not foresee: not reported
            _log.debug("describing a %s failed", kind, exc_info=True)
            return None

    # ------------------------------------------------------------------ per kind

    def file_chain(self, obj: Any) -> tuple[Any, Any] | None:
        """``(buffer or None, raw FileIO)`` under a C io object (or an instance of a
        subclass, read through the C class's descriptors), else None."""
        base = self.file_base(type(obj))
        if base is None:
            return None
        if base is self.fileio:
            return None, obj
        if base in self.buffered:
            raw = vars(base)["raw"].__get__(obj)
            return (None, raw) if self.file_base(type(raw)) is self.fileio else None
        buf = vars(base)["buffer"].__get__(obj)
        buf_base = self.file_base(type(buf))
        if buf_base not in self.buffered:
            return None
        raw = vars(buf_base)["raw"].__get__(buf)
        return (buf, raw) if self.file_base(type(raw)) is self.fileio else None

    def _file(self, obj: Any) -> Found | None:
        chain = self.file_chain(obj)
        if chain is None:
            return None
        buf, raw = chain
        fio = self.fileio
        if vars(fio)["closed"].__get__(raw):
            return None
        fd = int(fio.fileno(raw))
        if fd <= 2:
            return None  # stdin/stdout/stderr are the process's, not the session's
        name = _get(_attrs(raw), "name")
        mode = _get(_attrs(obj), "mode") if self.file_base(type(obj)) is self.textio else None
        if type(mode) is not str:
            mode = vars(fio)["mode"].__get__(raw)
        shown = _text(name) or (f"fd {name}" if type(name) is int else "?")
        inner = tuple(id(x) for x in (buf, raw) if x is not None and x is not obj)
        return _own_close(
            Found(
                obj,
                "file",
                f"{shown} (mode {mode!r}, fd {fd})",
                ("file", fd, _text(name)),
                closable=closes_itself(type(obj), self.file_base(type(obj)), "close"),
                inner=inner,
            )
        )

    def _socket(self, obj: Any) -> Found | None:
        base = module_attr("_socket", "socket")
        if not is_a(base, type) or not mro_has(type(obj), base):
            return None
        fd = int(vars(base)["fileno"](obj))
        if fd == -1:
            return None
        family = int(vars(base)["family"].__get__(obj))
        kind = int(vars(base)["type"].__get__(obj))
        proto = {1: "TCP", 2: "UDP"}.get(kind, f"type {kind}")
        if family == module_attr("_socket", "AF_UNIX"):
            proto = "Unix"
        local = _addr(base, "getsockname", obj)
        peer = _addr(base, "getpeername", obj)
        text = f"{proto} {local}" + (f" → {peer}" if peer else "") + f" (fd {fd})"
        exact = type(obj) is module_attr("socket", "socket") or package_of_type(type(obj)) == "ssl"
        return Found(obj, "socket", text, ("socket", fd), closable=exact)

    def _db(self, obj: Any) -> Found | None:
        tp = type(obj)
        if any(type_module(c) == "sqlite3" for c in type_mro(tp)):
            return self._sqlite(obj)
        if package_of_type(tp) == "sqlalchemy":
            return self._sqlalchemy(obj)
        if package_of_type(tp) in ("psycopg", "psycopg2"):
            return self._psycopg(obj)
        return None

    def _sqlite(self, obj: Any) -> Found | None:
        cls = next(c for c in type_mro(type(obj)) if type_module(c) == "sqlite3")
        closable = closes_itself(type(obj), cls, "close")
        try:
            changes = vars(cls)["total_changes"].__get__(obj)
            in_tx = bool(vars(cls)["in_transaction"].__get__(obj))
        except Exception as exc:
            if "closed" in str(exc):
                return None
            changes, in_tx = None, False  # another thread's connection: still open
        detail = "SQLite connection"
        if changes:
            detail += f", {changes} rows changed"
        if in_tx:
            detail += ", uncommitted transaction"
        return _own_close(Found(obj, "db_connection", detail, ("sqlite3",), closable=closable))

    def _sqlalchemy(self, obj: Any) -> Found | None:
        attrs = _attrs(obj)
        name = type_name(type(obj)).rsplit(".", 1)[-1]
        if name.endswith("Engine") or "pool" in attrs:
            url = _url_text(_get(attrs, "url"))
            return Found(
                obj,
                "db_connection",
                f"SQLAlchemy engine {url}",
                ("sqlalchemy", url),
                closable=True,
                extra={"engine": True},
                inner=self._inner(obj),
            )
        closed = type(obj).closed.__get__(obj)  # sqlalchemy's own property
        if closed:
            return None
        engine = _get(attrs, "engine")
        url = _url_text(_get(_attrs(engine), "url")) if engine is not None else "?"
        return Found(
            obj,
            "db_connection",
            f"SQLAlchemy connection to {url}",
            ("sqlalchemy", url),
            closable=True,
            inner=self._inner(obj),
        )

    def _inner(self, obj: Any, limit: int = 2000) -> tuple[int, ...]:
        """ids of the driver connections (and their sockets) a SQLAlchemy object
        wraps: they are that object's, not resources of their own."""
        found: list[int] = []
        seen = {id(obj)}
        level = [obj]
        for _depth in range(6):
            nxt = []
            for item in gc.get_referents(*level):
                if id(item) in seen or is_a(item, type) or is_a(item, types.ModuleType):
                    continue
                seen.add(id(item))
                kind = self.kind(type(item))
                if (
                    kind in ("db_connection", "socket", "file")
                    and package_of_type(type(item)) != "sqlalchemy"
                ):
                    found.append(id(item))
                nxt.append(item)
            if len(seen) > limit:
                break
            level = nxt
        return tuple(found)

    def _psycopg(self, obj: Any) -> Found | None:
        # Untested here (needs a PostgreSQL server); both drivers' `closed` and
        # `dsn` are their own C getters or properties, and the dsn hides the password.
        if type(obj).closed.__get__(obj):
            return None
        dsn: Any = None
        with contextlib.suppress(Exception):
            has_info, info_prop = lookup_in_mro(type(obj), "info")
            info = info_prop.__get__(obj) if has_info else None
            dsn = type(info).dsn.__get__(info) if info is not None else type(obj).dsn.__get__(obj)
        return Found(
            obj,
            "db_connection",
            f"PostgreSQL connection {_text(dsn) or ''}".strip(),
            ("psycopg", _text(dsn)),
            closable=True,
        )

    def _thread(self, obj: Any) -> Found | None:
        attrs = _attrs(obj)
        ident = _get(attrs, "_ident")
        active = vars(threading).get("_active")
        if type(ident) is not int or not is_a(active, dict) or dict.get(active, ident) is not obj:
            return None  # not started, or finished
        if ident in (threading.main_thread().ident, threading.get_ident()):
            return None
        if is_kernel_thread(obj):
            return None
        target = thread_target(obj)
        if package_of(target) in _POOL_PACKAGES or package_of_type(type(obj)) in _POOL_PACKAGES:
            # A pool's worker/handler threads (ProcessPoolExecutor's manager thread is a
            # Thread subclass of its own): the pool is listed (and fixed) itself.
            return None
        library = self._thread_library(obj, target)
        name = _text(_get(attrs, "_name")) or f"thread {ident}"
        what = _callable_name(target) if target is not None else type_name(type(obj)) + ".run"
        daemon = " (daemon)" if _get(attrs, "_daemonic") is True else ""
        return Found(
            obj,
            "thread",
            f"{name}: running {what}(){daemon}",
            ("thread", ident),
            closable=False,
            label=f"thread {name!r}",
            extra={"ident": ident, "library": library},
        )

    def _is_user_code(self, value: Any) -> bool:
        """Whether a function, method or class comes from the user's namespaces."""
        if type(value) is types.MethodType:
            _owner, value = method_parts(value)
        if type(value) is types.FunctionType:
            return id(func_globals(value)) in self.user_dicts
        if is_a(value, type):
            module = type_module(value)
            ns = module_dict(sys.modules.get(module)) if module else None
            return ns is not None and id(ns) in self.user_dicts
        return False

    def _thread_library(self, thread: Any, target: Any) -> str | None:
        """The package that started ``thread`` for itself, or None when it is the user's:
        a thread class the user wrote, or a ``threading.Thread`` running the user's code."""
        tp = type(thread)
        if self._is_user_code(tp):
            return None
        if package_of_type(tp) != "threading":
            return package_of_type(tp)  # loky's ExecutorManagerThread, tqdm's TMonitor
        if target is None or self._is_user_code(target):
            return None
        return package_of(target)

    def _process(self, obj: Any) -> Found | None:
        attrs = _attrs(obj)
        pid = _get(attrs, "pid")
        if type(pid) is not int or _get(attrs, "returncode") is not None:
            return None
        args = _get(attrs, "args")
        if type(args) in (list, tuple):
            shown = " ".join(t for t in (_text(a) for a in args[:20]) if t is not None)
        else:
            shown = _text(args) or "?"
        state = _proc_state(pid)
        status = {"Z": "exited, not reaped", None: "gone"}.get(state, "running")
        exact = type(obj) is vars(sys.modules["subprocess"])["Popen"]
        return Found(
            obj,
            "process",
            f"pid {pid}: {shown} ({status})",
            ("process", pid),
            closable=exact,
            extra={"pid": pid},
        )

    def _pool(self, obj: Any) -> Found | None:
        attrs = _attrs(obj)
        name = type_name(type(obj)).rsplit(".", 1)[-1]
        package = package_of_type(type(obj))
        if "_shutdown_lock" in attrs:  # a concurrent.futures executor
            if _get(attrs, "_shutdown") is True or _get(attrs, "_shutdown_thread") is True:
                return None
            workers = _get(attrs, "_threads")
            if workers is None:
                workers = _get(attrs, "_processes")
            n = len(workers) if type(workers) in (set, dict) else None
            unit = "worker processes" if "_processes" in attrs else "threads"
            exact = package == "concurrent"
        else:
            if _get(attrs, "_state") != "RUN":
                return None
            n = _get(attrs, "_processes")
            unit = "threads" if name == "ThreadPool" else "worker processes"
            exact = package == "multiprocessing"
        count = f"{n} {unit}" if type(n) is int else unit
        return Found(
            obj,
            "pool",
            f"{name} with {count}",
            ("pool", n if type(n) is int else None),
            closable=exact,
            extra={"executor": "_shutdown_lock" in attrs},
        )

    def _tempdir(self, obj: Any) -> Found | None:
        name = _text(_get(_attrs(obj), "name"))
        if name is None or not os.path.isdir(name):
            return None
        exact = type(obj) is vars(sys.modules["tempfile"])["TemporaryDirectory"]
        return Found(obj, "tempdir", name, ("tempdir", name), closable=exact)

    def _mmap(self, obj: Any) -> Found | None:
        cls = vars(sys.modules["mmap"])["mmap"]
        if vars(cls)["closed"].__get__(obj):
            return None
        length = int(cls.__len__(obj))
        try:
            cls.size(obj)
            backing = "file-backed"
        except (OSError, ValueError):
            backing = "anonymous"
        return Found(
            obj,
            "mmap",
            f"{format_bytes(length)}, {backing}",
            ("mmap", length),
            closable=type(obj) is cls,
        )

    def _h5py(self, obj: Any) -> Found | None:
        if package_of_type(type(obj)) != "h5py":
            return None
        tp = type(obj)
        ident = tp.id.__get__(obj)  # h5py's own properties
        if not type(ident).valid.__get__(ident):
            return None
        filename = _text(tp.filename.__get__(obj)) or "?"
        mode = _text(tp.mode.__get__(obj)) or "?"
        return Found(
            obj, "h5py_file", f"{filename} (mode {mode!r})", ("h5py", filename), closable=True
        )

    def _task(self, obj: Any) -> Found | None:
        tp = type(obj)
        if package_of_type(tp) not in ("_asyncio", "asyncio"):
            return None
        if tp.done(obj):
            return None
        coro = tp.get_coro(obj)
        getter = GENERATOR_FRAME.get(id(type(coro)))
        frame = getter[0](coro) if getter is not None else None
        if frame is None:
            return None
        globs = vars(types.FrameType)["f_globals"].__get__(frame)
        if id(globs) not in self.user_dicts:
            return None  # the kernel's own tasks
        name = _text(tp.get_name(obj)) or "?"
        qual = vars(type(coro))["__qualname__"].__get__(coro)
        return Found(
            obj,
            "asyncio_task",
            f"{name}: {_text(qual) or '?'}() pending",
            ("task", name),
            closable=True,
            label=f"task {name!r}",
        )

    # ------------------------------------------------------------------ registries

    def figures(self) -> list[Found]:
        """Figures pyplot keeps open (``Gcf.figs``), read through the class dict."""
        helpers = module_dict(sys.modules.get("matplotlib._pylab_helpers"))
        gcf = helpers.get("Gcf") if helpers is not None else None
        figs = type_ns(gcf).get("figs") if is_a(gcf, type) else None
        if not is_a(figs, dict):
            return []
        out: list[Found] = []
        for num, manager in list(dict.items(figs)):
            canvas = _get(_attrs(manager), "canvas")
            fig = _get(_attrs(canvas), "figure")
            if fig is None:
                continue
            axes = _get(_attrs(fig), "_localaxes")
            n_axes = f", {len(axes)} axes" if type(axes) is list else ""
            found = Found(
                fig,
                "figure",
                f"pyplot figure {num}{n_axes}",
                ("figure", num),
                closable=True,
                label=f"Figure {num}",
                extra={"num": num},
            )
            found.held_by.append((PYPLOT, "module"))
            out.append(found)
        return out

    def threads(self) -> list[Found]:
        """Running threads from ``threading._active``."""
        active = vars(threading).get("_active")
        if not is_a(active, dict):
            return []
        out = []
        for thread in list(dict.values(active)):
            found = self.describe(thread) if mro_has(type(thread), threading.Thread) else None
            if found is not None:
                out.append(found)
        return out

    def tasks(self) -> list[Found]:
        """Pending asyncio tasks running user coroutines."""
        ns = module_dict(sys.modules.get("asyncio.tasks"))
        if ns is None:
            return []
        return [f for f in map(self.describe, registered_tasks(ns)) if f is not None]

    def collect(
        self,
        noted: Iterable[tuple[Any, list[tuple[str, str]]]],
        path_of: Callable[[Any], str | None] | None = None,
    ) -> list[dict[str, Any]]:
        """Describe what the walk noted, add the registries, merge; plain data out.

        ``noted`` pairs each object the walk met with the roots it is labelled
        with; ``path_of(obj)`` gives pasteable Python from a root to it.
        """
        found: dict[int, Found] = {}
        held: dict[int, list[tuple[str, str]]] = {}
        for obj, roots in noted:
            held[id(obj)] = roots
            if self.kind(type(obj)) in ("figure", "thread", "asyncio_task"):
                continue  # open only if a registry says so
            item = self.describe(obj)
            if item is not None:
                found[item.object_id] = item
        for item in [*self.figures(), *self.threads(), *self.tasks()]:
            found.setdefault(item.object_id, item)
        inner = {i for item in found.values() for i in item.inner}
        kernel = guarded(kernel_owned, _log) or set()
        out: list[dict[str, Any]] = []
        for oid, item in found.items():
            if oid in inner:
                continue  # the FileIO under an open TextIOWrapper is that file
            if oid in kernel or any(i in kernel for i in item.inner):
                continue  # the kernel's own, however the user's roots reach it
            for root in held.get(oid, []):
                if root not in item.held_by and len(item.held_by) < MAX_HELD_BY:
                    item.held_by.append(root)
            if item.extra.get("library") and not any(k in _NAMED_KINDS for _l, k in item.held_by):
                continue  # a library's own thread that no variable of the user's holds
            if path_of is not None and oid in held:
                with contextlib.suppress(Exception):
                    item.path = path_of(item.obj)
            out.append(item.entry())
            item.obj = None
        order = {kind: i for i, kind in enumerate(RESOURCE_KINDS)}
        out.sort(key=lambda e: (order.get(e["kind"], 99), not e["held_by"]))
        return out


#: Packages whose pools start threads: those threads are shown (and fixed) as their pool.
_POOL_PACKAGES: Final = frozenset({"multiprocessing", "concurrent"})

_DESCRIBERS: Final[dict[str, Callable[[ResourceTypes, Any], Found | None]]] = {
    "file": ResourceTypes._file,
    "socket": ResourceTypes._socket,
    "db_connection": ResourceTypes._db,
    "thread": ResourceTypes._thread,
    "process": ResourceTypes._process,
    "pool": ResourceTypes._pool,
    "tempdir": ResourceTypes._tempdir,
    "mmap": ResourceTypes._mmap,
    "h5py_file": ResourceTypes._h5py,
    "asyncio_task": ResourceTypes._task,
}


def _addr(base: Any, method: str, obj: Any) -> str:
    try:
        value = vars(base)[method](obj)  # the C method of _socket.socket
    except OSError:
        return ""
    if type(value) is tuple and len(value) >= 2:
        host = _text(value[0]) or "?"
        return f"[{host}]:{value[1]}" if ":" in host else f"{host}:{value[1]}"
    return _text(value) or ""


def _url_text(url: Any) -> str:
    """``driver://host:port/database`` of a SQLAlchemy URL (never the password)."""
    if not is_a(url, tuple):
        return "?"
    fields = type_ns(type(url)).get("_fields")
    if type(fields) is not tuple:
        return "?"
    values = dict(zip(fields, tuple.__iter__(url)))
    driver = _text(values.get("drivername")) or "?"
    host = _text(values.get("host")) or ""
    port = values.get("port")
    database = _text(values.get("database")) or ""
    where = host + (f":{port}" if type(port) is int else "")
    return f"{driver}://{where}/{database}"


def _callable_name(value: Any) -> str:
    if type(value) is types.FunctionType:
        return func_qualname(value)
    if type(value) is types.MethodType:
        _owner, func = method_parts(value)
        return _callable_name(func)
    return type_name(type(value))


def _proc_state(pid: int) -> str | None:
    """The state letter of ``/proc/<pid>/stat`` (``Z`` for a zombie), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return "?" if not os.path.isdir("/proc") else None
    end = data.rfind(b")")
    parts = data[end + 2 :].split()
    return parts[0].decode() if end >= 0 and parts else "?"


# ---------------------------------------------------------------------- after the scan

#: Root kinds whose label starts from a name in the user namespace.
_NAMED_KINDS: Final = frozenset(
    ("variable", "output_cache", "closure", "default_arg", "class_attribute", "cache")
)
#: The fields of a resource the protocol sends, in docs/protocol.md's order.
WIRE_KEYS: Final = (
    "id",
    "kind",
    "label",
    "detail",
    "held_by",
    "cell_id",
    "execution_count",
    "note",
)


def finish_resources(
    resources: list[dict[str, Any]],
    holders: Sequence[Mapping[str, Any]],
    namespace: Any,
    provenance: Any,
    user_dicts: Sequence[int] = (),
) -> None:
    """Number the scan's resource entries (``r1``...), name the cell that bound the
    first root holding each (``provenance.lookup``), and explain threads; in place."""
    ns = namespace if isinstance(namespace, Mapping) else None
    by_label: dict[str, Mapping[str, Any]] = {}
    for holder in holders:
        for label in holder.get("labels") or []:
            by_label.setdefault(label, holder)
    for i, res in enumerate(resources, 1):
        res["id"] = f"r{i}"
        res["_user_dicts"] = list(user_dicts)
        res["cell_id"], res["execution_count"] = None, None
        for label, kind in zip(res["held_by"], res["_root_kinds"]):
            if kind in _NAMED_KINDS and provenance is not None:
                where = provenance.lookup(label, ns, kind)
                if where is not None:
                    res["cell_id"], res["execution_count"] = where
                break
        library = res["_extra"].get("library") if res["kind"] == "thread" else None
        if library:
            named = [lb for lb, k in zip(res["held_by"], res["_root_kinds"]) if k in _NAMED_KINDS]
            res["label"] = named[0] if named else res["label"]
            res["note"] = (
                f"{library} started this thread for its own work; it ends when {library} "
                f"shuts it down (for example when the {library} object held by {res['label']} "
                "is closed or deleted). There is nothing to stop here."
            )
        elif res["kind"] == "thread":
            held = by_label.get(res["label"])
            size = (
                f"{format_bytes(int(held['retained_bytes']))} ({held['type']})"
                if held
                else "nothing large"
            )
            res["note"] = (
                f"A thread cannot be stopped safely from outside; make its code return (for "
                f"example on an Event it checks) and join() it. It holds {size}."
            )


def wire_resource(res: Mapping[str, Any]) -> dict[str, Any]:
    """The resource as the protocol sends it (no private ``_`` fields)."""
    return {k: res.get(k) for k in WIRE_KEYS}


__all__ = [
    "PYPLOT",
    "WIRE_KEYS",
    "Found",
    "ResourceTypes",
    "finish_resources",
    "wire_resource",
]
