"""Retiring precisions of a published version: files gone, config and manifest agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from export.repository import retire_precisions
from runtime.repository import validate
from tests.support.versions import with_int8


def test_retired_graphs_leave_a_version_that_validates_and_says_why(tmp_path: Path) -> None:
    folder = with_int8(tmp_path)
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
