"""Command-line flags that several sides' commands share, written once."""

from __future__ import annotations

import argparse
from pathlib import Path


def repository_flag(p: argparse.ArgumentParser, what: str) -> None:
    """``--repository DIR``: a model repository folder (default ``model_repository/``)."""
    p.add_argument(
        "--repository",
        type=Path,
        default=Path("model_repository"),
        help=f"{what}: a model repository folder (default: model_repository/)",
    )


def device_flag(p: argparse.ArgumentParser, what: str, default: str | None = "auto") -> None:
    """``--device auto|cpu|cuda``; ``default=None`` leaves it to the service's settings."""
    p.add_argument("--device", default=default, choices=["auto", "cpu", "cuda"], help=what)
