"""A slot's leases: a replaced version closes only once the requests holding it are done."""

from __future__ import annotations

import asyncio

import pytest

from service.engine.slot import Slot

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_retire_waits_for_the_last_lease() -> None:
    slot = Slot("m", state="ready")
    with slot.lease(), slot.lease():
        assert slot.users == 2
        retiring = asyncio.ensure_future(slot.retire(10))
        await asyncio.sleep(0)
        assert not retiring.done()  # two requests still hold it
    await asyncio.wait_for(retiring, 5)
    assert slot.users == 0


async def test_a_lease_is_given_back_when_its_request_fails() -> None:
    slot = Slot("m", state="ready")
    with pytest.raises(RuntimeError), slot.lease():
        raise RuntimeError("the route failed")
    assert slot.users == 0
    await asyncio.wait_for(slot.retire(1), 5)  # nothing holds it: at once
