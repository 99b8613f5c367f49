"""``POST /v1/translate/stream``: one translation as Server-Sent Events while it decodes.

Everything that can refuse the request does so before the stream opens, as an ordinary
JSON error with its status (404, 422, 429, 503): the model, the options, the text, the
queue. Then the response is ``text/event-stream``, one event per growth of the result:

    event: tokens
    data: {"text": "Enregistrer les", "tokens": [" les"], "attention": [[…]]}

    event: done
    data: {"model": "en-fr", "version": 3, "translation": "…", "score": -0.21,
           "tokens": [" modifications"], "attention": [[…], […]]}

``text`` is the whole translation so far; ``tokens`` the new tokens. Greedy sends each
token as it is generated; a beam sends the prefix every live beam (and every hypothesis
it has finished) agrees on — which the final translation is sure to begin with. ``done``
carries the rest; with ``"attention": true`` every event carries its new tokens'
cross-attention rows (``done`` one more, for ``</s>``), and ``done`` the source tokens. A
failure after the stream opened is an ``error`` event (``{"error": {"type", "message"}}``)
and ends it. A client that disconnects stops its decoding at the next step. The source
runs in the same batches (the same decoder steps) as ``/v1/translate`` requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from service.api import checks
from service.api.bodies import StrictRoute
from service.api.call import INLINE_CHARS, Call, begin, failed, find
from service.api.schemas import TranslateStreamRequest
from service.api.v1 import ERRORS, batch_key, registry_of
from service.engine.handlers.base import rounded
from service.engine.handlers.translator import TranslateItem, TranslatorHandler
from service.engine.outcomes import Done
from service.engine.stream import Growth, Stream

router = APIRouter(prefix="/v1", tags=["v1"], route_class=StrictRoute)

EVENTS = (
    "Server-Sent Events: `tokens` events (`text`: the translation so far, `tokens`: the new "
    "tokens, `attention`: their cross-attention rows when asked for), then one `done` event "
    "(`model`, `version`, `translation`, `score`, the last `tokens` and rows, "
    "`source_tokens` with attention) — or an `error` event (`error`: `type`, `message`)."
)


class EventStream(StreamingResponse):
    """A streamed response that gives back what its request holds (the model's lease, the
    queue places) once it has been sent, or abandoned, whichever way it ends."""

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[str],
        cleanup: Callable[[], Awaitable[Any]],
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(events, status_code, headers)
        self._cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._cleanup()


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post(
    "/translate/stream",
    response_model=None,  # a stream of events; its refusals are the JSON errors of /v1
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": EVENTS}},
)
async def translate_stream(body: TranslateStreamRequest, request: Request) -> EventStream:
    """One translation streamed as it decodes (Server-Sent Events): greedy tokens as they
    are generated, a beam's agreed prefix as it grows, then the final result."""
    registry = registry_of(request)
    slot = find(request, registry, body.model, "translation")
    deadline = checks.deadline_of(body.timeout, registry.settings)
    held = AsyncExitStack()
    try:
        call = await held.enter_async_context(begin(request, slot, deadline, 1))
        checks.check_texts([body.text], registry.settings, "text")
        handler = call.handler
        assert isinstance(handler, TranslatorHandler)
        options = {k: getattr(body, k) for k in ("beam_size", "max_length", "length_penalty")}
        key = batch_key(handler.options, **options)
        inline = len(body.text) <= INLINE_CHARS
        ((item, cost),) = await call.prepare(
            handler.prepare, [body.text], key, body.truncate, split=False, inline=inline
        )
        stream = Stream(asyncio.get_running_loop(), body.attention)
        item = replace(item, stream=stream)
        # with attention rows, each event costs one more decoder pass over the source
        (future,) = call.submit([(item, cost * 2 if body.attention else cost)], key)
    except BaseException:
        await held.aclose()
        raise
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return EventStream(_events(call, handler, item, stream, future), held.aclose, headers=headers)


async def _events(
    call: Call,
    handler: TranslatorHandler,
    item: TranslateItem,
    stream: Stream,
    future: asyncio.Future[Done[Any]],
) -> AsyncIterator[str]:
    spans = item.masked.spans
    try:
        while True:
            growth: asyncio.Future[Any] = asyncio.ensure_future(stream.events.get())
            pending: set[asyncio.Future[Any]] = {growth, future}
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if not growth.done():
                growth.cancel()
                break
            yield event("tokens", _growth(handler, growth.result(), spans, item.piece.head))
        while not stream.events.empty():  # reported before the batch returned
            yield event(
                "tokens", _growth(handler, stream.events.get_nowait(), spans, item.piece.head)
            )
        try:
            done = future.result()
        except Exception as e:
            error = failed(call.slot, e)
            yield event("error", {"error": {"type": error.type, "message": error.message}})
            return
        out = done.output
        call.request.app.state.registry.metrics.generated.labels(call.slot.name).inc(
            len(out.tokens)
        )
        final: dict[str, Any] = {
            "model": call.slot.name,
            "version": call.slot.version,
            "translation": out.translation,
            "score": round(float(out.score), 6),
            "tokens": handler.tokens(out.tokens[stream.sent :], spans),
        }
        if stream.attention and out.cross_attention is not None:
            final["attention"] = rounded(out.cross_attention[-1].mean(0)[stream.sent :])
            final["source_tokens"] = handler.tokens(item.ids, spans)
        yield event("done", final)
    finally:
        stream.leave()  # a client gone mid-stream: its source leaves at the next step
        future.cancel()


def _growth(handler: TranslatorHandler, g: Growth, spans: Any, head: str = "") -> dict[str, Any]:
    """A ``tokens`` event: the text so far (after what the source's edges kept aside at its
    start: ``done`` adds what they kept at its end), the new tokens, their attention."""
    data: dict[str, Any] = {
        "text": head + handler.runtime.tokenizer.decode(g.tokens, spans),
        "tokens": handler.tokens(g.tokens[len(g.tokens) - g.new :], spans),
    }
    if g.attention is not None:
        data["attention"] = rounded(g.attention)
    return data
