import pytest
import torch

from models.nn.blocks import ResidualConv1d, ResidualSelfAttention
from models.nn.composite import AttentionStack, FusedAttention, ParallelAttention


def _mask(lengths: list[int], width: int) -> torch.Tensor:
    return (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None])[:, None, None, :]


@pytest.mark.parametrize(
    ("composition", "scores", "heads"),
    [
        ("series", ("dot",), 4),
        ("series", ("dot", "additive"), 4),
        ("parallel", ("dot", "additive"), 8),
        ("fused", ("dot", "additive"), 8),
    ],
)
def test_stack_shapes_and_reported_heads(
    composition: str, scores: tuple[str, ...], heads: int
) -> None:
    torch.manual_seed(0)
    stack = AttentionStack(2, 32, 4, 64, 0.0, composition, scores).eval()
    x = torch.randn(3, 7, 32)
    y, weights = stack(x, _mask([7, 4, 1], 7))
    assert y.shape == x.shape
    assert len(weights) == 2
    assert all(w.shape == (3, heads, 7, 7) for w in weights)
    assert all(not torch.isnan(w).any() for w in weights)


def test_series_applies_blocks_in_order() -> None:
    torch.manual_seed(0)
    stack = AttentionStack(2, 16, 2, 32, 0.0, "series").eval()
    x, mask = torch.randn(1, 3, 16), _mask([3], 3)
    h, _ = stack.layers[0](x, mask)
    expected, _ = stack.layers[1](h, mask)
    assert torch.allclose(stack(x, mask)[0], expected)


def test_parallel_averages_its_branches() -> None:
    torch.manual_seed(0)
    a, b = (
        ResidualSelfAttention(16, 2, 32, "dot", 0.0),
        ResidualSelfAttention(16, 2, 32, "additive", 0.0),
    )
    layer = ParallelAttention([a, b]).eval()
    x, mask = torch.randn(2, 4, 16), _mask([4, 2], 4)
    assert torch.allclose(layer(x, mask)[0], (a(x, mask)[0] + b(x, mask)[0]) / 2, atol=1e-6)


def test_fused_gate_mixes_between_its_branches() -> None:
    torch.manual_seed(0)
    a, b = (
        ResidualSelfAttention(16, 2, 32, "dot", 0.0),
        ResidualSelfAttention(16, 2, 32, "additive", 0.0),
    )
    layer = FusedAttention(a, b, 16).eval()
    x, mask = torch.randn(2, 4, 16), _mask([4, 3], 4)
    ya, yb, y = a(x, mask)[0], b(x, mask)[0], layer(x, mask)[0]
    lo, hi = torch.minimum(ya, yb), torch.maximum(ya, yb)
    assert ((y >= lo - 1e-5) & (y <= hi + 1e-5)).all()
    # Forcing the gate open selects branch a exactly.
    torch.nn.init.zeros_(layer.gate.weight)
    torch.nn.init.constant_(layer.gate.bias, 50.0)
    assert torch.allclose(layer(x, mask)[0], ya, atol=1e-5)


def test_invalid_composition_is_rejected() -> None:
    with pytest.raises(ValueError, match="composition must be one of"):
        AttentionStack(1, 16, 2, 32, 0.0, "diagonal")
    with pytest.raises(ValueError, match="exactly two scores"):
        AttentionStack(1, 16, 2, 32, 0.0, "fused", ("dot",))


def test_residual_conv_ignores_padding_content() -> None:
    torch.manual_seed(0)
    block = ResidualConv1d(8, 3, 0.0).eval()
    x = torch.randn(1, 5, 8)
    keep = torch.tensor([[1, 1, 1, 0, 0]]).float().unsqueeze(-1)
    x2 = x.clone()
    x2[0, 3:] = 99.0
    assert torch.allclose(block(x, keep)[0, :3], block(x2, keep)[0, :3], atol=1e-5)
