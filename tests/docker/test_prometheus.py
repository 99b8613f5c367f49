"""A real Prometheus (Debian's) scrapes a real attnserve process with the project's scrape
config and alert rules, and answers PromQL over the latency and batch-size histograms."""

from __future__ import annotations

import concurrent.futures as cf
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from benchmarks.processes import free_port
from tests.docker.tools import tool
from tests.support.server import Server, start, stop
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Server]:
    s = start(tmp_path)
    yield s
    stop(s)


@pytest.fixture
def prometheus(service: Server, tmp_path: Path) -> Iterator[str]:
    """Prometheus on loopback with docker/prometheus/prometheus.yml, its target swapped
    for the test's service and its intervals shortened."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "docker/prometheus/prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(ROOT / "docker/prometheus/rules.yml")]
    (job,) = config["scrape_configs"]
    job["static_configs"][0]["targets"] = [service.host_port]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "Prometheus never ready"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/api/v1/query", params={"query": promql})
    assert r.status_code == 200, r.text
    return list(r.json()["data"]["result"])


def test_prometheus_answers_over_the_service_histograms(service: Server, prometheus: str) -> None:
    reviews = [f"Review {i}: {'a gripping film' if i % 2 else 'a dull film'}." for i in range(120)]
    with cf.ThreadPoolExecutor(16) as pool:
        for _ in range(3):  # traffic across several scrapes
            codes = list(
                pool.map(
                    lambda t: (
                        httpx.post(f"{service.url}/v1/classify", json={"texts": [t]}).status_code
                    ),
                    reviews,
                )
            )
            assert codes == [200] * len(reviews)
            httpx.post(f"{service.url}/v1/translate", json={"texts": ["Save changes"]}, timeout=30)
            time.sleep(1.5)
    p99 = "histogram_quantile(0.99, sum by (le, model) (rate(attnserve_request_duration_seconds_bucket[1m])))"
    batch = (
        "sum by (model) (rate(attnserve_batch_size_sum[1m])) "
        "/ sum by (model) (rate(attnserve_batch_size_count[1m]))"
    )
    wait_until(lambda: _query(prometheus, p99) and _query(prometheus, batch), 30, "Prometheus", 0.5)
    latency = {r["metric"]["model"]: float(r["value"][1]) for r in _query(prometheus, p99)}
    sizes = {r["metric"]["model"]: float(r["value"][1]) for r in _query(prometheus, batch)}
    print(f"\nPromQL p99 latency (s): {latency}\nPromQL mean batch size: {sizes}")
    assert 0 < latency["sentiment"] < 30
    assert sizes["sentiment"] >= 1
    rules = httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
    (group,) = [g for g in rules if g["name"] == "attnserve"]
    assert len(group["rules"]) == 6 and all(r["health"] == "ok" for r in group["rules"])
    up = _query(prometheus, 'up{job="attnserve"}')
    assert [float(r["value"][1]) for r in up] == [1.0]


def test_the_prometheus_adapter_rule_is_answered(service: Server, prometheus: str) -> None:
    """The query the Kubernetes HPA's custom metric comes from (kubernetes/overlays/
    queue-autoscaling), with the adapter's templates filled in as it would for one pod."""
    values = yaml.safe_load(
        (ROOT / "kubernetes/overlays/queue-autoscaling/prometheus-adapter-values.yaml").read_text()
    )
    (rule,) = values["rules"]["custom"]
    series = rule["seriesQuery"].split("{")[0]
    promql = (
        rule["metricsQuery"]
        .replace("<<.Series>>", series)
        .replace("<<.LabelMatchers>>", f'instance="{service.host_port}"')
        .replace("<<.GroupBy>>", "instance")
    )
    httpx.post(f"{service.url}/v1/classify", json={"texts": ["warm"]})
    result = wait_until(lambda: _query(prometheus, promql), 30, f"an answer to {promql}", 0.5)
    print(f"\nadapter query {promql} → {result}")
    assert [r["metric"] for r in result] == [{"instance": service.host_port}]
    assert float(result[0]["value"][1]) >= 0
