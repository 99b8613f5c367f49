"""Property tests of request validation: any texts and any JSON body are either accepted
or refused with a 4xx message; what is accepted is text the engine can take."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.api.checks import check_texts
from service.api.errors import ApiError
from service.api.schemas import AttentionRequest, ClassifyRequest, TranslateRequest
from service.settings import load_settings

SETTINGS = load_settings({"max_texts": 8, "max_chars": 200}, environ={})
# every code point, surrogates and controls included
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=250)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
FIELDS = st.sampled_from(
    [
        "texts",
        "text",
        "model",
        "truncate",
        "timeout",
        "beam_size",
        "target",
        "max_length",
        "length_penalty",
        "return_alignment",
        "extra",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(ANY_TEXT, max_size=10))
def test_texts_are_accepted_only_when_the_engine_can_take_them(texts: list[str]) -> None:
    try:
        check_texts(texts, SETTINGS)
    except ApiError as e:
        assert e.status == 422 and e.message
        return
    assert 1 <= len(texts) <= SETTINGS.max_texts
    for t in texts:
        assert t.strip() and len(t) <= SETTINGS.max_chars
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]", t)
        t.encode("utf-8")  # valid Unicode: no unpaired surrogate left


@pytest.mark.parametrize("model", [ClassifyRequest, TranslateRequest, AttentionRequest])
@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(FIELDS, JSON, max_size=6) | JSON)
def test_any_json_body_parses_or_is_refused_by_validation(model: Any, body: Any) -> None:
    try:
        parsed = model.model_validate(body)
    except ValidationError as e:
        assert e.errors()
        return
    assert isinstance(body, dict) and set(body) <= set(model.model_fields)
    if isinstance(parsed, ClassifyRequest | TranslateRequest):
        assert all(isinstance(t, str) for t in parsed.texts)
