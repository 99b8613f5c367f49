"""Train the English->French translator."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import sacrebleu
import torch
import torch.nn.functional as F

from core.loops import LoopGuard
from core.text.inputs import translator_source
from core.text.tokenizer import BOS_ID, EOS_ID, PAD_ID, SubwordTokenizer
from models import checkpoint
from models.decoding import beam_search
from models.train.common import length_batches, pad, pick_device, seed_everything
from models.train.loop import TrainProfile, fit
from models.translator import Translator, TranslatorConfig


@dataclass
class TranslatorProfile(TrainProfile):
    epochs: int = 30  # at most: the time budget decides
    lr: float = 7e-4
    # Padded tokens per batch (max of source and target side). Small batches: many
    # updates; with big ones the model sees too few updates in the time budget.
    max_tokens: int = 2500
    max_batch: int = 256
    label_smoothing: float = 0.1
    vocab_size: int = 8000  # joint en+fr; the output layer's cost grows with it
    valid_bleu_sentences: int = 400  # greedy-decoded each epoch to choose the best checkpoint
    ema: float = 0.999
    # 57 minutes of steps and validations: with the tokenizer and the encoding of the
    # corpus the whole run stays within an hour on 2 cores.
    time_budget_s: float | None = 57 * 60


PROFILES = {
    "default": TranslatorProfile(),
    # A small model on a subset, in about a minute: small batches and a higher rate.
    "quick": TranslatorProfile(
        epochs=4,
        lr=2e-3,
        max_tokens=800,
        vocab_size=2000,
        warmup_steps=30,
        max_examples=3000,
        valid_bleu_sentences=100,
        patience=2,
        ema=0.0,
        time_budget_s=None,
    ),
}
QUICK_MODEL = {"d_model": 64, "n_heads": 2, "d_ff": 128, "enc_layers": 1, "dec_layers": 1}


@dataclass
class Encoded:
    src: list[list[int]]
    tgt: list[list[int]]  # without BOS/EOS


def encode_pairs(tok: SubwordTokenizer, rows: list[dict[str, str]], max_len: int) -> Encoded:
    src, tgt = [], []
    for r in rows:
        s_ids, masked = tok.encode_masked(r["source"])
        t_ids, _ = tok.encode_masked(r["target"], masked.spans)
        src.append(translator_source(s_ids, max_len))
        tgt.append(t_ids[: max_len - 2])
    return Encoded(src, tgt)


def translate(
    model: Translator,
    tok: SubwordTokenizer,
    texts: list[str],
    device: torch.device,
    beam: int = 1,
    max_tokens: int = 8000,
    block_repeats: bool = True,
    block_loops: bool = True,
) -> list[str]:
    """Translate ``texts`` with the reference decoder (greedy or beam), in order, with the
    guards the service applies (``core.decoding.repeat_bars``, ``core.loops``) unless
    told not."""
    model.eval()
    loops = LoopGuard(tok.surfaces()) if block_loops else None
    encoded = [tok.encode_masked(t) for t in texts]
    src = [translator_source(ids, model.cfg.max_len) for ids, _ in encoded]
    out = [""] * len(texts)
    for batch in length_batches([len(s) for s in src], max_tokens // max(1, beam), 128, None):
        ids, mask = pad([src[i] for i in batch])
        hyps = beam_search(
            model,
            ids.to(device),
            mask.to(device),
            beam=beam,
            max_len=model.cfg.max_len,
            block_repeats=block_repeats,
            loops=loops,
        )
        for i, hyp in zip(batch, hyps, strict=True):
            out[i] = tok.decode(hyp.tokens, encoded[i][1].spans)
    return out


def train(
    train_rows: list[dict[str, str]],
    valid_rows: list[dict[str, str]],
    out: Path,
    profile: TranslatorProfile,
    model_overrides: dict[str, Any] | None = None,
    device_name: str = "auto",
    data_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    seed_everything(profile.seed)
    device = pick_device(device_name)
    out.mkdir(parents=True, exist_ok=True)
    if profile.max_examples:
        train_rows = random.Random(profile.seed).sample(
            train_rows, min(len(train_rows), profile.max_examples)
        )
    tok = SubwordTokenizer.train(
        (text for r in train_rows for text in (r["source"], r["target"])), profile.vocab_size
    )
    tok.save(out / "tokenizer.json")
    cfg = replace(TranslatorConfig(vocab_size=tok.vocab_size), **(model_overrides or {}))
    model = Translator(cfg).to(device)
    data = encode_pairs(tok, train_rows, cfg.max_len)
    valid = encode_pairs(tok, valid_rows, cfg.max_len)
    # A seeded sample: the split files are sorted, so their head is not representative.
    bleu_rows = random.Random(profile.seed).sample(
        valid_rows, min(len(valid_rows), profile.valid_bleu_sentences)
    )

    lengths = [max(len(s), len(t) + 1) for s, t in zip(data.src, data.tgt, strict=True)]
    print(
        f"translator: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
        f"{len(data.src)} train / {len(valid.src)} valid pairs, vocab {tok.vocab_size}, "
        f"device {device}"
    )

    def batches(rng: random.Random | None) -> list[list[int]]:
        return length_batches(lengths, profile.max_tokens, profile.max_batch, rng)

    def loss_fn(m: torch.nn.Module, batch: list[int]) -> tuple[torch.Tensor, int]:
        return _loss(m, data, batch, device, profile.label_smoothing)

    def validate(m: torch.nn.Module) -> dict[str, float]:
        hyps = translate(m, tok, [r["source"] for r in bleu_rows], device)  # type: ignore[arg-type]
        return {
            "valid_loss": _valid_loss(m, valid, device),
            "valid_bleu": sacrebleu.corpus_bleu(hyps, [[r["target"] for r in bleu_rows]]).score,
        }

    def on_best(m: torch.nn.Module, epoch: int, figures: dict[str, float]) -> None:
        meta = {"epoch": epoch, **figures, "profile": asdict(profile), "data": data_info or {}}
        checkpoint.save(out / checkpoint.CHECKPOINT, m, meta)

    return fit(model, profile, batches, loss_fn, validate, "valid_bleu", on_best, out, (0.9, 0.98))


def _tensors(data: Encoded, batch: list[int], device: torch.device) -> tuple[torch.Tensor, ...]:
    src, src_mask = pad([data.src[i] for i in batch])
    tgt_in, _ = pad([[BOS_ID, *data.tgt[i]] for i in batch])
    tgt_out, _ = pad([[*data.tgt[i], EOS_ID] for i in batch])
    return src.to(device), src_mask.to(device), tgt_in.to(device), tgt_out.to(device)


def _loss(
    model: torch.nn.Module, data: Encoded, batch: list[int], device: torch.device, smoothing: float
) -> tuple[torch.Tensor, int]:
    src, src_mask, tgt_in, tgt_out = _tensors(data, batch, device)
    logits = model(src, src_mask, tgt_in)  # (B, T, V)
    loss = F.cross_entropy(
        logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD_ID, label_smoothing=smoothing
    )
    return loss, int((tgt_out != PAD_ID).sum())


@torch.no_grad()
def _valid_loss(model: torch.nn.Module, data: Encoded, device: torch.device) -> float:
    model.eval()
    lengths = [max(len(s), len(t) + 1) for s, t in zip(data.src, data.tgt, strict=True)]
    total, tokens = 0.0, 0
    for batch in length_batches(lengths, 8000, 256, None):
        loss, n = _loss(model, data, batch, device, 0.0)
        total += loss.item() * n
        tokens += n
    return total / max(tokens, 1)
