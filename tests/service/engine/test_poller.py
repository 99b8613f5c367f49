"""What the repository poller wants served: per model, its wanted version and that
version's manifest stamp (a refused version is retried only when the stamp changes).
The poll loop itself runs against a real repository in tests/service/api/test_control.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from service.engine.poller import wanted
from tests.support.server import REPOSITORY


def _registry(root: Path, pins: dict[str, int | None]) -> Any:
    return SimpleNamespace(settings=SimpleNamespace(model_repository=root), wanted_version=pins.get)


def test_each_model_with_a_wanted_version_is_listed_with_its_manifest_stamp(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPOSITORY, root)
    manifest = root / "en-fr" / "1" / "manifest.json"
    os.utime(manifest, (1_000_000, 1_000_000))
    got = wanted(_registry(root, {"en-fr": 1, "sentiment": None}))
    assert got == [("en-fr", 1, 1_000_000.0)]  # no wanted version: not listed
    os.utime(manifest, (2_000_000, 2_000_000))  # a rewritten manifest is a new stamp
    assert wanted(_registry(root, {"en-fr": 1})) == [("en-fr", 1, 2_000_000.0)]


def test_a_missing_repository_wants_nothing(tmp_path: Path) -> None:
    assert wanted(_registry(tmp_path / "gone", {"en-fr": 1})) == []
