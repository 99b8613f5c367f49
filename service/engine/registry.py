"""The served models: each one loaded, validated, warmed up and given its batcher.

A model that fails to load keeps its slot with state ``failed`` and the reason, so that
``/v1/models``, the metrics and the logs tell the truth; the other models serve.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

from service.engine.batcher import Batcher, Limits
from service.engine.handlers import ClassifierHandler, TranslatorHandler
from service.metrics import Metrics
from service.repository import ModelVersion, RepositoryError, load, models, versions
from service.runtime.classifier import ClassifierRuntime
from service.runtime.session import ProviderLost
from service.runtime.translator import TranslatorRuntime
from service.settings import Settings

log = logging.getLogger("attnserve")

Handler = ClassifierHandler | TranslatorHandler


@dataclass
class Slot:
    name: str
    state: str = "loading"  # loading | ready | failed
    version: int | None = None
    versions: list[int] = field(default_factory=list)
    task: str | None = None
    error: str | None = None
    device: str | None = None
    provider: str | None = None
    precision: str | None = None
    load_seconds: float | None = None
    model: ModelVersion | None = None
    handler: Handler | None = None
    batcher: Batcher[Any, Any] | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    return "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"


def _declared_task(root: Path, slot: Slot) -> str | None:
    """The task a broken version's config claims (unverified): lets a request that names
    no model hear why its model failed, not that there is none."""
    version = slot.version or (slot.versions[-1] if slot.versions else None)
    try:
        config = json.loads((root / slot.name / str(version) / "config.json").read_text())
        task = config.get("task") if isinstance(config, dict) else None
    except (OSError, ValueError):
        return None
    return task if isinstance(task, str) else None


class Registry:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.slots: dict[str, Slot] = {}
        self.loaded = False  # every model has been tried
        self.error: str | None = None  # the repository itself could not be read

    def get(self, name: str) -> Slot | None:
        return self.slots.get(name)

    @property
    def ready(self) -> bool:
        return self.loaded and any(s.ready for s in self.slots.values())

    async def load_all(self) -> None:
        """Load every model (off the event loop, one at a time), then start the batchers."""
        root = self.settings.model_repository
        try:
            names = models(root)
        except (RepositoryError, OSError) as e:
            self.error = str(e)
            log.error("model repository unusable: %s", e)
            names = []
        if not names and self.error is None:
            self.error = f"no models in {root} (expected <model>/<version>/ folders)"
            log.error(self.error)
        for name in self.settings.versions:
            if name not in names:
                log.error("pinned model %r is not in %s", name, root)
                self.slots[name] = Slot(
                    name, state="failed", error=f"pinned, but there is no model {name!r} in {root}"
                )
        for name in names:
            self.slots[name] = slot = Slot(name)
            await asyncio.to_thread(self._load, slot)
            self._publish(slot)
            if slot.ready:
                assert slot.handler is not None
                slot.batcher = Batcher(
                    self._guarded(slot),
                    Limits(
                        self.settings.max_batch_size,
                        self.settings.max_batch_tokens,
                        self.settings.max_wait_s,
                        self.settings.max_queue,
                        self.settings.max_padding,
                        self.settings.engine_workers,
                    ),
                    observer=self.metrics.observer(name),
                    name=f"batch-{name}",
                )
                slot.batcher.start()
        self.loaded = True

    def _load(self, slot: Slot) -> None:
        s = self.settings
        started = time.perf_counter()
        try:
            slot.versions = versions(s.model_repository, slot.name)
            latest = slot.versions[-1] if slot.versions else None
            slot.version = s.versions.get(slot.name, latest)
            mv = load(s.model_repository, slot.name, s.versions.get(slot.name))
            slot.version, slot.task, slot.model = mv.version, mv.task, mv
            slot.device = device = resolve_device(s.device)
            handler: Handler
            if mv.task == "classification":
                handler = ClassifierHandler(
                    ClassifierRuntime(mv, s.precision, device, s.session_threads)
                )
                session = handler.runtime.session
            else:
                handler = TranslatorHandler(
                    TranslatorRuntime(mv, s.precision, device, s.session_threads),
                    max_beam=s.max_beam_size,
                )
                session = handler.runtime.decoder
            slot.precision = handler.runtime.precision
            slot.provider = session.get_providers()[0]
            if s.warmup:
                handler.warmup()
            slot.handler = handler
            slot.state = "ready"
            slot.load_seconds = round(time.perf_counter() - started, 3)
            log.info(
                "model %s v%s ready: %s on %s (%s), %.2f s",
                slot.name,
                slot.version,
                slot.task,
                slot.provider,
                slot.precision,
                slot.load_seconds,
            )
        except Exception as e:  # any failure leaves this model failed; the others serve
            slot.state, slot.error = "failed", f"{type(e).__name__}: {e}"
            slot.task = slot.task or _declared_task(s.model_repository, slot)
            log.error("model %s failed to load: %s", slot.name, slot.error)

    def _guarded(self, slot: Slot) -> Callable[[list[Any]], Any]:
        """The handler's run; a provider fallback fails the batch and takes the model out
        of service (a CUDA model silently running on CPU must not pass as healthy)."""
        assert slot.handler is not None
        run = slot.handler.run

        def guarded(items: list[Any]) -> Any:
            try:
                return run(items)
            except ProviderLost as e:
                self.metrics.provider_fallbacks.labels(slot.name).inc()
                slot.state, slot.error = "failed", f"ProviderLost: {e}"
                log.error("model %s taken out of service: %s", slot.name, e)
                self._publish(slot)
                raise

        return guarded

    def _publish(self, slot: Slot) -> None:
        version = str(slot.version or "")
        self.metrics.model_ready.labels(slot.name, version).set(1 if slot.ready else 0)
        if slot.ready:
            self.metrics.model_info.labels(
                slot.name, version, slot.device or "", slot.provider or "", slot.precision or ""
            ).set(1)

    async def close(self, grace_s: float) -> None:
        await asyncio.gather(
            *(s.batcher.close(grace_s) for s in self.slots.values() if s.batcher is not None)
        )
