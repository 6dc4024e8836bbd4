"""The cluster scan and the release: requests that walk the user's objects.

``scan_cluster`` answers which names (hidden holders included: ``Out[n]``,
``_``, the last traceback, closures) keep which keys alive on each connected
Dask cluster, with their bytes, workers and spilled share, and each worker's
memory against its limit. ``release_cluster`` deletes the names of chosen
holders and measures what the scheduler reports freed.

Each request is a small state machine on the kernel's main loop:

1. **quiet**: wait until no cell and no heap scan runs;
2. **walk**: enumerate the roots (``heap.roots``) and walk them for futures
   (``advice.futures.FutureWalker``) in slices; a cell starting between two
   slices restarts the walk, so no user object is held while a cell runs;
3. **query**: one round trip per client on its own loop
   (``cluster_query.holders_query``), polled from the main loop;
4. for a release, **delete** (main loop, quiet again, no cell since the walk)
   and **measure** (``cluster_query.release_query``), then the reply.

Without an event loop or a comm to answer on later, the same phases run at
once, blocking (tests and in-process callers only).
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Final

from ..advice import cluster as advice
from ..advice.futures import (
    DaskTypes,
    FutureWalker,
    KeyGroup,
    client_address,
    dask_types,
    group_keys,
    held_key_status,
    namespace_walls,
    registry_clients,
)
from ..log import quiet_logger
from ..protocol import (
    CLUSTER_WAIT_S,
    CLUSTER_WALK_BUDGET_S,
    ERR_REFUSED,
    FIX_WAIT_S,
    reply_error,
)
from .cluster_query import (
    ClientState,
    Query,
    holders_query,
    release_query,
    settled,
    status_of,
)
from .runner import WAIT_POLL_S, ScanRunner, on_loop
from .server import BadRequest, Reply, Request

_log = quiet_logger(__name__)

_WALK_SLICE_S: Final = 0.05
_MAX_RESTARTS: Final = 5
_MAX_RELEASE_HOLDERS: Final = 1000
_MAX_LABELS: Final = 1000


@dataclass
class _Job:
    """A ``scan_cluster`` or ``release_cluster`` request in progress."""

    reply: Reply
    release: list[list[str]] | None = None
    scheduler: str | None = None
    queued: float = field(default_factory=time.monotonic)
    #: When the request came (wall clock: compared with the workers' samples).
    started_at: float = field(default_factory=time.time)
    phase: str = "quiet"
    restarts: int = 0
    cells_at_walk: int = 0
    walker: FutureWalker | None = None
    walk_started: float = 0.0
    #: Weak references to every client found (index = client index).
    clients: list[weakref.ReferenceType[Any]] = field(default_factory=list)
    groups: list[KeyGroup] = field(default_factory=list)
    walk_info: dict[str, Any] = field(default_factory=dict)
    queries: list[Query | None] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    deleted_at: float = 0.0


def _parse_release(data: Mapping[str, Any]) -> tuple[list[list[str]], str | None]:
    """The holders (label lists) and the scheduler a ``release_cluster`` names."""
    holders = data.get("holders")
    if (
        not isinstance(holders, list)
        or not holders
        or len(holders) > _MAX_RELEASE_HOLDERS
        or not all(
            isinstance(h, list)
            and 0 < len(h) <= _MAX_LABELS
            and all(isinstance(x, str) and 0 < len(x) <= 1000 for x in h)
            for h in holders
        )
    ):
        raise BadRequest(
            "'release_cluster' needs 'holders': a non-empty list of holders, each the "
            'list of labels the cluster scan gave it (e.g. [["df", "Out[4]"]]).'
        )
    scheduler = data.get("scheduler")
    if scheduler is not None and (not isinstance(scheduler, str) or len(scheduler) > 1000):
        raise BadRequest("'scheduler' must be the address the cluster scan reported.")
    return [list(h) for h in holders], scheduler


def _delete_and_collect(shell: Any, labels: list[str]) -> dict[str, list[str]]:
    """Delete the names, then collect reference cycles, as the ``delete_holder`` fix
    does: what holds futures may be cyclic garbage by now (the Jedi completer's
    state after a Tab on the name, dask-expr's graphs), and only a collection
    releases those futures."""
    deleted = advice.delete_labels(shell, labels)
    gc.collect()
    return deleted


class ClusterRequests:
    """Serves ``scan_cluster`` and ``release_cluster`` for one shell.

    ``cells_started()`` counts the cells started so far (a walk restarts when
    it changed); ``state_of(client)`` is the per-client state the cell hooks
    share; ``is_client(tp)`` tells a ``Client`` type.
    """

    def __init__(
        self,
        shell_ref: Callable[[], Any],
        runner: ScanRunner,
        *,
        cells_started: Callable[[], int],
        state_of: Callable[[Any], ClientState],
        is_client: Callable[[type, DaskTypes], bool],
    ) -> None:
        self._shell_ref = shell_ref
        self._runner = runner
        self._cells = cells_started
        self._state_of = state_of
        self._is_client_type = is_client
        self._lock = threading.Lock()
        self._jobs: list[_Job] = []
        self._closed = False

    def cell_starting(self) -> None:
        """A cell starts: drop every walker (it holds user objects between slices)."""
        if not self._jobs:  # the common case: no lock
            return
        with self._lock:
            for job in self._jobs:
                if job.walker is not None:
                    job.walker = None
                    job.phase = "quiet"
                    job.restarts += 1

    def shutdown(self) -> None:
        """Unload: drop every request in progress without a reply."""
        self._closed = True
        with self._lock:
            for job in self._jobs:
                job.walker = None
            self._jobs.clear()

    def handle_scan_cluster(self, request: Request, reply: Reply) -> None:
        """``scan_cluster``: which names hold what on each cluster, and each worker's memory."""
        self._start(_Job(reply))

    def handle_release_cluster(self, request: Request, reply: Reply) -> None:
        """``release_cluster``: delete the holders' names, measure what the workers free."""
        holders, scheduler = _parse_release(request.data)
        self._start(_Job(reply, release=holders, scheduler=scheduler))

    def _start(self, job: _Job) -> None:
        dt = dask_types()
        if dt is None:
            if job.release is None:
                job.reply.ok({"clusters": [], "walk": None})
            else:
                job.reply.error(
                    ERR_REFUSED, "No Dask client is connected in this kernel: nothing to release."
                )
            return
        loop = self._runner.main_loop() if job.reply.deferrable else None
        if loop is None:
            self._run_blocking(job, dt)
            return
        with self._lock:
            self._jobs.append(job)
        if on_loop(loop):
            self._job_tick(job)
        else:
            loop.add_callback(self._job_tick, job)

    def _run_blocking(self, job: _Job, dt: DaskTypes) -> None:
        """No loop or no comm to answer on later: run every phase here."""
        job.phase = "walk"
        while True:
            delay = self._advance(job, dt, blocking=True)
            if delay is None:
                return
            time.sleep(delay)

    def _job_tick(self, job: _Job) -> None:
        loop = self._runner.main_loop()
        delay: float | None = None
        try:
            dt = dask_types()
            if self._closed or loop is None or dt is None:
                self._give_up(job, "The Memory Doctor helper was unloaded.")
            else:
                delay = self._advance(job, dt, blocking=False)
        except Exception:
            _log.debug("cluster request failed", exc_info=True)
            self._give_up(job, "The cluster request failed; your kernel is unaffected.")
        if delay is not None and loop is not None:
            loop.call_later(delay, self._job_tick, job)
        else:
            with self._lock:
                if job in self._jobs:
                    self._jobs.remove(job)

    def _quiet(self) -> bool:
        return self._runner.running is None and not self._runner.is_cell_running()

    def _advance(self, job: _Job, dt: DaskTypes, *, blocking: bool) -> float | None:
        """Run ``job``'s next step; the delay before the one after, None when answered."""
        if job.phase == "quiet":
            if job.restarts > _MAX_RESTARTS or not self._quiet():
                return self._still_busy(job)
            job.phase = "walk"
        if job.phase == "walk":
            return self._walk(job, dt, blocking=blocking)
        if job.phase == "query":
            return self._answered(job, blocking=blocking)
        if job.phase == "delete":
            return self._delete(job, dt, blocking=blocking)
        if job.phase == "measure":
            if not settled(job.queries, blocking=blocking):
                return 0.05
            self._reply_release(job)
        return None

    def _still_busy(self, job: _Job) -> float | None:
        if job.restarts > _MAX_RESTARTS:
            self._give_up(job, "Cells kept running while the cluster was scanned; ask again.")
            return None
        wait_s = FIX_WAIT_S if job.release is not None else CLUSTER_WAIT_S
        if time.monotonic() - job.queued <= wait_s:
            return WAIT_POLL_S
        self._give_up(
            job,
            f"A cell or scan kept running for {wait_s:g} s; nothing was changed. "
            "Ask again when the cell is done.",
        )
        return None

    def _answered(self, job: _Job, *, blocking: bool) -> float | None:
        if not settled(job.queries, blocking=blocking):
            return 0.05
        if job.release is None:
            self._reply_scan(job)
            return None
        return self._prepare_release(job)

    def _restart(self, job: _Job) -> float | None:
        job.walker = None
        job.restarts += 1
        if job.restarts > _MAX_RESTARTS:
            self._give_up(job, "Cells kept running while the cluster was scanned; ask again.")
            return None
        job.phase = "quiet"
        job.queries = []
        return WAIT_POLL_S

    def _walk(self, job: _Job, dt: DaskTypes, *, blocking: bool) -> float | None:
        """Walk the roots for futures, in slices between which cells may run."""
        if job.walker is not None and self._cells() != job.cells_at_walk:
            return self._restart(job)
        if job.walker is None and not self._runner.run_exclusive(lambda: self._begin_walk(job, dt)):
            return None
        walker = job.walker
        assert walker is not None  # noqa: S101 - set by _begin_walk
        slice_s = 3600.0 if blocking else _WALK_SLICE_S
        done = self._runner.run_exclusive(lambda: walker.step(slice_s))
        if not done and time.monotonic() - job.walk_started < CLUSTER_WALK_BUDGET_S:
            return 0.002
        walker.truncated = walker.truncated or not done
        walk = walker.result()
        job.walker = None
        job.walk_info = {
            "visited": walk.visited,
            "truncated": walk.truncated,
            "seconds": round(walk.seconds, 4),
        }
        remap: dict[int, int] = {}
        for old, ref in enumerate(walk.clients):
            client = ref()
            if client is None:
                continue
            found = [i for i, r in enumerate(job.clients) if r() is client]
            if not found:
                job.clients.append(weakref.ref(client))
                found = [len(job.clients) - 1]
            remap[old] = found[0]
            del client
        groups = group_keys(walk)
        for group in groups:
            group.client = remap.get(group.client, -1)
        job.groups = [g for g in groups if g.client >= 0]
        self._submit_queries(job, dt)
        job.phase = "query"
        return 0.0 if blocking else 0.05

    def _begin_walk(self, job: _Job, dt: DaskTypes) -> bool:
        """Roots, clients and the walker, on the main thread between cells."""
        from ..heap.roots import enumerate_roots  # noqa: PLC0415 - the heap engine, on demand

        shell = self._shell_ref()
        ns = getattr(shell, "user_ns", None)
        if not isinstance(ns, dict):
            self._give_up(job, "The kernel has no user namespace to scan.")
            return False
        roots = enumerate_roots(ns, getattr(shell, "user_ns_hidden", None))
        clients: list[Any] = [r.obj for r in roots if self._is_client_type(type(r.obj), dt)]
        clients.extend(registry_clients(dt))
        job.clients = []
        for client in clients:
            if not any(r() is client for r in job.clients):
                job.clients.append(weakref.ref(client))
        del clients
        job.cells_at_walk = self._cells()
        job.walk_started = time.monotonic()
        # The containers whose entries are roots: the heap's list (``walls``, or
        # ``stops`` in the rewritten engine) and our own, so the walk never
        # enters the namespace, IPython's history or the shell from elsewhere.
        walls = list(getattr(roots, "walls", None) or getattr(roots, "stops", None) or [])
        walls.extend(namespace_walls(ns, getattr(shell, "user_ns_hidden", None), shell))
        job.walker = FutureWalker(roots, dt, walls)
        del roots
        return True

    def _submit_queries(self, job: _Job, dt: DaskTypes) -> None:
        """One round trip per client: its workers' memory and its keys' sizes and places."""
        job.queries = []
        if job.release is not None:
            self._plan_release(job)
        for idx, ref in enumerate(job.clients):
            client = ref()
            if client is None:
                job.queries.append(None)
                continue
            if job.release is not None and idx != job.plan.get("client"):
                job.queries.append(None)
                continue
            attributed = {k for g in job.groups if g.client == idx for k in g.keys}
            if job.release is None:
                other = {
                    k: s for k, s in held_key_status(client, dt).items() if k not in attributed
                }
                extra = advice.unattributed_group(idx, other)
                if extra is not None:
                    job.groups.append(extra)
            if job.release is None:
                keys = [k for g in job.groups if g.client == idx for k in g.keys]
            else:
                keys = list(job.plan["keys"])
            state = self._state_of(client)
            fresh = job.started_at if job.release is not None else None
            job.queries.append(holders_query(client, dt, state, keys, fresh))
            del client

    def _reply_scan(self, job: _Job) -> None:
        sections = []
        for idx, ref in enumerate(job.clients):
            query = job.queries[idx] if idx < len(job.queries) else None
            client = ref()
            address = client_address(client) if client is not None else "?"
            del client
            groups = [g for g in job.groups if g.client == idx]
            if query is None:
                continue
            outcome = query.outcome()
            if outcome["status"] == "ok":
                answers = outcome["value"]
                rows = advice.holders(groups, answers, answers["reading"])
                sections.append(
                    advice.section(
                        address,
                        status="ok",
                        error=None,
                        reading=answers["reading"],
                        rows=rows,
                        round_trip_ms=outcome["round_trip_ms"],
                    )
                )
            else:
                rows = advice.holders(groups, None, None)
                sections.append(
                    advice.section(
                        address,
                        status=status_of(outcome),
                        error=outcome.get("error"),
                        reading=None,
                        rows=rows,
                        round_trip_ms=None,
                    )
                )
        job.reply.ok({"clusters": sections, "walk": job.walk_info})

    # -- release ---------------------------------------------------------------------------

    def _plan_release(self, job: _Job) -> None:
        """Which client the holders are on, and what to delete (``advice.plan``)."""
        assert job.release is not None  # noqa: S101 - release jobs only
        wanted = {frozenset(h) for h in job.release}
        candidates = []
        for idx, ref in enumerate(job.clients):
            client = ref()
            if client is None:
                continue
            address = client_address(client)
            del client
            if job.scheduler is not None and address != job.scheduler:
                continue
            groups = [g for g in job.groups if g.client == idx]
            hits = sum(1 for g in groups if frozenset(g.labels) in wanted)
            candidates.append((hits, idx, groups))
        if not candidates:
            job.plan = {"client": None}
            return
        _hits, idx, groups = max(candidates, key=lambda c: c[0])
        job.plan = {"client": idx, **advice.plan(groups, job.release)}

    def _prepare_release(self, job: _Job) -> float | None:
        plan = job.plan
        idx = plan.get("client")
        if idx is None:
            self._give_up(
                job,
                "No connected Dask client holds these names any more; scan the cluster again.",
            )
            return None
        if not plan["labels"]:
            why = []
            if plan["missing"]:
                shown = ", ".join(" + ".join(h) for h in plan["missing"][:3])
                wanted = {label for h in plan["missing"] for label in h}
                now = [
                    " + ".join(g.labels)
                    for g in job.groups
                    if g.client == idx and wanted & set(g.labels)
                ]
                held = f"; now held by {', '.join(now[:3])}" if now else ""
                why.append(f"{shown} changed since the scan{held} (scan the cluster again)")
            if plan["refused"]:
                shown = ", ".join(" + ".join(h) for h in plan["refused"][:3])
                why.append(
                    f"{shown} cannot be released by deleting names (a closure, default "
                    "argument or class attribute holds it: redefine or delete its owner)"
                )
            self._give_up(job, "Nothing was released: " + "; ".join(why or ["no holder"]) + ".")
            return None
        outcome = job.queries[idx].outcome() if job.queries[idx] is not None else None
        if outcome is None or outcome["status"] != "ok":
            error = (outcome or {}).get("error") or "The Dask client is gone."
            self._give_up(job, f"Nothing was released: the scheduler cannot be asked ({error})")
            return None
        job.answers = outcome["value"]
        job.phase = "delete"
        return 0.0

    def _delete(self, job: _Job, dt: DaskTypes, *, blocking: bool) -> float | None:
        """Delete the names (main thread, between cells), then measure on the client's loop."""
        if not blocking and not self._quiet():
            job.phase = "quiet"  # walk again once quiet: the namespace may change
            return WAIT_POLL_S
        if self._cells() != job.cells_at_walk:
            return self._restart(job)  # a cell ran since the walk: walk again
        shell = self._shell_ref()
        if shell is None:
            self._give_up(job, "The kernel's shell is gone.")
            return None
        labels = job.plan["labels"]
        job.deleted = self._runner.run_exclusive(lambda: _delete_and_collect(shell, labels))
        job.deleted_at = time.time()
        client = job.clients[job.plan["client"]]()
        if client is None:
            job.queries = [Query(0.0, None, "The Dask client is gone.")]
        else:
            job.queries = [
                release_query(
                    client,
                    dt,
                    self._state_of(client),
                    job.plan["keys"],
                    job.answers["reading"],
                    job.deleted_at,
                )
            ]
        del client
        job.phase = "measure"
        return 0.05

    def _reply_release(self, job: _Job) -> None:
        idx = job.plan["client"]
        client = job.clients[idx]()
        address = client_address(client) if client is not None else "?"
        del client
        query = job.queries[0] if job.queries else None
        outcome: dict[str, Any] = (
            query.outcome() if query is not None else {"status": "error", "error": None}
        )
        result: dict[str, Any] = {
            "scheduler": address,
            "status": status_of(outcome) if outcome["status"] != "ok" else "ok",
            "error": outcome.get("error"),
            "deleted": job.deleted.get("deleted", []),
            "kept": job.deleted.get("kept", []),
            "missing": job.plan["missing"],
            "refused": job.plan["refused"],
            "estimate_bytes": advice.estimate(job.plan["groups"], job.answers),
        }
        measured: dict[str, Any] | None = (
            outcome.get("value") if outcome["status"] == "ok" else None
        )
        result.update(
            measured
            if measured is not None
            else {
                "keys": len(job.plan["keys"]),
                "released_keys": None,
                "still_held_keys": None,
                "freed": None,
                "freed_bytes": None,
                "workers": [],
                "freed_on_workers": 0,
                "seconds_to_forget": None,
                "seconds_to_report": round(time.time() - job.deleted_at, 3),
                "settled": False,
                "polls": 0,
            }
        )
        job.reply.ok(result)

    def _give_up(self, job: _Job, message: str) -> None:
        job.walker = None
        if not job.reply.answered:
            job.reply.send(reply_error(job.reply.request_id, ERR_REFUSED, message[:1000]))


__all__ = ["ClusterRequests"]
