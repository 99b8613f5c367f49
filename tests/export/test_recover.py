"""The served models read back into PyTorch from the committed ONNX graphs: every
parameter found, the result checked against ONNX Runtime — and a wrong mapping refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from export import recover
from models.classifier import Classifier, ClassifierEnsemble
from models.translator import Translator

REPOSITORY = Path(__file__).resolve().parents[2] / "model_repository"


def test_both_default_models_come_back_and_pass_the_check() -> None:
    classifier, tok, config = recover.load(REPOSITORY, "sentiment")
    assert isinstance(classifier, Classifier) and config["labels"] == ["negative", "positive"]
    assert isinstance(classifier, ClassifierEnsemble)  # its members found in the graph's order
    ids = torch.tensor([tok.encode("A moving, beautifully acted film.")])
    probs = torch.softmax(classifier(ids, torch.ones_like(ids))[0], -1)[0]
    assert probs[1] > 0.9  # the trained model, not a random one
    translator, _, _ = recover.load(REPOSITORY, "en-fr")
    assert isinstance(translator, Translator)


def test_a_wrong_mapping_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = recover._onnx_state

    def swapped(*args: object) -> dict[str, torch.Tensor]:
        state = real(*args)  # type: ignore[arg-type]
        q, k = (f"members.1.attention.layers.0.attn.{x}_proj.weight" for x in "qk")
        state[q], state[k] = state[k], state[q]
        return state

    monkeypatch.setattr(recover, "_onnx_state", swapped)
    with pytest.raises(RuntimeError, match="differ from ONNX Runtime"):
        recover.load(REPOSITORY, "sentiment")
