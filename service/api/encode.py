"""JSON for answers that hold attention maps (megabytes for a long text), encoded a row at a
time: json.dumps of a whole map holds the GIL for as long as it runs, so a worker thread
encoding it stalls the event loop; row by row, the loop gets the GIL back between rows.
Arrays are rounded as ``handlers.base.rounded`` rounds them; the bytes equal what Starlette's JSONResponse
would send for the same values."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from service.engine.handlers.base import rounded

_SEP = (",", ":")


def json_bytes(obj: Any) -> bytes:
    parts: list[str] = []
    _emit(obj, parts)
    return "".join(parts).encode()


def _emit(obj: Any, parts: list[str]) -> None:
    if isinstance(obj, np.ndarray):
        if obj.ndim <= 1:
            parts.append(json.dumps(rounded(obj), separators=_SEP, allow_nan=False))
            return
        _sequence(obj, parts)
    elif isinstance(obj, dict):
        parts.append("{")
        for i, (key, value) in enumerate(obj.items()):
            if i:
                parts.append(",")
            parts.append(json.dumps(str(key), ensure_ascii=False))
            parts.append(":")
            _emit(value, parts)
        parts.append("}")
    elif isinstance(obj, list | tuple) and any(isinstance(x, dict | np.ndarray) for x in obj):
        _sequence(obj, parts)
    else:
        parts.append(json.dumps(obj, ensure_ascii=False, separators=_SEP, allow_nan=False))


def _sequence(items: Any, parts: list[str]) -> None:
    parts.append("[")
    for i, item in enumerate(items):
        if i:
            parts.append(",")
        _emit(item, parts)
    parts.append("]")
