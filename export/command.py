"""``attnserve export``: a trained run into a sealed version of the model repository."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from core.flags import repository_flag


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


def _export(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Trace the run's model into ONNX graphs with dynamic batch/sequence/cache "
        "axes, derive int8 and fp16 variants, check them against PyTorch at several shapes, "
        "check ONNX decoding against the PyTorch decoder, evaluate every precision on the test "
        "split, time them, and write model_repository/NAME/VERSION/ with config.json and "
        "manifest.json. Fails (exit 2) when a check fails; nothing is published then."
    )
    p.add_argument(
        "run",
        type=Path,
        help="run folder written by `attnserve train`, or a published version "
        "(REPOSITORY/NAME/VERSION): its weights read back and exported again with today's graphs",
    )
    repository_flag(p, "the repository to export into")
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


COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "export": _export,
}
