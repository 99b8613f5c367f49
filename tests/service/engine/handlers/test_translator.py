"""The translator's handler on the committed en-fr model (real ONNX Runtime)."""

from __future__ import annotations

import pytest

from runtime.repository import load
from runtime.translator import TranslatorRuntime
from service.engine.handlers import Decoding, InputError, TranslatorHandler
from tests.support.server import REPOSITORY


@pytest.fixture(scope="module")
def handler() -> TranslatorHandler:
    return TranslatorHandler(TranslatorRuntime(load(REPOSITORY, "en-fr")), max_beam=8)


def test_decoding_options_default_to_the_model_s_and_are_bounded(
    handler: TranslatorHandler,
) -> None:
    assert handler.decoding() == handler.defaults
    assert handler.decoding(beam_size=2).beam_size == 2
    for bad, fragment in [
        ({"beam_size": 9}, "beam_size must be an integer from 1 to 8"),
        ({"beam_size": True}, "beam_size"),
        ({"max_length": 0}, "max_length must be an integer from 1 to"),
        ({"length_penalty": 5}, "length_penalty must be a number from 0 to 4"),
    ]:
        with pytest.raises(InputError, match=fragment):
            handler.decoding(**bad)


def test_a_source_costs_its_tokens_times_the_beam(handler: TranslatorHandler) -> None:
    (item, cost), *_ = handler.prepare(["Save changes"], Decoding(4, 20, 1.0))
    assert cost == 4 * len(item.ids) and item.ids[-1] == 2  # ends in </s>
    with pytest.raises(InputError, match="tokens long"):
        handler.prepare(["word " * 300], handler.defaults)


def test_a_batch_translates_keeps_placeholders_and_respond_rounds(
    handler: TranslatorHandler,
) -> None:
    items = [
        it
        for it, _ in handler.prepare(
            ["Save changes", "The file {name} was deleted."], Decoding(1, 40, 1.0)
        )
    ]
    outputs = handler.run_batch(items)
    answers = handler.respond(outputs)
    assert answers[0]["translation"] == "Enregistrer les modifications"
    assert "{name}" in answers[1]["translation"]
    assert all(
        a["score"] == round(float(o.score), 6) for a, o in zip(answers, outputs, strict=True)
    )


def test_a_forced_target_gives_its_attention_maps(handler: TranslatorHandler) -> None:
    item = handler.prepare_forced("Save changes", "Enregistrer les modifications")
    (out,) = handler.run_batch([item])
    assert item.target is not None
    assert out.cross_attention.shape[-2:] == (len(item.target) + 1, len(item.ids))
