"""The /v1 API: classify, translate, attention (JSON or PNG), models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from service.api import checks
from service.api.call import Call, Timing, begin, find
from service.api.errors import ApiError, documented
from service.api.schemas import (
    AttentionRequest,
    AttentionResponse,
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    TranslateRequest,
    TranslateResponse,
)
from service.engine.handlers import ClassifierHandler, TranslatorHandler
from service.engine.registry import Registry

router = APIRouter(prefix="/v1", tags=["v1"])

ERRORS = documented(
    ErrorResponse,
    {
        400: "The body is not JSON (or not UTF-8)",
        401: "An API key is needed (ATTNSERVE_API_KEYS is set)",
        404: "Unknown model",
        413: "Request body over ATTNSERVE_MAX_REQUEST_BYTES",
        422: "Bad input; the message says what to change",
        429: "Overloaded: queue full, or the work ahead would outlast the deadline; retry "
        "after Retry-After seconds",
        500: "The engine failed on this request's batch (the next batch runs)",
        503: "Model not ready or unloaded, or the service is shutting down",
        504: "The request's deadline passed while it was queued",
    },
)


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


@asynccontextmanager
async def _texts(
    request: Request, body: ClassifyRequest | TranslateRequest, task: str
) -> AsyncIterator[Call]:
    """The request of a /v1 route that takes ``texts``: the model, its deadline, the count,
    admission (refused before any work), then the texts themselves — in that order, so that
    a request that can never succeed hears 422 and an overload 429 before tokenising."""
    registry = _registry(request)
    slot = find(request, registry, body.model, task)
    deadline = checks.deadline_of(body.timeout, registry.settings)
    checks.check_count(body.texts, registry.settings)
    async with begin(request, slot, deadline, len(body.texts)) as call:
        checks.check_texts(body.texts, registry.settings)
        yield call


def _json(body: dict[str, Any], timing: Timing) -> JSONResponse:
    return JSONResponse(body, headers=timing.headers())


@router.post("/classify", response_model=ClassifyResponse, responses=ERRORS)
async def classify(body: ClassifyRequest, request: Request) -> JSONResponse:
    """Labels and class probabilities for each text, batched with concurrent requests."""
    async with _texts(request, body, "classification") as call:
        slot, handler = call.slot, call.slot.handler
        assert isinstance(handler, ClassifierHandler)
        items = await call.prepare(handler.prepare, body.texts, body.truncate)
        done = await call.infer(items, "classify")
    results = handler.respond([d.output for d in done])
    return _json({"model": slot.name, "version": slot.version, "results": results}, call.timing)


@router.post("/translate", response_model=TranslateResponse, responses=ERRORS)
async def translate(body: TranslateRequest, request: Request) -> JSONResponse:
    """Translations by batched beam search (beam 1 is greedy) over the encoder and the
    decoder-step graph with its key/value cache."""
    registry = _registry(request)
    async with _texts(request, body, "translation") as call:
        slot, handler = call.slot, call.slot.handler
        assert isinstance(handler, TranslatorHandler)
        try:
            decoding = handler.decoding(
                beam_size=body.beam_size,
                max_length=body.max_length,
                length_penalty=body.length_penalty,
            )
        except ValueError as e:
            raise ApiError(422, "invalid_request", str(e)) from None
        items = await call.prepare(handler.prepare, body.texts, decoding, body.truncate)
        done = await call.infer(items, decoding)
        registry.metrics.generated.labels(slot.name).inc(sum(len(d.output.tokens) for d in done))
        results = handler.respond([d.output for d in done])
        if body.return_alignment:
            forced = [
                (handler.forced(it, d.output.tokens), cost)
                for (it, cost), d in zip(items, done, strict=True)
            ]
            aligned = await call.infer(forced, "forced")
            for result, (item, _), a in zip(results, forced, aligned, strict=True):
                cross = a.output.cross_attention  # (Ld, h, T+1, S)
                result["alignment"] = {
                    "source_tokens": handler.tokens(item.ids, item.masked.spans),
                    "target_tokens": [
                        *handler.tokens(item.target or [], item.masked.spans),
                        "</s>",
                    ],
                    "weights": _round(cross[-1].mean(0)),
                }
    return _json({"model": slot.name, "version": slot.version, "results": results}, call.timing)


def _round(a: np.ndarray, digits: int = 5) -> Any:
    return np.round(a.astype(np.float64), digits).tolist()


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
    the classifier's pooling weights, a translator's cross-attention over its translation."""
    registry = _registry(request)
    slot = find(request, registry, body.model)
    deadline = checks.deadline_of(body.timeout, registry.settings)
    async with begin(request, slot, deadline, 1) as call:
        checks.check_texts([body.text], registry.settings, "text")
        out: dict[str, Any] = {"model": slot.name, "version": slot.version}
        handler = slot.handler
        if isinstance(handler, ClassifierHandler):
            if body.target is not None:
                raise ApiError(422, "invalid_request", "'target' is for translation models only")
            items = await call.prepare(handler.prepare, [body.text], body.truncate, attention=True)
            (d,) = await call.infer(items, "attention")
            o = d.output
            out["tokens"] = handler.tokens(items[0][0].ids)
            out["label"] = handler.labels[int(np.argmax(o.probabilities))]
            maps = [
                {"layer": i, "kind": "self", "weights": _round(w)}
                for i, w in enumerate(o.attention)
            ]
            maps.append({"layer": None, "kind": "pooling", "weights": _round(o.pooling)})
        else:
            assert isinstance(handler, TranslatorHandler)
            if body.target is not None:
                checks.check_texts([body.target], registry.settings, "target")
                item = await call.prepare(
                    handler.prepare_forced, body.text, body.target, body.truncate
                )
            else:
                sources = await call.prepare(
                    handler.prepare, [body.text], handler.defaults, body.truncate
                )
                (gen,) = await call.infer(sources, handler.defaults)
                item = handler.forced(sources[0][0], gen.output.tokens)
            (d,) = await call.infer([(item, len(item.ids))], "forced")
            o = d.output
            assert item.target is not None
            out["tokens"] = handler.tokens(item.ids, item.masked.spans)
            out["target_tokens"] = [*handler.tokens(item.target, item.masked.spans), "</s>"]
            out["translation"] = o.translation
            maps = [
                {"layer": i, "kind": "self", "weights": _round(w)}
                for i, w in enumerate(o.encoder_attention)
            ]
            maps += [
                {"layer": i, "kind": "cross", "weights": _round(w)}
                for i, w in enumerate(o.cross_attention)
            ]
            if o.decoder_attention is not None:
                maps += [
                    {"layer": i, "kind": "decoder_self", "weights": _round(w)}
                    for i, w in enumerate(o.decoder_attention)
                ]
        out["attention"] = maps
        if format == "png":
            from service.api.heatmap import render

            try:
                png = await call.prepare(render, out, kind, layer, head)
            except ValueError as e:
                raise ApiError(422, "invalid_request", str(e)) from None
            return Response(png, media_type="image/png", headers=call.timing.headers())
    return _json(out, call.timing)


@router.get("/models", responses={401: ERRORS[401]})
async def list_models(request: Request) -> dict[str, Any]:
    """Every model in the repository: state (ready, loading, failed and why), versions,
    task, what the model is for and where it fails (`description`), labels, limits,
    execution provider and precision."""
    registry = _registry(request)
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
        out.append(entry)
    return {"models": out, "repository_error": registry.error}
