"""The classifier runtime on the committed sentiment model (real ONNX Runtime)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.classifier import ClassifierRuntime, softmax
from runtime.repository import load
from tests.support.server import REPOSITORY


@pytest.fixture(scope="module")
def runtime() -> ClassifierRuntime:
    return ClassifierRuntime(load(REPOSITORY, "sentiment"))


def test_softmax_is_stable_for_large_logits() -> None:
    p = softmax(np.array([[1000.0, 1000.0, -1000.0]]))
    assert np.allclose(p, [[0.5, 0.5, 0.0]])


def test_a_batch_of_unequal_texts_gives_one_distribution_each(runtime: ClassifierRuntime) -> None:
    texts = ["A moving, beautifully acted film.", "Dull."]
    ids = [runtime.encode_ids(i) for i in runtime.tokenizer.encode_batch(texts)]
    out = runtime.forward(ids)
    assert out.probabilities.shape == (2, len(runtime.labels)) and out.attention is None
    assert np.allclose(out.probabilities.sum(1), 1.0, atol=1e-5)
    alone = runtime.forward(ids[1:]).probabilities[0]  # padding does not change an answer
    assert np.allclose(alone, out.probabilities[1], atol=1e-5)


def test_attention_is_cut_to_each_text_s_own_tokens(runtime: ClassifierRuntime) -> None:
    ids = [runtime.encode_ids(i) for i in runtime.tokenizer.encode_batch(["Dull.", "A fine film"])]
    out = runtime.forward(ids, attention=True)
    assert out.attention is not None and out.pooling is not None
    for seq, att, pool in zip(ids, out.attention, out.pooling, strict=True):
        assert att.shape[-2:] == (len(seq), len(seq)) and pool.shape == (len(seq),)


def test_a_translator_is_not_a_classifier() -> None:
    with pytest.raises(ValueError, match="en-fr is a translation model, not a classifier"):
        ClassifierRuntime(load(REPOSITORY, "en-fr"))


def test_predict_keeps_the_order_of_the_texts(runtime: ClassifierRuntime) -> None:
    texts = ["Dull.", "A moving, beautifully acted film.", "word " * 40]
    probs = runtime.predict(texts, max_tokens=8)  # every text in a batch of its own
    for text, p in zip(texts, probs, strict=True):
        assert np.allclose(p, runtime.forward(runtime.encode([text])).probabilities[0], atol=1e-5)
