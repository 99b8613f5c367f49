"""What the model repository holds: each model's versions, whether its latest version is
valid, its files and recorded figures, read from disk. Shown by ``attnserve models``; the
service's ``GET /v1/models`` reports what it serves instead (its slots)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime.repository import RepositoryError, load, models, versions


def describe(root: Path) -> list[dict[str, Any]]:
    """One entry per model: the latest version validated, or the error that stops it."""
    out = []
    for name in models(root):
        entry: dict[str, Any] = {"name": name, "versions": versions(root, name)}
        try:
            mv = load(root, name)
        except (RepositoryError, OSError) as e:
            entry.update(state="unavailable", error=str(e))
            out.append(entry)
            continue
        test = {p: m.get("test", {}) for p, m in mv.manifest.get("metrics", {}).items()}
        entry.update(
            state="valid",
            version=mv.version,
            task=mv.task,
            description=mv.config.get("description"),
            precisions=mv.precisions,
            default_precision=mv.config["precision"],
            labels=mv.config.get("labels"),
            max_input_tokens=mv.config["max_input_tokens"],
            files={f: e["bytes"] for f, e in mv.manifest["files"].items()},
            bytes=sum(e["bytes"] for e in mv.manifest["files"].values()),
            test_metrics={p: headline(mv.task, t) for p, t in test.items()},
        )
        out.append(entry)
    return out


def headline(task: str, test: dict[str, Any]) -> dict[str, float]:
    if task == "classification":
        return {k: round(test[k], 4) for k in ("accuracy", "macro_f1") if k in test}
    return {
        f"{mode}_{k}": round(test[mode][k], 2 if k != "placeholders_kept" else 4)
        for mode in ("greedy", "beam4")
        if mode in test
        for k in ("bleu", "chrf", "placeholders_kept")
    }
