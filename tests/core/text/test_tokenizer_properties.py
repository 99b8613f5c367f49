"""Property tests: the served tokenizers on any Unicode string of any length."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.text.tokenizer import SubwordTokenizer

REPOSITORY = Path(__file__).resolve().parents[3] / "model_repository"
EN_FR = SubwordTokenizer.load(REPOSITORY / "en-fr" / "1" / "tokenizer.json")
SENTIMENT = SubwordTokenizer.load(REPOSITORY / "sentiment" / "1" / "tokenizer.json")
PIECES = st.sampled_from(["{name}", "%s", "%(count)d", "<b>", "</b>", "&amp;", "{{ x }}", "'", " "])
# any Unicode text (every category but surrogates), mixed with placeholder-like pieces
TEXTS = st.lists(st.one_of(st.text(max_size=40), PIECES), max_size=30).map("".join)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXTS)
def test_any_text_round_trips_exactly_through_the_translator_s_tokenizer(text: str) -> None:
    ids, masked = EN_FR.encode_masked(text)
    assert all(0 <= i < EN_FR.vocab_size for i in ids)
    assert EN_FR.decode(ids, masked.spans) == unicodedata.normalize("NFC", text)


@SETTINGS
@given(TEXTS)
def test_the_classifier_s_tokenizer_takes_any_text(text: str) -> None:
    ids = SENTIMENT.encode(text)
    assert all(0 <= i < SENTIMENT.vocab_size for i in ids)
    assert len(SENTIMENT.tokens(ids)) == len(ids)
    assert SENTIMENT.encode_batch([text, text]) == [ids, ids]


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1_000, max_value=20_000), st.text(min_size=1, max_size=3))
def test_long_texts_are_tokenised_without_blowing_up(n: int, unit: str) -> None:
    text = unit * (n // len(unit))
    ids, masked = EN_FR.encode_masked(text)
    assert EN_FR.decode(ids, masked.spans) == unicodedata.normalize("NFC", text)
