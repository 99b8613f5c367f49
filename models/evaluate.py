"""``attnserve evaluate``: test-split figures of a trained run, into ``metrics.json``."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
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


_LETTER_RUN = re.compile(r"([^\W\d_])\1{3,}")  # one letter four times or more


def degenerate(source: str, output: str) -> bool:
    """A degenerate repetition: a letter four times in a row ("Gretttt"), or a run of 1 to
    4 words three times back to back ("files files files"), that the source lacks."""
    for m in _LETTER_RUN.finditer(output):
        if m.group(0) not in source:
            return True
    words = output.split()
    for n in range(1, 5):
        for i in range(len(words) - 3 * n + 1):
            run = words[i : i + n]
            repeated = run == words[i + n : i + 2 * n] == words[i + 2 * n : i + 3 * n]
            if repeated and " ".join(run * 3) not in source:
                return True
    return False


def translation_metrics(rows: list[dict[str, str]], hyps: list[str]) -> dict[str, Any]:
    """sacreBLEU, chrF, the share of sentences whose placeholders came out exactly, the
    outputs with a degenerate repetition, and per catalog where rows say (``origin``)."""
    sources = [r["source"] for r in rows]
    refs = [[r["target"] for r in rows]]
    with_ph = [i for i, s in enumerate(sources) if find_placeholders(s)]
    kept = sum(placeholders_kept(sources[i], hyps[i]) for i in with_ph)
    repeats = [i for i in range(len(rows)) if degenerate(sources[i], hyps[i])]
    origins = Counter(r["origin"] for r in rows if r.get("origin"))
    by_origin = {}
    for origin in sorted(origins):
        idx = [i for i, r in enumerate(rows) if r.get("origin") == origin]
        sub = [hyps[i] for i in idx], [[refs[0][i] for i in idx]]
        by_origin[origin] = {
            "sentences": len(idx),
            "bleu": sacrebleu.corpus_bleu(*sub).score,
            "chrf": sacrebleu.corpus_chrf(*sub).score,
        }
    return {
        "bleu": sacrebleu.corpus_bleu(hyps, refs).score,
        "chrf": sacrebleu.corpus_chrf(hyps, refs).score,
        "placeholders_kept": kept / max(1, len(with_ph)),
        "degenerate": len(repeats),
        "degenerate_examples": [{"source": sources[i], "output": hyps[i]} for i in repeats[:5]],
        **({"by_origin": by_origin} if by_origin else {}),
        "samples": [
            {"source": sources[i], "output": hyps[i], "reference": refs[0][i]}
            for i in range(0, len(rows), max(1, len(rows) // 8))
        ][:8],
    }


def evaluate(
    run: Path, split: str = "test", data_file: Path | None = None, device_name: str = "auto"
) -> dict[str, Any]:
    """Evaluate the run folder's checkpoint on ``split`` of its corpus (or ``data_file``);
    on the test split, a translator also on the held-out catalogs (``unseen``) and a
    sentiment classifier on the three short-review check sets (``short_reviews.CHECK_SETS``)."""
    from models.data.jsonl import read_jsonl
    from models.data.loaders import load_classification, load_translation
    from models.data.short_reviews import CHECK_SETS, read_check_set

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
    extra: dict[str, Any] = {}
    if isinstance(model, Classifier):
        metrics = evaluate_classifier(model, tok, meta["labels"], rows, device)
        if data_file is None and split == "test" and meta["labels"] == ["negative", "positive"]:
            for name, path in CHECK_SETS.items():
                checks = read_check_set(path)
                extra[name] = evaluate_classifier(model, tok, meta["labels"], checks, device)
    else:
        assert isinstance(model, Translator)
        metrics = evaluate_translator(model, tok, rows, device)
        unseen = Path(source).with_name("unseen.jsonl")
        if data_file is None and split == "test" and unseen.is_file():
            extra["unseen"] = evaluate_translator(model, tok, list(read_jsonl(unseen)), device)
    result = {
        "task": task,
        "split": split if data_file is None else "file",
        "data": source,
        "checkpoint_epoch": meta.get("epoch"),
        **metrics,
        **extra,
    }
    write_json(run / "metrics.json", result)
    history = run / "history.json"
    if history.is_file():
        plot_history(json.loads(history.read_text()), run / "curves.png", f"{task}: {run.name}")
    return result
