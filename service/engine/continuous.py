"""Continuous batching (iteration-level scheduling) for models that decode step by step.

Items wait in the batcher's queue with its admission control, deadlines and cancellation
(``service/engine/batcher.py``), but they do not leave it in batches that run to the end:
each engine worker is a thread that owns one ``Lane`` — a running batch — and steps it
for as long as it holds anything. The event loop hands queued items to a lane while they
fit its budget (items, and cost: source tokens × beam rows, as queued) through the lane's
inbox; between two steps the thread takes them in, and drops the items whose clients
went away or whose deadline passed. An item is answered the step it finishes (the thread
posts it to the event loop, and steps on), so a short source never waits for the long
ones it ran beside, and the event loop is not in the way of every step.

Joining costs the running items a little (the newcomers' encoder run, the cache grown by
their rows), so a lane that is running takes newcomers only when they are worth it, by
a rule like TGI's ``waiting_served_ratio`` / ``max_waiting_tokens``: when the items waiting
are at least ``JOIN_RATIO`` of those running, or the oldest has waited ``JOIN_AFTER_STEPS``
steps of the lane. An idle lane takes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service.engine.batcher import Batcher, _Entry
from service.engine.grouping import Limits
from service.engine.handlers.base import Lane
from service.engine.outcomes import DeadlineExceeded, Done, EngineError, Observer

JOIN_RATIO = 0.25  # waiting / running items at which a running lane takes newcomers
JOIN_AFTER_STEPS = 2  # ... or when the oldest waiting item has waited this many steps
# Longest run of steps inside one ``advance`` call while nothing changes (so that the
# thread looks at its inbox and at cancellations at least this often).
RUN_S = 0.05

Entry = _Entry[Any, Any]


@dataclass(eq=False)
class _LaneState:
    lane: Lane
    # the event loop's view: handed to the lane and not answered yet, by id(entry)
    entries: dict[int, Entry] = field(default_factory=dict)
    joined: dict[int, float] = field(default_factory=dict)  # when each was handed over
    cost: int = 0  # the handed-over entries' cost (the lane's budget)
    busy_s: float = 0.0  # stepping time since an item last finished (the wait estimate)
    # shared with the lane's thread, under ``lock``
    inbox: deque[Entry] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    working: bool = False  # its thread is running
    stop: bool = False  # shutting down: the thread leaves at its next turn


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

    async def close(self, grace_s: float) -> None:
        await super().close(grace_s)
        for state in self._lanes:
            state.stop = True

    # -- the event loop's side ----------------------------------------------------------
    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            now = self._clock()
            self._prune(now)
            for state in sorted(self._lanes, key=lambda s: s.cost):  # the emptiest first
                joining = self._joining(state)
                if joining:
                    self._hand_over(state, joining, now, loop)
            deadlines = [e.deadline for e in self._pending if e.deadline is not None]
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _joining(self, state: _LaneState) -> list[Entry]:
        """Queued items this lane takes now, oldest first, within its budget."""
        if not self._pending:
            return []
        lim = self.limits
        taken: list[Entry] = []
        cost, count = state.cost, len(state.entries)
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

    def _hand_over(
        self,
        state: _LaneState,
        joining: list[Entry],
        now: float,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._started(joining, now)
        for e in joining:
            state.entries[id(e)] = e
            state.joined[id(e)] = now
            state.cost += e.cost
            self._in_batch.add(e)
        with state.lock:
            state.inbox.extend(joining)
            if state.working:
                return
            state.working = True
        loop.run_in_executor(self._executor, self._work, state, loop)

    def _stepped(
        self,
        state: _LaneState,
        finished: list[tuple[int, Any]],
        left: list[Entry],
        seconds: float,
        rows: int,
    ) -> None:
        """On the event loop: a lane's run of steps ended; answer what finished."""
        state.busy_s += seconds
        largest = max((e.cost for e in state.entries.values()), default=0)
        self._observer.batch(rows, state.cost, rows * largest, seconds, True)
        self._leave(state, left)
        now, costs = self._clock(), []
        for i, out in finished:
            e = self._forget(state, i)
            if e is None:
                continue
            costs.append(e.cost)
            if not e.future.done():
                joined = state.joined.pop(i, now)
                e.future.set_result(Done(out, joined - e.enqueued, now - joined, rows))
        if costs:  # the lane's throughput: stepping seconds per unit of cost finished
            self._estimate.ran(state.busy_s, costs)
            state.busy_s = 0.0
        self._wake.set()  # its budget has room again

    def _forget(self, state: _LaneState, i: int) -> Entry | None:
        e = state.entries.pop(i, None)
        if e is not None:
            state.cost -= e.cost
            self._in_batch.discard(e)
        return e

    def _leave(self, state: _LaneState, left: list[Entry]) -> None:
        """Entries that left the lane unfinished: a cancelled one counted, an expired one
        told."""
        cancelled = 0
        for e in left:
            self._forget(state, id(e))
            state.joined.pop(id(e), None)
            if e.future.done():
                cancelled += 1
            else:
                e.future.set_exception(
                    DeadlineExceeded("the request's deadline passed while it was being decoded")
                )
                self._observer.dropped(DeadlineExceeded.reason, 1)
        if cancelled:
            self._observer.dropped("cancelled", cancelled)

    def _failed(self, state: _LaneState, exc: Exception, entries: list[Entry]) -> None:
        """On the event loop: the lane's step failed; every item it held fails."""
        self._observer.batch(len(entries), state.cost, len(entries), 0.0, False)
        error = exc if isinstance(exc, EngineError) else EngineError(f"{type(exc).__name__}: {exc}")
        for e in entries:
            self._forget(state, id(e))
            state.joined.pop(id(e), None)
            if not e.future.done():
                e.future.set_exception(error)
        self._wake.set()

    # -- the lane's thread --------------------------------------------------------------
    def _work(self, state: _LaneState, loop: asyncio.AbstractEventLoop) -> None:
        """Step the lane while it holds anything: take in the inbox between steps (all of it
        into an idle lane; into a running one by ``JOIN_RATIO`` / ``JOIN_AFTER_STEPS``),
        drop the cancelled and the expired, post what finished to the event loop."""
        running: dict[int, Entry] = {}
        waiting: list[Entry] = []
        since = 0  # steps since the lane last took newcomers

        def post(callback: Callable[..., None], *args: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed (shutdown)
                loop.call_soon_threadsafe(callback, *args)

        while True:
            with state.lock:
                waiting.extend(state.inbox)
                state.inbox.clear()
                if state.stop or not (running or waiting):
                    state.working = False
                    return
            now = self._clock()
            gone = [e for e in (*running.values(), *waiting) if _gone(e, now)]
            out = {id(e) for e in gone}
            leaving = [i for i in out if i in running]
            for i in leaving:
                del running[i]
            waiting = [e for e in waiting if id(e) not in out]
            lane = state.lane
            joining: list[Entry] = []
            admit = not running or len(waiting) >= JOIN_RATIO * len(running)
            if waiting and lane.can_admit() and (admit or since >= JOIN_AFTER_STEPS):
                joining, waiting = waiting, []
            running.update((id(e), e) for e in joining)
            since = 0 if joining else since + 1
            started = self._clock()
            try:
                finished = self._guard(lane.advance)(
                    [(id(e), e.item, e.key) for e in joining],
                    leaving,
                    self._more(state, running, bool(waiting), started),
                )
            except Exception as exc:
                with state.lock:  # a new lane for what comes next; this one's state is lost
                    state.lane = self._make_lane()
                post(self._failed, state, exc, [*running.values(), *gone])
                running.clear()
                continue
            rows = len(running)
            for i, _ in finished:
                running.pop(i, None)
            post(self._stepped, state, finished, gone, self._clock() - started, rows)

    def _more(
        self, state: _LaneState, running: dict[int, Entry], waiting: bool, started: float
    ) -> Callable[[], bool]:
        """Asked between steps inside ``advance``: step again without coming back — while
        nothing waits to join (in the inbox or held back by the joining rule), none of the
        running items is cancelled or out of time, and for at most ``RUN_S``. (A future's
        state and a deque's length are single reads.)"""

        def more() -> bool:
            now = self._clock()
            if waiting or state.inbox or state.stop or now - started > RUN_S:
                return False
            return not any(_gone(e, now) for e in running.values())

        return more


def _gone(e: Entry, now: float) -> bool:
    """Cancelled (its client went away) or past its deadline."""
    return e.future.done() or (e.deadline is not None and e.deadline <= now)


def _no_batches(key: Any, items: list[Any]) -> list[Any]:
    raise AssertionError("a continuous batcher runs lanes, not batches")
