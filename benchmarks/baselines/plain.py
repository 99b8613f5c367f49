"""The plain ONNX Runtime endpoint: what a user writes first with ONNX Runtime — a FastAPI
``def`` endpoint (so FastAPI's thread pool runs it) that tokenises the request's texts and
runs the session once per request. No batching across requests, no queue, no limits.

    python -m benchmarks.baselines.plain --port 8101 [--repository model_repository]

The same graph, tokenizer and input rule as attnserve (``runtime.classifier``), ONNX
Runtime's default threads; the same ``POST /v1/classify`` body and answer shape, and
``GET /v2/health/ready``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from runtime.classifier import ClassifierRuntime
from runtime.repository import load


class ClassifyRequest(BaseModel):
    texts: list[str]
    model: str = "sentiment"


def create_app(repository: Path) -> FastAPI:
    runtime = ClassifierRuntime(load(repository, "sentiment"))
    labels = runtime.labels
    app = FastAPI(title="plain ONNX Runtime endpoint")

    @app.get("/v2/health/ready")
    def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.post("/v1/classify")
    def classify(req: ClassifyRequest) -> dict[str, object]:
        probabilities = runtime.forward(runtime.encode(req.texts)).probabilities  # (N, C)
        results = []
        for p in probabilities:
            best = int(np.argmax(p))
            results.append(
                {
                    "label": labels[best],
                    "score": float(p[best]),
                    "probabilities": {lab: float(x) for lab, x in zip(labels, p, strict=True)},
                }
            )
        return {"model": "sentiment", "results": results}

    return app


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8101)
    ap.add_argument("--repository", type=Path, default=Path("model_repository"))
    args = ap.parse_args()
    uvicorn.run(create_app(args.repository), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
