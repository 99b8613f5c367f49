"""How each model runs on the CPU — its precision and its engine workers × ONNX Runtime
threads per session — and where that choice came from, in this order: a setting given
explicitly (``ATTNSERVE_PRECISION``, ``ATTNSERVE_ENGINE_WORKERS``,
``ATTNSERVE_INTRA_OP_THREADS``), then the tuning file that ``attnserve tune`` measured on
this kind of host, then the defaults (the model's recorded precision; 2 workers, cores ÷
workers threads). On a GPU the tuning file does not apply."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.tuning import FORMAT, host
from service.settings import Settings

log = logging.getLogger("attnserve")


@dataclass(frozen=True)
class Layout:
    precision: str  # "auto": the model's recorded default for the device
    workers: int
    threads: int
    source: str  # settings, tuned or default; a mix names each: "precision=tuned,workers=…"

    def describe(self) -> str:
        w, t = self.workers, self.threads
        return f"{w} worker{'s' * (w != 1)} × {t} thread{'s' * (t != 1)} ({self.source})"


class Tuning:
    """The tuning file, if it exists and fits this host; else empty (and why, logged once)."""

    def __init__(self, path: Path) -> None:
        self.path, self.models, self.note = path, {}, ""
        if not path.is_file():
            self.note = f"no tuning file ({path}); run `attnserve tune` to measure this host"
            return
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            measured_on = data["host"]
            models = data["models"]
            fmt = data.get("format")
        except (OSError, ValueError, KeyError, TypeError) as e:
            self.note = f"tuning file {path} unreadable ({type(e).__name__}: {e}); ignored"
            return
        here = host()
        if fmt != FORMAT or measured_on != here:
            self.note = (
                f"tuning file {path} was measured on {measured_on}, this host is {here}: "
                "ignored (run `attnserve tune` here)"
            )
            return
        self.models = models
        self.note = f"tuning file {path}: measured here on {data.get('measured', '?')}"

    def get(self, name: str) -> dict[str, Any] | None:
        return self.models.get(name)


def layout_for(settings: Settings, name: str, tuning: Tuning, device: str) -> Layout:
    tuned = tuning.get(name) if device == "cpu" else None
    given = settings.model_fields_set
    sources = []

    def pick(setting: str, key: str, default: Any) -> Any:
        if setting in given:
            sources.append("settings")
            return getattr(settings, setting)
        if tuned is not None and key in tuned:
            sources.append("tuned")
            return tuned[key]
        sources.append("default")
        return default

    precision = pick("precision", "precision", settings.precision)
    workers = int(pick("engine_workers", "workers", settings.engine_workers))
    if "intra_op_threads" in given and settings.intra_op_threads:
        threads = settings.intra_op_threads
        sources.append("settings")
    elif tuned is not None and "engine_workers" not in given and "threads" in tuned:
        threads = int(tuned["threads"])
        sources.append("tuned")
    else:
        threads = settings.threads_for(workers)
        sources.append("default")
    if len(set(sources)) == 1:
        source = sources[0]
    else:
        source = ",".join(
            f"{k}={v}" for k, v in zip(("precision", "workers", "threads"), sources, strict=True)
        )
    return Layout(str(precision), workers, threads, source)
