"""LitServe on the same graph: a ``LitAPI`` with LitServe's own dynamic batching, at the
settings that measured best on 2 cores (``--batch`` 16, ``--timeout-ms`` 1, one inference
worker, one API server process; see docs/PERFORMANCE.md).

    python -m benchmarks.baselines.litserve_api --port 8102 [--repository model_repository]

One text per request (``{"texts": [text]}``, as the benchmark's one-text workload sends),
answered in attnserve's shape at ``POST /v1/classify``; ``GET /v2/health/ready`` (the
benchmark's readiness probe) answers once the worker is up. The tokenizer and the session
are ``runtime.classifier``'s, with ONNX Runtime's default threads. litserve is a
benchmark-only dependency (the ``bench`` extra).
"""

import argparse
from pathlib import Path
from typing import Any

import litserve as ls
import numpy as np

from runtime.classifier import ClassifierRuntime
from runtime.repository import load


class Classifier(ls.LitAPI):
    def __init__(self, repository: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repository = repository

    def setup(self, device: str) -> None:
        self.runtime = ClassifierRuntime(load(self.repository, "sentiment"))
        self.labels = self.runtime.labels

    # unannotated (and no postponed annotations in this module): LitServe builds its
    # endpoint from these two methods' annotations, and without them passes the JSON body
    def decode_request(self, request):  # type: ignore[no-untyped-def]
        (text,) = request["texts"]
        return str(text)

    def batch(self, inputs: list[str]) -> list[str]:
        return inputs

    def predict(self, texts: list[str]) -> np.ndarray:
        return self.runtime.forward(self.runtime.encode(texts)).probabilities  # (N, C)

    def unbatch(self, output: np.ndarray) -> list[np.ndarray]:
        return list(output)

    def encode_response(self, p: np.ndarray):  # type: ignore[no-untyped-def]  # (as above)
        best = int(np.argmax(p))
        result = {
            "label": self.labels[best],
            "score": float(p[best]),
            "probabilities": {lab: float(x) for lab, x in zip(self.labels, p, strict=True)},
        }
        return {"model": "sentiment", "results": [result]}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--port", type=int, default=8102)
    ap.add_argument("--repository", type=Path, default=Path("model_repository"))
    ap.add_argument("--batch", type=int, default=16, help="LitServe's max_batch_size")
    ap.add_argument("--timeout-ms", type=float, default=1.0, help="LitServe's batch_timeout")
    ap.add_argument("--workers", type=int, default=1, help="inference workers (processes)")
    ap.add_argument("--servers", type=int, default=1, help="API server processes")
    args = ap.parse_args()
    api = Classifier(
        args.repository.resolve(),
        max_batch_size=args.batch,
        batch_timeout=args.timeout_ms / 1000,
        api_path="/v1/classify",
    )
    server = ls.LitServer(
        api, accelerator="cpu", workers_per_device=args.workers, healthcheck_path="/v2/health/ready"
    )
    server.run(
        host="127.0.0.1",
        port=args.port,
        num_api_servers=args.servers,
        log_level="warning",
        generate_client_file=False,
    )


if __name__ == "__main__":
    main()
