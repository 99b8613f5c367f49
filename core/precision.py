"""When a lower precision may serve instead of fp32: the one rule the export (the
version's recorded default) and ``attnserve tune`` (this host's measurement) share."""

from __future__ import annotations

from typing import Any

MIN_SPEEDUP = 1.10  # int8 must be this much faster than fp32 ...
MAX_QUALITY_DROP = 1.0  # ... and lose at most this many points (accuracy %, or BLEU / chrF)


def quality_drop(task: str, fp32: dict[str, Any], other: dict[str, Any]) -> float:
    """Points lost against fp32 on the test split (the worse of BLEU and chrF at beam 4)."""
    if task == "classification":
        return 100 * (fp32["accuracy"] - other["accuracy"])
    return max(fp32["beam4"][k] - other["beam4"][k] for k in ("bleu", "chrf"))


def int8_allowed(gain: float, drop: float) -> bool:
    return gain >= MIN_SPEEDUP and drop <= MAX_QUALITY_DROP
