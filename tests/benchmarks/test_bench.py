"""`attnserve bench --quick` end to end on the committed models and the real test splits:
every system starts as a real process and answers, result.json holds each part, the plots
are drawn, and every target carries a measured figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_quick_bench_writes_results_and_plots(corpora: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "attnserve.cli",
            "bench",
            "--quick",
            "--data",
            str(corpora),
            "--out",
            str(out),
            "--repository",
            str(ROOT / "model_repository"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(result.stdout[-2500:])
    data = json.loads((out / "result.json").read_text())
    assert set(data["startup"]) == {"naive", "service-nobatch", "plain", "litserve", "service"}
    assert all(s["seconds"] > 0 and s["peak_rss_mib"] > 50 for s in data["startup"].values())
    for key in ("naive/classify_mixed", "service-nobatch/classify_mixed", "service/classify_mixed"):
        rows = data["sweeps"][key]
        assert {r["mode"] for r in rows} == {"closed", "open"}
        assert all(r["ok"] > 0 and not r["errors"] for r in rows), rows
    service = data["sweeps"]["service/classify_mixed"]
    assert all(r["batches"] > 0 and r["padded_over_real"] >= 1 for r in service)
    (rnd,) = data["rounds"]["classification"]
    assert rnd["ceiling"]["texts_per_s"] > 0 and rnd["service_32_texts"]["texts_per_s"] > 0
    assert rnd["ceiling"]["best_layout"] in ("1x2", "2x1") or os.cpu_count() != 2
    # the serving cost, from the kernel's counters and the engine alone
    for name in ("1_text", "v2"):  # the overhead of record: one text per request
        cost = data["overhead"][name]
        assert cost["server_cpu_ms_per_request"] > cost["engine_cpu_ms_per_request"] > 0
    # 32 texts per request: the engine alone (sorted batches at the service's mean batch
    # size) is an estimate within some 20% of what the server spent, on either side
    bulk = data["overhead"]["32_texts"]
    ratio = bulk["server_cpu_ms_per_request"] / bulk["engine_cpu_ms_per_request"]
    assert 0.5 < ratio < 2, bulk
    (peers,) = data["rounds"]["peers"]
    for system in ("service", "plain", "litserve", "naive"):
        for clients in (16, 64):
            point = peers[f"{system}/{clients}"]
            assert point["ok"] > 0 and not point["errors"], point
            assert point["server_cpu_ms_per_request"] > 0
    (tr,) = data["rounds"]["translate_beam4"]
    assert tr["reference"]["tokens_per_s"] > 0 and tr["service"]["generated_tokens_per_s"] > 0
    # CTranslate2 on the served weights: decodes like the service, then timed beside it
    assert tr["ctranslate2"]["tokens_per_s"] > 0
    assert data["batching"]["ctranslate2_greedy_identity"] == {"sentences": 200, "identical": 200}
    assert len(data["batching"]["ctranslate2_layouts_beam4"]) >= 2  # layouts tried
    targets = {t["name"]: t for t in data["targets"]}
    assert len(targets) == 14 and all(t["measured"] >= 0 for t in targets.values())
    assert any("CTranslate2 offline, beam 4" in name for name in targets)
    assert "serving overhead, ms of CPU per one-text request" in targets
    assert any(name.startswith("service / litserve") for name in targets)
    for png in ("throughput_p99.png", "batches.png", "targets.png"):
        assert (out / png).stat().st_size > 10_000
    assert "MISS" in result.stdout or "met" in result.stdout


def test_bench_refuses_missing_data_with_a_hint(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "attnserve.cli", "bench", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2 and "run `attnserve data` first" in result.stderr


def test_bench_refuses_bad_numbers(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "attnserve.cli", "bench", "--rates", "fast"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2 and "--rates takes positive numbers" in result.stderr
