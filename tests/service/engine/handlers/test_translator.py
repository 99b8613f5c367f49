"""The translator's handler on the committed en-fr model (real ONNX Runtime)."""

from __future__ import annotations

import pytest

from core.decoding import Decoding
from runtime.repository import load
from runtime.translator import TranslatorRuntime
from service.engine.handlers import InputError, TranslatorHandler
from service.engine.handlers.translator import FORCED, Aligned
from tests.support.server import REPOSITORY


@pytest.fixture(scope="module")
def handler() -> TranslatorHandler:
    return TranslatorHandler(TranslatorRuntime(load(REPOSITORY, "en-fr")), max_beam=8)


def test_decoding_options_default_to_the_model_s_and_are_bounded(
    handler: TranslatorHandler,
) -> None:
    assert handler.options() == handler.defaults == handler.runtime.decoding
    assert handler.options(beam_size=2, max_length=None).beam_size == 2
    assert handler.options(return_alignment=True) == Aligned(handler.defaults)
    for bad, fragment in [
        ({"beam_size": 9}, "beam_size must be an integer from 1 to 8"),
        ({"beam_size": True}, "beam_size"),
        ({"max_length": 0}, "max_length must be an integer from 1 to"),
        ({"length_penalty": 5}, "length_penalty must be a number from 0 to 4"),
        ({"temperature": 1}, r"unknown decoding options \['temperature'\]"),
    ]:
        with pytest.raises(InputError, match=fragment):
            handler.options(**bad)


def test_a_source_costs_its_tokens_times_the_beam(handler: TranslatorHandler) -> None:
    (item, cost), *_ = handler.prepare(["Save changes"], Decoding(4, 20, 1.0))
    assert cost == 4 * len(item.ids) and item.ids[-1] == 2  # ends in </s>
    (_, aligned), *_ = handler.prepare(["Save changes"], Aligned(Decoding(3, 20, 1.0)))
    assert aligned == 3 * len(item.ids)
    with pytest.raises(InputError, match="tokens long"):  # the routes of one source
        handler.prepare(["word " * 300], handler.defaults, split=False)


def test_a_text_over_the_limit_is_translated_in_pieces_and_joined(
    handler: TranslatorHandler,
) -> None:
    sentence = "The file {name} could not be deleted because the disk is full."
    text = " ".join([sentence] * 14)  # about 200 tokens: over the limit of 127
    assert not handler.runtime.fits(text)
    key = Decoding(1, 127, 1.0)
    items = handler.prepare(["Save changes", text], key)
    parts = [it.part for it, _ in items if it.text == 1]
    assert items[0][0].text == 0 and len(parts) == 14  # a piece per sentence
    assert parts == [(j, len(parts)) for j in range(len(parts))]
    assert all(it.piece.text == sentence for it, _ in items[1:])
    outputs = handler.run_batch(key, [it for it, _ in items])
    plain, long = handler.respond(items, outputs)
    assert "segments" not in plain
    segments = long["segments"]
    assert len(segments) == len(parts) and "".join(s["source"] for s in segments) == text
    assert long["translation"] == "".join(s["translation"] for s in segments)
    assert long["translation"].count("{name}") == 14
    # a piece translates as the same text sent alone
    (alone,) = handler.respond(*_run(handler, [segments[0]["source"].strip()], key))
    assert segments[0]["translation"].strip() == alone["translation"]
    cut = handler.prepare([text], key, truncate=True)
    assert len(cut) == 1 and len(cut[0][0].ids) == handler.runtime.max_len


def test_a_text_of_several_sentences_is_translated_sentence_by_sentence_unless_one_source(
    handler: TranslatorHandler,
) -> None:
    text = "The disk is full. Delete some files!"
    key = Decoding(1, 40, 1.0)
    items = handler.prepare([text], key)
    assert [it.piece.text for it, _ in items] == ["The disk is full.", "Delete some files!"]
    (answer,) = handler.respond(items, handler.run_batch(key, [it for it, _ in items]))
    assert [s["source"] for s in answer["segments"]] == ["The disk is full. ", "Delete some files!"]
    (first,) = handler.respond(*_run(handler, ["The disk is full."], key))
    assert answer["translation"].startswith(first["translation"] + " ")
    (whole,) = handler.prepare([text], key, split=False)  # the stream, the attention maps
    assert whole[0].piece.text == text
    assert len(handler.prepare([text], key, truncate=True)) == 2  # it cuts only what is over


def test_a_text_over_the_limit_and_the_split_budget_is_refused_before_any_cutting(
    handler: TranslatorHandler,
) -> None:
    key = Decoding(1, 40, 1.0)
    small = TranslatorHandler(handler.runtime, max_split_tokens=100)
    long = " ".join(["The file {name} could not be deleted because the disk is full."] * 14)
    with pytest.raises(InputError, match=r"text is \d+ tokens long.*up to 100 tokens in all"):
        small.prepare([long], key)
    assert len(small.prepare([long], key, truncate=True)) == 1  # cut to the limit instead
    tiny = TranslatorHandler(handler.runtime, max_split_tokens=5)  # under the limit: no budget
    assert len(tiny.prepare(["The disk is full. Delete some files!"], key)) == 2


def _run(handler: TranslatorHandler, texts: list[str], key: Decoding):  # type: ignore[no-untyped-def]
    items = handler.prepare(texts, key)
    return items, handler.run_batch(key, [it for it, _ in items])


def test_emoji_and_zero_width_characters_stay_out_of_the_model_s_way(
    handler: TranslatorHandler,
) -> None:
    key = Decoding(1, 40, 1.0)
    (plain,) = handler.respond(*_run(handler, ["Save changes"], key))
    (framed,) = handler.respond(*_run(handler, ["😀 Save\u200b changes 😀 "], key))
    assert framed["translation"] == f"😀 {plain['translation']} 😀 "


def test_a_batch_translates_keeps_placeholders_and_respond_rounds(
    handler: TranslatorHandler,
) -> None:
    key = Decoding(1, 40, 1.0)
    items = handler.prepare(["Save changes", "The file {name} was deleted."], key)
    outputs = handler.run_batch(key, [it for it, _ in items])
    answers = handler.respond(items, outputs)
    assert answers[0]["translation"] == "Enregistrer les modifications"
    assert "{name}" in answers[1]["translation"]
    assert "alignment" not in answers[0]
    assert handler.generated(outputs) == sum(len(o.tokens) for o in outputs) > 0
    assert all(
        a["score"] == round(float(o.score), 6) for a, o in zip(answers, outputs, strict=True)
    )


def test_an_aligned_batch_is_the_search_plus_its_cross_attention(
    handler: TranslatorHandler,
) -> None:
    plain = Decoding(2, 40, 1.0)
    items = handler.prepare(["Save changes"], plain)
    (searched,) = handler.run_batch(plain, [it for it, _ in items])
    (aligned,) = handler.run_batch(Aligned(plain), [it for it, _ in items])
    assert (aligned.translation, aligned.score) == (searched.translation, searched.score)
    (answer,) = handler.respond(items, [aligned])
    a = answer["alignment"]
    assert a["target_tokens"][-1] == "</s>" and len(a["source_tokens"]) == len(items[0][0].ids)
    assert len(a["weights"]) == len(a["target_tokens"])
    assert all(len(row) == len(a["source_tokens"]) for row in a["weights"])


def test_a_forced_target_gives_its_attention_maps(handler: TranslatorHandler) -> None:
    key = handler.attention_key("Enregistrer les modifications")
    assert key == FORCED
    ((item, cost),) = handler.prepare_attention(
        "Save changes", "Enregistrer les modifications", key
    )
    assert cost == len(item.ids) and item.target is not None
    (out,) = handler.run_batch(key, [item])
    assert out.cross_attention is not None
    assert out.cross_attention.shape[-2:] == (len(item.target) + 1, len(item.ids))
    shown = handler.explain(item, out)
    assert shown["translation"] == "Enregistrer les modifications"
    assert {m["kind"] for m in shown["attention"]} >= {"self", "cross"}


def test_without_a_target_attention_searches_first(handler: TranslatorHandler) -> None:
    key = handler.attention_key(None)
    assert key == Aligned(handler.defaults)
    ((item, _),) = handler.prepare_attention("Save changes", None, key)
    (out,) = handler.run_batch(key, [item])
    assert handler.explain(item, out)["translation"] == "Enregistrer les modifications"
