"""A real ``attnserve serve`` for the tests: a process on a free loopback port, on the
committed default models unless told otherwise, polled until ready (the benchmarks'
launcher), killed at the end."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.processes import Server, free_port, launch, serve_command

REPOSITORY = Path(__file__).resolve().parents[2] / "model_repository"

__all__ = ["REPOSITORY", "Server", "start", "stop"]


def start(tmp: Path, port: int | None = None, **env: str) -> Server:
    """The service with this environment plus ``env`` (``ATTNSERVE_*`` variables); its log
    is ``tmp/server-<port>.log``."""
    port = port or free_port()
    variables = {**os.environ, "ATTNSERVE_MODEL_REPOSITORY": str(REPOSITORY), **env}
    return launch(f"server-{port}", serve_command(port), port, variables, tmp, timeout_s=90)


def stop(server: Server) -> None:
    """Kill it (the tests that need a graceful stop send their own signal)."""
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(10)
