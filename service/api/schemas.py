"""Request and response bodies of the /v1 API, with the examples shown at /docs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

Timeout = StrictFloat | StrictInt


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassifyRequest(_Request):
    texts: list[StrictStr] = Field(description="Texts to classify (1 to ATTNSERVE_MAX_TEXTS).")
    model: StrictStr | None = Field(
        None, description="Model name; by default the first classification model (sentiment)."
    )
    truncate: StrictBool = Field(
        False, description="Cut texts longer than the model's token limit instead of a 422."
    )
    timeout: Timeout | None = Field(
        None, description="Seconds this request may wait (default ATTNSERVE_REQUEST_TIMEOUT_S)."
    )
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"texts": ["A moving, beautifully acted film.", "Dull, and far too long."]},
                {"texts": ["Long review ..."], "model": "sentiment", "truncate": True},
            ]
        },
    )


class Classification(BaseModel):
    label: str
    score: float = Field(description="Probability of the label.")
    probabilities: dict[str, float]


class ClassifyResponse(BaseModel):
    model: str
    version: int
    results: list[Classification]


class _Decoding(_Request):
    """The decoding options both translation routes take."""

    model: StrictStr | None = Field(None, description="Model name; by default en-fr.")
    beam_size: StrictInt | None = Field(
        None, description="1 (greedy) to ATTNSERVE_MAX_BEAM_SIZE; the model's default is 4."
    )
    max_length: StrictInt | None = Field(
        None, description="Most target tokens to generate (the model's limit by default)."
    )
    length_penalty: StrictFloat | StrictInt | None = Field(
        None, description="Score = log p / length ** penalty (0 to 4; default 1)."
    )
    truncate: StrictBool = Field(
        False,
        description="Cut a text over the model's token limit to the limit. Without it "
        "/v1/translate translates such a text in pieces (sentences, then clauses; see "
        "segments) and the stream refuses it with a 422.",
    )
    timeout: Timeout | None = Field(None, description="Seconds this request may wait.")


class TranslateRequest(_Decoding):
    texts: list[StrictStr] = Field(description="English texts (1 to ATTNSERVE_MAX_TEXTS).")
    return_alignment: StrictBool = Field(
        False,
        description="Also return the source–target alignment: the last decoder layer's "
        "cross-attention, averaged over heads; row i is the step that produced target token i.",
    )
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"texts": ["Save changes", "The file {name} could not be deleted."]},
                {"texts": ["You have %d new messages."], "beam_size": 1, "return_alignment": True},
            ]
        },
    )


class TranslateStreamRequest(_Decoding):
    """Greedy streams every token as it is generated; a beam the prefix that every live
    beam agrees on, as it grows."""

    text: StrictStr = Field(description="One English text.")
    attention: StrictBool = Field(
        False,
        description="Each event also carries its new tokens' cross-attention rows (the last "
        "decoder layer, averaged over heads; one row over the source tokens per new token).",
    )
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "The file {name} could not be deleted.", "beam_size": 1},
                {"text": "Save changes", "attention": True},
            ]
        },
    )


class Alignment(BaseModel):
    source_tokens: list[str]
    target_tokens: list[str]
    weights: list[list[float]] = Field(description="target_tokens × source_tokens")


class Segment(BaseModel):
    source: str = Field(
        description="This piece of the text (white space inside it collapsed, zero-width "
        "characters dropped, as the model read it; its edges and the space after it as sent)."
    )
    translation: str
    score: float
    alignment: Alignment | None = None


class TranslationResult(BaseModel):
    translation: str
    score: float = Field(description="Length-normalised log-probability of the translation.")
    alignment: Alignment | None = None
    segments: list[Segment] | None = Field(
        None,
        description="Only for a text over the model's limit (and no truncate): it was "
        "translated in these pieces, split at sentence ends, then at clause marks, and "
        "joined; each piece with its translation, score and (when asked) alignment.",
    )


class TranslateResponse(BaseModel):
    model: str
    version: int
    results: list[TranslationResult]


class AttentionRequest(_Request):
    model: StrictStr = Field(description="Model name (sentiment or en-fr by default).")
    text: StrictStr = Field(description="The text (source sentence for a translator).")
    target: StrictStr | None = Field(
        None,
        description="Translators only: force this translation and show how the model aligns "
        "it; by default the model's own translation (default decoding) is used.",
    )
    truncate: StrictBool = False
    timeout: Timeout | None = None
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"model": "sentiment", "text": "Not bad at all."},
                {
                    "model": "en-fr",
                    "text": "Save changes",
                    "target": "Enregistrer les modifications",
                },
            ]
        },
    )


class AttentionMap(BaseModel):
    """``self``: the encoder's (or classifier's) self-attention over ``tokens``.
    ``cross``: rows are ``target_tokens`` (row i is the step that produced target token i),
    keys ``tokens``. ``decoder_self``: rows as for cross; keys are the decoder's inputs,
    ``<s>`` then ``target_tokens`` without the last. ``pooling``: one weight per token."""

    layer: int | None = Field(description="0-based layer; null for pooling.")
    kind: Literal["self", "cross", "decoder_self", "pooling"]
    weights: list[float] | list[list[list[float]]] = Field(
        description="heads × query × key (pooling: one weight per token)"
    )


class AttentionResponse(BaseModel):
    model: str
    version: int
    tokens: list[str]
    target_tokens: list[str] | None = None
    label: str | None = None
    translation: str | None = None
    attention: list[AttentionMap]


class ErrorDetail(BaseModel):
    type: str = Field(description="A stable label, e.g. invalid_input, overloaded, timeout.")
    message: str = Field(description="What went wrong and what to change.")


class ErrorResponse(BaseModel):
    """Every /v1 error."""

    error: ErrorDetail


class V2ErrorResponse(BaseModel):
    """Every /v2 error, as the Open Inference Protocol has it."""

    error: str
