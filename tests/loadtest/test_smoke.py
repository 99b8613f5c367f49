"""A headless locust smoke run (≤ 30 s, loopback, modest constant rate) against a real
server, with the mix drawn from the real test splits: zero failures, every task ran,
locust wrote its CSV and HTML reports, and separate requests shared batches."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.processes import delta, scrape
from tests.support.server import start, stop

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

TASKS = {
    "classify short",
    "classify long",
    "translate greedy",
    "translate beam 4",
    "attention",
    "v2 infer sentiment",
    "v2 infer en-fr",
}


def test_locust_smoke_run(corpora: Path, tmp_path: Path) -> None:
    # a 50 ms window, so that requests at this modest rate meet in batches (with locust's
    # evenly paced users a 5 ms one caught too few on some hosts, 20 ms barely enough)
    server = start(tmp_path, ATTNSERVE_MAX_WAIT_MS="50")
    try:
        before = scrape(server.url)
        reports = tmp_path / "reports"
        reports.mkdir()
        env = {
            **os.environ,
            "LOADTEST_DATA": str(corpora),
            "LOADTEST_SHAPE": "constant",
            "LOADTEST_RATE": "60",
            "LOADTEST_USERS": "12",
            "LOADTEST_SECONDS": "15",
        }
        locust = Path(sys.executable).parent / "locust"
        result = subprocess.run(
            [
                str(locust),
                "-f",
                str(ROOT / "loadtest" / "locustfile.py"),
                "--headless",
                "-H",
                server.url,
                "--only-summary",
                "--csv",
                str(reports / "smoke"),
                "--html",
                str(reports / "smoke.html"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        after = scrape(server.url)
    finally:
        stop(server)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "English sources from the test splits" in result.stdout + result.stderr
    with (reports / "smoke_stats.csv").open() as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    total = rows["Aggregated"]
    requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    rate = float(total["Requests/s"])
    assert set(rows) - {"Aggregated"} == TASKS

    served = delta(before, after, "attnserve_requests_total", model="sentiment")
    batches = delta(before, after, "attnserve_batch_size_count", model="sentiment")
    texts = delta(before, after, "attnserve_batch_size_sum", model="sentiment")
    print(
        f"\nlocust smoke: {requests} requests ({rate:.1f}/s), {failures} failures, "
        f"p50 {total['50%']} ms, p99 {total['99%']} ms; sentiment: {served:.0f} requests, "
        f"{texts:.0f} texts in {batches:.0f} batches (mean {texts / batches:.2f})"
    )
    assert failures == 0 and requests > 300
    assert 30 < rate < 90  # the constant shape held its pace
    # Fewer batches than requests: separate requests shared batches.
    assert batches < 0.95 * served, "requests were not batched together"
    assert (reports / "smoke.html").stat().st_size > 10_000
