"""``attnserve bench``: the service against the engine's ceiling and the baselines."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from core.flags import repository_flag


def _cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks.bench import Options, run

    def numbers(text: str, name: str) -> tuple[float, ...]:
        try:
            values = tuple(float(x) for x in text.split(",") if x.strip())
        except ValueError:
            values = ()
        if not values or min(values) <= 0:
            raise ValueError(f"--{name} takes positive numbers separated by commas, got {text!r}")
        return values

    if args.seconds <= 0 or args.rounds < 1:
        raise ValueError("--seconds must be above 0 and --rounds at least 1")
    opts = Options(
        repository=args.repository,
        data=args.data,
        out=args.out,
        url=args.url,
        seconds=args.seconds,
        rounds=args.rounds,
        concurrency=tuple(int(c) for c in numbers(args.concurrency, "concurrency")),
        rates=numbers(args.rates, "rates"),
    )
    if args.quick:
        opts.seconds, opts.rounds, opts.concurrency, opts.rates = 1.0, 1, (1, 16), (100,)
        opts.sentences, opts.ct2_sentences = 16, 48
    for folder in ("sentiment", "en-fr"):
        if not (args.data / folder / "test.jsonl").is_file():
            raise FileNotFoundError(
                f"{args.data / folder / 'test.jsonl'} is missing: run `attnserve data` first "
                "(the benchmark draws its texts from the test splits)"
            )
    run(opts)
    return 0


def _bench(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Start the service (and its baselines) on loopback, drive them with "
        "open- and closed-loop load of real test-split texts, and write result.json and PNG "
        "plots; translation is timed beside CTranslate2 on the served weights. The default run "
        "takes about 6 minutes. Needs the `train` extra (PyTorch, for the baselines), the "
        "`bench` extra (LitServe, CTranslate2) and the test splits (`attnserve data`)."
    )
    repository_flag(p, "the models to serve and measure")
    p.add_argument(
        "--data", type=Path, default=Path("data"), help="the test splits (attnserve data)"
    )
    p.add_argument(
        "--out", type=Path, default=Path("bench-results"), help="result.json, plots, logs"
    )
    p.add_argument(
        "--url",
        help="benchmark a running service instead of starting one "
        "(no start-up time, no batching-off run)",
    )
    p.add_argument("--seconds", type=float, default=4.0, help="length of each sweep point")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per ratio (median)")
    p.add_argument("--concurrency", default="1,4,16,64", help="closed-loop clients to sweep")
    p.add_argument("--rates", default="50,100,200,400,800", help="open-loop requests/s to sweep")
    p.add_argument(
        "--quick", action="store_true", help="1 s points, 1 round, short sweeps (a smoke run)"
    )
    p.set_defaults(func=_cmd_bench)


COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "bench": _bench,
}
