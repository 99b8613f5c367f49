"""Composite attention: residual attention blocks in series, in parallel, or fused.

* series   — blocks one after another (a standard deep stack);
* parallel — every branch sees the same input; outputs are averaged (a wider layer);
* fused    — two branches (``scores``: e.g. dot-product and additive, the CLI's
             default) mixed per position and channel by a learned sigmoid gate.

Every layer returns its attention weights; parallel and fused layers stack their
branches' heads, so a layer with 2 branches of 4 heads reports 8 heads.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.nn.blocks import ResidualSelfAttention

COMPOSITIONS = ("series", "parallel", "fused")


class ParallelAttention(nn.Module):
    def __init__(self, branches: list[ResidualSelfAttention]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        outs = [b(x, mask) for b in self.branches]
        y = torch.stack([o for o, _ in outs]).mean(0)  # (B, T, C)
        return y, torch.cat([w for _, w in outs], dim=1)  # (B, n*h, T, T)


class FusedAttention(nn.Module):
    def __init__(self, a: ResidualSelfAttention, b: ResidualSelfAttention, d_model: int) -> None:
        super().__init__()
        self.a, self.b = a, b
        self.gate = nn.Linear(2 * d_model, d_model)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        ya, wa = self.a(x, mask)
        yb, wb = self.b(x, mask)
        g = torch.sigmoid(self.gate(torch.cat([ya, yb], dim=-1)))  # (B, T, C) in (0, 1)
        return g * ya + (1 - g) * yb, torch.cat([wa, wb], dim=1)


class AttentionStack(nn.Module):
    """``n_layers`` attention layers of the chosen composition."""

    def __init__(
        self,
        n_layers: int,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float,
        composition: str = "series",
        scores: tuple[str, ...] = ("dot",),
    ) -> None:
        super().__init__()
        if composition not in COMPOSITIONS:
            raise ValueError(f"composition must be one of {COMPOSITIONS}, got {composition!r}")
        if composition == "fused" and len(scores) != 2:
            raise ValueError(f"fused composition takes exactly two scores, got {scores}")

        def block(score: str) -> ResidualSelfAttention:
            return ResidualSelfAttention(d_model, n_heads, d_ff, score, dropout)

        layers: list[nn.Module] = []
        for i in range(n_layers):
            if composition == "series":
                layers.append(block(scores[i % len(scores)]))
            elif composition == "parallel":
                layers.append(ParallelAttention([block(s) for s in scores]))
            else:
                layers.append(FusedAttention(block(scores[0]), block(scores[1]), d_model))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, list[Tensor]]:
        weights = []
        for layer in self.layers:
            x, w = layer(x, mask)
            weights.append(w)
        return x, weights
