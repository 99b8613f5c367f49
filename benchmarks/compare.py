"""Settings side by side: one attnserve process per variant, the same load on each in
interleaved rounds, medians printed — how each ATTNSERVE_* choice in docs/PERFORMANCE.md
was measured, and how to tune one for your machine.

    python -m benchmarks.compare "default:" "one-worker:engine_workers=1,intra_op_threads=2" \\
        --workload classify_mixed --texts 32 --load closed:8 --load closed:64 --rounds 3

A variant is ``name:key=value,...`` with setting names as in ``attnserve serve --settings``
(lower case, without the ATTNSERVE_ prefix); ``name@DIR:...`` runs the attnserve checkout in
DIR instead of this one, for an A/B of two builds (``git worktree add /tmp/before HEAD~1``).
The peers run under their own names: ``plain:`` (benchmarks/baselines/plain.py) and
``litserve[-anything]:batch=16,timeout_ms=1,workers=1,servers=1`` (its flags).
Loads are ``closed:CLIENTS`` or ``open:RATE``. Besides requests/s and latency, each row
has the server's CPU per request, from the kernel's counters for the server process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from dataclasses import dataclass
from pathlib import Path

from benchmarks import loadgen, processes, workloads


@dataclass(frozen=True)
class Variant:
    name: str
    settings: dict[str, str]
    tree: Path | None = None


def _variant(text: str) -> Variant:
    head, sep, spec = text.partition(":")
    name, at, tree = head.partition("@")
    pairs = [p.split("=", 1) for p in spec.split(",") if p]
    if not sep or not name or any(len(p) != 2 for p in pairs) or (at and not tree):
        raise argparse.ArgumentTypeError(f"a variant is name[@DIR]:key=value,... — got {text!r}")
    if at and not (Path(tree) / "service").is_dir():
        raise argparse.ArgumentTypeError(f"{tree!r} is not an attnserve checkout")
    return Variant(name, dict(pairs), Path(tree).resolve() if at else None)


def _start(v: Variant, repository: Path, logs: Path) -> processes.Server:
    if v.name == "plain":
        return processes.start_plain(repository, logs)
    if v.name.split("-")[0] == "litserve":
        return processes.start_litserve(repository, logs, **v.settings)
    return processes.start_service(v.name, repository, logs, v.tree, **v.settings)


def _load(text: str) -> tuple[str, float]:
    mode, _, value = text.partition(":")
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if mode not in ("closed", "open") or number <= 0:
        raise argparse.ArgumentTypeError(f"a load is closed:CLIENTS or open:RATE — got {text!r}")
    return mode, number


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("variants", nargs="+", type=_variant)
    ap.add_argument("--workload", default="classify_mixed", choices=workloads.WORKLOADS)
    ap.add_argument("--texts", type=int, default=1, help="texts per request")
    ap.add_argument(
        "--load", action="append", type=_load, help="closed:CLIENTS or open:RATE (repeatable)"
    )
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", type=Path, default=Path("data"))
    ap.add_argument("--repository", type=Path, default=Path("model_repository"))
    args = ap.parse_args()
    loads = args.load or [("closed", 16.0)]
    w = workloads.load(args.workload, args.data, texts_per_request=args.texts)
    logs = Path("bench-results/logs")
    servers = {v.name: _start(v, args.repository, logs) for v in args.variants}
    results: dict[tuple[str, str], list[loadgen.Point]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}  # server CPU ms per request, per round
    for s in servers.values():
        s.pause()
    try:
        for r in range(args.rounds):
            for name, s in servers.items():
                s.resume()  # the others stay paused: no idle CPU of theirs in the figures
                reqs = [loadgen.encode(f"127.0.0.1:{s.port}", w.path, b) for b in w.bodies()]
                for mode, value in loads:
                    used = s.cpu_s()
                    if mode == "closed":
                        p = asyncio.run(
                            loadgen.closed_loop("127.0.0.1", s.port, reqs, int(value), args.seconds)
                        )
                    else:
                        p = asyncio.run(
                            loadgen.open_loop("127.0.0.1", s.port, reqs, value, args.seconds)
                        )
                    used = s.cpu_s() - used
                    results.setdefault((name, f"{mode}:{value:g}"), []).append(p)
                    answered = p.throughput * p.seconds
                    cpu.setdefault((name, f"{mode}:{value:g}"), []).append(
                        used / answered * 1000 if answered else float("nan")
                    )
                s.pause()
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    finally:
        for s in servers.values():
            s.stop()
    print(f"\n{args.workload}, {args.texts} text(s) per request; medians of {args.rounds} rounds")
    print(
        f"{'variant':<20} {'load':<12} {'req/s':>8} {'texts/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU ms/req':>10} {'errors':>7}"
    )
    for (name, load), points in results.items():
        rps = statistics.median(p.throughput for p in points)
        texts = rps * args.texts
        ms = statistics.median(cpu[name, load])
        p50 = statistics.median(p.percentile(0.5) * 1000 for p in points)
        p99 = statistics.median(p.percentile(0.99) * 1000 for p in points)
        errors = sum(sum(p.errors.values()) for p in points)
        print(
            f"{name:<20} {load:<12} {rps:>8.0f} {texts:>9.0f} {p50:>8.1f} {p99:>8.1f} "
            f"{ms:>10.3f} {errors:>7}"
        )


if __name__ == "__main__":
    main()
