"""The ``attnserve`` command line: a dispatcher on top of every side.

Each side registers its own subcommands next to its code (a ``COMMANDS`` table of
functions that add a command's flags). A side is imported only when one of its commands
runs, so ``attnserve --help`` is instant, the serving side never loads the training stack,
and an environment that lacks a side (the serving image has no ``models/`` or
``export/``) still lists every command and says what to install for the missing ones.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterable

# command → (the module that registers it, its line in `attnserve --help`, the extra it needs)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "data": ("models.commands", "build the default corpora from pinned PyPI packages", "train"),
    "train": ("models.commands", "train the classifier or the translator", "train"),
    "evaluate": ("models.commands", "test-split metrics of a trained run", "train"),
    "export": (
        "export.command",
        "export a trained run into the model repository (ONNX, parity-checked)",
        "train",
    ),
    "models": ("runtime.commands", "list and validate the model repository", "serve"),
    "predict": (
        "runtime.commands",
        "classify or translate texts with a repository model (ONNX Runtime, no server)",
        "serve",
    ),
    "tune": (
        "runtime.commands",
        "measure each model's precision and CPU layout on this host, for the service",
        "serve",
    ),
    "serve": (
        "service.commands",
        "serve the repository's models over HTTP (FastAPI + ONNX Runtime)",
        "serve",
    ),
    "health": (
        "service.commands",
        "exit 0 if the service is ready (for container health checks)",
        "serve",
    ),
    "bench": (
        "benchmarks.command",
        "benchmark the service against the engine's ceiling and naive baselines",
        "train",
    ),
}


def _missing(name: str, module: str, extra: str) -> argparse.Namespace:
    def refuse(args: argparse.Namespace) -> int:
        print(
            f"attnserve {name}: this environment does not have {module.split('.')[0]}/; install "
            f"the project with the extra that brings it: pip install '.[{extra}]'",
            file=sys.stderr,
        )
        return 2

    return argparse.Namespace(func=refuse)


def build_parser(configure: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """Every command listed; the flags of those in ``configure`` (all when None) added."""
    wanted = set(COMMANDS) if configure is None else set(configure)
    parser = argparse.ArgumentParser(
        prog="attnserve",
        description="Train, export and serve residual-attention NLP models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, line, extra) in COMMANDS.items():
        p = sub.add_parser(name, help=line, description=line[0].upper() + line[1:] + ".")
        if name not in wanted:
            continue
        try:
            side = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module.split(".")[0] and e.name != module:
                raise
            p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            p.set_defaults(**vars(_missing(name, module, extra)))
            continue
        side.COMMANDS[name](p)
    return parser


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    command = next((a for a in given if not a.startswith("-")), None)
    args = build_parser([command] if command in COMMANDS else []).parse_args(given)
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
