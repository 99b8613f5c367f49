"""The images, checked without a Docker engine: hadolint on the Dockerfile, the stages'
contract read from it, and what the CPU image runs built and run for real — a virtual
environment made from exactly the files the image copies, with the `serve` extra only."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"

pytestmark = pytest.mark.slow


def _stages() -> dict[str, str]:
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", DOCKERFILE.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or "hadolint"
    result = subprocess.run(
        [hadolint, "--config", str(ROOT / ".hadolint.yaml"), str(DOCKERFILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_stages_are_non_root_healthchecked_services() -> None:
    stages = _stages()
    assert list(stages)[-1] == "cpu"  # `docker build .` gives the CPU image
    for name in ("cpu", "gpu"):
        body = stages[name]
        assert re.search(r"^USER 10001$", body, re.M), name
        assert "HEALTHCHECK" in body and 'CMD ["attnserve", "health"]' in body, name
        assert 'ENTRYPOINT ["attnserve", "serve"]' in body, name
        assert (
            "ATTNSERVE_HOST=0.0.0.0" in body and "COPY --chown=10001:10001 model_repository" in body
        )
        assert "pip install" not in body and "gcc" not in body  # built in the *-build stages
    assert "onnxruntime-gpu==1.31.1" in stages["gpu-build"]
    assert "ATTNSERVE_DEVICE=cuda" in stages["gpu"]


def _copy_build_context(dst: Path) -> None:
    """What .dockerignore lets into the build, and the cpu-build stage copies."""
    ignore = (ROOT / ".dockerignore").read_text()
    for name in ("pyproject.toml", "README.md"):
        assert f"!{name}" in ignore
        shutil.copy(ROOT / name, dst / name)
    stage = _stages()["cpu-build"]
    folders = re.findall(r"^COPY (\w+) \./\1$", stage, re.M)
    assert set(folders) == {"core", "runtime", "attnserve", "service"}, folders
    for name in folders:
        assert f"!{name}/" in ignore
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__"))


def test_the_cpu_image_environment_serves_without_torch(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _copy_build_context(src)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, f"{src}[serve]"], check=True, capture_output=True)
    bad = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util as u; "
            "print([m for m in ('torch', 'onnxscript', 'sacrebleu', 'models', 'export') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,  # not the repository, whose folders would be importable from the cwd
    )
    assert bad.stdout.strip() == "[]", bad.stdout

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ATTNSERVE_")},
        "ATTNSERVE_HOST": "127.0.0.1",
        "ATTNSERVE_PORT": str(port),
        "ATTNSERVE_MODEL_REPOSITORY": str(ROOT / "model_repository"),
        "ATTNSERVE_DEVICE": "cpu",
    }
    health = [str(venv / "bin" / "attnserve"), "health"]
    assert subprocess.run(health, env=env, capture_output=True).returncode == 1  # nothing yet
    server = subprocess.Popen(
        [str(venv / "bin" / "attnserve"), "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while subprocess.run(health, env=env, capture_output=True).returncode != 0:
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.2)
        r = httpx.post(f"http://127.0.0.1:{port}/v1/classify", json={"texts": ["A fine film."]})
        assert r.status_code == 200 and r.json()["results"][0]["label"] == "positive"
        # the explorer's static files are package data: installed, not only in the checkout
        for path in ("/explorer", "/explorer/static/explorer.js", "/explorer/static/heatmap.js"):
            assert httpx.get(f"http://127.0.0.1:{port}{path}").status_code == 200, path
    finally:
        server.terminate()
        assert server.wait(30) == 0
