"""An ensemble of classifiers trained from different seeds (``attnserve train classifier
--seeds 13,1,2``): each member is trained into its own run folder, then they are put
together into one checkpoint (``models.classifier.ClassifierEnsemble``) that exports and
serves as one classifier."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path
from typing import Any

import torch

from core.text.tokenizer import SubwordTokenizer
from models import checkpoint
from models.classifier import Classifier, ClassifierEnsemble
from models.train.classifier import encode, predict
from models.train.common import write_json


def combine(runs: list[Path], out: Path, valid_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The members in ``runs`` (trained on the same data, so with the same tokenizer and
    labels) as one checkpoint in ``out``, with its validation accuracy and each member's."""
    if len(runs) < 2:
        raise ValueError(f"an ensemble needs at least 2 trained runs, got {len(runs)}")
    for run in runs[1:]:
        if not filecmp.cmp(runs[0] / "tokenizer.json", run / "tokenizer.json", shallow=False):
            raise ValueError(f"{run} has another tokenizer than {runs[0]}: train on the same data")
    loaded = [checkpoint.load(run) for run in runs]
    metas = [meta for _, meta in loaded]
    if any(meta["labels"] != metas[0]["labels"] for meta in metas):
        raise ValueError("the members were trained on different labels")
    members: list[Classifier] = []
    for model, _ in loaded:
        assert isinstance(model, Classifier)
        members.append(model)
    ensemble = ClassifierEnsemble.of(members)
    labels = metas[0]["labels"]
    tok = SubwordTokenizer.load(runs[0])
    seqs, y = encode(tok, valid_rows, labels, ensemble.cfg.max_len)
    accuracy = predict(ensemble, seqs, torch.device("cpu")).argmax(1) == torch.tensor(y)
    figures = {"valid_accuracy": accuracy.float().mean().item()}
    shown = [
        {"run": str(run), "seed": m["profile"]["seed"], "valid_accuracy": m["valid_accuracy"]}
        for run, m in zip(runs, metas, strict=True)
    ]
    meta = {**metas[0], **figures, "epoch": None, "members": shown}
    out.mkdir(parents=True, exist_ok=True)
    checkpoint.save(out / checkpoint.CHECKPOINT, ensemble, meta)
    shutil.copy(runs[0] / "tokenizer.json", out / "tokenizer.json")
    summary = {
        "members": shown,
        **figures,
        "parameters": sum(p.numel() for p in ensemble.parameters()),
    }
    write_json(out / "train_summary.json", summary)
    return summary
