"""Test-split figures of exactly the files in a model repository version, run on ONNX
Runtime through the service's own runtime (the numbers a user of the service gets)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from models.data.jsonl import read_jsonl
from models.evaluate import classification_metrics, translation_metrics
from runtime.classifier import ClassifierRuntime
from runtime.repository import ModelVersion
from runtime.translator import TranslatorRuntime

# The first rows of the test file, re-checked by the tests against the committed models.
SAMPLE_ROWS = 200


def classifier_figures(runtime: ClassifierRuntime, rows: list[dict[str, Any]]) -> dict[str, Any]:
    labels = runtime.labels
    index = {lab: i for i, lab in enumerate(labels)}
    probs = runtime.predict([r["text"] for r in rows])
    m = classification_metrics([index[r["label"]] for r in rows], probs.argmax(1).tolist(), labels)
    return m


def translator_figures(
    runtime: TranslatorRuntime, rows: list[dict[str, str]], beams: tuple[int, ...] = (1, 4)
) -> dict[str, Any]:
    out: dict[str, Any] = {"sentences": len(rows)}
    for beam in beams:
        start = time.monotonic()
        hyps = runtime.translate([r["source"] for r in rows], beam_size=beam)
        seconds = time.monotonic() - start
        name = "greedy" if beam == 1 else f"beam{beam}"
        out[name] = {**translation_metrics(rows, hyps), "decode_seconds": round(seconds, 1)}
    return out


def extra_sets(meta: dict[str, Any], task: str) -> dict[str, list[dict[str, Any]]]:
    """What a version is scored on beside its test split: a translator on its corpus's
    held-out catalogs (``unseen``), a sentiment classifier on the short-review check sets."""
    corpus = Path(meta.get("data", {}).get("corpus_dir", ""))
    if task == "translation" and (corpus / "unseen.jsonl").is_file():
        return {"unseen": list(read_jsonl(corpus / "unseen.jsonl"))}
    if task == "classification" and meta.get("labels") == ["negative", "positive"]:
        from models.data.short_reviews import CHECK_SETS, read_check_set

        return {name: read_check_set(path) for name, path in CHECK_SETS.items()}
    return {}


NOISE_EDGES = ("😀 ", "🎉", "✅ ", " ⚠️", "👉 ", " 🙂", "\ufeff", "  ", "\t", " \n")
NOISE_INSIDE = ("\u200b", "\u200d", "\u2060", "  ")


def noisy(text: str, rng: random.Random) -> str:
    """``text`` as users paste it: an emoji, symbol or stray white space at an edge or
    two, and a zero-width character or a doubled space between two of its words."""
    words = text.split(" ")
    if len(words) > 1:
        at = rng.randrange(1, len(words))
        words[at] = rng.choice(NOISE_INSIDE) + words[at]
    text = " ".join(words)
    if rng.random() < 0.8:
        text = rng.choice(NOISE_EDGES) + text
    if rng.random() < 0.6:
        text += rng.choice(NOISE_EDGES)
    return text


def robustness(
    runtime: TranslatorRuntime, rows: list[dict[str, str]], seed: int = 7
) -> dict[str, Any]:
    """Greedy translations of the sources with ``noisy`` edits against those of the clean
    sources: the share that come out the same (edges put back), and BLEU of both."""
    from core.text.segment import frame

    if not rows:
        return {"sentences": 0}
    rng = random.Random(seed)
    sources = [r["source"] for r in rows]
    dirty = [noisy(s, rng) for s in sources]
    clean = runtime.translate(sources, beam_size=1)
    got = runtime.translate(dirty, beam_size=1)
    same = 0
    bare = []
    for d, c, g in zip(dirty, clean, got, strict=True):
        f = frame(d)
        same += g == f.head + c + f.tail
        bare.append(g[len(f.head) : len(g) - len(f.tail)] if g.startswith(f.head) else g)
    return {
        "sentences": len(rows),
        "same_as_clean": same / max(1, len(rows)),
        "clean": translation_metrics(rows, clean)["bleu"],
        "noisy": translation_metrics(rows, bare)["bleu"],
        "example": {"source": dirty[0], "output": got[0]},
    }


def evaluate_version(
    model: ModelVersion,
    precision: str,
    rows: list[dict[str, Any]],
    extra: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """{"test": figures on all rows, "sample": figures on the first SAMPLE_ROWS, and the
    same figures on each set of ``extra`` (the held-out catalogs, the check sets)}; a
    translator in fp32 also its ``robustness`` on the first set of ``extra`` (or test)."""
    runtime: ClassifierRuntime | TranslatorRuntime
    if model.task == "classification":
        runtime = ClassifierRuntime(model, precision)
        run = classifier_figures
    else:
        runtime = TranslatorRuntime(model, precision)
        run = translator_figures  # type: ignore[assignment]
    out = {"test": run(runtime, rows), "sample": run(runtime, rows[:SAMPLE_ROWS])}  # type: ignore[arg-type]
    for name, more in (extra or {}).items():
        out[name] = run(runtime, more)  # type: ignore[arg-type]
    if isinstance(runtime, TranslatorRuntime) and precision == "fp32":
        out["robustness"] = robustness(runtime, next(iter((extra or {}).values()), rows))
    return out
