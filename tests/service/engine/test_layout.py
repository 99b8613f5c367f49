"""Each model's layout: a setting given explicitly, else the tuning file measured on this
kind of host, else the defaults — and a file from another host is ignored, with why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runtime.tuning import FORMAT, host
from service.engine.layout import Tuning, layout_for
from service.settings import load_settings


def _file(tmp_path: Path, measured_on: dict[str, Any] | None = None, **model: Any) -> Path:
    path = tmp_path / "tuning.json"
    entry = {"version": 1, "precision": "int8", "workers": 1, "threads": 2, **model}
    data = {"format": FORMAT, "host": measured_on or host(), "models": {"sentiment": entry}}
    path.write_text(json.dumps(data))
    return path


def _settings(**values: Any) -> Any:
    return load_settings(values, environ={})


def test_the_tuned_layout_is_used_on_the_host_it_was_measured_on(tmp_path: Path) -> None:
    tuning = Tuning(_file(tmp_path))
    lay = layout_for(_settings(), "sentiment", tuning, "cpu")
    assert (lay.precision, lay.workers, lay.threads, lay.source) == ("int8", 1, 2, "tuned")
    other = layout_for(_settings(), "en-fr", tuning, "cpu")  # not measured: the defaults
    assert other.source == "default" and other.precision == "auto"
    assert "measured here" in tuning.note


def test_settings_given_explicitly_win_over_the_file(tmp_path: Path) -> None:
    tuning = Tuning(_file(tmp_path))
    lay = layout_for(_settings(precision="fp32", engine_workers=2), "sentiment", tuning, "cpu")
    assert (lay.precision, lay.workers) == ("fp32", 2)
    assert lay.threads == _settings().threads_for(2)  # the tuned threads fit 1 worker only
    assert lay.source == "precision=settings,workers=settings,threads=default"
    lay = layout_for(_settings(intra_op_threads=3), "sentiment", tuning, "cpu")
    assert (lay.precision, lay.workers, lay.threads) == ("int8", 1, 3)


def test_a_file_from_another_host_or_broken_is_ignored_and_says_why(tmp_path: Path) -> None:
    elsewhere = {**host(), "isa": ["avx512_vnni"], "cpu": "another CPU"}
    tuning = Tuning(_file(tmp_path, measured_on=elsewhere))
    assert tuning.get("sentiment") is None and "another CPU" in tuning.note
    assert layout_for(_settings(), "sentiment", tuning, "cpu").source == "default"
    (tmp_path / "tuning.json").write_text("{not json")
    broken = Tuning(tmp_path / "tuning.json")
    assert broken.get("sentiment") is None and "unreadable" in broken.note
    missing = Tuning(tmp_path / "none.json")
    assert missing.get("sentiment") is None and "attnserve tune" in missing.note


def test_a_gpu_does_not_take_a_cpu_measurement(tmp_path: Path) -> None:
    lay = layout_for(_settings(), "sentiment", Tuning(_file(tmp_path)), "cuda")
    assert lay.source == "default" and lay.precision == "auto"


def test_the_service_serves_the_tuned_layout_and_reports_it(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from service.app import create_app
    from tests.service.conftest import REPOSITORY, wait_ready

    settings = load_settings(
        {"model_repository": REPOSITORY, "tuning_file": _file(tmp_path, precision="fp32")},
        environ={},
    )
    with TestClient(create_app(settings)) as c:
        wait_ready(c)
        models = {m["name"]: m for m in c.get("/v1/models").json()["models"]}
        assert models["sentiment"]["layout"] == {"workers": 1, "threads": 2, "source": "tuned"}
        assert models["en-fr"]["layout"]["source"] == "default"
        slot = c.app.state.registry.get("sentiment")  # type: ignore[attr-defined]
        assert slot.batcher.limits.workers == 1
        session = slot.handler.runtime.session
        assert session.get_session_options().intra_op_num_threads == 2
        metrics = c.get("/metrics").text
        assert 'layout="tuned",model="sentiment",precision="fp32"' in metrics
        assert 'threads="2"' in metrics and 'workers="1"' in metrics
