"""V2 tensors: JSON (flat or nested) and Triton's binary extension, both ways."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from service.api.v2_codec import (
    HEADER,
    ProtocolError,
    Tensor,
    read_inputs,
    split_body,
    write_response,
)


def _binary_request(texts: list[str]) -> tuple[bytes, str]:
    raw = b"".join(struct.pack("<I", len(t.encode())) + t.encode() for t in texts)
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "text",
                    "datatype": "BYTES",
                    "shape": [len(texts)],
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    ).encode()
    return head + raw, str(len(head))


def test_binary_bytes_input_is_read() -> None:
    body, length = _binary_request(["héllo", "", "wörld"])
    head, blob = split_body(body, length)
    t = read_inputs(head, blob)["text"]
    assert t.data == ["héllo", "", "wörld"] and t.shape == [3]


def test_nested_json_data_is_flattened_row_major() -> None:
    head = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2], [3, 4]]}]
    }
    assert read_inputs(head, b"")["x"].data == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("head", "blob", "fragment"),
    [
        ({}, b"", "'inputs'"),
        (
            {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["a"]}]},
            b"",
            "holds 2",
        ),
        (
            {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1], "data": ["a"]}]},
            b"",
            "non-negative",
        ),
        ({"inputs": [{"name": "text", "shape": [1], "data": ["a"]}]}, b"", "datatype"),
        ({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1]}]}, b"", "neither"),
        (
            {
                "inputs": [
                    {
                        "name": "t",
                        "datatype": "BYTES",
                        "shape": [1],
                        "parameters": {"binary_data_size": 9},
                    }
                ]
            },
            b"\x01",
            "does not fit",
        ),
        (
            {
                "inputs": [
                    {
                        "name": "t",
                        "datatype": "BYTES",
                        "shape": [1],
                        "parameters": {"binary_data_size": 5},
                    }
                ]
            },
            b"\x09\x00\x00\x00a",
            "past the end",
        ),
        (
            {
                "inputs": [
                    {
                        "name": "t",
                        "datatype": "BYTES",
                        "shape": [1],
                        "parameters": {"binary_data_size": 5},
                    }
                ]
            },
            b"\x01\x00\x00\x00\xff",
            "UTF-8",
        ),
        (
            {"inputs": [{"name": "t", "datatype": "BYTES", "shape": [1], "data": ["a"]}]},
            b"xx",
            "not claimed",
        ),
    ],
)
def test_broken_tensors_are_named(head: dict[str, object], blob: bytes, fragment: str) -> None:
    with pytest.raises(ProtocolError, match=fragment):
        read_inputs(head, blob)


def test_a_bad_header_length_is_refused() -> None:
    with pytest.raises(ProtocolError, match=HEADER):
        split_body(b"{}", "999")
    with pytest.raises(ProtocolError, match="not valid JSON"):
        split_body(b"{oops", None)


def test_binary_outputs_round_trip() -> None:
    probs = np.array([[0.25, 0.75]], dtype=np.float32)
    outputs = [
        Tensor("label", "BYTES", [1], ["positive"]),
        Tensor("probabilities", "FP32", [1, 2], probs.reshape(-1).tolist()),
    ]
    body, headers = write_response({"model_name": "m"}, outputs, {"label", "probabilities"})
    n = int(headers[HEADER])
    head = json.loads(body[:n])
    sizes = [o["parameters"]["binary_data_size"] for o in head["outputs"]]
    blob = body[n:]
    assert blob[: sizes[0]] == struct.pack("<I", 8) + b"positive"
    assert np.frombuffer(blob[sizes[0] :], dtype="<f4").tolist() == [0.25, 0.75]
    json_only, extra = write_response({"model_name": "m"}, outputs, set())
    assert extra == {} and json.loads(json_only)["outputs"][0]["data"] == ["positive"]
