"""Admission: the ticket that owns a request's reservation, the measured wait, and the
refusals — each owner-side rule checked on its own, then through a real batcher."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from service.engine.admission import Ticket, WaitEstimate, refuse_unless_room
from service.engine.batcher import Batcher, Limits
from service.engine.outcomes import QueueFull, ShuttingDown, WouldMissDeadline


def _ticket(count: int = 3) -> tuple[Ticket, list[int], list[tuple[Any, ...]]]:
    given: list[int] = []
    queued: list[tuple[Any, ...]] = []

    def queue(items: Any, key: Any, deadline: Any, since: Any) -> list[Any]:
        queued.append((list(items), key, deadline, since))
        return []

    return Ticket(count, 10.0, 4.0, queue, given.append), given, queued


def test_release_gives_the_places_back_once() -> None:
    ticket, given, _ = _ticket()
    ticket.release()
    ticket.release()
    assert given == [3]


def test_submit_gives_them_back_and_passes_the_admission_time_only_the_first_time() -> None:
    ticket, given, queued = _ticket()
    ticket.submit([("a", 1)], "k", 99.0)
    ticket.submit([("b", 1)], "forced", 99.0)  # follow-up work of the same request
    ticket.release()  # the route's end: nothing left to give back
    assert given == [3]
    assert queued[0][3] == (10.0, 4.0) and queued[1][3] is None


def test_refusals_say_why() -> None:
    with pytest.raises(ShuttingDown):
        refuse_unless_room(1, 0, 8, None, 0.0, None, 0.0, closing=True)
    with pytest.raises(QueueFull, match="holds 7 of 8 items; 2 more do not fit") as full:
        refuse_unless_room(2, 7, 8, None, 1.5, None, 0.0, closing=False)
    assert full.value.retry_after_s == 1.5
    # 1 s of work ahead, deadline in 2 s: 3 × 1 s does not fit (MARGIN = 3)
    with pytest.raises(WouldMissDeadline, match=r"deadline is in 2\.0 s"):
        refuse_unless_room(1, 5, 100, 1.0, 1.0, 2.0, 0.0, closing=False)
    refuse_unless_room(1, 5, 100, 0.5, 0.5, 2.0, 0.0, closing=False)  # 1.5 s fits
    refuse_unless_room(1, 0, 100, 9.0, 9.0, 2.0, 0.0, closing=False)  # nothing ahead: admit


def test_the_estimate_learns_from_batches_and_waits() -> None:
    e = WaitEstimate(workers=2)
    assert e.wait_for(100) == 0.0 and e.run_time([5]) is None
    e.ran(1.0, [50, 50])  # 0.01 s per unit of cost
    assert e.wait_for(100) == pytest.approx(0.5)  # two workers share it
    assert e.run_time([10, 10]) == pytest.approx(0.1) and e.cost_per_item == 50
    e.waited(3.0, 100)  # measured: 0.03 s of waiting per unit ahead, all overheads in
    assert e.wait_for(100) == pytest.approx(3.0)


@pytest.mark.anyio
async def test_a_batcher_counts_what_its_tickets_hold(anyio_backend: str) -> None:
    def run(key: object, items: list[str]) -> Sequence[str]:
        return [s.upper() for s in items]

    b: Batcher[str, str] = Batcher(run, Limits(max_queue=4))
    b.start()
    ticket = b.admit(3)
    assert b.reserved == 3
    with pytest.raises(QueueFull, match="holds 3 of 4"):  # tokenising items count as queued
        b.admit(2)
    futures = ticket.submit([("a", 1), ("b", 1), ("c", 1)])
    assert b.reserved == 0
    done = await asyncio.wait_for(asyncio.gather(*futures), 10)
    assert [d.output for d in done] == ["A", "B", "C"]
    b.admit(4).release()
    assert b.reserved == 0
    await b.close(1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
