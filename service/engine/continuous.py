"""Continuous batching (iteration-level scheduling) for models that decode step by step.

Items wait in the batcher's queue with its admission control, deadlines and cancellation
(``service/engine/batcher.py``), but they do not leave it in batches that run to the end:
each engine worker drives one ``Lane`` — a running batch — one decoder step at a time.
Between two steps a lane takes queued items while they fit its budget (items, and cost:
source tokens × beam rows, as queued), and the items whose clients went away or whose
deadline passed leave it. An item is answered the step it finishes, so a short source
never waits for the long ones it ran beside.

Joining costs the running items a little (the newcomers' encoder run, the cache grown by
their rows), so a lane that is running takes newcomers only when they are worth it, by
a rule like TGI's ``waiting_served_ratio`` / ``max_waiting_tokens``: when the items waiting
are at least ``JOIN_RATIO`` of those running, or the oldest has waited ``JOIN_AFTER_STEPS``
steps of the lane. An idle lane takes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service.engine.batcher import Batcher, _Entry
from service.engine.grouping import Limits
from service.engine.handlers.base import Lane
from service.engine.outcomes import DeadlineExceeded, Done, EngineError, Observer

JOIN_RATIO = 0.25  # waiting / running items at which a running lane takes newcomers
JOIN_AFTER_STEPS = 2  # ... or when the oldest waiting item has waited this many steps


@dataclass(eq=False)
class _LaneState:
    lane: Lane
    entries: dict[int, _Entry[Any, Any]] = field(default_factory=dict)  # by id(entry)
    joined: dict[int, float] = field(default_factory=dict)  # when each entry joined
    cost: int = 0  # the running entries' cost
    task: asyncio.Task[None] | None = None  # the step in flight
    steps: int = 0  # steps since it last took newcomers
    busy_s: float = 0.0  # stepping time since an item last finished (the wait estimate)


class ContinuousBatcher(Batcher[Any, Any]):
    """``lanes()`` makes one lane per engine worker (``limits.workers``); a lane that fails
    fails its items and is replaced by a new one."""

    def __init__(
        self,
        lanes: Callable[[], Lane],
        limits: Limits,
        *,
        guard: Callable[[Callable[..., Any]], Callable[..., Any]] = lambda f: f,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "lanes",
    ) -> None:
        super().__init__(_no_batches, limits, observer=observer, clock=clock, name=name)
        self._make_lane, self._guard = lanes, guard
        self._lanes = [_LaneState(lanes()) for _ in range(limits.workers)]

    @property
    def busy(self) -> bool:
        return super().busy or any(s.entries for s in self._lanes)

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock()
            self._prune(now)
            for state in sorted(self._lanes, key=lambda s: s.cost):  # the emptiest first
                if state.task is None:
                    self._schedule(state, now)
            timeout = None
            deadlines = [e.deadline for e in self._pending if e.deadline is not None]
            if deadlines:
                timeout = max(0.0, min(deadlines) - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _schedule(self, state: _LaneState, now: float) -> None:
        """Start the lane's next step if it has anything to run (or to forget)."""
        leaving = [
            i
            for i, e in state.entries.items()
            if e.future.done() or (e.deadline is not None and e.deadline <= now)
        ]
        joining = self._joining(state, len(state.entries) - len(leaving))
        if not joining and not state.entries:
            return
        state.task = asyncio.get_running_loop().create_task(self._advance(state, joining, leaving))
        self._running.add(state.task)
        state.task.add_done_callback(self._batch_done)

    def _joining(self, state: _LaneState, running: int) -> list[_Entry[Any, Any]]:
        """Queued items this lane takes now, oldest first, within its budget; ``running``:
        the items staying in it."""
        if not self._pending or not state.lane.can_admit():
            return []
        lim = self.limits
        if running and not (
            len(self._pending) >= JOIN_RATIO * running or state.steps >= JOIN_AFTER_STEPS
        ):
            return []
        taken: list[_Entry[Any, Any]] = []
        cost, count = state.cost, running
        for e in self._pending:
            if count >= lim.max_batch_size or (count and cost + e.cost > lim.max_batch_tokens):
                break
            taken.append(e)
            cost += e.cost
            count += 1
        if taken:
            chosen = {id(e) for e in taken}
            self._pending = [e for e in self._pending if id(e) not in chosen]
            self._queued_cost = sum(e.cost for e in self._pending)
            self._observer.depth(len(self._pending))
        return taken

    async def _advance(
        self, state: _LaneState, joining: list[_Entry[Any, Any]], leaving: list[int]
    ) -> None:
        started = self._clock()
        self._leave(state, leaving, started)
        waited = ahead = 0.0
        for e in joining:
            self._observer.queued(started - e.enqueued)
            if e.ahead > 0:
                waited += started - e.admitted
                ahead += e.ahead
            state.entries[id(e)] = e
            state.joined[id(e)] = started
            state.cost += e.cost
            self._in_batch.add(e)
        if ahead:
            self._estimate.waited(waited, ahead)
        state.steps = 0 if joining else state.steps + 1
        ids = [(id(e), e.item, e.key) for e in joining]
        run = self._guard(state.lane.advance)
        loop = asyncio.get_running_loop()
        try:
            finished = await loop.run_in_executor(self._executor, run, ids, leaving)
        except Exception as exc:
            self._fail(state, exc, started)
            return
        finally:
            state.task = None
        seconds = self._clock() - started
        state.busy_s += seconds
        rows = len(state.entries)
        largest = max((e.cost for e in state.entries.values()), default=0)
        self._observer.batch(rows, state.cost, rows * largest, seconds, True)
        costs = []
        for i, out in finished:
            e = state.entries.pop(i)
            joined = state.joined.pop(i)
            state.cost -= e.cost
            self._in_batch.discard(e)
            costs.append(e.cost)
            if not e.future.done():
                e.future.set_result(Done(out, joined - e.enqueued, self._clock() - joined, rows))
        if costs:  # the lane's throughput: stepping seconds per unit of cost finished
            self._estimate.ran(state.busy_s, costs)
            state.busy_s = 0.0

    def _leave(self, state: _LaneState, leaving: list[int], now: float) -> None:
        """Entries leaving the lane: a cancelled one counted, an expired one told."""
        cancelled = 0
        for i in leaving:
            e = state.entries.pop(i)
            state.joined.pop(i)
            state.cost -= e.cost
            self._in_batch.discard(e)
            if e.future.done():
                cancelled += 1
            else:
                e.future.set_exception(
                    DeadlineExceeded("the request's deadline passed while it was being decoded")
                )
                self._observer.dropped(DeadlineExceeded.reason, 1)
        if cancelled:
            self._observer.dropped("cancelled", cancelled)

    def _fail(self, state: _LaneState, exc: Exception, started: float) -> None:
        """The lane's step failed: every item in it fails, and a new lane replaces it (the
        old one's running state is not to be trusted)."""
        rows = len(state.entries)
        self._observer.batch(rows, state.cost, rows, self._clock() - started, False)
        error = exc if isinstance(exc, EngineError) else EngineError(f"{type(exc).__name__}: {exc}")
        for e in state.entries.values():
            self._in_batch.discard(e)
            if not e.future.done():
                e.future.set_exception(error)
        state.entries.clear()
        state.joined.clear()
        state.cost = 0
        state.lane = self._make_lane()


def _no_batches(key: Any, items: list[Any]) -> list[Any]:
    raise AssertionError("a continuous batcher runs lanes, not batches")
