"""Admission: how long queued work will take, measured, and the ticket that holds one
request's places in the queue from the moment it is admitted — before it is tokenised —
until its items are queued or the request ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from service.engine.outcomes import QueueFull, ShuttingDown, WouldMissDeadline

# Admission control admits a request only if the work queued ahead, as measured, would
# take at most 1 / MARGIN of its time left: measured batch times lag a load that rises,
# and a request refused at once (429) costs its client less than one that times out (504).
MARGIN = 3.0


class WaitEstimate:
    """Seconds of queued work, from the batches that ran: the engine's seconds per unit of
    cost (a moving average) and, once items have waited behind others, the seconds an item
    really waited per unit of cost queued ahead of it (tokenising and hand-offs included)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.seconds_per_cost: float | None = None
        self.wait_per_cost: float | None = None
        self._waited = self._ahead = 0.0
        self.cost_per_item = 0.0  # moving average: the cost of an item not tokenised yet

    def wait_for(self, cost: float) -> float:
        """Seconds until ``cost`` of queued work has run (0 before the first batch)."""
        if self.wait_per_cost is not None:
            return cost * self.wait_per_cost
        if self.seconds_per_cost is None:
            return 0.0
        return cost * self.seconds_per_cost / self.workers

    def run_time(self, costs: Sequence[int]) -> float | None:
        """Seconds these items take to run; None before any measurement."""
        if self.seconds_per_cost is None:
            return None
        return sum(max(1, c) for c in costs) * self.seconds_per_cost / self.workers

    def waited(self, seconds: float, ahead: float) -> None:
        """Items of a starting batch waited ``seconds`` in all behind ``ahead`` queued cost:
        a ratio of decayed sums, so that items with little ahead of them (whose wait is
        mostly their own tokenising) cannot blow the estimate up."""
        self._waited = 0.8 * self._waited + seconds
        self._ahead = 0.8 * self._ahead + ahead
        self.wait_per_cost = self._waited / self._ahead

    def ran(self, seconds: float, costs: Sequence[int]) -> None:
        """A batch of ``costs`` ran in ``seconds``."""
        per_cost = seconds / sum(costs)
        old = self.seconds_per_cost
        self.seconds_per_cost = per_cost if old is None else 0.8 * old + 0.2 * per_cost
        per_item = sum(costs) / len(costs)
        self.cost_per_item = per_item if old is None else 0.8 * self.cost_per_item + 0.2 * per_item


def refuse_unless_room(
    count: int,
    held: int,
    max_queue: int,
    wait: float | None,
    ahead_s: float,
    deadline: float | None,
    now: float,
    *,
    closing: bool,
) -> None:
    """Raise ShuttingDown, QueueFull or WouldMissDeadline for ``count`` more items behind
    ``held`` ones (``wait``: the seconds these items would wait and run, None without a
    measurement yet; ``ahead_s``: the expected wait of what is queued, for Retry-After)."""
    if closing:
        raise ShuttingDown("the service is shutting down; retry on another replica")
    if held + count > max_queue:
        raise QueueFull(
            f"the queue holds {held} of {max_queue} items; {count} more do not fit",
            retry_after_s=ahead_s,
        )
    if deadline is not None and wait is not None and held and now + MARGIN * wait > deadline:
        raise WouldMissDeadline(
            f"about {ahead_s:.1f} s of work is queued ahead and this request's deadline "
            f"is in {max(0.0, deadline - now):.1f} s",
            retry_after_s=ahead_s,
        )


Queue = Callable[
    [Sequence[tuple[Any, int]], Any, "float | None", "tuple[float, float] | None"],
    "list[asyncio.Future[Any]]",
]


class Ticket:
    """One request's admission (``Batcher.admit``). It holds ``count`` places in the queue
    while the request tokenises; ``submit`` gives them back as it queues the items (all or
    none), ``release`` gives them back if the request ends first. Both are safe to repeat:
    the route's ``begin`` releases on every path, and a request may submit follow-up work
    (alignments, a forced pass) on the same ticket."""

    def __init__(
        self,
        count: int,
        admitted: float,
        ahead: float,
        queue: Queue,
        give_back: Callable[[int], None],
    ) -> None:
        self.count = count
        self._since: tuple[float, float] | None = (admitted, ahead)  # for the wait estimate
        self._queue = queue
        self._give_back = give_back
        self._held = True

    def submit(
        self, items: Sequence[tuple[Any, int]], key: Any = None, deadline: float | None = None
    ) -> list[asyncio.Future[Any]]:
        """Queue ``(item, cost)`` pairs; raises QueueFull or ShuttingDown as ``admit`` does."""
        since, self._since = self._since, None
        self.release()
        return self._queue(items, key, deadline, since)

    def release(self) -> None:
        if self._held:
            self._held = False
            self._give_back(self.count)
