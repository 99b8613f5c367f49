"""What each exported graph computes, and its named inputs, outputs and dynamic axes.

Three graphs, all traced from the modules that were trained:

    classifier    input_ids, attention_mask (B, T)
                  → logits (B, C), attention (B, L, h, T, T), pooling (B, T)
    encoder       src_ids, src_mask (B, S)
                  → cross_k, cross_v (Ld, B, h, S, hs), encoder_attention (B, Le, h, S, S)
    decoder_step  tokens (B, T), self_k, self_v (Ld, B, h, P, hs), cross_k, cross_v,
                  src_mask (B, S), positions (B, T), past_mask (B, P), top_k ()
                  → logits (B, T, V), self_k_out, self_v_out (Ld, B, h, P+T, hs),
                    cross_attention (B, Ld, h, T, S), self_attention (B, Ld, h, T, P+T),
                    top_logp, top_ids (B, top_k)

One decoder-step graph serves every step: the first step passes an empty cache (P = 0).
``positions`` and ``past_mask`` let rows at different steps share one step (each row's
own positions; the cache columns it really has); graphs exported before them
(``DECODER_STEP_STATIC``) put every row at position P and still load and serve.
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
DECODER_STEP_STATIC = GraphSpec(
    "decoder_step",
    ("tokens", "self_k", "self_v", "cross_k", "cross_v", "src_mask"),
    ("logits", "self_k_out", "self_v_out", "cross_attention", "self_attention"),
    {
        "tokens": {0: "batch", 1: "new"},
        "self_k": {1: "batch", 3: "past"},
        "self_v": {1: "batch", 3: "past"},
        "cross_k": {1: "batch", 3: "src_len"},
        "cross_v": {1: "batch", 3: "src_len"},
        "src_mask": {0: "batch", 1: "src_len"},
        "logits": {0: "batch", 1: "new"},
        "self_k_out": {1: "batch", 3: "total"},
        "self_v_out": {1: "batch", 3: "total"},
        "cross_attention": {0: "batch", 3: "new", 4: "src_len"},
        "self_attention": {0: "batch", 3: "new", 4: "total"},
    },
)
DECODER_STEP_RAGGED = GraphSpec(
    "decoder_step",
    (*DECODER_STEP_STATIC.inputs, "positions", "past_mask"),
    DECODER_STEP_STATIC.outputs,
    {
        **DECODER_STEP_STATIC.dynamic_axes,
        "positions": {0: "batch", 1: "new"},
        "past_mask": {0: "batch", 1: "past"},
    },
)
DECODER_STEP = GraphSpec(
    "decoder_step",
    (*DECODER_STEP_RAGGED.inputs, "top_k"),
    (*DECODER_STEP_RAGGED.outputs, "top_logp", "top_ids"),
    {
        **DECODER_STEP_RAGGED.dynamic_axes,
        "top_logp": {0: "batch", 1: "top_k"},
        "top_ids": {0: "batch", 1: "top_k"},
    },
)
# the inputs that tell a graph whose rows may be at different steps from one that is not
RAGGED_INPUTS = frozenset(DECODER_STEP.inputs) - frozenset(DECODER_STEP_STATIC.inputs)


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
    def __init__(self, model: Translator) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        tokens: Tensor,
        self_k: Tensor,
        self_v: Tensor,
        cross_k: Tensor,
        cross_v: Tensor,
        src_mask: Tensor,
        positions: Tensor,
        past_mask: Tensor,
        top_k: Tensor,
    ) -> tuple[Tensor, ...]:
        logits, k, v, cross_w, self_w = self.model.decode_step_attention(
            tokens, self_k, self_v, cross_k, cross_v, src_mask, positions, past_mask
        )
        top_logp, top_ids = search_head(logits[:, -1], top_k)
        # batch-first weights: cross (B, Ld, h, T, S), self (B, Ld, h, T, P+T)
        return (
            logits,
            k,
            v,
            cross_w.transpose(0, 1),
            self_w.transpose(0, 1),
            top_logp,
            top_ids,
        )


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
