"""Run the app under uvicorn, with a drain on SIGTERM (and Ctrl-C).

On the first signal: readiness turns 503 at once and new requests get 503, while queued
and running requests complete; when none is left (or ``grace_period_s`` has passed) the
server closes its connections and exits 0. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import FrameType

import uvicorn

from service.api.middleware import endpoint_of
from service.app import ServiceState, create_app
from service.door import door, limits_for, shortcuts
from service.logs import configure
from service.settings import Settings

log = logging.getLogger("attnserve")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: ServiceState, grace_s: float) -> None:
        super().__init__(config)
        self.state, self.grace_s = state, grace_s
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.state.draining or self._loop is None:
            log.warning("second signal: exiting now")
            self.should_exit = self.force_exit = True
            return
        self.state.draining = True
        log.info(
            "signal %d: draining (ready → 503; up to %.0f s for work in flight)", sig, self.grace_s
        )
        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._drain()))

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.grace_s
        while self.state.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.state.in_flight:
            log.warning("grace period over with %d requests in flight", self.state.in_flight)
        else:
            log.info("drained: no request in flight; shutting down")
        self.should_exit = True


def serve(settings: Settings) -> None:
    configure(settings.log_level, settings.log_format)
    app = create_app(settings)
    metrics, state = app.state.registry.metrics, app.state.service
    refused = metrics.door_refusals

    def full() -> bool:  # while draining the middleware answers 503 instead
        return not state.draining and state.in_flight >= settings.max_in_flight

    def endpoint(path: str) -> str | None:
        target = endpoint_of(path)
        return target[0] if target else None

    def busy(name: str) -> None:  # what the middleware counts when it refuses the same
        refused.labels("in_flight").inc()
        metrics.requests.labels("unknown", name, "rejected").inc()

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=door(
            limits_for(settings),
            lambda reason: refused.labels(reason).inc(),
            shortcuts(full, endpoint, busy),
        ),
        ws="none",
        timeout_keep_alive=max(1, round(settings.keep_alive_s)),
        log_level=settings.log_level,
        timeout_graceful_shutdown=max(1, int(settings.grace_period_s)),
        access_log=False,  # the service's own access line carries the request id
        log_config=None,  # logging as configured above
    )
    DrainingServer(config, app.state.service, settings.grace_period_s).run()
