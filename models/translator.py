"""Encoder–decoder translator with an explicit key/value cache.

``encode`` runs once per source and returns every decoder layer's cross-attention keys
and values; ``decode_step`` takes new target tokens plus the self-attention cache and
returns logits and the grown cache. Training is ``decode_step`` on the whole target
with an empty cache, so the graph exported for serving is the graph that was trained.

Cache layout (one tensor per kind, layers stacked so a graph has a fixed signature):
    self_k, self_v   (L, B, h, P, hs)   P = cache columns (0 at the start)
    cross_k, cross_v (L, B, h, S, hs)   S = source length

Rows need not be at the same step: ``positions`` (B, T) gives each new token's position
and ``past_mask`` (B, P) marks the cache columns a row really has (a row that joined a
running batch later holds masked, zero columns). Masked columns get exactly zero weight,
so a row's result does not depend on how much padding the others forced on it. Without
them every row has seen all P columns and the new tokens sit at P, P+1, … (training,
and one static batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from models.nn.attention import MultiHeadAttention
from models.nn.blocks import FeedForward
from models.nn.composite import AttentionStack
from models.nn.embedding import TokenEmbedding


@dataclass
class TranslatorConfig:
    vocab_size: int
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 768
    enc_layers: int = 3
    dec_layers: int = 2  # the decoder runs once per generated token: keep it the shallower
    dropout: float = 0.1
    max_len: int = 128
    composition: str = "series"  # of the encoder's attention layers
    scores: tuple[str, ...] = field(default_factory=lambda: ("dot",))
    cross_score: str = "dot"  # "additive" gives Bahdanau-style cross-attention


class DecoderLayer(nn.Module):
    """x + SelfAttn(LN(x)) with cache, x + CrossAttn(LN(x)), x + FFN(LN(x))."""

    def __init__(self, cfg: TranslatorConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.ln_self, self.ln_cross, self.ln_ff = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_attn = MultiHeadAttention(d, cfg.n_heads, "dot", cfg.dropout)
        self.cross_attn = MultiHeadAttention(d, cfg.n_heads, cfg.cross_score, cfg.dropout)
        self.ff = FeedForward(d, cfg.d_ff, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: Tensor,  # (B, T, C)
        past_k: Tensor,  # (B, h, P, hs)
        past_v: Tensor,
        cross_k: Tensor,  # (B, h, S, hs)
        cross_v: Tensor,
        self_mask: Tensor,  # (B or 1, 1, T, P+T)
        cross_mask: Tensor,  # (B, 1, 1, S)
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        h = self.ln_self(x)
        new_k, new_v = self.self_attn.project_kv(h)  # (B, h, T, hs)
        k = torch.cat([past_k, new_k], dim=2)  # (B, h, P+T, hs)
        v = torch.cat([past_v, new_v], dim=2)
        a, self_w = self.self_attn(h, None, self_mask, kv=(k, v))
        x = x + self.drop(a)
        c, cross_w = self.cross_attn(self.ln_cross(x), None, cross_mask, kv=(cross_k, cross_v))
        x = x + self.drop(c)
        x = x + self.drop(self.ff(self.ln_ff(x)))
        return x, k, v, cross_w, self_w  # cross_w: (B, h, T, S); self_w: (B, h, T, P+T)


class Translator(nn.Module):
    def __init__(self, cfg: TranslatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = TokenEmbedding(cfg.vocab_size, cfg.d_model, cfg.max_len, cfg.dropout)
        self.encoder = AttentionStack(
            cfg.enc_layers,
            cfg.d_model,
            cfg.n_heads,
            cfg.d_ff,
            cfg.dropout,
            cfg.composition,
            tuple(cfg.scores),
        )
        self.enc_ln = nn.LayerNorm(cfg.d_model)
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.dec_layers))
        self.dec_ln = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.out.weight = self.embed.tokens.weight  # tied: one joint en+fr vocabulary

    @property
    def layers(self) -> list[DecoderLayer]:
        return list(self.decoder)  # type: ignore[arg-type]

    @property
    def head_dim(self) -> int:
        return self.cfg.d_model // self.cfg.n_heads

    def encode(self, src_ids: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
        """cross_k, cross_v (L, B, h, S, hs) and the encoder's self-attention weights."""
        mask = src_mask.bool()
        positions = torch.arange(src_ids.size(1), device=src_ids.device)
        x = self.embed(src_ids, positions)  # (B, S, C)
        x, attn = self.encoder(x, mask[:, None, None, :])
        memory = self.enc_ln(x)
        kvs = [layer.cross_attn.project_kv(memory) for layer in self.layers]
        return torch.stack([k for k, _ in kvs]), torch.stack([v for _, v in kvs]), attn

    def empty_cache(self, batch: int, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
        shape = (self.cfg.dec_layers, batch, self.cfg.n_heads, 0, self.head_dim)
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)

    def decode_step(
        self,
        tokens: Tensor,  # (B, T) new target tokens
        self_k: Tensor,  # (L, B, h, P, hs)
        self_v: Tensor,
        cross_k: Tensor,  # (L, B, h, S, hs)
        cross_v: Tensor,
        src_mask: Tensor,  # (B, S)
        positions: Tensor | None = None,  # (B, T) each new token's position
        past_mask: Tensor | None = None,  # (B, P) 1 where a row has that cache column
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """logits (B, T, V), self_k/self_v grown to P+T, cross-attention (L, B, h, T, S)."""
        return self.decode_step_attention(
            tokens, self_k, self_v, cross_k, cross_v, src_mask, positions, past_mask
        )[:4]

    def decode_step_attention(
        self,
        tokens: Tensor,  # (B, T) new target tokens
        self_k: Tensor,  # (L, B, h, P, hs)
        self_v: Tensor,
        cross_k: Tensor,  # (L, B, h, S, hs)
        cross_v: Tensor,
        src_mask: Tensor,  # (B, S)
        positions: Tensor | None = None,  # (B, T)
        past_mask: Tensor | None = None,  # (B, P)
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """``decode_step`` plus the decoder's self-attention (L, B, h, T, P+T)."""
        logits, ks, vs, ws, sws = self.decode_layers(
            tokens, self_k, self_v, cross_k, cross_v, src_mask, positions, past_mask
        )
        return logits, torch.stack(ks), torch.stack(vs), torch.stack(ws), torch.stack(sws)

    def decode_layers(
        self,
        tokens: Tensor,  # (B, T) new target tokens
        self_k: Tensor | Sequence[Tensor],  # per layer (B, h, P, hs): stacked or one each
        self_v: Tensor | Sequence[Tensor],
        cross_k: Tensor | Sequence[Tensor],  # per layer (B, h, S, hs)
        cross_v: Tensor | Sequence[Tensor],
        src_mask: Tensor,  # (B, S)
        positions: Tensor | None = None,  # (B, T)
        past_mask: Tensor | None = None,  # (B, P)
    ) -> tuple[Tensor, list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        """One step, layer by layer: logits (B, T, V) and, per layer, the grown cache
        (B, h, P+T, hs) ×2, the cross-attention (B, h, T, S) and the self-attention
        (B, h, T, P+T). The exported decoder step takes and gives the caches one tensor per
        layer, so that no layer's slice of a stacked cache is copied out, nor the grown
        caches stacked, in every step."""
        past = self_k[0].size(2)
        new = tokens.size(1)
        q_idx = torch.arange(new, device=tokens.device)  # (T,)
        causal = q_idx[None, :] <= q_idx[:, None]  # (T, T): new token t sees new tokens ≤ t
        if past_mask is None:
            seen = torch.ones(1, 1, new, past, dtype=torch.bool, device=tokens.device)
        else:
            seen = past_mask.bool()[:, None, None, :].expand(-1, 1, new, -1)  # (B, 1, T, P)
        ahead = causal[None, None].expand(seen.size(0), 1, new, new)  # (B|1, 1, T, T)
        self_mask = torch.cat([seen, ahead], dim=-1)  # (B|1, 1, T, P+T)
        if positions is None:
            positions = (q_idx + past)[None, :]  # (1, T)
        cross_mask = src_mask.bool()[:, None, None, :]  # (B, 1, 1, S)
        x = self.embed(tokens, positions)  # (B, T, C)
        ks, vs, ws, sws = [], [], [], []
        for i, layer in enumerate(self.layers):
            x, k, v, w, sw = layer(
                x, self_k[i], self_v[i], cross_k[i], cross_v[i], self_mask, cross_mask
            )
            ks.append(k)
            vs.append(v)
            ws.append(w)
            sws.append(sw)
        logits = self.out(self.dec_ln(x))  # (B, T, V)
        return logits, ks, vs, ws, sws

    def forward(self, src_ids: Tensor, src_mask: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, T, V) for training."""
        cross_k, cross_v = self.encode(src_ids, src_mask)[:2]
        self_k, self_v = self.empty_cache(src_ids.size(0), src_ids.device)
        return self.decode_step(tgt_in, self_k, self_v, cross_k, cross_v, src_mask)[0]
