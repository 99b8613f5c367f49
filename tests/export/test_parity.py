"""Parity of every exported graph and precision with PyTorch, and that the check bites."""

from pathlib import Path

import pytest

from export import parity, variants
from export.onnx_export import export_classifier, export_translator
from tests.small_models import small_classifier, small_translator


@pytest.fixture(scope="module")
def classifier_graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("classifier")
    fp32 = export_classifier(small_classifier(300), folder / "c.onnx")
    return {
        "fp32": fp32,
        "int8": variants.int8(fp32, folder / "c.int8.onnx"),
        "fp16": variants.fp16(fp32, folder / "c.fp16.onnx"),
    }


@pytest.fixture(scope="module")
def translator_graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("translator")
    enc, dec = export_translator(small_translator(300), folder / "e.onnx", folder / "d.onnx")
    out: dict[str, dict[str, Path]] = {"encoder": {"fp32": enc}, "decoder": {"fp32": dec}}
    for role, path in (("encoder", enc), ("decoder", dec)):
        out[role]["int8"] = variants.int8(path, path.with_suffix(".int8.onnx"))
        out[role]["fp16"] = variants.fp16(path, path.with_suffix(".fp16.onnx"))
    return out


def _check(rows: list[parity.ParityRow], graphs: set[str]) -> None:
    parity.require(rows)
    assert {r.graph for r in rows} == graphs
    for graph in graphs:
        cases = {r.case for r in rows if r.graph == graph and r.precision == "fp32"}
        assert len(cases) >= 6, cases
    cases = {r.case for r in rows}
    assert {"batch 1, length 1", "all-padding row", "batch 17, ragged"} <= cases
    fp32 = [r for r in rows if r.precision == "fp32"]
    assert max(max(r.max_abs_diff.values()) for r in fp32) <= parity.TOLERANCE
    fp16 = [r for r in rows if r.precision == "fp16"]
    assert fp16 and max(max(r.max_abs_diff.values()) for r in fp16) < 1e-2
    assert not any(r.nan for r in rows)


def test_classifier_graph_matches_pytorch(classifier_graphs: dict[str, Path]) -> None:
    model = small_classifier(300)
    rows = parity.check_classifier(model, classifier_graphs)
    _check(rows, {"classifier"})
    shapes = {r.shapes for r in rows}
    assert "input_ids[1, 64], attention_mask[1, 64]" in shapes  # the maximum length
    assert any(s.startswith("input_ids[17,") for s in shapes)


def test_translator_graphs_match_pytorch(translator_graphs: dict[str, dict[str, Path]]) -> None:
    rows = parity.check_translator(
        small_translator(300), translator_graphs["encoder"], translator_graphs["decoder"]
    )
    _check(rows, {"encoder", "decoder_step"})
    assert any("self_k[2, 1, 4, 0, 8]" in r.shapes for r in rows)  # the first, empty-cache step


def test_int8_stays_close_to_fp32(classifier_graphs: dict[str, Path]) -> None:
    rows = parity.check_classifier(small_classifier(300), classifier_graphs)
    int8 = [r.max_abs_diff["logits"] for r in rows if r.precision == "int8"]
    fp32 = [r.max_abs_diff["logits"] for r in rows if r.precision == "fp32"]
    # How far apart two models of other weights are, on the same inputs.
    other = parity.check_classifier(
        small_classifier(300, seed=1), {"fp32": classifier_graphs["fp32"]}
    )
    apart = min(r.max_abs_diff["logits"] for r in other)
    assert max(int8) < apart / 2  # quantisation error, not a different function
    assert max(int8) > 100 * max(fp32)  # and it really is the quantised graph that ran


def test_a_graph_of_other_weights_fails_the_check(classifier_graphs: dict[str, Path]) -> None:
    other = small_classifier(300, seed=1)
    with pytest.raises(parity.ParityError, match="differs from PyTorch"):
        parity.require(parity.check_classifier(other, {"fp32": classifier_graphs["fp32"]}))
