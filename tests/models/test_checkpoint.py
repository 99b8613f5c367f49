from pathlib import Path

import pytest
import torch

from models import checkpoint
from models.classifier import Classifier, ClassifierConfig
from models.translator import Translator, TranslatorConfig


@pytest.mark.parametrize(
    "model",
    [
        Classifier(
            ClassifierConfig(
                vocab_size=40,
                d_model=16,
                n_heads=2,
                d_ff=32,
                composition="fused",
                scores=("dot", "additive"),
            )
        ),
        Translator(
            TranslatorConfig(
                vocab_size=40, d_model=16, n_heads=2, d_ff=32, enc_layers=1, dec_layers=1
            )
        ),
    ],
)
def test_model_is_rebuilt_from_the_checkpoint_alone(model: torch.nn.Module, tmp_path: Path) -> None:
    model.eval()
    checkpoint.save(tmp_path / "model.pt", model, {"labels": ["a", "b"]})
    again, meta = checkpoint.load(tmp_path)
    assert type(again) is type(model)
    assert again.cfg == model.cfg  # type: ignore[attr-defined]
    assert meta == {"labels": ["a", "b"]}
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key])


def test_missing_checkpoint_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="attnserve train"):
        checkpoint.load(tmp_path)
