"""The served models: each one loaded, validated, warmed up and given its batcher.

A model that fails to load keeps its slot with state ``failed`` and the reason, so that
``/v1/models``, the metrics and the logs tell the truth; the other models serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

from runtime.classifier import ClassifierRuntime
from runtime.repository import (
    MANIFEST,
    ModelVersion,
    RepositoryError,
    check_name,
    load,
    models,
    versions,
)
from runtime.session import ProviderLost
from runtime.translator import TranslatorRuntime
from service.engine.batcher import Batcher, Limits
from service.engine.handlers import ClassifierHandler, TranslatorHandler
from service.metrics import Metrics
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
    # requests holding this slot: a replaced slot's batcher closes only when none is left,
    # so every request finishes on the version that accepted it
    users: int = 0
    _idle: asyncio.Event | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def acquire(self) -> None:
        self.users += 1

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self._idle is not None:
            self._idle.set()

    async def retire(self, grace_s: float) -> None:
        """Out of the registry: wait for the requests that hold it, then close its batcher
        (which runs what they queued)."""
        if self.users:
            self._idle = asyncio.Event()
            try:
                await asyncio.wait_for(self._idle.wait(), grace_s)
            except TimeoutError:
                log.warning(
                    "model %s v%s retired with %d requests still on it",
                    self.name,
                    self.version,
                    self.users,
                )
        if self.batcher is not None:
            await self.batcher.close(grace_s)


class ReloadRefused(Exception):
    """A version that cannot be served; the message says why (and what still serves)."""


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
        self._locks: dict[str, asyncio.Lock] = {}
        self._retiring: set[asyncio.Task[None]] = set()

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
            async with self._lock(name):  # a load or unload request waits for this one
                self.slots[name] = slot = Slot(name)
                await asyncio.to_thread(self._load, slot)
                if slot.handler is not None:
                    self._start(slot)
                self._publish(slot)
        self.loaded = True

    def _start(self, slot: Slot) -> None:
        assert slot.handler is not None
        s = self.settings
        slot.batcher = Batcher(
            self._guarded(slot),
            Limits(
                s.max_batch_size,
                s.max_batch_tokens,
                s.max_wait_s,
                s.max_queue,
                s.max_padding,
                s.engine_workers,
            ),
            observer=self.metrics.observer(slot.name),
            name=f"batch-{slot.name}",
        )
        slot.batcher.start()
        slot.state = "ready"  # on the event loop, with its batcher: requests may use it now

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def load_model(self, name: str, unless_serving: int | None = None) -> Slot:
        """Load (or reload) a model: its pinned version, else its latest, verified against
        its manifest and warmed up beside the one serving, then swapped in at once. The
        replaced version finishes the requests it accepted. A version that fails is refused
        (ReloadRefused) and the one serving keeps serving. ``unless_serving``: do nothing if
        that version already serves (the poller's check, made again under the lock)."""
        check_name(self.settings.model_repository, name)
        async with self._lock(name):
            old = self.slots.get(name)
            if old is not None and old.ready and old.version == unless_serving:
                return old
            new = Slot(name)
            if old is not None and not old.ready:
                self._replace(old, new)  # nothing serves it (a failed slot may hold a batcher)
                old = None
            elif old is None:
                self.slots[name] = new  # show it as loading
            await asyncio.to_thread(self._load, new)
            if new.handler is None:
                if old is not None:
                    raise ReloadRefused(
                        f"model {name!r} version {new.version} refused: {new.error}; "
                        f"version {old.version} keeps serving"
                    )
                self._publish(new)
                raise ReloadRefused(f"model {name!r} failed to load: {new.error}")
            self._start(new)
            if old is not None:
                self._replace(old, new)  # the swap: requests from here on get the new version
            self._publish(new)
            return new

    def _replace(self, old: Slot, new: Slot) -> None:
        """``new`` serves from now on; ``old`` finishes what it holds, then closes."""
        self.slots[old.name] = new
        self._unpublish(old)
        self._retire(old)

    async def unload_model(self, name: str) -> None:
        """Take a model out of service: new requests get 503, those in flight finish."""
        async with self._lock(name):
            old = self.slots.get(name)
            if old is None:
                raise KeyError(name)
            self._replace(
                old,
                Slot(
                    name,
                    state="unloaded",
                    versions=old.versions,
                    task=old.task,
                    error=f"unloaded; POST /v2/repository/models/{name}/load to serve it again",
                ),
            )

    def _retire(self, slot: Slot) -> None:
        task = asyncio.create_task(slot.retire(self.settings.grace_period_s))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def poll(self, interval_s: float) -> None:
        """Every ``interval_s``: load models new to the repository and newer versions of the
        served ones (unless pinned); a version refused once is not retried until its
        manifest changes."""
        refused: dict[str, tuple[int, float]] = {}
        while True:
            await asyncio.sleep(interval_s)
            for name, version, stamp in await asyncio.to_thread(self._wanted):
                slot = self.slots.get(name)
                if slot is not None and (
                    slot.state in ("unloaded", "loading")
                    or (slot.ready and slot.version == version)
                ):
                    continue  # deliberately out, being loaded, or current
                if refused.get(name) == (version, stamp):
                    continue
                try:
                    await self.load_model(name, unless_serving=version)
                    log.info("poll: model %s serves version %s", name, version)
                except ReloadRefused as e:
                    refused[name] = (version, stamp)
                    log.error("poll: %s", e)

    def wanted_version(self, name: str) -> int | None:
        """The version ``name`` should serve: pinned, else its latest; None if unreadable."""
        try:
            found = versions(self.settings.model_repository, name)
        except (RepositoryError, OSError):
            return None
        return self.settings.versions.get(name, found[-1] if found else None)

    def _wanted(self) -> list[tuple[str, int, float]]:
        """(model, the version it should serve, that version's manifest mtime)."""
        root = self.settings.model_repository
        out = []
        try:
            names = models(root)
        except (RepositoryError, OSError):
            return []
        for name in names:
            version = self.wanted_version(name)
            if version is None:
                continue
            try:
                stamp = (root / name / str(version) / MANIFEST).stat().st_mtime
            except OSError:
                stamp = 0.0
            out.append((name, version, stamp))
        return out

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
            slot.handler = handler  # "ready" only once its batcher runs (_start)
            slot.load_seconds = round(time.perf_counter() - started, 3)
            log.info(
                "model %s v%s loaded: %s on %s (%s), %.2f s",
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

    def _unpublish(self, slot: Slot) -> None:
        version = str(slot.version or "")
        for gauge, labels in (
            (self.metrics.model_ready, (slot.name, version)),
            (
                self.metrics.model_info,
                (slot.name, version, slot.device or "", slot.provider or "", slot.precision or ""),
            ),
        ):
            with contextlib.suppress(KeyError):  # never exported
                gauge.remove(*labels)

    def _publish(self, slot: Slot) -> None:
        version = str(slot.version or "")
        self.metrics.model_ready.labels(slot.name, version).set(1 if slot.ready else 0)
        if slot.ready:
            self.metrics.model_info.labels(
                slot.name, version, slot.device or "", slot.provider or "", slot.precision or ""
            ).set(1)

    async def close(self, grace_s: float) -> None:
        await asyncio.gather(
            *(s.batcher.close(grace_s) for s in self.slots.values() if s.batcher is not None),
            *self._retiring,
        )
