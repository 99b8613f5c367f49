"""What the door says itself, as whole HTTP/1.1 answers in the API's error envelope: its
refusals, and the two answers it gives without the app — liveness, and 429 while every
in-flight place is taken (``shortcuts``) — so that under a flood neither costs a task,
the middleware stack or an access line. Its log lines are throttled."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from service.api.errors import error_response

log = logging.getLogger("attnserve")
REASONS = {200: "OK", 400: "Bad Request", 408: "Request Timeout", 429: "Too Many Requests"}
REASONS |= {431: "Request Header Fields Too Large", 503: "Service Unavailable"}
REASONS |= {505: "HTTP Version Not Supported"}
LIVE = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


def refusal(status: int, type_: str, message: str, path: str = "", close: bool = True) -> bytes:
    """A complete answer (closing the connection unless ``close`` is False), its body the
    API's own error envelope (``errors.error_response``)."""
    body = error_response(path, status, type_, message).body
    retry = "retry-after: 1\r\n" if status in (429, 503) else ""
    closing = "connection: close\r\n" if close else ""
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{retry}{closing}\r\n"
    )
    return head.encode() + body


def shortcuts(
    full: Callable[[], bool],
    endpoint: Callable[[str], str | None],
    refused: Callable[[str], None],
) -> Callable[[bytes, bytes], bytes | None]:
    """The door's own answers: ``GET /v2/health/live``, and a 429 for an inference route
    (``endpoint(path)`` names it) while ``full()``; ``refused(endpoint)`` counts each 429."""
    message = (
        "every in-flight place is taken (ATTNSERVE_MAX_IN_FLIGHT requests are being "
        "served); retry after 1 s"
    )
    busy = {
        "/v1": refusal(429, "overloaded", message, "/v1", close=False),
        "/v2": refusal(429, "overloaded", message, "/v2", close=False),
    }

    throttle = Throttle()

    def answer(method: bytes, url: bytes) -> bytes | None:
        path = url.split(b"?", 1)[0]
        if path == b"/v2/health/live" and method == b"GET":
            return LIVE
        if method == b"POST" and full():
            text = path.decode("latin-1")
            name = endpoint(text)
            if name is not None:
                refused(name)
                throttle.note("in_flight", "429 at the door: every in-flight place is taken")
                return busy["/v2" if text.startswith("/v2") else "/v1"]
        return None

    return answer


class Throttle:
    """One log line per ``every_s`` per kind of refusal, with how many it stands for."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.last: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def note(self, reason: str, message: str) -> None:
        now = time.monotonic()
        self.count[reason] = self.count.get(reason, 0) + 1
        if now - self.last.get(reason, -1e9) >= self.every_s:
            log.warning("door: %s (%d since the last such line)", message, self.count[reason])
            self.last[reason], self.count[reason] = now, 0
