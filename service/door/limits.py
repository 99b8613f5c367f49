"""The door's limits (from the settings, see ``service/server.py``) and the open-file limit
they need."""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

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
