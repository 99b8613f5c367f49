"""Parity of every exported graph and precision with PyTorch, and that the check bites."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from export import parity, variants
from export.onnx_export import export_classifier, export_translator
from runtime.candidates import Candidates, from_logits
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
    assert any("self_k_0[1, 4, 0, 8]" in r.shapes for r in rows)  # the first, empty-cache step


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


def test_the_decoder_step_s_search_head_is_its_numpy_twin(
    translator_graphs: dict[str, dict[str, Path]],
) -> None:
    """The graph's own best tokens, as many as asked for, equal
    ``runtime.candidates.from_logits`` on the graph's logits; a row whose cache holds a
    NaN comes out flagged, alone."""
    model = small_translator(300)
    sess = ort.InferenceSession(str(translator_graphs["decoder"]["fp32"]))
    rng = np.random.default_rng(0)
    rows, past, src = 64, 4, 5
    cache = rng.standard_normal((2, rows, 4, past, 8)).astype(np.float32)
    cache_v = cache.copy()
    cache_v[:, 2] = np.nan
    cross = rng.standard_normal((2, rows, 4, src, 8)).astype(np.float32)
    feeds = {
        "tokens": rng.integers(20, 300, (rows, 1)),
        **{f"self_k_{i}": cache[i] for i in range(2)},  # the caches one input per layer
        **{f"self_v_{i}": cache_v[i] for i in range(2)},
        **{f"cross_k_{i}": cross[i] for i in range(2)},
        **{f"cross_v_{i}": cross[i] for i in range(2)},
        "src_mask": np.ones((rows, src), np.int64),
        "positions": np.full((rows, 1), past),
        "past_mask": np.ones((rows, past), np.int64),
    }
    for k in (1, 8, 27, model.cfg.vocab_size):
        names = ["logits", "top_logp", "top_ids"]
        logits, logp, ids = sess.run(names, {**feeds, "top_k": np.array(k, np.int64)})
        cand, twin = Candidates(logp, ids), from_logits(logits[:, -1], k)
        assert np.flatnonzero(cand.nonfinite).tolist() == [2]
        assert np.flatnonzero(twin.nonfinite).tolist() == [2]
        ok = ~cand.nonfinite
        assert ids.shape == (rows, k)
        assert np.array_equal(ids[ok], twin.ids[ok])
        assert np.allclose(logp[ok], twin.logp[ok], atol=1e-5)


def test_an_ensemble_exports_as_one_classifier_graph_that_matches_pytorch(tmp_path: Path) -> None:
    from models.classifier import ClassifierEnsemble

    ensemble = ClassifierEnsemble.of([small_classifier(300, seed=s) for s in (1, 2, 3)])
    graph = export_classifier(ensemble, tmp_path / "e.onnx")
    rows = parity.check_classifier(ensemble, {"fp32": graph})
    parity.require(rows)
    assert max(max(r.max_abs_diff.values()) for r in rows) <= parity.TOLERANCE
    out = ort.InferenceSession(str(graph)).run(
        None,
        {"input_ids": np.full((2, 5), 30, np.int64), "attention_mask": np.ones((2, 5), np.int64)},
    )
    assert out[1].shape[1] == 3 * ensemble.cfg.n_attn_layers  # every member's layers
