"""A published version given back the int8 graph the repository retired (to stay under
100 MB), for the tests of what chooses between precisions."""

from __future__ import annotations

import json
from pathlib import Path

from export.repository import restore_precisions, seal, write_json
from tests.support.server import REPOSITORY


def with_int8(into: Path, name: str = "sentiment", version: int = 2) -> Path:
    """A copy of ``name``/``version`` under ``into`` (a repository) with its int8 graphs
    built again and made CUDA's default; the version's folder."""
    folder = restore_precisions(
        REPOSITORY / name / str(version), into / name / str(version), ("int8",)
    )
    config = json.loads((folder / "config.json").read_text())
    config["precision"]["cuda"] = "int8"
    write_json(folder / "config.json", config)
    manifest = json.loads((folder / "manifest.json").read_text())
    seal(folder, {k: v for k, v in manifest.items() if k not in ("format", "files")})
    return folder
