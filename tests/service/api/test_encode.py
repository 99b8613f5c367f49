"""Attention answers encoded a row at a time: the same bytes Starlette's JSONResponse sends
for the rounded values."""

from __future__ import annotations

import numpy as np
from starlette.responses import JSONResponse

from service.api.encode import json_bytes


def test_arrays_encode_as_their_rounded_lists_would() -> None:
    rng = np.random.default_rng(0)
    maps = rng.random((2, 3, 4, 4), dtype=np.float32)
    pooling = rng.random(4, dtype=np.float32)
    answer = {
        "model": "sentiment",
        "tokens": ["é", "$x"],
        "attention": [{"layer": 0, "kind": "self", "weights": maps}, {"weights": pooling}],
        "label": None,
    }
    plain = {
        **answer,
        "attention": [
            {"layer": 0, "kind": "self", "weights": np.round(maps.astype(np.float64), 5).tolist()},
            {"weights": np.round(pooling.astype(np.float64), 5).tolist()},
        ],
    }
    assert json_bytes(answer) == JSONResponse(plain).body
