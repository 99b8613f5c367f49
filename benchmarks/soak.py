"""The soak benchmark (not in CI): the service at a steady, moderate open-loop rate for a
long time (an hour by default), reporting resident memory over time and the latency
percentiles of each window (ten minutes by default). Memory growth is the RSS at the end
over the RSS at the end of the first window (after warm-up); the target is under 5 %.

    python -m benchmarks.soak --minutes 60 --rate 20 --out soak-results    # make soak

Writes ``result.json``, ``report.md`` and ``soak.png`` (RSS over time, p50/p99 per window).
The load is a mix of real test-split texts: classification (one text per request) and
greedy translation, alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from benchmarks import loadgen, workloads
from benchmarks.processes import ROOT, Server, start_service

TARGET_GROWTH = 0.05


def _requests(port: int, data: Path) -> list[bytes]:
    host = f"127.0.0.1:{port}"
    classify = workloads.load("classify_mixed", data)
    translate = workloads.load("translate_greedy", data)
    out = []
    for a, b in zip(classify.bodies(), translate.bodies(), strict=False):
        out += [loadgen.encode(host, classify.path, a), loadgen.encode(host, translate.path, b)]
    return out


def _window(points: list[loadgen.Point], index: int, start_s: float) -> dict[str, Any]:
    merged = loadgen.Point("open", points[0].load, sum(p.seconds for p in points), 0, 0)
    for p in points:
        merged.sent += p.sent
        merged.ok += p.ok
        merged.latencies += p.latencies
        for k, v in p.errors.items():
            merged.errors[k] = merged.errors.get(k, 0) + v
    return {"window": index, "start_min": round(start_s / 60, 2), **merged.summary()}


async def soak(
    server: Server, data: Path, minutes: float, rate: float, window_s: float, sample_s: float
) -> dict[str, Any]:
    requests = _requests(server.port, data)
    began = time.monotonic()
    samples: list[dict[str, float]] = []
    windows: list[dict[str, Any]] = []
    current: list[loadgen.Point] = []
    window_start = 0.0
    total_s = minutes * 60
    chunk = 0
    while (elapsed := time.monotonic() - began) < total_s - 1:  # no sub-second tail chunk
        point = await loadgen.open_loop(
            "127.0.0.1", server.port, requests, rate, min(sample_s, total_s - elapsed), seed=chunk
        )
        chunk += 1
        current.append(point)
        elapsed = time.monotonic() - began
        samples.append({"t_min": round(elapsed / 60, 3), **server.memory_mib()})
        if elapsed - window_start >= window_s or elapsed >= total_s - 1:
            windows.append(_window(current, len(windows), window_start))
            w = windows[-1]
            print(
                f"[{elapsed / 60:6.1f} min] window {w['window']}: {w['sent']} sent, "
                f"{w['ok']} ok, errors {w['errors'] or 0}, p50 {w['p50_ms']} ms, "
                f"p99 {w['p99_ms']} ms, RSS {samples[-1]['rss_mib']} MiB",
                flush=True,
            )
            current, window_start = [], elapsed
    base = next(s for s in samples if s["t_min"] * 60 >= min(window_s, samples[-1]["t_min"] * 60))
    growth = samples[-1]["rss_mib"] / base["rss_mib"] - 1
    return {
        "minutes": minutes,
        "rate": rate,
        "window_s": window_s,
        "rss_after_warmup_mib": base["rss_mib"],
        "rss_end_mib": samples[-1]["rss_mib"],
        "peak_rss_mib": max(s["peak_rss_mib"] for s in samples),
        "growth": round(growth, 4),
        "target_growth": TARGET_GROWTH,
        "met": growth < TARGET_GROWTH,
        "windows": windows,
        "memory": samples,
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"# Soak: {result['minutes']:g} min at {result['rate']:g} requests/s",
        "",
        f"Resident memory after the first window {result['rss_after_warmup_mib']} MiB, at the end "
        f"{result['rss_end_mib']} MiB: **growth {100 * result['growth']:+.2f} %** (target under "
        f"{100 * result['target_growth']:.0f} %: {'met' if result['met'] else 'missed'}); "
        f"peak {result['peak_rss_mib']} MiB.",
        "",
        "| window | from (min) | sent | ok | errors | throughput/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w in result["windows"]:
        lines.append(
            f"| {w['window']} | {w['start_min']} | {w['sent']} | {w['ok']} | "
            f"{sum(w['errors'].values())} | {w['throughput']} | {w['p50_ms']} | {w['p95_ms']} | "
            f"{w['p99_ms']} |"
        )
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (mem, lat) = plt.subplots(1, 2, figsize=(12, 4))
    mem.plot([s["t_min"] for s in result["memory"]], [s["rss_mib"] for s in result["memory"]])
    mem.axhline(
        result["rss_after_warmup_mib"] * (1 + TARGET_GROWTH),
        ls="--",
        c="tab:red",
        label="+5 % over warm",
    )
    mem.set(xlabel="minutes", ylabel="resident memory (MiB)", title="memory over time")
    mem.legend()
    mid = [w["start_min"] + result["window_s"] / 120 for w in result["windows"]]
    for q in ("p50", "p95", "p99"):
        lat.plot(mid, [w[f"{q}_ms"] for w in result["windows"]], marker="o", label=q)
    lat.set(xlabel="minutes", ylabel="latency (ms)", title="latency per window")
    lat.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--minutes", type=float, default=60.0, help="how long (default 60)")
    p.add_argument("--rate", type=float, default=20.0, help="requests per second (default 20)")
    p.add_argument(
        "--window", type=float, default=10.0, help="minutes per latency window (default 10)"
    )
    p.add_argument(
        "--sample", type=float, default=10.0, help="seconds between memory samples (default 10)"
    )
    p.add_argument("--data", type=Path, default=ROOT / "data")
    p.add_argument("--repository", type=Path, default=ROOT / "model_repository")
    p.add_argument("--out", type=Path, default=Path("soak-results"))
    a = p.parse_args(argv)
    if a.minutes <= 0 or a.rate <= 0 or a.window <= 0 or a.sample <= 0:
        p.error("--minutes, --rate, --window and --sample must be above 0")
    a.out.mkdir(parents=True, exist_ok=True)
    server = start_service("soak", a.repository, a.out / "logs")
    try:
        result = asyncio.run(soak(server, a.data, a.minutes, a.rate, a.window * 60, a.sample))
    finally:
        server.stop()
    (a.out / "result.json").write_text(json.dumps(result, indent=1))
    (a.out / "report.md").write_text(report(result))
    plot(result, a.out / "soak.png")
    print(report(result))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
