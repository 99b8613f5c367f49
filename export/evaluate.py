"""Test-split figures of exactly the files in a model repository version, run on ONNX
Runtime through the service's own runtime (the numbers a user of the service gets)."""

from __future__ import annotations

import time
from typing import Any

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


def evaluate_version(
    model: ModelVersion, precision: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """{"test": figures on all rows, "sample": figures on the first SAMPLE_ROWS}."""
    runtime: ClassifierRuntime | TranslatorRuntime
    if model.task == "classification":
        runtime = ClassifierRuntime(model, precision)
        run = classifier_figures
    else:
        runtime = TranslatorRuntime(model, precision)
        run = translator_figures  # type: ignore[assignment]
    return {"test": run(runtime, rows), "sample": run(runtime, rows[:SAMPLE_ROWS])}  # type: ignore[arg-type]
