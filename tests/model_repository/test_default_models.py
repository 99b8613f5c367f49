"""The committed default models: whole, loadable by ONNX Runtime alone (the service's
runtime, no torch), and scoring what their manifests record on a sample of the test split.

The figures are recomputed on the first rows of the real test split (rebuilt here from the
pinned packages, and checked to be the split the figures were taken on). Tolerances allow
one flipped example (a different CPU may round the last bit otherwise), nothing more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.hashing import sha256_file
from export.evaluate import SAMPLE_ROWS, classifier_figures, translator_figures
from models.data.jsonl import read_jsonl
from runtime.classifier import ClassifierRuntime
from runtime.repository import load, models
from runtime.translator import TranslatorRuntime

REPOSITORY = Path(__file__).resolve().parents[2] / "model_repository"

pytestmark = pytest.mark.slow


def _test_rows(corpus: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    split = manifest["data_manifest"]["test_split"]
    path = corpus / split["file"]
    assert sha256_file(path) == split["sha256"], "the test split is not the one the figures are of"
    return list(read_jsonl(path))[:SAMPLE_ROWS]


def test_the_repository_is_small_and_every_model_validates() -> None:
    assert models(REPOSITORY) == ["en-fr", "sentiment"]
    total = 0
    # en-fr/3 is en-fr/1's weights with today's decoder step (rows at different steps, the
    # search head; fp32 and int8 only, to keep the repository under 100 MB); en-fr/2 (the
    # same weights without the head) is retired, en-fr/1 stays servable
    published = {("sentiment", 1): ["fp32", "int8", "fp16"], ("en-fr", 1): ["fp32", "int8", "fp16"]}
    published[("en-fr", 3)] = ["fp32", "int8"]
    for (name, version), precisions in published.items():
        mv = load(REPOSITORY, name, version)  # checks sha256 and size of every file
        assert mv.unlisted == [] and mv.precisions == precisions
        total += sum(e["bytes"] for e in mv.manifest["files"].values())
    assert {n: load(REPOSITORY, n).version for n in ("sentiment", "en-fr")} == {
        "sentiment": 1,
        "en-fr": 3,
    }
    assert total < 100e6


def test_sentiment_scores_its_recorded_figures(corpora: Path) -> None:
    mv = load(REPOSITORY, "sentiment")
    recorded = mv.manifest["metrics"]
    assert recorded["fp32"]["test"]["accuracy"] >= 0.78  # the training issue's target
    rows = _test_rows(corpora / "sentiment", mv.manifest)
    for precision in ("fp32", "int8", "fp16"):
        got = classifier_figures(ClassifierRuntime(mv, precision), rows)
        want = recorded[precision]["sample"]
        assert got["examples"] == want["examples"] == SAMPLE_ROWS
        assert got["accuracy"] == pytest.approx(want["accuracy"], abs=1.01 / SAMPLE_ROWS), precision


def test_en_fr_scores_its_recorded_figures(full_enfr: Path) -> None:
    mv = load(REPOSITORY, "en-fr")
    recorded = mv.manifest["metrics"]
    assert recorded["fp32"]["test"]["beam4"]["bleu"] >= 30  # the training issue's target
    assert mv.manifest["decoder_identity"]["beam4"]["identical"] >= 200
    # joining a running batch at random steps changes no translation (continuous batching)
    assert mv.manifest["decoder_identity"]["continuous"] == {"sentences": 200, "identical": 200}
    rows = _test_rows(full_enfr, mv.manifest)
    got = translator_figures(TranslatorRuntime(mv, "fp32"), rows)
    want = recorded["fp32"]["sample"]
    for mode in ("greedy", "beam4"):
        for metric in ("bleu", "chrf"):
            assert got[mode][metric] == pytest.approx(want[mode][metric], abs=0.5), (mode, metric)
    got8 = translator_figures(TranslatorRuntime(mv, "int8"), rows, beams=(1,))
    assert got8["greedy"]["bleu"] == pytest.approx(
        recorded["int8"]["sample"]["greedy"]["bleu"], abs=0.5
    )
