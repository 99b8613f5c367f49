"""Loading one model version into a slot: found in the repository (pinned, else the
latest), validated against its manifest, its sessions made on the chosen device, its
handler built from the table below, warmed up. Runs on a worker thread; any failure
leaves the slot ``failed`` with the reason, and the other models serve."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import onnxruntime as ort

from runtime.classifier import ClassifierRuntime
from runtime.repository import ModelVersion, load, versions
from runtime.translator import TranslatorRuntime
from service.engine.handlers import ClassifierHandler, Handler, TranslatorHandler
from service.engine.layout import Layout, Tuning, layout_for
from service.engine.slot import Slot, declared_task
from service.settings import Settings

log = logging.getLogger("attnserve")

# task → the handler of a version with its layout on a device
HANDLERS: dict[str, Callable[[ModelVersion, Layout, Settings, str], Handler]] = {
    "classification": lambda mv, lay, s, device: ClassifierHandler(
        ClassifierRuntime(mv, lay.precision, device, lay.threads)
    ),
    "translation": lambda mv, lay, s, device: TranslatorHandler(
        TranslatorRuntime(mv, lay.precision, device, lay.threads),
        max_beam=s.max_beam_size,
        max_split_tokens=s.max_split_tokens,
    ),
}


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    return "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"


def load_into(slot: Slot, s: Settings, tuning: Tuning | None = None) -> None:
    """Fill ``slot`` with its version and handler (it turns ready once its batcher runs)."""
    started = time.perf_counter()
    try:
        slot.versions = versions(s.model_repository, slot.name)
        latest = slot.versions[-1] if slot.versions else None
        slot.version = s.versions.get(slot.name, latest)
        mv = load(s.model_repository, slot.name, s.versions.get(slot.name))
        slot.version, slot.task, slot.model = mv.version, mv.task, mv
        slot.device = device = resolve_device(s.device)
        if mv.task not in HANDLERS:
            raise ValueError(f"no handler for task {mv.task!r} (known: {sorted(HANDLERS)})")
        slot.layout = layout = layout_for(s, slot.name, tuning or Tuning(s.tuning_file), device)
        handler = HANDLERS[mv.task](mv, layout, s, device)
        slot.precision, slot.provider = handler.precision, handler.provider
        if s.warmup:
            handler.warmup()
        slot.handler = handler
        slot.load_seconds = round(time.perf_counter() - started, 3)
        log.info(
            "model %s v%s loaded: %s on %s (%s), %s, %.2f s",
            slot.name,
            slot.version,
            slot.task,
            slot.provider,
            slot.precision,
            layout.describe(),
            slot.load_seconds,
        )
    except Exception as e:  # any failure leaves this model failed; the others serve
        slot.state, slot.error = "failed", f"{type(e).__name__}: {e}"
        slot.task = slot.task or declared_task(s.model_repository, slot)
        log.error("model %s failed to load: %s", slot.name, slot.error)
