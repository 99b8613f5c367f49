"""Every JSON body the service reads (/v1, /v2, model control, the repository index) is
parsed here, and nothing in one can cost more than its bytes: UTF-8 only (no UTF-16 or
UTF-32 guessing), integers of at most ``MAX_INT_DIGITS`` digits, finite numbers only, no
key twice in one object, nesting only as deep as the C parser takes. A body that breaks a
rule is an ``ApiError`` 400 that names the rule."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from service.api.checks import check_count
from service.api.errors import ApiError

MAX_INT_DIGITS = 30  # int64 has 19; a timeout in microseconds needs far fewer


class BodyError(ApiError):
    def __init__(self, message: str, syntax: bool = False) -> None:
        super().__init__(400, "invalid_json", f"{message}; send a UTF-8 JSON object")
        self.syntax = syntax  # not JSON at all (/v1 answers that 422, as it always has)


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BodyError(f"an integer has {len(text.lstrip('-'))} digits, over {MAX_INT_DIGITS}")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BodyError(f"the number {text[:40]} is out of range")
    return value


def _constant(text: str) -> Any:
    raise BodyError(f"{text} is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BodyError(f"the key {key[:60]!r} appears twice in one object")
            seen.add(key)
    return out


def parse(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BodyError(f"the body is not UTF-8 (byte {e.start})") from None
    try:
        return json.loads(
            text,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
            object_pairs_hook=_object,
        )
    except json.JSONDecodeError as e:
        raise BodyError(
            f"the body is not valid JSON ({e.msg} at character {e.pos})", syntax=True
        ) from None
    except RecursionError:  # the C parser's own bound, far below any stack limit
        raise BodyError("the body nests lists or objects too deeply") from None


OFF_LOOP_BYTES = 65536  # bodies this large are parsed on a worker thread


async def read(request: Request) -> Any:
    """The request's body parsed (off the event loop when it is large); ``{}`` when
    there is none."""
    raw = await request.body()
    if not raw.strip():
        return {}
    if len(raw) >= OFF_LOOP_BYTES:
        return await asyncio.to_thread(parse, raw)
    return parse(raw)


class StrictRequest(Request):
    """A request whose JSON is read by ``parse``; a list of texts longer than the service
    takes is refused here, before validation looks at each element."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                body = await read(self)
            except BodyError as e:
                if e.syntax:
                    raise ApiError(422, "invalid_request", e.message) from None
                raise
            texts = body.get("texts") if isinstance(body, dict) else None
            if isinstance(texts, list):
                check_count(texts, self.app.state.registry.settings)
            self._json = body
        return self._json


class StrictRoute(APIRoute):
    """The /v1 routes' class: FastAPI's, with ``StrictRequest`` bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictRequest(request.scope, request.receive))

        return strict
