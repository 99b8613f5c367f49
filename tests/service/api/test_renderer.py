"""The renderer's own admission: a few answers at once, 429 beyond, 504 past the deadline,
and a place is given back only when its thread is free again."""

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


async def test_beyond_its_places_a_request_hears_429_and_a_late_one_504() -> None:
    r = Renderer(workers=1, max_renders=2)
    gate = threading.Event()
    far = time.monotonic() + 30
    held = [asyncio.ensure_future(r.run(far, gate.wait, 10)) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert r.busy == 2
    with pytest.raises(ApiError) as busy:
        await r.run(far, lambda: b"")
    assert busy.value.status == 429 and busy.value.headers == {"Retry-After": "1"}
    gate.set()
    assert await asyncio.gather(*held) == [True, True]
    assert r.busy == 0
    slow = threading.Event()
    with pytest.raises(ApiError) as late:
        await r.run(time.monotonic() + 0.1, slow.wait, 10)
    assert late.value.status == 504
    assert r.busy == 1  # its thread still draws: the place is not free yet
    slow.set()
    for _ in range(100):
        if r.busy == 0:
            break
        await asyncio.sleep(0.01)
    assert r.busy == 0
    r.close()
