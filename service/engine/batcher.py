"""Dynamic batching: requests wait in a bounded queue and leave it in length-grouped batches.

The batcher knows nothing of HTTP. Each item owns a future and every path — success,
engine error, deadline, cancellation, shutdown — resolves it exactly once. A batch is the
oldest item's group (``grouping``) and leaves when full or when that item has waited
``max_wait_s``. Items share a batch only with items of the same ``key`` (for translation:
the same decoding options). Time is read from a monotonic clock."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from service.engine.admission import Ticket, WaitEstimate, refuse_unless_room
from service.engine.grouping import Limits, next_group
from service.engine.outcomes import (
    DeadlineExceeded,
    Done,
    EngineError,
    Observer,
    Rejected,
    ShuttingDown,
    Silent,
)

Item = TypeVar("Item")  # an item as the engine takes it
Out = TypeVar("Out")  # one output per item


@dataclass(eq=False)
class _Entry(Generic[Item, Out]):
    item: Item
    cost: int  # tokens this item occupies in a padded batch row
    key: Any
    deadline: float | None
    enqueued: float
    future: asyncio.Future[Done[Out]] = field(repr=False)
    ahead: float = 0.0  # cost queued (or being tokenised) before it when it was admitted
    admitted: float = 0.0  # when it was admitted (before tokenising), for the wait estimate


class Batcher(Generic[Item, Out]):
    """``engine(key, items) -> outputs`` runs on worker threads, ``limits.workers``
    batches at a time; ``key`` is what the batch's items share."""

    def __init__(
        self,
        engine: Callable[[Any, list[Item]], Sequence[Out]],
        limits: Limits,
        *,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "batcher",
    ) -> None:
        self._engine = engine
        self.limits = limits
        self._observer = observer or Silent()
        self._clock = clock
        self._name = name
        self._pending: list[_Entry[Item, Out]] = []
        self._queued_cost = 0  # sum of the pending items' costs
        self._running: set[asyncio.Task[None]] = set()
        self._in_batch: set[_Entry[Item, Out]] = set()
        self._wake = asyncio.Event()
        self._closing = False
        self._estimate = WaitEstimate(limits.workers)
        # items admitted and not queued yet (their requests are tokenising them): held by
        # the tickets ``admit`` hands out, given back through ``_give_back`` only
        self._reserved = 0
        self._loop_task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(limits.workers, thread_name_prefix=name)

    # -- the caller's side ------------------------------------------------------
    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._loop(), name=self._name)

    @property
    def depth(self) -> int:
        return len(self._pending)

    @property
    def reserved(self) -> int:
        """Items admitted whose requests have not queued them yet."""
        return self._reserved

    def admit(self, count: int, deadline: float | None = None) -> Ticket:
        """Refuse early, before the caller spends work on ``count`` items (tokenising): a
        full queue (items being tokenised included), or queued work that already outlasts
        ``deadline``, raises as ``submit`` would. Passing reserves ``count`` places, held by
        the ticket until it submits the items or is released; ``submit`` checks again."""
        now = self._clock()
        held = len(self._pending) + self._reserved
        self._refuse_unless_room(count, held, self.expected_wait_s(), deadline, now)
        ahead = self._queued_cost + self._reserved * self._estimate.cost_per_item
        self._reserved += count
        return Ticket(count, now, ahead, self.submit, self._give_back)

    def _give_back(self, count: int) -> None:
        self._reserved -= count

    def _refuse_unless_room(
        self, count: int, held: int, wait: float | None, deadline: float | None, now: float
    ) -> None:
        try:
            refuse_unless_room(
                count,
                held,
                self.limits.max_queue,
                wait,
                self.expected_wait_s(),
                deadline,
                now,
                closing=self._closing,
            )
        except Rejected as e:
            self._observer.dropped(e.reason, count)
            raise

    def expected_wait_s(self) -> float:
        """Seconds until the queued items have run, from the measured cost of recent
        batches (0 before the first batch)."""
        e = self._estimate
        return e.wait_for(self._queued_cost + self._reserved * e.cost_per_item)

    @property
    def busy(self) -> bool:
        return bool(self._pending) or bool(self._running)

    def submit(
        self,
        items: Sequence[tuple[Item, int]],
        key: Any = None,
        deadline: float | None = None,
        admitted: tuple[float, float] | None = None,
    ) -> list[asyncio.Future[Done[Out]]]:
        """Queue ``(item, cost)`` pairs, all or none; raise QueueFull or ShuttingDown.
        ``admitted``: (when, cost ahead) at admission — a ticket passes it — so that the
        measured wait includes tokenising."""
        now = self._clock()
        mine = self._estimate.run_time([c for _, c in items])
        # requests still tokenising queue behind these
        wait = None if mine is None else self._estimate.wait_for(self._queued_cost) + mine
        self._refuse_unless_room(len(items), len(self._pending), wait, deadline, now)
        loop = asyncio.get_running_loop()
        futures = []
        for item, cost in items:
            fut: asyncio.Future[Done[Out]] = loop.create_future()
            fut.add_done_callback(self._on_done)
            since, ahead = admitted or (now, self._queued_cost)
            entry = _Entry(item, max(1, cost), key, deadline, now, fut, ahead, since)
            self._pending.append(entry)
            self._queued_cost += max(1, cost)
            futures.append(fut)
        self._observer.depth(len(self._pending))
        self._wake.set()
        return futures

    async def close(self, grace_s: float) -> None:
        """Refuse new items, let queued and running ones finish for up to ``grace_s``,
        then fail what is left with ShuttingDown."""
        self._closing = True
        self._wake.set()
        deadline = self._clock() + grace_s
        while self.busy and self._clock() < deadline:
            await asyncio.sleep(0.01)
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        left = [e for e in self._pending if not e.future.done()]
        self._resolve_rejected(left, ShuttingDown("the service shut down before this ran"))
        self._pending.clear()
        self._queued_cost = 0
        running = [e for e in self._in_batch if not e.future.done()]
        self._resolve_rejected(running, ShuttingDown("the service shut down while this ran"))
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- the loop ---------------------------------------------------------------
    def _on_done(self, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled():  # the caller went away: prune it now
            self._wake.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock()
            self._prune(now)
            timeout = None
            if len(self._running) < self.limits.workers and self._pending:
                batch, ready_at = self._next_batch(now)
                if batch is not None:
                    task = asyncio.get_running_loop().create_task(self._execute(batch))
                    self._running.add(task)
                    task.add_done_callback(self._batch_done)
                    continue
                timeout = ready_at - now
            deadlines = [e.deadline for e in self._pending if e.deadline is not None]
            if deadlines:
                soonest = min(deadlines) - now
                timeout = soonest if timeout is None else min(timeout, soonest)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), None if timeout is None else timeout)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    def _prune(self, now: float) -> None:
        """Drop cancelled items; fail the ones whose deadline has passed (never run)."""
        keep, cancelled, expired = [], 0, []
        for e in self._pending:
            if e.future.done():
                cancelled += 1
            elif e.deadline is not None and e.deadline <= now:
                expired.append(e)
            else:
                keep.append(e)
        if cancelled:
            self._observer.dropped("cancelled", cancelled)
        if expired:
            self._resolve_rejected(
                expired, DeadlineExceeded("the request's deadline passed while it was queued")
            )
        if cancelled or expired:
            self._pending = keep
            self._queued_cost = sum(e.cost for e in keep)
            self._observer.depth(len(keep))

    def _next_batch(self, now: float) -> tuple[list[_Entry[Item, Out]] | None, float]:
        """The oldest item's length group, if it is full or has waited long enough;
        otherwise (None, when it will be due)."""
        oldest = self._pending[0]
        peers = [e for e in self._pending if e.key == oldest.key]  # peers[0] is the oldest
        lim = self.limits
        group, full = next_group([e.cost for e in peers], lim)
        due = oldest.enqueued + lim.max_wait_s
        if not full and now < due:
            return None, due
        chosen = {id(peers[i]) for i in group}
        batch = [peers[i] for i in group]
        self._pending = [e for e in self._pending if id(e) not in chosen]
        self._queued_cost = sum(e.cost for e in self._pending)
        self._observer.depth(len(self._pending))
        return batch, now

    async def _execute(self, batch: list[_Entry[Item, Out]]) -> None:
        self._in_batch.update(batch)
        try:
            await self._execute_batch(batch)
        finally:
            self._in_batch.difference_update(batch)

    def _started(self, entries: list[_Entry[Item, Out]], now: float) -> None:
        """Entries leave the queue to run: queue time observed; the wait per queued cost learnt."""
        for e in entries:
            self._observer.queued(now - e.enqueued)
        if ahead := sum(e.ahead for e in entries if e.ahead > 0):
            self._estimate.waited(sum(now - e.admitted for e in entries if e.ahead > 0), ahead)

    async def _execute_batch(self, batch: list[_Entry[Item, Out]]) -> None:
        started = self._clock()
        self._started(batch, started)
        costs = [e.cost for e in batch]
        loop = asyncio.get_running_loop()
        try:
            outputs = await loop.run_in_executor(
                self._executor, self._engine, batch[0].key, [e.item for e in batch]
            )
            if len(outputs) != len(batch):
                raise EngineError(
                    f"the engine returned {len(outputs)} outputs for {len(batch)} inputs"
                )
        except Exception as exc:
            seconds = self._clock() - started
            self._observer.batch(len(batch), sum(costs), len(batch) * max(costs), seconds, False)
            error = (
                exc if isinstance(exc, EngineError) else EngineError(f"{type(exc).__name__}: {exc}")
            )
            for e in batch:
                if not e.future.done():
                    e.future.set_exception(error)
            return
        seconds = self._clock() - started
        self._observer.batch(len(batch), sum(costs), len(batch) * max(costs), seconds, True)
        self._estimate.ran(seconds, costs)
        for e, out in zip(batch, outputs, strict=True):
            if not e.future.done():
                e.future.set_result(Done(out, started - e.enqueued, seconds, len(batch)))

    def _resolve_rejected(self, entries: list[_Entry[Item, Out]], error: Rejected) -> None:
        live = [e for e in entries if not e.future.done()]
        if live:
            self._observer.dropped(error.reason, len(live))
        for e in live:
            e.future.set_exception(error)
