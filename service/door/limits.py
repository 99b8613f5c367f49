"""The door's limits, from the settings, and the open-file limit they need."""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from service.settings import Settings

log = logging.getLogger("attnserve")


@dataclass(frozen=True)
class DoorLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    min_body_bytes_per_s: int = 1024
    max_header_bytes: int = 16384
    max_headers: int = 100
    max_connections: int = 1024


def raise_open_files(wanted: int) -> int:
    """Raise the soft open-file limit towards ``wanted`` where the hard limit allows; the
    limit then in force (never lowered)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError) as e:
            log.warning("could not raise the open-file limit from %d: %s", soft, e)
    return soft


RESERVED_FILES = 64  # files the process keeps for itself: models, logs, the metrics port


def limits_for(settings: Settings) -> DoorLimits:
    """The settings' limits, the connection cap lowered (and logged) where the open-file
    limit cannot be raised to hold it."""
    files = raise_open_files(settings.max_connections + RESERVED_FILES)
    connections = min(settings.max_connections, max(1, files - RESERVED_FILES))
    if connections < settings.max_connections:
        log.warning(
            "the open-file limit is %d: at most %d connections (ATTNSERVE_MAX_CONNECTIONS=%d)",
            files,
            connections,
            settings.max_connections,
        )
    return DoorLimits(
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
        min_body_bytes_per_s=settings.min_body_bytes_per_s,
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        max_connections=connections,
    )
