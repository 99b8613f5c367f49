"""Repository polling (``ATTNSERVE_REPOSITORY_POLL_S``): models new to the repository and
newer versions of the served ones are loaded and swapped in; a version refused once is
not retried until its manifest changes."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from runtime.repository import MANIFEST, RepositoryError, models

if TYPE_CHECKING:
    from service.engine.registry import Registry

log = logging.getLogger("attnserve")


async def poll(registry: Registry, interval_s: float) -> None:
    """Every ``interval_s``, until cancelled."""
    refused: dict[str, tuple[int, float]] = {}
    while True:
        await asyncio.sleep(interval_s)
        for name, version, stamp in await asyncio.to_thread(wanted, registry):
            slot = registry.slots.get(name)
            if slot is not None and (
                slot.state in ("unloaded", "loading") or (slot.ready and slot.version == version)
            ):
                continue  # deliberately out, being loaded, or current
            if refused.get(name) == (version, stamp):
                continue
            try:
                await registry.load_model(name, unless_serving=version)
                log.info("poll: model %s serves version %s", name, version)
            except registry.Refused as e:
                refused[name] = (version, stamp)
                log.error("poll: %s", e)


def wanted(registry: Registry) -> list[tuple[str, int, float]]:
    """(model, the version it should serve, that version's manifest mtime)."""
    root = registry.settings.model_repository
    out = []
    try:
        names = models(root)
    except (RepositoryError, OSError):
        return []
    for name in names:
        version = registry.wanted_version(name)
        if version is None:
            continue
        try:
            stamp = (root / name / str(version) / MANIFEST).stat().st_mtime
        except OSError:
            stamp = 0.0
        out.append((name, version, stamp))
    return out
