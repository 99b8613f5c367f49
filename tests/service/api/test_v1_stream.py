"""The streamed response gives back what its request holds however it ends: sent whole,
or abandoned by a client that is gone before the first event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from service.api.v1_stream import EventStream, event


async def _events() -> AsyncIterator[str]:
    yield event("tokens", {"text": "Le", "tokens": ["Le"]})
    await asyncio.sleep(10)  # a decode that would go on
    yield event("done", {})


def _run(disconnect_at_once: bool) -> tuple[list[dict], int]:
    cleaned = 0

    async def cleanup() -> None:
        nonlocal cleaned
        cleaned += 1

    sent: list[dict] = []

    async def receive() -> dict:
        if not disconnect_at_once:
            await asyncio.sleep(0.2)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    # uvicorn (and the door) speak ASGI 2.3: the response itself listens for the disconnect
    scope = {"type": "http", "asgi": {"spec_version": "2.3"}, "http_version": "1.1"}
    asyncio.run(asyncio.wait_for(EventStream(_events(), cleanup)(scope, receive, send), 5))
    return sent, cleaned


def test_a_stream_cut_off_by_its_client_still_gives_back_what_it_held() -> None:
    for at_once in (True, False):
        sent, cleaned = _run(at_once)
        assert cleaned == 1
        bodies = b"".join(m.get("body", b"") for m in sent)
        assert b"event: done" not in bodies
    sent, _ = _run(False)
    assert sent[0]["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in sent[0]["headers"]
    assert b"event: tokens" in b"".join(m.get("body", b"") for m in sent)


def test_an_event_is_one_sse_record() -> None:
    assert event("done", {"t": "é"}) == 'event: done\ndata: {"t": "é"}\n\n'
