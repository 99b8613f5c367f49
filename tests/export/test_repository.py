"""Retiring precisions of a published version: files gone, config and manifest agree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from export.repository import retire_precisions
from runtime.repository import validate
from tests.support.server import REPOSITORY


def test_retired_graphs_leave_a_version_that_validates_and_says_why(tmp_path: Path) -> None:
    src = REPOSITORY / "sentiment" / "1"
    folder = tmp_path / "sentiment" / "1"
    shutil.copytree(src, folder)
    before = validate(folder)
    assert set(before.precisions) > {"fp32"}
    manifest = retire_precisions(folder, ("fp32",), "kept small")
    after = validate(folder)  # every listed file present with its digest
    assert after.precisions == ["fp32"] and after.config["precision"]["cuda"] == "fp32"
    assert not (folder / "classifier.int8.onnx").exists()
    assert manifest["retired"][0]["why"] == "kept small"
    assert "classifier.int8.onnx" in manifest["retired"][0]["files"]
    assert manifest["metrics"] == before.manifest["metrics"]  # figures as measured
    with pytest.raises(ValueError, match="no classifier graph"):
        retire_precisions(folder, ("int8",), "too much")
