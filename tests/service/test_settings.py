"""One typed settings object: defaults, ATTNSERVE_* variables, flags, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import OTHER_VARIABLES, SettingsError, describe, load_settings
from tests.support.env import documented_variables


def test_defaults() -> None:
    s = load_settings(environ={})
    assert (s.host, s.port, s.model_repository) == ("127.0.0.1", 8000, Path("model_repository"))
    assert s.device == "auto" and s.max_beam_size == 8 and s.max_wait_s == 0.0


def test_environment_then_flags() -> None:
    env = {
        "ATTNSERVE_PORT": "9000",
        "ATTNSERVE_MAX_BATCH_SIZE": "64",
        "ATTNSERVE_VERSIONS": "en-fr:3, sentiment:1",
    }
    s = load_settings({"port": 9100, "host": None}, environ=env)
    assert s.port == 9100 and s.max_batch_size == 64 and s.host == "127.0.0.1"
    assert s.versions == {"en-fr": 3, "sentiment": 1}


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"ATTNSERVE_PORTT": "1"}, "ATTNSERVE_PORTT is not a setting"),
        ({"ATTNSERVE_PORT": "eighty"}, "ATTNSERVE_PORT"),
        ({"ATTNSERVE_DEVICE": "tpu"}, "ATTNSERVE_DEVICE"),
        ({"ATTNSERVE_MAX_BATCH_SIZE": "0"}, "ATTNSERVE_MAX_BATCH_SIZE"),
        ({"ATTNSERVE_VERSIONS": "en-fr"}, "name:version"),
        ({"ATTNSERVE_REQUEST_TIMEOUT_S": "500"}, "exceeds max_timeout_s"),
        ({"ATTNSERVE_MAX_QUEUE": "8", "ATTNSERVE_MAX_TEXTS": "16"}, "could never be queued"),
    ],
)
def test_bad_settings_stop_with_the_variable_named(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings(environ=env)


def test_every_setting_is_documented() -> None:
    rows = describe()
    assert len(rows) >= 20
    assert all(var.startswith("ATTNSERVE_") and text for var, _, text in rows)


def test_the_readme_documents_every_setting_with_its_default() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for var, default, _ in describe():
        assert f"| `{var}` | `{default}` |" in readme, f"README lacks {var} (default {default})"


def test_every_documented_variable_can_be_set_while_serving(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("another-api-key-of-32-characters\n")
    env = documented_variables(keys)
    assert set(OTHER_VARIABLES) <= set(env), "a variable of another command is undocumented"
    assert {var for var, _, _ in describe()} <= set(env)
    s = load_settings(environ=env)
    assert s.versions == {"sentiment": 1} and len(s.keys()) == 2
    # a typo of a setting still stops the service
    with pytest.raises(SettingsError, match="ATTNSERVE_CACHES is not a setting"):
        load_settings(environ={**env, "ATTNSERVE_CACHES": "x"})
