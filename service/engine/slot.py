"""A served model's slot: its state (loading, ready, failed, unloaded) and why, the version
loaded, its handler and batcher, and the requests holding it (leases)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.repository import ModelVersion
from service.engine.batcher import Batcher
from service.engine.continuous import ContinuousBatcher
from service.engine.handlers import Handler
from service.engine.layout import Layout

log = logging.getLogger("attnserve")


@dataclass
class Slot:
    name: str
    state: str = "loading"  # loading | ready | failed | unloaded
    version: int | None = None
    versions: list[int] = field(default_factory=list)
    task: str | None = None
    error: str | None = None
    device: str | None = None
    provider: str | None = None
    precision: str | None = None
    layout: Layout | None = None  # precision asked for, workers × threads, and why
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

    @property
    def batching(self) -> str | None:
        """``continuous`` (requests join and leave the running batch between decoder
        steps) or ``static`` (batches run to their end); None before it serves."""
        if self.batcher is None:
            return None
        return "continuous" if isinstance(self.batcher, ContinuousBatcher) else "static"

    @contextlib.contextmanager
    def lease(self) -> Iterator[Slot]:
        """Hold this version for one request: a reload swaps a new one in at once, but
        this one closes only when the requests holding it are done."""
        self.users += 1
        try:
            yield self
        finally:
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


def declared_task(root: Path, slot: Slot) -> str | None:
    """The task a broken version's config claims (unverified): lets a request that names
    no model hear why its model failed, not that there is none."""
    version = slot.version or (slot.versions[-1] if slot.versions else None)
    try:
        config = json.loads((root / slot.name / str(version) / "config.json").read_text())
        task = config.get("task") if isinstance(config, dict) else None
    except (OSError, ValueError):
        return None
    return task if isinstance(task, str) else None
