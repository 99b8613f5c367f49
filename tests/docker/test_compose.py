"""The compose deployment, checked statically (no Docker engine here): the compose file
validates, Prometheus' config and rules pass promtool (and the rules' unit tests), and
every metric the dashboard and the rules name is one the service really exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.settings import load_settings
from tests.docker.tools import tool
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def _run(*cmd: str) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_the_compose_file_validates_with_every_profile() -> None:
    compose = tool("docker-compose")
    _run(compose, "-f", "docker/compose.yaml", "config", "-q")
    services = _run(
        compose,
        "-f",
        "docker/compose.yaml",
        "--profile",
        "gpu",
        "--profile",
        "loadtest",
        "config",
        "--services",
    ).split()
    assert set(services) == {"attnserve", "attnserve-gpu", "prometheus", "grafana", "locust"}
    spec = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    gpu = spec["services"]["attnserve-gpu"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert spec["services"]["locust"]["profiles"] == ["loadtest"]
    for name, service in spec["services"].items():  # nothing open beyond this machine
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"
    grafana = spec["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD")
    grace = float(spec["services"]["attnserve"]["environment"]["ATTNSERVE_GRACE_PERIOD_S"])
    assert int(spec["services"]["attnserve"]["stop_grace_period"].rstrip("s")) > grace


def test_prometheus_config_and_rules_pass_promtool() -> None:
    promtool = tool("promtool")
    assert "SUCCESS" in _run(promtool, "check", "config", "docker/prometheus/prometheus.yml")
    assert "6 rules found" in _run(promtool, "check", "rules", "docker/prometheus/rules.yml")
    assert "SUCCESS" in _run(promtool, "test", "rules", "docker/prometheus/rules_test.yml")


def _exported_names() -> set[str]:
    """Every sample name the service can export, from a live app after some traffic."""
    settings = load_settings({"model_repository": ROOT / "model_repository"}, environ={})
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/v2/health/ready").status_code == 200, 60, "ready")
        client.post("/v1/classify", json={"texts": ["fine"]})
        client.post("/v1/translate", json={"texts": ["Save changes"]})
        text = client.get("/metrics").text
    names = set()
    for family in text_string_to_metric_families(text):
        if family.type != "counter":  # a counter's samples are only ever name_total
            names.add(family.name)
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        for suffix in suffixes.get(family.type, [""]):
            names.add(family.name + suffix)
    return names


def _referenced(text: str) -> set[str]:
    return set(re.findall(r"\battnserve_[a-z_]+", text))


def test_every_metric_in_the_dashboard_and_the_rules_is_exported() -> None:
    dashboard = json.loads((DOCKER / "grafana" / "dashboards" / "attnserve.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    exprs += " " + dashboard["templating"]["list"][0]["query"]
    rules = (DOCKER / "prometheus" / "rules.yml").read_text()
    used = _referenced(exprs) | _referenced(rules)
    assert len(used) >= 12
    missing = used - _exported_names()
    assert not missing, f"named in the dashboard or rules but not exported: {sorted(missing)}"


@pytest.mark.parametrize(
    "needle",
    [
        "attnserve_requests_total",
        "histogram_quantile(0.99",
        "attnserve_queue_depth",
        "attnserve_batch_size_sum",
        "attnserve_batch_padded_tokens_sum",
        "attnserve_rejections_total",
        "attnserve_generated_tokens_total",
        "attnserve_model_ready",
        "attnserve_model_info",
    ],
)
def test_the_dashboard_shows_what_operators_watch(needle: str) -> None:
    assert needle in (DOCKER / "grafana" / "dashboards" / "attnserve.json").read_text()
