import random

import pytest

from models.train.common import EarlyStopping, length_batches, pad, warmup_decay


def test_length_batches_cover_everything_once_within_budget() -> None:
    lengths = [random.Random(i).randint(1, 60) for i in range(500)]
    batches = length_batches(lengths, max_tokens=400, max_batch=32, rng=random.Random(0))
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(500))
    for b in batches:
        assert len(b) <= 32
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 400


def test_length_batches_keep_padding_small() -> None:
    lengths = [random.Random(i).randint(1, 60) for i in range(2000)]
    batches = length_batches(lengths, max_tokens=2000, max_batch=64, rng=None)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert padded / sum(lengths) < 1.1


def test_pad_builds_ids_and_mask() -> None:
    ids, mask = pad([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_schedule_warms_up_then_decays() -> None:
    values = [warmup_decay(s, 10, 100) for s in range(100)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert values[10] >= values[50] >= values[99] >= 0.05


def test_early_stopping_counts_evaluations_without_improvement() -> None:
    stop = EarlyStopping(patience=2, mode="max")
    assert stop.improved(0.5) and not stop.stop
    assert not stop.improved(0.4) and not stop.stop
    assert stop.improved(0.6)
    assert not stop.improved(0.6) and not stop.improved(0.1)
    assert stop.stop


def test_ema_ramps_up_then_tracks_slowly() -> None:
    import torch

    from models.train.common import Ema

    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 0.0)
    ema = Ema(model, decay=0.999)
    torch.nn.init.constant_(model.weight, 1.0)
    ema.update(model)  # first update: decay (1+1)/(10+1), not 0.999
    assert ema.module.weight.item() == pytest.approx(9 / 11)
    for _ in range(5000):
        ema.update(model)
    assert ema.module.weight.item() == pytest.approx(1.0, abs=1e-3)
    assert not ema.module.weight.requires_grad
