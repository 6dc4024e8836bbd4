"""Dask cluster memory in the kernel: per-cell readings, the cluster scan, releases.

Everything here is off unless the user's process already imported
``distributed.client`` and holds a connected ``Client`` (found in the
namespace, in distributed's own registry, or through the futures a walk
reaches); nothing of dask's is imported and no client is ever created.

Threads. The kernel's main thread never waits on the network:

- the hooks (``pre_run_cell``/``post_run_cell``) only look for clients (type
  checks) and copy the set of keys each client holds (one C-level copy of
  ``Client.futures``: the cell creates futures on this thread,
  synchronously), then hand a coroutine to the client's own event loop
  (``asyncio.run_coroutine_threadsafe``; a sync ``Client`` runs its loop in a
  thread of its own) and return;
- every scheduler request is such a coroutine, bounded on that loop by
  ``asyncio.wait_for`` and read later without blocking (:class:`Query`);
  ``Client.scheduler_info()`` and the other sync methods are never called:
  with a dead scheduler they block the caller for up to 30 s;
- a timer on the kernel's main loop collects finished queries and sends the
  ``cell_cluster`` messages and the deferred replies;
- walking the user's objects (the cluster scan, a release) and deleting names
  runs on the main loop between cells, in slices, like the heap scan
  (``cluster_requests.py``).

Per cell, the exact figure is **key-attributed**: the keys a cell added
(main-thread copies before and after it) and released (``Future.__del__``
releases through a callback on the client's loop, so the copy taken by our
coroutine there, queued after the cell's releases, sees them all), with their
``nbytes`` from the scheduler. Process memory comes from heartbeats, which lag
by about a second: the "after" reading is taken once ``CLUSTER_SETTLE_S``
after the cell, in one round trip, and re-read only while a ``persist()`` is
still computing or a worker's sample is older than the cell's end (at most
``CLUSTER_MAX_SETTLE_S``). The "before" reading is the newest one held (the
previous cell's "after").

Between requests this module holds weak references to clients, keys (plain
str/tuple data) and readings (numbers), never a user object.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Final

from ..advice import cluster as advice
from ..advice.futures import (
    DaskTypes,
    client_address,
    client_status,
    dask_types,
    held_keys,
    registry_clients,
)
from ..heap.introspect import mro_has
from ..log import quiet_logger
from ..protocol import MSG_CELL_CLUSTER, CellCluster, CellClusterMessage
from .cluster_query import (
    ClientState,
    Query,
    after_query,
    reading_query,
    status_of,
)
from .cluster_requests import ClusterRequests
from .runner import ScanRunner, on_loop
from .server import Reply, Request

_log = quiet_logger(__name__)

#: Per-cell queries in flight per client (Run All overlaps their settling).
MAX_INFLIGHT: Final = 64
_POLL_S: Final = 0.2


@dataclass
class _Cell:
    """One client's part of a cell being measured."""

    info_id: int
    state: ClientState
    keys_before: set[Any]
    before: dict[str, Any] | None
    before_query: Query | None = None
    after: Query | None = None
    count: int | None = None
    cell_id: str | None = None
    #: Other clients of the same scheduler: their keys count with this one's.
    others: list[weakref.ReferenceType[Any]] = field(default_factory=list)


class ClusterWatch:
    """The cluster part of one shell's helper: hooks, timer, two request handlers.

    ``emit(message)`` sends a finished ``cell_cluster`` message (the helper
    also stores it in the cell's record for replay).
    """

    def __init__(
        self,
        shell_ref: Callable[[], Any],
        runner: ScanRunner,
        emit: Callable[[CellClusterMessage], None],
    ) -> None:
        self._shell_ref = shell_ref
        self._runner = runner
        self._emit = emit
        self._lock = threading.RLock()
        self._clients: dict[str, ClientState] = {}
        self._pending: list[_Cell] = []
        self._timer = False
        #: Measured cells started so far: a walk that saw a cell start restarts.
        self._cells_started = 0
        #: id(type) -> (weak reference to it, is a Client): namespace checks cost one
        #: dict lookup per value, and no user class is kept alive by the cache.
        self._type_cache: dict[int, tuple[weakref.ReferenceType[type], bool]] = {}
        self._closed = False
        self._requests = ClusterRequests(
            shell_ref,
            runner,
            cells_started=lambda: self._cells_started,
            state_of=self.state_of,
            is_client=self.is_client_type,
        )

    # -- hooks (main thread, or the thread running the cell) -----------------------

    def note_cell(self) -> None:
        """``pre_run_cell`` of every cell: a walk in progress drops what it holds now
        (it walks again once the cell ended), so the cell runs with none of its
        objects held by us."""
        self._cells_started += 1
        self._requests.cell_starting()

    def cell_started(self, info_id: int) -> None:
        """``pre_run_cell`` of a measured cell: copy each client's held keys; never raises."""
        try:
            dt = dask_types()
            if dt is None:
                return
            clients = self._live_clients(dt)
            if not clients:
                return
            with self._lock:
                by_address: dict[str, list[Any]] = {}
                for client in clients:
                    by_address.setdefault(client_address(client), []).append(client)
                for group in by_address.values():
                    # Several clients of one scheduler: one entry, all their keys.
                    client = group[0]
                    state = self.state_of(client)
                    keys = set().union(*(held_keys(c) for c in group))
                    cell = _Cell(info_id, state, keys, state.latest)
                    cell.others = [weakref.ref(c) for c in group[1:]]
                    if state.latest is None:
                        cell.before_query = self._track(state, reading_query(client, dt, state))
                    self._pending.append(cell)
        except Exception:  # a guest never raises into a cell
            _log.debug("cluster pre_run_cell failed", exc_info=True)

    def cell_finished(self, info_id: int, count: int | None, cell_id: str | None) -> bool:
        """``post_run_cell``: start each client's "after" query; True when a
        ``cell_cluster`` message will follow for this cell."""
        try:
            with self._lock:
                mine = [c for c in self._pending if c.info_id == info_id and c.after is None]
                if not mine:
                    return False
                dt = dask_types()
                ended = time.time()
                for cell in mine:
                    cell.count, cell.cell_id = count, cell_id
                    client = cell.state.ref()
                    if client is None or dt is None:
                        cell.after = Query(0.0, None, "The Dask client is gone.")
                        continue
                    group = [client, *(c for c in (r() for r in cell.others) if c is not None)]
                    added = set().union(*(held_keys(c) for c in group)) - cell.keys_before
                    del group
                    keys_before, cell.keys_before = cell.keys_before, set()
                    cell.after = self._refusal(cell.state) or self._track(
                        cell.state,
                        after_query(
                            client, dt, cell.state, keys_before, ended, added, others=cell.others
                        ),
                    )
                    del client
            self._schedule()
            return True
        except Exception:
            _log.debug("cluster post_run_cell failed", exc_info=True)
            return False

    def forget(self, info_id: int) -> None:
        """The cell ended without a record (a ``%memory`` magic, a failed hook)."""
        with self._lock:
            self._pending = [
                c for c in self._pending if not (c.info_id == info_id and c.after is None)
            ]

    # -- clients --------------------------------------------------------------------

    def is_client_type(self, tp: type, dt: DaskTypes) -> bool:
        """Whether ``tp`` is distributed's ``Client`` or a subclass (cached per type)."""
        hit = self._type_cache.get(id(tp))
        if hit is None or hit[0]() is not tp:
            try:
                ref = weakref.ref(tp)
            except TypeError:  # not weakly referenceable: do not cache
                return mro_has(tp, dt.client)
            if len(self._type_cache) > 10_000:
                self._type_cache.clear()
            hit = self._type_cache[id(tp)] = (ref, mro_has(tp, dt.client))
        return hit[1]

    def _live_clients(self, dt: DaskTypes) -> list[Any]:
        """Connected-or-reconnecting clients: remembered, bound to a name, registered."""
        found: dict[int, Any] = {}
        for state in list(self._clients.values()):
            client = state.ref()
            if client is not None:
                found.setdefault(id(client), client)
        shell = self._shell_ref()
        ns = getattr(shell, "user_ns", None)
        if isinstance(ns, dict):
            for value in list(dict.values(ns)):
                if self.is_client_type(type(value), dt):
                    found.setdefault(id(value), value)
        for client in registry_clients(dt):
            found.setdefault(id(client), client)
        live = [c for c in found.values() if client_status(c) not in ("closed", "closing")]
        with self._lock:
            busy = {id(p.state) for p in self._pending}
            for address, state in list(self._clients.items()):
                if state.ref() is None and id(state) not in busy:
                    del self._clients[address]
        return live

    def state_of(self, client: Any) -> ClientState:
        """The state kept for ``client`` (by scheduler address; a new client replaces it)."""
        address = client_address(client)
        state = self._clients.get(address)
        if state is None or state.ref() is not client:
            state = self._clients[address] = ClientState(weakref.ref(client), address)
        return state

    def _track(self, state: ClientState, query: Query) -> Query:
        if query.future is not None:
            state.inflight.append(query)
        return query

    def _refusal(self, state: ClientState) -> Query | None:
        """A refused query when the client's earlier queries are stuck, else None."""
        state.inflight = [q for q in state.inflight if not q.done()]
        late = [q for q in state.inflight if q.late()]
        if late:
            waited = max(time.monotonic() - q.submitted for q in late)
            return Query(
                0.0,
                None,
                f"The Dask client's event loop has not answered for {waited:.0f} s.",
                refused="busy",
            )
        if len(state.inflight) >= MAX_INFLIGHT:
            return Query(
                0.0,
                None,
                f"{len(state.inflight)} cluster queries are still waiting for the scheduler.",
                refused="busy",
            )
        return None

    # -- the timer on the main loop --------------------------------------------------------

    def _schedule(self) -> None:
        """Make sure the poll timer runs (thread-safe)."""
        loop = self._runner.main_loop()
        if loop is None:
            return  # no loop (a plain shell): the next hook or poll() collects
        with self._lock:
            if self._timer:
                return
            self._timer = True
        if on_loop(loop):
            loop.call_later(_POLL_S, self._tick)
        else:
            loop.add_callback(lambda: loop.call_later(_POLL_S, self._tick))

    def _tick(self) -> None:
        with self._lock:
            self._timer = False
        if self._closed:
            return
        try:
            self.poll()
        except Exception:
            _log.debug("cluster poll failed", exc_info=True)
        with self._lock:
            again = any(c.after is not None for c in self._pending)
        if again:
            self._schedule()

    def poll(self) -> list[CellClusterMessage]:
        """Send the ``cell_cluster`` messages whose queries all finished; never blocks."""
        ready: dict[int, list[_Cell]] = {}
        with self._lock:
            by_cell: dict[int, list[_Cell]] = {}
            for cell in self._pending:
                if cell.after is not None:
                    by_cell.setdefault(cell.info_id, []).append(cell)
            for info_id, cells in by_cell.items():
                if all(_finished(c) for c in cells):
                    ready[info_id] = cells
            if ready:
                self._pending = [c for c in self._pending if c.info_id not in ready]
        messages = [self._message(cells) for cells in ready.values()]
        for message in messages:
            self._emit(message)
        return messages

    def _message(self, cells: list[_Cell]) -> CellClusterMessage:
        entries = [_entry(c) for c in cells]
        first = cells[0]
        cluster: CellCluster = {
            "pending": False,
            "delta_bytes": advice.cell_delta(entries),
            "clusters": entries,  # type: ignore[typeddict-item]  # built by advice as plain dicts
        }
        return {
            "type": MSG_CELL_CLUSTER,
            "execution_count": first.count or 0,
            "cell_id": first.cell_id,
            "cluster": cluster,
        }

    def shutdown(self) -> None:
        """Unload: forget every client and pending query (their coroutines end alone)."""
        self._closed = True
        with self._lock:
            self._pending.clear()
            self._clients.clear()
        self._requests.shutdown()

    # -- requests -------------------------------------------------------------------------

    def handle_scan_cluster(self, request: Request, reply: Reply) -> None:
        """``scan_cluster``: which names hold what on each cluster, each worker's memory."""
        self._requests.handle_scan_cluster(request, reply)

    def handle_release_cluster(self, request: Request, reply: Reply) -> None:
        """``release_cluster``: delete the holders' names, measure what the workers free."""
        self._requests.handle_release_cluster(request, reply)


def _finished(cell: _Cell) -> bool:
    queries = [q for q in (cell.before_query, cell.after) if q is not None]
    return cell.after is not None and all(q.done() or q.late() for q in queries)


def _entry(cell: _Cell) -> dict[str, Any]:
    """One client's part of the cell's ``cell_cluster`` message."""
    address = cell.state.address
    after: dict[str, Any] = (
        cell.after.outcome() if cell.after is not None else {"status": "error", "error": None}
    )
    if after["status"] != "ok":
        return advice.failed_cell_entry(address, status_of(after), after.get("error"))
    before = cell.before
    if before is None and cell.before_query is not None:
        first = cell.before_query.outcome()
        before = first.get("value") if first["status"] == "ok" else None
    value: dict[str, Any] = after["value"]
    return advice.cell_entry(
        address, before, value["reading"], value["keys"], value["round_trip_ms"]
    )


__all__ = ["MAX_INFLIGHT", "ClusterWatch"]
