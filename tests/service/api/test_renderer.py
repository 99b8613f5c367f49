"""The renderer's own admission: a place taken before any work, 429 beyond its places,
504 past the deadline, and a place given back only when its thread is free again."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from service.api.errors import ApiError
from service.api.renderer import Renderer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _draw(r: Renderer, gate: threading.Event) -> bool:
    with r.place() as place:
        return await place.run(time.monotonic() + 30, gate.wait, 10)


async def test_beyond_its_places_a_request_hears_429_before_any_work() -> None:
    r = Renderer(workers=1, max_renders=2)
    gate = threading.Event()
    held = [asyncio.ensure_future(_draw(r, gate)) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert r.busy == 2
    with pytest.raises(ApiError) as busy, r.place():
        pytest.fail("a third place was given")
    assert busy.value.status == 429 and busy.value.headers == {"Retry-After": "1"}
    gate.set()
    assert await asyncio.gather(*held) == [True, True]
    assert r.busy == 0
    with pytest.raises(RuntimeError), r.place():  # a request that fails before it draws
        raise RuntimeError("inference failed")
    assert r.busy == 0
    r.close()


async def test_past_the_deadline_504_and_the_place_waits_for_its_thread() -> None:
    r = Renderer(workers=1, max_renders=1)
    slow = threading.Event()
    with pytest.raises(ApiError) as late, r.place() as place:
        await place.run(time.monotonic() + 0.1, slow.wait, 10)
    assert late.value.status == 504
    assert r.busy == 1  # its thread still draws: the place is not free yet
    slow.set()
    for _ in range(100):
        if r.busy == 0:
            break
        await asyncio.sleep(0.01)
    assert r.busy == 0
    r.close()
