"""``attnserve tune``: the precision and CPU layout of each model, measured on the host
that will serve it — not taken from the machine the model was exported on.

For each model (its latest version) and each CPU precision it ships (fp32, int8), and each
layout of the cores (engine workers × ONNX Runtime threads per session, the product at
most the cores), the engine runs a fixed probe — the classifier on batches of short
reviews, the translator's beam search on user-interface strings — from ``workers``
threads at once, as the service's batcher runs it. Candidates are measured in interleaved
rounds and their medians compared: the fastest fp32 layout wins, and int8 replaces it only
by ``core.precision``'s rule (≥ 1.10× fp32 on this host, and at most one point of quality
lost on the test split as the export recorded it). The result is a JSON file the service
reads at start-up (``ATTNSERVE_TUNING_FILE``) when it was measured on the same kind of host.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnxruntime as ort

from core.precision import MAX_QUALITY_DROP, MIN_SPEEDUP, int8_allowed, quality_drop
from runtime.classifier import ClassifierRuntime
from runtime.repository import ModelVersion, load, models
from runtime.translator import TranslatorRuntime

FORMAT = 1
REVIEWS = [
    "A moving, beautifully acted film.",
    "Dull, and far too long.",
    "The plot is thin but the performances carry it through to the end.",
    "I would not watch it again.",
    "An uneven, often charming comedy with a sharp script and a weak last act.",
    "Not bad at all.",
    "Worst movie of the year.",
    "It never quite finds its footing, though the music is lovely.",
]
STRINGS = [
    "Save changes",
    "The file {name} could not be deleted.",
    "You have %d new messages.",
    "Are you sure you want to delete this folder?",
    "Connection to the server failed.",
    "Open recent",
    "Downloading %(count)s files...",
    "Print the current document",
]


def host() -> dict[str, Any]:
    """What makes one host's figures valid for another: CPU model, cores, the instruction
    sets ONNX Runtime's kernels choose between, the engine's version."""
    model, flags = platform.processor() or "unknown", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return {
        "cpu": model,
        "cores": os.cpu_count() or 1,
        "isa": sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"}),
        "onnxruntime": ort.__version__,
    }


def layouts(cores: int) -> list[tuple[int, int]]:
    """(workers, threads per session) that use every core: 1 × cores, …, cores × 1."""
    return [(w, cores // w) for w in range(1, cores + 1) if cores % w == 0]


def _probe(mv: ModelVersion, precision: str, threads: int) -> Callable[[], int]:
    """One unit of the model's work on a session; returns the texts it handled."""
    if mv.task == "classification":
        c = ClassifierRuntime(mv, precision, "cpu", threads)
        rows = c.encode(REVIEWS)
        return lambda: len(c.forward(rows).probabilities)
    t = TranslatorRuntime(mv, precision, "cpu", threads)
    return lambda: len(t.translate(STRINGS))


def throughput(work: Callable[[], int], workers: int, seconds: float) -> float:
    """Texts per second with ``workers`` threads running ``work`` at once."""
    counts = [0] * workers
    deadline = time.perf_counter() + seconds

    def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            counts[i] += work()

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(counts) / (time.perf_counter() - started)


def _recorded_drop(mv: ModelVersion) -> float | None:
    """The int8 quality drop the export measured on the test split (None if not both)."""
    metrics = mv.manifest.get("metrics", {})
    if "fp32" not in metrics or "int8" not in metrics:
        return None
    return quality_drop(mv.task, metrics["fp32"]["test"], metrics["int8"]["test"])


def tune_model(
    mv: ModelVersion,
    seconds: float = 0.5,
    rounds: int = 3,
    cores: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    precisions = [p for p in ("fp32", "int8") if p in mv.precisions]
    grid = layouts(cores or os.cpu_count() or 1)
    probes = {(p, t): _probe(mv, p, t) for p in precisions for _, t in grid}
    for work in probes.values():
        work()  # warm-up, outside the timings
    figures: dict[tuple[str, int, int], list[float]] = {}
    for r in range(rounds):
        for p in precisions:
            for w, t in grid:
                figures.setdefault((p, w, t), []).append(throughput(probes[p, t], w, seconds))
        log(f"  {mv.name}: round {r + 1}/{rounds}")
    median = {k: statistics.median(v) for k, v in figures.items()}
    best = {p: max((k for k in median if k[0] == p), key=median.__getitem__) for p in precisions}
    choice = best["fp32"]
    why = f"fp32 fastest at {choice[1]} workers × {choice[2]} threads"
    if "int8" in best:
        gain = median[best["int8"]] / median[best["fp32"]]
        drop = _recorded_drop(mv)
        shown = "not measured" if drop is None else f"{drop:+.2f} points"
        if drop is not None and int8_allowed(gain, drop):
            choice = best["int8"]
            why = f"int8 {gain:.2f}× fp32 here, quality {shown} at export"
        else:
            why += (
                f"; int8 {gain:.2f}× fp32 here, quality {shown} at export "
                f"(int8 needs ≥ {MIN_SPEEDUP}× and ≤ {MAX_QUALITY_DROP} point)"
            )
    return {
        "version": mv.version,
        "precision": choice[0],
        "workers": choice[1],
        "threads": choice[2],
        "why": why,
        "texts_per_s": {f"{p} {w}x{t}": round(v, 1) for (p, w, t), v in median.items()},
    }


def tune(
    repository: Path,
    names: list[str] | None = None,
    seconds: float = 0.5,
    rounds: int = 3,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every model's (or ``names``') choice on this host, as the tuning file holds it."""
    started = time.perf_counter()
    chosen = {}
    for name in names or models(repository):
        mv = load(repository, name)
        log(f"{name} v{mv.version}: {mv.task}, precisions {', '.join(mv.precisions)}")
        chosen[name] = m = tune_model(mv, seconds, rounds, log=log)
        log(f"  → {m['precision']}, {m['workers']} workers × {m['threads']} threads: {m['why']}")
    return {
        "format": FORMAT,
        "host": host(),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.perf_counter() - started, 1),
        "models": chosen,
    }


def write(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=2) + "\n")
