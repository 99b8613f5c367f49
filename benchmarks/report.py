"""result.json as Markdown tables (written beside it as report.md), so that documented
figures are copied from a run, never typed."""

from __future__ import annotations

import statistics
from typing import Any


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    return [_row(head), _row(["---"] * len(head)), *(_row(r) for r in rows)]


def markdown(data: dict[str, Any]) -> str:
    m = data["machine"]
    out = [
        f"Run of {m['date']} on {m['cores']} × {m['cpu']}, Python {m['python']}, "
        f"ONNX Runtime {m['onnxruntime']} ({', '.join(m['providers'])}); {data['seconds']:.0f} s.",
        "",
        "### Targets",
        "",
    ]
    out += _table(
        ["target", "measured", "goal", "met", "how"],
        [
            [
                t["name"],
                f"{t['measured']:g}",
                ("≥ " if t["higher_is_better"] else "≤ ") + f"{t['goal']:g}",
                "yes" if t["met"] else "**no**",
                t["detail"],
            ]
            for t in data["targets"]
        ],
    )
    out += ["", "### Start-up and memory", ""]
    out += _table(
        ["system", "start to ready (s)", "resident after the run (MiB)", "peak (MiB)"],
        [
            [k, v["seconds"], v.get("rss_mib"), v.get("peak_rss_mib")]
            for k, v in data["startup"].items()
        ],
    )
    out += ["", "### Sweeps (classification, mixed lengths, 1 text per request)", ""]
    rows = []
    for key, points in data["sweeps"].items():
        for r in points:
            load = (
                f"{r['load']:g} clients"
                if r["mode"] == "closed"
                else f"{r['load']:g} req/s offered"
            )
            rows.append(
                [
                    key.replace("/", " · "),
                    load,
                    f"{r['throughput']:.0f}",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p95_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    r.get("mean_batch_size") or "",
                    r.get("padded_over_real") or "",
                    sum(r["errors"].values()) if r["errors"] else 0,
                ]
            )
    out += _table(
        [
            "system · workload",
            "load",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "batch",
            "padded/real",
            "errors",
        ],
        rows,
    )
    cls = data["rounds"].get("classification", [])
    if cls:
        bulk_key = next(
            k
            for k in cls[0]
            if k.startswith("service_") and k.endswith("_texts") and k != "service_1_text"
        )
        out += ["", "### Against the ceiling (interleaved rounds)", ""]
        out += _table(
            [
                "round",
                "ceiling texts/s (batch, workers x threads)",
                "service, 1 text/request",
                f"service, {bulk_key.split('_')[1]} texts/request",
            ],
            [
                [
                    i + 1,
                    f"{r['ceiling']['texts_per_s']:.0f} ({r['ceiling']['best_batch_size']}, {r['ceiling']['best_layout']})",
                    f"{r['service_1_text']['texts_per_s']:.0f} ({r['service_1_text']['texts_per_s'] / r['ceiling']['texts_per_s']:.2f})",
                    f"{r[bulk_key]['texts_per_s']:.0f} ({r[bulk_key]['texts_per_s'] / r['ceiling']['texts_per_s']:.2f})",
                ]
                for i, r in enumerate(cls)
            ],
        )
    if data.get("overhead"):
        out += ["", "### What a request costs the server (CPU, medians of the rounds)", ""]
        out += [
            "Server: the kernel's counters for the service process over the point, per request "
            "answered. Engine alone: ONNX Runtime on the same graph and texts, in the bench "
            "process, at the batch size the service formed, with its threads. Overhead: the "
            "difference — HTTP, JSON, validation, queueing, tokenising, answers, metrics, logs.",
            "",
        ]
        out += _table(
            ["workload", "server ms/request", "engine alone ms/request", "overhead ms/request"],
            [
                [
                    name.replace("_", " "),
                    f"{v['server_cpu_ms_per_request']:.3f}",
                    f"{v['engine_cpu_ms_per_request']:.3f}",
                    f"{v['overhead_ms_per_request']:.3f}",
                ]
                for name, v in data["overhead"].items()
            ],
        )
    peers = data["rounds"].get("peers", [])
    if peers:
        out += ["", "### Peers on the same graph (1 text per request, interleaved rounds)", ""]
        rows = []
        for i, r in enumerate(peers):
            for key, v in r.items():
                system, clients = key.split("/")
                rows.append(
                    [
                        i + 1,
                        system,
                        clients,
                        f"{v['throughput']:.0f}",
                        f"{v['p50_ms']:.1f}",
                        f"{v['p99_ms']:.1f}",
                        f"{v.get('server_cpu_ms_per_request', 0):.2f}",
                    ]
                )
        out += _table(
            ["round", "system", "clients", "req/s", "p50 ms", "p99 ms", "server CPU ms/request"],
            rows,
        )
    for name in ("translate_greedy", "translate_beam4"):
        rounds = data["rounds"].get(name, [])
        if not rounds:
            continue
        out += ["", f"### Translation, {name.split('_')[1]} (interleaved rounds)", ""]
        ratios = []
        rows = []
        for i, r in enumerate(rounds):
            served = r["service"].get("generated_tokens_per_s") or 0
            ratios.append(served / r["reference"]["tokens_per_s"])
            rows.append(
                [
                    i + 1,
                    f"{served:.0f}",
                    f"{r['service']['p99_ms']:.0f}",
                    f"{r['reference']['tokens_per_s']:.0f}",
                    f"{ratios[-1]:.2f}",
                ]
            )
        out += _table(
            [
                "round",
                "service tokens/s (32 clients)",
                "service p99 ms",
                "PyTorch reference tokens/s",
                "ratio",
            ],
            rows,
        )
        out += ["", f"Median ratio {statistics.median(ratios):.2f}."]
    if data.get("batching"):
        b = data["batching"]
        out += [
            "",
            f"Batching on / off, best throughput of each sweep: {b['batching_over_no_batching']}× "
            f"(off: {b['no_batching_best_req_per_s']:.0f} req/s).",
        ]
    return "\n".join(out) + "\n"
