"""The inference routes without FastAPI's request stack.

``POST /v1/classify``, ``/v1/translate`` and ``/v2/models/{name}[/versions/{v}]/infer``
carry nearly all the traffic, and FastAPI's per-request machinery — its middleware stack,
routing, dependency solving — cost more CPU than the model on one short text. Here the
service middleware, which has already read the body and taken the in-flight place, calls
the very same route functions (``v1.classify``, ``v1.translate``, ``v2.infer``) with the
body parsed by ``bodies.parse`` and validated by the same pydantic models.

What this path does not handle it hands back, untouched, to FastAPI, which answers exactly
as it always has: a body that fails validation (FastAPI words the 422), a body that is
not JSON by its content type, a missing or wrong API key (401), a cross-origin request
when CORS is on. Routing, OpenAPI and every other route stay FastAPI's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.types import Receive, Scope, Send

from service.api import bodies, checks, v1, v2
from service.api.auth import Keys
from service.api.call import ClientGone, gone_response
from service.api.errors import ApiError, api_response
from service.api.middleware import INFER
from service.api.schemas import ClassifyRequest, TranslateRequest

_V1: dict[str, tuple[type[BaseModel], Callable[..., Awaitable[Response]]]] = {
    "/v1/classify": (ClassifyRequest, v1.classify),
    "/v1/translate": (TranslateRequest, v1.translate),
}
Answer = Callable[[Request], Awaitable[Response]]


class HotRoutes:
    def __init__(self, app: FastAPI, keys: Keys | None, cors: bool) -> None:
        self.app, self.keys, self.cors = app, keys, cors
        self.settings = app.state.registry.settings

    async def __call__(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> bool:
        """Answer the request if it is one of the hot routes' and this path takes it;
        False (nothing sent) to hand it to FastAPI."""
        answer = self._route(scope, body) if scope["method"] == "POST" else None
        if answer is None:
            return False
        scope["app"] = self.app
        request = Request(scope, receive)
        try:
            response = await answer(request)
        except _HandOver:
            return False
        except ApiError as e:
            response = api_response(scope["path"], e)
        except ClientGone:
            response = gone_response()
        await response(scope, receive, send)
        return True

    def _route(self, scope: Scope, body: bytes) -> Answer | None:
        path: str = scope["path"]
        v1_route = _V1.get(path)
        infer = None if v1_route else INFER.match(path)
        if v1_route is None and infer is None:
            return None
        headers = _headers(scope)
        if self.keys is not None and not self.keys.allowed(headers.get(b"authorization")):
            return None
        if self.cors and b"origin" in headers:
            return None
        if infer is not None:
            name, version = infer.group("name"), infer.group("version")
            return lambda request: v2.infer(request, name, version)
        kind = headers.get(b"content-type")
        if not body.strip() or (kind is not None and not _is_json(kind)):
            return None
        model, route = v1_route  # type: ignore[misc]
        return lambda request: self._v1(request, body, model, route)

    async def _v1(
        self,
        request: Request,
        body: bytes,
        model: type[BaseModel],
        route: Callable[..., Awaitable[Response]],
    ) -> Response:
        try:
            parsed = bodies.parse(body)
        except bodies.BodyError as e:
            if e.syntax:  # as StrictRequest answers it
                raise ApiError(422, "invalid_request", e.message) from None
            raise
        texts = parsed.get("texts") if isinstance(parsed, dict) else None
        if isinstance(texts, list):
            checks.check_count(texts, self.settings)
        try:
            valid = model.model_validate(parsed)
        except ValidationError:
            raise _HandOver() from None
        return await route(valid, request)


class _HandOver(Exception):
    """This path does not answer the request: FastAPI does."""


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


def _is_json(content_type: bytes) -> bool:
    kind = content_type.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )
