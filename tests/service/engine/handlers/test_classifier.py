"""The classifier's handler on the committed sentiment model (real ONNX Runtime)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.classifier import ClassifierRuntime
from runtime.repository import load
from service.engine.handlers import ClassifierHandler, InputError
from service.engine.handlers.classifier import ATTENTION, PLAIN
from tests.support.server import REPOSITORY


@pytest.fixture(scope="module")
def handler() -> ClassifierHandler:
    return ClassifierHandler(ClassifierRuntime(load(REPOSITORY, "sentiment")))


def test_a_classifier_takes_no_options(handler: ClassifierHandler) -> None:
    assert handler.options() == PLAIN == handler.options(beam_size=None)
    with pytest.raises(InputError, match=r"takes no options; got \['beam_size'\]"):
        handler.options(beam_size=2)


def test_prepare_costs_tokens_and_refuses_what_is_too_long(handler: ClassifierHandler) -> None:
    items = handler.prepare(["A moving film.", "Dull."], PLAIN)
    assert [cost for _, cost in items] == [len(item.ids) for item, _ in items]
    assert items[0][1] > items[1][1] >= 1
    with pytest.raises(InputError, match=r"text 1 is \d+ tokens long; this model takes at most"):
        handler.prepare(["fine", "word " * 400], PLAIN)
    (cut, cost), *_ = handler.prepare(["word " * 400], PLAIN, truncate=True)
    assert cost == handler.max_tokens == len(cut.ids)


def test_a_batch_answers_each_text_and_respond_says_it(handler: ClassifierHandler) -> None:
    items = handler.prepare(["A moving, beautifully acted film.", "Dull."], PLAIN)
    outputs = handler.run_batch(PLAIN, [item for item, _ in items])
    assert all(o.attention is None for o in outputs)  # the key, not the items, says so
    answers = handler.respond(items, outputs)
    assert [a["label"] for a in answers] == ["positive", "negative"]
    assert handler.generated(outputs) == 0
    for a, o in zip(answers, outputs, strict=True):
        assert list(a["probabilities"]) == handler.labels
        assert a["score"] == max(a["probabilities"].values()) == float(o.probabilities.max())
        assert sum(a["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_the_attention_key_returns_every_map_and_explain_shows_them(
    handler: ClassifierHandler,
) -> None:
    key = handler.attention_key(None)
    assert key == ATTENTION
    with pytest.raises(InputError, match="'target' is for translation models only"):
        handler.attention_key("une cible")
    ((item, _),) = handler.prepare_attention("A moving film.", None, key)
    (out,) = handler.run_batch(key, [item])
    n = len(item.ids)
    assert out.attention is not None and out.attention.shape[-2:] == (n, n)
    assert out.pooling is not None and np.isclose(out.pooling.sum(), 1.0, atol=1e-5)
    shown = handler.explain(item, out)
    assert shown["tokens"] == handler.tokens(item.ids) and shown["label"] == "positive"
    kinds = [(m["layer"], m["kind"]) for m in shown["attention"]]
    assert kinds == [*((i, "self") for i in range(len(out.attention))), (None, "pooling")]
