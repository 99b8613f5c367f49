"""Debian tools the deployment tests run (installed by `make system-deps`, part of `make test`)."""

from __future__ import annotations

import shutil

import pytest


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run `make system-deps` (apt-get install prometheus "
            "docker-compose; needs root) — `make test` does it on a fresh machine"
        )
    return path
