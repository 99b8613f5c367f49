"""Dynamic batching: requests wait in a bounded queue and leave it in length-grouped batches.

The batcher knows nothing of HTTP. Each item owns a future and every path — success,
engine error, deadline, cancellation, shutdown — resolves it exactly once. A batch closes
when the group of the oldest waiting item reaches ``max_batch_size`` items or
``max_batch_tokens`` padded tokens (n × longest), or when that item has waited
``max_wait_s``, whichever comes first. Items only share a batch with items of the same
``key`` (for translation: the same decoding options). Time is read from a monotonic clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from core.batching import length_batches

Item = TypeVar("Item")  # an item as the engine takes it
Out = TypeVar("Out")  # one output per item


@dataclass(frozen=True)
class Limits:
    max_batch_size: int = 32
    max_batch_tokens: int = 8192
    max_wait_s: float = 0.0
    max_queue: int = 512
    max_padding: float = float("inf")  # padded / real tokens of a batch at most
    workers: int = 1  # batches running at once (each on its own engine thread)

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_batch_tokens < 1 or self.max_queue < 1:
            raise ValueError("max_batch_size, max_batch_tokens and max_queue must be ≥ 1")
        if self.max_wait_s < 0:
            raise ValueError("max_wait_s must be ≥ 0")
        if self.workers < 1:
            raise ValueError("workers must be ≥ 1")
        if not self.max_padding >= 1:
            raise ValueError("max_padding must be ≥ 1 (padded tokens over real tokens)")


# Admission control admits a request only if the work queued ahead, as measured, would
# take at most 1 / MARGIN of its time left: measured batch times lag a load that rises,
# and a request refused at once (429) costs its client less than one that times out (504).
MARGIN = 3.0


class Rejected(Exception):
    """An item that was not run; ``reason`` is a metric label."""

    reason = "rejected"


class QueueFull(Rejected):
    reason = "queue_full"

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WouldMissDeadline(QueueFull):
    """Admission control: the work queued ahead would outlast this request's deadline, so
    it is refused now (429) rather than queued only to time out (504)."""

    reason = "overloaded"


class ShuttingDown(Rejected):
    reason = "shutting_down"


class DeadlineExceeded(Rejected):
    reason = "deadline"


class EngineError(Exception):
    """The engine failed on a batch; only that batch's items get it."""


@dataclass(frozen=True)
class Done(Generic[Out]):
    output: Out
    queue_s: float  # submitted → batch started
    compute_s: float  # the batch's run time
    batch_size: int


class Observer(Protocol):
    def batch(self, size: int, tokens: int, padded: int, seconds: float, ok: bool) -> None: ...
    def queued(self, seconds: float) -> None: ...
    def dropped(self, reason: str, count: int) -> None: ...
    def depth(self, items: int) -> None: ...


class _Silent:
    def batch(self, size: int, tokens: int, padded: int, seconds: float, ok: bool) -> None:
        pass

    def queued(self, seconds: float) -> None:
        pass

    def dropped(self, reason: str, count: int) -> None:
        pass

    def depth(self, items: int) -> None:
        pass


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
    """``run(items) -> outputs`` runs on worker threads, ``limits.workers`` batches at a time."""

    def __init__(
        self,
        run: Callable[[list[Item]], Sequence[Out]],
        limits: Limits,
        *,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "batcher",
    ) -> None:
        self._run = run
        self.limits = limits
        self._observer = observer or _Silent()
        self._clock = clock
        self._name = name
        self._pending: list[_Entry[Item, Out]] = []
        self._queued_cost = 0  # sum of the pending items' costs
        self._running: set[asyncio.Task[None]] = set()
        self._in_batch: set[_Entry[Item, Out]] = set()
        self._wake = asyncio.Event()
        self._closing = False
        self._seconds_per_cost: float | None = None  # moving average over recent batches
        # measured waits: seconds an item waited per unit of cost queued ahead of it
        self._wait_per_cost: float | None = None
        self._waited = self._ahead = 0.0
        self._cost_per_item = 0.0  # moving average: the cost of an item not tokenised yet
        # items admitted (``admit``) and not queued yet: their callers are tokenising them;
        # the callers reserve and release them (see service/api/calls.py)
        self.reserved = 0
        self._loop_task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(limits.workers, thread_name_prefix=name)

    # -- the caller's side ------------------------------------------------------
    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._loop(), name=self._name)

    @property
    def depth(self) -> int:
        return len(self._pending)

    def admit(self, count: int, deadline: float | None = None) -> tuple[float, float]:
        """Refuse early, before the caller spends work on ``count`` items (tokenising): a
        full queue (items being tokenised included), or queued work that already outlasts
        ``deadline``, raises as ``submit`` would. Passing does not reserve a place; ``submit``
        checks again. Returns (now, cost ahead), to give back to ``submit``."""
        now = self._clock()
        held = len(self._pending) + self.reserved
        self._refuse_unless_room(count, held, self.expected_wait_s(), deadline, now)
        return now, self._queued_cost + self.reserved * self._cost_per_item

    def _refuse_unless_room(
        self, count: int, held: int, wait: float | None, deadline: float | None, now: float
    ) -> None:
        """Raise ShuttingDown, QueueFull or WouldMissDeadline (``wait``: the seconds these
        items would wait and run; None without a measurement yet)."""
        if self._closing:
            self._observer.dropped(ShuttingDown.reason, count)
            raise ShuttingDown("the service is shutting down; retry on another replica")
        if held + count > self.limits.max_queue:
            self._observer.dropped(QueueFull.reason, count)
            raise QueueFull(
                f"the queue holds {held} of {self.limits.max_queue} items; {count} more do not fit",
                retry_after_s=self.expected_wait_s(),
            )
        if deadline is not None and wait is not None and held and now + MARGIN * wait > deadline:
            self._observer.dropped(WouldMissDeadline.reason, count)
            ahead = self.expected_wait_s()
            raise WouldMissDeadline(
                f"about {ahead:.1f} s of work is queued ahead and this request's deadline "
                f"is in {max(0.0, deadline - now):.1f} s",
                retry_after_s=ahead,
            )

    def expected_wait_s(self) -> float:
        """Seconds until the queued items have run, from the measured cost of recent
        batches (0 before the first batch)."""
        return self._wait_for(self._queued_cost + self.reserved * self._cost_per_item)

    def _wait_for(self, cost: float) -> float:
        if self._wait_per_cost is not None:
            return cost * self._wait_per_cost
        if self._seconds_per_cost is None:
            return 0.0
        return cost * self._seconds_per_cost / self.limits.workers

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
        ``admitted``: what ``admit`` returned, so the measured wait includes tokenising."""
        now = self._clock()
        wait = None
        if self._seconds_per_cost is not None:  # requests still tokenising queue behind
            mine = sum(max(1, c) for _, c in items) * self._seconds_per_cost / self.limits.workers
            wait = self._wait_for(self._queued_cost) + mine
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
        peers = [e for e in self._pending if e.key == oldest.key]
        lim = self.limits
        groups = length_batches([e.cost for e in peers], lim.max_batch_tokens, lim.max_batch_size)
        group = next(g for g in groups if 0 in g)  # index 0 of peers is the oldest item
        group = _within_padding(group, [peers[i].cost for i in group], lim.max_padding)
        padded = len(group) * max(peers[i].cost for i in group)
        full = (
            len(groups) > 1
            or len(group) >= lim.max_batch_size
            or padded + min(e.cost for e in peers) > lim.max_batch_tokens
        )
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

    async def _execute_batch(self, batch: list[_Entry[Item, Out]]) -> None:
        started = self._clock()
        waited = ahead = 0.0
        for e in batch:
            self._observer.queued(started - e.enqueued)
            if e.ahead > 0:
                waited += started - e.admitted
                ahead += e.ahead
        if ahead:  # what a unit of queued cost really costs in waiting, all overheads in:
            # a ratio of decayed sums, so that items with little ahead of them (whose wait is
            # mostly their own tokenising) cannot blow the estimate up
            self._waited = 0.8 * self._waited + waited
            self._ahead = 0.8 * self._ahead + ahead
            self._wait_per_cost = self._waited / self._ahead
        costs = [e.cost for e in batch]
        loop = asyncio.get_running_loop()
        try:
            outputs = await loop.run_in_executor(self._executor, self._run, [e.item for e in batch])
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
        per_cost = seconds / sum(costs)
        old = self._seconds_per_cost
        self._seconds_per_cost = per_cost if old is None else 0.8 * old + 0.2 * per_cost
        per_item = sum(costs) / len(costs)
        self._cost_per_item = (
            per_item if old is None else 0.8 * self._cost_per_item + 0.2 * per_item
        )
        for e, out in zip(batch, outputs, strict=True):
            if not e.future.done():
                e.future.set_result(Done(out, started - e.enqueued, seconds, len(batch)))

    def _resolve_rejected(self, entries: list[_Entry[Item, Out]], error: Rejected) -> None:
        live = [e for e in entries if not e.future.done()]
        if live:
            self._observer.dropped(error.reason, len(live))
        for e in live:
            e.future.set_exception(error)


def _within_padding(group: list[int], costs: list[int], cap: float) -> list[int]:
    """The largest run of ``group`` (sorted by cost) that holds the oldest item (index 0)
    and whose padded size (n × longest) is at most ``cap`` × its real size. The others wait
    for a batch of their own length: on a CPU, padding is computed like real tokens.
    Every run around the oldest is tried: the ratio is not monotone in either end (a
    longer item can lower it), and a group holds at most max_batch_size items."""
    if cap == float("inf") or len(group) < 2:
        return group
    p = group.index(0)
    prefix = [0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    best = (p, p)
    for lo in range(p + 1):
        for hi in range(max(p, lo + best[1] - best[0] + 1), len(group)):
            if (hi - lo + 1) * costs[hi] <= cap * (prefix[hi + 1] - prefix[lo]):
                best = (lo, hi)
    return group[best[0] : best[1] + 1]
