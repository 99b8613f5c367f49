"""The architecture, checked: the layers point down only (every module's imports read,
lazy ones included), and the foundation, the runtime and the serving side never import
torch, nor the training or export sides (the serving images carry none of them)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_service_modules_load_without_torch() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import core, runtime, service\n"
        "for pkg in (core, runtime, service):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "import service.api.heatmap as h\n"
        "h.render({'model': 'm', 'version': 1, 'tokens': ['a'], 'attention': "
        "[{'layer': 0, 'kind': 'self', 'weights': [[[1.0]]]}]}, None, None, None)\n"
        "import attnserve.cli\n"
        "assert len([m for m in sys.modules if m.startswith('service.')]) >= 15\n"
        "assert len([m for m in sys.modules if m.startswith(('core.', 'runtime.'))]) >= 12\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'models', 'export'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# Which sides each side may import (lazy imports inside functions included); the command
# line, the benchmarks and the load tests sit on top and import across freely.
ALLOWED = {
    "core": set(),
    "runtime": {"core"},
    "service": {"core", "runtime"},
    "models": {"core"},
    "export": {"core", "models", "runtime"},
}
SIDES = {*ALLOWED, "attnserve", "benchmarks", "loadtest"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out & SIDES


@pytest.mark.parametrize("side", sorted(ALLOWED))
def test_layers_point_down_only(side: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(found)
        for path in sorted((ROOT / side).rglob("*.py"))
        if (found := _imports(path) - ALLOWED[side] - {side})
    }
    assert not wrong, f"imports that point up or across: {wrong}"


def test_the_layering_check_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from service.app import create_app\n    import export\n")
    assert _imports(module) == {"service", "export"}


@pytest.mark.parametrize("side", ["core", "runtime", "service"])
def test_modules_stay_readable_in_one_sitting(side: str) -> None:
    """At most 300 lines a module (service/settings.py, a table of settings, aside)."""
    long = {
        str(path.relative_to(ROOT)): n
        for path in sorted((ROOT / side).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 300
        and path != ROOT / "service" / "settings.py"
    }
    assert not long, f"modules over 300 lines: {long}"
