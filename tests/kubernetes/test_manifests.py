"""The Kubernetes manifests, checked without a cluster: every kustomization renders
(`kubectl kustomize`), every object validates strictly against the Kubernetes schemas
(kubernetes-validate, offline), and the pieces agree with each other and with the service —
probes on real health routes, ports, selectors, the drain inside the grace period, every
setting one the service accepts, metrics it exports, alerts equal to the compose ones."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from kubernetes_validate import utils as k8s

from service.app import create_app
from service.settings import Settings, load_settings
from tests.docker.tools import tool
from tests.service.conftest import wait_ready

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "kubernetes"
# The oldest Kubernetes the manifests promise to work on, and the newest schemas we have.
VERSIONS = ("1.29.0", k8s.latest_version())
KUSTOMIZATIONS = ("base", "overlays/gpu", "overlays/queue-autoscaling", "monitoring")
CUSTOM = {"monitoring.coreos.com/v1", "serving.kserve.io/v1beta1"}  # CRDs: checked below


def render(folder: str) -> dict[str, dict[str, Any]]:
    """`kubectl kustomize` of a folder, as {kind: object} (one object of each kind)."""
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(K8S / folder)], capture_output=True, text=True
    )
    assert result.returncode == 0, f"kubectl kustomize {folder}: {result.stderr}"
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    kinds = [o["kind"] for o in objects]
    assert len(set(kinds)) == len(kinds), kinds
    return {o["kind"]: o for o in objects}


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, dict[str, Any]]]:
    return {folder: render(folder) for folder in KUSTOMIZATIONS}


def _validate(obj: dict[str, Any]) -> None:
    for version in VERSIONS:
        k8s.validate(obj, version, strict=True)  # raises with the field and the schema


def test_every_object_validates_against_the_kubernetes_schemas(
    rendered: dict[str, dict[str, dict[str, Any]]],
) -> None:
    checked = 0
    for folder, objects in rendered.items():
        for obj in objects.values():
            if obj["apiVersion"] in CUSTOM:
                continue
            try:
                _validate(obj)
            except k8s.ValidationError as e:
                pytest.fail(f"{folder}: {obj['kind']}: {e.message} at {list(e.absolute_path)}")
            checked += 1
    assert checked >= 15


def test_a_schema_violation_is_caught() -> None:
    deployment = render("base")["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8000"
    with pytest.raises(k8s.ValidationError):
        _validate(deployment)


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    (container,) = obj["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _settings_env(objects: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The container's environment: the settings ConfigMap, then its own env entries."""
    container = _container(objects["Deployment"])
    (source,) = container["envFrom"]
    config = objects["ConfigMap"]
    assert source["configMapRef"]["name"] == config["metadata"]["name"]  # hashed name followed
    env = dict(config["data"])
    env.update({e["name"]: e["value"] for e in container.get("env", [])})
    return env


@cache
def _answers_200(path: str) -> bool:
    """Whether the service (in-process, on the committed models, once ready) answers GET path."""
    settings = load_settings({"model_repository": ROOT / "model_repository"}, environ={})
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        return client.get(path).status_code == 200


def _check_pod_contract(
    spec: dict[str, Any], container: dict[str, Any], env: dict[str, str]
) -> Settings:
    """What every attnserve pod needs, wherever it is declared."""
    settings = load_settings(
        environ={k: v for k, v in env.items() if k.startswith("ATTNSERVE_")}
    )  # every ATTNSERVE_* is a real setting, and they do not contradict each other
    assert settings.host == "0.0.0.0"
    ports = {p.get("name", p["containerPort"]): p["containerPort"] for p in container["ports"]}
    assert list(ports.values()) == [settings.port]
    probes = {k: container[k]["httpGet"] for k in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/v2/health/live"
    assert probes["readinessProbe"]["path"] == "/v2/health/ready"
    for probe in probes.values():
        assert _answers_200(probe["path"]), probe
        assert probe["port"] in ports or probe["port"] == settings.port
    # SIGTERM comes after preStop; the drain must end before the kubelet's SIGKILL.
    sleep = float(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert spec["terminationGracePeriodSeconds"] > sleep + settings.grace_period_s
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"]
    assert {"name": "MPLCONFIGDIR", "value": "/tmp/matplotlib"} in container["env"]
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])
    return settings


def test_the_base_deployment_serves_as_the_service_expects(
    rendered: dict[str, dict[str, dict[str, Any]]],
) -> None:
    objects = rendered["base"]
    deployment, container = objects["Deployment"], _container(objects["Deployment"])
    settings = _check_pod_contract(
        deployment["spec"]["template"]["spec"], container, _settings_env(objects)
    )
    assert settings.device == "auto" and container["image"] == "attnserve:cpu"
    assert "USER 10001" in (ROOT / "Dockerfile").read_text()  # the image's user
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        objects["Service"]["spec"]["selector"],
        objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= pod_labels.items()
    (port,) = objects["Service"]["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (metric,) = objects["HorizontalPodAutoscaler"]["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    cpus = settings.engine_workers * settings.intra_op_threads  # explicit: no automatic split
    assert container["resources"]["requests"]["cpu"] == str(cpus)


def test_the_gpu_overlay_asks_for_a_gpu_and_cuda(
    rendered: dict[str, dict[str, dict[str, Any]]],
) -> None:
    objects = rendered["overlays/gpu"]
    container = _container(objects["Deployment"])
    settings = _check_pod_contract(
        objects["Deployment"]["spec"]["template"]["spec"], container, _settings_env(objects)
    )
    assert settings.device == "cuda"
    assert container["image"] == "attnserve:gpu"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert objects["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 4


def _exported_metric_names() -> set[str]:
    from service.metrics import Metrics

    return {m.name for m in Metrics().registry.collect()}


def test_queue_depth_autoscaling_uses_a_metric_the_service_exports(
    rendered: dict[str, dict[str, dict[str, Any]]],
) -> None:
    (metric,) = rendered["overlays/queue-autoscaling"]["HorizontalPodAutoscaler"]["spec"]["metrics"]
    name = metric["pods"]["metric"]["name"]
    assert name in _exported_metric_names()
    values = yaml.safe_load(
        (K8S / "overlays/queue-autoscaling/prometheus-adapter-values.yaml").read_text()
    )
    (rule,) = values["rules"]["custom"]
    assert rule["name"]["as"] == name and rule["seriesQuery"].startswith(name + "{")


def test_monitoring_scrapes_the_pods_and_alerts_as_compose_does(
    rendered: dict[str, dict[str, dict[str, Any]]],
) -> None:
    monitor = rendered["monitoring"]["PodMonitor"]
    deployment = rendered["base"]["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in {p["name"] for p in _container(deployment)["ports"]}
    assert _answers_200(endpoint["path"])
    assert {"targetLabel": "job", "replacement": "attnserve"} in endpoint["relabelings"]
    rule = rendered["monitoring"]["PrometheusRule"]
    compose = yaml.safe_load((ROOT / "docker/prometheus/rules.yml").read_text())
    assert rule["spec"] == compose, "kubernetes/monitoring/prometheusrule.yaml ≠ rules.yml"


def test_the_kserve_predictor_is_a_valid_pod_that_speaks_v2() -> None:
    (isvc,) = yaml.safe_load_all((K8S / "kserve/inferenceservice.yaml").read_text())
    assert (isvc["apiVersion"], isvc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    predictor = dict(isvc["spec"]["predictor"])
    assert predictor.pop("minReplicas") <= predictor.pop("maxReplicas")
    # The predictor embeds a PodSpec: validate it as one.
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": predictor}
    _validate(pod)
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container"
    env = {e["name"]: e["value"] for e in container["env"]}
    settings = _check_pod_contract(predictor, container, env)
    assert settings.port == 8080
