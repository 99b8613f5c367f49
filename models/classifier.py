"""The ResNet-Attention classifier.

    ids ─ embedding + positions ─ ResNet conv blocks ─ residual attention stack
        ─ attention pooling ─ dropout ─ linear ─ logits

The convolutions read local n-grams ("not good", "a must-see"); the attention stack
relates them across the sentence; the pooling weights say which tokens decided the
label — they are what the service's attention endpoint shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn

from models.nn.attention import masked_softmax
from models.nn.blocks import ResidualConv1d
from models.nn.composite import AttentionStack
from models.nn.embedding import TokenEmbedding

# the least probability an ensemble's logits carry (log(0) would be -inf, also in fp16)
PROB_FLOOR = 1e-6


@dataclass
class ClassifierConfig:
    vocab_size: int
    n_classes: int = 2
    d_model: int = 128
    n_conv_blocks: int = 2
    kernel_size: int = 3
    n_attn_layers: int = 2
    n_heads: int = 4
    d_ff: int = 256
    dropout: float = 0.3
    max_len: int = 256
    composition: str = "series"
    scores: tuple[str, ...] = field(default_factory=lambda: ("dot",))
    members: int = 1  # > 1: an ensemble of this many such towers (``ClassifierEnsemble``)


class AttentionPooling(nn.Module):
    """Additive attention of one learned query over the sequence: α = softmax(vᵀ tanh(W h))."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, 1, bias=False)

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        # h: (B, T, C); mask: (B, T) bool
        scores = self.v(torch.tanh(self.proj(h))).squeeze(-1)  # (B, T)
        alpha = masked_softmax(scores, mask)  # (B, T); zeros for an all-padding row
        return torch.bmm(alpha.unsqueeze(1), h).squeeze(1), alpha  # (B, C), (B, T)


class Classifier(nn.Module):
    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = TokenEmbedding(cfg.vocab_size, cfg.d_model, cfg.max_len, cfg.dropout)
        self.convs = nn.ModuleList(
            ResidualConv1d(cfg.d_model, cfg.kernel_size, cfg.dropout)
            for _ in range(cfg.n_conv_blocks)
        )
        self.attention = AttentionStack(
            cfg.n_attn_layers,
            cfg.d_model,
            cfg.n_heads,
            cfg.d_ff,
            cfg.dropout,
            cfg.composition,
            tuple(cfg.scores),
        )
        self.ln = nn.LayerNorm(cfg.d_model)
        self.pool = AttentionPooling(cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.d_model, cfg.n_classes)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor
    ) -> tuple[Tensor, list[Tensor], Tensor]:
        """logits (B, n_classes), each layer's attention (B, h, T, T), pooling weights (B, T)."""
        mask = attention_mask.bool()  # (B, T)
        positions = torch.arange(input_ids.size(1), device=input_ids.device)  # (T,)
        x = self.embed(input_ids, positions)  # (B, T, C)
        keep = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        for conv in self.convs:
            x = conv(x, keep)
        x, attn = self.attention(x, mask[:, None, None, :])  # keys masked: (B, 1, 1, T)
        pooled, alpha = self.pool(self.ln(x), mask)
        return self.head(self.drop(pooled)), attn, alpha


class ClassifierEnsemble(Classifier):
    """``cfg.members`` classifiers of one shape over one tokenizer, trained from different
    seeds; their class probabilities are averaged. It answers as one classifier: logits
    whose softmax is the mean probability, every member's attention layers in turn
    (member 0's first), and the mean pooling weights."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        nn.Module.__init__(self)
        if cfg.members < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {cfg.members}")
        self.cfg = cfg
        self.members = nn.ModuleList(
            Classifier(replace(cfg, members=1)) for _ in range(cfg.members)
        )

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor
    ) -> tuple[Tensor, list[Tensor], Tensor]:
        outs = [m(input_ids, attention_mask) for m in self.members]
        probs = torch.stack([torch.softmax(logits, -1) for logits, _, _ in outs]).mean(0)  # (B, C)
        layers = [a for _, attn, _ in outs for a in attn]  # members × layers of (B, h, T, T)
        alpha = torch.stack([a for _, _, a in outs]).mean(0)  # (B, T)
        return torch.log(probs.clamp_min(PROB_FLOOR)), layers, alpha

    @classmethod
    def of(cls, members: list[Classifier]) -> ClassifierEnsemble:
        """The ensemble of these trained classifiers (their configs must be equal)."""
        first = members[0].cfg
        for m in members[1:]:
            if m.cfg != first:
                raise ValueError(f"members differ in shape: {m.cfg} and {first}")
        out = cls(replace(first, members=len(members)))
        for mine, theirs in zip(out.members, members, strict=True):
            mine.load_state_dict(theirs.state_dict())
        return out.eval()


def build(cfg: ClassifierConfig) -> Classifier:
    """The model a config describes: one classifier, or an ensemble of ``cfg.members``."""
    return ClassifierEnsemble(cfg) if cfg.members > 1 else Classifier(cfg)
