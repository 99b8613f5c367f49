"""Model control, as Triton's repository extension: list the repository, load (or reload)
and unload models while serving.

``POST /v2/repository/index`` always answers. Loading and unloading change what the
service serves, so they answer only with ``ATTNSERVE_MODEL_CONTROL=true`` (and, when
``ATTNSERVE_API_KEYS`` is set, only to a client with a key), as Triton refuses them outside
``--model-control-mode=explicit``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from runtime.repository import RepositoryError, check_name, models
from service.api import bodies
from service.api.errors import ApiError
from service.api.schemas import V2ErrorResponse
from service.api.v2 import ERRORS, ModelName
from service.engine.registry import Registry, ReloadRefused

router = APIRouter(
    prefix="/v2/repository",
    tags=["v2 model control"],
    responses={
        **ERRORS,
        403: {"model": V2ErrorResponse, "description": "Model control is off"},
    },
)

STATES = {"ready": "READY", "loading": "LOADING"}  # the rest: UNAVAILABLE, with the reason


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


async def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    """The optional JSON body ({} when empty); unknown keys are refused, not ignored."""
    body = await bodies.read(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object")
    extra = set(body) - allowed
    if extra:
        raise ApiError(
            400, "invalid_request", f"unknown field(s) {sorted(extra)}; allowed: {sorted(allowed)}"
        )
    return body


def _controlled(request: Request, name: str) -> Registry:
    registry = _registry(request)
    if not registry.settings.model_control:
        raise ApiError(
            403,
            "forbidden",
            "model control is off: set ATTNSERVE_MODEL_CONTROL=true (with ATTNSERVE_API_KEYS) "
            "to load and unload models over HTTP, or ATTNSERVE_REPOSITORY_POLL_S to pick up "
            "new versions by themselves",
        )
    try:
        check_name(registry.settings.model_repository, name)
    except RepositoryError as e:
        raise ApiError(400, "invalid_request", str(e)) from None
    return registry


@router.post("/index")
async def index(request: Request) -> list[dict[str, str]]:
    """Every model in the repository and every model served: name, version, state (READY,
    LOADING, UNAVAILABLE) and the reason when it is not ready. ``{"ready": true}`` lists
    only the ready ones."""
    body = await _body(request, {"ready"})
    ready_only = body.get("ready", False)
    if not isinstance(ready_only, bool):
        raise ApiError(400, "invalid_request", "'ready' must be true or false")
    registry = _registry(request)
    root = registry.settings.model_repository
    try:
        names = set(models(root))
    except (RepositoryError, OSError):
        names = set()
    out = []
    for name in sorted(names | set(registry.slots)):
        slot = registry.get(name)
        if slot is None:  # in the repository, never loaded
            version = str(registry.wanted_version(name) or "")
            entry = {
                "name": name,
                "version": version,
                "state": "UNAVAILABLE",
                "reason": "not loaded",
            }
        else:
            entry = {
                "name": name,
                "version": str(slot.version or ""),
                "state": STATES.get(slot.state, "UNAVAILABLE"),
                "reason": slot.error or "" if not slot.ready else "",
            }
        if not ready_only or entry["state"] == "READY":
            out.append(entry)
    return out


@router.post("/models/{name}/load")
async def load(request: Request, name: ModelName) -> dict[str, Any]:
    """Load the model's pinned (ATTNSERVE_VERSIONS) or latest version, verified against its
    manifest and warmed up beside the version serving, then swapped in atomically; requests
    already accepted finish on the old version. A version that fails is refused (400) and
    the old one keeps serving."""
    await _body(request, {"parameters"})
    registry = _controlled(request, name)
    if not (registry.settings.model_repository / name).is_dir():
        raise ApiError(
            404, "model_not_found", f"no model {name!r} in {registry.settings.model_repository}"
        )
    try:
        slot = await registry.load_model(name)
    except ReloadRefused as e:
        raise ApiError(400, "load_failed", str(e)) from None
    return {"name": slot.name, "version": str(slot.version), "state": "READY"}


@router.post("/models/{name}/unload")
async def unload(request: Request, name: ModelName) -> dict[str, Any]:
    """Stop serving the model: new requests get 503 until it is loaded again; requests in
    flight finish."""
    await _body(request, {"parameters"})
    registry = _controlled(request, name)
    if registry.get(name) is None:
        raise ApiError(404, "model_not_found", f"model {name!r} is not loaded")
    await registry.unload_model(name)
    return {"name": name, "state": "UNAVAILABLE"}
