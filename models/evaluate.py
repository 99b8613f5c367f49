"""``attnserve evaluate``: test-split figures of a trained run, into ``metrics.json``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import sacrebleu
import torch

from core.text.placeholders import find_placeholders, placeholders_kept
from core.text.tokenizer import SubwordTokenizer
from models import checkpoint
from models.classifier import Classifier
from models.plots import plot_history
from models.train.classifier import encode, predict
from models.train.common import pick_device, write_json
from models.train.translator import translate
from models.translator import Translator


def classification_metrics(
    y_true: list[int], y_pred: list[int], labels: list[str]
) -> dict[str, Any]:
    n = len(labels)
    confusion = [[0] * n for _ in range(n)]
    for t, p in zip(y_true, y_pred, strict=True):
        confusion[t][p] += 1
    per_class = {}
    for i, lab in enumerate(labels):
        tp = confusion[i][i]
        fp = sum(confusion[j][i] for j in range(n)) - tp
        fn = sum(confusion[i]) - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[lab] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": sum(confusion[i]),
        }
    return {
        "accuracy": sum(confusion[i][i] for i in range(n)) / max(1, len(y_true)),
        "macro_f1": sum(c["f1"] for c in per_class.values()) / n,
        "confusion_matrix": {"labels": labels, "rows_true_cols_pred": confusion},
        "per_class": per_class,
        "examples": len(y_true),
    }


def evaluate_classifier(
    model: Classifier,
    tok: SubwordTokenizer,
    labels: list[str],
    rows: list[dict[str, Any]],
    device: torch.device,
) -> dict[str, Any]:
    unknown = sorted({r["label"] for r in rows} - set(labels))
    if unknown:
        raise ValueError(f"test labels {unknown} are not among the model's labels {labels}")
    seqs, y_true = encode(tok, rows, labels, model.cfg.max_len)
    probs = predict(model, seqs, device)
    return classification_metrics(y_true, probs.argmax(1).tolist(), labels)


def evaluate_translator(
    model: Translator,
    tok: SubwordTokenizer,
    rows: list[dict[str, str]],
    device: torch.device,
    beams: tuple[int, ...] = (1, 4),
) -> dict[str, Any]:
    sources = [r["source"] for r in rows]
    with_ph = sum(1 for s in sources if find_placeholders(s))
    out: dict[str, Any] = {"sentences": len(rows), "sentences_with_placeholders": with_ph}
    for beam in beams:
        start = time.monotonic()
        hyps = translate(model, tok, sources, device, beam=beam)
        seconds = time.monotonic() - start
        name = "greedy" if beam == 1 else f"beam{beam}"
        out[name] = {**translation_metrics(rows, hyps), "decode_seconds": round(seconds, 1)}
    return out


def translation_metrics(rows: list[dict[str, str]], hyps: list[str]) -> dict[str, Any]:
    """sacreBLEU, chrF and the share of sentences whose placeholders came out exactly."""
    sources = [r["source"] for r in rows]
    refs = [[r["target"] for r in rows]]
    with_ph = [i for i, s in enumerate(sources) if find_placeholders(s)]
    kept = sum(placeholders_kept(sources[i], hyps[i]) for i in with_ph)
    return {
        "bleu": sacrebleu.corpus_bleu(hyps, refs).score,
        "chrf": sacrebleu.corpus_chrf(hyps, refs).score,
        "placeholders_kept": kept / max(1, len(with_ph)),
        "samples": [
            {"source": sources[i], "output": hyps[i], "reference": refs[0][i]}
            for i in range(0, len(rows), max(1, len(rows) // 8))
        ][:8],
    }


def evaluate(
    run: Path, split: str = "test", data_file: Path | None = None, device_name: str = "auto"
) -> dict[str, Any]:
    """Evaluate the run folder's checkpoint on ``split`` of its corpus (or ``data_file``)."""
    from models.data.jsonl import read_jsonl
    from models.data.loaders import load_classification, load_translation

    device = pick_device(device_name)
    model, meta = checkpoint.load(run, str(device))
    tok = SubwordTokenizer.load(run / "tokenizer.json")
    task = checkpoint.task_of(model)
    if data_file is not None:
        rows: list[dict[str, Any]] = (
            load_classification if task == "classifier" else load_translation
        )(data_file)
        source = str(data_file)
    else:
        corpus = meta.get("data", {}).get("corpus_dir")
        if not corpus:
            raise ValueError(f"{run} was trained on user files: give the test file with --data")
        path = Path(corpus) / f"{split}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `attnserve data` first")
        rows = list(read_jsonl(path))
        source = str(path)
    if isinstance(model, Classifier):
        metrics = evaluate_classifier(model, tok, meta["labels"], rows, device)
    else:
        assert isinstance(model, Translator)
        metrics = evaluate_translator(model, tok, rows, device)
    result = {
        "task": task,
        "split": split if data_file is None else "file",
        "data": source,
        "checkpoint_epoch": meta.get("epoch"),
        **metrics,
    }
    write_json(run / "metrics.json", result)
    history = run / "history.json"
    if history.is_file():
        plot_history(json.loads(history.read_text()), run / "curves.png", f"{task}: {run.name}")
    return result
