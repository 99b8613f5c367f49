"""Served translations against the PyTorch reference decoder, sentence for sentence.

    attnserve serve &
    python -m benchmarks.served_identity runs/en-fr --sentences 200 --clients 32

Each test sentence goes in its own request, many at a time, so the server batches them
with whatever else is queued; the reference decodes each sentence alone with
``models/decoding.py``. Needs the checkpoint the served model was exported from and its
corpus (``attnserve data``). Prints the identical count per beam size and the first
difference, if any.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import torch

from benchmarks.loadgen import each_once
from core.text.inputs import translator_source
from core.text.tokenizer import SubwordTokenizer
from export.pipeline import corpus_rows
from models import checkpoint
from models.decoding import beam_search
from models.translator import Translator


def reference(run: Path, texts: list[str], beam: int) -> list[str]:
    model, _ = checkpoint.load(run)
    assert isinstance(model, Translator)
    tok = SubwordTokenizer.load(run / "tokenizer.json")
    out = []
    for text in texts:
        ids, masked = tok.encode_masked(text)
        src = torch.tensor([translator_source(ids, model.cfg.max_len)])
        (hyp,) = beam_search(model, src, torch.ones_like(src), beam=beam, max_len=model.cfg.max_len)
        out.append(tok.decode(hyp.tokens, masked.spans))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("run", type=Path, help="the run folder the served model was exported from")
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--model", default="en-fr")
    ap.add_argument("--sentences", type=int, default=200)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--beams", default="1,4")
    args = ap.parse_args()
    torch.set_num_threads(1)
    _, meta = checkpoint.load(args.run)
    rows, _ = corpus_rows(meta, "test")
    texts = [r["source"] for r in rows[: args.sentences]]
    for beam in (int(b) for b in args.beams.split(",")):
        bodies = [{"texts": [t], "model": args.model, "beam_size": beam} for t in texts]
        run = asyncio.run(each_once(args.url, "/v1/translate", bodies, args.clients))
        if set(run.status) != {200}:
            raise SystemExit(f"beam {beam}: the server answered {sorted(set(run.status))}")
        served = [b["results"][0]["translation"] for b in run.bodies]
        want = reference(args.run, texts, beam)
        same = sum(s == w for s, w in zip(served, want, strict=True))
        print(
            f"beam {beam}: {same}/{len(texts)} served translations identical to PyTorch "
            f"({args.clients} concurrent clients, {run.seconds:.1f} s)"
        )
        for t, s, w in zip(texts, served, want, strict=True):
            if s != w:
                print(f"  first difference: {t!r}\n    served:  {s!r}\n    pytorch: {w!r}")
                break


if __name__ == "__main__":
    main()
