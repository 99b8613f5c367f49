"""The README's Serving examples, run as a reader would — the shell block with curl and the
Python script with tritonclient — against a real `attnserve serve` (only the address
changes, to the test server's free port): each prints what the README says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server, start, stop

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(
        rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S
    )


def _block(language: str, containing: str) -> str:
    found = [b for b in _blocks(language) if containing in b]
    assert len(found) == 1, f"one {language} block with {containing!r} expected, got {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(tmp_path_factory.mktemp("readme"))
    yield s
    stop(s)


def test_the_curl_examples(server: Server, tmp_path: Path) -> None:
    script = _block("bash", "localhost:8000/v1/classify").replace(
        "localhost:8000", server.host_port
    )
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert '"label":"positive"' in out.stdout and '"label":"negative"' in out.stdout
    assert '"translation":"Le fichier {name}' in out.stdout and '"alignment"' in out.stdout
    assert (tmp_path / "attention.png").read_bytes()[:4] == b"\x89PNG"
    assert '"description":' in out.stdout  # /v1/models says what each model is for
    assert "attnserve_requests_total" in out.stdout


def test_the_python_script_prints_what_its_comments_say(server: Server, tmp_path: Path) -> None:
    script = _block("python", "tritonclient").replace("localhost:8000", server.host_port)
    (tmp_path / "v2_example.py").write_text(script)
    out = subprocess.run(
        [sys.executable, "v2_example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "[b'positive' b'negative']"
    assert lines[1] == "Enregistrer les modifications"
    assert lines[2].startswith("Le fichier {name}")
