"""The classifier's handler: texts → token ids (one item each) → probabilities, and with
the attention key every attention map and the pooling weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runtime.classifier import ClassifierRuntime
from service.engine.handlers.base import InputError, check_length, maps


@dataclass(frozen=True)
class Pass:
    """The classifier's batch key: a plain pass, or one that returns every attention map."""

    attention: bool = False


PLAIN, ATTENTION = Pass(False), Pass(True)


@dataclass(frozen=True)
class ClassifyItem:
    ids: list[int]


@dataclass(frozen=True)
class ClassifyOutput:
    probabilities: np.ndarray  # (C,)
    attention: np.ndarray | None = None  # (L, h, T, T)
    pooling: np.ndarray | None = None  # (T,)


class ClassifierHandler:
    task = "classification"
    option_names: tuple[str, ...] = ()

    def __init__(self, runtime: ClassifierRuntime) -> None:
        self.runtime = runtime
        self.labels = runtime.labels
        self.max_tokens = runtime.max_len

    def options(self, **options: Any) -> Pass:
        given = sorted(k for k, v in options.items() if v is not None)
        if given:
            raise InputError(f"a classifier takes no options; got {given}")
        return PLAIN

    def prepare(
        self, texts: Sequence[str], key: Pass = PLAIN, truncate: bool = False
    ) -> list[tuple[ClassifyItem, int]]:
        raw = self.runtime.tokenizer.encode_batch(texts)
        items = []
        for i, ids in enumerate(raw):
            check_length(i, len(ids), self.max_tokens, truncate, len(texts))
            seq = self.runtime.encode_ids(ids)
            items.append((ClassifyItem(seq), len(seq)))
        return items

    def run_batch(self, key: Pass, items: list[ClassifyItem]) -> list[ClassifyOutput]:
        out = self.runtime.forward([it.ids for it in items], attention=key.attention)
        if not key.attention:
            return [ClassifyOutput(p) for p in out.probabilities]
        assert out.attention is not None and out.pooling is not None
        return [
            ClassifyOutput(p, a, w)
            for p, a, w in zip(out.probabilities, out.attention, out.pooling, strict=True)
        ]

    def respond(
        self, items: Sequence[tuple[ClassifyItem, int]], outputs: Sequence[ClassifyOutput]
    ) -> list[dict[str, Any]]:
        """Per text: the label, its probability, and every label's probability."""
        answers = []
        for o in outputs:
            probs: list[float] = o.probabilities.tolist()  # Python floats, once
            best = max(range(len(probs)), key=probs.__getitem__)  # the first of ties, as argmax
            answers.append(
                {
                    "label": self.labels[best],
                    "score": probs[best],
                    "probabilities": dict(zip(self.labels, probs, strict=True)),
                }
            )
        return answers

    def generated(self, outputs: Sequence[ClassifyOutput]) -> int:
        return 0

    # -- /v1/attention ----------------------------------------------------------
    def attention_key(self, target: str | None) -> Pass:
        if target is not None:
            raise InputError("'target' is for translation models only")
        return ATTENTION

    def prepare_attention(
        self, text: str, target: str | None, key: Pass, truncate: bool = False
    ) -> list[tuple[ClassifyItem, int]]:
        return self.prepare([text], key, truncate)

    def explain(self, item: ClassifyItem, output: ClassifyOutput) -> dict[str, Any]:
        """The tokens, the label, each layer's self-attention and the pooling weights."""
        assert output.attention is not None and output.pooling is not None
        return {
            "tokens": self.tokens(item.ids),
            "label": self.labels[int(np.argmax(output.probabilities))],
            "attention": [
                *maps("self", output.attention),
                {"layer": None, "kind": "pooling", "weights": output.pooling},
            ],
        }

    def tokens(self, ids: Sequence[int]) -> list[str]:
        return self.runtime.tokenizer.tokens(ids)

    def lane(self) -> None:
        """One pass per batch: there are no steps to join between."""
        return None

    def warmup(self) -> None:
        self.run_batch(PLAIN, [ClassifyItem([5, 6, 7]), ClassifyItem([5])])
        self.run_batch(ATTENTION, [ClassifyItem([5, 6, 7])])

    @property
    def precision(self) -> str:
        return self.runtime.precision

    @property
    def provider(self) -> str:
        return str(self.runtime.session.get_providers()[0])
