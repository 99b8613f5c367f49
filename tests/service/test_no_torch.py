"""The serving side never imports torch (its images do not carry it)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_service_modules_load_without_torch() -> None:
    code = (
        "import sys\n"
        "import service.catalog, service.repository\n"
        "import service.runtime.beam, service.runtime.classifier, service.runtime.translator\n"
        "import attnserve.text.inputs\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'models', 'export'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
