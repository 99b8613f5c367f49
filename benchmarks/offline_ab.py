"""Two builds of the translation runtime against each other, offline, interleaved: the A/B
behind each change to the decoder step and the search (docs/PERFORMANCE.md, translation).

    git worktree add /tmp/before d30955b
    python -m benchmarks.offline_ab /tmp/before:model_repository/en-fr/2 \\
        .:model_repository/en-fr/3 --rounds 3 --sentences 300

Each side is ``TREE:VERSION_FOLDER``: a checkout of attnserve and a model version folder
(relative to that checkout). Per round and decoding (beam 4, greedy), each side runs in its
own process from its own tree — ``TranslatorRuntime.translate`` on every 6th test source,
one ONNX Runtime thread, after a warm-up — and prints sentences/s; the medians and the
ratio B ÷ A follow.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path


def _child(folder: Path, data: Path, beam: int, sentences: int) -> str:
    return f"""
import json, time
from pathlib import Path
from runtime.repository import load
from runtime.translator import TranslatorRuntime
folder = Path({str(folder)!r})
rt = TranslatorRuntime(load(folder.parent.parent, folder.parent.name, int(folder.name)), "fp32", threads=1)
rows = [json.loads(l) for l in open({str(data / "en-fr" / "test.jsonl")!r})]
texts = [r["source"] for r in rows][::6][:{sentences}]
rt.translate(texts[:16], beam_size={beam})
start = time.perf_counter()
rt.translate(texts, beam_size={beam})
print(json.dumps({{"sentences_per_s": len(texts) / (time.perf_counter() - start)}}))
"""


def _side(spec: str) -> tuple[Path, Path]:
    tree, _, version = spec.partition(":")
    if not version:
        raise SystemExit(f"{spec!r}: give TREE:VERSION_FOLDER, e.g. .:model_repository/en-fr/3")
    root = Path(tree).resolve()
    return root, (root / version).resolve()


def run(a: str, b: str, data: Path, rounds: int, sentences: int) -> dict[str, dict[str, object]]:
    sides = {"a": _side(a), "b": _side(b)}
    out: dict[str, dict[str, object]] = {}
    for beam in (4, 1):
        speeds: dict[str, list[float]] = {"a": [], "b": []}
        for _ in range(rounds):
            for name, (tree, folder) in sides.items():
                code = _child(folder, data.resolve(), beam, sentences)
                done = subprocess.run(
                    [sys.executable, "-c", code], cwd=tree, capture_output=True, text=True
                )
                if done.returncode:
                    raise RuntimeError(f"{name} ({tree}) failed:\n{done.stderr[-2000:]}")
                speeds[name].append(json.loads(done.stdout.splitlines()[-1])["sentences_per_s"])
        a_med, b_med = statistics.median(speeds["a"]), statistics.median(speeds["b"])
        label = "greedy" if beam == 1 else f"beam{beam}"
        out[label] = {
            "a": [round(x, 1) for x in speeds["a"]],
            "b": [round(x, 1) for x in speeds["b"]],
            "b_over_a": round(b_med / a_med, 2),
        }
        print(
            f"{label}: A {out[label]['a']}, B {out[label]['b']} sentences/s; B ÷ A {out[label]['b_over_a']}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.offline_ab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("a", help="TREE:VERSION_FOLDER of the build before")
    p.add_argument("b", help="TREE:VERSION_FOLDER of the build after")
    p.add_argument("--data", type=Path, default=Path("data"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sentences", type=int, default=300)
    a = p.parse_args(argv)
    run(a.a, a.b, a.data, a.rounds, a.sentences)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
