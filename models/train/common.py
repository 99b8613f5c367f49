"""What both training loops share: seeds, devices, batching by length, the schedule,
early stopping and the run folder."""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.batching import length_batches as grouped


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device (CPU build?)")
    return torch.device(name)


def length_batches(
    lengths: Sequence[int], max_tokens: int, max_batch: int, rng: random.Random | None
) -> list[list[int]]:
    """Indices grouped by similar length so padding stays small; each batch's padded
    size (n × longest) stays under ``max_tokens``. With ``rng`` the order within equal
    lengths and the order of batches are shuffled (training); without, deterministic."""
    order = list(range(len(lengths)))
    if rng is not None:
        rng.shuffle(order)
    batches = grouped(lengths, max_tokens, max_batch, order)
    if rng is not None:
        rng.shuffle(batches)
    return batches


def pad(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids and (B, T) 0/1 mask, right-padded."""
    width = max(1, max(len(s) for s in seqs))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids, mask


def warmup_decay(step: int, warmup: int, total: int, floor: float = 0.05) -> float:
    """LR multiplier: linear warm-up, then cosine decay to ``floor``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class Ema:
    """Exponential moving average of a model's weights, evaluated and saved instead of
    the raw weights. The decay ramps up, min(decay, (1+n)/(10+n)), so that short runs
    are averaged over their own few steps rather than frozen near the initialisation."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(model).eval()
        self.decay, self.updates = decay, 0
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for avg, new in zip(
            self.module.state_dict().values(), model.state_dict().values(), strict=True
        ):
            if avg.dtype.is_floating_point:
                avg.mul_(d).add_(new.detach(), alpha=1 - d)
            else:
                avg.copy_(new)


@dataclass
class EarlyStopping:
    """Stop when the monitored value has not improved for ``patience`` evaluations."""

    patience: int
    mode: str = "max"
    best: float = field(default=float("nan"))
    bad: int = 0

    def improved(self, value: float) -> bool:
        better = math.isnan(self.best) or (
            value > self.best if self.mode == "max" else value < self.best
        )
        if better:
            self.best, self.bad = value, 0
        else:
            self.bad += 1
        return better

    @property
    def stop(self) -> bool:
        return self.bad >= self.patience


@dataclass
class History:
    """Per-epoch records, saved as ``history.json`` and drawn as ``curves.png``."""

    rows: list[dict[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, **values: float) -> None:
        self.rows.append({**values, "seconds": round(time.monotonic() - self.started, 1)})

    def save(self, folder: Path) -> None:
        (folder / "history.json").write_text(json.dumps(self.rows, indent=1) + "\n")


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
