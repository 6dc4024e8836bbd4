"""What the session holds open: files, sockets, connections, threads, figures...

Two sources, merged by object identity:

- the heap walk of the scan (``_scan.Scan``) notes every object whose type is
  one of the resource types below, with the set of roots it is labelled with,
  so ``held_by`` comes from the same root attribution as the holders;
- registries the libraries keep themselves: pyplot's figure manager
  (``matplotlib._pylab_helpers.Gcf``), ``threading._active`` and asyncio's
  task sets. A figure is open while pyplot holds it, whoever else does.

Everything is read without running user code: types are compared by identity
(``type(obj)`` and its MRO), attributes are read through the C descriptors of
known library base classes or from the instance ``__dict__`` of known library
types, and third-party modules are looked up in ``sys.modules`` only. Where a
description needs a library's own Python (a SQLAlchemy URL, an h5py file name)
it is called only on objects whose class belongs to that library.

The module also computes the process-wide :func:`findings`: open file
descriptors, threads, child processes, cyclic garbage and the allocator gap.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import re
import sys
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from itertools import compress, repeat
from operator import gt, not_, sub
from typing import Any, Final

from ..heap.roots import registered_tasks
from ..heap.sizers import (
    _GEN_FRAME,
    Classifier,
    Context,
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
from ..log import quiet_logger
from ..protocol import RESOURCE_KINDS

_log = quiet_logger(__name__)

#: At most this many root labels are reported per resource.
MAX_HELD_BY: Final = 8
#: Longest description we build from user-derived text (paths, commands).
_MAX_DETAIL: Final = 200
#: Cyclic garbage is not measured above this many GC-tracked objects: the pass
#: is linear in the heap and runs in one go on the kernel's loop, after the scan.
MAX_GC_OBJECTS: Final = 500_000
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
    ("matplotlib.figure", "Figure", "figure"),
    ("tempfile", "TemporaryDirectory", "tempdir"),
    ("mmap", "mmap", "mmap"),
    ("h5py._hl.files", "File", "h5py_file"),
    ("_asyncio", "Task", "asyncio_task"),
    ("asyncio.tasks", "_PyTask", "asyncio_task"),
)
#: Packages whose threads and tasks are the kernel's machinery, not the user's.
_INFRA: Final = frozenset(
    {
        "ipykernel",
        "IPython",
        "jupyter_client",
        "zmq",
        "tornado",
        "traitlets",
        "comm",
        "memory_doctor",
        "debugpy",
        "_pydevd_bundle",
        "pydevd",
        "anyio",
    }
)


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


def _lib_class(tp: type, package: str) -> bool:
    """Whether ``tp`` is defined by ``package`` (so its methods are library code)."""
    module = type_module(tp)
    return module is not None and (module == package or module.startswith(package + "."))


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
        """The resource as plain data (no user objects); private keys start with ``_``."""
        held = [label for label, _kind in self.held_by]
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
        """The resource kind of objects of type ``tp``, or None."""
        tid = id(tp)
        if tid in self._cache:
            return self._cache[tid]
        found: str | None = "file" if tid in self._file_types else None
        if found is None:
            mro = type_mro(tp)
            for base, kind in self._bases:
                if any(cls is base for cls in mro):
                    found = kind
                    break
        self._cache[tid] = found
        return found

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
        """``(buffer or None, raw FileIO)`` under an exact C io object, else None."""
        tp = type(obj)
        if tp is self.fileio:
            return None, obj
        if tp in self.buffered:
            raw = vars(tp)["raw"].__get__(obj)
            return (None, raw) if type(raw) is self.fileio else None
        if tp is self.textio:
            buf = vars(tp)["buffer"].__get__(obj)
            if type(buf) not in self.buffered:
                return None
            raw = vars(type(buf))["raw"].__get__(buf)
            return (buf, raw) if type(raw) is self.fileio else None
        return None

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
        mode = _get(_attrs(obj), "mode") if type(obj) is self.textio else None
        if type(mode) is not str:
            mode = vars(fio)["mode"].__get__(raw)
        shown = _text(name) or (f"fd {name}" if type(name) is int else "?")
        inner = tuple(id(x) for x in (buf, raw) if x is not None and x is not obj)
        return Found(
            obj,
            "file",
            f"{shown} (mode {mode!r}, fd {fd})",
            ("file", fd, _text(name)),
            closable=True,
            inner=inner,
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
        exact = type(obj) is module_attr("socket", "socket") or _lib_class(type(obj), "ssl")
        return Found(obj, "socket", text, ("socket", fd), closable=exact)

    def _db(self, obj: Any) -> Found | None:
        tp = type(obj)
        if _lib_class(tp, "sqlite3"):
            return self._sqlite(obj)
        if _lib_class(tp, "sqlalchemy"):
            return self._sqlalchemy(obj)
        if _lib_class(tp, "psycopg") or _lib_class(tp, "psycopg2"):
            return self._psycopg(obj)
        return None

    def _sqlite(self, obj: Any) -> Found | None:
        cls = next(c for c in type_mro(type(obj)) if type_module(c) == "sqlite3")
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
        return Found(obj, "db_connection", detail, ("sqlite3",), closable=type(obj) is cls)

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
                if kind in ("db_connection", "socket", "file") and not _lib_class(
                    type(item), "sqlalchemy"
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
        target = _get(attrs, "_target")
        if _package(target) in _INFRA or _lib_class(type(obj), "ipykernel"):
            return None
        if _package(target) == "multiprocessing":
            return None  # a pool's worker/handler threads: the pool is listed (and fixed) itself
        if target is None and _package_of_type(type(obj)) in _INFRA:
            return None
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
            extra={"ident": ident},
        )

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
        if _get(attrs, "_state") != "RUN":
            return None
        n = _get(attrs, "_processes")
        name = type_name(type(obj)).rsplit(".", 1)[-1]
        unit = "threads" if name == "ThreadPool" else "worker processes"
        count = f"{n} {unit}" if type(n) is int else unit
        exact = _lib_class(type(obj), "multiprocessing")
        return Found(
            obj,
            "pool",
            f"{name} with {count}",
            ("pool", n if type(n) is int else None),
            closable=exact,
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
            obj, "mmap", f"{_size(length)}, {backing}", ("mmap", length), closable=type(obj) is cls
        )

    def _h5py(self, obj: Any) -> Found | None:
        if not _lib_class(type(obj), "h5py"):
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
        if not (_lib_class(tp, "_asyncio") or _lib_class(tp, "asyncio")):
            return None
        if tp.done(obj):
            return None
        coro = tp.get_coro(obj)
        getter = _GEN_FRAME.get(id(type(coro)))
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
        out: list[dict[str, Any]] = []
        for oid, item in found.items():
            if oid in inner:
                continue  # the FileIO under an open TextIOWrapper is that file
            for root in held.get(oid, []):
                if root not in item.held_by and len(item.held_by) < MAX_HELD_BY:
                    item.held_by.append(root)
            if path_of is not None and oid in held:
                with contextlib.suppress(Exception):
                    item.path = path_of(item.obj)
            out.append(item.entry())
            item.obj = None
        order = {kind: i for i, kind in enumerate(RESOURCE_KINDS)}
        out.sort(key=lambda e: (order.get(e["kind"], 99), not e["held_by"]))
        return out


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


def _package(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is types.MethodType:
        owner, func = method_parts(value)
        return _package(func) or _package_of_type(type(owner))
    if type(value) is types.FunctionType:
        module = vars(types.FunctionType)["__module__"].__get__(value)
        return module.split(".")[0] if type(module) is str else None
    return _package_of_type(type(value))


def _package_of_type(tp: type) -> str | None:
    module = type_module(tp)
    return module.split(".")[0] if module else None


def _callable_name(value: Any) -> str:
    if type(value) is types.FunctionType:
        return func_qualname(value)
    if type(value) is types.MethodType:
        _owner, func = method_parts(value)
        return _callable_name(func)
    return type_name(type(value))


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


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


# ---------------------------------------------------------------------- findings


def findings() -> dict[str, Any]:
    """Process-wide figures (see ``docs/protocol.md``); each is None where unknown."""
    return {
        "open_fds": _guard(open_fds),
        "threads": _guard(thread_count),
        "children": _guard(child_count),
        "cyclic_garbage": _guard(cyclic_garbage),
        "allocator_gap": _guard(allocator_gap_entry),
    }


def _guard(func: Callable[[], Any]) -> Any:
    try:
        return func()
    except Exception:
        _log.debug("finding %s failed", getattr(func, "__name__", "?"), exc_info=True)
        return None


def open_fds() -> int | None:
    """Open file descriptors of this process (``/proc/self/fd``)."""
    try:
        # listdir's own directory descriptor is listed too.
        return max(len(os.listdir("/proc/self/fd")) - 1, 0)
    except OSError:
        return None


def thread_count() -> int | None:
    """OS threads of this process (``Threads:`` of ``/proc/self/status``)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return threading.active_count()


def child_pids() -> list[int] | None:
    """Pids of this process's children (``/proc/<pid>/task/*/children``, else a
    scan of ``/proc/*/stat``), None without procfs."""
    me = os.getpid()
    try:
        tasks = os.listdir(f"/proc/{me}/task")
    except OSError:
        return None
    pids: set[int] = set()
    try:
        for tid in tasks:
            with open(f"/proc/{me}/task/{tid}/children", "rb") as f:
                pids.update(int(p) for p in f.read().split())
        return sorted(pids)
    except (OSError, ValueError):
        pass  # no CONFIG_PROC_CHILDREN: scan the process table
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(me).encode():
            pids.add(int(entry))
    return sorted(pids)


def child_count() -> int | None:
    """How many child processes this process has."""
    pids = child_pids()
    return None if pids is None else len(pids)


def _refcount_base() -> int:
    """What ``list(map(sys.getrefcount, objs))`` reports for an object whose only
    reference is the list ``objs`` (measured: it differs between versions)."""
    objs = [object()]
    return next(map(sys.getrefcount, objs))


def cyclic_garbage(limit: int = MAX_GC_OBJECTS) -> dict[str, int] | None:
    """Objects unreachable except through reference cycles, without collecting them.

    ``gc.collect()`` would free them (and run their finalizers), so instead this
    repeats the collector's own analysis read-only: for every GC-tracked object,
    its references from outside the tracked heap are its reference count minus
    the references other tracked objects hold (``gc.get_referents``); objects
    with outside references are reachable, and so is everything they reach.
    What is left is cyclic garbage. Its bytes are the known-type sizes of those
    objects plus the untracked objects (arrays, strings) only they hold.
    None when the heap has more than ``limit`` tracked objects.
    """
    objs = gc.get_objects()
    if len(objs) > limit:
        return None
    base = _refcount_base()
    ids = list(map(id, objs))
    outside = list(map(sys.getrefcount, objs))
    index = dict(zip(ids, range(len(ids))))
    internal = Counter(map(id, gc.get_referents(*objs)))
    outside = list(map(sub, outside, map(internal.get, ids, repeat(0))))
    reached = set(compress(ids, map(gt, outside, repeat(base))))
    del internal, outside
    frontier = list(map(objs.__getitem__, map(index.__getitem__, reached)))
    while frontier:
        new = set(map(id, gc.get_referents(*frontier)))
        new.difference_update(reached)
        new = set(filter(index.__contains__, new))  # tracked objects only
        reached |= new
        frontier = list(map(objs.__getitem__, map(index.__getitem__, new)))
    garbage = list(compress(objs, map(not_, map(reached.__contains__, ids))))
    del objs, frontier, reached, index, ids
    if not garbage:
        return {"objects": 0, "bytes": 0}
    return {"objects": len(garbage), "bytes": _garbage_bytes(garbage)}


def _garbage_bytes(garbage: list[Any]) -> int:
    classifier = Classifier(Context(frozenset(), set()))
    sizers: dict[int, Callable[[Any], int]] = {}

    def size(obj: Any) -> int:
        tid = id(type(obj))
        sizer = sizers.get(tid)
        if sizer is None:
            sizer = sizers[tid] = classifier.classify(type(obj)).sizer
        try:
            return max(int(sizer(obj)), 0)
        except Exception:
            return 0

    total = sum(map(size, garbage))
    # Untracked objects (arrays, strings, numbers) count when the garbage holds
    # every reference to them.
    kids = [k for k in gc.get_referents(*garbage) if not gc.is_tracked(k)]
    from_garbage = Counter(map(id, kids))
    unique = list({id(k): k for k in kids}.values())
    del kids
    base = _refcount_base()
    counts = list(map(sys.getrefcount, unique))
    for obj, count in zip(unique, counts):
        if count - base == from_garbage[id(obj)]:
            total += size(obj)
    return total


# -------------------------------------------------------------- the allocator gap

_libc: Any = None
_libc_failed = False


def is_glibc() -> bool:
    """Whether this process runs on glibc (where ``malloc_trim`` exists)."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError, AttributeError):
        return False


def libc() -> Any:
    """glibc through ctypes, loaded on first use; None elsewhere."""
    global _libc, _libc_failed  # noqa: PLW0603 - loaded once per process
    if _libc is None and not _libc_failed:
        try:
            if not is_glibc():
                raise OSError("not glibc")
            lib = ctypes.CDLL("libc.so.6")
            lib.malloc_trim.argtypes = [ctypes.c_size_t]
            lib.malloc_trim.restype = ctypes.c_int
            _libc = lib
        except (OSError, AttributeError):
            _libc_failed = True
    return _libc


def malloc_trim_available() -> bool:
    """Whether the ``malloc_trim`` fix can run here."""
    return libc() is not None


def malloc_trim() -> bool:
    """glibc ``malloc_trim(0)``: give free heap pages back to the OS."""
    lib = libc()
    if lib is None:
        return False
    return bool(lib.malloc_trim(0))


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _heap_rss() -> int | None:
    """Resident bytes of the ``[heap]`` mapping (glibc's main arena)."""
    try:
        with open("/proc/self/smaps", "rb") as f:
            in_heap = False
            for line in f:
                if line[:1].isupper() and b":" in line.split(b" ", 1)[0]:
                    if in_heap and line.startswith(b"Rss:"):
                        return int(line.split()[1]) * 1024
                    continue
                in_heap = line.rstrip().endswith(b"[heap]")
    except (OSError, ValueError, IndexError):
        return None
    return 0


def malloc_free_bytes() -> int | None:
    """Bytes free inside glibc's heap that are still resident (what
    ``malloc_trim(0)`` can give back): the ``[heap]`` mapping's RSS minus the
    bytes malloc has handed out (``mallinfo2().uordblks``), at most the free
    bytes (``fordblks``). Free chunks already given back by an earlier trim are
    not resident, so they do not count. Thread arenas are not included."""
    lib = libc()
    if lib is None:
        return None
    try:
        func = lib.mallinfo2  # glibc >= 2.33
    except AttributeError:
        return None
    func.restype = _MallInfo2
    info = func()
    heap = _heap_rss()
    if heap is None:
        return None
    return int(min(info.fordblks, max(heap - info.uordblks, 0)))


_STATS_LINE = re.compile(
    rb"^(#\s*bytes in available blocks|\d+ unused pools \* \d+ bytes)\s*=\s*([\d,]+)", re.M
)


def pymalloc_free_bytes() -> int | None:
    """Bytes free inside the arenas of Python's small-object allocator (pymalloc).

    An arena (1 MiB) goes back to the OS only when every object in it is gone,
    so a few survivors pin whole arenas. The figures come from CPython's own
    ``_PyObject_DebugMallocStats`` written into a memory buffer (``fmemopen``):
    available blocks plus unused pools. Nothing is printed.
    """
    lib = libc()
    if lib is None:
        return None
    try:
        stats = ctypes.pythonapi._PyObject_DebugMallocStats
        fmemopen = lib.fmemopen
        fclose = lib.fclose
    except AttributeError:
        return None
    stats.argtypes = [ctypes.c_void_p]
    stats.restype = ctypes.c_int
    fmemopen.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    fmemopen.restype = ctypes.c_void_p
    fclose.argtypes = [ctypes.c_void_p]
    buf = ctypes.create_string_buffer(1 << 16)
    stream = fmemopen(buf, len(buf) - 1, b"w")
    if not stream:
        return None
    try:
        if not stats(stream):
            return 0  # pymalloc is not in use (PYTHONMALLOC=malloc)
    finally:
        fclose(stream)
    found = _STATS_LINE.findall(buf.value)
    if len(found) != 2:
        return None
    return sum(int(value.replace(b",", b"")) for _label, value in found)


def allocator_gap() -> tuple[int | None, int | None]:
    """``(pymalloc free bytes, glibc free resident bytes)``; None where unknown."""
    return _guard(pymalloc_free_bytes), _guard(malloc_free_bytes)


def allocator_gap_entry() -> dict[str, Any]:
    """``findings.allocator_gap`` plus private parts for the suggestion."""
    py_free, c_free = allocator_gap()
    parts = [p for p in (py_free, c_free) if p is not None]
    return {
        "bytes": sum(parts) if parts else None,
        "malloc_trim": malloc_trim_available(),
        "_pymalloc": py_free,
        "_malloc": c_free,
    }


__all__ = [
    "PYPLOT",
    "Found",
    "ResourceTypes",
    "allocator_gap",
    "cyclic_garbage",
    "findings",
    "is_glibc",
    "malloc_trim",
    "malloc_trim_available",
]
