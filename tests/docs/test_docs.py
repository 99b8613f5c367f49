"""The docs name only things that exist: links resolve, `make` targets are in the Makefile,
ATTNSERVE_* variables are settings, LOADTEST_* variables are read by the load tests,
metrics are ones the service exports, and repository paths are there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.metrics import Metrics
from service.settings import OTHER_VARIABLES, Settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


def _text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _text(page)):
        if not target.startswith(("http://", "https://")):
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_make_targets_exist(page: Path) -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", _text(ROOT / "Makefile"), re.M))
    for target in re.findall(r"\bmake ([a-z][a-z-]+)", _text(page)):
        assert target in targets, f"{page.name}: `make {target}` is not a Makefile target"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_settings_variables_are_settings(page: Path) -> None:
    known = {f"ATTNSERVE_{name.upper()}" for name in Settings.model_fields} | set(OTHER_VARIABLES)
    for var in set(re.findall(r"\bATTNSERVE_[A-Z_]+[A-Z]", _text(page))):
        assert var in known, f"{page.name}: {var} is not a setting"


def test_loadtest_variables_are_read_by_the_load_tests() -> None:
    code = "".join(_text(p) for p in (ROOT / "loadtest").glob("*.py"))
    read = set(re.findall(r'"(LOADTEST_[A-Z_]+)"', code))
    named = set(re.findall(r"\bLOADTEST_[A-Z_]+[A-Z]", _text(ROOT / "docs" / "loadtest.md")))
    assert named and named <= read, f"documented but never read: {sorted(named - read)}"
    assert read <= named, f"read but not documented: {sorted(read - named)}"


def test_metrics_named_are_exported() -> None:
    exported = set()
    for family in Metrics().registry.collect():
        exported |= {family.name, family.name + "_total"}
    for page in PAGES:
        for name in set(re.findall(r"\battnserve_[a-z_]+[a-z]", _text(page))):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert base in exported, f"{page.name}: {name} is not a metric of the service"


@pytest.mark.parametrize("page", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_repository_paths_exist(page: Path) -> None:
    prefixes = ("docker/", "kubernetes/", "loadtest/", "tests/", "service/", "model_repository/")
    for path in set(re.findall(r"`([a-z_]+/[\w./-]+)`", _text(page))):
        if path.startswith(prefixes) and "*" not in path:
            assert (ROOT / path).exists(), f"{page.name}: {path} does not exist"
