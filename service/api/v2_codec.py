"""Open Inference Protocol (KServe V2) tensors over HTTP: JSON data, and Triton's binary
tensor extension (what ``tritonclient.http`` sends and asks for by default).

A request body is a JSON header, optionally followed by binary tensor data; the header's
length is then given by ``Inference-Header-Content-Length``. Each binary input says its
size in ``parameters.binary_data_size``; BYTES elements are a 4-byte little-endian length
followed by the bytes. Responses mirror this for outputs asked with
``parameters.binary_data`` (or, for all outputs, request ``parameters.binary_data_output``).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.api.bodies import BodyError, parse

HEADER = "Inference-Header-Content-Length"
DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32}


class ProtocolError(ValueError):
    """A request that breaks the protocol; the message says what to change."""


@dataclass
class Tensor:
    name: str
    datatype: str
    shape: list[int]
    data: list[Any]  # flat, row-major (BYTES as str)


def split_body(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    """The JSON header and the binary data after it."""
    if header_length is None:
        head, blob = body, b""
    else:
        try:
            n = int(header_length)
        except ValueError:
            raise ProtocolError(f"{HEADER} must be an integer, got {header_length!r}") from None
        if not 0 < n <= len(body):
            raise ProtocolError(f"{HEADER} is {n} but the body has {len(body)} bytes")
        head, blob = body[:n], body[n:]
    try:
        request = parse(head)
    except BodyError as e:
        raise ProtocolError(e.message) from None
    if not isinstance(request, dict):
        raise ProtocolError("the request must be a JSON object with an 'inputs' list")
    return request, blob


MAX_NESTING = 32  # tensors nest their data one list per dimension; nothing needs more


def _flatten(data: Any) -> list[Any]:
    """Row-major elements of (possibly nested) lists, without recursion."""
    out: list[Any] = []
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list):
            if depth >= MAX_NESTING:
                raise ProtocolError(f"'data' nests lists deeper than {MAX_NESTING} levels")
            stack.extend((x, depth + 1) for x in reversed(item))
        else:
            out.append(item)
    return out


def _short(shape: list[int]) -> str:
    text = str(shape)
    return text if len(text) <= 80 else text[:77] + "...]"


def _bytes_elements(raw: bytes, name: str) -> list[str]:
    out, pos = [], 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise ProtocolError(f"input {name!r}: binary BYTES data ends inside a length prefix")
        (size,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if pos + size > len(raw):
            raise ProtocolError(f"input {name!r}: an element claims {size} bytes past the end")
        try:
            out.append(raw[pos : pos + size].decode("utf-8"))
        except UnicodeDecodeError:
            raise ProtocolError(f"input {name!r}: element {len(out)} is not valid UTF-8") from None
        pos += size
    return out


def read_inputs(request: dict[str, Any], blob: bytes) -> dict[str, Tensor]:
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError("'inputs' must be a non-empty list of tensors")
    out: dict[str, Tensor] = {}
    offset = 0
    for i, inp in enumerate(inputs):
        if not isinstance(inp, dict):
            raise ProtocolError(f"inputs[{i}] must be an object with name, shape, datatype, data")
        name, datatype, shape = inp.get("name"), inp.get("datatype"), inp.get("shape")
        if not isinstance(name, str) or not name:
            raise ProtocolError(f"inputs[{i}] needs a 'name'")
        if not isinstance(datatype, str):
            raise ProtocolError(f"input {name!r} needs a 'datatype' (e.g. BYTES)")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise ProtocolError(f"input {name!r}: 'shape' must be a list of non-negative integers")
        if len(shape) > MAX_NESTING:
            raise ProtocolError(f"input {name!r}: 'shape' has over {MAX_NESTING} dimensions")
        params = inp.get("parameters") or {}
        if not isinstance(params, dict):
            raise ProtocolError(f"input {name!r}: 'parameters' must be an object")
        size = params.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(blob):
                raise ProtocolError(
                    f"input {name!r}: binary_data_size {size!r} does not fit the "
                    f"{len(blob) - offset} bytes of binary data left"
                )
            raw = blob[offset : offset + size]
            offset += size
            if datatype == "BYTES":
                data: list[Any] = _bytes_elements(raw, name)
            elif datatype in DTYPES:
                dtype = np.dtype(DTYPES[datatype]).newbyteorder("<")
                if size % dtype.itemsize:
                    raise ProtocolError(
                        f"input {name!r}: {size} bytes of {datatype} data is not a whole "
                        f"number of {dtype.itemsize}-byte elements"
                    )
                data = np.frombuffer(raw, dtype=dtype).tolist()
            else:
                raise ProtocolError(f"input {name!r}: datatype {datatype} is not supported")
        else:
            if "data" not in inp:
                raise ProtocolError(f"input {name!r} has neither 'data' nor binary data")
            data = _flatten(inp["data"])
        if math.prod(shape) != len(data):
            held = math.prod(shape)
            raise ProtocolError(
                f"input {name!r}: shape {_short(shape)} holds "
                f"{held if held < 10**15 else 'over 10^15'} elements but {len(data)} were sent"
            )
        if name in out:
            raise ProtocolError(f"input {name!r} is given twice")
        out[name] = Tensor(name, datatype, shape, data)
    if offset != len(blob):
        raise ProtocolError(
            f"{len(blob) - offset} bytes of binary data are not claimed by any input"
        )
    return out


def _encode_binary(t: Tensor) -> bytes:
    if t.datatype == "BYTES":
        parts = []
        for s in t.data:
            b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
            parts.append(struct.pack("<I", len(b)) + b)
        return b"".join(parts)
    return np.asarray(t.data, dtype=np.dtype(DTYPES[t.datatype]).newbyteorder("<")).tobytes()


def write_response(
    head: dict[str, Any], outputs: list[Tensor], binary: set[str]
) -> tuple[bytes, dict[str, str]]:
    """The response body and its extra headers; outputs named in ``binary`` go binary."""
    blobs = []
    described = []
    for t in outputs:
        entry: dict[str, Any] = {"name": t.name, "datatype": t.datatype, "shape": t.shape}
        if t.name in binary:
            raw = _encode_binary(t)
            entry["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            entry["data"] = t.data
        described.append(entry)
    header = json.dumps({**head, "outputs": described}, ensure_ascii=False).encode("utf-8")
    if not blobs:
        return header, {}
    return header + b"".join(blobs), {HEADER: str(len(header))}
