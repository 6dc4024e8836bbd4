"""Scheduler queries on a Dask client's own event loop, read without blocking.

The kernel's main thread never waits on the network: :func:`submit` hands a
coroutine to the client's loop (``asyncio.run_coroutine_threadsafe``; a sync
``Client`` runs its loop in a thread of its own), bounded there by
``asyncio.wait_for``, and returns a :class:`Query` at once; the hooks and the
main loop's timer read :meth:`Query.outcome` later.

Why not ``Client.scheduler_info()``, ``who_has()`` or ``nbytes()``: they are
``sync()`` calls that block the calling thread until the loop answers; with a
dead scheduler, ``scheduler_info()`` blocked 26.6 s (until distributed's
connect timeout) and then returned its stale cached answer. Why not
``run_on_scheduler`` per cell: it ships pickled code by value, which needs
matching Python versions, and the scheduler logs every call. The RPCs used
here (``identity``, ``who_has``, ``get_nbytes``, ``get_task_status``) log
nothing.

The coroutines below write only plain data into :class:`ClientState` (the
newest reading, key copies, key sizes), on the client's loop thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import weakref
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Final

from ..advice import cluster as advice
from ..advice.futures import DaskTypes, client_loop, client_problem, held_keys
from ..heap.introspect import instance_dict
from ..log import quiet_logger
from ..protocol import (
    CLUSTER_MAX_SETTLE_S,
    CLUSTER_QUERY_TIMEOUT_S,
    CLUSTER_RELEASE_BOUND_S,
    CLUSTER_SETTLE_S,
)

_log = quiet_logger(__name__)

#: A query not done this long after its own timeout means the client's loop is stuck.
CLUSTER_OVERDUE_GRACE_S: Final = 1.0
#: Re-read cadence while a cell's "after" settles, and while a release is measured.
CLUSTER_SETTLE_POLL_S: Final = 0.5
CLUSTER_RELEASE_POLL_S: Final = 0.1
#: Largest number of key sizes kept to price later releases.
MAX_NBYTES_CACHE: Final = 200_000


class Query:
    """One coroutine on a client's loop; read without blocking."""

    def __init__(
        self,
        timeout: float,
        future: concurrent.futures.Future[tuple[Any, float]] | None,
        reason: str | None = None,
        refused: str = "unavailable",
    ) -> None:
        self.timeout = timeout
        self.submitted = time.monotonic()
        self.future = future
        self.reason = reason
        #: The status when the query was never submitted (unavailable, busy).
        self.refused = refused

    def done(self) -> bool:
        """Answered, failed or never submitted."""
        return self.future is None or self.future.done()

    def late(self) -> bool:
        """Still not done after its own timeout and a grace: the client's loop is stuck."""
        return not self.done() and time.monotonic() - self.submitted > (
            self.timeout + CLUSTER_OVERDUE_GRACE_S
        )

    def outcome(self) -> dict[str, Any]:  # noqa: PLR0911 - one answer per state
        """``{"status", "value"?, "round_trip_ms"?, "error"?}``; never blocks.

        status: ok | pending | overdue | timeout | error | unavailable | busy.
        """
        if self.future is None:
            return {"status": self.refused, "error": self.reason}
        if not self.future.done():
            if self.late():
                waited = time.monotonic() - self.submitted
                return {
                    "status": "overdue",
                    "error": f"The Dask client's event loop has not answered for {waited:.0f} s.",
                }
            return {"status": "pending"}
        if self.future.cancelled():
            return {"status": "error", "error": "The query was cancelled."}
        exc = self.future.exception()
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
            told = str(exc) or (
                f"The Dask scheduler did not answer within {CLUSTER_QUERY_TIMEOUT_S:g} s."
            )
            return {"status": "timeout", "error": told}
        if exc is not None:
            # distributed's own exception: its message is library text.
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
        value, seconds = self.future.result()
        return {"status": "ok", "value": value, "round_trip_ms": round(seconds * 1000, 3)}

    def wait(self, timeout: float) -> dict[str, Any]:
        """Block up to ``timeout`` s: only where no event loop can poll (no comm)."""
        if self.future is not None:
            concurrent.futures.wait([self.future], timeout=timeout)
        return self.outcome()


def submit(client: Any, dt: DaskTypes, make: Callable[[], Awaitable[Any]], timeout: float) -> Query:
    """Run ``make()`` on ``client``'s loop, bounded by ``timeout``; returns at once.

    ``make`` is called on the loop thread, so distributed's RPC objects are
    only touched there. A client that cannot be asked now (reconnecting,
    closed, asynchronous) gives an ``unavailable`` query at once.
    """
    reason = client_problem(client, dt)
    if reason is not None:
        return Query(timeout, None, reason)
    aloop = client_loop(client, dt)
    if aloop is None:
        return Query(timeout, None, "The Dask client's event loop is closed.")

    async def bounded() -> tuple[Any, float]:
        t0 = time.perf_counter()
        value = await asyncio.wait_for(make(), timeout)
        return value, time.perf_counter() - t0

    coro = bounded()
    try:
        future = asyncio.run_coroutine_threadsafe(coro, aloop)
    except RuntimeError as exc:  # the loop closed between the check and the call
        coro.close()
        return Query(timeout, None, str(exc))
    return Query(timeout, future)


async def nbytes_of(sched: Any, keys: list[Any]) -> dict[Any, int]:
    """``{key: nbytes}`` (-1 while computing) of the keys the scheduler knows.

    ``Scheduler.get_nbytes`` raises KeyError for a key it does not know (one
    released since, or whose graph has not arrived yet): then ask which keys it
    knows first.
    """
    if not keys:
        return {}
    try:
        found = await sched.nbytes(keys=keys, summary=False)
    except KeyError:
        status = await sched.get_task_status(keys=keys)
        known = [k for k in keys if status.get(k) is not None]
        found = await sched.nbytes(keys=known, summary=False) if known else {}
    return {k: int(v) for k, v in found.items() if type(v) in (int, float)}


async def identity(sched: Any) -> dict[str, Any]:
    """The cluster's memory now: one ``identity`` RPC (it logs nothing)."""
    info = await sched.identity(n_workers=-1)
    return advice.memory_from_identity(info if isinstance(info, dict) else {}, time.time())


def scheduler_rpc(client: Any) -> Any:
    """The client's ``rpc`` to its scheduler (distributed's object; used on its loop)."""
    return dict.get(instance_dict(client) or {}, "scheduler")


@dataclass
class ClientState:
    """What we keep per client between cells: a weak reference, keys, numbers."""

    ref: weakref.ReferenceType[Any]
    address: str
    #: The newest reading (written on the client's loop, read anywhere).
    latest: dict[str, Any] | None = None
    #: Keys held at the previous cell's end, copied on the client's loop.
    loop_keys: set[Any] | None = None
    #: key -> nbytes learnt so far (client's loop only): prices later releases.
    nbytes: dict[Any, int] = field(default_factory=dict)
    inflight: list[Query] = field(default_factory=list)


def reading_query(client: Any, dt: DaskTypes, state: ClientState) -> Query:
    """One ``identity`` round trip: the cluster's memory now."""
    ref = weakref.ref(client)

    async def ask() -> dict[str, Any]:
        target = ref()
        if target is None:
            raise RuntimeError("The Dask client is gone.")
        reading = await identity(scheduler_rpc(target))
        state.latest = reading
        return reading

    return submit(client, dt, ask, CLUSTER_QUERY_TIMEOUT_S)


def after_query(  # noqa: PLR0917 - the cell's figures, each named at the call
    client: Any,
    dt: DaskTypes,
    state: ClientState,
    keys_before: set[Any],
    ended: float,
    added: set[Any],
    *,
    others: Sequence[weakref.ReferenceType[Any]] = (),
) -> Query:
    """The cell's "after": the key diff on the loop, then one settled round trip."""
    ref = weakref.ref(client)

    async def ask() -> dict[str, Any]:
        target = ref()
        if target is None:
            raise RuntimeError("The Dask client is gone.")
        # Queued after the cell's own releases (Future.__del__ -> loop callback).
        now_held = _held(target, others)
        previous = state.loop_keys if state.loop_keys is not None else keys_before
        state.loop_keys = now_held
        removed = (previous | added) - now_held
        transient = added & removed
        added_keys = list(added - transient)
        removed_keys = removed - transient
        sched = scheduler_rpc(target)
        del target
        await asyncio.sleep(max(0.0, ended + CLUSTER_SETTLE_S - time.time()))
        # Only keys the client still holds: one released since is unknown to the
        # scheduler, whose nbytes handler then logs a KeyError for it.
        target = ref()
        if target is not None:
            held_now = _held(target, others)
            added_keys = [k for k in added_keys if k in held_now]
        del target
        t0 = time.perf_counter()
        try:
            reading, nbytes = await asyncio.wait_for(
                asyncio.gather(identity(sched), nbytes_of(sched, added_keys)),
                CLUSTER_QUERY_TIMEOUT_S,
            )
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"The Dask scheduler did not answer within {CLUSTER_QUERY_TIMEOUT_S:g} s."
            ) from None
        round_trip = (time.perf_counter() - t0) * 1000
        deadline = ended + CLUSTER_MAX_SETTLE_S
        # More round trips only while a persist() is still computing or a worker's
        # sample is older than the cell's end; a slow answer ends the settling.
        while time.time() < deadline:
            pending = [k for k in added_keys if nbytes.get(k, -1) < 0]
            if not pending and advice.is_fresh(reading, ended):
                break
            await asyncio.sleep(CLUSTER_SETTLE_POLL_S)
            try:
                reading, more = await asyncio.wait_for(
                    asyncio.gather(identity(sched), nbytes_of(sched, pending)),
                    CLUSTER_QUERY_TIMEOUT_S,
                )
            except asyncio.TimeoutError:
                break
            nbytes.update(more)
        reading["settled"] = advice.is_fresh(reading, ended)
        state.latest = reading
        cache = state.nbytes
        known_removed = [cache.pop(k) for k in removed_keys if k in cache]
        computed = {k: b for k, b in nbytes.items() if b >= 0}
        if len(cache) + len(computed) <= MAX_NBYTES_CACHE:
            cache.update(computed)
        keys = {
            "added": len(added_keys),
            "removed": len(removed_keys),
            "bytes_added": sum(computed.values()),
            "bytes_removed": sum(known_removed),
            "pending_keys": sum(1 for k in added_keys if nbytes.get(k, -1) < 0),
            "removed_unknown": len(removed_keys) - len(known_removed),
        }
        return {"reading": reading, "keys": keys, "round_trip_ms": round(round_trip, 3)}

    budget = CLUSTER_MAX_SETTLE_S + 2 * CLUSTER_QUERY_TIMEOUT_S + CLUSTER_SETTLE_POLL_S
    return submit(client, dt, ask, budget)


def _held(client: Any, others: Sequence[weakref.ReferenceType[Any]]) -> set[Any]:
    """The keys ``client`` and the other clients of its scheduler hold."""
    held = held_keys(client)
    for ref in others:
        other = ref()
        if other is not None:
            held |= held_keys(other)
    return held


def holders_query(
    client: Any,
    dt: DaskTypes,
    state: ClientState,
    keys: list[Any],
    fresh_since: float | None = None,
) -> Query:
    """``identity``, ``who_has`` and ``nbytes`` concurrently; per-key spill detail
    (code shipped to the workers) only when a worker reports spilled bytes.

    With ``fresh_since`` (a release's "before"), the reading is re-read until every
    worker's sample is newer than that, for ``CLUSTER_MAX_SETTLE_S`` at most: an
    older heartbeat would still count what earlier cells released as freed now.
    """
    ref = weakref.ref(client)

    async def ask() -> dict[str, Any]:
        target = ref()
        if target is None:
            raise RuntimeError("The Dask client is gone.")
        sched = scheduler_rpc(target)
        reading, who_has, nbytes = await asyncio.gather(
            identity(sched), sched.who_has(keys=keys), nbytes_of(sched, keys)
        )
        if fresh_since is not None:
            deadline = time.time() + CLUSTER_MAX_SETTLE_S
            while not advice.is_fresh(reading, fresh_since) and time.time() < deadline:
                await asyncio.sleep(CLUSTER_RELEASE_POLL_S)
                reading = await identity(sched)
        state.latest = reading
        cache = state.nbytes
        known = {k: b for k, b in nbytes.items() if b >= 0}
        if len(cache) + len(known) <= MAX_NBYTES_CACHE:
            cache.update(known)
        out: dict[str, Any] = {"reading": reading, "who_has": who_has, "nbytes": nbytes}
        # Nothing spilled anywhere: every key is in memory. Else ask the workers.
        spilled = reading["total"]["spilled"] > 0 and keys
        out["spilled"] = await _spilled(target, keys, who_has) if spilled else {}
        return out

    settle = CLUSTER_MAX_SETTLE_S if fresh_since is not None else 0
    return submit(client, dt, ask, CLUSTER_QUERY_TIMEOUT_S + settle)


def release_query(  # noqa: PLR0917 - the release's figures, each named at the call
    client: Any,
    dt: DaskTypes,
    state: ClientState,
    keys: list[Any],
    before: dict[str, Any],
    deleted_at: float,
) -> Query:
    """Poll ``get_task_status`` and ``identity`` until the keys are forgotten and every
    worker sent a sample taken after that, or the bound."""
    ref = weakref.ref(client)

    async def poll() -> dict[str, Any]:
        target = ref()
        if target is None:
            raise RuntimeError("The Dask client is gone.")
        sched = scheduler_rpc(target)
        del target
        # The deletions' releases are queued on this loop ahead of us.
        forgotten_at: float | None = None
        still = list(keys)
        polls = 0
        settled = False
        while True:
            polls += 1
            status, reading = await asyncio.gather(
                sched.get_task_status(keys=still) if still else _nothing(),
                identity(sched),
            )
            now = time.time()
            still = [k for k in still if status.get(k) is not None]
            if not still and forgotten_at is None:
                forgotten_at = now
            settled = forgotten_at is not None and advice.is_fresh(reading, forgotten_at + 0.1)
            if settled or now - deleted_at > CLUSTER_RELEASE_BOUND_S:
                break
            await asyncio.sleep(CLUSTER_RELEASE_POLL_S)
        state.latest = reading
        for key in keys:
            state.nbytes.pop(key, None)
        result = advice.release_result(before, reading, len(keys), len(still))
        result.update(
            seconds_to_forget=None if forgotten_at is None else round(forgotten_at - deleted_at, 3),
            seconds_to_report=round(time.time() - deleted_at, 3),
            settled=settled,
            polls=polls,
        )
        return result

    return submit(client, dt, poll, CLUSTER_RELEASE_BOUND_S + 2 * CLUSTER_QUERY_TIMEOUT_S)


async def _nothing() -> dict[Any, Any]:
    return {}


async def _spilled(
    client: Any, keys: list[Any], who_has: Mapping[Any, Any]
) -> dict[str, dict[Any, int]] | None:
    """``{worker: {key: bytes}}`` of the keys spilled to disk, asked of the workers."""
    from . import dask_remote  # noqa: PLC0415 - pickled by value, shipped on demand

    if not dask_remote.ship_by_value():
        return None
    workers = sorted({w for ws in who_has.values() for w in ws or ()})
    wanted = [k for k in keys if who_has.get(k)]
    if not workers or not wanted:
        return {}
    try:
        # distributed's public method; asynchronous=True returns the coroutine.
        found = await client.run(
            dask_remote.spilled_keys, wanted, workers=workers, asynchronous=True
        )
    except Exception:
        _log.debug("spill detail failed", exc_info=True)
        return None
    return found if isinstance(found, dict) else None


def settled(queries: list[Query | None], *, blocking: bool) -> bool:
    """Whether every query is done or overdue; ``blocking`` waits for them first."""
    if blocking:
        for q in queries:
            if q is not None:
                q.wait(q.timeout + CLUSTER_OVERDUE_GRACE_S)
    return all(q is None or q.done() or q.late() for q in queries)


def status_of(outcome: Mapping[str, Any]) -> str:
    status = outcome.get("status")
    return status if status in ("timeout", "overdue", "busy", "unavailable") else "error"


__all__ = [
    "CLUSTER_OVERDUE_GRACE_S",
    "ClientState",
    "Query",
    "after_query",
    "holders_query",
    "identity",
    "nbytes_of",
    "reading_query",
    "release_query",
    "scheduler_rpc",
    "settled",
    "status_of",
    "submit",
]
