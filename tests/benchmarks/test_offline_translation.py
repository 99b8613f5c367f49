"""attnserve's runtime against CTranslate2 offline, both precisions: a short real run (the
committed en-fr weights, real ONNX Runtime and CTranslate2) fills every cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import offline_translation

pytestmark = pytest.mark.slow


def test_every_decoding_and_precision_is_timed_on_both_sides(corpora: Path, tmp_path: Path) -> None:
    from tests.support.server import REPOSITORY

    out = offline_translation.run(REPOSITORY, corpora, 1, 24, sample=16, folder=tmp_path)
    assert set(out["summary"]) == {"beam1_fp32", "beam1_int8", "beam4_fp32", "beam4_int8"}
    for cell in out["summary"].values():
        assert cell["attnserve"] > 0 and cell["ctranslate2"] > 0
        assert cell["ratio"] == round(cell["attnserve"] / cell["ctranslate2"], 2)
    assert all("@" in layout for layout in out["layouts"].values())
