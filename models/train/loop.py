"""The epoch loop both trainers share: AdamW, warm-up + cosine schedule, clipping, an
optional weight average, validation, early stopping, the best checkpoint, progress."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from models.train.common import EarlyStopping, Ema, History, warmup_decay, write_json


@dataclass
class TrainProfile:
    """What every training run sets; each task's profile adds its own fields."""

    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 200
    max_tokens: int = 4096  # padded tokens per batch
    max_batch: int = 64
    clip: float = 1.0
    patience: int = 3  # epochs without a better validation metric before stopping
    vocab_size: int = 8000
    max_examples: int | None = None
    ema: float = 0.0  # evaluate and save a moving average of the weights (0 = off)
    # Train for this long (wall clock, validation included): the schedule's cosine is
    # fitted to the steps that fit in it, measured as training goes, and training stops
    # when they are done. None: ``epochs`` epochs.
    time_budget_s: float | None = None
    seed: int = 13


Batches = Callable[[random.Random | None], list[list[int]]]
LossFn = Callable[[nn.Module, list[int]], tuple[torch.Tensor, int]]
Validate = Callable[[nn.Module], dict[str, float]]
OnBest = Callable[[nn.Module, int, dict[str, float]], None]


def fit(
    model: nn.Module,
    profile: TrainProfile,
    batches: Batches,
    loss_fn: LossFn,
    validate: Validate,
    metric: str,
    on_best: OnBest,
    out: Path,
    betas: tuple[float, float] = (0.9, 0.999),
) -> dict[str, Any]:
    """Train for ``profile.epochs``; ``loss_fn`` returns a batch's mean loss and its weight,
    ``validate`` the validation figures (``metric`` is maximised), ``on_best`` saves."""
    opt = torch.optim.AdamW(
        model.parameters(), lr=profile.lr, betas=betas, weight_decay=profile.weight_decay
    )
    per_epoch = len(batches(None))
    plan = Plan(per_epoch * profile.epochs, profile.time_budget_s, per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_decay(s, profile.warmup_steps, plan.total)
    )
    ema = Ema(model, profile.ema) if profile.ema else None
    rng = random.Random(profile.seed)
    stopper, history = EarlyStopping(profile.patience, "max"), History()
    start = time.monotonic()
    for epoch in range(1, profile.epochs + 1):
        model.train()
        loss_sum, weight_sum = 0.0, 0
        bar = tqdm(batches(rng), desc=f"epoch {epoch}/{profile.epochs}", unit="batch", leave=False)
        for batch in bar:
            loss, weight = loss_fn(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), profile.clip)
            opt.step()
            sched.step()
            if ema is not None:
                ema.update(model)
            loss_sum += loss.item() * weight
            weight_sum += weight
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{sched.get_last_lr()[0]:.2e}")
            if plan.stepped(time.monotonic() - start):
                break
        scored = ema.module if ema is not None else model
        scored.eval()
        checked = time.monotonic()
        figures = validate(scored)
        plan.validated(time.monotonic() - checked)
        history.add(epoch=epoch, train_loss=loss_sum / max(1, weight_sum), **figures)
        best = stopper.improved(figures[metric])
        shown = "  ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in figures.items())
        print(
            f"epoch {epoch}: train loss {loss_sum / max(1, weight_sum):.4f}  {shown}"
            f"{'  *best' if best else ''}  [{time.monotonic() - start:.0f}s, "
            f"step {plan.done}/{plan.total}]",
            flush=True,
        )
        if best:
            on_best(scored, epoch, figures)
        history.save(out)
        if stopper.stop:
            print(f"early stop: no better {metric} for {profile.patience} epochs")
            break
        if plan.finished:
            if profile.time_budget_s:
                print(f"time budget of {profile.time_budget_s:.0f}s spent ({plan.done} steps)")
            break
    summary = {
        f"best_{metric}": stopper.best,
        "train_seconds": round(time.monotonic() - start, 1),
        "epochs_run": len(history.rows),
        "steps": plan.done,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    write_json(out / "train_summary.json", summary)
    return summary


class Plan:
    """How many optimiser steps the schedule spans. Without a time budget: ``total``.
    With one, the total is re-fitted (every 50 steps and after each validation) to the
    steps that fit in what is left of the budget at the measured pace, setting aside one
    validation for each epoch still to come."""

    def __init__(self, total: int, budget_s: float | None, per_epoch: int) -> None:
        self.total, self.budget_s, self.per_epoch = total, budget_s, max(1, per_epoch)
        self.done = 0
        self.train_s = 0.0  # wall time of the steps alone
        self.validate_s = 0.0  # of the last validation
        self._elapsed = 0.0
        self._mark = 0.0

    def stepped(self, elapsed: float) -> bool:
        """One step done at ``elapsed`` seconds into training; True when the plan is done."""
        self.done += 1
        self.train_s += elapsed - self._mark
        self._mark = self._elapsed = elapsed
        if self.budget_s and self.done % 50 == 0:
            self._refit()
        return self.finished

    def validated(self, seconds: float) -> None:
        self.validate_s = seconds
        self._mark += seconds
        self._elapsed += seconds
        if self.budget_s:
            self._refit()

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def _refit(self) -> None:
        assert self.budget_s is not None
        per_step = self.train_s / max(1, self.done)
        left = self.budget_s - self._elapsed
        # s steps cost s·per_step, plus a validation per epoch of them and the last one:
        # left = s·per_step + (s / per_epoch + 1)·validate_s
        steps = (left - self.validate_s) / (per_step + self.validate_s / self.per_epoch)
        # only ever shorter: a longer plan would send the decayed learning rate back up
        self.total = min(self.total, max(self.done, self.done + int(max(0.0, steps))))
