"""Errors as the client sees them: a status code and a message that says what to change.

``/v1`` answers ``{"error": {"type", "message"}}``; ``/v2`` answers ``{"error": "..."}``
as the Open Inference Protocol says. No stack trace ever leaves the process.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from service.logs import request_id

log = logging.getLogger("attnserve")
SHOWN_PROBLEMS = 5  # a validation error names this many problems, then counts the rest


class ApiError(HTTPException):
    """An answer with a status and a message that says what to change. An HTTPException,
    so that one raised while FastAPI reads a body passes through with its own words."""

    def __init__(
        self, status: int, type_: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, message, headers)
        self.status, self.type, self.message = status, type_, message

    def __str__(self) -> str:
        return self.message


def documented(model: type, descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, each with its body schema."""
    return {status: {"model": model, "description": text} for status, text in descriptions.items()}


def error_response(
    path: str, status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, object]
    if path.startswith("/v2"):
        body = {"error": message}
    else:
        body = {"error": {"type": type_, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def api_response(path: str, exc: ApiError) -> JSONResponse:
    """The answer for an ``ApiError`` raised on ``path``."""
    headers = dict(exc.headers) if exc.headers else None
    return error_response(path, exc.status, exc.type, exc.message, headers)


def _where(loc: tuple[object, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "the request body"


def describe_validation(exc: RequestValidationError) -> str:
    problems = []
    errors = exc.errors()
    for err in errors[:SHOWN_PROBLEMS]:
        where = _where(tuple(err.get("loc", ())))
        kind = err.get("type", "")
        if kind == "json_invalid":
            ctx = err.get("ctx", {}).get("error", "")
            problems.append(f"the body is not valid JSON ({ctx}); send a JSON object")
        elif kind == "missing":
            problems.append(f"{where} is required")
        elif kind == "extra_forbidden":
            problems.append(f"{where} is not a known field; remove it (see /docs)")
        else:
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
    more = len(errors) - len(problems)
    return "; ".join(problems) + (f"; and {more} more problems like these" if more > 0 else "")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return api_response(request.url.path, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status = 400 if request.url.path.startswith("/v2") else 422
        return error_response(request.url.path, status, "invalid_request", describe_validation(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}; see /docs for the API"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        elif exc.status_code == 400 and "parsing the body" in message:
            message = "the body could not be parsed: send UTF-8 JSON"
        return error_response(
            request.url.path,
            exc.status_code,
            "not_found" if exc.status_code == 404 else "invalid_request",
            message,
            dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            request.url.path,
            500,
            "internal",
            f"internal error ({type(exc).__name__}); it is logged on the server with "
            f"request id {request_id.get() or '-'}",
        )
