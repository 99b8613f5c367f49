"""Property tests of V2 tensor decoding: any JSON body, any header length, any binary blob
either decodes or is refused with ProtocolError (never another exception); BYTES tensors
read the same flat or nested, JSON or binary."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.api.v2_codec import ProtocolError, read_inputs, split_body

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
DATATYPES = st.sampled_from(["BYTES", "FP32", "INT64", "INT32", "BOOL", "FP16", "UINT8", "X", ""])
TENSOR = st.fixed_dictionaries(
    {
        "name": st.text(max_size=6),
        "datatype": DATATYPES,
        "shape": st.lists(st.integers(-1, 4), max_size=3),
    },
    optional={
        "data": JSON,
        "parameters": st.dictionaries(
            st.sampled_from(["binary_data_size", "x"]), JSON | st.integers(-2, 64), max_size=2
        ),
    },
)
REQUESTS = st.fixed_dictionaries(
    {}, optional={"inputs": st.lists(TENSOR, max_size=3) | JSON, "parameters": JSON, "id": JSON}
)


def _decode(body: bytes, header: str | None) -> Any:
    try:
        head, blob = split_body(body, header)
        return read_inputs(head, blob)
    except ProtocolError as e:
        assert str(e), "a refusal must say why"
        return None


@settings(max_examples=400, deadline=None)
@given(REQUESTS, st.binary(max_size=64), st.one_of(st.none(), st.just("len"), st.text(max_size=6)))
def test_any_request_decodes_or_is_refused_with_a_reason(
    request: dict[str, Any], blob: bytes, header: str | None
) -> None:
    head = json.dumps(request).encode()
    if header == "len":
        header = str(len(head))
    tensors = _decode(head + blob, header)
    if tensors is not None:
        for t in tensors.values():
            assert math.prod(t.shape) == len(t.data)  # shapes are honoured


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.one_of(st.none(), st.text(max_size=8)))
def test_garbage_bodies_are_refused(body: bytes, header: str | None) -> None:
    """Random bytes are refused with a reason unless their JSON part happens to be an
    object (then they may decode, or be refused, but never raise anything else)."""
    decoded = _decode(body, header)
    json_part = body
    if header is not None:
        json_part = body[: int(header)] if header.isascii() and header.isdigit() else b""
    try:
        parsed = json.loads(json_part)
    except ValueError:  # (UnicodeDecodeError included)
        parsed = None
    if not isinstance(parsed, dict):
        assert decoded is None, f"garbage decoded: {body!r} (header {header!r}) → {decoded}"


def _nest(flat: list[str], shape: list[int]) -> Any:
    if len(shape) == 1:
        return flat
    step = math.prod(shape[1:])
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(max_size=20), min_size=1, max_size=12),
    st.sampled_from([[1], [2], [3], [2, 2]]),
)
def test_bytes_read_the_same_flat_nested_and_binary(texts: list[str], split: list[int]) -> None:
    n = len(texts)
    shape = [n] if split == [1] or n % math.prod(split) else [*split, n // math.prod(split)]
    assert math.prod(shape) == n
    flat = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": shape, "data": texts}]}
    nested = {
        "inputs": [
            {"name": "text", "datatype": "BYTES", "shape": shape, "data": _nest(texts, shape)}
        ]
    }
    raw = b"".join(struct.pack("<I", len(t.encode())) + t.encode() for t in texts)
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "text",
                    "datatype": "BYTES",
                    "shape": shape,
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    ).encode()
    a = read_inputs(*split_body(json.dumps(flat).encode(), None))["text"]
    b = read_inputs(*split_body(json.dumps(nested).encode(), None))["text"]
    c = read_inputs(*split_body(head + raw, str(len(head))))["text"]
    assert a.data == b.data == c.data == texts


def test_deep_nesting_is_refused_not_a_crash() -> None:
    for depth in (500, 5_000, 100_000):
        deep = "[" * depth + '"x"' + "]" * depth
        body = (
            '{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": '
            + deep
            + "}]}"
        )
        assert _decode(body.encode(), None) is None, depth
