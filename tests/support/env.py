"""The environment the docs describe: every ``ATTNSERVE_*`` variable the README and
``docs/`` name, each with a value that works (the documented default, or an example where
the default is "(none)")."""

from __future__ import annotations

import re
from pathlib import Path

from service.settings import describe

ROOT = Path(__file__).resolve().parents[2]
# A value for each documented variable whose default is "(none)"; the others take their
# documented default.
EXAMPLES = {
    "ATTNSERVE_VERSIONS": "sentiment:1",
    "ATTNSERVE_API_KEYS": "an-api-key-of-32-characters-long",
    "ATTNSERVE_CORS_ORIGINS": "http://localhost:3000",
    "ATTNSERVE_CACHE": "/tmp/attnserve-cache",
}


def documented_variables(api_keys_file: Path) -> dict[str, str]:
    """Every ATTNSERVE_* variable the README and docs/ name, with a value that works."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = set()
    for page in pages:
        named |= set(re.findall(r"\bATTNSERVE_[A-Z_]+[A-Z]", page.read_text(encoding="utf-8")))
    defaults = {var: default for var, default, _ in describe()}
    env = {}
    for var in sorted(named):
        if var == "ATTNSERVE_API_KEYS_FILE":
            env[var] = str(api_keys_file)
        elif var in EXAMPLES:
            env[var] = EXAMPLES[var]
        else:
            env[var] = defaults[var]
    return env
