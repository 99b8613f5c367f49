"""The classifier's handler on the committed sentiment model (real ONNX Runtime)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.classifier import ClassifierRuntime
from runtime.repository import load
from service.engine.handlers import ClassifierHandler, InputError
from tests.support.server import REPOSITORY


@pytest.fixture(scope="module")
def handler() -> ClassifierHandler:
    return ClassifierHandler(ClassifierRuntime(load(REPOSITORY, "sentiment")))


def test_prepare_costs_tokens_and_refuses_what_is_too_long(handler: ClassifierHandler) -> None:
    items = handler.prepare(["A moving film.", "Dull."])
    assert [cost for _, cost in items] == [len(item.ids) for item, _ in items]
    assert items[0][1] > items[1][1] >= 1
    with pytest.raises(InputError, match=r"text 1 is \d+ tokens long; this model takes at most"):
        handler.prepare(["fine", "word " * 400])
    (cut, cost), *_ = handler.prepare(["word " * 400], truncate=True)
    assert cost == handler.max_tokens == len(cut.ids)


def test_a_batch_answers_each_text_and_respond_says_it(handler: ClassifierHandler) -> None:
    items = [item for item, _ in handler.prepare(["A moving, beautifully acted film.", "Dull."])]
    outputs = handler.run_batch(items)
    answers = handler.respond(outputs)
    assert [a["label"] for a in answers] == ["positive", "negative"]
    for a, o in zip(answers, outputs, strict=True):
        assert list(a["probabilities"]) == handler.labels
        assert a["score"] == max(a["probabilities"].values()) == float(o.probabilities.max())
        assert sum(a["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_attention_items_return_every_map(handler: ClassifierHandler) -> None:
    (item, _), *_ = handler.prepare(["A moving film."], attention=True)
    (out,) = handler.run_batch([item])
    n = len(item.ids)
    assert out.attention is not None and out.attention.shape[-2:] == (n, n)
    assert out.pooling is not None and np.isclose(out.pooling.sum(), 1.0, atol=1e-5)
