"""Validation at the boundary, shared by both protocols: how many texts, what a text may
hold, and the deadline a request may ask for. Each refusal is a 422 whose message says what
to change (V2 answers them as 400)."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from service.api.errors import ApiError
from service.settings import Settings

# C0 controls other than tab, LF, CR; DEL; C1 controls; unpaired surrogates
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def check_count(texts: Sequence[str], settings: Settings, field: str = "texts") -> None:
    """The cheap part of ``check_texts``: run before admission, so that a request that can
    never succeed hears 422, not 429."""
    if not texts:
        raise ApiError(422, "invalid_request", f"{field} is empty: send at least one text")
    if len(texts) > settings.max_texts:
        raise ApiError(
            422,
            "too_many_texts",
            f"{len(texts)} texts in one request; send at most {settings.max_texts} "
            "(split the request, or raise ATTNSERVE_MAX_TEXTS)",
        )


def check_texts(texts: Sequence[str], settings: Settings, field: str = "texts") -> None:
    check_count(texts, settings, field)
    for i, text in enumerate(texts):
        where = f"{field}[{i}]" if len(texts) > 1 or field == "texts" else field
        if not text.strip():
            raise ApiError(422, "empty_text", f"{where} is empty or only whitespace; send words")
        if len(text) > settings.max_chars:
            raise ApiError(
                422,
                "text_too_long",
                f"{where} has {len(text)} characters; the limit is {settings.max_chars} "
                "(shorten or split it)",
            )
        bad = _CONTROL.search(text)
        if bad:
            raise ApiError(
                422,
                "invalid_text",
                f"{where} contains the control character U+{ord(bad.group()):04X} at position "
                f"{bad.start()}; remove it (tab, newline and carriage return are fine)",
            )
        bad = _SURROGATE.search(text)
        if bad:
            raise ApiError(
                422,
                "invalid_text",
                f"{where} contains an unpaired surrogate U+{ord(bad.group()):04X} at position "
                f"{bad.start()}; send valid Unicode",
            )


def deadline_of(timeout: float | None, settings: Settings) -> float:
    if timeout is None:
        timeout = settings.request_timeout_s
    if not 0 < timeout <= settings.max_timeout_s:
        raise ApiError(
            422,
            "invalid_request",
            f"timeout must be above 0 and at most {settings.max_timeout_s} seconds, got {timeout}",
        )
    return time.monotonic() + timeout
