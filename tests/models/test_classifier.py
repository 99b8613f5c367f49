import pytest
import torch

from models.classifier import Classifier, ClassifierConfig


@pytest.fixture
def model() -> Classifier:
    torch.manual_seed(0)
    return Classifier(ClassifierConfig(vocab_size=50, d_model=32, n_heads=4, d_ff=64)).eval()


def test_outputs_logits_attention_and_pooling(model: Classifier) -> None:
    ids = torch.randint(4, 50, (3, 9))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 5:] = 0
    logits, attn, alpha = model(ids, mask)
    assert logits.shape == (3, 2)
    assert len(attn) == model.cfg.n_attn_layers
    assert all(a.shape == (3, 4, 9, 9) for a in attn)
    assert alpha.shape == (3, 9)
    assert torch.allclose(alpha.sum(1), torch.ones(3), atol=1e-6)
    assert (alpha[1, 5:] == 0).all()


def test_prediction_does_not_depend_on_padding(model: Classifier) -> None:
    ids = torch.randint(4, 50, (1, 6))
    alone = model(ids, torch.ones(1, 6, dtype=torch.long))[0]
    padded_ids = torch.cat([ids, torch.zeros(1, 10, dtype=torch.long)], 1)
    padded_mask = torch.cat([torch.ones(1, 6), torch.zeros(1, 10)], 1).long()
    padded = model(padded_ids, padded_mask)[0]
    assert torch.allclose(alone, padded, atol=1e-5)


def test_all_padding_row_has_no_nan(model: Classifier) -> None:
    ids = torch.zeros(2, 5, dtype=torch.long)
    mask = torch.zeros(2, 5, dtype=torch.long)
    mask[1] = 1
    logits, attn, alpha = model(ids, mask)
    assert torch.isfinite(logits).all()
    assert all(torch.isfinite(a).all() for a in attn)
    assert (alpha[0] == 0).all()


@pytest.mark.parametrize(
    ("composition", "scores"), [("parallel", ("dot", "additive")), ("fused", ("dot", "additive"))]
)
def test_composite_variants_build_and_run(composition: str, scores: tuple[str, ...]) -> None:
    cfg = ClassifierConfig(
        vocab_size=30, d_model=16, n_heads=2, d_ff=32, composition=composition, scores=scores
    )
    logits, attn, _ = Classifier(cfg).eval()(
        torch.randint(4, 30, (2, 4)), torch.ones(2, 4, dtype=torch.long)
    )
    assert logits.shape == (2, 2) and attn[0].shape == (2, 4, 4, 4)
