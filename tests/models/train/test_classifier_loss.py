import torch
import torch.nn.functional as F

from models.classifier import Classifier, ClassifierConfig
from models.train.classifier import ClassifierProfile, _loss, targets


def test_soft_targets_follow_the_human_rating() -> None:
    rows = [
        {"text": "a", "label": "positive", "rating": 3.0},
        {"text": "b", "label": "positive", "rating": 0.6},
        {"text": "c", "label": "negative"},
    ]
    t = targets(
        rows, ["negative", "positive"], ClassifierProfile(soft_labels=1.5, label_smoothing=0.1)
    )
    assert torch.allclose(t.sum(1), torch.ones(3))
    assert t[0, 1] > t[1, 1] > 0.5  # "great" is surer than "fine"
    assert torch.allclose(t[2], torch.tensor([0.95, 0.05]))


def test_rdrop_adds_nothing_without_dropout_and_something_with_it() -> None:
    torch.manual_seed(0)
    ids, mask = torch.randint(4, 30, (4, 6)), torch.ones(4, 6, dtype=torch.long)
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]] * 2)
    still = Classifier(
        ClassifierConfig(vocab_size=30, d_model=16, n_heads=2, d_ff=32, dropout=0.0)
    ).train()
    assert torch.allclose(
        _loss(still, ids, mask, target, 1.0), F.cross_entropy(still(ids, mask)[0], target)
    )
    noisy = Classifier(
        ClassifierConfig(vocab_size=30, d_model=16, n_heads=2, d_ff=32, dropout=0.5)
    ).train()
    torch.manual_seed(1)
    plain = _loss(noisy, ids, mask, target, 0.0)
    torch.manual_seed(1)
    with_kl = _loss(noisy, ids, mask, target, 1.0)
    assert not torch.allclose(plain, with_kl)
