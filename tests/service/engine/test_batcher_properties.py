"""Property tests of the batcher's invariants, on random workloads: every future is resolved
exactly once (result, error, rejection or cancellation), each output belongs to its own
input in order, a failing item fails only its batch, and nothing is left behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.engine.batcher import Batcher, Limits
from service.engine.outcomes import DeadlineExceeded, Done, EngineError, QueueFull


@dataclass
class Request:
    costs: list[int]
    key: int
    expired: bool  # its deadline is already past when it is queued
    cancel: bool  # its caller goes away at once


REQUESTS = st.builds(
    Request,
    costs=st.lists(st.integers(1, 300), min_size=1, max_size=6),
    key=st.integers(0, 2),
    expired=st.booleans(),
    cancel=st.booleans(),
)
LIMITS = st.builds(
    Limits,
    max_batch_size=st.integers(1, 8),
    max_batch_tokens=st.integers(50, 2000),
    max_wait_s=st.sampled_from([0.0, 0.001]),
    max_queue=st.integers(6, 40),
    max_padding=st.sampled_from([1.0, 1.15, 3.0]),
    workers=st.integers(1, 3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LIMITS, st.lists(REQUESTS, min_size=1, max_size=12), st.sets(st.integers(0, 40), max_size=3))
def test_every_future_is_resolved_once_with_its_own_output(
    limits: Limits, requests: list[Request], poisoned: set[int]
) -> None:
    asyncio.run(_run(limits, requests, poisoned))


async def _run(limits: Limits, requests: list[Request], poisoned: set[int]) -> None:
    batches: list[list[str]] = []

    def engine(key: object, items: list[str]) -> Sequence[str]:
        batches.append(list(items))
        if any(int(i.split("-")[1]) in poisoned for i in items):
            raise RuntimeError("poisoned item")
        return [f"out:{i}" for i in items]

    b: Batcher[str, str] = Batcher(engine, limits)
    b.start()
    resolved: dict[int, int] = {}
    submitted: list[tuple[Request, list[str], list[asyncio.Future[Done[str]]]]] = []
    n = 0
    for r in requests:
        items = []
        for c in r.costs:
            items.append((f"i-{n}", c))
            n += 1
        deadline = time.monotonic() - 1 if r.expired else time.monotonic() + 60
        try:
            futures = b.submit(items, r.key, deadline)
        except QueueFull:
            continue  # all or none: nothing of it was queued
        for f in futures:
            f.add_done_callback(lambda f: resolved.__setitem__(id(f), resolved.get(id(f), 0) + 1))
            if r.cancel:
                f.cancel()
        submitted.append((r, [i for i, _ in items], futures))
    every = [f for _, _, fs in submitted for f in fs]
    await asyncio.wait_for(asyncio.gather(*every, return_exceptions=True), 10)
    await b.close(1)
    assert all(count == 1 for count in resolved.values()) and len(resolved) == len(every)
    ran = {i for batch in batches for i in batch}
    for r, names, futures in submitted:
        for name, f in zip(names, futures, strict=True):
            if f.cancelled():
                assert r.cancel
                continue
            error = f.exception()
            if isinstance(error, DeadlineExceeded):
                assert r.expired and name not in ran  # an expired item never runs
            elif isinstance(error, EngineError):
                batch = next(bt for bt in batches if name in bt)
                assert any(int(i.split("-")[1]) in poisoned for i in batch)
            else:
                assert error is None, error
                assert f.result().output == f"out:{name}"  # its own output, in order
    for batch in batches:  # keys never mix; sizes stay within the limit
        keys = {next(r.key for r, names, _ in submitted if i in names) for i in batch}
        assert len(keys) == 1 and len(batch) <= limits.max_batch_size
    assert b.depth == 0 and b.reserved == 0
