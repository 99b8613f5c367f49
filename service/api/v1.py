"""The /v1 API: classify, translate, attention (JSON or PNG), models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from service.api import checks
from service.api.bodies import StrictRoute
from service.api.call import Call, Timing, begin, find
from service.api.encode import json_bytes
from service.api.errors import ApiError, documented
from service.api.renderer import Renderer
from service.api.schemas import (
    AttentionRequest,
    AttentionResponse,
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    TranslateRequest,
    TranslateResponse,
)
from service.engine.handlers import Handler, InputError
from service.engine.registry import Registry

router = APIRouter(prefix="/v1", tags=["v1"], route_class=StrictRoute)

ERRORS = documented(
    ErrorResponse,
    {
        400: "The body is not UTF-8, or breaks a JSON rule (an integer of over 30 digits, "
        "a number out of range, a key twice, nesting too deep)",
        401: "An API key is needed (ATTNSERVE_API_KEYS is set)",
        404: "Unknown model",
        413: "Request body over ATTNSERVE_MAX_REQUEST_BYTES",
        422: "Bad input (not JSON, or not what the route takes); the message says what to change",
        429: "Overloaded: queue full, or the work ahead would outlast the deadline; retry "
        "after Retry-After seconds",
        500: "The engine failed on this request's batch (the next batch runs)",
        503: "Model not ready or unloaded, or the service is shutting down",
        504: "The request's deadline passed while it was queued",
    },
)


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


@asynccontextmanager
async def _texts(
    request: Request, body: ClassifyRequest | TranslateRequest, task: str
) -> AsyncIterator[Call]:
    """The request of a /v1 route that takes ``texts``: the model, its deadline, the count,
    admission (refused before any work), then the texts themselves — in that order, so that
    a request that can never succeed hears 422 and an overload 429 before tokenising."""
    registry = registry_of(request)
    slot = find(request, registry, body.model, task)
    deadline = checks.deadline_of(body.timeout, registry.settings)
    checks.check_count(body.texts, registry.settings)
    async with begin(request, slot, deadline, len(body.texts)) as call:
        checks.check_texts(body.texts, registry.settings)
        yield call


def _json(body: dict[str, Any], timing: Timing) -> JSONResponse:
    return JSONResponse(body, headers=timing.headers())


def batch_key(fn: Callable[..., Hashable], *args: Any, **kwargs: Any) -> Hashable:
    """A handler's batch key for the request's options; options it refuses are a 422."""
    try:
        return fn(*args, **kwargs)
    except InputError as e:
        raise ApiError(422, "invalid_request", str(e)) from None


async def _answer(request: Request, body: ClassifyRequest | TranslateRequest, task: str) -> Any:
    """The answer of a /v1 route that takes ``texts``: the handler's key for the options
    the body sets, its items, their outputs, each text's result."""
    async with _texts(request, body, task) as call:
        handler = call.handler
        options = {k: getattr(body, k) for k in handler.option_names}
        key = batch_key(handler.options, **options)
        items, outputs = await call.answer(body.texts, key, body.truncate)
        results = handler.respond(items, outputs)
    slot = call.slot
    return _json({"model": slot.name, "version": slot.version, "results": results}, call.timing)


@router.post("/classify", response_model=ClassifyResponse, responses=ERRORS)
async def classify(body: ClassifyRequest, request: Request) -> JSONResponse:
    """Labels and class probabilities for each text, batched with concurrent requests."""
    answer: JSONResponse = await _answer(request, body, "classification")
    return answer


@router.post("/translate", response_model=TranslateResponse, responses=ERRORS)
async def translate(body: TranslateRequest, request: Request) -> JSONResponse:
    """Translations by batched beam search (beam 1 is greedy) over the encoder and the
    decoder-step graph with its key/value cache; with ``return_alignment`` the same
    search followed by a teacher-forced pass over each result for its cross-attention."""
    answer: JSONResponse = await _answer(request, body, "translation")
    return answer


@router.post(
    "/attention",
    response_model=AttentionResponse,
    responses={
        **ERRORS,
        200: {
            "content": {"image/png": {}},
            "description": "JSON, or with ?format=png a heatmap with the tokens on its axes",
        },
    },
)
async def attention(
    body: AttentionRequest,
    request: Request,
    format: Literal["json", "png"] = Query("json", description="json or png"),
    layer: int | None = Query(None, description="png: 0-based layer (default: the last)"),
    head: int | None = Query(None, description="png: head (default: the mean of all heads)"),
    kind: Literal["self", "cross", "decoder_self", "pooling"] | None = Query(
        None, description="png: which map (default: self for classifiers, cross for translators)"
    ),
) -> Response:
    """Every attention map of one text: self-attention per layer (heads × query × key),
    the classifier's pooling weights, a translator's cross-attention over its translation
    (or over ``target`` when one is given)."""
    registry = registry_of(request)
    slot = find(request, registry, body.model)
    deadline = checks.deadline_of(body.timeout, registry.settings)
    renderer: Renderer = request.app.state.renderer
    with renderer.place() as place:  # before any work: 429 here when it is busy
        async with begin(request, slot, deadline, 1) as call:
            checks.check_texts([body.text], registry.settings, "text")
            handler = call.handler
            key = batch_key(handler.attention_key, body.target)
            if body.target is not None:
                checks.check_texts([body.target], registry.settings, "target")
            items = await call.prepare(
                handler.prepare_attention, body.text, body.target, key, body.truncate
            )
            (done,) = await call.infer(items, key)
            head_of = {"model": slot.name, "version": slot.version}
            answer = (head_of, handler, items[0][0], done.output)
            if format == "png":
                try:
                    png = await place.run(deadline, _png, *answer, kind, layer, head)
                except ValueError as e:
                    raise ApiError(422, "invalid_request", str(e)) from None
                return Response(png, media_type="image/png", headers=call.timing.headers())
            content = await place.run(deadline, _maps_json, *answer)
    return Response(content, media_type="application/json", headers=call.timing.headers())


def _maps(head: dict[str, Any], handler: Handler, item: Any, output: Any) -> dict[str, Any]:
    return {**head, **handler.explain(item, output)}


def _maps_json(head: dict[str, Any], handler: Handler, item: Any, output: Any) -> bytes:
    """The attention answer as JSON (megabytes for a long text: built off the event loop,
    a row at a time)."""
    return json_bytes(_maps(head, handler, item, output))


def _png(
    head: dict[str, Any],
    handler: Handler,
    item: Any,
    output: Any,
    kind: str | None,
    layer: int | None,
    index: int | None,
) -> bytes:
    from service.api.heatmap import render

    return render(_maps(head, handler, item, output), kind, layer, index)


@router.get("/models", responses={401: ERRORS[401]})
async def list_models(request: Request) -> dict[str, Any]:
    """Every model in the repository: state (ready, loading, failed and why), versions,
    task, what the model is for and where it fails (`description`), labels, limits,
    execution provider, precision and CPU layout (engine workers × ONNX Runtime threads,
    and whether settings, `attnserve tune` or the defaults chose it)."""
    registry = registry_of(request)
    s = registry.settings
    out = []
    for slot in registry.slots.values():
        entry: dict[str, Any] = {
            "name": slot.name,
            "state": slot.state,
            "version": slot.version,
            "versions": slot.versions,
            "task": slot.task,
        }
        if slot.error:
            entry["error"] = slot.error
        if slot.ready and slot.model is not None:
            cfg = slot.model.config
            entry.update(
                provider=slot.provider,
                device=slot.device,
                precision=slot.precision,
                layout=None
                if slot.layout is None
                else {
                    "workers": slot.layout.workers,
                    "threads": slot.layout.threads,
                    "source": slot.layout.source,
                },
                load_seconds=slot.load_seconds,
                description=cfg.get("description"),
                labels=cfg.get("labels"),
                limits={
                    "max_input_tokens": cfg["max_input_tokens"],
                    "max_texts": s.max_texts,
                    "max_chars": s.max_chars,
                    **({"max_beam_size": s.max_beam_size} if slot.task == "translation" else {}),
                },
            )
            if slot.task == "translation":
                entry["decoding"] = cfg.get("decoding")
            entry["batching"] = slot.batching
        out.append(entry)
    return {"models": out, "repository_error": registry.error}
