"""attnserve's translation runtime against CTranslate2 offline, on the same weights, at
each precision, side by side: the table ``attnserve bench`` has no room for (it times the
service over HTTP at the precision it serves, fp32 on most CPUs).

    python -m benchmarks.offline_translation --rounds 3 --sentences 400

Per round, for greedy and beam 4, for fp32 and int8, interleaved: attnserve's
``TranslatorRuntime`` as the service lays it out (two engine threads, one ONNX Runtime
thread each, the sources split between them) and CTranslate2 at its best layout on the host
(chosen once per beam and precision: ``ctranslate2_model.best``), on the same test-split
sources (a different slice each round). Generated tokens per second; prints the medians
and the ratios. Needs the ``bench`` extra (torch, ctranslate2).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import workloads
from benchmarks.baselines import ctranslate2_model as ct2
from core.batching import length_batches
from export.repository import restore_precisions
from runtime.repository import load
from runtime.translator import TranslatorRuntime

PRECISIONS = {"fp32": "float32", "int8": "int8"}  # attnserve's name → CTranslate2's


def _ours(runtimes: list[TranslatorRuntime], sources: list[list[int]], beam: int) -> float:
    """Generated tokens/s of the runtimes, each on its share of ``sources`` at once."""
    d = runtimes[0].decoding.but(beam_size=beam)
    shares = [sources[i :: len(runtimes)] for i in range(len(runtimes))]

    def run(rt: TranslatorRuntime, share: list[list[int]]) -> int:
        out = 0  # batches by length, 4000 decoder tokens at most, as ``translate`` makes them
        for batch in length_batches([len(s) for s in share], 4000 // beam, 128):
            out += sum(len(h.tokens) for h in rt.search([share[i] for i in batch], d))
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(len(runtimes)) as pool:
        tokens = sum(pool.map(run, runtimes, shares))
    return tokens / (time.perf_counter() - started)


def run(
    repository: Path,
    data: Path,
    rounds: int,
    sentences: int,
    sample: int = 200,
    folder: Path = Path("bench-results/ctranslate2"),
) -> dict[str, Any]:
    """``sample``: test sources CTranslate2's layouts are tried on (every ``len // sample``-th)."""
    texts = [r["source"] for r in workloads.test_rows(data, "en-fr")]
    version = load(repository, "en-fr")
    if set(PRECISIONS) - set(version.precisions):  # retired to keep the repository small
        copy = folder / "versions" / "en-fr" / str(version.version)
        shutil.rmtree(copy, ignore_errors=True)
        restore_precisions(version.path, copy, tuple(PRECISIONS))
        version = load(folder / "versions", "en-fr", version.version)
    ours = {p: [TranslatorRuntime(version, p, threads=1) for _ in range(2)] for p in PRECISIONS}
    probe = ct2.Peer.open(repository, folder)
    table: dict[str, list[dict[str, float]]] = {}
    peers: dict[tuple[int, str], tuple[ct2.Peer, int]] = {}
    for beam in (1, 4):
        for p, compute in PRECISIONS.items():
            tried_on = probe.sources(texts[:: len(texts) // sample][:sample])
            peer, tokens, _ = ct2.best(repository, folder, tried_on, beam, compute)
            peers[(beam, p)] = (peer, tokens)
    for r in range(rounds):
        chunk = texts[r::rounds][:sentences]
        sources = probe.sources(chunk)
        for beam in (1, 4):
            for p in PRECISIONS:
                peer, tokens = peers[(beam, p)]
                row = {
                    "attnserve": round(_ours(ours[p], sources, beam), 1),
                    "ctranslate2": peer.time(sources, beam, tokens)["tokens_per_s"],
                }
                table.setdefault(f"beam{beam}_{p}", []).append(row)
                print(f"round {r + 1} beam {beam} {p}: {row} (CTranslate2 {peer.layout}@{tokens})")
    summary = {}
    for key, rows in table.items():
        a = statistics.median(x["attnserve"] for x in rows)
        c = statistics.median(x["ctranslate2"] for x in rows)
        summary[key] = {"attnserve": a, "ctranslate2": c, "ratio": round(a / c, 2)}
    layouts = {f"beam{b}_{p}": f"{pe.layout}@{t}" for (b, p), (pe, t) in peers.items()}
    return {"version": version.version, "summary": summary, "layouts": layouts, "rounds": table}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.offline_translation", description=__doc__
    )
    p.add_argument("--repository", type=Path, default=Path("model_repository"))
    p.add_argument("--data", type=Path, default=Path("data"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sentences", type=int, default=400)
    p.add_argument("--out", type=Path, default=Path("bench-results/offline_translation.json"))
    a = p.parse_args(argv)
    result = run(a.repository, a.data, a.rounds, a.sentences)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"en-fr/{result['version']}, generated tokens/s, medians of {a.rounds} rounds:")
    print(
        "| decoding | precision | attnserve (2 threads x 1) | CTranslate2 (best layout) | ratio |"
    )
    print("|---|---|---|---|---|")
    for key, s in result["summary"].items():
        beam, precision = key.split("_")
        print(
            f"| {beam} | {precision} | {s['attnserve']:.0f} | {s['ctranslate2']:.0f} "
            f"({result['layouts'][key]}) | {s['ratio']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
