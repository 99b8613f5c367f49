"""The classifier graph on ONNX Runtime: texts → class probabilities (and attention)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.batching import length_batches
from core.text.inputs import classifier_input
from core.text.tokenizer import SubwordTokenizer
from runtime.repository import ModelVersion
from runtime.session import Runner, create, pad


@dataclass
class ClassifierBatch:
    probabilities: np.ndarray  # (N, C)
    attention: list[np.ndarray] | None = None  # per text: (L, h, T, T)
    pooling: list[np.ndarray] | None = None  # per text: (T,)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class ClassifierRuntime:
    def __init__(
        self, model: ModelVersion, precision: str = "auto", device: str = "cpu", threads: int = 0
    ) -> None:
        if model.task != "classification":
            raise ValueError(f"{model.name} is a {model.task} model, not a classifier")
        self.model = model
        self.precision = model.config["precision"][device] if precision == "auto" else precision
        self.session = create(model.graph("classifier", self.precision), device, threads)
        self._runner = Runner(self.session, device)
        self.tokenizer = SubwordTokenizer.load(model.path / model.config["tokenizer"])
        self.labels: list[str] = list(model.config["labels"])
        self.max_len = int(model.config["max_input_tokens"])

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode_ids(ids) for ids in self.tokenizer.encode_batch(texts)]

    def encode_ids(self, ids: Sequence[int]) -> list[int]:
        """Token ids → the model's input row (the rule recorded in config ``input_rule``)."""
        return classifier_input(ids, self.max_len)

    def forward(self, seqs: Sequence[Sequence[int]], attention: bool = False) -> ClassifierBatch:
        """One batch, as given (the caller groups by length)."""
        ids, mask = pad(seqs)
        names = ["logits", "attention", "pooling"] if attention else ["logits"]
        out = self._runner(names, {"input_ids": ids, "attention_mask": mask})
        result = ClassifierBatch(softmax(out[0].astype(np.float32)))
        if attention:
            lengths = [len(s) for s in seqs]
            result.attention = [out[1][i, :, :, :n, :n] for i, n in enumerate(lengths)]
            result.pooling = [out[2][i, :n] for i, n in enumerate(lengths)]
        return result

    def predict(self, texts: Sequence[str], max_tokens: int = 8192) -> np.ndarray:
        """Probabilities (N, C) in the order of ``texts``, batched by length."""
        seqs = self.encode(texts)
        probs = np.zeros((len(seqs), len(self.labels)), dtype=np.float32)
        for batch in length_batches([len(s) for s in seqs], max_tokens, 256):
            probs[batch] = self.forward([seqs[i] for i in batch]).probabilities
        return probs
