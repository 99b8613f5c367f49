"""The front door: what a connection may cost before the app sees a request.

uvicorn's HTTP protocol (httptools) with the limits it lacks: a connection that sends no
complete request head within ``header_timeout_s`` is closed (408 if it had begun one); a
head over ``max_header_bytes`` or ``max_headers`` is refused (431) before it is buffered
whole; a body that stalls for ``body_timeout_s`` or, after that long, arrives slower than
``min_body_bytes_per_s`` is refused (408); beyond ``max_connections`` open connections a
new one is answered 503 and closed, and the refusal is logged; a request line other than
HTTP/1.0 or 1.1, or HTTP/1.1 without ``Host``, is a 505 or a 400. On shutdown an upload
still arriving is answered 503 at once rather than waited for. Idle keep-alive connections
close after ``keep_alive_s`` (uvicorn's own timer). ``shortcut`` gives some answers without
the app (``answers.shortcuts``). Each request's scope carries ``LOST``, a future resolved
when its client disconnects, so that the app can learn it without a task of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.door.answers import Throttle, refusal
from service.door.limits import DoorLimits

LINGER_S = 2.0  # how long a refused connection is read (and dropped) before it closes
LOST = "attnserve.client_lost"  # the scope's key for the request's disconnect future


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the refusal is already sent."""


class DoorProtocol(HttpToolsProtocol):
    limits = DoorLimits()
    on_refused: Callable[[str], None] = staticmethod(lambda reason: None)
    # (method, raw target) → a whole answer to send without the app, or None (see server.py)
    shortcut: Callable[[bytes, bytes], bytes | None] = staticmethod(lambda method, url: None)
    _throttle = Throttle()

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
        self._host = False  # the head has a Host header
        self._canned: bytes | None = None  # this request's answer, when the door gives it
        self._keep_alive = True
        self._live: list[tuple[Any, asyncio.Future[None]]] = []  # (cycle, its LOST future)

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
        self._lose()
        super().connection_lost(exc)

    def _lose(self) -> None:
        for _, lost in self._live:
            if not lost.done():
                lost.set_result(None)
        self._live.clear()

    def on_response_complete(self) -> None:
        self._live = [(c, f) for c, f in self._live if not c.response_complete]
        super().on_response_complete()

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return  # a refused connection, lingering: dropped
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
        if self._reading_body and self._timer is None and not self._closed:
            self._arm(self._tick(), self._body_check)  # a body still to come
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
        self._unset_keepalive_if_required()  # a request pipelined behind a canned answer
        self._in_head, self._headers, self._host = True, 0, False
        if self._timer is None:
            self._arm(self.limits.header_timeout_s, self._head_too_slow)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers += 1
        if len(name) == 4 and name.lower() == b"host":
            self._host = True
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
        if version == "1.1" and not self._host:
            self._refuse("no_host", 400, "invalid_request", "an HTTP/1.1 request needs Host")
            raise _Refused()
        idle = self.cycle is None or self.cycle.response_complete  # nothing pipelined ahead
        canned = self.shortcut(self.parser.get_method(), self.url) if idle else None
        if canned is not None:  # answered here, without the app (no task, no middleware)
            self._canned = canned
            self._keep_alive = version == "1.1" and self.parser.should_keep_alive()
        else:
            super().on_headers_complete()
            lost: asyncio.Future[None] = self.loop.create_future()
            self.scope[LOST] = lost  # type: ignore[literal-required]
            self._live.append((self.cycle, lost))
        self._reading_body = True
        self._body_started = time.monotonic()
        self._body_bytes = self._body_last = 0
        self._stalled_since = None  # the body timer is armed once this read is over

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._canned is None:
            super().on_body(body)  # else: the answer is canned, the body is dropped

    def on_message_complete(self) -> None:
        self._reading_body = False
        self._disarm()
        if self._canned is None:
            super().on_message_complete()
            return
        answer, self._canned = self._canned, None
        if self._keep_alive:
            self.transport.write(answer)
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
        else:
            closing = b"\r\nconnection: close\r\n\r\n"
            self.transport.write(answer.replace(b"\r\n\r\n", closing, 1))
            self.transport.close()

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
        self._close(linger=not started and self.flow is not None)

    def _close(self, linger: bool = False) -> None:
        """Done with this connection. ``linger``: the answer is out and the client may
        still be sending; closing now would reset the connection and the client would
        never read the answer, so our side is shut, what comes is read and dropped, and
        the socket closes after ``LINGER_S`` (or at the client's end, if sooner)."""
        self._closed, self._reading_body = True, False
        self._disarm()
        if self.cycle is not None:  # the app sees the client gone and sends nothing more
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self._lose()
        if linger and self.transport.can_write_eof():
            self.transport.write_eof()
            self._timer = self.loop.call_later(LINGER_S, self.transport.close)
            return
        self.transport.close()


def door(
    limits: DoorLimits,
    on_refused: Callable[[str], None],
    shortcut: Callable[[bytes, bytes], bytes | None] | None = None,
) -> type[DoorProtocol]:
    """The protocol class uvicorn builds a connection with, bound to these limits."""
    attributes: dict[str, Any] = {"limits": limits, "on_refused": staticmethod(on_refused)}
    if shortcut is not None:
        attributes["shortcut"] = staticmethod(shortcut)
    return type("Door", (DoorProtocol,), attributes)
