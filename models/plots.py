"""Training curves as a PNG (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_history(rows: list[dict[str, float]], path: Path, title: str) -> Path:
    """Loss curves on the left, the validation metric on the right, by epoch."""
    epochs = [r["epoch"] for r in rows]
    metric = next(k for k in rows[0] if k.startswith("valid_") and k != "valid_loss")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(epochs, [r["train_loss"] for r in rows], marker="o", label="train (objective)")
    left.plot(epochs, [r["valid_loss"] for r in rows], marker="o", label="validation")
    left.set(xlabel="epoch", ylabel="loss", title="loss")
    left.legend()
    values = [r[metric] for r in rows]
    right.plot(epochs, values, marker="o", color="tab:green")
    best = max(range(len(values)), key=values.__getitem__)
    right.scatter([epochs[best]], [values[best]], s=120, facecolors="none", edgecolors="black")
    right.annotate(
        f"best {values[best]:.3g} (epoch {epochs[best]})",
        (epochs[best], values[best]),
        textcoords="offset points",
        xytext=(0, -18),
        ha="center",
    )
    right.set(xlabel="epoch", ylabel=metric.replace("_", " "), title=metric.replace("_", " "))
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
