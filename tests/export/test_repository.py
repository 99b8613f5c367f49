"""Retiring precisions of a published version: files gone, config and manifest agree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from export import variants
from export.repository import retire_precisions, seal
from models.train.common import write_json
from runtime.repository import validate
from tests.support.server import REPOSITORY


def _with_int8(folder: Path) -> None:
    """A published fp32-only version given back an int8 graph (and a cuda default of it),
    sealed as the export seals one."""
    config = json.loads((folder / "config.json").read_text())
    variants.int8(folder / "classifier.onnx", folder / "classifier.int8.onnx")
    config["graphs"]["classifier"]["int8"] = "classifier.int8.onnx"
    config["precision"]["cuda"] = "int8"
    write_json(folder / "config.json", config)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.pop("files")
    manifest.pop("format")
    seal(folder, manifest)


def test_retired_graphs_leave_a_version_that_validates_and_says_why(tmp_path: Path) -> None:
    src = REPOSITORY / "sentiment" / "2"
    folder = tmp_path / "sentiment" / "2"
    shutil.copytree(src, folder)
    _with_int8(folder)
    before = validate(folder)
    assert set(before.precisions) > {"fp32"}
    manifest = retire_precisions(folder, ("fp32",), "kept small")
    after = validate(folder)  # every listed file present with its digest
    assert after.precisions == ["fp32"] and after.config["precision"]["cuda"] == "fp32"
    assert not (folder / "classifier.int8.onnx").exists()
    assert manifest["retired"][-1]["why"] == "kept small"
    assert manifest["retired"][-1]["files"] == ["classifier.int8.onnx"]
    assert manifest["metrics"] == before.manifest["metrics"]  # figures as measured
    with pytest.raises(ValueError, match="no classifier graph"):
        retire_precisions(folder, ("int8",), "too much")
