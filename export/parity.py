"""ONNX Runtime against PyTorch, graph by graph, at shapes other than the export example.

Each case is one batch: batch 1 at length 1, batch 1 at the maximum length, 17 ragged
lengths, a batch holding an all-padding row, and larger mixed batches; the decoder step
also at an empty cache (the first step), a long cache, and several new tokens at once.
Every output is compared (logits, cache, attention weights, the search head's best
tokens) and checked for NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from export.graphs import (
    CLASSIFIER,
    ENCODER,
    ClassifierGraph,
    DecoderStepGraph,
    EncoderGraph,
    GraphSpec,
    decoder_step_spec,
)
from models.classifier import Classifier
from models.translator import Translator

TOLERANCE = 1e-4  # fp32: max |ORT - PyTorch| for logits and attention weights


class ParityError(RuntimeError):
    pass


@dataclass
class ParityRow:
    graph: str
    case: str
    shapes: str
    max_abs_diff: dict[str, float]
    nan: bool
    precision: str = "fp32"

    @property
    def ok(self) -> bool:
        if self.nan:
            return False
        return self.precision != "fp32" or max(self.max_abs_diff.values()) <= TOLERANCE

    def as_dict(self) -> dict[str, object]:
        return {
            "graph": self.graph,
            "precision": self.precision,
            "case": self.case,
            "shapes": self.shapes,
            "max_abs_diff": self.max_abs_diff,
            "nan": self.nan,
        }


def _batch(
    lengths: list[int], vocab: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded random ids and their 0/1 mask; a length of 0 is an all-padding row."""
    width = max(1, max(lengths))
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.from_numpy(rng.integers(20, vocab, n))
        mask[i, :n] = 1
    return ids, mask


def sequence_cases(max_len: int, rng: np.random.Generator) -> list[tuple[str, list[int]]]:
    """(name, lengths) of each batch checked; at least six, covering the edges."""
    return [
        ("batch 1, length 1", [1]),
        ("batch 1, maximum length", [max_len]),
        ("batch 17, ragged", sorted(rng.integers(1, min(max_len, 60) + 1, 17).tolist())[::-1]),
        ("all-padding row", [5, 0, 9]),
        ("batch 2, length 2", [2, 2]),
        ("batch 32, up to the maximum", [*rng.integers(1, max_len + 1, 31).tolist(), max_len]),
    ]


def _compare(
    sessions: dict[str, ort.InferenceSession],
    spec: GraphSpec,
    module: Callable[..., tuple[torch.Tensor, ...]],
    args: tuple[torch.Tensor, ...],
    case: str,
) -> list[ParityRow]:
    """One row per session (precision): its outputs against PyTorch's on ``args``."""
    feeds = {n: a.numpy() for n, a in zip(spec.inputs, args, strict=True)}
    with torch.no_grad():
        want = module(*args)
    shapes = ", ".join(f"{n}{list(a.shape)}" for n, a in zip(spec.inputs, args, strict=True))
    rows = []
    for precision, sess in sessions.items():
        got = sess.run(list(spec.outputs), feeds)
        diffs, nan = {}, False
        named = dict(zip(spec.outputs, want, strict=True))
        for name, g, w in zip(spec.outputs, got, want, strict=True):
            if g.shape != tuple(w.shape):
                raise ParityError(
                    f"{spec.name} {case}: {name} has shape {g.shape}, PyTorch {tuple(w.shape)}"
                )
            if g.dtype.kind == "f":
                nan |= bool(np.isnan(g).any())
            diffs[name] = _difference(name, g, w, named) if g.size else 0.0
        rows.append(ParityRow(spec.name, case, shapes, diffs, nan, precision))
    return rows


def _difference(name: str, got: np.ndarray, want: torch.Tensor, named: dict) -> float:
    """Max |ORT − PyTorch| of one output. The search head's token ids are held to what
    they select, not to their order (near-equal log-probabilities may swap): PyTorch's
    log-probabilities at ORT's ids against PyTorch's own best."""
    if name == "top_ids":
        logp = torch.log_softmax(named["logits"][:, -1].float(), dim=-1)
        return _gap(logp.gather(1, torch.from_numpy(got)).numpy(), named["top_logp"].numpy())
    return _gap(got, want.numpy())


def _gap(a: np.ndarray, b: np.ndarray) -> float:
    """Max |a − b|, equal infinities (barred tokens' −inf) counting as no difference."""
    return float(np.where(a == b, 0.0, np.abs(a - b)).max())


def _sessions(paths: dict[str, Path]) -> dict[str, ort.InferenceSession]:
    return {
        p: ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for p, path in paths.items()
    }


def check_classifier(model: Classifier, paths: dict[str, Path], seed: int = 0) -> list[ParityRow]:
    """``paths``: precision → classifier graph; fp32 is held to TOLERANCE, the others
    only to being free of NaN (their quality is measured on the test split instead)."""
    rng = np.random.default_rng(seed)
    sessions, graph = _sessions(paths), ClassifierGraph(model).eval()
    rows = []
    for case, lengths in sequence_cases(model.cfg.max_len, rng):
        args = _batch(lengths, model.cfg.vocab_size, rng)
        rows += _compare(sessions, CLASSIFIER, graph, args, case)
    return rows


def check_translator(
    model: Translator,
    encoders: dict[str, Path],
    decoders: dict[str, Path],
    seed: int = 0,
) -> list[ParityRow]:
    rng = np.random.default_rng(seed)
    cfg = model.cfg
    enc_sess, dec_sess = _sessions(encoders), _sessions(decoders)
    encoder, step = EncoderGraph(model).eval(), DecoderStepGraph(model).eval()
    spec = decoder_step_spec(cfg.dec_layers)
    rows = []
    # (case, source lengths, cache length, new tokens, ragged): a ragged case gives each
    # row its own number of real cache columns (right-aligned, 0 included) and positions
    decoder_cases = [
        ("first step (empty cache), batch 1", [1], 0, 1, False),
        ("longest cache, longest source", [cfg.max_len], cfg.max_len - 1, 1, False),
        ("batch 17 ragged sources", sequence_cases(cfg.max_len, rng)[2][1], 5, 1, False),
        ("all-padding source row", [5, 0, 9], 3, 1, False),
        ("several new tokens, empty cache", [7, 4], 0, 6, False),
        ("batch 32, mid-sentence", [*rng.integers(1, cfg.max_len + 1, 32).tolist()], 20, 1, False),
        ("batch 17, rows at different steps", sequence_cases(cfg.max_len, rng)[2][1], 30, 1, True),
        ("rows at different steps, several new tokens", [7, 4, 12], 9, 3, True),
    ]
    for case, lengths in sequence_cases(cfg.max_len, rng):
        rows += _compare(enc_sess, ENCODER, encoder, _batch(lengths, cfg.vocab_size, rng), case)
    for case, lengths, past, new, ragged in decoder_cases:
        src, mask = _batch(lengths, cfg.vocab_size, rng)
        with torch.no_grad():
            cross_k, cross_v, _ = model.encode(src, mask)
        gen = torch.Generator().manual_seed(seed)
        shape = (cfg.dec_layers, len(lengths), cfg.n_heads, past, model.head_dim)
        self_k, self_v = torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)
        tokens = torch.from_numpy(rng.integers(20, cfg.vocab_size, (len(lengths), new)))
        seen = rng.integers(0, past + 1, len(lengths)) if ragged else np.full(len(lengths), past)
        seen[0] = 0 if ragged else past  # a row that joins the running batch now
        past_mask = torch.from_numpy((np.arange(past)[None, :] >= past - seen[:, None]) * 1)
        positions = torch.from_numpy(seen[:, None] + np.arange(new)[None, :])
        top_k = torch.tensor(int(rng.integers(1, 60)))  # the search head's width varies too
        caches = (*self_k.unbind(0), *self_v.unbind(0), *cross_k.unbind(0), *cross_v.unbind(0))
        args = (tokens, *caches, mask, positions, past_mask, top_k)  # the caches per layer
        rows += _compare(dec_sess, spec, step, args, case)
    return rows


def require(rows: list[ParityRow]) -> None:
    bad = [r for r in rows if not r.ok]
    if bad:
        lines = [f"{r.graph} {r.precision} / {r.case}: {r.max_abs_diff} nan={r.nan}" for r in bad]
        raise ParityError(
            f"ONNX Runtime differs from PyTorch (fp32: by more than {TOLERANCE}; "
            "any precision: NaN):\n" + "\n".join(lines)
        )


def table(rows: list[ParityRow]) -> str:
    """Markdown table: graph, case, shapes, the largest difference over all outputs."""
    out = [
        "| graph | precision | case | input shapes | max abs diff | NaN |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        worst = max(r.max_abs_diff.values())
        nan = "yes" if r.nan else "no"
        out.append(f"| {r.graph} | {r.precision} | {r.case} | {r.shapes} | {worst:.2e} | {nan} |")
    return "\n".join(out)
