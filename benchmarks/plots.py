"""The benchmark's pictures, drawn from result.json alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {"service": "tab:blue", "service-nobatch": "tab:orange", "naive": "tab:red"}


def throughput_latency(data: dict[str, Any], path: Path) -> Path:
    """Throughput against p99 latency, one line per system and loop kind."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, mode, title in zip(
        axes, ("closed", "open"), ("fixed concurrency", "fixed arrival rate"), strict=True
    ):
        for key, rows in data["sweeps"].items():
            system, workload = key.split("/")
            if workload != "classify_mixed":
                continue
            pts = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["load"])
            if not pts:
                continue
            ax.plot(
                [r["throughput"] for r in pts],
                [r["p99_ms"] for r in pts],
                "o-",
                color=COLOURS.get(system),
                label=system,
            )
            for r in pts:
                ax.annotate(
                    f"{r['load']:g}",
                    (r["throughput"], r["p99_ms"]),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        ax.set_title(f"classification, 1 text per request — {title}")
        ax.set_xlabel("answered requests per second")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("p99 latency (ms, log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def batches(data: dict[str, Any], path: Path) -> Path:
    """The service's batch sizes (summed over its sweep) and padding per sweep point."""
    rows = data["sweeps"].get("service/classify_mixed", [])
    hist: dict[str, float] = {}
    for r in rows:
        for le, n in (r.get("batch_size_histogram") or {}).items():
            hist[le] = hist.get(le, 0.0) + n
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    edges = [le for le in sorted(hist, key=float) if hist[le] > 0 or float(le) <= 64]
    left.bar(range(len(edges)), [hist[le] for le in edges], color="tab:blue")
    left.set_xticks(range(len(edges)), [f"≤{float(le):g}" for le in edges], rotation=45)
    left.set_title("texts per batch (service, whole sweep)")
    left.set_ylabel("batches")
    labels = [f"{r['mode'][0]}{r['load']:g}" for r in rows]
    right.plot(labels, [r.get("padded_over_real") or 1 for r in rows], "o-", color="tab:blue")
    right.axhline(1.15, color="tab:blue", ls="--", lw=1)
    right.set_ylabel("padded / real tokens (dashed: target 1.15)", color="tab:blue")
    right.set_ylim(0.95, max(1.3, *(r.get("padded_over_real") or 1 for r in rows)) + 0.05)
    twin = right.twinx()
    twin.plot(labels, [r.get("mean_batch_size") or 0 for r in rows], "s-", color="tab:orange")
    twin.set_ylabel("mean texts per batch", color="tab:orange")
    right.set_title("per sweep point (c = clients, o = requests/s offered)")
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def targets(data: dict[str, Any], path: Path) -> Path:
    """Each target's measured value as a share of its goal (≥ 1 is met)."""
    ts = data["targets"]
    shares = [
        t["measured"] / t["goal"] if t["higher_is_better"] else t["goal"] / t["measured"]
        for t in ts
    ]
    fig, ax = plt.subplots(figsize=(12, 0.6 * len(ts) + 1.2))
    colours = ["tab:green" if t["met"] else "tab:red" for t in ts]
    ax.barh([t["name"] for t in ts], shares, color=colours)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xlim(0, max(shares) * 1.45)
    for i, t in enumerate(ts):
        ax.text(shares[i], i, f"  {t['measured']:g} (goal {t['goal']:g})", va="center", fontsize=8)
    ax.set_xlabel("measured / goal (≥ 1 met; for 'at most' goals, goal / measured)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw(data: dict[str, Any], out: Path) -> list[Path]:
    return [
        throughput_latency(data, out / "throughput_p99.png"),
        batches(data, out / "batches.png"),
        targets(data, out / "targets.png"),
    ]
