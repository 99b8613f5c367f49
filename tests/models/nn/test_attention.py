import math

import pytest
import torch

from models.nn.attention import (
    AdditiveScore,
    DotProductScore,
    MultiHeadAttention,
    masked_softmax,
)


def test_masked_softmax_ignores_masked_keys() -> None:
    scores = torch.tensor([[1.0, 2.0, 100.0]])
    mask = torch.tensor([[True, True, False]])
    w = masked_softmax(scores, mask)
    expected = torch.softmax(torch.tensor([1.0, 2.0]), -1)
    assert torch.allclose(w[0, :2], expected)
    assert w[0, 2] == 0


def test_fully_masked_row_gives_zeros_not_nan() -> None:
    w = masked_softmax(torch.randn(2, 4), torch.tensor([[False] * 4, [True, True, False, False]]))
    assert not torch.isnan(w).any()
    assert torch.equal(w[0], torch.zeros(4))
    assert math.isclose(w[1].sum().item(), 1.0, rel_tol=1e-6)


def test_masked_softmax_survives_fp16() -> None:
    """Computed in fp16 (as the fp16 graphs do): the masking constant must stay finite
    there (max 65,504), or a fully masked row turns NaN."""
    scores = (torch.randn(3, 5) * 100).half()
    mask = torch.tensor([[True] * 5, [False] * 5, [True, False, True, False, False]])
    w = masked_softmax(scores, mask)
    assert w.dtype == torch.float16
    assert torch.isfinite(w).all()
    assert torch.equal(w[1], torch.zeros(5, dtype=torch.float16))  # fully masked: zeros
    assert torch.equal(w[2][~mask[2]], torch.zeros(3, dtype=torch.float16))
    assert torch.allclose(w[[0, 2]].float().sum(-1), torch.ones(2), atol=1e-2)


def test_dot_product_score_is_scaled() -> None:
    q = torch.ones(1, 1, 1, 16)
    k = torch.ones(1, 1, 2, 16)
    assert torch.allclose(DotProductScore(16)(q, k), torch.full((1, 1, 1, 2), 4.0))


def test_additive_score_shape_and_difference_from_dot() -> None:
    torch.manual_seed(0)
    q, k = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 6, 8)
    add = AdditiveScore(8)(q, k)
    assert add.shape == (2, 3, 4, 6)
    assert not torch.allclose(add, DotProductScore(8)(q, k))


@pytest.mark.parametrize("score", ["dot", "additive"])
def test_multihead_weights_rows_sum_to_one_and_padding_is_ignored(score: str) -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(32, 4, score).eval()
    x = torch.randn(2, 5, 32)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool()[:, None, None, :]
    y, w = mha(x, x, mask)
    assert y.shape == (2, 5, 32) and w.shape == (2, 4, 5, 5)
    assert torch.allclose(w.sum(-1), torch.ones(2, 4, 5), atol=1e-6)
    assert (w[0, :, :, 3:] == 0).all()
    # Changing what sits in the padding changes nothing for row 0.
    x2 = x.clone()
    x2[0, 3:] = torch.randn(2, 32)
    y2, _ = mha(x2, x2, mask)
    assert torch.allclose(y[0, :3], y2[0, :3], atol=1e-6)


def test_multihead_accepts_precomputed_keys_values() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 2).eval()
    q, kv_in = torch.randn(1, 3, 16), torch.randn(1, 4, 16)
    mask = torch.ones(1, 1, 1, 4, dtype=torch.bool)
    y1, _ = mha(q, kv_in, mask)
    y2, _ = mha(q, None, mask, kv=mha.project_kv(kv_in))
    assert torch.allclose(y1, y2)


def test_bad_configuration_says_what_to_change() -> None:
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(30, 4)
    with pytest.raises(ValueError, match="score must be one of"):
        MultiHeadAttention(32, 4, "cosine")
