"""The served models: each one loaded, validated, warmed up and given its batcher.

A model that fails to load keeps its slot with state ``failed`` and the reason, so that
``/v1/models``, the metrics and the logs tell the truth; the other models serve.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from runtime.repository import RepositoryError, check_name, models, versions
from runtime.session import ProviderLost
from service.engine import poller
from service.engine.batcher import Batcher, Limits
from service.engine.continuous import ContinuousBatcher
from service.engine.handlers.base import Lane
from service.engine.layout import Tuning
from service.engine.loader import load_into
from service.engine.slot import Slot
from service.metrics import Metrics
from service.settings import Settings

log = logging.getLogger("attnserve")


class ReloadRefused(Exception):
    """A version that cannot be served; the message says why (and what still serves)."""


class Registry:
    """The served models by name: loading them all at start, loading or reloading one
    (swapped in whole), unloading, and closing; ``poller`` keeps it in step with the
    repository. Each slot's metrics are published through ``Metrics``."""

    Refused = ReloadRefused

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.slots: dict[str, Slot] = {}
        self.loaded = False  # every model has been tried
        self.error: str | None = None  # the repository itself could not be read
        self._locks: dict[str, asyncio.Lock] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self.tuning = Tuning(settings.tuning_file)

    def get(self, name: str) -> Slot | None:
        return self.slots.get(name)

    @property
    def ready(self) -> bool:
        return self.loaded and any(s.ready for s in self.slots.values())

    async def load_all(self) -> None:
        """Load every model (off the event loop, one at a time), then start the batchers."""
        root = self.settings.model_repository
        log.info("%s", self.tuning.note)
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
                await asyncio.to_thread(load_into, slot, self.settings, self.tuning)
                if slot.handler is not None:
                    self._start(slot)
                self.metrics.publish(slot)
        self.loaded = True

    def _start(self, slot: Slot) -> None:
        assert slot.handler is not None
        s = self.settings
        limits = Limits(
            s.max_batch_size,
            s.max_batch_tokens,
            s.max_wait_s,
            s.max_queue,
            s.max_padding,
            slot.layout.workers if slot.layout else s.engine_workers,
        )
        observer = self.metrics.observer(slot.name)
        handler = slot.handler
        if s.continuous_batching and handler.lane() is not None:
            slot.batcher = ContinuousBatcher(
                lambda: cast(Lane, handler.lane()),
                limits,
                guard=lambda run: self._guarded(slot, run),
                observer=observer,
                name=f"lanes-{slot.name}",
            )
        else:
            slot.batcher = Batcher(
                self._guarded(slot, handler.run_batch),
                limits,
                observer=observer,
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
            await asyncio.to_thread(load_into, new, self.settings, self.tuning)
            if new.handler is None:
                if old is not None:
                    raise ReloadRefused(
                        f"model {name!r} version {new.version} refused: {new.error}; "
                        f"version {old.version} keeps serving"
                    )
                self.metrics.publish(new)
                raise ReloadRefused(f"model {name!r} failed to load: {new.error}")
            self._start(new)
            if old is not None:
                self._replace(old, new)  # the swap: requests from here on get the new version
            self.metrics.publish(new)
            return new

    def _replace(self, old: Slot, new: Slot) -> None:
        """``new`` serves from now on; ``old`` finishes what it holds, then closes."""
        self.slots[old.name] = new
        self.metrics.unpublish(old)
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
        await poller.poll(self, interval_s)

    def wanted_version(self, name: str) -> int | None:
        """The version ``name`` should serve: pinned, else its latest; None if unreadable."""
        try:
            found = versions(self.settings.model_repository, name)
        except (RepositoryError, OSError):
            return None
        return self.settings.versions.get(name, found[-1] if found else None)

    def _guarded(self, slot: Slot, run: Callable[..., Any]) -> Callable[..., Any]:
        """The handler's ``run`` (a batch, a lane's step); a provider fallback fails it and
        takes the model out of service (a CUDA model silently running on CPU must not pass
        as healthy)."""

        def guarded(*args: Any) -> Any:
            try:
                return run(*args)
            except ProviderLost as e:
                self.metrics.provider_fallbacks.labels(slot.name).inc()
                slot.state, slot.error = "failed", f"ProviderLost: {e}"
                log.error("model %s taken out of service: %s", slot.name, e)
                self.metrics.publish(slot)
                raise

        return guarded

    async def close(self, grace_s: float) -> None:
        await asyncio.gather(
            *(s.batcher.close(grace_s) for s in self.slots.values() if s.batcher is not None),
            *self._retiring,
        )
