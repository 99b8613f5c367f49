"""Train the sentiment (or any text) classifier."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from core.text.inputs import classifier_input
from core.text.tokenizer import UNK_ID, SubwordTokenizer
from models import checkpoint
from models.classifier import Classifier, ClassifierConfig
from models.train.common import length_batches, pad, pick_device, seed_everything
from models.train.loop import TrainProfile, fit


@dataclass
class ClassifierProfile(TrainProfile):
    # Short on purpose: the model overfits this 10k-snippet corpus after ~4 epochs, and the
    # cosine schedule decays over the whole run.
    epochs: int = 6
    weight_decay: float = 0.05
    patience: int = 4
    token_dropout: float = 0.1  # share of input tokens replaced by <unk> while training
    soft_labels: float = 1.5  # rated snippets learn p(positive) = sigmoid(k·rating); 0 = off
    label_smoothing: float = 0.1
    ema: float = 0.998
    rdrop: float = 1.0  # R-Drop: weight of the KL between two dropout passes (0 = off)
    # the first word of a text tokenised as inside one ("Excellent." as in "truly excellent")
    prefix_space: bool = True
    # distillation: a trained classifier (an ensemble, say) whose probabilities on each
    # training text the model learns too, with this weight against the labels' targets
    teacher: str = ""
    teacher_weight: float = 0.5


PROFILES = {
    "default": ClassifierProfile(),
    # A small model on a subset: learns in about a minute; few steps, so a higher rate.
    "quick": ClassifierProfile(
        epochs=6,
        lr=3e-3,
        vocab_size=2000,
        warmup_steps=20,
        max_examples=3000,
        patience=3,
        token_dropout=0.0,
        ema=0.99,
    ),
}
QUICK_MODEL = {"d_model": 64, "n_heads": 2, "d_ff": 128, "n_attn_layers": 1, "n_conv_blocks": 1}


def encode(
    tok: SubwordTokenizer, rows: list[dict[str, Any]], labels: list[str], max_len: int
) -> tuple[list[list[int]], list[int]]:
    ids = [classifier_input(seq, max_len) for seq in tok.encode_batch([r["text"] for r in rows])]
    index = {lab: i for i, lab in enumerate(labels)}
    return ids, [index[r["label"]] for r in rows]


def targets(
    rows: list[dict[str, Any]], labels: list[str], profile: ClassifierProfile
) -> torch.Tensor:
    """Target distributions (N, classes): smoothed one-hot, or for binary sentiment with a
    human mean rating, p(positive) = sigmoid(k·rating) — "great" and "fine" differ."""
    n = len(labels)
    out = torch.full((len(rows), n), profile.label_smoothing / n)
    index = {lab: i for i, lab in enumerate(labels)}
    for i, r in enumerate(rows):
        out[i, index[r["label"]]] += 1 - profile.label_smoothing
        if (
            profile.soft_labels
            and r.get("rating") is not None
            and labels == ["negative", "positive"]
        ):
            p = torch.sigmoid(torch.tensor(profile.soft_labels * float(r["rating"])))
            out[i] = torch.stack([1 - p, p])
    return out


def taught(
    t_train: torch.Tensor,
    rows: list[dict[str, Any]],
    labels: list[str],
    profile: ClassifierProfile,
    device: torch.device,
) -> torch.Tensor:
    """The targets mixed with the teacher's probabilities on the same texts."""
    teacher, meta = checkpoint.load(profile.teacher, str(device))
    if not isinstance(teacher, Classifier) or meta["labels"] != labels:
        raise ValueError(f"{profile.teacher} is no classifier of the labels {labels}")
    tok = SubwordTokenizer.load(profile.teacher)
    seqs, _ = encode(tok, rows, labels, teacher.cfg.max_len)
    probs = predict(teacher, seqs, device)
    w = profile.teacher_weight
    return (1 - w) * t_train + w * probs


@torch.no_grad()
def predict(
    model: Classifier, seqs: list[list[int]], device: torch.device, max_tokens: int = 8192
) -> torch.Tensor:
    """Class probabilities (N, n_classes), in the order of ``seqs``."""
    model.eval()
    probs = torch.zeros(len(seqs), model.cfg.n_classes)
    for batch in length_batches([len(s) for s in seqs], max_tokens, 256, None):
        ids, mask = pad([seqs[i] for i in batch])
        logits = model(ids.to(device), mask.to(device))[0]
        probs[batch] = torch.softmax(logits.float(), -1).cpu()
    return probs


def _loss(
    model: torch.nn.Module,
    ids: torch.Tensor,
    mask: torch.Tensor,
    target: torch.Tensor,
    rdrop: float,
) -> torch.Tensor:
    """Cross-entropy on soft targets; with R-Drop (Liang et al., 2021) the batch runs twice
    under different dropout and the two predictions are pulled together."""
    if not rdrop:
        return F.cross_entropy(model(ids, mask)[0], target)
    a, b = model(ids, mask)[0], model(ids, mask)[0]
    ce = (F.cross_entropy(a, target) + F.cross_entropy(b, target)) / 2
    la, lb = F.log_softmax(a, -1), F.log_softmax(b, -1)
    kl = (
        F.kl_div(la, lb, log_target=True, reduction="batchmean")
        + F.kl_div(lb, la, log_target=True, reduction="batchmean")
    ) / 2
    return ce + rdrop * kl


def train(
    train_rows: list[dict[str, str]],
    valid_rows: list[dict[str, str]],
    out: Path,
    profile: ClassifierProfile,
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
    labels = sorted({r["label"] for r in train_rows})
    missing = sorted({r["label"] for r in valid_rows} - set(labels))
    if len(labels) < 2:
        raise ValueError(f"need at least 2 labels in the training data, found {labels}")
    if missing:
        raise ValueError(f"validation labels {missing} never occur in the training data")

    tok = SubwordTokenizer.train(
        (r["text"] for r in train_rows),
        profile.vocab_size,
        lowercase=True,
        prefix_space=profile.prefix_space,
    )
    tok.save(out / "tokenizer.json")
    cfg = replace(
        ClassifierConfig(vocab_size=tok.vocab_size, n_classes=len(labels)),
        **(model_overrides or {}),
    )
    model = Classifier(cfg).to(device)
    x_train, _y_train = encode(tok, train_rows, labels, cfg.max_len)
    x_valid, y_valid = encode(tok, valid_rows, labels, cfg.max_len)
    t_train = targets(train_rows, labels, profile)
    if profile.teacher:
        t_train = taught(t_train, train_rows, labels, profile, device)
    lengths = [len(s) for s in x_train]
    print(
        f"classifier: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
        f"{len(x_train)} train / {len(x_valid)} valid, labels {labels}, device {device}"
    )

    def batches(rng: random.Random | None) -> list[list[int]]:
        return length_batches(lengths, profile.max_tokens, profile.max_batch, rng)

    def loss_fn(m: torch.nn.Module, batch: list[int]) -> tuple[torch.Tensor, int]:
        ids, mask = pad([x_train[i] for i in batch])
        if profile.token_dropout:
            drop = (torch.rand(ids.shape) < profile.token_dropout) & mask.bool()
            ids = ids.masked_fill(drop, UNK_ID)
        target = t_train[batch].to(device)
        return _loss(m, ids.to(device), mask.to(device), target, profile.rdrop), len(batch)

    def validate(m: torch.nn.Module) -> dict[str, float]:
        probs = predict(m, x_valid, device)  # type: ignore[arg-type]
        y = torch.tensor(y_valid)
        return {
            "valid_loss": F.nll_loss(probs.clamp_min(1e-9).log(), y).item(),
            "valid_accuracy": (probs.argmax(1) == y).float().mean().item(),
        }

    def on_best(m: torch.nn.Module, epoch: int, figures: dict[str, float]) -> None:
        meta = {"labels": labels, "epoch": epoch, **figures, "profile": asdict(profile)}
        checkpoint.save(out / checkpoint.CHECKPOINT, m, {**meta, "data": data_info or {}})

    return fit(model, profile, batches, loss_fn, validate, "valid_accuracy", on_best, out)
