"""What each exported graph computes, and its named inputs, outputs and dynamic axes.

Three graphs, all traced from the modules that were trained:

    classifier    input_ids, attention_mask (B, T)
                  → logits (B, C), attention (B, L, h, T, T), pooling (B, T)
    encoder       src_ids, src_mask (B, S)
                  → cross_k, cross_v (Ld, B, h, S, hs), encoder_attention (B, Le, h, S, S)
    decoder_step  tokens (B, T), self_k_i, self_v_i (B, h, P, hs) and cross_k_i,
                  cross_v_i (B, h, S, hs) for each decoder layer i, src_mask (B, S),
                  positions (B, T), past_mask (B, P), top_k ()
                  → logits (B, T, V), self_k_out_i, self_v_out_i (B, h, P+T, hs),
                    cross_attention (B, Ld, h, T, S), self_attention (B, Ld, h, T, P+T),
                    top_logp, top_ids (B, top_k)

One decoder-step graph serves every step: the first step passes an empty cache (P = 0).
The caches come and go one tensor per layer (``decoder_step_spec``): stacked (Ld, B, …)
as graphs before en-fr/3 took them, each step copied every layer's slice out of them and
stacked the grown caches again (2.0 of 11.1 ms of a step at 100 rows on the CPU).
``positions`` and ``past_mask`` let rows at different steps share one step (each row's
own positions; the cache columns it really has); graphs exported before them (en-fr/1:
stacked caches named ``self_k`` … and no ``positions``) put every row at position P and
still load and serve (``runtime/translator.py`` feeds each kind).
Attention weights are batch-first so the service slices one request's rows with one index.

The decoder step ends in the beam search's head (``runtime/candidates.py``;
``from_logits`` is its NumPy twin): the log-probabilities of the last position and each
row's ``top_k`` best tokens (ties to the lower id), so the search never fetches nor scans
batch × vocabulary floats; the search asks for as many as it may read (``runtime/
search_rule.py``: ``head_k``). Graphs exported before it still serve, through the twin.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from models.classifier import Classifier
from models.translator import Translator


@dataclass(frozen=True)
class GraphSpec:
    """Names and dynamic axes of one graph: everything ``torch.onnx.export`` needs."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]]
    varargs: bool = False  # the module takes its first input, then the rest as *args


CLASSIFIER = GraphSpec(
    "classifier",
    ("input_ids", "attention_mask"),
    ("logits", "attention", "pooling"),
    {
        "input_ids": {0: "batch", 1: "seq"},
        "attention_mask": {0: "batch", 1: "seq"},
        "logits": {0: "batch"},
        "attention": {0: "batch", 3: "seq", 4: "seq"},
        "pooling": {0: "batch", 1: "seq"},
    },
)
# The same graph without the attention outputs: only used to measure what emitting them costs.
CLASSIFIER_LOGITS_ONLY = GraphSpec(
    "classifier_logits_only",
    CLASSIFIER.inputs,
    ("logits",),
    {
        k: v
        for k, v in CLASSIFIER.dynamic_axes.items()
        if k in ("input_ids", "attention_mask", "logits")
    },
)
ENCODER = GraphSpec(
    "encoder",
    ("src_ids", "src_mask"),
    ("cross_k", "cross_v", "encoder_attention"),
    {
        "src_ids": {0: "batch", 1: "src_len"},
        "src_mask": {0: "batch", 1: "src_len"},
        "cross_k": {1: "batch", 3: "src_len"},
        "cross_v": {1: "batch", 3: "src_len"},
        "encoder_attention": {0: "batch", 3: "src_len", 4: "src_len"},
    },
)


def decoder_step_spec(layers: int) -> GraphSpec:
    """The decoder step of a model with ``layers`` decoder layers: the caches one input
    and one output per layer (``self_k_0``, …, ``self_k_out_0``, …), the search head."""

    def each(name: str) -> tuple[str, ...]:
        return tuple(f"{name}_{i}" for i in range(layers))

    caches = (*each("self_k"), *each("self_v"))
    crosses = (*each("cross_k"), *each("cross_v"))
    grown = (*each("self_k_out"), *each("self_v_out"))
    return GraphSpec(
        "decoder_step",
        ("tokens", *caches, *crosses, "src_mask", "positions", "past_mask", "top_k"),
        ("logits", *grown, "cross_attention", "self_attention", "top_logp", "top_ids"),
        {
            "tokens": {0: "batch", 1: "new"},
            **{n: {0: "batch", 2: "past"} for n in caches},
            **{n: {0: "batch", 2: "src_len"} for n in crosses},
            "src_mask": {0: "batch", 1: "src_len"},
            "positions": {0: "batch", 1: "new"},
            "past_mask": {0: "batch", 1: "past"},
            "logits": {0: "batch", 1: "new"},
            **{n: {0: "batch", 2: "total"} for n in grown},
            "cross_attention": {0: "batch", 3: "new", 4: "src_len"},
            "self_attention": {0: "batch", 3: "new", 4: "total"},
            "top_logp": {0: "batch", 1: "top_k"},
            "top_ids": {0: "batch", 1: "top_k"},
        },
        varargs=True,
    )


class ClassifierGraph(nn.Module):
    def __init__(self, model: Classifier, with_attention: bool = True) -> None:
        super().__init__()
        self.model = model
        self.with_attention = with_attention

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, ...]:
        logits, attn, alpha = self.model(input_ids, attention_mask)
        if not self.with_attention:
            return (logits,)
        return logits, torch.stack(attn, 1), alpha  # attention: (B, L, h, T, T)


class EncoderGraph(nn.Module):
    def __init__(self, model: Translator) -> None:
        super().__init__()
        self.model = model

    def forward(self, src_ids: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        cross_k, cross_v, attn = self.model.encode(src_ids, src_mask)
        return cross_k, cross_v, torch.stack(attn, 1)  # (B, Le, h, S, S)


class DecoderStepGraph(nn.Module):
    """The decoder step as ``decoder_step_spec`` names it: ``forward(tokens, *rest)``,
    the rest being the per-layer caches, then src_mask, positions, past_mask, top_k."""

    def __init__(self, model: Translator) -> None:
        super().__init__()
        self.model = model
        self.layers = model.cfg.dec_layers

    def forward(self, tokens: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        n = self.layers
        self_k, self_v = rest[:n], rest[n : 2 * n]
        cross_k, cross_v = rest[2 * n : 3 * n], rest[3 * n : 4 * n]
        src_mask, positions, past_mask, top_k = rest[4 * n :]
        logits, ks, vs, ws, sws = self.model.decode_layers(
            tokens, self_k, self_v, cross_k, cross_v, src_mask, positions, past_mask
        )
        top_logp, top_ids = search_head(logits[:, -1], top_k)
        # batch-first weights: cross (B, Ld, h, T, S), self (B, Ld, h, T, P+T)
        cross_w, self_w = torch.stack(ws, 1), torch.stack(sws, 1)
        return (logits, *ks, *vs, cross_w, self_w, top_logp, top_ids)


def search_head(last: Tensor, top_k: Tensor) -> tuple[Tensor, Tensor]:
    """The last position's logits (B, V) → each row's ``top_k`` (a scalar, 1..V) best
    log-probabilities and their ids (B, top_k), best first. A row whose logits hold a NaN
    or +inf comes out all NaN (log-softmax subtracts the row's maximum), which the search
    refuses; nothing else is barred here (PAD, BOS and the placeholder rule: the host)."""
    logp = torch.log_softmax(last.float(), dim=-1)  # (B, V)
    k = int(top_k.item())
    torch._check(k >= 1)
    torch._check(k <= last.shape[-1])
    return torch.topk(logp, k, dim=-1)  # (B, top_k) each
