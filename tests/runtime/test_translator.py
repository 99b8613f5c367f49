"""The translator runtime on the committed en-fr model (real ONNX Runtime): decoding
options in one shape, over the model's defaults."""

from __future__ import annotations

import pytest

from core.decoding import Decoding
from runtime.repository import load
from runtime.translator import TranslatorRuntime
from tests.support.server import REPOSITORY


@pytest.fixture(scope="module")
def runtime() -> TranslatorRuntime:
    return TranslatorRuntime(load(REPOSITORY, "en-fr"))


def test_the_defaults_come_from_the_model_s_config(runtime: TranslatorRuntime) -> None:
    assert runtime.decoding == Decoding.from_config(runtime.model.config["decoding"])


def test_search_without_options_is_search_with_the_defaults(runtime: TranslatorRuntime) -> None:
    (ids, _), *_ = runtime.encode(["Save changes"])
    (default,) = runtime.search([ids])
    (explicit,) = runtime.search([ids], runtime.decoding)
    assert default == explicit
    (short,) = runtime.search([ids], runtime.decoding.but(max_length=1))
    assert len(short.tokens) == 1 < len(default.tokens)  # cut at one new token


def test_translate_takes_options_by_name_and_refuses_unknown_ones(
    runtime: TranslatorRuntime,
) -> None:
    assert runtime.translate(["Save changes"], beam_size=1) == ["Enregistrer les modifications"]
    with pytest.raises(ValueError, match=r"unknown decoding options \['beam'\]"):
        runtime.translate(["Save changes"], beam=1)
    with pytest.raises(ValueError, match=r"beam must be in 1\.\.16"):
        runtime.translate(["Save changes"], beam_size=0)


def test_a_classifier_is_not_a_translator() -> None:
    with pytest.raises(ValueError, match="sentiment is a classification model, not a translator"):
        TranslatorRuntime(load(REPOSITORY, "sentiment"))
