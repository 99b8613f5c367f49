"""``attnserve tune`` on the committed models (real ONNX Runtime): the layouts it tries,
the host it records, and the rule that lets int8 replace fp32."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runtime import tuning
from runtime.repository import load
from tests.support.server import REPOSITORY
from tests.support.versions import with_int8


def test_the_layouts_use_every_core_and_only_those() -> None:
    assert tuning.layouts(1) == [(1, 1)]
    assert tuning.layouts(2) == [(1, 2), (2, 1)]
    assert tuning.layouts(8) == [(1, 8), (2, 4), (4, 2), (8, 1)]
    assert all(w * t == 6 for w, t in tuning.layouts(6))


def test_the_host_names_what_makes_figures_comparable() -> None:
    h = tuning.host()
    assert set(h) == {"cpu", "cores", "isa", "onnxruntime"} and h["cores"] == os.cpu_count()
    assert set(h["isa"]) <= {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"}


def test_a_real_model_is_measured_at_every_precision_and_layout(tmp_path: Path) -> None:
    with_int8(tmp_path)  # the repository keeps fp32 alone
    mv = load(tmp_path, "sentiment")
    result = tuning.tune_model(mv, seconds=0.05, rounds=1, cores=2, log=lambda _: None)
    assert set(result["texts_per_s"]) == {"fp32 1x2", "fp32 2x1", "int8 1x2", "int8 2x1"}
    assert all(v > 0 for v in result["texts_per_s"].values())
    assert result["precision"] in ("fp32", "int8")
    assert result["workers"] * result["threads"] == 2 and result["why"]


@pytest.mark.parametrize(
    ("int8_speed", "drop", "chosen"),
    [(1.5, 0.5, "int8"), (1.05, 0.5, "fp32"), (1.5, 2.0, "fp32"), (1.5, None, "fp32")],
)
def test_int8_replaces_fp32_only_if_faster_here_and_within_the_quality_bar(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    int8_speed: float,
    drop: float | None,
    chosen: str,
) -> None:
    def fake(work: Any, workers: int, seconds: float) -> float:
        return {"fp32": 100.0, "int8": 100.0 * int8_speed}[work.precision] * (1 + workers)

    def probe(mv: Any, precision: str, threads: int) -> Any:
        work = lambda: 1  # noqa: E731
        work.precision = precision  # type: ignore[attr-defined]
        return work

    monkeypatch.setattr(tuning, "throughput", fake)
    monkeypatch.setattr(tuning, "_probe", probe)
    monkeypatch.setattr(tuning, "_recorded_drop", lambda mv: drop)
    with_int8(tmp_path)
    mv = load(tmp_path, "sentiment")
    result = tuning.tune_model(mv, seconds=0.01, rounds=1, cores=2, log=lambda _: None)
    assert result["precision"] == chosen
    assert (result["workers"], result["threads"]) == (2, 1)  # the faster layout, by the figures


def test_the_command_writes_the_file_the_service_reads(tmp_path: Path) -> None:
    out = tmp_path / "tuning.json"
    cmd = [
        sys.executable,
        "-m",
        "attnserve.cli",
        "tune",
        "sentiment",
        "--repository",
        str(REPOSITORY),
    ]
    done = subprocess.run(
        [*cmd, "--out", str(out), "--seconds", "0.05", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["format"] == tuning.FORMAT and data["host"] == tuning.host()
    assert set(data["models"]) == {"sentiment"} and "workers" in data["models"]["sentiment"]
    bad = subprocess.run([*cmd, "--rounds", "0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--rounds" in bad.stderr
