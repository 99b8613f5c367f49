"""Benchmark workloads: real texts from the test splits, with their real length distribution.

Classification: the sentiment test split, whole (``mixed``; ``v2``: the same over the Open
Inference Protocol) or its shortest / longest third by characters (``short`` / ``long``),
in a fixed shuffled order. Translation: the en-fr test
split's English, greedy or beam 4. Each request carries ``texts_per_request`` texts.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLASSIFY = ("classify_short", "classify_mixed", "classify_long", "classify_v2")
TRANSLATE = ("translate_greedy", "translate_beam4")
WORKLOADS = CLASSIFY + TRANSLATE


@dataclass(frozen=True)
class Workload:
    name: str
    model: str
    path: str
    texts: list[str]  # every text, in the order they are sent
    texts_per_request: int
    params: dict[str, Any]

    def bodies(self) -> list[dict[str, Any]]:
        k = self.texts_per_request
        chunks = [self.texts[i : i + k] for i in range(0, len(self.texts) - k + 1, k)]
        if self.path.startswith("/v2/"):  # the Open Inference Protocol's JSON tensors
            return [
                {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [k], "data": c}]}
                for c in chunks
            ]
        return [{"texts": chunk, "truncate": True, **self.params} for chunk in chunks]


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the benchmark draws its texts from the test splits; "
            "run `attnserve data` (or pass --data DIR)"
        )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_rows(data: Path, model: str) -> list[dict[str, Any]]:
    """A model's test split in file order (``data/<model>/test.jsonl``)."""
    return _rows(data / model / "test.jsonl")


def load(name: str, data: Path, texts_per_request: int = 1, seed: int = 0) -> Workload:
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    if name in CLASSIFY:
        texts = [r["text"] for r in _rows(data / "sentiment" / "test.jsonl")]
        if name in ("classify_short", "classify_long"):
            by_length = sorted(texts, key=len)
            third = len(by_length) // 3
            texts = by_length[:third] if name == "classify_short" else by_length[-third:]
        model, path, params = "sentiment", "/v1/classify", {}
        if name == "classify_v2":  # the mixed texts on /v2/models/sentiment/infer
            path = "/v2/models/sentiment/infer"
    else:
        texts = [r["source"] for r in _rows(data / "en-fr" / "test.jsonl")]
        beam = 1 if name == "translate_greedy" else 4
        model, path, params = "en-fr", "/v1/translate", {"beam_size": beam}
    random.Random(seed).shuffle(texts)
    return Workload(name, model, path, texts, texts_per_request, {"model": model, **params})
