"""The runtime's commands: ``attnserve models`` (what the repository holds, validated),
``attnserve predict`` (a model on ONNX Runtime, no server) and ``attnserve tune`` (each
model's precision and CPU layout, measured on this host, for the service to read)."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from core.flags import repository_flag


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


def _models(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Validate the latest version of every model against its manifest and "
        "show its files, sizes, precisions and recorded test figures. Exit 1 if any is broken."
    )
    repository_flag(p, "the repository to validate")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_models)


def _predict(p: argparse.ArgumentParser) -> None:
    p.description = "Run a model of the repository on texts given as arguments or on stdin."
    p.add_argument("model", help="model name, e.g. sentiment or en-fr")
    p.add_argument("texts", nargs="*", help="texts (default: one per line from stdin)")
    repository_flag(p, "where the model is")
    p.add_argument("--version", type=int, help="pin a version (default: the latest)")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "int8", "fp16"],
        help="graph precision (default: the model's CPU default)",
    )
    p.add_argument("--beam", type=int, help="beam size for translation (default: the model's)")
    p.set_defaults(func=_cmd_predict)


def _cmd_tune(args: argparse.Namespace) -> int:
    from runtime.tuning import tune, write

    if args.seconds <= 0 or args.rounds < 1:
        raise ValueError("--seconds must be above 0 and --rounds at least 1")
    result = tune(args.repository, args.model or None, args.seconds, args.rounds)
    write(result, args.out)
    print(f"{args.out}: written in {result['seconds']:.0f} s; the service reads it at start-up")
    print("(ATTNSERVE_TUNING_FILE; settings given explicitly still win)")
    return 0


def _tune(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Measure each model's CPU precisions (fp32, int8) and layouts (engine workers × "
        "ONNX Runtime threads) on this host, in interleaved rounds, and write the fastest "
        "(int8 only if ≥ 1.10× fp32 here and within the export's quality bar) to a file the "
        "service reads at start-up. About 10 s per model with the defaults."
    )
    repository_flag(p, "the models to measure")
    p.add_argument("model", nargs="*", help="models to measure (default: every one)")
    p.add_argument("--out", type=Path, default=Path("tuning.json"), help="the file to write")
    p.add_argument("--seconds", type=float, default=0.5, help="length of each measurement")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    p.set_defaults(func=_cmd_tune)


COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "models": _models,
    "predict": _predict,
    "tune": _tune,
}
