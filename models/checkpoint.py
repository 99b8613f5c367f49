"""Checkpoints that rebuild their model alone: hyper-parameters travel with the weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.classifier import Classifier, ClassifierConfig
from models.classifier import build as build_classifier
from models.translator import Translator, TranslatorConfig

TASKS: dict[str, tuple[type[Any], type[nn.Module]]] = {
    "classifier": (ClassifierConfig, Classifier),
    "translator": (TranslatorConfig, Translator),
}
CHECKPOINT = "model.pt"


def task_of(model: nn.Module) -> str:
    for task, (_, cls) in TASKS.items():
        if isinstance(model, cls):
            return task
    raise TypeError(f"not a known model: {type(model).__name__}")


def save(path: Path, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Write ``{task, config, state_dict, meta}``; ``meta`` holds labels, data, metrics."""
    cfg: Any = model.cfg
    payload = {
        "task": task_of(model),
        "config": dataclasses.asdict(cfg),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def build(task: str, config: dict[str, Any]) -> nn.Module:
    """A fresh model of ``task`` from its saved config (a classifier with ``members`` > 1
    is an ensemble)."""
    cfg_cls, model_cls = TASKS[task]
    config = dict(config)
    if "scores" in config:
        config["scores"] = tuple(config["scores"])
    cfg = cfg_cls(**config)
    return build_classifier(cfg) if task == "classifier" else model_cls(cfg)


def load(path: str | Path, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The model (eval mode) and its meta, from a checkpoint file or its run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: run `attnserve train` first")
    payload = torch.load(path, map_location=device, weights_only=True)
    task = payload.get("task")
    if task not in TASKS:
        raise ValueError(f"{path}: unknown task {task!r}; expected one of {sorted(TASKS)}")
    model = build(task, payload["config"])
    model.load_state_dict(payload["state_dict"])
    model.to(device).eval()
    return model, payload["meta"]
