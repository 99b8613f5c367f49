"""The continuous batcher with fake lanes: items join a running batch between steps and
are answered the step they finish; cancelled and expired items leave at the next step; a
lane that fails fails only its items and is replaced; shutdown drains. Every future is
resolved on every path. tests/service/test_continuous_server.py drives the real lanes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from service.engine.batcher import Limits
from service.engine.continuous import JOIN_AFTER_STEPS, ContinuousBatcher
from service.engine.outcomes import DeadlineExceeded, Done, EngineError, ShuttingDown
from tests.service.engine.test_batcher import Recorder
from tests.support.wait import until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeLane:
    """An item is ``(name, steps)``: it finishes after that many steps. Each step is
    recorded as the names in it; ``gate`` holds steps; ``fail`` makes the next step raise."""

    made = 0

    def __init__(self) -> None:
        FakeLane.made += 1
        self.left: dict[int, tuple[str, int]] = {}
        self.steps: list[list[str]] = []
        self.told_leaving: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.static = False  # a static graph: joins an empty lane only
        self.calls = 0  # advance() calls (each may run several steps)

    @property
    def running(self) -> int:
        return len(self.left)

    def can_admit(self) -> bool:
        return not (self.static and self.left)

    def advance(
        self,
        joining: Sequence[tuple[int, Any, Any]],
        leaving: Sequence[int],
        more: Callable[[], bool] = lambda: False,
    ) -> list[tuple[int, str]]:
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("boom")
        for i in leaving:
            self.left.pop(i)
            self.told_leaving.append(i)
        for i, (name, steps), _ in joining:
            self.left[i] = (name, steps)
        self.calls += 1
        done: list[tuple[int, str]] = []
        while self.left:  # a step; another while none finished and the batcher agrees
            time.sleep(0.001)
            self.steps.append(sorted(name for name, _ in self.left.values()))
            for i, (name, steps) in list(self.left.items()):
                if steps <= 1:
                    done.append((i, name.upper()))
                    del self.left[i]
                else:
                    self.left[i] = (name, steps - 1)
            if done or not more():
                break
        return done


def _batcher(lane: FakeLane, recorder: Recorder | None = None, **limits: Any) -> ContinuousBatcher:
    lanes = iter([lane])
    b = ContinuousBatcher(
        lambda: next(lanes, None) or FakeLane(),  # type: ignore[arg-type,return-value]
        Limits(**{"max_batch_size": 8, "max_batch_tokens": 1000, **limits}),
        observer=recorder,
    )
    b.start()
    return b


async def _result(fut: asyncio.Future[Done[str]]) -> Done[str]:
    return await asyncio.wait_for(fut, 10)


async def test_a_short_item_joins_a_running_one_and_is_answered_first() -> None:
    lane = FakeLane()
    b = _batcher(lane)
    (long,) = b.submit([(("long", 30), 10)])
    await until(lambda: len(lane.steps) >= 3)
    (short,) = b.submit([(("short", 2), 3)])
    done = await _result(short)
    assert done.output == "SHORT" and not long.done()  # it did not wait for the long one
    assert ["long", "short"] in lane.steps  # one step held both
    assert (await _result(long)).output == "LONG"
    assert done.batch_size == 2 and done.compute_s > 0
    await b.close(1)


async def test_a_running_lane_takes_newcomers_within_a_few_steps_and_its_budget() -> None:
    lane = FakeLane()
    lane.gate.clear()
    b = _batcher(lane, max_batch_size=2)
    futures = b.submit([((f"x{i}", 5), 1) for i in range(3)])
    lane.gate.set()
    await asyncio.gather(*(_result(f) for f in futures))
    assert max(len(s) for s in lane.steps) == 2  # the third waited for a place
    assert any(s == ["x0", "x1"] for s in lane.steps)
    # a newcomer to a running lane waits at most JOIN_AFTER_STEPS steps
    (long,) = b.submit([(("long", 40), 1)])
    await until(lambda: len(lane.steps) >= 45 + 3)
    before = len(lane.steps)
    (late,) = b.submit([(("late", 1), 1)])
    await _result(late)
    joined_at = next(i for i, s in enumerate(lane.steps) if "late" in s)
    assert joined_at - before <= JOIN_AFTER_STEPS + 1
    await _result(long)
    await b.close(1)


async def test_a_cancelled_item_leaves_at_the_next_step() -> None:
    lane, rec = FakeLane(), Recorder()
    b = _batcher(lane, rec)
    gone, stays = b.submit([(("gone", 1000), 5), (("stays", 20), 5)])
    await until(lambda: len(lane.steps) >= 2)
    gone.cancel()
    assert (await _result(stays)).output == "STAYS"
    assert lane.told_leaving and all("gone" not in s for s in lane.steps[-5:])
    assert rec.drops.get("cancelled") == 1
    await b.close(1)


async def test_an_item_whose_deadline_passes_while_it_decodes_is_told_so() -> None:
    lane, rec = FakeLane(), Recorder()
    b = _batcher(lane, rec)
    loop = asyncio.get_running_loop()
    (slow,) = b.submit([(("slow", 10**6), 5)], deadline=loop.time() + 0.3)
    with pytest.raises(DeadlineExceeded, match="while it was being decoded"):
        await _result(slow)
    await until(lambda: lane.running == 0)
    assert rec.drops.get("deadline") == 1
    await b.close(1)


async def test_a_failing_lane_fails_its_items_only_and_is_replaced() -> None:
    lane = FakeLane()
    made = FakeLane.made
    b = _batcher(lane)
    (a,) = b.submit([(("a", 1000), 5)])
    await until(lambda: len(lane.steps) >= 2)
    lane.fail = True
    with pytest.raises(EngineError, match="RuntimeError: boom"):
        await _result(a)
    (c,) = b.submit([(("c", 2), 5)])
    assert (await _result(c)).output == "C"  # on a new lane
    assert FakeLane.made == made + 1
    await b.close(1)


async def test_a_static_lane_takes_items_only_when_empty() -> None:
    lane = FakeLane()
    lane.static = True
    b = _batcher(lane)
    (a,) = b.submit([(("a", 6), 5)])
    await until(lambda: len(lane.steps) >= 2)
    (c,) = b.submit([(("c", 1), 5)])
    await asyncio.gather(_result(a), _result(c))
    assert all(s in (["a"], ["c"]) for s in lane.steps)
    await b.close(1)


async def test_shutdown_drains_running_items_then_fails_what_is_left() -> None:
    lane = FakeLane()
    b = _batcher(lane)
    quick, endless = b.submit([(("quick", 3), 5), (("endless", 10**9), 5)])
    await b.close(0.5)
    assert (await _result(quick)).output == "QUICK"
    with pytest.raises(ShuttingDown):
        await _result(endless)


async def test_a_lane_runs_steps_on_its_thread_while_nothing_changes() -> None:
    """No round trip through the event loop per step while nothing waits, finishes or is
    cancelled; an item that arrives still joins within a couple of steps."""
    lane = FakeLane()
    b = _batcher(lane)
    (long,) = b.submit([(("long", 300), 5)])
    await until(lambda: len(lane.steps) >= 100)
    assert lane.calls < len(lane.steps) / 5  # many steps per call
    before = len(lane.steps)
    (short,) = b.submit([(("short", 1), 5)])
    await _result(short)
    assert (
        next(i for i, s in enumerate(lane.steps) if "short" in s) - before <= JOIN_AFTER_STEPS + 1
    )
    await _result(long)
    await b.close(1)
