"""Optional bearer API keys (ASGI middleware), checked before anything else runs.

Keys are compared as SHA-256 digests with ``hmac.compare_digest``, against every key with
no early exit: neither the content nor the length of a key leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

# Probes must answer without a key; the explorer's page and assets hold no data (its calls
# to the API carry the key the user gives it).
OPEN = ("/v2/health/live", "/v2/health/ready", "/", "/explorer")
OPEN_PREFIXES = ("/explorer/static/",)


def _digest(key: str | bytes) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(raw).digest()


class Keys:
    """The API keys, as digests."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.digests = [_digest(k) for k in keys]

    def allowed(self, header: bytes | None) -> bool:
        """Whether an ``Authorization`` header carries one of the keys."""
        if header is None or header[:7].lower() != b"bearer ":
            return False
        given = _digest(header[7:].strip())
        ok = False
        for digest in self.digests:  # no short-circuit: the same work whichever key matches
            ok |= hmac.compare_digest(given, digest)
        return ok


class BearerAuth:
    def __init__(self, app: ASGIApp, keys: Keys, metrics_open: bool) -> None:
        self.app, self.keys = app, keys
        self.open = {*OPEN, "/metrics"} if metrics_open else set(OPEN)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # (CORS preflights are answered outside this layer)
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in self.open or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers", [])).get(b"authorization")
        if self.keys.allowed(header):
            await self.app(scope, receive, send)
            return
        message = (
            "this endpoint needs an API key: send 'Authorization: Bearer <key>'"
            if header is None
            else "the API key is not valid (send 'Authorization: Bearer <key>' with a key "
            "from ATTNSERVE_API_KEYS)"
        )
        body_obj: object = (
            {"error": message}
            if path.startswith("/v2")
            else {"error": {"type": "unauthorized", "message": message}}
        )
        body = json.dumps(body_obj).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="attnserve"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
