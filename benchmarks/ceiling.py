"""Baselines measured in the benchmark process itself, on the same texts as the service.

- ``classifier_ceiling``: ONNX Runtime alone on the served classifier graph — texts
  tokenised beforehand, sorted by length, cut into batches of the best size, run back to
  back in the best layout of the cores (one session with every thread, or one
  single-threaded session per core side by side). Nothing a server adds (HTTP, JSON, queueing, tokenising); the most the engine does
  on this machine.
- ``reference_decoder``: the PyTorch reference decoder (``models/decoding.py``) on the
  served translator's weights, in batches of 32 sentences in arrival order, as a user of
  the PyTorch model would run it: generated tokens per second.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from runtime.classifier import ClassifierRuntime
from runtime.repository import load as load_version
from runtime.tuning import layouts, throughput


@cache
def _classifier(repository: Path, threads: int) -> ClassifierRuntime:
    """One session for every round (created once, not inside anyone's timing)."""
    return ClassifierRuntime(load_version(repository, "sentiment"), threads=threads)


@cache
def _translator(repository: Path) -> tuple[Any, Any, dict[str, Any]]:
    """The PyTorch translator, read back from the graphs and verified once for all rounds."""
    from export import recover

    return recover.load(repository, "en-fr")


def classifier_ceiling(
    repository: Path,
    texts: list[str],
    seconds: float = 3.0,
    batch_sizes: tuple[int, ...] = (8, 16, 32, 64),
    threads: int = 0,
) -> dict[str, Any]:
    """The best of every batch size and every layout of the cores (one session with all
    the threads, …, one single-threaded session per core run side by side — what
    ``attnserve tune`` chooses between), so that no layout the service may run beats it."""
    cores = os.cpu_count() or 1
    grid = [(1, threads)] if threads else layouts(cores)
    per: dict[str, dict[str, Any]] = {}
    for workers, per_session in grid:
        runtime = _classifier(repository, per_session)
        seqs = sorted(runtime.encode(texts), key=len)
        real = sum(len(s) for s in seqs)
        for size in batch_sizes:
            batches = [seqs[i : i + size] for i in range(0, len(seqs), size)]
            runtime.forward(batches[0])  # warm-up
            work = _turns(runtime, batches)
            padded = sum(len(b) * len(b[-1]) for b in batches)
            per[f"{size}@{workers}x{per_session or 'auto'}"] = {
                "batch_size": size,
                "workers": workers,
                "threads": per_session,
                "texts_per_s": round(throughput(work, workers, seconds / len(grid)), 1),
                "padded_over_real": round(padded / real, 4),
            }
    best = max(per.values(), key=lambda r: r["texts_per_s"])
    return {
        "best_batch_size": best["batch_size"],
        "best_layout": f"{best['workers']}x{best['threads']}",
        **{k: best[k] for k in ("texts_per_s", "padded_over_real")},
        "by_batch_size_and_layout": {k: v["texts_per_s"] for k, v in per.items()},
    }


def _turns(runtime: ClassifierRuntime, batches: list[list[list[int]]]) -> Callable[[], int]:
    """One batch per call, the next one each time (threads take turns over the batches)."""
    turn = itertools.count()

    def work() -> int:
        b = batches[next(turn) % len(batches)]
        runtime.forward(b)
        return len(b)

    return work


def engine_cpu(
    repository: Path, texts: list[str], batch: int, threads: int, seconds: float = 1.0
) -> dict[str, Any]:
    """The engine's CPU per padded token alone: ONNX Runtime on the served classifier graph
    with the service's threads per session, batches of ``batch`` texts of like length
    (sorted, as the service groups them), back to back; CPU from the process's counters.
    Times the service's padded tokens per request, it is what the engine alone would have
    spent on the service's batches."""
    runtime = _classifier(repository, threads)
    seqs = sorted(runtime.encode(texts), key=len)
    batches = [seqs[i : i + batch] for i in range(0, len(seqs), batch)]
    runtime.forward(batches[0])  # warm-up
    padded, cpu, started = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - started < seconds:
        for b in batches:
            runtime.forward(b)
            padded += len(b) * len(b[-1])
            if time.perf_counter() - started >= seconds:
                break
    cpu = time.process_time() - cpu
    return {"batch": batch, "threads": threads, "cpu_ms_per_padded_token": cpu / padded * 1000}


def reference_decoder(
    repository: Path, texts: list[str], beam: int, batch: int = 32, threads: int = 0
) -> dict[str, Any]:
    import torch

    from core.text.inputs import translator_source
    from models.decoding import beam_search
    from models.translator import Translator

    if threads:
        torch.set_num_threads(threads)
    model, tok, config = _translator(repository)
    assert isinstance(model, Translator)
    max_len = int(config["max_input_tokens"])
    sources = [translator_source(tok.encode_masked(t)[0], max_len) for t in texts]
    tokens, started = 0, time.perf_counter()
    for start in range(0, len(sources), batch):  # arrival order, `batch` at a time
        rows = sources[start : start + batch]
        width = max(len(r) for r in rows)
        src = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            src[i, : len(r)] = torch.tensor(r)
        hyps = beam_search(model, src, (src != 0).long(), beam=beam, max_len=max_len)
        tokens += sum(len(h.tokens) for h in hyps)
    elapsed = time.perf_counter() - started
    return {
        "sentences": len(texts),
        "generated_tokens": tokens,
        "seconds": round(elapsed, 3),
        "tokens_per_s": round(tokens / elapsed, 1),
    }
