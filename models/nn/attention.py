"""Scaled dot-product and additive attention, multi-head, with a safe masked softmax."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

# Finite and representable in fp16 (max 65504): masked scores never overflow to -inf,
# so fp16 graphs stay free of NaN.
MASK_VALUE = -1.0e4


def masked_softmax(scores: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` where ``mask`` is True; a fully masked row gives zeros.

    A plain softmax over a row of -inf is NaN (and ONNX Runtime gives NaN where PyTorch's
    fused kernels give 0): masking with a finite constant and multiplying by the mask
    afterwards gives exact zeros instead.
    """
    scores = scores.masked_fill(~mask, MASK_VALUE)
    return torch.softmax(scores, dim=dim) * mask.to(scores.dtype)


class DotProductScore(nn.Module):
    """score(q, k) = q·k / sqrt(d_head)  (Vaswani et al., 2017)."""

    def __init__(self, d_head: int) -> None:
        super().__init__()
        self.scale = 1.0 / math.sqrt(d_head)

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        # q: (B, h, Tq, hs), k: (B, h, Tk, hs) -> (B, h, Tq, Tk)
        return torch.matmul(q, k.transpose(-2, -1)) * self.scale


class AdditiveScore(nn.Module):
    """score(q, k) = vᵀ tanh(W_q q + W_k k)  (Bahdanau et al., 2015), per head."""

    def __init__(self, d_head: int) -> None:
        super().__init__()
        self.w_q = nn.Linear(d_head, d_head, bias=False)
        self.w_k = nn.Linear(d_head, d_head, bias=True)
        self.v = nn.Linear(d_head, 1, bias=False)

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        # (B, h, Tq, 1, hs) + (B, h, 1, Tk, hs) -> (B, h, Tq, Tk, hs) -> (B, h, Tq, Tk)
        hidden = torch.tanh(self.w_q(q).unsqueeze(-2) + self.w_k(k).unsqueeze(-3))
        return self.v(hidden).squeeze(-1)


SCORES = {"dot": DotProductScore, "additive": AdditiveScore}


class MultiHeadAttention(nn.Module):
    """Multi-head attention with a choice of scoring function.

    ``forward`` returns the output and the attention weights (B, h, Tq, Tk). Keys and
    values may be given precomputed (``kv=(k, v)``, each (B, h, Tk, hs)): that is how the
    decoder's cross-attention reuses the encoder's keys and self-attention its cache.
    """

    def __init__(
        self, d_model: int, n_heads: int, score: str = "dot", dropout: float = 0.0
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        if score not in SCORES:
            raise ValueError(f"score must be one of {sorted(SCORES)}, got {score!r}")
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.score = SCORES[score](self.d_head)
        self.dropout = nn.Dropout(dropout)

    def split_heads(self, x: Tensor) -> Tensor:
        # (B, T, C) -> (B, h, T, hs)
        return x.view(x.size(0), x.size(1), self.n_heads, self.d_head).transpose(1, 2)

    def project_kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of ``x`` (B, Tk, C), each (B, h, Tk, hs)."""
        return self.split_heads(self.k_proj(x)), self.split_heads(self.v_proj(x))

    def forward(
        self,
        x_q: Tensor,
        x_kv: Tensor | None,
        mask: Tensor,
        kv: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        # x_q: (B, Tq, C); mask: broadcastable to (B, h, Tq, Tk), True = may attend
        q = self.split_heads(self.q_proj(x_q))  # (B, h, Tq, hs)
        if kv is None:
            if x_kv is None:
                raise ValueError("give x_kv or precomputed kv")
            kv = self.project_kv(x_kv)
        k, v = kv
        weights = masked_softmax(self.score(q, k), mask)  # (B, h, Tq, Tk)
        y = torch.matmul(self.dropout(weights), v)  # (B, h, Tq, hs)
        y = y.transpose(1, 2).reshape(x_q.size(0), x_q.size(1), -1)  # (B, Tq, C)
        return self.out_proj(y), weights
