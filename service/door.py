"""The front door: what a connection may cost before the app sees a request.

uvicorn's HTTP protocol (httptools) with the limits it lacks: a connection that sends no
complete request head within ``header_timeout_s`` is closed (408 if it had begun one); a
head over ``max_header_bytes`` or ``max_headers`` is refused (431) before it is buffered
whole; a body that stalls for ``body_timeout_s`` or, after that long, arrives slower than
``min_body_bytes_per_s`` is refused (408); beyond ``max_connections`` open connections a
new one is answered 503 and closed, and the refusal is logged; a request line other than
HTTP/1.0 or 1.1, or HTTP/1.1 without ``Host``, is a 505 or a 400. On shutdown an upload
still arriving is answered 503 at once rather than waited for. Idle keep-alive connections
close after ``keep_alive_s`` (uvicorn's own timer).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("attnserve")
REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}
REASONS |= {503: "Service Unavailable", 505: "HTTP Version Not Supported"}


@dataclass(frozen=True)
class DoorLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    min_body_bytes_per_s: int = 1024
    max_header_bytes: int = 16384
    max_headers: int = 100
    max_connections: int = 1024


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the refusal is already sent."""


class _Throttle:
    """One log line per ``every_s`` per kind of refusal, with how many it stands for."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s, self.last, self.count = every_s, {}, {}  # type: ignore[var-annotated]

    def note(self, reason: str, message: str) -> None:
        now = time.monotonic()
        self.count[reason] = self.count.get(reason, 0) + 1
        if now - self.last.get(reason, -1e9) >= self.every_s:
            log.warning("door: %s (%d since the last such line)", message, self.count[reason])
            self.last[reason], self.count[reason] = now, 0


def refusal(status: int, type_: str, message: str, path: str = "") -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, in the API's error envelope."""
    error: Any = message if path.startswith("/v2") else {"type": type_, "message": message}
    body = json.dumps({"error": error}).encode()
    retry = "retry-after: 1\r\n" if status == 503 else ""
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{retry}connection: close\r\n\r\n"
    )
    return head.encode() + body


class DoorProtocol(HttpToolsProtocol):
    limits = DoorLimits()
    on_refused: Callable[[str], None] = staticmethod(lambda reason: None)
    _throttle = _Throttle()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._closed = False
        self._in_head = True  # reading a request head (or waiting for the first byte)
        self._head_bytes = 0
        self._headers = 0
        self._timer: asyncio.TimerHandle | None = None
        self._body_started = 0.0
        self._body_bytes = 0
        self._body_last = 0
        self._stalled_since: float | None = None
        self._reading_body = False

    # -- connections --------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.transport, self._closed = transport, True
            self._refuse_now(
                "connections",
                f"{len(self.connections)} connections are open, the most this process "
                "takes (ATTNSERVE_MAX_CONNECTIONS)",
                refusal(503, "overloaded", "too many open connections; retry after 1 s"),
            )
            return
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        if self._in_head:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            return  # e.g. h2c: the request is answered in HTTP/1.1, the rest is not read
        except httptools.HttpParserError:
            if not self._closed:  # a malformed request, not one of ours
                self._refuse("malformed", 400, "invalid_request", "invalid HTTP request")
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(
                "header_bytes",
                431,
                "headers_too_large",
                f"the request head is over {self.limits.max_header_bytes} bytes "
                "(ATTNSERVE_MAX_HEADER_BYTES)",
            )

    # -- parser callbacks -----------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._headers = True, 0
        if self._timer is None:
            self._arm(self.limits.header_timeout_s, self._head_too_slow)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers += 1
        if self._headers > self.limits.max_headers:
            self._refuse(
                "header_count",
                431,
                "headers_too_large",
                f"the request has over {self.limits.max_headers} headers (ATTNSERVE_MAX_HEADERS)",
            )
            raise _Refused()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._in_head, self._head_bytes = False, 0
        version = self.parser.get_http_version()
        if version not in ("1.0", "1.1"):
            self._refuse("version", 505, "invalid_request", f"HTTP/{version} is not served")
            raise _Refused()
        if version == "1.1" and not any(name == b"host" for name, _ in self.headers):
            self._refuse("no_host", 400, "invalid_request", "an HTTP/1.1 request needs Host")
            raise _Refused()
        super().on_headers_complete()
        self._reading_body = True
        self._body_started = time.monotonic()
        self._body_bytes = self._body_last = 0
        self._stalled_since = None
        self._arm(self._tick(), self._body_check)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._reading_body = False
        self._disarm()
        super().on_message_complete()

    # -- the timers -------------------------------------------------------------------
    def _tick(self) -> float:
        return min(1.0, self.limits.body_timeout_s)

    def _arm(self, seconds: float, fn: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, fn)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_too_slow(self) -> None:
        self._timer = None
        if self._closed or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; its head was on time
        if self._head_bytes == 0:  # nothing sent: close without a word
            self._throttle.note("idle", "closed connections that sent no request")
            self.on_refused("idle")
            self._close()
            return
        self._refuse(
            "header_timeout",
            408,
            "timeout",
            f"the request head did not arrive within {self.limits.header_timeout_s:g} s "
            "(ATTNSERVE_HEADER_TIMEOUT_S)",
        )

    def _body_check(self) -> None:
        self._timer = None
        if self._closed or not self._reading_body:
            return
        lim, now = self.limits, time.monotonic()
        elapsed = now - self._body_started
        if self._body_bytes != self._body_last:
            self._body_last, self._stalled_since = self._body_bytes, None
        elif self._stalled_since is None:
            self._stalled_since = now - self._tick()  # no byte since the last tick
        elif now - self._stalled_since >= lim.body_timeout_s:
            self._refuse_body(f"no byte of the body arrived for {lim.body_timeout_s:g} s")
            return
        if elapsed >= lim.body_timeout_s and self._body_bytes < lim.min_body_bytes_per_s * (
            elapsed - lim.body_timeout_s / 2
        ):
            self._refuse_body(
                f"the body arrives at {self._body_bytes / elapsed:.0f} bytes/s, under "
                f"{lim.min_body_bytes_per_s} (ATTNSERVE_MIN_BODY_BYTES_PER_S)"
            )
            return
        self._arm(self._tick(), self._body_check)

    def _refuse_body(self, why: str) -> None:
        self._refuse("body_timeout", 408, "timeout", f"{why}; send the body without pauses")

    # -- refusing -----------------------------------------------------------------
    def shutdown(self) -> None:
        if self._reading_body and not self._closed:
            self._refuse(
                "shutdown", 503, "shutting_down", "the service is shutting down; retry elsewhere"
            )
            return
        super().shutdown()

    def _refuse(self, reason: str, status: int, type_: str, message: str) -> None:
        path = self.scope.get("path", "") if self.scope else ""
        self._refuse_now(reason, f"{status} {message}", refusal(status, type_, message, path))

    def _refuse_now(self, reason: str, line: str, answer: bytes) -> None:
        self._throttle.note(reason, line)
        self.on_refused(reason)
        started = self.cycle is not None and self.cycle.response_started
        if not started:
            self.transport.write(answer)
        self._close()

    def _close(self) -> None:
        self._closed, self._reading_body = True, False
        self._disarm()
        if self.cycle is not None:  # the app sees the client gone and sends nothing more
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


def door(limits: DoorLimits, on_refused: Callable[[str], None]) -> type[DoorProtocol]:
    """The protocol class uvicorn builds a connection with, bound to these limits."""
    return type("Door", (DoorProtocol,), {"limits": limits, "on_refused": staticmethod(on_refused)})


def raise_open_files(wanted: int) -> int:
    """Raise the soft open-file limit towards ``wanted`` where the hard limit allows; the
    connections the process can then hold (a few files are kept for its own use)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError) as e:
            log.warning("could not raise the open-file limit from %d: %s", soft, e)
    return soft
