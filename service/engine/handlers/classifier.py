"""The classifier's handler: texts → token ids (one item each) → probabilities, and on
request every attention map and the pooling weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runtime.classifier import ClassifierRuntime
from service.engine.handlers.base import check_length


@dataclass(frozen=True)
class ClassifyItem:
    ids: list[int]
    attention: bool = False


@dataclass(frozen=True)
class ClassifyOutput:
    probabilities: np.ndarray  # (C,)
    attention: np.ndarray | None = None  # (L, h, T, T)
    pooling: np.ndarray | None = None  # (T,)


class ClassifierHandler:
    task = "classification"

    def __init__(self, runtime: ClassifierRuntime) -> None:
        self.runtime = runtime
        self.labels = runtime.labels
        self.max_tokens = runtime.max_len

    def prepare(
        self, texts: Sequence[str], truncate: bool = False, attention: bool = False
    ) -> list[tuple[ClassifyItem, int]]:
        raw = self.runtime.tokenizer.encode_batch(texts)
        items = []
        for i, ids in enumerate(raw):
            check_length(i, len(ids), self.max_tokens, truncate, len(texts))
            seq = self.runtime.encode_ids(ids)
            items.append((ClassifyItem(seq, attention), len(seq)))
        return items

    def run_batch(self, items: list[ClassifyItem]) -> list[ClassifyOutput]:
        attention = items[0].attention
        out = self.runtime.forward([it.ids for it in items], attention=attention)
        if not attention:
            return [ClassifyOutput(p) for p in out.probabilities]
        assert out.attention is not None and out.pooling is not None
        return [
            ClassifyOutput(p, a, w)
            for p, a, w in zip(out.probabilities, out.attention, out.pooling, strict=True)
        ]

    def respond(self, outputs: Sequence[ClassifyOutput]) -> list[dict[str, Any]]:
        """Per text: the label, its probability, and every label's probability."""
        answers = []
        for o in outputs:
            best = int(np.argmax(o.probabilities))
            answers.append(
                {
                    "label": self.labels[best],
                    "score": float(o.probabilities[best]),
                    "probabilities": {
                        lab: float(x) for lab, x in zip(self.labels, o.probabilities, strict=True)
                    },
                }
            )
        return answers

    def tokens(self, ids: Sequence[int]) -> list[str]:
        return self.runtime.tokenizer.tokens(ids)

    def warmup(self) -> None:
        self.run_batch([ClassifyItem([5, 6, 7]), ClassifyItem([5], attention=False)])
        self.run_batch([ClassifyItem([5, 6, 7], attention=True)])

    @property
    def precision(self) -> str:
        return self.runtime.precision

    @property
    def provider(self) -> str:
        return str(self.runtime.session.get_providers()[0])
