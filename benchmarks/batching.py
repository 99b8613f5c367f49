"""Mean batch size and throughput with N concurrent clients against a running service.

    attnserve serve &                       # or any deployment
    python -m benchmarks.batching --clients 32 --requests 1024

Sends one text per request from the sentiment test split (or synthetic reviews when the
data is not built) in a closed loop, and reads the batch counters from /metrics, so the
figure is what the server really did.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from benchmarks.loadgen import each_once
from benchmarks.processes import scrape, total


def texts(n: int, data: Path) -> list[str]:
    test = data / "sentiment" / "test.jsonl"
    if test.is_file():
        rows = [json.loads(line)["text"] for line in test.open(encoding="utf-8")]
        return [rows[i % len(rows)] for i in range(n)]
    return [f"Review {i}: the plot was {'gripping' if i % 2 else 'dull'}." for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--model", default="sentiment")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=1024)
    ap.add_argument("--data", type=Path, default=Path("data"))
    args = ap.parse_args()
    bodies = [{"texts": [t], "model": args.model} for t in texts(args.requests, args.data)]
    before = _batch_stats(args.url, args.model)
    run = asyncio.run(each_once(args.url, "/v1/classify", bodies, args.clients))
    after = _batch_stats(args.url, args.model)
    done, batches = after[0] - before[0], after[1] - before[1]
    ok = run.status.count(200)
    print(f"clients {args.clients}, requests {len(bodies)}, 200s {ok}, other {len(bodies) - ok}")
    print(f"throughput {len(bodies) / run.seconds:.0f} requests/s over {run.seconds:.2f} s")
    print(
        f"latency p50 {run.percentile(0.5) * 1000:.1f} ms, p99 {run.percentile(0.99) * 1000:.1f} ms"
    )
    print(
        f"batches {batches:.0f} for {done:.0f} texts: mean batch size {done / max(batches, 1):.2f}"
    )


def _batch_stats(url: str, model: str) -> tuple[float, float]:
    """(texts run, batches run) so far, from /metrics."""
    samples = scrape(url)
    return (
        total(samples, "attnserve_batch_size_sum", model=model),
        total(samples, "attnserve_batch_size_count", model=model),
    )


if __name__ == "__main__":
    main()
