"""The one JSON reader of every body: each rule refused with a 400 that names it, and a
body that keeps the rules parsed as json would parse it."""

from __future__ import annotations

import json

import pytest

from service.api.bodies import MAX_INT_DIGITS, BodyError, parse


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests lists or objects too deeply"),
        (b'{"id": ' + b"9" * 5000 + b"}", "an integer has 5000 digits"),
        (b'{"t": -' + b"1" * (MAX_INT_DIGITS + 1) + b"}", f"over {MAX_INT_DIGITS}"),
        (b'{"timeout": 1e400}', "the number 1e400 is out of range"),
        (b'{"x": NaN}', "NaN is not JSON"),
        (b'{"x": -Infinity}', "-Infinity is not JSON"),
        (b'{"texts": ["a"], "texts": ["b"]}', "the key 'texts' appears twice"),
        ('{"texts": ["a"]}'.encode("utf-16"), "not UTF-8"),
        (b'{"texts": ["\xff"]}', "not UTF-8 (byte 12)"),
        (b'{"texts": ', "not valid JSON"),
    ],
)
def test_each_rule_is_a_400_that_names_it(raw: bytes, reason: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse(raw)
    assert caught.value.status == 400 and reason in caught.value.message
    assert len(caught.value.message) < 200  # never the body echoed back


def test_a_body_within_the_rules_parses_as_json_would() -> None:
    body = {"texts": ["é", "x" * 10], "n": -(10**29), "f": 1.5e300, "nested": [[[{"a": None}]]]}
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert parse(raw) == body
