"""The serving side never imports torch (its images do not carry it)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_service_modules_load_without_torch() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import service\n"
        "for m in pkgutil.walk_packages(service.__path__, 'service.'):\n"
        "    importlib.import_module(m.name)\n"
        "import service.api.heatmap as h\n"
        "h.render({'model': 'm', 'version': 1, 'tokens': ['a'], 'attention': "
        "[{'layer': 0, 'kind': 'self', 'weights': [[[1.0]]]}]}, None, None, None)\n"
        "import attnserve.text.inputs, attnserve.cli\n"
        "assert len([m for m in sys.modules if m.startswith('service.')]) >= 15\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'models', 'export'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
