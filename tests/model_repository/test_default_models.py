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
from models.data.short_reviews import CHECK_SET, read_check_set
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
    # en-fr/5 and sentiment/3 are the defaults (issue 19: the wider corpus with the loop
    # guard, an ensemble of three classifiers); en-fr/1 stays as the older graph that
    # serves in static batches, sentiment/1 and /2 as the single models; each in fp32
    # alone (the other precisions retired, their figures kept, and en-fr/3 and en-fr/4 —
    # en-fr/5's weights — too, to keep the repository under 100 MB)
    published = {
        ("sentiment", 1): ["fp32"],
        ("sentiment", 2): ["fp32"],
        ("sentiment", 3): ["fp32"],
        ("en-fr", 1): ["fp32"],
        ("en-fr", 5): ["fp32"],
    }
    for (name, version), precisions in published.items():
        mv = load(REPOSITORY, name, version)  # checks sha256 and size of every file
        assert mv.unlisted == [] and mv.precisions == precisions
        total += sum(e["bytes"] for e in mv.manifest["files"].values())
    assert {n: load(REPOSITORY, n).version for n in ("sentiment", "en-fr")} == {
        "sentiment": 3,
        "en-fr": 5,
    }
    retired = load(REPOSITORY, "en-fr", 1).manifest["retired"]
    assert retired and "decoder_step.fp16.onnx" in retired[0]["files"]
    retired = load(REPOSITORY, "sentiment", 3).manifest["retired"]
    assert retired and "classifier.int8.onnx" in retired[0]["files"]
    assert total < 100e6


def test_sentiment_scores_its_recorded_figures(corpora: Path) -> None:
    mv = load(REPOSITORY, "sentiment")
    recorded = mv.manifest["metrics"]
    # issue 19: 0.80 on the test split, and the short reviews sentiment/1 had wrong (0.750)
    # — its target of 0.90 there is missed (docs: README, Results)
    assert mv.config["architecture"]["members"] == 3  # seeds 1, 3 and 4
    assert recorded["fp32"]["test"]["accuracy"] >= 0.80
    assert recorded["fp32"]["short_reviews"]["accuracy"] >= 0.85
    assert recorded["fp32"]["short_reviews_blind"]["accuracy"] >= 0.79
    rows = _test_rows(corpora / "sentiment", mv.manifest)
    checks = read_check_set(CHECK_SET)  # the short reviews, whole: as recorded
    got = classifier_figures(ClassifierRuntime(mv, "fp32"), checks)
    assert got["accuracy"] == recorded["fp32"]["short_reviews"]["accuracy"]
    for precision in mv.precisions:
        got = classifier_figures(ClassifierRuntime(mv, precision), rows)
        want = recorded[precision]["sample"]
        assert got["examples"] == want["examples"] == SAMPLE_ROWS
        assert got["accuracy"] == pytest.approx(want["accuracy"], abs=1.01 / SAMPLE_ROWS), precision


def test_en_fr_scores_its_recorded_figures(full_enfr: Path) -> None:
    mv = load(REPOSITORY, "en-fr")
    recorded = mv.manifest["metrics"]
    # issue 19's targets: in-domain test BLEU ≥ 38 and chrF ≥ 55, held-out catalogs BLEU
    # ≥ 25 and chrF ≥ 50, placeholders ≥ 98.5 %, no degenerate repetition (beam 4)
    test, unseen = recorded["fp32"]["test"]["beam4"], recorded["fp32"]["unseen"]["beam4"]
    assert test["bleu"] >= 38 and test["chrf"] >= 55 and test["placeholders_kept"] >= 0.985
    assert unseen["bleu"] >= 25 and unseen["chrf"] >= 50 and unseen["placeholders_kept"] >= 0.985
    assert test["degenerate"] == unseen["degenerate"] == 0
    assert set(unseen["by_origin"]) == {"e2fsprogs-l10n", "libc-l10n", "aptitude-common"}
    assert recorded["fp32"]["robustness"]["same_as_clean"] > 0.95
    assert mv.config["decoding"]["block_repeats"] is mv.config["decoding"]["block_loops"] is True
    assert mv.manifest["decoder_identity"]["beam4"]["identical"] >= 200
    # joining a running batch at random steps changes no translation (continuous batching)
    assert mv.manifest["decoder_identity"]["continuous"] == {"sentences": 200, "identical": 200}
    rows = _test_rows(full_enfr, mv.manifest)
    got = translator_figures(TranslatorRuntime(mv, "fp32"), rows)
    want = recorded["fp32"]["sample"]
    for mode in ("greedy", "beam4"):
        for metric in ("bleu", "chrf"):
            assert got[mode][metric] == pytest.approx(want[mode][metric], abs=0.5), (mode, metric)
    # the held-out catalogs, whole, greedy: as recorded
    held = list(read_jsonl(full_enfr / "unseen.jsonl"))
    got_unseen = translator_figures(TranslatorRuntime(mv, "fp32"), held, beams=(1,))
    assert got_unseen["greedy"]["bleu"] == pytest.approx(
        recorded["fp32"]["unseen"]["greedy"]["bleu"], abs=0.2
    )
