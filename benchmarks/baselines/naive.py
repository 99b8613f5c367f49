"""The naive baseline: what users write first — a FastAPI endpoint that runs the PyTorch
model eagerly on each request, one request at a time, no batching.

    python -m benchmarks.baselines.naive --port 8100 [--repository model_repository] [--run runs/sentiment]

It serves the same ``POST /v1/classify`` body and answer shape as attnserve (so the same
load drives both) and ``GET /v2/health/ready``. The weights are the served model's: a
trained run folder if given, else read back out of the committed ONNX graph and checked
against ONNX Runtime (export/recover.py).
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from core.text.inputs import classifier_input
from export import recover


class ClassifyRequest(BaseModel):
    texts: list[str]
    model: str = "sentiment"
    truncate: bool = True


def create_app(repository: Path, run: Path | None = None) -> FastAPI:
    model, tokenizer, config = recover.load(repository, "sentiment", run=run)
    labels, max_len = config["labels"], int(config["max_input_tokens"])
    lock = threading.Lock()  # one request at a time: the model is not shared
    app = FastAPI(title="naive PyTorch baseline")

    @app.get("/v2/health/ready")
    def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.post("/v1/classify")
    def classify(req: ClassifyRequest) -> dict[str, object]:
        results = []
        with lock, torch.inference_mode():
            for text in req.texts:  # each text on its own, as a first version does
                ids = classifier_input(tokenizer.encode(text), max_len)
                x = torch.tensor([ids])
                probs = torch.softmax(model(x, torch.ones_like(x))[0], -1)[0].tolist()
                best = max(range(len(labels)), key=probs.__getitem__)
                results.append(
                    {
                        "label": labels[best],
                        "score": probs[best],
                        "probabilities": dict(zip(labels, probs, strict=True)),
                    }
                )
        return {"model": "sentiment", "results": results}

    return app


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--repository", type=Path, default=Path("model_repository"))
    ap.add_argument("--run", type=Path, help="a trained run folder (runs/sentiment) instead")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    uvicorn.run(
        create_app(args.repository, args.run), host=args.host, port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
