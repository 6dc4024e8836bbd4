"""Dask clients and the futures each root keeps alive, read without running user code.

Nothing here imports dask or distributed: the classes are read from
``sys.modules`` only when the user's process already imported
``distributed.client`` (:func:`dask_types` is None otherwise, and every
caller then does nothing). Objects are recognised by identity over
``type(obj)``'s MRO and walked with ``gc.get_referents`` (the C
``tp_traverse`` slots), so no ``__getattr__``, ``__eq__``, ``__hash__``,
property or ``__dask_graph__`` of a user object runs.

``distributed.futures_of`` is not used: it calls ``hasattr(x,
"__dask_graph__")`` and ``x.__dask_graph__()`` on arbitrary objects (user
code; on an unpersisted dask-expr collection it lowers and materialises the
whole graph), hashes every key through ``TaskRef`` and raises
``FuturesCancelledError`` once the scheduler connection is lost.

The walk visits objects of the user's; it belongs on the kernel's main thread
between cells, in slices (:class:`FutureWalker`). What it returns holds keys
(str/bytes/int/tuple data) and weak references to clients, never a user
object. Library state (``Client.futures``, distributed's registry of clients)
is copied with one C-level call, as the client's loop thread mutates it.
"""

from __future__ import annotations

import gc
import sys
import time
import types
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..heap.introspect import (
    instance_dict,
    is_a,
    lookup_in_mro,
    module_attr,
    module_dict,
    safe_key_repr,
    type_mro,
    type_ns,
)
from ..heap.ownership import is_kernel_package, package_of_type

#: Bound on the objects one walk visits (all roots together).
MAX_WALK_OBJECTS: Final = 1_000_000
#: Root kinds the walk skips: a thread's frames are distributed's own loop
#: and the kernel's machinery as often as the user's; what only they reach
#: is reported as held by no scanned name.
SKIPPED_ROOT_KINDS: Final = frozenset({"thread"})
#: Objects visited between two clock reads.
_CHUNK: Final = 2048
_DESCEND, _FUTURE, _STOP = 0, 1, 2
_STOP_TYPES: Final = (types.ModuleType, types.CodeType, types.BuiltinFunctionType)


@dataclass(frozen=True)
class DaskTypes:
    """distributed's classes, read from the modules the user already imported."""

    client: type
    future: type
    #: ``distributed.client.FutureState`` (``status`` in a slot), if found.
    future_state: type | None


def dask_types() -> DaskTypes | None:
    """The classes when ``distributed.client`` is imported; else None (never imports it)."""
    client = module_attr("distributed.client", "Client")
    future = module_attr("distributed.client", "Future")
    if not is_a(client, type) or not is_a(future, type):
        return None
    state = module_attr("distributed.client", "FutureState")
    return DaskTypes(client, future, state if is_a(state, type) else None)


# --------------------------------------------------------------------------- clients


def _plain_attr(obj: Any, name: str) -> Any:
    """An attribute from the instance dict (no descriptor, no ``__getattr__``)."""
    return dict.get(instance_dict(obj) or {}, name)


def library_property(obj: Any, name: str, owner: type) -> tuple[bool, Any]:
    """``obj.<name>`` when it resolves to ``owner``'s own property (distributed's
    code), not a subclass's override; ``(False, None)`` otherwise."""
    try:
        own = type_ns(owner).get(name)
    except Exception:
        return False, None
    found, desc = lookup_in_mro(type(obj), name)
    if not found or desc is not own or type(desc) is not property or desc.fget is None:
        return False, None
    try:
        return True, desc.fget(obj)
    except Exception:
        return False, None


def registry_clients(dt: DaskTypes) -> list[Any]:
    """The clients in distributed's own registry (what ``get_client()`` uses): a
    client the user reaches only through futures or the default scheduler."""
    registry = module_attr("distributed.client", "_global_clients")
    if not is_a(registry, weakref.WeakValueDictionary):
        return []
    try:
        # distributed's WeakValueDictionary: copying it runs the stdlib's code only.
        values = list(registry.values())
    except Exception:
        return []
    return [c for c in values if is_a(c, dt.client)]


def client_status(client: Any) -> str:
    """``Client.status`` (running, connecting, closing, closed, newly-created)."""
    status = _plain_attr(client, "status")
    return status if type(status) is str else "unknown"


def client_problem(client: Any, dt: DaskTypes) -> str | None:
    """None when ``client`` can be asked now, else why not (a sentence)."""
    if _plain_attr(client, "_asynchronous") is True:
        # Its loop is the one the cell awaits in; under ipykernel 7 coroutines
        # handed to it from the hooks never ran (observed with distributed 2026.8).
        return "Asynchronous Dask clients (Client(asynchronous=True)) are not measured."
    status = client_status(client)
    if status == "running":
        return None
    if status == "connecting":
        return "The Dask client lost its scheduler and is reconnecting."
    return f"The Dask client is {status}."


def client_loop(client: Any, dt: DaskTypes) -> Any:
    """The asyncio loop the client's coroutines run on, or None."""
    ok, ioloop = library_property(client, "loop", dt.client)
    if not ok or ioloop is None:
        return None
    aloop = dict.get(instance_dict(ioloop) or {}, "asyncio_loop")  # tornado's IOLoop
    if aloop is None:
        return None
    try:
        closed = aloop.is_closed()  # asyncio's own loop class
    except Exception:
        return None
    return None if closed else aloop


def client_address(client: Any) -> str:
    """The scheduler address the client talks to, or ``"?"``."""
    address = _plain_attr(_plain_attr(client, "scheduler"), "addr")  # PooledRPCCall.addr
    return address if type(address) is str else "?"


def held_keys(client: Any) -> set[Any]:
    """The keys the client holds futures for (``Client.futures``), copied in C:
    the loop thread mutates the dict, and a single C call cannot interleave."""
    futures = _plain_attr(client, "futures")
    if type(futures) is not dict:
        return set()
    return set(dict.copy(futures))


def state_status(state: Any, dt: DaskTypes) -> str:
    """``FutureState.status``: pending, finished, cancelled, lost, error."""
    if dt.future_state is None or type(state) is not dt.future_state:
        return "unknown"
    try:
        desc = type_ns(dt.future_state).get("status")
        status = desc.__get__(state, dt.future_state)
    except Exception:
        return "unknown"
    return status if type(status) is str else "unknown"


def held_key_status(client: Any, dt: DaskTypes) -> dict[Any, str]:
    """Every key the client holds futures for, with its status."""
    futures = _plain_attr(client, "futures")
    if type(futures) is not dict:
        return {}
    return {key: state_status(state, dt) for key, state in dict.copy(futures).items()}


def namespace_walls(user_ns: Any, user_ns_hidden: Any, shell: Any) -> list[Any]:
    """Containers the walk never enters: the namespaces, IPython's history and
    output containers, and the shell (their entries are roots of their own)."""
    walls: list[Any] = [x for x in (user_ns, user_ns_hidden, shell) if x is not None]
    for ns in (user_ns, user_ns_hidden):
        if not is_a(ns, dict):
            continue
        for key in ("Out", "_oh", "In", "_ih", "_dh"):
            value = dict.get(ns, key)
            if value is not None:
                walls.append(value)
    return walls


def key_text(key: Any) -> str:
    """A key as display text (keys are str, bytes, int, float or tuples of those)."""
    text = safe_key_repr(key)
    return text if text is not None else f"<{type(key).__name__} key>"


# --------------------------------------------------------------------------- the walk


@dataclass
class RootKeys:
    """What one root keeps alive on the cluster: keys only, no object."""

    label: str
    kind: str
    #: key -> (client index, future status)
    keys: dict[Any, tuple[int, str]] = field(default_factory=dict)


@dataclass
class FutureWalk:
    """The result of a walk: keys per root, weak references to the clients."""

    roots: list[RootKeys]
    #: Index = the client index in :attr:`RootKeys.keys`.
    clients: list[weakref.ReferenceType[Any]]
    visited: int
    truncated: bool
    seconds: float


def _future_key(fut: Any) -> tuple[bool, Any]:
    """``Future.key``: a slot (``TaskRef``/``Future`` ``__slots__``, distributed >=
    2024.12), else the instance dict (older releases)."""
    found, desc = lookup_in_mro(type(fut), "key")
    if found and type(desc) is types.MemberDescriptorType:
        try:
            return True, desc.__get__(fut, type(fut))
        except AttributeError:  # an unset slot
            return False, None
    attrs = instance_dict(fut) or {}
    return ("key" in attrs), dict.get(attrs, "key")


class FutureWalker:
    """For each root, the keys of the ``Future`` objects reachable from it, in slices.

    Breadth first over ``gc.get_referents`` per root; only GC-tracked
    referents are followed (filtered in C): an untracked object (int, str, a
    tuple of those) cannot hold a ``Future``, which is always tracked. Stops
    at futures (recorded), clients, types, modules, code, every module's dict
    and the ``walls`` (the user namespace, IPython's history, the shell).
    Between two :meth:`step` calls the walker holds the objects still to
    visit: a caller finishes it, or drops it with :meth:`result`, before a
    cell runs.
    """

    def __init__(
        self,
        roots: Sequence[Any],
        dt: DaskTypes,
        walls: Iterable[Any] = (),
        max_objects: int = MAX_WALK_OBJECTS,
    ) -> None:
        self._roots = [r for r in roots if r.kind not in SKIPPED_ROOT_KINDS]
        self._dt = dt
        self._wall_ids = {id(x) for x in walls}
        for module in list(sys.modules.values()):  # a C-level copy of the dict's values
            ns = module_dict(module)
            if ns is not None:
                self._wall_ids.add(id(ns))
        self._max = max_objects
        self._clients: list[Any] = []
        self._client_index: dict[int, int] = {}
        self._out: list[RootKeys] = []
        self._index = 0
        self._todo: list[Any] = []
        self._next: list[Any] = []
        self._pos = 0
        self._seen: set[int] = set()
        self._kinds: dict[int, tuple[type, int]] = {}
        self.visited = 0
        self.truncated = False
        self.seconds = 0.0

    def step(self, budget_s: float = 0.05) -> bool:
        """Walk for about ``budget_s`` seconds; True when every root is done."""
        start = time.perf_counter()
        deadline = start + budget_s
        try:
            while True:
                if self._pos >= len(self._todo):
                    if self._next:  # the current root's next level
                        self._todo, self._next, self._pos = self._next, [], 0
                        continue
                    if self._index >= len(self._roots):
                        return True
                    root = self._roots[self._index]
                    self._index += 1
                    self._out.append(RootKeys(root.label, root.kind))
                    if not self.truncated:
                        self._seen = set()
                        self._todo, self._pos = [root.obj], 0
                    del root
                    continue
                self._visit(self._out[-1], _CHUNK)
                if self.visited > self._max:
                    self.truncated = True
                    self._todo, self._next, self._pos = [], [], 0
                if time.perf_counter() > deadline:
                    return False
        finally:
            self.seconds += time.perf_counter() - start

    def _kind(self, tp: type) -> int:
        """What to do with objects of type ``tp``; cached by id (the cache keeps
        the type alive, so an id cannot be reused during the walk)."""
        mro = type_mro(tp)
        if any(cls is self._dt.future for cls in mro):
            kind = _FUTURE
        elif (
            any(cls is type for cls in mro)
            or any(tp is stop for stop in _STOP_TYPES)
            or any(cls is self._dt.client for cls in mro)
            # The kernel's machinery (the shell, its display hook, tornado's loops):
            # what it holds is reported under its own roots (``_``, ``Out[n]``).
            or is_kernel_package(package_of_type(tp))
        ):
            kind = _STOP
        else:
            kind = _DESCEND
        self._kinds[id(tp)] = (tp, kind)
        return kind

    def _visit(self, rk: RootKeys, count: int) -> None:
        """Visit up to ``count`` objects of the current level."""
        seen, walls, todo, nxt, kinds = (
            self._seen,
            self._wall_ids,
            self._todo,
            self._next,
            self._kinds,
        )
        end = min(len(todo), self._pos + count)
        for i in range(self._pos, end):
            obj = todo[i]
            oid = id(obj)
            if oid in seen or oid in walls:
                continue
            seen.add(oid)
            self.visited += 1
            tp = type(obj)
            hit = kinds.get(id(tp))
            kind = hit[1] if hit is not None else self._kind(tp)
            if kind == _DESCEND:
                nxt.extend(filter(gc.is_tracked, gc.get_referents(obj)))
            elif kind == _FUTURE:
                self._record(rk, obj)
        self._pos = end

    def _record(self, rk: RootKeys, fut: Any) -> None:
        ok, key = _future_key(fut)
        attrs = instance_dict(fut) or {}
        client = dict.get(attrs, "_client")
        if not ok or client is None or not is_a(client, self._dt.client):
            return
        status = state_status(dict.get(attrs, "_state"), self._dt)
        idx = self._client_index.get(id(client))
        if idx is None:
            idx = self._client_index[id(client)] = len(self._clients)
            self._clients.append(client)
        rk.keys[key] = (idx, status)

    def result(self) -> FutureWalk:
        """The keys found; drops every object reference the walker held."""
        refs = [weakref.ref(c) for c in self._clients]
        self._clients.clear()
        self._client_index.clear()
        self._todo, self._next = [], []
        self._seen = set()
        self._kinds = {}
        self._roots = []
        return FutureWalk(self._out, refs, self.visited, self.truncated, self.seconds)


def walk_roots(
    roots: Sequence[Any],
    dt: DaskTypes,
    walls: Iterable[Any] = (),
    max_objects: int = MAX_WALK_OBJECTS,
) -> FutureWalk:
    """:class:`FutureWalker` in one go (tests and callers without an event loop)."""
    walker = FutureWalker(roots, dt, walls, max_objects)
    while not walker.step(3600.0):
        pass
    return walker.result()


@dataclass
class KeyGroup:
    """Keys kept alive by exactly one set of roots: one cluster holder."""

    labels: list[str]
    kinds: list[str]
    client: int
    keys: list[Any]
    status: dict[str, int]


def group_keys(walk: FutureWalk) -> list[KeyGroup]:
    """One group per *set of roots*: a key reached from roots A and B is in the
    group ``[A, B]`` only, so shared keys are counted once, jointly."""
    owners: dict[int, dict[Any, Any]] = {}  # client index -> key -> root index | [indexes]
    for i, rk in enumerate(walk.roots):
        for key, (cidx, _status) in rk.keys.items():
            by_key = owners.setdefault(cidx, {})
            prev = by_key.get(key)
            if prev is None:
                by_key[key] = i
            elif type(prev) is int:
                by_key[key] = [prev, i]
            else:
                prev.append(i)
    groups: dict[tuple[int, Any], KeyGroup] = {}
    for cidx, by_key in owners.items():
        for key, own in by_key.items():
            idxs = [own] if type(own) is int else own
            sig = (cidx, tuple(idxs))
            group = groups.get(sig)
            if group is None:
                # A name the roots list twice (``_`` in the namespace and on the
                # display hook) is one label.
                labels: dict[str, str] = {}
                for i in idxs:
                    labels.setdefault(walk.roots[i].label, walk.roots[i].kind)
                group = groups[sig] = KeyGroup(list(labels), list(labels.values()), cidx, [], {})
            group.keys.append(key)
            status = walk.roots[idxs[0]].keys[key][1]
            group.status[status] = group.status.get(status, 0) + 1
    return list(groups.values())


__all__ = [
    "MAX_WALK_OBJECTS",
    "DaskTypes",
    "FutureWalk",
    "FutureWalker",
    "KeyGroup",
    "RootKeys",
    "client_address",
    "client_loop",
    "client_problem",
    "client_status",
    "dask_types",
    "group_keys",
    "held_key_status",
    "held_keys",
    "key_text",
    "library_property",
    "namespace_walls",
    "registry_clients",
    "state_status",
    "walk_roots",
]
