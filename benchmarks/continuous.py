"""Continuous against static batching of translation, side by side: the same service, the
same test-split sources (one per request), interleaved rounds, the other server paused.

    python -m benchmarks.continuous --rounds 3 --seconds 6 --out bench-results/continuous.json

Per round: (1) closed loop, 32 clients, greedy and beam 4: generated tokens/s (from the
service's own counters) and latency; (2) an open loop of Poisson arrivals at 70 % of the
static variant's saturation (its closed-loop requests/s at 32 clients, beam 4, measured
in the same round), mixed source lengths as the test split has them: the p50 latency of
the short sources (≤ 8 tokens, ``</s>`` included) and the p99 of all. Prints the medians
and the issue's two latency ratios; writes every figure to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks import loadgen, processes, workloads
from core.text.inputs import translator_source
from core.text.tokenizer import SubwordTokenizer
from runtime.repository import load

SHORT = 8  # source tokens (</s> included) of a "short" source
VARIANTS = {"continuous": {}, "static": {"continuous_batching": "false"}}


def _lengths(repository: Path, texts: list[str]) -> list[int]:
    """Each text's source tokens as the service feeds its encoder (the served version)."""
    mv = load(repository, "en-fr")
    tok = SubwordTokenizer.load(mv.path / mv.config["tokenizer"])
    limit = int(mv.config["max_input_tokens"])
    return [len(translator_source(tok.encode_masked(t)[0], limit)) for t in texts]


def _closed(s: processes.Server, w: workloads.Workload, seconds: float) -> dict[str, Any]:
    reqs = [loadgen.encode(f"127.0.0.1:{s.port}", w.path, b) for b in w.bodies()]
    before = processes.scrape(s.url)
    p = asyncio.run(loadgen.closed_loop("127.0.0.1", s.port, reqs, 32, seconds))
    after = processes.scrape(s.url)
    gen = processes.delta(before, after, "attnserve_generated_tokens_total", model="en-fr")
    return {**p.summary(), "generated_tokens_per_s": round(gen / p.seconds, 1)}


def _open(
    s: processes.Server, w: workloads.Workload, lengths: list[int], rate: float, seconds: float
) -> dict[str, Any]:
    reqs = [loadgen.encode(f"127.0.0.1:{s.port}", w.path, b) for b in w.bodies()]
    p = asyncio.run(loadgen.open_loop("127.0.0.1", s.port, reqs, rate, seconds))
    short = sorted(t for i, t in p.by_request if lengths[i] <= SHORT)
    out = p.summary()
    out["short_requests"] = len(short)
    out["short_p50_ms"] = round(1000 * short[len(short) // 2], 2) if short else None
    return out


def run(repository: Path, data: Path, rounds: int, seconds: float) -> dict[str, Any]:
    greedy = workloads.load("translate_greedy", data)
    beam = workloads.load("translate_beam4", data)
    lengths = _lengths(repository, beam.texts)
    logs = Path("bench-results/logs")
    servers = {
        name: processes.start_service(name, repository, logs, None, **settings)
        for name, settings in VARIANTS.items()
    }
    rows: list[dict[str, Any]] = []
    for s in servers.values():
        s.pause()
    try:
        for r in range(rounds):
            row: dict[str, Any] = {}
            for phase in ("closed", "open"):
                for name, s in servers.items():
                    s.resume()
                    try:
                        if phase == "closed":
                            row[f"{name}/greedy"] = _closed(s, greedy, seconds)
                            row[f"{name}/beam4"] = _closed(s, beam, seconds)
                        else:
                            rate = 0.7 * row["static/beam4"]["throughput"]
                            row["open_rate"] = round(rate, 1)
                            row[f"{name}/open"] = _open(s, beam, lengths, rate, seconds)
                    finally:
                        s.pause()
            rows.append(row)
            print(f"round {r + 1}/{rounds}: " + _line(row), flush=True)
    finally:
        for s in servers.values():
            s.stop()
    return {"rounds": rows, "summary": _summary(rows)}


def _line(row: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} {v['generated_tokens_per_s']:.0f} tok/s"
        if "generated_tokens_per_s" in v
        else f"{k} short p50 {v['short_p50_ms']} ms p99 {v['p99_ms']} ms"
        for k, v in row.items()
        if isinstance(v, dict)
    )


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    med = statistics.median
    out: dict[str, Any] = {}
    for mode in ("greedy", "beam4"):
        out[f"{mode}_tokens_per_s"] = {
            n: med(r[f"{n}/{mode}"]["generated_tokens_per_s"] for r in rows) for n in VARIANTS
        }
        out[f"{mode}_continuous_over_static"] = round(
            med(
                r[f"continuous/{mode}"]["generated_tokens_per_s"]
                / r[f"static/{mode}"]["generated_tokens_per_s"]
                for r in rows
            ),
            3,
        )
    out["open_rate"] = med(r["open_rate"] for r in rows)
    for n in VARIANTS:
        out[f"{n}_short_p50_ms"] = med(r[f"{n}/open"]["short_p50_ms"] for r in rows)
        out[f"{n}_p99_ms"] = med(r[f"{n}/open"]["p99_ms"] for r in rows)
    out["short_p50_continuous_over_static"] = round(
        out["continuous_short_p50_ms"] / out["static_short_p50_ms"], 3
    )
    out["p99_continuous_over_static"] = round(out["continuous_p99_ms"] / out["static_p99_ms"], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--data", type=Path, default=Path("data"))
    ap.add_argument("--repository", type=Path, default=Path("model_repository"))
    ap.add_argument("--out", type=Path, default=Path("bench-results/continuous.json"))
    args = ap.parse_args()
    result = run(args.repository, args.data, args.rounds, args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=2))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
