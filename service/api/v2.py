"""Open Inference Protocol (KServe V2) over HTTP, as Triton serves it; ``tritonclient.http``
works against it unmodified (JSON and binary tensors, the classification extension,
request ``timeout`` in microseconds).

``sentiment``-like models: input ``text`` (BYTES [N]) → ``label`` (BYTES [N]) and
``probabilities`` (FP32 [N, classes]). ``en-fr``-like: ``text`` (BYTES [N]) →
``translation`` (BYTES [N]); decoding options (``beam_size``, ``max_length``,
``length_penalty``) as request parameters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Request, Response

from core import __version__
from service.api import checks
from service.api.bodies import OFF_LOOP_BYTES
from service.api.call import Timing, begin, find
from service.api.errors import ApiError, documented
from service.api.schemas import V2ErrorResponse
from service.api.v2_codec import (
    HEADER,
    ProtocolError,
    Tensor,
    read_inputs,
    split_body,
    write_response,
)
from service.engine.handlers import InputError
from service.engine.registry import Registry
from service.engine.slot import Slot

ERRORS = documented(
    V2ErrorResponse,
    {
        400: "Bad request: the message says what to change",
        401: "An API key is needed (ATTNSERVE_API_KEYS is set)",
        404: "Unknown model or version",
        413: "Request body over ATTNSERVE_MAX_REQUEST_BYTES",
        429: "Overloaded; retry after Retry-After seconds",
        500: "The engine failed on this request's batch",
        503: "Not ready, unloaded, or shutting down",
        504: "The request's deadline passed while it was queued",
    },
)
# The inference request body, for the OpenAPI document (the route reads the body itself:
# JSON, or JSON followed by binary tensors with Inference-Header-Content-Length).
INFER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "inputs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "shape", "datatype"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "shape": {"type": "array", "items": {"type": "integer"}},
                                    "datatype": {"type": "string"},
                                    "data": {"type": "array"},
                                    "parameters": {"type": "object"},
                                },
                            },
                        },
                        "outputs": {"type": "array", "items": {"type": "object"}},
                        "parameters": {"type": "object"},
                    },
                },
                "example": {
                    "inputs": [
                        {
                            "name": "text",
                            "shape": [2],
                            "datatype": "BYTES",
                            "data": ["Great film", "Dull."],
                        }
                    ]
                },
            }
        },
    }
}
ModelName = Annotated[str, Path(description="A served model", examples=["sentiment", "en-fr"])]
router = APIRouter(prefix="/v2", tags=["v2 (Open Inference Protocol)"], responses=ERRORS)
EXTENSIONS = ["classification", "binary_tensor_data"]
DECODING = ("beam_size", "max_length", "length_penalty")
KNOWN_PARAMETERS = {"timeout", "binary_data_output", *DECODING}


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def _bad(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)


@router.get("")
async def server_metadata() -> dict[str, Any]:
    return {"name": "attnserve", "version": __version__, "extensions": EXTENSIONS}


@router.get("/health/live", response_class=Response)
async def live() -> Response:
    """200 while the process serves HTTP."""
    return Response(status_code=200)


@router.get("/health/ready", response_class=Response)
async def ready(request: Request) -> Response:
    """200 once loading is over and at least one model serves; 503 while loading, when no
    model loaded, and from the moment a shutdown begins."""
    registry = _registry(request)
    ok = registry.ready and not request.app.state.service.draining
    return Response(status_code=200 if ok else 503)


def _metadata(slot: Slot) -> dict[str, Any]:
    head = {
        "name": slot.name,
        "versions": [str(v) for v in slot.versions],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
    }
    if slot.task == "classification":
        labels = slot.model.config["labels"] if slot.model is not None else []
        head["outputs"] = [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(labels)]},
        ]
    else:
        head["outputs"] = [{"name": "translation", "datatype": "BYTES", "shape": [-1]}]
    return head


def _slot(request: Request, name: str, version: str | None, ready: bool = True) -> Slot:
    return find(request, _registry(request), name, version=version, ready=ready)


@router.get("/models/{name}")
@router.get("/models/{name}/versions/{version}")
async def model_metadata(
    request: Request, name: ModelName, version: str | None = None
) -> dict[str, Any]:
    return _metadata(_slot(request, name, version))


@router.get("/models/{name}/ready", response_class=Response)
@router.get("/models/{name}/versions/{version}/ready", response_class=Response)
async def model_ready(request: Request, name: ModelName, version: str | None = None) -> Response:
    slot = _slot(request, name, version, ready=False)
    return Response(
        status_code=200 if slot.ready and not request.app.state.service.draining else 503
    )


def _strings(t: Tensor) -> list[str]:
    if t.datatype != "BYTES":
        raise _bad(f"input 'text' must be BYTES, got {t.datatype}")
    if len(t.shape) not in (1, 2) or (len(t.shape) == 2 and t.shape[1] != 1):
        raise _bad(f"input 'text' must have shape [N] or [N, 1], got {t.shape}")
    if not all(isinstance(x, str) for x in t.data):
        raise _bad("input 'text' must hold strings")
    return list(t.data)


@router.post("/models/{name}/infer", openapi_extra=INFER_BODY)
@router.post("/models/{name}/versions/{version}/infer", openapi_extra=INFER_BODY)
async def infer(request: Request, name: ModelName, version: str | None = None) -> Response:
    body = await request.body()  # before the model is held: a slow upload holds nothing
    timing = Timing()
    slot = _slot(request, name, version)
    registry = _registry(request)
    try:
        if len(body) >= OFF_LOOP_BYTES:  # decoding a large body would stall the event loop
            head, tensors = await asyncio.to_thread(_decode, body, request.headers.get(HEADER))
        else:
            head, tensors = _decode(body, request.headers.get(HEADER))
    except ProtocolError as e:
        raise _bad(str(e)) from None
    if set(tensors) != {"text"}:
        raise _bad(f"model {name!r} takes one input, 'text' (BYTES [N]); got {sorted(tensors)}")
    texts = _strings(tensors["text"])
    params = head.get("parameters") or {}
    if not isinstance(params, dict):
        raise _bad("'parameters' must be an object")
    unknown = set(params) - KNOWN_PARAMETERS
    if unknown:
        raise _bad(f"unknown parameters {sorted(unknown)}; known: {sorted(KNOWN_PARAMETERS)}")
    timeout = params.get("timeout")
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)):
        raise _bad("parameter 'timeout' must be an integer number of microseconds")
    try:
        deadline = checks.deadline_of(None if timeout is None else timeout / 1e6, registry.settings)
        checks.check_texts(texts, registry.settings, "text")
    except ApiError as e:
        raise _bad(e.message) from None
    wanted = _requested_outputs(head, slot)
    async with begin(request, slot, deadline, len(texts), timing) as call:
        handler = call.handler
        try:
            key = handler.options(**{k: params[k] for k in handler.option_names if k in params})
            items, answers = await call.answer(texts, key)
        except InputError as e:
            raise _bad(str(e)) from None
        except ApiError as e:  # what the model cannot take is a 400 in this protocol
            raise _bad(e.message) from None
        outputs = TENSORS[handler.task](handler.respond(items, answers), wanted)
    binary_all = params.get("binary_data_output") is True
    binary = {
        o.name for o in outputs if binary_all or wanted.get(o.name, {}).get("binary_data") is True
    }
    selected = [o for o in outputs if not wanted or o.name in wanted]
    response_head: dict[str, Any] = {"model_name": slot.name, "model_version": str(slot.version)}
    if "id" in head:
        response_head["id"] = head["id"]
    content, headers = write_response(response_head, selected, binary)
    media = "application/octet-stream" if headers else "application/json"
    return Response(content, media_type=media, headers={**headers, **timing.headers()})


def _decode(body: bytes, header_length: str | None) -> tuple[dict[str, Any], dict[str, Tensor]]:
    head, blob = split_body(body, header_length)
    return head, read_inputs(head, blob)


def _requested_outputs(head: dict[str, Any], slot: Slot) -> dict[str, dict[str, Any]]:
    outputs = head.get("outputs")
    if outputs is None:
        return {}
    if not isinstance(outputs, list):
        raise _bad("'outputs' must be a list of {name, parameters?}")
    known = [o["name"] for o in _metadata(slot)["outputs"]]
    wanted: dict[str, dict[str, Any]] = {}
    for o in outputs:
        name = o.get("name") if isinstance(o, dict) else None
        if not isinstance(name, str) or name not in known:
            raise _bad(f"unknown output {name!r}; model {slot.name!r} has {known}")
        params = o.get("parameters") or {}
        if not isinstance(params, dict):
            raise _bad(f"output {name!r}: 'parameters' must be an object")
        wanted[name] = params
    return wanted


def _classification(
    answers: list[dict[str, Any]], wanted: dict[str, dict[str, Any]]
) -> list[Tensor]:
    labels = [a["label"] for a in answers]
    names = list(answers[0]["probabilities"]) if answers else []
    probs = np.array([list(a["probabilities"].values()) for a in answers], np.float32)  # (N, C)
    n, c = len(answers), len(names)
    outputs = [Tensor("label", "BYTES", [n], labels)]
    k = wanted.get("probabilities", {}).get("classification")
    if k is None:
        outputs.append(Tensor("probabilities", "FP32", [n, c], probs.reshape(-1).tolist()))
        return outputs
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= c:
        raise _bad(f"classification must be an integer from 1 to {c}, got {k!r}")
    # Triton's classification extension: the top k as "score:index:label", best first
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    top = [f"{probs[r, i]:.6f}:{i}:{names[i]}" for r in range(n) for i in order[r]]
    outputs.append(Tensor("probabilities", "BYTES", [n, k], top))
    return outputs


def _translation(answers: list[dict[str, Any]], wanted: dict[str, dict[str, Any]]) -> list[Tensor]:
    translations = [a["translation"] for a in answers]
    return [Tensor("translation", "BYTES", [len(answers)], translations)]


# each task's answers as the protocol's output tensors
TENSORS: dict[str, Callable[[list[dict[str, Any]], dict[str, dict[str, Any]]], list[Tensor]]] = {
    "classification": _classification,
    "translation": _translation,
}
