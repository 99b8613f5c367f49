"""Two or more published versions of a model side by side, on the same data, through the
service's own runtime (ONNX Runtime): what a new version changes for a user.

    python -m benchmarks.versions en-fr:1 en-fr:5 --data data --out versions-en-fr.json
    python -m benchmarks.versions sentiment:1 sentiment:2 sentiment:3 --data data

A translator is scored (greedy and beam 4: sacreBLEU, chrF, placeholders kept, degenerate
repetitions) on the corpus's in-domain test split and its held-out catalogs (``unseen``,
per catalog too), and on its robustness to what users type around a string; a sentiment
classifier on its test split and both short-review check sets. Then each version's output
for the sentences given with ``--sentences FILE`` (one per line; the defaults below).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from export.evaluate import classifier_figures, robustness, translator_figures
from models.data.jsonl import read_jsonl
from models.data.short_reviews import CHECK_SETS, read_check_set
from runtime.classifier import ClassifierRuntime
from runtime.repository import load
from runtime.translator import TranslatorRuntime

REPOSITORY = Path(__file__).resolve().parents[1] / "model_repository"
# written for the comparison: none is in a corpus
SENTENCES = {
    "translation": [
        "Quit the application",
        "Connection to the server failed.",
        "<b>Warning</b>: disk is almost full",
        "Downloading %(count)s files...",
        "😀 Save changes 😀",
        "Save\u200d changes",
        "Great film",
        "Are you sure you want to delete this folder?",
        "The password must contain at least {min} characters.",
        "Your session has expired. Please log in again.",
        "Could not open file %s: permission denied",
        "Print the current page",
        "Undo the last action",
        "No results found for your search.",
        "Check for updates automatically",
        "The backup finished with %d errors.",
        "Drag files here to upload them",
        "Show hidden files",
        "This operation cannot be undone.",
        "Export the selected rows to a spreadsheet",
    ],
    "classification": [
        "Awful film.",
        "Worst movie of the year.",
        "It is not a good film.",
        "Not bad at all, actually quite charming.",
        "Great film.",
        "I loved every minute of it.",
        "Boring and far too long.",
        "The acting was superb.",
        "Not worth the ticket.",
        "A delightful surprise.",
        "I fell asleep halfway through.",
        "Never a dull moment.",
        "The plot makes no sense.",
        "Beautifully shot and very moving.",
        "What a waste of a good cast.",
        "I would happily watch it again.",
        "Painfully slow.",
        "Funny, warm and clever.",
        "The ending ruined it for me.",
        "Not my cup of tea.",
    ],
}


def score(name: str, version: int, data: Path) -> dict[str, Any]:
    mv = load(REPOSITORY, name, version)
    if mv.task == "translation":
        rt = TranslatorRuntime(mv, "fp32")
        test = list(read_jsonl(data / name / "test.jsonl"))
        unseen = list(read_jsonl(data / name / "unseen.jsonl"))
        return {
            "test": translator_figures(rt, test),
            "unseen": translator_figures(rt, unseen),
            "robustness": robustness(rt, unseen),
            "sentences": rt.translate(SENTENCES["translation"], beam_size=4),
        }
    crt = ClassifierRuntime(mv, "fp32")
    texts = SENTENCES["classification"]
    probs = crt.predict(texts)
    return {
        "test": classifier_figures(crt, list(read_jsonl(data / name / "test.jsonl"))),
        **{
            part: classifier_figures(crt, read_check_set(path)) for part, path in CHECK_SETS.items()
        },
        "sentences": [f"{crt.labels[int(p.argmax())]} {float(p.max()):.2f}" for p in probs],
    }


def table(results: dict[str, dict[str, Any]]) -> str:
    """The figures as a Markdown table, versions side by side."""
    names = list(results)
    first = results[names[0]]
    lines = ["| figure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    if "unseen" in first:
        for part in ("test", "unseen"):
            for mode in ("beam4", "greedy"):
                for metric in ("bleu", "chrf", "placeholders_kept", "degenerate"):
                    cells = [_cell(results[n][part][mode][metric]) for n in names]
                    lines.append(f"| {part} {mode} {metric} | " + " | ".join(cells) + " |")
        for origin in first["unseen"]["beam4"].get("by_origin", {}):
            cells = [
                f"{results[n]['unseen']['beam4']['by_origin'][origin]['bleu']:.1f}" for n in names
            ]
            lines.append(f"| unseen beam4 BLEU, {origin} | " + " | ".join(cells) + " |")
        cells = [f"{results[n]['robustness']['same_as_clean']:.1%}" for n in names]
        lines.append("| noisy sources translated as clean (greedy) | " + " | ".join(cells) + " |")
    else:
        for part in ("test", *CHECK_SETS):
            cells = [f"{results[n][part]['accuracy']:.3f}" for n in names]
            lines.append(f"| {part} accuracy | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: float) -> str:
    return (
        f"{value:.1%}"
        if 0 < value < 1
        else f"{value:.2f}"
        if isinstance(value, float)
        else str(value)
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.versions", description=__doc__)
    p.add_argument("versions", nargs="+", help="NAME:VERSION, e.g. en-fr:1 en-fr:5")
    p.add_argument("--data", type=Path, default=Path("data"), help="`attnserve data` output")
    p.add_argument("--out", type=Path, help="write every figure and output as JSON here")
    args = p.parse_args(argv)
    results = {}
    for spec in args.versions:
        name, _, version = spec.partition(":")
        if not version.isdigit():
            raise SystemExit(f"{spec}: give NAME:VERSION, e.g. en-fr:5")
        print(f"scoring {spec} …", flush=True)
        results[spec] = score(name, int(version), args.data)
    print(table(results))
    sentences = [results[s]["sentences"] for s in args.versions]
    task = "translation" if "unseen" in results[args.versions[0]] else "classification"
    for i, text in enumerate(SENTENCES[task]):
        print(f"\n{text!r}")
        for spec, outputs in zip(args.versions, sentences, strict=True):
            print(f"  {spec}: {outputs[i]}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
