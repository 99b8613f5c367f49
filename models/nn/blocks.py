"""Residual blocks: pre-norm attention + feed-forward, and ResNet-style 1-D convolutions."""

from __future__ import annotations

from torch import Tensor, nn

from models.nn.attention import MultiHeadAttention


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ResidualSelfAttention(nn.Module):
    """x + Attn(LN(x)), then x + FFN(LN(x)): a pre-norm transformer layer.

    Pre-norm keeps an identity path from input to output, which trains stably without
    a long warm-up — the point of the residual connection.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, score: str, dropout: float) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, score, dropout)
        self.ln_ff = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        # x: (B, T, C); mask: (B, 1, 1, T) or (B, 1, T, T)
        h = self.ln_attn(x)
        a, weights = self.attn(h, h, mask)
        x = x + self.drop(a)
        x = x + self.drop(self.ff(self.ln_ff(x)))
        return x, weights  # (B, T, C), (B, h, T, T)


class ResidualConv1d(nn.Module):
    """ResNet basic block over the sequence: x + Conv(GELU(LN(Conv(GELU(LN(x)))))).

    Padding positions are zeroed before each convolution so that padding never leaks
    into real tokens, whatever the batch's padded length.
    """

    def __init__(self, d_model: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep the length, got {kernel_size}")
        self.ln1 = nn.LayerNorm(d_model)
        self.conv1 = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2)
        self.ln2 = nn.LayerNorm(d_model)
        self.conv2 = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)

    def _conv(self, conv: nn.Conv1d, x: Tensor, keep: Tensor) -> Tensor:
        # (B, T, C) -> (B, C, T) -> conv -> (B, T, C)
        return conv((x * keep).transpose(1, 2)).transpose(1, 2)

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        # x: (B, T, C); keep: (B, T, 1), 1.0 for real tokens
        h = self._conv(self.conv1, self.act(self.ln1(x)), keep)
        h = self._conv(self.conv2, self.drop(self.act(self.ln2(h))), keep)
        return x + h
