"""Speed figures measured during export, as ratios taken in one run (the machine is
shared and noisy): int8 against fp32, the cost of emitting attention weights, and
session start-up with and without the offline-optimised graph."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnxruntime as ort

from core.batching import length_batches
from export import variants
from runtime.classifier import ClassifierRuntime
from runtime.repository import ModelVersion
from runtime.session import pad
from runtime.translator import TranslatorRuntime, has_head, static_step_feeds


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Fastest wall time of ``repeats`` runs (the least disturbed by other work)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def precision_speed(
    model: ModelVersion, precisions: list[str], rows: list[dict[str, Any]], threads: int = 0
) -> dict[str, Any]:
    """Throughput of each precision on the same inputs, interleaved run by run."""
    if model.task == "classification":
        texts = [r["text"] for r in rows]
        rts = {p: ClassifierRuntime(model, p, threads=threads) for p in precisions}
        unit, work = "texts/s", float(len(texts))
        jobs = {p: (lambda rt=rt: rt.predict(texts)) for p, rt in rts.items()}
    else:
        texts = [r["source"] for r in rows]
        trs = {p: TranslatorRuntime(model, p, threads=threads) for p in precisions}
        unit, work = "sentences/s (beam 4)", float(len(texts))
        jobs = {p: (lambda rt=rt: rt.translate(texts, beam_size=4)) for p, rt in trs.items()}
    times: dict[str, list[float]] = {p: [] for p in precisions}
    for _ in range(3):
        for p, job in jobs.items():
            times[p].append(best_of(job, 1))
    result: dict[str, Any] = {"unit": unit, "inputs": len(texts)}
    for p in precisions:
        result[p] = round(work / min(times[p]), 1)
    if "fp32" in precisions:
        for p in precisions[1:] if precisions[0] == "fp32" else precisions:
            result[f"{p}_vs_fp32"] = round(result[p] / result["fp32"], 3)
    return result


def attention_output_cost(
    full: Path, logits_only: Path, texts_ids: list[list[int]]
) -> dict[str, Any]:
    """Classifier throughput: the graph with attention outputs (fetching only logits, and
    fetching all) against a graph without them."""
    full_sess = ort.InferenceSession(str(full), providers=["CPUExecutionProvider"])
    lean_sess = ort.InferenceSession(str(logits_only), providers=["CPUExecutionProvider"])
    batches = [
        pad([texts_ids[i] for i in b])
        for b in length_batches([len(s) for s in texts_ids], 8192, 256)
    ]

    def run(sess: ort.InferenceSession, names: list[str] | None) -> None:
        for ids, mask in batches:
            sess.run(names, {"input_ids": ids, "attention_mask": mask})

    cases = {
        "logits_only_graph": lambda: run(lean_sess, ["logits"]),
        "full_graph_fetch_logits": lambda: run(full_sess, ["logits"]),
        "full_graph_fetch_all": lambda: run(full_sess, None),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(5):
        for k, fn in cases.items():
            times[k].append(best_of(fn, 1))
    base = min(times["logits_only_graph"])
    return {
        "texts": len(texts_ids),
        **{f"{k}_seconds": round(min(v), 4) for k, v in times.items()},
        **{f"{k}_vs_logits_only": round(min(v) / base, 3) for k, v in times.items()},
    }


def startup(graph: Path, workdir: Path) -> dict[str, Any]:
    """Session creation: the exported graph optimised at load, against a graph that ORT
    optimised offline and loads without optimising again (median of 5)."""
    opt = variants.optimized(graph, workdir / f"{graph.stem}.optimized.onnx")

    def load(path: Path, level: ort.GraphOptimizationLevel) -> None:
        o = ort.SessionOptions()
        o.graph_optimization_level = level
        ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])

    def median(fn: Callable[[], None]) -> float:
        return statistics.median(best_of(fn, 1) for _ in range(5))

    raw = median(lambda: load(graph, ort.GraphOptimizationLevel.ORT_ENABLE_ALL))
    pre = median(lambda: load(opt, ort.GraphOptimizationLevel.ORT_DISABLE_ALL))
    opt.unlink()
    return {
        "graph": graph.name,
        "optimise_at_load_seconds": round(raw, 4),
        "preoptimised_seconds": round(pre, 4),
        "saving": round(1 - pre / raw, 3),
    }


def decoder_step_speed(
    graphs: dict[str, Path], cache: tuple[int, int, int], vocab: int
) -> dict[str, Any]:
    """The decoder-step graph alone, per precision, at a typical serving shape: 32
    sentences × beam 4, 20 tokens decoded, 20 source tokens (ms per step, best of 20)."""
    import numpy as np

    layers, heads, hs = cache
    rows, past, src = 128, 20, 20
    rng = np.random.default_rng(0)

    def state(length: int) -> np.ndarray:
        return rng.standard_normal((layers, rows, heads, length, hs), dtype=np.float32)

    feeds = {
        "tokens": rng.integers(20, vocab, (rows, 1)),
        "self_k": state(past),
        "self_v": state(past),
        "cross_k": state(src),
        "cross_v": state(src),
        "src_mask": np.ones((rows, src), dtype=np.int64),
    }
    sessions = {
        p: ort.InferenceSession(str(g), providers=["CPUExecutionProvider"])
        for p, g in graphs.items()
    }
    # what the search fetches: each row's best (beam 4 under the placeholder rule: 27), or
    # on a graph without the search head the logits
    step_feeds = {p: static_step_feeds(feeds, sess, top_k=27) for p, sess in sessions.items()}
    headed = {p: has_head(sess) for p, sess in sessions.items()}
    # the grown caches: stacked (self_k_out) or one per layer (self_k_out_0, …)
    grown = {
        p: [o.name for o in sess.get_outputs() if o.name.startswith(("self_k_out", "self_v_out"))]
        for p, sess in sessions.items()
    }
    times: dict[str, list[float]] = {p: [] for p in sessions}
    for _ in range(20):
        for p, sess in sessions.items():
            start = time.perf_counter()
            names = ["top_logp", "top_ids"] if headed[p] else ["logits"]
            sess.run([*names, *grown[p]], step_feeds[p])
            times[p].append(time.perf_counter() - start)
    result: dict[str, Any] = {"shape": f"batch {rows}, cache {past}, source {src}"}
    result.update({f"{p}_ms": round(1000 * min(t), 2) for p, t in times.items()})
    if "fp32" in times:
        for p in times:
            if p != "fp32":
                result[f"{p}_vs_fp32"] = round(min(times["fp32"]) / min(times[p]), 3)
    return result
