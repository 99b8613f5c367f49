"""Trace a model into ONNX graphs with dynamic batch, sequence and cache axes.

The ``torch.export`` based exporter (``dynamo=True``) is used: the TorchScript tracer is
deprecated since PyTorch 2.9 and freezes any Python int a shape flows through. Dynamic
axes are declared as ``torch.export.Dim`` objects; the examples have every dynamic axis
≥ 2 (1 would be specialised) and different from the others, and :mod:`export.parity`
checks every graph at other shapes anyway, including batch 1, length 1 and an empty cache.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import Tensor, nn

from export.graphs import (
    CLASSIFIER,
    CLASSIFIER_LOGITS_ONLY,
    ENCODER,
    ClassifierGraph,
    DecoderStepGraph,
    EncoderGraph,
    GraphSpec,
    decoder_step_spec,
)
from models.classifier import Classifier
from models.translator import Translator

OPSET = 18  # the dynamo exporter's own opset; LayerNormalization is one op from 17 on


def _dims(spec: GraphSpec, max_len: int) -> Any:
    """``dynamic_shapes`` for ``torch.onnx.export``: one shared Dim per axis name, by
    input name — or, for a module taking ``(first, *rest)``, as (first's, (rest's …))."""
    dims: dict[str, Any] = {}
    out: dict[str, dict[int, Any]] = {}
    for name in spec.inputs:
        axes = {}
        for axis, label in spec.dynamic_axes.get(name, {}).items():
            if label not in dims:
                bound = None if label == "batch" else max_len
                dims[label] = (
                    torch.export.Dim(label, max=bound) if bound else torch.export.Dim(label)
                )
            axes[axis] = dims[label]
        out[name] = axes
    if spec.varargs:
        first, *rest = spec.inputs
        return (out[first], tuple(out[n] for n in rest))
    return out


def export_graph(
    module: nn.Module, spec: GraphSpec, example: tuple[Tensor, ...], path: Path, max_len: int
) -> Path:
    module.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "torchvision is not installed" and similar chatter
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The exporter's own deprecation and axis-renaming notices; whether the graph
            # is right is what export.parity decides, at shapes other than the example's.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            program = torch.onnx.export(
                module,
                example,
                input_names=list(spec.inputs),
                output_names=list(spec.outputs),
                dynamic_shapes=_dims(spec, max_len),
                opset_version=OPSET,
                dynamo=True,
                verbose=False,
            )
            assert program is not None
            program.save(str(path))
    finally:
        quiet.setLevel(level)
    onnx.checker.check_model(str(path))
    return path


def _ids(batch: int, length: int, vocab: int) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(20, vocab, (batch, length), generator=gen)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[1, length - 2 :] = 0  # a padded row, so masking is traced as data, not constants
    ids[mask == 0] = 0
    return ids, mask


def export_classifier(model: Classifier, path: Path, with_attention: bool = True) -> Path:
    spec = CLASSIFIER if with_attention else CLASSIFIER_LOGITS_ONLY
    example = _ids(2, 7, model.cfg.vocab_size)
    return export_graph(
        ClassifierGraph(model, with_attention), spec, example, path, model.cfg.max_len
    )


def export_translator(
    model: Translator, encoder_path: Path, decoder_path: Path
) -> tuple[Path, Path]:
    src, mask = _ids(2, 7, model.cfg.vocab_size)
    export_graph(EncoderGraph(model), ENCODER, (src, mask), encoder_path, model.cfg.max_len)
    with torch.no_grad():
        cross_k, cross_v, _ = model.encode(src, mask)
    layers, heads, hs = model.cfg.dec_layers, model.cfg.n_heads, model.head_dim
    past = torch.randn(layers, 2, heads, 3, hs, generator=torch.Generator().manual_seed(1))
    tokens = torch.randint(20, model.cfg.vocab_size, (2, 2))
    # row 1 joined one step later: its first cache column is padding, its positions lag
    past_mask = torch.tensor([[1, 1, 1], [0, 1, 1]])
    positions = torch.tensor([[3, 4], [2, 3]])
    top_k = torch.tensor(5)  # the search head's width: a scalar input, 1..vocabulary
    caches = (*past.clone().unbind(0), *past.clone().unbind(0))  # one tensor per layer
    crosses = (*cross_k.unbind(0), *cross_v.unbind(0))
    example = (tokens, *caches, *crosses, mask, positions, past_mask, top_k)
    spec = decoder_step_spec(layers)
    export_graph(DecoderStepGraph(model), spec, example, decoder_path, model.cfg.max_len)
    return encoder_path, decoder_path
