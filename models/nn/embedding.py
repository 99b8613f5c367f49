"""Token embeddings with sinusoidal positions (no learned table to outgrow)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_table(max_len: int, d_model: int) -> Tensor:
    pos = torch.arange(max_len).unsqueeze(1)  # (L, 1)
    div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # (C/2,)
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)
    return table  # (L, C)


class TokenEmbedding(nn.Module):
    """ids (B, T) and their positions (T,) or (B, T) -> (B, T, C) = E[ids]·sqrt(C) + PE[positions]."""

    def __init__(self, vocab_size: int, d_model: int, max_len: int, dropout: float) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model, padding_idx=0)
        nn.init.normal_(self.tokens.weight, std=d_model**-0.5)
        self.scale = math.sqrt(d_model)
        self.positions: Tensor
        self.register_buffer("positions", sinusoidal_table(max_len, d_model), persistent=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, ids: Tensor, positions: Tensor) -> Tensor:
        pe: Tensor = self.positions[positions]  # (T, C) or (B, T, C)
        if pe.dim() == 2:
            pe = pe.unsqueeze(0)
        return self.drop(self.tokens(ids) * self.scale + pe)
