"""One request's way through the service, without a model: the lookup's answers, the one
mapping from a refused or failed item to HTTP, the timing header, and the lease and the
ticket given back on every path (a real Batcher with a fake engine)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from service.api.call import ClientGone, Timing, begin, failed, find
from service.api.errors import ApiError
from service.door.protocol import LOST
from service.engine.batcher import Batcher
from service.engine.grouping import Limits
from service.engine.outcomes import (
    DeadlineExceeded,
    Done,
    EngineError,
    QueueFull,
    ShuttingDown,
    WouldMissDeadline,
)
from service.engine.slot import Slot

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _registry(*slots: Slot) -> Any:
    table = {s.name: s for s in slots}
    return SimpleNamespace(slots=table, get=table.get)


def _request() -> Any:
    return SimpleNamespace(state=SimpleNamespace())


def _ready(name: str, task: str, version: int = 1) -> Slot:
    return Slot(name, state="ready", version=version, versions=[version], task=task)


def _refusal(call: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


async def test_find_names_what_to_change() -> None:
    registry = _registry(_ready("sentiment", "classification"), _ready("en-fr", "translation"))
    request = _request()
    assert find(request, registry, None, "translation").name == "en-fr"
    assert request.state.model == "en-fr"  # for the access line and the metrics
    e = _refusal(lambda: find(request, registry, "nope"))
    assert (e.status, e.type) == (404, "model_not_found") and "en-fr, sentiment" in e.message
    e = _refusal(lambda: find(request, registry, "sentiment", version="7"))
    assert e.status == 404 and "serves version 1, not '7'" in e.message
    e = _refusal(lambda: find(request, registry, "sentiment", "translation"))
    assert (e.status, e.type) == (422, "wrong_task") and "send it to /v1/classify" in e.message
    e = _refusal(lambda: find(request, _registry(), None, "translation"))
    assert e.status == 503 and "no translation model is loaded" in e.message


async def test_a_model_that_does_not_serve_is_a_503_that_says_why() -> None:
    loading = Slot("a", state="loading", task="classification")
    broken = Slot("b", state="failed", task="classification", error="bad graph")
    registry = _registry(loading, broken)
    assert "still loading" in _refusal(lambda: find(_request(), registry, "a")).message
    assert "failed to load: bad graph" in _refusal(lambda: find(_request(), registry, "b")).message
    assert find(_request(), registry, "b", ready=False) is broken  # the readiness probe's view


async def test_each_refusal_has_its_status() -> None:
    slot = _ready("m", "classification")
    full = failed(slot, QueueFull("64 queued", retry_after_s=2.2))
    assert (full.status, full.headers) == (429, {"Retry-After": "3"})
    assert failed(slot, WouldMissDeadline("late", 0.1)).headers == {"Retry-After": "1"}
    assert failed(slot, DeadlineExceeded("passed")).status == 504
    assert failed(slot, ShuttingDown("bye")).status == 503
    assert failed(slot, EngineError("CUDA")).status == 500
    hidden = failed(slot, KeyError("/etc/secret"))
    assert hidden.status == 500 and "secret" not in hidden.message and "KeyError" in hidden.message


async def test_timing_keeps_the_longest_queue_and_the_largest_batch() -> None:
    t = Timing()
    t.add([Done("a", 0.002, 0.010, 4), Done("b", 0.005, 0.008, 2)])
    t.add([Done("c", 0.001, 0.003, 1)])
    assert (t.queue_s, t.batch_size) == (0.005, 4)
    assert t.compute_s == pytest.approx(0.013)
    h = t.headers()
    assert h["X-Batch-Size"] == "4" and h["Server-Timing"].startswith("queue;dur=5.00, compute")


async def test_the_lease_and_the_ticket_are_given_back_on_every_path() -> None:
    def upper(key: Any, items: list[str]) -> Sequence[str]:
        return [s.upper() for s in items]

    slot = _ready("m", "classification")
    slot.batcher = batcher = Batcher(upper, Limits(max_queue=4))
    batcher.start()
    request = SimpleNamespace(receive=asyncio.Event().wait, scope={})  # a client that stays
    async with begin(request, slot, 1e18, 2) as call:  # type: ignore[arg-type]
        assert (slot.users, batcher.reserved) == (1, 2)
        (done, _) = await call.infer([("a", 1), ("b", 1)], "k")
        assert done.output == "A"
    assert (slot.users, batcher.reserved) == (0, 0)
    with pytest.raises(RuntimeError):
        async with begin(request, slot, 1e18, 3):  # type: ignore[arg-type]
            raise RuntimeError("the route failed while tokenising")
    assert (slot.users, batcher.reserved) == (0, 0)
    e = await _refused(begin(request, slot, 1e18, 5))  # more than the queue holds
    assert e.status == 429 and (slot.users, batcher.reserved) == (0, 0)
    await batcher.close(1)


async def test_a_client_that_leaves_cancels_its_items_through_the_door_s_future() -> None:
    ran: list[list[str]] = []

    def engine(key: Any, items: list[str]) -> Sequence[str]:
        ran.append(items)
        return [s.upper() for s in items]

    slot = _ready("m", "classification")
    # a batch waits up to 60 s to fill: the items stay queued unless the client leaves
    slot.batcher = batcher = Batcher(engine, Limits(max_queue=8, max_wait_s=60.0))
    batcher.start()
    lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    request = SimpleNamespace(receive=asyncio.Event().wait, scope={LOST: lost})
    asyncio.get_running_loop().call_later(0.05, lost.set_result, None)  # the door's signal
    started = time.monotonic()
    async with begin(request, slot, 1e18, 2) as call:  # type: ignore[arg-type]
        with pytest.raises(ClientGone):
            await asyncio.wait_for(call.infer([("a", 1), ("b", 1)], "k"), 5)
    assert time.monotonic() - started < 2  # at the signal, not at wait_for's timeout
    await asyncio.sleep(0.01)  # the batcher prunes cancelled items on its next turn
    assert batcher.depth == 0 and ran == []
    assert (slot.users, batcher.reserved) == (0, 0)
    await batcher.close(1)


async def _refused(block: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        async with block:
            pass
    return caught.value
