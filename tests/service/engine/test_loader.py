"""Loading a version into its slot, on the committed models (real ONNX Runtime): the
handler comes from the task table; any failure leaves that slot failed, saying why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from export.repository import seal
from runtime.repository import TASKS
from service.engine.handlers import ClassifierHandler, TranslatorHandler
from service.engine.loader import HANDLERS, load_into, resolve_device
from service.engine.slot import Slot
from service.settings import load_settings
from tests.support.server import REPOSITORY


def test_each_task_gets_its_handler_warmed_up() -> None:
    s = load_settings({"model_repository": REPOSITORY}, environ={})
    for name, kind in (("sentiment", ClassifierHandler), ("en-fr", TranslatorHandler)):
        slot = Slot(name)
        load_into(slot, s)
        assert slot.error is None and isinstance(slot.handler, kind)
        latest = 3 if name == "sentiment" else 5
        assert (slot.version, slot.device, slot.provider) == (latest, "cpu", "CPUExecutionProvider")
        assert slot.precision == slot.model.config["precision"]["cpu"]  # type: ignore[union-attr]
        assert slot.load_seconds is not None and slot.load_seconds > 0


def test_a_task_without_a_handler_fails_its_slot_and_names_the_known_ones(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPOSITORY / "sentiment", repo / "sentiment")
    version = repo / "sentiment" / "3"
    cfg = json.loads((version / "config.json").read_text())
    cfg["task"] = "summarisation"
    (version / "config.json").write_text(json.dumps(cfg))
    manifest = json.loads((version / "manifest.json").read_text())
    seal(version, {k: v for k, v in manifest.items() if k not in ("format", "files")})
    slot = Slot("sentiment")
    load_into(slot, load_settings({"model_repository": repo}, environ={}))
    assert slot.state == "failed" and slot.handler is None
    assert slot.error is not None
    assert "task 'summarisation' is not one of ('classification', 'translation')" in slot.error
    assert slot.task == "summarisation"  # what the broken version claims, for the 503's words


def test_the_handler_table_covers_every_task_the_repository_takes() -> None:
    assert set(HANDLERS) == set(TASKS)


def test_a_device_named_is_the_device_used() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
