"""Structured logs and request ids: unit checks of the formatter, and a real server whose
log file is read back line by line."""

from __future__ import annotations

import json
import logging
import os
import pty
import re
import select
import subprocess
import sys
import time

import httpx
import pytest

from benchmarks.processes import free_port
from service.logs import JsonFormatter, TextFormatter, new_request_id, request_id, resolve_format
from tests.service.conftest import REPOSITORY
from tests.support.server import start, stop

SECRET_TEXT = "my-private-review-7b1e: a moving film"


def test_a_sane_client_id_is_kept_anything_else_replaced() -> None:
    assert new_request_id(b"abc-123_DEF.4:5/6") == "abc-123_DEF.4:5/6"
    for bad in (None, b"", b"a b", b"x" * 129, b"\xff\xfe", b"id\nforged-log-line"):
        made = new_request_id(bad)
        assert len(made) == 32 and int(made, 16) >= 0, bad


def test_json_lines_carry_the_request_id_and_the_extra_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "attnserve.access",
            "levelno": 20,
            "levelname": "INFO",
            "msg": "POST %s",
            "args": ("/v1/x",),
        }
    )
    record.status = 200
    token = request_id.set("rid-1")
    try:
        record.request_id = request_id.get()
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["message"] == "POST /v1/x" and line["request_id"] == "rid-1"
    assert line["status"] == 200 and line["level"] == "info" and line["time"].endswith("Z")


@pytest.mark.slow
def test_a_real_server_logs_json_with_ids_never_the_text(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    metrics_port = free_port()
    s = start(tmp_path_factory.mktemp("logs"), ATTNSERVE_METRICS_PORT=str(metrics_port))
    try:
        r = httpx.post(
            f"{s.url}/v1/classify",
            json={"texts": [SECRET_TEXT]},
            headers={"X-Request-ID": "client-chosen-id-42"},
        )
        assert r.status_code == 200 and r.headers["x-request-id"] == "client-chosen-id-42"
        r = httpx.post(f"{s.url}/v1/classify", json={"texts": [""]})
        made = r.headers["x-request-id"]
        assert r.status_code == 422 and len(made) == 32
        # metrics on their own port, not on the API's
        assert httpx.get(f"{s.url}/metrics").status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200 and "attnserve_requests_total" in scraped.text
    finally:
        s.process.terminate()
        s.process.wait(30)
        stop(s)
    lines = [json.loads(line) for line in s.log.read_text().splitlines() if line.startswith("{")]
    assert len(lines) == len(s.log.read_text().splitlines()), "a line that is not JSON"
    access = {
        line.get("request_id"): line for line in lines if line["logger"] == "attnserve.access"
    }
    ok = access["client-chosen-id-42"]
    assert (ok["method"], ok["path"], ok["status"], ok["model"]) == (
        "POST",
        "/v1/classify",
        200,
        "sentiment",
    )
    assert ok["duration_ms"] > 0
    assert access[made]["status"] == 422
    assert SECRET_TEXT.split(":")[0] not in s.log.read_text()  # request text is never logged
    assert any("ready: serving" in line["message"] for line in lines)
    assert not any("color_message" in line for line in lines)  # no terminal escapes in JSON


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_auto_is_text_on_a_terminal_and_json_elsewhere() -> None:
    assert resolve_format("auto", _Stream(True)) == "text"
    assert resolve_format("auto", _Stream(False)) == "json"
    assert resolve_format("auto", object()) == "json"  # a stream that cannot tell
    assert resolve_format("json", _Stream(True)) == "json"
    assert resolve_format("text", _Stream(False)) == "text"


def test_a_text_line_is_readable_and_keeps_the_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "attnserve.access",
            "levelname": "INFO",
            "msg": "POST %s %d",
            "args": ("/v1/x", 200),
        }
    )
    record.method, record.path, record.status, record.duration_ms = "POST", "/v1/x", 200, 1.5
    record.request_id = "rid-1"
    line = TextFormatter().format(record)
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d info    POST /v1/x 200 duration_ms=1.5 request_id=rid-1", line
    )


@pytest.mark.slow
def test_a_server_on_a_terminal_prints_readable_lines_and_where_to_look() -> None:
    """`make serve` in a person's terminal: a pseudo-terminal stands in for it."""
    port = free_port()
    primary, secondary = pty.openpty()
    env = {**os.environ, "ATTNSERVE_MODEL_REPOSITORY": str(REPOSITORY)}
    env.pop("ATTNSERVE_LOG_FORMAT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "attnserve.cli", "serve", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    seen = b""
    try:
        deadline = time.monotonic() + 90
        while b"open http://" not in seen or not seen.endswith(b"\n"):
            assert time.monotonic() < deadline and process.poll() is None, seen.decode()
            if select.select([primary], [], [], 0.5)[0]:
                seen += os.read(primary, 65536)
    finally:
        process.kill()
        process.wait(10)
        os.close(primary)
    lines = seen.decode().replace("\r", "").splitlines()
    assert not any(line.startswith("{") for line in lines), lines
    url = f"http://127.0.0.1:{port}"
    assert any(
        line.endswith(f"open {url}/ (attention explorer), {url}/docs (API docs)") for line in lines
    ), lines
    assert any(
        re.match(r"\d\d:\d\d:\d\d info    ready: serving en-fr, sentiment", x) for x in lines
    )
