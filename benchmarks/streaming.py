"""Time to the first streamed token against what it cannot be faster than, side by side.

    python -m benchmarks.streaming --sources 60 --out bench-results/streaming.json

One client, greedy, test-split sources one at a time (every ``len // sources``-th). For
each source, interleaved: a raw-socket client posts it to ``/v1/translate/stream`` of a
running ``attnserve serve`` and times the first ``tokens`` event and the ``done`` event;
then, in this process on the same graphs with one ONNX Runtime thread (what one engine
worker has), the encoder on that source and the first decoder step (one row, empty cache),
best of five each. Prints the medians and the ratios the issue sets: first token ÷
(encoder + one step), and (first token − encoder) ÷ one step (target ≤ 2).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import processes, workloads
from export.measure import best_of
from runtime.repository import load
from runtime.translator import TranslatorRuntime


def _stream(port: int, text: str) -> tuple[float, float]:
    """(seconds to the first ``tokens`` event, seconds to ``done``) over one connection."""
    body = json.dumps({"text": text, "beam_size": 1}).encode()
    head = (
        "POST /v1/translate/stream HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        sock.sendall(head + body)
        got, first = b"", None
        while b"event: done" not in got and b"event: error" not in got:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
            if first is None and b"event: tokens" in got:
                first = time.perf_counter() - started
        done = time.perf_counter() - started
    if b"event: done" not in got:
        raise RuntimeError(f"the stream did not finish: {got[-300:]!r}")
    return (first if first is not None else done), done


def _offline(rt: TranslatorRuntime, text: str) -> tuple[float, float]:
    """(encoder seconds, first decoder step seconds) for this one source."""
    ((ids, _),) = rt.encode([text])
    src = np.array([ids], dtype=np.int64)
    mask = np.ones_like(src)
    k, v = rt._encode(src, mask)
    layers, heads, hs = rt.cache_shape
    empty = np.zeros((layers, 1, heads, 0, hs), dtype=np.float32)
    bos = np.array([[1]], dtype=np.int64)
    positions, past = np.zeros((1, 1), np.int64), np.zeros((1, 0), np.int64)
    encoder = best_of(lambda: rt._encode(src, mask), 5)
    step = best_of(lambda: rt._step(bos, empty, empty, k, v, mask, positions, past, top_k=21), 5)
    return encoder, step


def run(repository: Path, data: Path, sources: int, against: Path | None = None) -> dict[str, Any]:
    rows_all = workloads.test_rows(data, "en-fr")
    texts = [t["source"] for t in rows_all][:: max(1, len(rows_all) // sources)][:sources]
    rt = TranslatorRuntime(load(repository, "en-fr"), threads=1)
    logs = Path("bench-results/logs")
    servers = {"this": processes.start_service("stream", repository, logs)}
    if against is not None:
        servers["against"] = processes.start_service("stream-b", repository, logs, against)
    rows = []
    try:
        for t in texts[:5]:  # warm every side
            for s in servers.values():
                _stream(s.port, t)
            _offline(rt, t)
        for t in texts:
            row: dict[str, float] = {}
            for name, s in servers.items():  # interleaved, source by source
                first, done = _stream(s.port, t)
                prefix = "" if name == "this" else "against_"
                row.update({f"{prefix}first_s": first, f"{prefix}done_s": done})
            encoder, step = _offline(rt, t)
            rows.append({**row, "encoder_s": encoder, "step_s": step})
    finally:
        for s in servers.values():
            s.stop()

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    ms = {k: round(1000 * med(k), 3) for k in rows[0]}
    return {
        "sources": len(rows),
        "version": rt.model.version,
        "median_ms": ms,
        "first_vs_encoder_plus_step": round(med("first_s") / (med("encoder_s") + med("step_s")), 2),
        "first_minus_encoder_vs_step": round(
            (med("first_s") - med("encoder_s")) / med("step_s"), 2
        ),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.streaming", description=__doc__)
    p.add_argument("--repository", type=Path, default=Path("model_repository"))
    p.add_argument("--data", type=Path, default=Path("data"))
    p.add_argument("--sources", type=int, default=60)
    p.add_argument(
        "--against", type=Path, help="another checkout whose service is timed too, interleaved"
    )
    p.add_argument("--out", type=Path, default=Path("bench-results/streaming.json"))
    a = p.parse_args(argv)
    result = run(a.repository, a.data, a.sources, a.against)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    ms = result["median_ms"]
    print(
        f"en-fr/{result['version']}, {result['sources']} sources, greedy, one client (medians): "
        f"first token {ms['first_s']} ms, done {ms['done_s']} ms; encoder {ms['encoder_s']} ms, "
        f"one decoder step {ms['step_s']} ms"
    )
    if "against_first_s" in ms:
        print(
            f"{a.against}: first token {ms['against_first_s']} ms, done {ms['against_done_s']} ms"
        )
    print(
        f"first token ÷ (encoder + step) = {result['first_vs_encoder_plus_step']}; "
        f"(first token − encoder) ÷ step = {result['first_minus_encoder_vs_step']} (target ≤ 2)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
